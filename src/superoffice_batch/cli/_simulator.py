"""``simulate`` and ``demo``: the commands that run the bundled simulators.

The simulators (``superoffice_batch.testing``) are imported inside these functions only,
so that no other command pays for them.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import httpx

from ..auth import UsernamePassword
from ..client import BatchClient
from ..models import BatchTaskInfo
from ..online import SystemUser
from ._base import PROG, Context, ExitCode, UsageError
from ._commands import FollowSettings, make_task, start_job
from ._connection import (
    ENV_APP_TOKEN,
    ENV_CONTEXT_ID,
    ENV_ENVIRONMENT,
    ENV_PASSWORD,
    ENV_PRIVATE_KEY_FILE,
    ENV_SYSTEM_USER_TOKEN,
    ENV_TICKET,
    ENV_URL,
    ENV_USERNAME,
    online_extra_missing,
)

if TYPE_CHECKING:
    from ..testing import NetServerSimulator, SoapMode
    from ..testing.online import OnlineSimulator

__all__ = ["DEFAULT_JOB_SECONDS", "SOAP_MODES", "cmd_demo", "cmd_simulate"]

DEFAULT_USERS = {"demo": "demo"}
DEFAULT_JOB_SECONDS = 10.0
SOAP_MODES = ("1.1", "1.2", "both")

DEMO_JOB_SECONDS = 3.0
DEMO_POLL_INTERVAL = 0.2
DEMO_MAX_WAIT = 60.0
DEMO_TASK = "ExportTask"
DEMO_PARAMETERS = (("format", "csv"),)


def _users(pairs: Sequence[tuple[str, str]] | None) -> dict[str, str]:
    if not pairs:
        return dict(DEFAULT_USERS)
    users: dict[str, str] = {}
    for name, password in pairs:
        if name in users:
            raise UsageError(f"--user {name} is given twice")
        users[name] = password
    return users


def _application_token(ctx: Context) -> tuple[str | None, str | None]:
    """The client secret the Online simulator demands and where it came from; (None, None)
    lets the simulator make one up, which is then printed."""
    option: str | None = getattr(ctx.args, "app_token", None)
    if option:
        return option, "--app-token"
    from_env = ctx.env.get(ENV_APP_TOKEN)
    if from_env:
        return from_env, f"${ENV_APP_TOKEN}"
    return None, None


def _soap_mode(name: str) -> SoapMode:
    from ..testing import SoapMode

    return {"1.1": SoapMode.SOAP11, "1.2": SoapMode.SOAP12, "both": SoapMode.BOTH}[name]


def _announce(ctx: Context, simulator: NetServerSimulator, users: dict[str, str]) -> None:
    """Say where the simulator listens and how to point the CLI at it.

    Passwords given by the user are not repeated; the default user's password is shown,
    since it is what to type.
    """
    args = ctx.args
    if ctx.json:
        ctx.out.json(
            {
                "base_url": simulator.base_url,
                "soap": args.sim_soap,
                "online": False,
                "users": list(users),
            }
        )
        return
    defaulted = not args.users
    first = next(iter(users))
    _say(
        ctx,
        f"NetServer simulator running at {simulator.base_url} ({_soap_text(args.sim_soap)})",
        "Users: "
        + ", ".join(f"{name} (password {users[name]})" if defaulted else name for name in users),
        {
            ENV_URL: simulator.base_url,
            ENV_USERNAME: first,
            ENV_PASSWORD: users[first] if defaulted else "<password>",
        },
        (f"{PROG} start {DEMO_TASK} -p format=csv --wait",),
    )


def _announce_online(
    ctx: Context, online: OnlineSimulator, key_file: Path, token_origin: str | None
) -> None:
    """Say where the Online simulator listens and print the system-user settings to use.

    The system-user token and the client secret are made up here, so they are shown (they
    are what to type); a client secret the user gave is not repeated.
    """
    settings = {
        ENV_ENVIRONMENT: online.environment,
        ENV_CONTEXT_ID: online.context_identifier,
        ENV_SYSTEM_USER_TOKEN: online.system_user_token,
        ENV_PRIVATE_KEY_FILE: str(key_file),
        ENV_APP_TOKEN: (
            online.application_token
            if token_origin is None
            else f"<the client secret given in {token_origin}>"
        ),
    }
    if ctx.json:
        if token_origin is not None:
            del settings[ENV_APP_TOKEN]
        ctx.out.json(
            {
                "online": True,
                "soap": ctx.args.sim_soap,
                "endpoint": online.endpoint(),
                "settings": settings,
            }
        )
        return
    _say(
        ctx,
        f"SuperOffice Online simulator: login host {online.environment} (token exchange, "
        f"keys, tenant state), tenant {online.context_identifier} at {online.endpoint()} "
        f"({_soap_text(ctx.args.sim_soap)})",
        "It refuses usernames and passwords, as Online does: log in as the tenant's system "
        f"user. The app's private key is in {key_file} until the simulator stops.",
        settings,
        (
            f"unset {' '.join(_OTHER_CREDENTIALS)}",
            f"{PROG} tenant",
            f"{PROG} start {DEMO_TASK} -p format=csv --wait",
        ),
    )


_OTHER_CREDENTIALS = (ENV_URL, ENV_TICKET, ENV_USERNAME, ENV_PASSWORD)
"""What a system user must not have alongside: the CLI refuses a second credential."""


def _soap_text(mode: str) -> str:
    return f"SOAP {'1.1 and 1.2' if mode == 'both' else mode}"


def _say(
    ctx: Context, where: str, who: str, settings: dict[str, str], commands: Sequence[str]
) -> None:
    """The announcement: where, who may call, and the shell lines for another shell."""
    lines = [where, who, "Point the CLI at it from another shell:"]
    lines += [f"  export {name}={shlex.quote(value)}" for name, value in settings.items()]
    lines += [f"  {command}" for command in commands]
    lines.append("Press Ctrl-C to stop.")
    for line in lines:
        ctx.out.line(line)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while the simulator runs, so it stops cleanly either way."""
    try:
        previous = signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _until_interrupted() -> None:
    """Serve in the foreground: wait for Ctrl-C (or SIGTERM)."""
    while True:
        time.sleep(3600)


