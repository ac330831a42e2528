"""The argument parser: commands, their options, and the checks of single values.

Options shared by several commands (``--json``, ``--debug`` and the connection options)
are accepted before or after the command name. They default to ``argparse.SUPPRESS`` in
both places, so a value is present in the namespace only when it was given (the one after
the command wins); readers use ``getattr(args, name, default)``.
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import sys
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import NoReturn

from .. import __version__
from ..client import MAX_WAIT_TIMEOUT
from ..models import BatchTaskState
from ..secrets import SecretView
from ..servertext import ServerText, reveal
from . import _commands as commands
from . import _simulator as simulator
from ._base import PROG, Context, ExitCode
from ._connection import (
    DEFAULT_TIMEOUT,
    ENV_APP_TOKEN,
    ENV_CONTEXT_ID,
    ENV_ENVIRONMENT,
    ENV_PASSWORD,
    ENV_PRIVATE_KEY_FILE,
    ENV_SYSTEM_USER_TOKEN,
    ENV_TICKET,
    ENV_URL,
    ENV_USERNAME,
    SECRET_ENV,
)

__all__ = ["build_parser"]

Command = Callable[[Context], int]

ONLINE_EXTRA_INSTALL = "pip install 'superoffice-batch[online]'"
"""How to install what ``--online`` needs; the README's install section says the same."""

_EPILOG = f"""\
connection settings (an option beats its environment variable):
  {ENV_URL:<22} --url        installation root, e.g. https://sod2.superoffice.com/Cust1
  {ENV_TICKET:<22} --ticket     a NetServer ticket (7T:...) or access token (8A:...)
  {ENV_USERNAME:<22} --username   log in with a username ...
  {ENV_PASSWORD:<22} --password   ... and password
  {ENV_APP_TOKEN:<22} --app-token  the application token (client secret; Online)
  Prefer the environment for secrets: options are visible to other users of this machine.
  Secrets are never printed (only `login` prints the ticket it obtained).

SuperOffice CRM Online system user (environment only; all four, with {ENV_APP_TOKEN}):
  {ENV_CONTEXT_ID:<30} the tenant, e.g. Cust12345
  {ENV_ENVIRONMENT:<30} sod, qaonline or online
  {ENV_SYSTEM_USER_TOKEN:<30} the tenant's system-user token
  {ENV_PRIVATE_KEY_FILE:<30} the app's RSA private key (PEM or RSAXML)
  With these, {ENV_URL} is optional: the tenant's endpoint is looked up.
  A ticket, username or password alongside them is a usage error.

exit codes:
  {ExitCode.OK:<3} success
  {ExitCode.JOB_FAILED:<3} the job failed (or an unexpected internal error; --debug shows it)
  {ExitCode.USAGE:<3} usage error: bad arguments, missing URL or credentials, bad key file
  {ExitCode.SERVICE:<3} service or authentication error: NetServer refused or failed the call,
      or the Online tenant is unavailable
  {ExitCode.CONNECTION:<3} connection problem or timeout (no reply, or --max-wait passed)
  {ExitCode.INTERRUPTED:<3} interrupted (Ctrl-C); a job being waited for goes on running

try it without a tenant: {PROG} demo
  and Online's system-user flow, with the online extra ({ONLINE_EXTRA_INSTALL}):
  {PROG} demo --online, or {PROG} simulate --online to try every command
"""

# The shared text lives in the top-level help only; each command's help points there.
_SUBCOMMAND_EPILOG = f"environment variables and exit codes: {PROG} --help"

_STATES = {state.value.lower(): state for state in BatchTaskState}
# NetServer spells it Aquired; the dictionary spelling is accepted as well.
_STATES["acquired"] = BatchTaskState.AQUIRED


# -- single values --------------------------------------------------------------------------


