"""Small builders for the SOAP replies the auth and waiting tests script, and readers for
what the client sent.

Replies start from the fixture files (documented or hand-written in WCF's style) and
change only the values a test cares about, so they stay realistic envelopes.
"""

from __future__ import annotations

import threading

import httpx
from lxml import etree

from conftest import fixture_bytes
from superoffice_batch import BatchTaskState

BASE_URL = "https://sod.superoffice.com/Cust12345"
BATCH_URL = f"{BASE_URL}/Remote/Services88/Batch.svc"
PRINCIPAL_URL = f"{BASE_URL}/Remote/Services88/SoPrincipal.svc"
TNS = "http://www.superoffice.net/ws/crm/NetServer/Services88"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
SOAP12_CONTENT_TYPE = "application/soap+xml; charset=utf-8"

_XML = etree.XMLParser(remove_blank_text=False)


def _tns(local: str) -> str:
    return f"{{{TNS}}}{local}"


def soap(content: bytes, status: int = 200) -> httpx.Response:
    """A SOAP 1.2 reply with ``content`` as its body."""
    return httpx.Response(status, content=content, headers={"Content-Type": SOAP12_CONTENT_TYPE})


def html(status: int, text: str = "Service unavailable") -> httpx.Response:
    """An HTML error page, as IIS or a gateway sends it (no SOAP envelope)."""
    body = f"<html><head><title>{status}</title></head><body>{text}</body></html>"
    return httpx.Response(status, text=body, headers={"Content-Type": "text/html"})


def fault(reason: str = "The creator of this fault did not specify a Reason.") -> httpx.Response:
    """A SOAP 1.2 Receiver fault with HTTP 500, as WCF sends an unhandled error."""
    body = (
        f'<s:Envelope xmlns:s="{SOAP12_NS}"><s:Body><s:Fault>'
        "<s:Code><s:Value>s:Receiver</s:Value></s:Code>"
        f'<s:Reason><s:Text xml:lang="en">{reason}</s:Text></s:Reason>'
        "</s:Fault></s:Body></s:Envelope>"
    ).encode()
    return soap(body, 500)


# -- Batch.svc replies -------------------------------------------------------------------

_SEED_REPLY = fixture_bytes("documented/seed-StartBatchJob-response.xml")
_SEED_RESPONSE = b'<Batch:Response xsi:type="xsd:int">0</Batch:Response>'


def started(job_id: int = 4711) -> httpx.Response:
    """The documented StartBatchJob reply, carrying ``job_id``."""
    assert _SEED_REPLY.count(_SEED_RESPONSE) == 1
    value = f'<Batch:Response xsi:type="xsd:int">{job_id}</Batch:Response>'.encode()
    return soap(_SEED_REPLY.replace(_SEED_RESPONSE, value))


def task(
    state: BatchTaskState | str = BatchTaskState.SUCCEEDED,
    percent: int = 100,
    description: str = "Finished",
    *,
    job_id: int = 4711,
    result: str = "Exported 2 041 contacts",
) -> httpx.Response:
    """A GetBatchTaskInfo reply (from the hand-written fixture) with the given progress."""
    root = etree.fromstring(fixture_bytes("replies/GetBatchTaskInfo-task.xml"), _XML)
    info = root.find(f".//{_tns('GetBatchTaskInfoResponse')}/{_tns('Response')}")
    assert info is not None
    values = {
        "Id": str(job_id),
        "State": str(state),
        "ProgressPercent": str(percent),
        "ProgressDescription": description,
        "Result": result,
    }
    for name, value in values.items():
        element = info.find(_tns(name))
        assert element is not None, name
        element.text = value
    return soap(etree.tostring(root))


def no_task() -> httpx.Response:
    """A GetBatchTaskInfo reply whose Response is nil."""
    return soap(fixture_bytes("replies/GetBatchTaskInfo-nil.xml"))


def task_list() -> httpx.Response:
    """A GetBatchTaskInfosByState reply with two tasks."""
    return soap(fixture_bytes("replies/task-list-two.xml"))


