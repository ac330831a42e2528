"""superoffice-batch: a small, fast, WSDL-free client for SuperOffice NetServer's Batch service.

Start with :class:`BatchClient` (or :class:`AsyncBatchClient`); the building blocks they
use, operations that build requests and parse replies without any I/O, live in
:mod:`superoffice_batch.operations`.
"""

from typing import TYPE_CHECKING

from ._lazy import lazy_names
from ._version import __version__
from .auth import AccessToken, UsernamePassword
from .client import AsyncBatchClient, BatchClient
from .envelope import SoapVersion
from .errors import (
    AuthenticationError,
    BatchTaskFailed,
    BatchTaskTimeout,
    HttpError,
    ProtocolError,
    ServiceError,
    SoapFault,
    SuperOfficeError,
    TenantUnavailable,
    TransportError,
)
from .models import (
    SOPRINCIPAL_MODELS,
    BatchTaskCancellationBehaviour,
    BatchTaskInfo,
    BatchTaskState,
    Credentials,
    ReplyHeaders,
    TimeZone,
)
from .operations import Reply
from .secret_listeners import add_secret_listener, remove_secret_listener

if TYPE_CHECKING:
    from .online import OnlineTenant, SystemUser, TenantState
    from .soprincipal import (
        Authentication,
        EjUserStatus,
        NetServerBuildType,
        Principal,
        RoleType,
        SystemInfo,
        UserType,
    )

# SoPrincipal's models and the Online system user load on first use.
__getattr__ = lazy_names(
    __name__,
    "superoffice_batch.soprincipal",
    SOPRINCIPAL_MODELS,
    ("superoffice_batch.online", ("OnlineTenant", "SystemUser", "TenantState")),
)

__all__ = [
    "AccessToken",
    "AsyncBatchClient",
    "Authentication",
    "AuthenticationError",
    "BatchClient",
    "BatchTaskCancellationBehaviour",
    "BatchTaskFailed",
    "BatchTaskInfo",
    "BatchTaskState",
    "BatchTaskTimeout",
    "Credentials",
    "EjUserStatus",
    "HttpError",
    "NetServerBuildType",
    "OnlineTenant",
    "Principal",
    "ProtocolError",
    "Reply",
    "ReplyHeaders",
    "RoleType",
    "ServiceError",
    "SoapFault",
    "SoapVersion",
    "SuperOfficeError",
    "SystemInfo",
    "SystemUser",
    "TenantState",
    "TenantUnavailable",
    "TimeZone",
    "TransportError",
    "UserType",
    "UsernamePassword",
    "__version__",
    "add_secret_listener",
    "remove_secret_listener",
]
