"""What each operation does: the simulator's Batch.svc and SoPrincipal.svc.

Each handler takes the operation's arguments (by attribute name, as the library's
operation classes declare them) and returns the result to write. Bad arguments raise
``ValueError`` and unknown task ids :class:`~superoffice_batch.testing.jobs.TaskNotFound`;
the simulator turns both into NetServer business errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from .. import __version__
from ..models import BatchTaskInfo, BatchTaskState
from ..operations import (
    DeleteBatchTask,
    DeleteBatchTasks,
    GetAllBatchTaskInfosByName,
    GetAllBatchTaskInfosByNameAndState,
    GetBatchTaskInfo,
    GetBatchTaskInfosByAssociates,
    GetBatchTaskInfosByAssociatesAndState,
    GetBatchTaskInfosByNameAndAssociates,
    GetBatchTaskInfosByNameAndState,
    GetBatchTaskInfosByState,
    GetSystemBatchTaskInfosByName,
    GetSystemBatchTaskInfosByNameAndState,
    Operation,
    StartBatchJob,
    StopBatchJob,
    UpdateBatchTask,
)
from ..soprincipal import (
    AuthenticateGeneric,
    AuthenticateImplicit,
    AuthenticateReply,
    AuthenticateUsernamePassword,
    AuthenticateWithAccessToken,
    GetSystemInfo,
    NetServerBuildType,
    Principal,
    SoCredentials,
    SystemInfo,
)
from .jobs import JobStore, Scope
from .sessions import ACCESS_TOKEN_USER, Sessions, is_access_token

__all__ = ["BATCH_HANDLERS", "SOPRINCIPAL_HANDLERS", "Caller"]

Args = Mapping[str, Any]


@attrs.frozen
class Caller:
    """Who is calling: the user the ticket belongs to (None on SoPrincipal) and the tenant
    (the first segment of the URL path, e.g. ``Cust12345``)."""

    user: str | None
    associate_id: int
    tenant: str | None


BatchHandler = Callable[[JobStore, Caller, Args], object]
PrincipalHandler = Callable[[Sessions, Caller, Args], object]


# -- Batch.svc ---------------------------------------------------------------------------


def _task(args: Args) -> BatchTaskInfo:
    info = args["batch_task_info"]
    if info is None:
        raise ValueError("BatchTaskInfo must not be null")
    assert isinstance(info, BatchTaskInfo)
    return info


# Which tasks each query looks at (PROTOCOL.md section 3); the arguments filter further.
_QUERY_SCOPES: dict[type[Operation[Any]], Scope] = {
    GetBatchTaskInfosByAssociates: Scope.ALL,
    GetBatchTaskInfosByState: Scope.USER,
    GetBatchTaskInfosByNameAndState: Scope.USER,
    GetBatchTaskInfosByNameAndAssociates: Scope.ALL,
    GetBatchTaskInfosByAssociatesAndState: Scope.ALL,
    GetAllBatchTaskInfosByName: Scope.ALL,
    GetAllBatchTaskInfosByNameAndState: Scope.ALL,
    GetSystemBatchTaskInfosByName: Scope.SYSTEM,
    GetSystemBatchTaskInfosByNameAndState: Scope.SYSTEM,
}


def _query(scope: Scope) -> BatchHandler:
    def select(jobs: JobStore, caller: Caller, args: Args) -> object:
        # Operations 7 and 8 call the name "Name", 12 to 15 "TaskName".
        return jobs.select(
            scope,
            name=args.get("name", args.get("task_name")),
            state=args.get("state", BatchTaskState.ALL),
            associates=args.get("associate_ids"),
        )

    return select


BATCH_HANDLERS: dict[type[Operation[Any]], BatchHandler] = {
    StartBatchJob: lambda jobs, caller, args: jobs.start(_task(args), caller.associate_id),
    GetBatchTaskInfo: lambda jobs, caller, args: jobs.get(args["id"]),
    StopBatchJob: lambda jobs, caller, args: jobs.stop(args["id"]),
    UpdateBatchTask: lambda jobs, caller, args: jobs.update(_task(args)),
    DeleteBatchTask: lambda jobs, caller, args: jobs.delete(args["batch_task_id"]),
    DeleteBatchTasks: lambda jobs, caller, args: jobs.delete_many(args["batch_task_ids"] or ()),
    **{operation: _query(scope) for operation, scope in _QUERY_SCOPES.items()},
}
"""The 15 Batch.svc operations."""


# -- SoPrincipal.svc ---------------------------------------------------------------------


def _logged_in(sessions: Sessions, user: str, caller: Caller) -> AuthenticateReply:
    return AuthenticateReply(
        response=sessions.principal(user, caller.tenant),
        credentials=SoCredentials(ticket=sessions.issue(user, login=True)),
        authentication_succeeded=True,
    )


def _refused() -> AuthenticateReply:
    # Like the documented refusal: an empty principal, an empty ticket, no ExceptionInfo.
    return AuthenticateReply(
        response=Principal(),
        credentials=SoCredentials(ticket=""),
        authentication_succeeded=False,
    )


def _username_password(sessions: Sessions, caller: Caller, args: Args) -> object:
    user, password = args["user_name"] or "", args["password"] or ""
    if sessions.password_matches(user, password):
        return _logged_in(sessions, user, caller)
    return _refused()


def _access_token(sessions: Sessions, caller: Caller, args: Args) -> object:
    if is_access_token(args["access_token"] or ""):
        return _logged_in(sessions, ACCESS_TOKEN_USER, caller)
    return _refused()


def _system_info(sessions: Sessions, caller: Caller, args: Args) -> object:
    return SystemInfo(
        warning_english="",
        branch_name="simulator",
        build_label=f"superoffice-batch {__version__} simulator",
        assembly_version="10.4.0.0",
        file_version=__version__,
        description="SuperOffice NetServer simulator (superoffice_batch.testing)",
        days_until_net_server_expiry=365,
        build_type=NetServerBuildType.RELEASE,
        database_version=10,
        is_unicode=True,
        company_name="Simulator AS",
        company_id=2,
        database_type="MSSQL",
        database_name="SuperOffice",
    )


SOPRINCIPAL_HANDLERS: dict[type[Operation[Any]], PrincipalHandler] = {
    AuthenticateUsernamePassword: _username_password,
    AuthenticateWithAccessToken: _access_token,
    # Implicit (Windows) and generic (plugin) authentication have nothing to check here.
    AuthenticateImplicit: lambda sessions, caller, args: _refused(),
    AuthenticateGeneric: lambda sessions, caller, args: _refused(),
    GetSystemInfo: _system_info,
}
"""The 5 SoPrincipal.svc operations."""
