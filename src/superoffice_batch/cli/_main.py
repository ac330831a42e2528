"""``main``: parse the command line, run the command, turn failures into exit codes."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

from ..errors import (
    AuthenticationError,
    BatchTaskTimeout,
    SuperOfficeError,
    TenantUnavailable,
    TransportError,
)
from ..secrets import Secrets
from ..servertext import for_terminal
from ._base import PROG, Context, ExitCode, UsageError
from ._connection import CONNECTION_DESTS, authentication_hint, in_cli_terms, register_secrets
from ._output import Output
from ._parser import build_parser

__all__ = ["main"]

_LOGGER = "superoffice_batch"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    ``--help``, ``--version`` and argument errors return argparse's code (0 or 2)
    instead of exiting, so that callers and tests can run it in-process.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return _exit_status(exit_.code)
    env = os.environ
    out = Output(
        json_mode=getattr(args, "json", False),
        stdout=sys.stdout,
        stderr=sys.stderr,
        secrets=register_secrets(Secrets(), args, env),
    )
    debug: bool = getattr(args, "debug", False)
    with _debug_logging(out) if debug else _warnings_to(out):
        return _run(Context(args, env, out), debug)


def _run(ctx: Context, debug: bool) -> int:
    out = ctx.out
    try:
        _refuse_unused_connection_options(ctx.args)
        return int(ctx.args.command(ctx))
    except UsageError as error:
        out.error(str(error))
        return ExitCode.USAGE
    except KeyboardInterrupt:
        out.notice("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()  # the reader went away (`| head`): nothing more to say
        return ExitCode.JOB_FAILED
    except AuthenticationError as error:
        hint = authentication_hint(ctx.env)
        return _report(out, error, ExitCode.SERVICE, debug, hint=hint)
    except TenantUnavailable as error:
        hint = f"{PROG} tenant shows its state"  # the message says what to do
        return _report(out, error, ExitCode.SERVICE, debug, hint=hint)
    except (TransportError, BatchTaskTimeout) as error:
        return _report(out, error, ExitCode.CONNECTION, debug)
    except SuperOfficeError as error:
        if error.hint:
            error.hint = in_cli_terms(error.hint)
        return _report(out, error, ExitCode.SERVICE, debug)
    except Exception as error:
        return _report(out, error, ExitCode.JOB_FAILED, debug, unexpected=True)


def _report(
    out: Output,
    error: Exception,
    code: ExitCode,
    debug: bool,
    *,
    unexpected: bool = False,
    hint: str | None = None,
) -> int:
    """One redacted error line (after the traceback with ``--debug``); returns ``code``."""
    if debug:
        # The traceback quotes exception messages: server text, bound for a terminal.
        out.stderr.write(out.mask(traceback.format_exc()))
    elif unexpected:
        hint = "run with --debug for details"
    prefix = "unexpected error: " if unexpected else ""
    suffix = f" ({hint})" if hint else ""
    out.error(f"{prefix}{type(error).__name__}: {out.mask(error)}{suffix}")
    return code


def _refuse_unused_connection_options(args: argparse.Namespace) -> None:
    """``simulate`` and ``demo`` connect to nothing: connection options there are mistakes."""
    if args.connects:
        return
    own: tuple[str, ...] = getattr(args, "own_options", ())
    given = [dest for dest in CONNECTION_DESTS if dest not in own and hasattr(args, dest)]
    if given:
        options = ", ".join("--" + dest.replace("_", "-") for dest in given)
        raise UsageError(f"this command connects to nothing; drop {options}")


def _exit_status(code: object) -> int:
    if code is None:
        return ExitCode.OK
    if isinstance(code, int):
        return code
    return ExitCode.USAGE


def _silence_stdout() -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


class _RedactingFormatter(logging.Formatter):
    """Masks the secrets the command line knows, on top of the library's own masking, and
    cleans each line for the terminal (an envelope log quotes the server verbatim).

    Only what a record quotes (its arguments, a traceback) is masked, not the format
    text: that is the library's own words. The secrets are read from ``out`` at each
    record: a command may learn more while it runs (the private key's text).
    """

    def __init__(
        self, out: Output, layout: str = "%(asctime)s %(name)s %(levelname)s: %(message)s"
    ) -> None:
        super().__init__(layout)
        self._out = out

    def format(self, record: logging.LogRecord) -> str:
        masked = logging.makeLogRecord(record.__dict__)
        masked.exc_text = None  # formatted again, masked, by formatException
        if isinstance(record.args, tuple):
            masked.args = tuple(self._mask(arg) for arg in record.args)
        elif record.args:
            masked.args = {key: self._mask(arg) for key, arg in record.args.items()}
        return for_terminal(super().format(masked))

    def formatException(self, ei: Any) -> str:
        return self._out.mask(super().formatException(ei))

    def _mask(self, arg: object) -> object:
        return arg if isinstance(arg, (int, float)) else self._out.mask(arg)


class _CommandLineWarnings(logging.Handler):
    """The library's warnings as the command line's own stderr lines."""

    def __init__(self, out: Output) -> None:
        super().__init__(logging.WARNING)
        self.setFormatter(_RedactingFormatter(out, "%(message)s"))
        self._out = out

    def emit(self, record: logging.LogRecord) -> None:
        self._out.notice(f"warning: {self.format(record)}")


@contextlib.contextmanager
def _warnings_to(out: Output) -> Iterator[None]:
    """The library's WARNING lines on stderr, one line each, for this run only."""
    logger = logging.getLogger(_LOGGER)
    handler = _CommandLineWarnings(out)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


@contextlib.contextmanager
def _debug_logging(out: Output) -> Iterator[None]:
    """DEBUG logging of the library's logger to stderr, for this run only."""
    logger = logging.getLogger(_LOGGER)
    handler = logging.StreamHandler(out.stderr)
    handler.setFormatter(_RedactingFormatter(out))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