def service_error(
    message: str | None,
    exception_type: str | None = "SoException",
    *,
    inner_message: str | None = None,
    operation: str = "StartBatchJob",
) -> httpx.Response:
    """A business error: ``Succeeded`` false and an ``ExceptionInfo`` header, HTTP 200."""

    def text(name: str, value: str | None) -> str:
        return "" if value is None else f"<{name}>{value}</{name}>"

    inner = ""
    if inner_message is not None:
        inner = f"<InnerException>{text('Message', inner_message)}</InnerException>"
    body = (
        f'<s:Envelope xmlns:s="{SOAP12_NS}"><s:Header>'
        f'<ExceptionInfo xmlns="{TNS}">'
        f"{text('Message', message)}{text('ExceptionType', exception_type)}{inner}"
        f"</ExceptionInfo>"
        f'<Succeeded xmlns="{TNS}">false</Succeeded>'
        f'</s:Header><s:Body><{operation}Response xmlns="{TNS}"/></s:Body></s:Envelope>'
    ).encode()
    return soap(body)


# -- SoPrincipal.svc replies ---------------------------------------------------------------

_SUCCESS = fixture_bytes("replies/AuthenticateResponse-success.xml")
_FIXTURE_TICKET = b"7T:dGhpcyBpcyBhIHRpY2tldA=="


def authenticated(ticket: str) -> httpx.Response:
    """A successful AuthenticateResponse issuing ``ticket``."""
    assert _SUCCESS.count(_FIXTURE_TICKET) == 1
    return soap(_SUCCESS.replace(_FIXTURE_TICKET, ticket.encode()))


class TicketIssuer:
    """Where a test's tickets come from: ``7T:issued-1``, ``7T:issued-2``… in order.

    :meth:`issue` is a SoPrincipal login handler (a respx side effect) and keeps each
    login request in ``sent``; :meth:`next_ticket` is a ticket callable for ``auth=``.
    """

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []
        self.issued: list[str] = []
        self._lock = threading.Lock()

    def next_ticket(self) -> str:
        with self._lock:
            ticket = f"7T:issued-{len(self.issued) + 1}"
            self.issued.append(ticket)
        return ticket

    def issue(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return authenticated(self.next_ticket())


_REFUSED = fixture_bytes("replies/AuthenticateResponse-refused.xml")
_REFUSED_ECHO = b"jdoe / Pa55-w0rd!x"


def refused(echo: str) -> httpx.Response:
    """``AuthenticationSucceeded`` false, yet a ticket, and ``echo`` in ``ExtraInfo``."""
    assert _REFUSED.count(_REFUSED_ECHO) == 1
    return soap(_REFUSED.replace(_REFUSED_ECHO, echo.encode()))


def no_ticket() -> httpx.Response:
    """``AuthenticationSucceeded`` true, but an empty ticket."""
    return soap(fixture_bytes("replies/AuthenticateResponse-no-ticket.xml"))


def documented_login_reply() -> httpx.Response:
    """The documented AuthenticateUsernamePassword reply: empty ticket, not succeeded."""
    return soap(fixture_bytes("documented/AuthenticateUsernamePassword-response.xml"))


# -- what the client sent ------------------------------------------------------------------


def envelope(request: httpx.Request) -> etree._Element:
    return etree.fromstring(request.content)


def header_blocks(request: httpx.Request) -> dict[str, etree._Element]:
    """The SOAP header blocks of a request, by local name."""
    header = envelope(request).find(f"{{{SOAP12_NS}}}Header")
    if header is None:
        return {}
    return {etree.QName(block).localname: block for block in header}


def operation(request: httpx.Request) -> etree._Element:
    """The operation element: the first child of the Body."""
    body = envelope(request).find(f"{{{SOAP12_NS}}}Body")
    assert body is not None
    return body[0]


def operation_name(request: httpx.Request) -> str:
    return etree.QName(operation(request)).localname


def argument(request: httpx.Request, name: str) -> str | None:
    """The text of one argument element of the operation."""
    element = operation(request).find(_tns(name))
    return None if element is None else element.text


def ticket_of(request: httpx.Request) -> str | None:
    """The ``Credentials/Ticket`` a request carries, or None without a Credentials block."""
    credentials = header_blocks(request).get("Credentials")
    if credentials is None:
        return None
    return credentials.findtext(_tns("Ticket"))
