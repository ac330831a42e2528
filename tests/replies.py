"""Small builders for the SOAP replies the auth, waiting and header tests script, and
readers and checks for what the client sent.

Replies start from the fixture files (documented or hand-written in WCF's style, all SOAP
1.2) and change only the values a test cares about, so they stay realistic envelopes.
Every builder of a SOAP reply takes the version to answer in first: a SOAP 1.1 reply is
the same envelope with the SOAP 1.1 envelope and encoding namespaces, sent as
``text/xml``; a fault is written in each version's own fault format.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

import httpx
import respx
from lxml import etree

from conftest import fixture_bytes
from superoffice_batch import BatchTaskState, SoapVersion

TNS = "http://www.superoffice.net/ws/crm/NetServer/Services88"
SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
_SOAP11_ENCODING = "http://schemas.xmlsoap.org/soap/encoding/"
_SOAP12_ENCODING = "http://www.w3.org/2003/05/soap-encoding"
# Written out here rather than read from the library, so that the tests check its mapping.
ENVELOPE_NS = {SoapVersion.SOAP11: SOAP11_NS, SoapVersion.SOAP12: SOAP12_NS}
CONTENT_TYPES = {
    SoapVersion.SOAP11: "text/xml; charset=utf-8",
    SoapVersion.SOAP12: "application/soap+xml; charset=utf-8",
}

_XML = etree.XMLParser(remove_blank_text=False)


def _tns(local: str) -> str:
    return f"{{{TNS}}}{local}"


def soap_reply(version: SoapVersion, content: bytes, status: int = 200) -> httpx.Response:
    """A reply in ``version`` whose body is ``content``, a SOAP 1.2 envelope, converted."""
    assert SOAP12_NS.encode() in content, "the content is a SOAP 1.2 envelope"
    if version is SoapVersion.SOAP11:
        content = content.replace(SOAP12_NS.encode(), SOAP11_NS.encode())
        content = content.replace(_SOAP12_ENCODING.encode(), _SOAP11_ENCODING.encode())
    return httpx.Response(status, content=content, headers={"Content-Type": CONTENT_TYPES[version]})


def html(status: int, text: str = "Service unavailable") -> httpx.Response:
    """An HTML error page, as IIS or a gateway sends it (no SOAP envelope, either version)."""
    body = f"<html><head><title>{status}</title></head><body>{text}</body></html>"
    return httpx.Response(status, text=body, headers={"Content-Type": "text/html"})


FAULT_CODES = {
    SoapVersion.SOAP11: f"{{{SOAP11_NS}}}Server",
    SoapVersion.SOAP12: f"{{{SOAP12_NS}}}Receiver",
}
"""The code of a :func:`fault` in each version, as a Clark name."""


def fault(
    version: SoapVersion, reason: str = "The creator of this fault did not specify a Reason."
) -> httpx.Response:
    """A server fault with HTTP 500, as WCF sends an unhandled error in each version.

    SOAP 1.2: ``Code/Value`` ``s:Receiver`` and ``Reason/Text``; SOAP 1.1: unqualified
    ``faultcode`` ``s:Server`` and ``faultstring``.
    """
    if version is SoapVersion.SOAP11:
        parts = f'<faultcode>s:Server</faultcode><faultstring xml:lang="en">{reason}</faultstring>'
    else:
        parts = (
            "<s:Code><s:Value>s:Receiver</s:Value></s:Code>"
            f'<s:Reason><s:Text xml:lang="en">{reason}</s:Text></s:Reason>'
        )
    body = f'<s:Envelope xmlns:s="{ENVELOPE_NS[version]}"><s:Body><s:Fault>{parts}</s:Fault>'
    body += "</s:Body></s:Envelope>"
    return httpx.Response(
        500, content=body.encode(), headers={"Content-Type": CONTENT_TYPES[version]}
    )


# -- Batch.svc replies -------------------------------------------------------------------

_SEED_REPLY = fixture_bytes("documented/seed-StartBatchJob-response.xml")
_SEED_RESPONSE = b'<Batch:Response xsi:type="xsd:int">0</Batch:Response>'


def started(version: SoapVersion, job_id: int = 4711) -> httpx.Response:
    """The documented StartBatchJob reply, carrying ``job_id``."""
    assert _SEED_REPLY.count(_SEED_RESPONSE) == 1
    value = f'<Batch:Response xsi:type="xsd:int">{job_id}</Batch:Response>'.encode()
    return soap_reply(version, _SEED_REPLY.replace(_SEED_RESPONSE, value))


def task(
    version: SoapVersion,
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
    return soap_reply(version, etree.tostring(root))


def no_task(version: SoapVersion) -> httpx.Response:
    """A GetBatchTaskInfo reply whose Response is nil."""
    return soap_reply(version, fixture_bytes("replies/GetBatchTaskInfo-nil.xml"))


def task_list(version: SoapVersion) -> httpx.Response:
    """A GetBatchTaskInfosByState reply with two tasks."""
    return soap_reply(version, fixture_bytes("replies/task-list-two.xml"))


def service_error(
    version: SoapVersion,
    message: str | None,
    exception_type: str | None = "SoException",
    *,
    inner_message: str | None = None,
    inner_type: str | None = None,
    operation: str = "StartBatchJob",
) -> httpx.Response:
    """A business error: ``Succeeded`` false and an ``ExceptionInfo`` header, HTTP 200."""

    def text(name: str, value: str | None) -> str:
        return "" if value is None else f"<{name}>{value}</{name}>"

    inner = ""
    if inner_message is not None or inner_type is not None:
        inner_texts = text("Message", inner_message) + text("ExceptionType", inner_type)
        inner = f"<InnerException>{inner_texts}</InnerException>"
    body = (
        f'<s:Envelope xmlns:s="{SOAP12_NS}"><s:Header>'
        f'<ExceptionInfo xmlns="{TNS}">'
        f"{text('Message', message)}{text('ExceptionType', exception_type)}{inner}"
        f"</ExceptionInfo>"
        f'<Succeeded xmlns="{TNS}">false</Succeeded>'
        f'</s:Header><s:Body><{operation}Response xmlns="{TNS}"/></s:Body></s:Envelope>'
    ).encode()
    return soap_reply(version, body)


# -- SoPrincipal.svc replies ---------------------------------------------------------------

_SUCCESS = fixture_bytes("replies/AuthenticateResponse-success.xml")
_FIXTURE_TICKET = b"7T:dGhpcyBpcyBhIHRpY2tldA=="


def authenticated(version: SoapVersion, ticket: str) -> httpx.Response:
    """A successful AuthenticateResponse issuing ``ticket``."""
    assert _SUCCESS.count(_FIXTURE_TICKET) == 1
    return soap_reply(version, _SUCCESS.replace(_FIXTURE_TICKET, ticket.encode()))


class TicketIssuer:
    """Where a test's tickets come from: ``7T:issued-1``, ``7T:issued-2``… in order.

    :meth:`issue` is a SoPrincipal login handler (a respx side effect) answering in
    ``version`` and keeps each login request in ``sent``; :meth:`next_ticket` is a ticket
    callable for ``auth=``.
    """

    def __init__(self, version: SoapVersion) -> None:
        self.version = version
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
        return authenticated(self.version, self.next_ticket())


_REFUSED = fixture_bytes("replies/AuthenticateResponse-refused.xml")
_REFUSED_ECHO = b"jdoe / Pa55-w0rd!x"


def refused(version: SoapVersion, echo: str) -> httpx.Response:
    """``AuthenticationSucceeded`` false, yet a ticket, and ``echo`` in ``ExtraInfo``."""
    assert _REFUSED.count(_REFUSED_ECHO) == 1
    return soap_reply(version, _REFUSED.replace(_REFUSED_ECHO, echo.encode()))


def no_ticket(version: SoapVersion) -> httpx.Response:
    """``AuthenticationSucceeded`` true, but an empty ticket."""
    return soap_reply(version, fixture_bytes("replies/AuthenticateResponse-no-ticket.xml"))


def documented_login_reply(version: SoapVersion) -> httpx.Response:
    """The documented AuthenticateUsernamePassword reply: empty ticket, not succeeded."""
    content = fixture_bytes("documented/AuthenticateUsernamePassword-response.xml")
    return soap_reply(version, content)


# -- what the client sent ------------------------------------------------------------------


def envelope(request: httpx.Request) -> etree._Element:
    """The request's Envelope, in either SOAP version (:func:`assert_sent_in` checks which)."""
    root = etree.fromstring(request.content)
    assert etree.QName(root).namespace in ENVELOPE_NS.values(), root.tag
    return root