def _serve(
    ctx: Context, simulator: AbstractContextManager[object], announce: Callable[[], None]
) -> int:
    """Start ``simulator``, ``announce`` it, serve until Ctrl-C; exit 0 (2 if it cannot
    listen)."""
    args = ctx.args
    with _terminate_as_interrupt(), contextlib.ExitStack() as running:
        try:
            running.enter_context(simulator)
        except OSError as error:
            ctx.out.error(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}")
            return ExitCode.CONNECTION
        try:
            announce()
            _until_interrupted()
        except KeyboardInterrupt:
            pass
    ctx.out.notice("simulator stopped")
    return ExitCode.OK


def cmd_simulate(ctx: Context) -> int:
    """``simulate``: serve the simulator in the foreground until Ctrl-C (exit 0)."""
    from ..testing import NetServerSimulator

    args = ctx.args
    if args.online:
        return _simulate_online(ctx)
    users = _users(args.users)
    simulator = NetServerSimulator(
        host=args.host,
        port=args.port,
        users=users,
        soap=_soap_mode(args.sim_soap),
        job_duration=args.job_duration,
    )
    return _serve(ctx, simulator, lambda: _announce(ctx, simulator, users))


def _simulate_online(ctx: Context) -> int:
    """``simulate --online``: a login host and tenant hosts, and the system user's key in a
    file of its own (owner only), in a directory removed when the simulator stops."""
    args = ctx.args
    if args.users:
        raise UsageError(
            "simulate --online takes no --user: SuperOffice CRM Online refuses usernames "
            "and passwords; the simulator prints the system-user settings to use instead"
        )
    token, origin = _application_token(ctx)
    online = _new_online_simulator(
        host=args.host,
        port=args.port,
        soap=_soap_mode(args.sim_soap),
        application_token=token,
        job_duration=args.job_duration,
    )
    with tempfile.TemporaryDirectory(prefix="superoffice-batch-") as directory:
        key_file = _private_key_file(Path(directory), online.private_key_pem)
        return _serve(ctx, online, lambda: _announce_online(ctx, online, key_file, origin))


