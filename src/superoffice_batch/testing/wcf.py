"""What WCF answers before any operation runs, as NetServer's services and Online's
partner-system-user service both sit behind it: the SOAP version a Content-Type picks,
the action a request names, and the faults for a request WCF cannot dispatch (PROTOCOL.md
sections 2 and 6; the fault texts are WCF's own).
"""

from __future__ import annotations

import enum
from email.message import Message

from lxml import etree

from ..envelope import SoapVersion
from . import soap
from .server import Answer

__all__ = [
    "MEDIA_TYPES",
    "SoapMode",
    "action_not_supported",
    "action_of",
    "fault",
    "formatter_failed",
    "internal_fault",
    "read_incoming",
    "wrong_body",
]

MEDIA_TYPES = {"text/xml": SoapVersion.SOAP11, "application/soap+xml": SoapVersion.SOAP12}
"""The SOAP version each request Content-Type stands for."""

_ADDRESSING_NONE = "http://schemas.microsoft.com/ws/2005/05/addressing/none"
_DISPATCHER = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"


class SoapMode(enum.Enum):
    """Which SOAP versions the simulator accepts.

    ``SOAP11`` is what the published WCF binding does (HTTP 415 for
    ``application/soap+xml``); ``SOAP12`` refuses ``text/xml``; ``BOTH`` takes either.
    """

    SOAP11 = "1.1"
    SOAP12 = "1.2"
    BOTH = "both"

    def accepts(self, version: SoapVersion) -> bool:
        """Whether a request of ``version`` is taken."""
        return self is SoapMode.BOTH or self.value == version.value


def fault(
    version: SoapVersion, status: int, code: str, sub: tuple[str, str] | None, reason: str
) -> Answer:
    """A SOAP fault of ``version`` with HTTP ``status``."""
    return Answer(status, soap.fault(version, code, sub, reason), soap.CONTENT_TYPES[version])


def action_not_supported(version: SoapVersion, action: str) -> Answer:
    """WCF's fault for an action the service does not have."""
    reason = (
        f"The message with Action '{action}' cannot be processed at the receiver, due to a "
        "ContractFilter mismatch at the EndpointDispatcher. This may be because of either a "
        "contract mismatch (mismatched Actions between sender and receiver) or a "
        "binding/security mismatch between the sender and the receiver.  Check that sender "
        "and receiver have the same contract and the same binding (including security "
        "requirements, e.g. Message, Transport, None)."
    )
    return fault(version, 500, "Sender", (_ADDRESSING_NONE, "ActionNotSupported"), reason)


def _deserialization_failed(version: SoapVersion, status: int, detail: str) -> Answer:
    return fault(version, status, "Sender", (_DISPATCHER, "DeserializationFailed"), detail)


def formatter_failed(version: SoapVersion, detail: str) -> Answer:
    """WCF's fault for a body the operation's formatter cannot read."""
    reason = f"The formatter threw an exception while trying to deserialize the message: {detail}"
    return _deserialization_failed(version, 500, reason)


def wrong_body(
    version: SoapVersion, operation: str, expected: str, payload: etree._Element | None
) -> Answer:
    """WCF's fault for a body whose element is not the operation's ``expected`` one."""
    found = "nothing" if payload is None else f"'{payload.tag}'"
    return formatter_failed(
        version,
        f"Error in deserializing body of request message for operation '{operation}'. "
        f"Expected element '{expected}', found {found}.",
    )


def internal_fault(version: SoapVersion) -> Answer:
    """WCF's fault for an exception in the service (with exception details off)."""
    reason = (
        "The server was unable to process the request due to an internal error.  For more "
        "information about the error, either turn on IncludeExceptionDetailInFaults on the "
        "server or turn on tracing."
    )
    return fault(version, 500, "Receiver", (_DISPATCHER, "InternalServiceFault"), reason)


def action_of(headers: Message, version: SoapVersion) -> str:
    """The action a request names: ``SOAPAction`` (1.1) or the Content-Type's ``action``."""
    if version is SoapVersion.SOAP11:
        action = headers.get("SOAPAction", "")
        # WCF takes the value with or without the quotes SOAP 1.1 asks for.
        if len(action) >= 2 and action[0] == action[-1] == '"':
            action = action[1:-1]
        return action
    action_param = headers.get_param("action", "")
    return action_param if isinstance(action_param, str) else ""


def read_incoming(body: bytes, version: SoapVersion) -> soap.Incoming | Answer:
    """The request envelope, or the fault WCF answers when there is none of ``version``."""
    try:
        return soap.read_envelope(body, version)
    except soap.Unreadable as error:
        return _deserialization_failed(version, 400, str(error))
    except soap.VersionMismatch as error:
        return fault(version, 500, "VersionMismatch", None, str(error))
