"""superoffice-batch: a small, fast, WSDL-free client for SuperOffice NetServer's Batch service.

Start with :class:`BatchClient`; the building blocks it uses (operations that build
requests and parse replies without any I/O) live in :mod:`superoffice_batch.operations`.
"""

from .client import BatchClient
from .envelope import SoapVersion
from .errors import (
    HttpError,
    ProtocolError,
    ServiceError,
    SoapFault,
    SuperOfficeError,
    TransportError,
)
from .models import BatchTaskCancellationBehaviour, BatchTaskInfo, BatchTaskState, Credentials

__version__ = "0.1.0"

__all__ = [
    "BatchClient",
    "BatchTaskCancellationBehaviour",
    "BatchTaskInfo",
    "BatchTaskState",
    "Credentials",
    "HttpError",
    "ProtocolError",
    "ServiceError",
    "SoapFault",
    "SoapVersion",
    "SuperOfficeError",
    "TransportError",
    "__version__",
]
