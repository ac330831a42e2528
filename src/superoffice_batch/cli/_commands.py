"""The commands that talk to NetServer: one function per command.

Each takes the run's :class:`Context` and returns an exit code. Errors from the library
propagate to :func:`superoffice_batch.cli._main.main`, which turns them into exit codes.
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ..client import BatchClient
from ..errors import BatchTaskTimeout, ProtocolError, tenant_advice
from ..models import BatchTaskInfo, BatchTaskState
from ..soprincipal import AuthenticateUsernamePassword
from ._base import PROG, Context, ExitCode, UsageError
from ._connection import Connection, login_settings, open_client, resolve, tenant_settings
from ._output import clean

__all__ = [
    "FollowSettings",
    "Outcome",
    "cmd_delete",
    "cmd_list",
    "cmd_login",
    "cmd_start",
    "cmd_status",
    "cmd_stop",
    "cmd_tenant",
    "cmd_wait",
    "follow",
    "make_task",
    "start_job",
]


class Outcome(NamedTuple):
    """How a started or followed job ended: the exit code, and its last snapshot if any."""

    code: int
    info: BatchTaskInfo | None = None


@dataclass(frozen=True)
class FollowSettings:
    """How to wait for a job: seconds between the first polls, and the longest wait.

    ``job_outlives_us`` is false when the server goes away with the command (``demo``):
    then there is no point in telling how to stop the job.
    """

    poll_interval: float = 1.0
    max_wait: float | None = None
    job_outlives_us: bool = True


def _follow_settings(ctx: Context) -> FollowSettings:
    return FollowSettings(ctx.args.poll_interval, ctx.args.max_wait)


Settings = Callable[[argparse.Namespace, Mapping[str, str]], Connection]


def _client(ctx: Context, settings: Settings = resolve) -> BatchClient:
    connection = settings(ctx.args, ctx.env)
    ctx.out.add_secrets(connection.secrets)  # the key's text, read from its file just now
    return open_client(connection)


def make_task(name: str, parameters: Sequence[tuple[str, str]] | None) -> BatchTaskInfo:
    """The task to start: its definition name and the ``-p`` pairs as its parameters."""
    parameter_object: dict[str, str | None] | None = None
    if parameters:
        parameter_object = {}
        for key, value in parameters:
            if key in parameter_object:
                raise UsageError(f"parameter {key!r} is given twice")
            parameter_object[key] = value
    try:
        return BatchTaskInfo(name=name, parameter_object=parameter_object)
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None


def follow(ctx: Context, client: BatchClient, job_id: int, settings: FollowSettings) -> Outcome:
    """Wait for a job with a progress display, then print it; exit 1 if it failed.

    Ctrl-C stops the waiting, not the job: it exits 130 and says how to stop the job.
    """
    display = ctx.out.progress(job_id)
    try:
        try:
            info = client.wait_for_batch_task(
                job_id,
                poll_interval=settings.poll_interval,
                timeout=settings.max_wait,
                on_progress=display.update,
            )
        finally:
            display.close()  # whatever happens next starts on a line of its own
    except KeyboardInterrupt:
        message = f"stopped waiting for batch job {job_id}"
        if settings.job_outlives_us:
            message += f"; it goes on running on the server. To stop it: {PROG} stop {job_id}"
        ctx.out.notice(message)
        return Outcome(ExitCode.INTERRUPTED)
    except BatchTaskTimeout as error:
        if not settings.job_outlives_us:
            raise
        raise BatchTaskTimeout(
            f"{error} (it goes on running; to stop it: {PROG} stop {job_id})", error.info
        ) from error
    ctx.out.task(info)
    if info.state is BatchTaskState.FAILED:
        result = f": {ctx.out.mask(info.result)}" if info.result else ""
        ctx.out.error(f"batch job {job_id} failed{result}")
        return Outcome(ExitCode.JOB_FAILED, info)
    return Outcome(ExitCode.OK, info)


def start_job(
    ctx: Context, client: BatchClient, task: BatchTaskInfo, settings: FollowSettings | None
) -> Outcome:
    """Start ``task``; print its id, or follow it when ``settings`` are given."""
    try:
        job_id = client.start_batch_job(task)
    except KeyboardInterrupt:
        # The request may have reached the server: the job may exist without its id here.
        listing = f"{PROG} list" + (f" --name {shlex.quote(task.name)}" if task.name else "")
        ctx.out.notice(f"interrupted: the batch job may have started; to find it: {listing}")
        return Outcome(ExitCode.INTERRUPTED)
    if job_id <= 0:
        # The service's documented example answers 0: no task was created.
        raise ProtocolError(f"StartBatchJob answered id {job_id}: no job was created")
    if settings is None:
        ctx.out.result({"id": job_id}, str(job_id))
        return Outcome(ExitCode.OK)
    if not ctx.json:
        ctx.out.line(f"Started batch job {job_id}")
    outcome = follow(ctx, client, job_id, settings)
    if outcome.info is not None and not ctx.json:
        ctx.out.line(f"Batch job {job_id} finished: {outcome.info.state}")
    return outcome


def cmd_start(ctx: Context) -> int:
    """``start NAME [-p KEY=VALUE …] [--wait]``."""
    args = ctx.args
    task = make_task(args.name, args.params)
    settings = _follow_settings(ctx) if args.wait else None
    with _client(ctx) as client:
        return start_job(ctx, client, task, settings).code


def cmd_status(ctx: Context) -> int:
    """``status ID``: the job's fields; exit 3 when there is no such job."""
    job_id: int = ctx.args.id
    with _client(ctx) as client:
        info = client.get_batch_task_info(job_id)
    if info is None:
        ctx.out.error(f"no batch job with id {job_id}")
        return ExitCode.SERVICE
    ctx.out.task(info)
    return ExitCode.OK