def _private_key_file(directory: Path, pem: str) -> Path:
    """``pem`` in a new file readable and writable by its owner only (0600), as a key file
    should be; the directory is the caller's (0700, from :mod:`tempfile`)."""
    path = directory / "app-private-key.pem"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(pem)
    return path


def _loopback_http() -> httpx.Client:
    """The demo's HTTP client: loopback only, so a proxy from the environment must not see
    (or break) it."""
    return httpx.Client(trust_env=False)


def cmd_demo(ctx: Context) -> int:
    """``demo``: a job on a throwaway simulator on loopback, followed to its end."""
    from ..testing import NetServerSimulator

    task = make_task(DEMO_TASK, DEMO_PARAMETERS)
    settings = FollowSettings(DEMO_POLL_INTERVAL, DEMO_MAX_WAIT, job_outlives_us=False)
    if ctx.args.online:
        return _online_demo(ctx, task, settings)
    simulator = NetServerSimulator(
        host="127.0.0.1", port=0, users=dict(DEFAULT_USERS), job_duration=DEMO_JOB_SECONDS
    )
    with (
        simulator,
        _loopback_http() as http,
        BatchClient(
            simulator.base_url,
            auth=UsernamePassword("demo", "demo"),
            http_client=http,
            timeout=10.0,
        ) as client,
    ):
        if not ctx.json:
            ctx.out.line(f"NetServer simulator running at {simulator.base_url}")
            ctx.out.line(f"Logging in as demo/demo and starting {DEMO_TASK} with format=csv")
        return start_job(ctx, client, task, settings).code


def _new_online_simulator(**options: Any) -> OnlineSimulator:
    """An Online on loopback; it makes the app's key pair, as SuperOffice would."""
    try:
        from ..testing.online import OnlineSimulator

        return OnlineSimulator(**options)
    except ImportError as error:
        raise online_extra_missing(error) from None


def _online_simulator() -> OnlineSimulator:
    """The demo's throwaway Online."""
    return _new_online_simulator(host="127.0.0.1", job_duration=DEMO_JOB_SECONDS)


def _system_user(online: OnlineSimulator) -> SystemUser:
    """The system user a partner's app would configure, with what the simulator issued
    (the key goes in as text, so nothing secret is written to disk)."""
    try:
        return online.system_user()
    except ImportError as error:
        raise online_extra_missing(error) from None


def _online_demo(ctx: Context, task: BatchTaskInfo, settings: FollowSettings) -> int:
    """``demo --online``: the system-user flow against a throwaway Online on loopback.

    No base URL is given: the client reads the tenant's endpoint from the state API and
    exchanges the signed system-user token for a ticket, once for the whole run.
    """
    with _online_simulator() as online, _loopback_http() as http:
        system_user = _system_user(online)
        ctx.out.add_secrets(system_user.secrets)  # made up, yet shown nowhere all the same
        with BatchClient(auth=system_user, http_client=http, timeout=10.0) as client:
            if not ctx.json:
                ctx.out.line(
                    f"SuperOffice Online simulator running at {online.environment} "
                    f"with tenant {online.context_identifier}"
                )
                ctx.out.line(
                    "Signing the tenant's system-user token with the app's new key and "
                    f"starting {DEMO_TASK} with format=csv"
                )
            outcome = start_job(ctx, client, task, settings)
            if not ctx.json:
                exchanges = online.exchanges
                endpoint = str(client.base_url).rstrip("/")
                ctx.out.line(f"Tenant endpoint (from the tenant state API): {endpoint}")
                ctx.out.line(
                    f"System-user token exchanged for a ticket {exchanges} "
                    f"time{'' if exchanges == 1 else 's'}, for {len(online.calls)} "
                    "NetServer calls"
                )
            return outcome.code
