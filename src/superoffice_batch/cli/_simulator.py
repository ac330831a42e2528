"""``simulate`` and ``demo``: the commands that run the bundled simulators.

The simulators (``superoffice_batch.testing``) are imported inside these functions only,
so that no other command pays for them.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING

import httpx

from ..auth import UsernamePassword
from ..client import BatchClient
from ..models import BatchTaskInfo
from ..online import SystemUser
from ._base import PROG, Context, ExitCode, UsageError
from ._commands import FollowSettings, make_task, start_job
from ._connection import (
    ENV_APP_TOKEN,
    ENV_PASSWORD,
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
    """The token an online simulator demands and where it came from; (None, None) lets the
    simulator use its default, which is then printed."""
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


def _announce(
    ctx: Context, simulator: NetServerSimulator, users: dict[str, str], token_origin: str | None
) -> None:
    """Say where the simulator listens and how to point the CLI at it.

    Passwords and a token given by the user are not repeated; the default user's password
    and the simulator's default token are shown, since they are what to type.
    """
    args = ctx.args
    token = simulator.application_token
    default_token = token if token is not None and token_origin is None else None
    if ctx.json:
        ctx.out.json(
            {
                "base_url": simulator.base_url,
                "soap": args.sim_soap,
                "online": args.online,
                "users": list(users),
                "application_token": default_token,
            }
        )
        return
    defaulted = not args.users
    lines = [
        f"NetServer simulator running at {simulator.base_url} "
        f"(SOAP {'1.1 and 1.2' if args.sim_soap == 'both' else args.sim_soap})",
        "Users: "
        + ", ".join(f"{name} (password {users[name]})" if defaulted else name for name in users),
    ]
    if token is not None:
        shown = default_token if default_token is not None else f"given in {token_origin}"
        lines.append(f"Online mode: every call must carry the ApplicationToken {shown}")
    first = next(iter(users))
    lines += [
        "Point the CLI at it from another shell:",
        f"  export {ENV_URL}={simulator.base_url}",
        f"  export {ENV_USERNAME}={first}",
        f"  export {ENV_PASSWORD}={users[first] if defaulted else '<password>'}",
    ]
    if default_token is not None:
        lines.append(f"  export {ENV_APP_TOKEN}={default_token}")
    lines += [
        f"  {PROG} start {DEMO_TASK} -p format=csv --wait",
        "Press Ctrl-C to stop.",
    ]
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


def cmd_simulate(ctx: Context) -> int:
    """``simulate``: serve the simulator in the foreground until Ctrl-C (exit 0)."""
    from ..testing import NetServerSimulator

    args = ctx.args
    users = _users(args.users)
    token, origin = _application_token(ctx) if args.online else (None, None)
    simulator = NetServerSimulator(
        host=args.host,
        port=args.port,
        users=users,
        soap=_soap_mode(args.sim_soap),
        online=args.online,
        application_token=token,
        job_duration=args.job_duration,
    )
    with _terminate_as_interrupt(), contextlib.ExitStack() as running:
        try:
            running.enter_context(simulator)
        except OSError as error:
            ctx.out.error(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}")
            return ExitCode.CONNECTION
        try:
            _announce(ctx, simulator, users, origin)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    ctx.out.notice("simulator stopped")
    return ExitCode.OK


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


def _online_simulator() -> OnlineSimulator:
    """A throwaway Online on loopback; it makes the app's key pair, as SuperOffice would."""
    try:
        from ..testing.online import OnlineSimulator

        return OnlineSimulator(host="127.0.0.1", job_duration=DEMO_JOB_SECONDS)
    except ImportError as error:
        raise online_extra_missing(error) from None


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