def job_id(text: str) -> int:
    """A job id: a whole number from 1 to 2147483647."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a job id") from None
    if not 0 < value <= 2**31 - 1:
        raise argparse.ArgumentTypeError("a job id is from 1 to 2147483647")
    return value


def _seconds_up_to(limit: float, within: str) -> Callable[[str], float]:
    def seconds(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError("not a number of seconds") from None
        if not math.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError("seconds must be finite and positive")
        if value > limit:
            raise argparse.ArgumentTypeError(f"seconds must be at most {limit:.0f} ({within})")
        return value

    seconds.__name__ = "seconds"  # argparse names the type in some messages
    return seconds


seconds = _seconds_up_to(86400, "a day")
"""A positive number of seconds, at most a day: a timeout, a poll interval."""
wait_seconds = _seconds_up_to(MAX_WAIT_TIMEOUT, "366 days")
"""A positive number of seconds to wait for a job, at most 366 days."""


def port(text: str) -> int:
    """A TCP port, 0 for any free one."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is from 0 to 65535")
    return value


def parameter(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` as a pair; the value may be empty and may contain ``=``."""
    key, equals, value = text.partition("=")
    if not equals or not key:
        raise argparse.ArgumentTypeError("expected KEY=VALUE")
    return key, value


def state(text: str) -> BatchTaskState:
    """A state by its wire name (or ``Acquired`` for ``Aquired``), in any letter case."""
    try:
        return _STATES[text.lower()]
    except KeyError:
        choices = ", ".join(member.value for member in BatchTaskState)
        message = f"unknown state (choose from {choices})"
        raise argparse.ArgumentTypeError(message) from None


def user(text: str) -> tuple[str, str]:
    """``NAME:PASSWORD`` as a pair; the message never repeats the text (a password)."""
    name, colon, password = text.partition(":")
    if not colon or not name:
        raise argparse.ArgumentTypeError("expected NAME:PASSWORD")
    return name, password


# The options whose values are secrets; ``--user`` carries NAME:PASSWORD.
_SECRET_OPTIONS = ("--ticket", "--password", "--app-token", "--user")


def _secret_option(token: str) -> bool:
    # argparse takes any unambiguous prefix of a long option ("--pass"), so these count too.
    return len(token) > 3 and any(option.startswith(token) for option in _SECRET_OPTIONS)


def secret_values(argv: Iterable[str]) -> list[str]:
    """The values given to secret options in ``argv``, ``--opt value`` or ``--opt=value``.

    Read from the raw arguments, so that they are known even when parsing them failed.
    """
    values: list[str] = []
    follows_option = False
    for token in argv:
        if follows_option:
            values += [token, token.partition(":")[2]]
        option, equals, value = token.partition("=")
        follows_option = not equals and _secret_option(token)
        if equals and _secret_option(option):
            values += [value, value.partition(":")[2]]
    return [value for value in values if value]


def typed_values(argv: Iterable[str], public_words: frozenset[str]) -> list[str]:
    """Every value in ``argv``: each word that is not an option name (nor a command name or
    a choice), and what follows ``=`` in ``--opt=value`` and the like."""
    values: list[str] = []
    for token in argv:
        if token.startswith("-") and len(token) > 1:
            _option, equals, value = token.partition("=")
            if equals:
                values.append(value)
            elif not token.startswith("--") and len(token) > 2:
                values.append(token[2:])  # -pKEY=VALUE: a short option with its value
        elif token not in public_words:
            values.append(token)
    return [value for value in values if value]


def unknown_option(argv: Iterable[str], known: Collection[str]) -> str | None:
    """The first long option in ``argv`` that no parser has (``--tickt`` of ``--tickt=x``),
    or None; values given to secret options are skipped, whatever they look like."""
    secrets = set(secret_values(argv))
    for token in argv:
        if token == "--":  # what follows is positional
            break
        name = token.partition("=")[0]
        if token.startswith("--") and name not in known and token not in secrets:
            return name
    return None


def _unknown_option_message(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
    return f"unrecognized option {name}" + (f" (did you mean {close[0]}?)" if close else "")


def _option_names(parser: argparse.ArgumentParser) -> frozenset[str]:
    """The long options of ``parser`` and of every parser below it."""
    names: set[str] = set()
    for action in parser._actions:
        names |= {option for option in action.option_strings if option.startswith("--")}
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                names |= _option_names(sub)
    return frozenset(names)


def _public_words(parser: argparse.ArgumentParser) -> frozenset[str]:
    """The command names and choices of ``parser`` and of every parser below it."""
    words: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                words |= {name, *_public_words(sub)}
        elif action.choices is not None:
            words |= {str(choice) for choice in action.choices}
    return frozenset(words)


def _share_words(
    parser: argparse.ArgumentParser, words: frozenset[str], options: frozenset[str]
) -> None:
    """Give ``parser`` and every parser below it the words its errors may quote and every
    option name the command line has."""
    if isinstance(parser, _Parser):
        parser.public_words, parser.option_names = words, options
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _share_words(sub, words, options)


# -- option groups ------------------------------------------------------------------------


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print each result as one JSON object per line",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log the calls (secrets masked) and show tracebacks",
    )


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection (options beat environment variables)")
    suppress = argparse.SUPPRESS
    group.add_argument(
        "--url", metavar="URL", default=suppress, help=f"installation root URL (${ENV_URL})"
    )
    group.add_argument(
        "--ticket", metavar="TICKET", default=suppress, help=f"NetServer ticket (${ENV_TICKET})"
    )
    group.add_argument(
        "--username", metavar="NAME", default=suppress, help=f"user to log in as (${ENV_USERNAME})"
    )
    group.add_argument(
        "--password",
        metavar="PASSWORD",
        default=suppress,
        help=f"password; prefer ${ENV_PASSWORD}, options are visible to other users",
    )
    group.add_argument(
        "--app-token",
        metavar="TOKEN",
        default=suppress,
        help=f"application token, the client secret (${ENV_APP_TOKEN})",
    )
    group.add_argument(
        "--soap",
        choices=("1.1", "1.2"),
        default=suppress,
        help="pin the SOAP version (default: try 1.2, fall back to 1.1)",
    )
    group.add_argument(
        "--timeout",
        type=seconds,
        metavar="SECONDS",
        default=suppress,
        help=f"HTTP timeout per request (default {DEFAULT_TIMEOUT:g})",
    )


def _add_follow_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--poll-interval",
        type=seconds,
        metavar="SECONDS",
        default=1.0,
        help="seconds between the first polls; later polls back off up to 30 s (default 1)",
    )
    parser.add_argument(
        "--max-wait",
        type=wait_seconds,
        metavar="SECONDS",
        default=None,
        help="give up waiting after this long, exit 4 (default: no limit)",
    )


# -- the parser ------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other error of the CLI."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(self._argv, namespace)

    public_words: frozenset[str] = frozenset()
    """Command names and choices: words of the command line that are never secrets."""
    option_names: frozenset[str] = frozenset()
    """Every long option of the command line, whichever command takes it."""

    def error(self, message: str) -> NoReturn:
        """``superoffice-batch: error: …`` with a pointer to the help; exit 2.

        An option no command has is the likely cause of whatever argparse found (a
        misspelled ``--tickt S3cr3t`` makes the ticket a command name): it is named, with
        the nearest option, instead. Otherwise argparse quotes what was typed (``invalid
        choice: '…'``, ``unrecognized arguments: …``): every value typed is masked, and
        secrets from the environment, leaving only option names, command names and
        choices.
        """
        secrets = [os.environ.get(name, "") for name in SECRET_ENV]
        argv: list[str] = getattr(self, "_argv", [])
        secrets += secret_values(argv) + typed_values(argv, self.public_words)
        unknown = unknown_option(argv, self.option_names)
        if unknown is not None:
            message = _unknown_option_message(unknown, self.option_names)
        text = reveal(ServerText(message, SecretView(secrets)))
        self.exit(ExitCode.USAGE, f"{PROG}: error: {text} (see: {self.prog} --help)\n")


class _Commands:
    """Adds one sub-parser per command, each with the shared options it needs."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self._subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
        self._subparsers.required = True

    def add(
        self, name: str, command: Command, summary: str, *, connects: bool = True
    ) -> argparse.ArgumentParser:
        parser = self._subparsers.add_parser(
            name,
            help=summary,
            description=summary,
            epilog=_SUBCOMMAND_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            allow_abbrev=False,
        )
        parser.set_defaults(command=command, connects=connects)
        if connects:
            _add_connection_options(parser)
        _add_output_options(parser)
        return parser


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = _Parser(
        prog=PROG,
        description="Start, follow, list, stop and delete SuperOffice NetServer batch jobs.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_connection_options(parser)
    _add_output_options(parser)
    add = _Commands(parser).add

    start = add("start", commands.cmd_start, "start a batch job; print its id")
    start.add_argument("name", metavar="NAME", help="the batch task definition, e.g. ExportTask")
    start.add_argument(
        "-p",
        "--param",
        dest="params",
        action="append",
        type=parameter,
        metavar="KEY=VALUE",
        help="a parameter of the job (repeatable)",
    )
    start.add_argument("--wait", action="store_true", help="follow the job to its end")
    _add_follow_options(start)

    status = add("status", commands.cmd_status, "show a job's state and progress")
    status.add_argument("id", type=job_id, metavar="ID", help="the job to show")

    wait = add("wait", commands.cmd_wait, "follow a job to its end, showing progress")
    wait.add_argument("id", type=job_id, metavar="ID", help="the job to follow")
    _add_follow_options(wait)

    stop = add("stop", commands.cmd_stop, "ask a running job to stop")
    stop.add_argument("id", type=job_id, metavar="ID", help="the job to stop")

    delete = add("delete", commands.cmd_delete, "delete jobs")
    delete.add_argument(
        "ids", type=job_id, nargs="+", metavar="ID", help="the jobs to delete (one or more)"
    )

    listing = add("list", commands.cmd_list, "list jobs (system and user)")
    listing.add_argument(
        "--state",
        type=state,
        metavar="STATE",
        help="only jobs in this state: New, Aquired (or Acquired), Started, Succeeded, Failed... "
        "(any case)",
    )
    listing.add_argument("--name", dest="task_name", metavar="NAME", help="only this task")

    add("login", commands.cmd_login, "log in with username and password; print the ticket")

    add(
        "tenant",
        commands.cmd_tenant,
        "show the Online tenant's state and endpoint (needs SUPEROFFICE_CONTEXT_ID and "
        "SUPEROFFICE_ENVIRONMENT)",
    )

    simulate = add(
        "simulate",
        simulator.cmd_simulate,
        "run the NetServer simulator (or, with --online, SuperOffice CRM Online's) in the "
        "foreground (Ctrl-C stops it)",
        connects=False,
    )
    simulate.set_defaults(own_options=("app_token",))
    simulate.add_argument("--host", default="127.0.0.1", help="address to listen on")
    simulate.add_argument(
        "--port",
        type=port,
        default=0,
        help="port to listen on, with --online the login host's (default 0: a free one)",
    )
    simulate.add_argument(
        "--user",
        dest="users",
        action="append",
        type=user,
        metavar="NAME:PASSWORD",
        help="a user who may log in (repeatable; default demo:demo; not with --online)",
    )
    simulate.add_argument(
        "--soap",
        dest="sim_soap",
        choices=simulator.SOAP_MODES,
        default="1.1",
        help="SOAP versions to accept (default 1.1, like a stock WCF endpoint)",
    )
    simulate.add_argument(
        "--online",
        action="store_true",
        help="serve SuperOffice CRM Online's system-user flow instead: a login host (token "
        "exchange, keys, tenant state) and tenant hosts; prints the SUPEROFFICE_* settings "
        "to use, the app's key in a file removed on exit (needs the online extra)",
    )
    simulate.add_argument(
        "--app-token",
        metavar="TOKEN",
        default=argparse.SUPPRESS,
        help=f"the client secret --online demands (prefer ${ENV_APP_TOKEN}; default: one "
        "made up and printed)",
    )
    simulate.add_argument(
        "--job-duration",
        type=seconds,
        default=simulator.DEFAULT_JOB_SECONDS,
        metavar="SECONDS",
        help=f"how long each job runs (default {simulator.DEFAULT_JOB_SECONDS:g})",
    )

    demo = add(
        "demo",
        simulator.cmd_demo,
        "start a job on a throwaway local simulator and follow it (no setup needed)",
        connects=False,
    )
    demo.add_argument(
        "--online",
        action="store_true",
        help="run the Online system-user flow instead: key pair, token exchange, tenant "
        f"endpoint (needs the online extra: {ONLINE_EXTRA_INSTALL})",
    )
    _share_words(parser, _public_words(parser), _option_names(parser))
    return parser