def cmd_wait(ctx: Context) -> int:
    """``wait ID``: follow the job to its end."""
    with _client(ctx) as client:
        return follow(ctx, client, ctx.args.id, _follow_settings(ctx)).code


def cmd_stop(ctx: Context) -> int:
    """``stop ID``: exit 3 when the service does not stop the job."""
    job_id: int = ctx.args.id
    with _client(ctx) as client:
        stopped = client.stop_batch_job(job_id)
    ctx.out.result(
        {"id": job_id, "stopped": stopped},
        f"Stopped batch job {job_id}" if stopped else f"Batch job {job_id} was not stopped",
    )
    if not stopped:
        ctx.out.error(
            f"the service did not stop batch job {job_id} "
            "(it may have finished already, or it cannot be cancelled)"
        )
        return ExitCode.SERVICE
    return ExitCode.OK


def cmd_delete(ctx: Context) -> int:
    """``delete ID…``: one DeleteBatchTask, or one DeleteBatchTasks for several."""
    ids = list(dict.fromkeys(ctx.args.ids))  # once each, in the order given
    with _client(ctx) as client:
        if len(ids) == 1:
            # DeleteBatchTask fails for an unknown id: no error means it was deleted.
            client.delete_batch_task(ids[0])
            ctx.out.result({"deleted": ids}, f"Deleted batch job {ids[0]}")
            return ExitCode.OK
        client.delete_batch_tasks(ids)
    # DeleteBatchTasks answers nothing, whether the ids existed or not.
    listed = ", ".join(str(job) for job in ids)
    ctx.out.result(
        {"requested": ids},
        f"Asked NetServer to delete batch jobs {listed} (it does not say which existed)",
    )
    return ExitCode.OK


def cmd_list(ctx: Context) -> int:
    """``list [--state S] [--name N]``: system and user tasks."""
    name: str | None = ctx.args.task_name or None
    state: BatchTaskState | None = ctx.args.state
    with _client(ctx) as client:
        if state is None or state is BatchTaskState.ALL:
            tasks = client.get_all_batch_task_infos_by_name(name)
        else:
            tasks = client.get_all_batch_task_infos_by_name_and_state(name, state)
    ctx.out.tasks(tasks)
    return ExitCode.OK


def cmd_tenant(ctx: Context) -> int:
    """``tenant``: the Online tenant's state and endpoint, read anew from the state API.

    A tenant whose API is unavailable is shown like any other (exit 0), with a notice
    that the other commands would fail now.
    """
    with _client(ctx, tenant_settings) as client:
        tenant = client.tenant_state()
    ctx.out.tenant(tenant)
    if not tenant.api_available:
        state = ctx.out.mask(tenant.state)
        advice = tenant_advice(tenant.state, tenant.valid_until)
        ctx.out.notice(
            f"the tenant's API is not available while it is {state}: "
            f"the other commands exit 3 without sending anything; {advice}"
        )
    return ExitCode.OK


def cmd_login(ctx: Context) -> int:
    """``login``: log in with username and password; print the ticket (and only here)."""
    connection = login_settings(ctx.args, ctx.env)
    assert connection.login is not None  # login_settings insists on one
    try:
        operation = AuthenticateUsernamePassword(
            connection.login.username, connection.login.password
        )
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None
    with open_client(connection, log_in=False) as client:
        authentication = client.call(operation)
    principal = authentication.principal
    ctx.out.result(
        {
            "ticket": authentication.ticket,
            "associate": principal.associate if principal else None,
            "associate_id": principal.associate_id if principal else None,
        },
        clean(authentication.ticket),  # the server's text, on a terminal
    )
    return ExitCode.OK
