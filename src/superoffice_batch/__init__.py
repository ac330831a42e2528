"""superoffice-batch: a small, fast, WSDL-free client for SuperOffice NetServer's Batch service.

Start with :class:`BatchClient` (or :class:`AsyncBatchClient`); the building blocks they
use, operations that build requests and parse replies without any I/O, live in
:mod:`superoffice_batch.operations`.
"""

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
    TransportError,
)
from .models import (
    Authentication,
    BatchTaskCancellationBehaviour,
    BatchTaskInfo,
    BatchTaskState,
    Credentials,
    EjUserStatus,
    NetServerBuildType,
    Principal,
    ReplyHeaders,
    RoleType,
    SystemInfo,
    TimeZone,
    UserType,
)
from .operations import Reply

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
    "TimeZone",
    "TransportError",
    "UserType",
    "UsernamePassword",
    "__version__",
]