def _part(request: httpx.Request, name: str) -> etree._Element | None:
    root = envelope(request)
    return root.find(f"{{{etree.QName(root).namespace}}}{name}")


def header_blocks(request: httpx.Request) -> dict[str, etree._Element]:
    """The SOAP header blocks of a request, by local name."""
    header = _part(request, "Header")
    if header is None:
        return {}
    return {etree.QName(block).localname: block for block in header}


def operation(request: httpx.Request) -> etree._Element:
    """The operation element: the first child of the Body."""
    body = _part(request, "Body")
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


def action_of(request: httpx.Request) -> str | None:
    """The SOAP action a request names: SOAP 1.1's SOAPAction, or SOAP 1.2's Content-Type
    ``action`` parameter; None if it names none."""
    if "soapaction" in request.headers:
        return request.headers["soapaction"].strip('"')
    found = re.search(r'; action="([^"]*)"', request.headers.get("content-type", ""))
    return None if found is None else found.group(1)


def assert_sent_in(
    version: SoapVersion, *sent: Iterable[respx.models.Call | httpx.Request]
) -> None:
    """Every request in ``sent`` (respx calls or requests; at least one) went out in
    ``version``.

    The Envelope is in the version's namespace; SOAP 1.2 carries the action in the
    ``application/soap+xml`` Content-Type and sends no SOAPAction header; SOAP 1.1 sends
    ``text/xml`` and the action, quoted, in SOAPAction.
    """
    requests = [
        item.request if isinstance(item, respx.models.Call) else item
        for group in sent
        for item in group
    ]
    assert requests, "the client sent nothing"
    for request in requests:
        assert envelope(request).tag == f"{{{ENVELOPE_NS[version]}}}Envelope"
        service = request.url.path.rsplit("/", 1)[-1].removesuffix(".svc")
        action = f"{TNS}/{service}/{operation_name(request)}"
        assert action_of(request) == action
        content_type = request.headers["content-type"]
        if version is SoapVersion.SOAP12:
            assert content_type == f'{CONTENT_TYPES[version]}; action="{action}"'
            assert "soapaction" not in request.headers
        else:
            assert content_type == CONTENT_TYPES[version]
            assert request.headers["soapaction"] == f'"{action}"'
