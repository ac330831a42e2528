"""The exception tree. Everything the library raises about a call is a :class:`SuperOfficeError`.

::

    SuperOfficeError
    ├── TransportError   the request or its reply never made it (connect, timeout, drop)
    ├── HttpError        a non-2xx status that is no fault or business error (HTML page, 502…)
    ├── SoapFault        the service answered with a SOAP Fault (either SOAP version)
    ├── ServiceError     NetServer reported a business error (Succeeded=false / ExceptionInfo)
    ├── ProtocolError    a reply the library cannot read (not XML, no envelope, bad value…)
    ├── AuthenticationError  no ticket: SoPrincipal or the system-user exchange refused, or
    │                        the JWT from SuperOffice failed validation
    ├── TenantUnavailable    the Online tenant's state says its API is not available
    ├── BatchTaskFailed  a waited-for job ended Failed (only with raise_on_failure=True)
    └── BatchTaskTimeout a waited-for job was still running at the deadline

Bad *input* is not in this tree: it raises ``TypeError``/``ValueError`` before sending.

Server text reaches these exceptions only as :class:`~superoffice_batch.servertext.ServerText`,
which carries the client's secrets: each exception reveals it itself (masked, and safe for
a terminal) before it is stored, so neither ``str()``, ``repr()`` nor the attributes can
leak a secret or act on a terminal. Their own words (``message``, ``reason``) are plain
strings; the part of a message that quotes the server goes in ``quoting``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from .servertext import ServerText, Shown, reveal

__all__ = [
    "AuthenticationError",
    "BatchTaskFailed",
    "BatchTaskTimeout",
    "HttpError",
    "ProtocolError",
    "ServiceError",
    "SoapFault",
    "SuperOfficeError",
    "TenantUnavailable",
    "TransportError",
    "label",
    "tenant_advice",
]

EXCERPT_CHARS = 2048
"""The most of a reply body an error keeps (``excerpt``)."""
_MESSAGE_EXCERPT_CHARS = 200


def _shown(text: ServerText | None, limit: int = _MESSAGE_EXCERPT_CHARS) -> Shown | None:
    return None if text is None else reveal(text, limit=limit)


def _short(text: str) -> str:
    if len(text) <= _MESSAGE_EXCERPT_CHARS:
        return text
    return text[: _MESSAGE_EXCERPT_CHARS - 1] + "…"


class SuperOfficeError(Exception):
    """Base of every error the library raises about a call to NetServer.

    ``str()`` is the message, then the request (``(POST url)``) and what to check, when
    known. ``quoting`` is server text the message ends with, revealed through the gate.
    Every one pickles (for multiprocessing, process pools, task queues) with its message
    and all its attributes.
    """

    job_id: int | None = None
    """The batch task a ``wait_for_batch_task`` or ``run_batch_job`` was following when
    the error was raised (for ``run_batch_job``: once the job was started), else None.
    The message then begins by saying so, so that a log line of it does too."""
    url: str | None = None
    """The endpoint that was called, when known."""
    method: str = "POST"
    """The HTTP method of the request (GET for Online's JSON services)."""
    hint: str | None = None
    """What to check, when the reply says (a 404 names ``base_url``)."""

    def __init__(self, message: str = "", *, quoting: ServerText | None = None) -> None:
        if quoting is not None:
            message = f"{message}: {reveal(quoting, limit=_MESSAGE_EXCERPT_CHARS) or '(empty)'}"
        super().__init__(message)

    def __str__(self) -> str:
        # The one composition of a message: every addition (the job, the request, the hint)
        # here.
        text = super().__str__()
        if self.job_id is not None:
            text = f"batch job {self.job_id} was started (do not start it again): {text}"
        if self.url:
            text += f" ({self.method} {self.url})"
        return f"{text}; {self.hint}" if self.hint else text

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own reduce calls type(*args): the constructors here take other
        # arguments. Rebuilt without __init__, from args and every attribute instead.
        return (_restore, (type(self), self.args), self.__dict__)


def _restore(cls: type[SuperOfficeError], args: tuple[Any, ...]) -> SuperOfficeError:
    """An unpickled error before its attributes are set: ``args`` (the message) only."""
    return cls.__new__(cls, *args)


class TransportError(SuperOfficeError):
    """The request did not get a complete reply: connect error, timeout, dropped connection.

    The httpx exception is chained as ``__cause__``. Whether the server ran the operation
    is unknown unless ``request_sent`` is False.
    """

    def __init__(
        self, message: str, *, request_sent: bool, quoting: ServerText | None = None
    ) -> None:
        super().__init__(message, quoting=quoting)
        self.request_sent = request_sent


class _ReplyError(SuperOfficeError):
    """An error about one reply: ``str()`` names the URL called and what to check.

    The parsers do not know the URL; the client sets :attr:`url` and :attr:`hint`.
    """


def label(
    error: BaseException,
    method: str,
    url: str,
    hint: Callable[[SuperOfficeError], str | None] | None = None,
) -> None:
    """Name the request an error about a reply is about (its ``method`` and ``url``), and
    what to check (``hint``), unless the error already names another request."""
    if isinstance(error, _ReplyError) and error.url in (None, url):
        error.url = url
        error.method = method
        error.hint = (hint and hint(error)) or error.hint


class HttpError(_ReplyError):
    """A non-2xx HTTP status that carries no SOAP fault and no business error.

    Typically an HTML error page from a proxy or IIS; also an over-sized body (not read)
    and a normal envelope sent with an error status.
    """

    def __init__(
        self,
        status_code: int,
        body: ServerText | None,
        content_type: ServerText | None = None,
        *,
        note: str = "",
        url: str | None = None,
        hint: str | None = None,
        method: str = "POST",
    ) -> None:
        self.url = url
        self.hint = hint
        self.method = method
        self.status_code = status_code
        self.excerpt: str = _shown(body, EXCERPT_CHARS) or note
        """The body (masked, at most 2048 characters), or what the library says of it."""
        self.content_type = _shown(content_type)
        kind = f" ({self.content_type})" if self.content_type else ""
        shown = f": {_short(self.excerpt)}" if self.excerpt else " with an empty body"
        super().__init__(f"HTTP {status_code}{kind}{shown}")


class ProtocolError(_ReplyError):
    """A reply the library cannot make sense of: not XML, not SOAP, a missing or bad value."""

    def __init__(
        self,
        reason: str,
        *,
        quoting: ServerText | None = None,
        status_code: int | None = None,
        body: ServerText | None = None,
        url: str | None = None,
        hint: str | None = None,
        method: str = "POST",
    ) -> None:
        self.url = url
        self.hint = hint
        self.method = method
        quoted = _shown(quoting)
        self.reason = reason if quoted is None else f"{reason}: {quoted or '(empty)'}"
        """What was wrong; ends with the server's words it quotes, masked."""
        self.status_code = status_code
        self.excerpt: str = _shown(body, EXCERPT_CHARS) or ""
        """The reply's body (masked, at most 2048 characters); empty when not known."""
        status = f" (HTTP {status_code})" if status_code is not None else ""
        shown = f": {_short(self.excerpt)}" if self.excerpt else ""
        super().__init__(f"{self.reason}{status}{shown}")


class SoapFault(_ReplyError):
    """A SOAP Fault. ``code`` is the fault code as ``{namespace}Local`` (Clark notation).

    ``subcodes`` lists SOAP 1.2 subcodes, outermost first; ``detail`` is the redacted XML
    of the Detail/detail element, if any.
    """

    def __init__(
        self,
        code: ServerText,
        reason: ServerText,
        *,
        subcodes: tuple[ServerText, ...] = (),
        detail: ServerText | None = None,
        status_code: int | None = None,
        url: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.url = url
        self.hint = hint
        self.code: str = reveal(code) or "(no fault code)"
        self.subcodes: tuple[str, ...] = tuple(reveal(name) for name in subcodes)
        self.reason: str = reveal(reason).strip()
        self.detail: str | None = None if detail is None else reveal(detail)
        self.status_code = status_code
        message = (
            f"SOAP fault {_local(self.code)}{_subcode_text(self.subcodes)}: {_short(self.reason)}"
        )
        if "ActionNotSupported" in {_local(name) for name in (self.code, *self.subcodes)}:
            # WCF's answer to an unknown action: older NetServers lack some operations.
            message += " (the operation may not exist on this NetServer version)"
        super().__init__(message)

    @property
    def code_name(self) -> str:
        """The local part of :attr:`code`: ``VersionMismatch``, ``Sender``, ``Client``…"""
        return _local(self.code)


def _whole(text: ServerText | None) -> Shown | None:
    return None if text is None else reveal(text)


def _local(clark: str) -> str:
    return clark.rpartition("}")[2]


def _subcode_text(subcodes: tuple[str, ...]) -> str:
    return "".join(f"/{_local(code)}" for code in subcodes)


class ServiceError(SuperOfficeError):
    """NetServer ran the call and reported failure (``Succeeded`` false or ``ExceptionInfo``).

    The stack trace is kept in :attr:`stack_trace` but never shown by ``str()``.
    ``inner_exception`` is the next :class:`ServiceError` of the server's chain, if any.
    """

    def __init__(
        self,
        *,
        exception_type: ServerText | None = None,
        message: ServerText | None = None,
        friendly_text: ServerText | None = None,
        source: ServerText | None = None,
        parameters: Mapping[ServerText, ServerText | None] | None = None,
        stack_trace: ServerText | None = None,
        inner_exception: ServiceError | None = None,
        status_code: int | None = None,
    ) -> None:
        self.exception_type = _whole(exception_type)
        self.message = _whole(message)
        self.friendly_text = _whole(friendly_text)
        self.source = _whole(source)
        self.parameters: dict[str, str | None] = {
            reveal(key): _whole(value) for key, value in (parameters or {}).items()
        }
        self.stack_trace = _whole(stack_trace)
        self.inner_exception = inner_exception
        self.status_code = status_code
        super().__init__(self._summary())

    def _summary(self) -> str:
        text = self.message or self.friendly_text
        summary = f"{self.exception_type or 'NetServer error'}: "
        summary += _short(text) if text else "the call failed and the server gave no details"
        if self.friendly_text and self.friendly_text != text:
            summary += f" ({_short(self.friendly_text)})"
        return summary


class AuthenticationError(SuperOfficeError):
    """No ticket could be had: SoPrincipal did not authenticate (``AuthenticationSucceeded``
    false or no ticket), SuperOffice refused a system-user token (``IsSuccessful`` false),
    or the JWT it returned failed validation. The message says which, and why.

    Never carries the password, the access token, the key, the JWT or the ticket.
    """

    def __init__(
        self, message: str, *, principal: object | None = None, quoting: ServerText | None = None
    ) -> None:
        self.principal = principal
        super().__init__(message, quoting=quoting)


# What to do about a tenant whose API is not available, by its state (PROTOCOL.md §11,
# docs/online.md). A state not listed gets _OTHER_STATE.
_CHECK_CONTEXT = (
    "check the context identifier (and the environment): SuperOffice knows no such tenant"
)
_TRY_LATER = "try again later"
_OWNER_MUST_ACT = "the tenant's owner must act (with SuperOffice) before its API answers again"
_OTHER_STATE = "try again later; if it lasts, ask the tenant's owner"
_ADVICE = {
    "Unknown": _CHECK_CONTEXT,
    "OfflineMaintenance": _TRY_LATER,
    "OnlineMaintenance": _TRY_LATER,
    "Provisioning": _TRY_LATER,
    "Suspended": _OWNER_MUST_ACT,
    "Deleted": _OWNER_MUST_ACT,
    "Deleting": _OWNER_MUST_ACT,
    "DeleteFailed": _OWNER_MUST_ACT,
    "ProvisioningFailed": _OWNER_MUST_ACT,
}


def tenant_advice(state: str, valid_until: datetime | None = None) -> str:
    """What to do about a tenant in ``state`` (one whose API is not available);
    ``valid_until`` is when the state API said to ask again."""
    advice = _ADVICE.get(state, _OTHER_STATE)
    if advice is _TRY_LATER and valid_until is not None:
        return f"{advice}, after {valid_until:%Y-%m-%d %H:%M:%S} UTC (the state's ValidUntil)"
    return advice


class TenantUnavailable(SuperOfficeError):
    """The Online tenant's state says its API does not answer now: nothing was sent.

    ``state`` is what the tenant state API said (``OfflineMaintenance``, ``Suspended``, …),
    ``valid_until`` when it said to ask again (None if not known). The message ends with
    what to do (:func:`tenant_advice`): check the context identifier for ``Unknown``, try
    again later for maintenance, have the tenant's owner act for a suspended or deleted
    tenant.
    """

    def __init__(
        self, context_identifier: str, state: ServerText, valid_until: datetime | None = None
    ) -> None:
        self.context_identifier = context_identifier
        self.state: str = reveal(state, limit=40)
        """The state API's word for it, as shown (masked, cut at 40 characters)."""
        self.valid_until = valid_until
        super().__init__(
            f"tenant {context_identifier} is {self.state}: its API is not available, so nothing "
            f"was sent; {tenant_advice(self.state, valid_until)}"
        )


class _BatchTaskOutcome(SuperOfficeError):
    def __init__(self, message: str, info: Any, *, quoting: ServerText | None = None) -> None:
        self.info = info
        super().__init__(message, quoting=quoting)


class BatchTaskFailed(_BatchTaskOutcome):
    """The job ended in state Failed; ``info`` is its final ``BatchTaskInfo``.

    The message quotes the job's ``Result`` (``quoting``) through the gate.
    """


class BatchTaskTimeout(_BatchTaskOutcome):
    """The job had not finished at the deadline; ``info`` is the last snapshot seen.

    The message quotes the job's state (``quoting``) through the gate: an unknown state
    is the server's text.

    The job itself goes on running on the server: stop it with ``stop_batch_job``.
    """
