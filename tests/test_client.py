"""The clients over HTTP: request shape, error mapping, SOAP negotiation, re-send safety,
options, secrets, logging, and a few round trips over real loopback sockets.

Every test that takes the ``flavor`` fixture runs twice: once for ``BatchClient`` and once
for ``AsyncBatchClient`` (see ``flavors.py``). Only the issue's literal examples name a
client class directly.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx
from lxml import etree

from conftest import fixture_bytes
from flavors import SyncFlavor, share_default_tls_contexts
from loopback import Answer, LoopbackServer, Seen
from superoffice_batch import (
    AccessToken,
    AsyncBatchClient,
    BatchClient,
    BatchTaskInfo,
    HttpError,
    ProtocolError,
    ServiceError,
    SoapFault,
    SoapVersion,
    SuperOfficeError,
    TransportError,
    UsernamePassword,
)
from superoffice_batch.client import DEFAULT_TIMEOUT
from superoffice_batch.operations import GetSystemInfo

BASE_URL = "https://sod2.superoffice.com/Cust12345"
BATCH_URL = "https://sod2.superoffice.com/Cust12345/Remote/Services88/Batch.svc"
PRINCIPAL_URL = "https://sod2.superoffice.com/Cust12345/Remote/Services88/SoPrincipal.svc"
ACTION = "http://www.superoffice.net/ws/crm/NetServer/Services88/Batch/StartBatchJob"
TNS = "http://www.superoffice.net/ws/crm/NetServer/Services88"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENC = "http://www.w3.org/2003/05/soap-encoding"
SOAP11_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
WCF_DISPATCHER = (
    "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"
)

TICKET = "7T:dGlja2V0LXNlY3JldC0xMjM0NQ=="
# Not shaped like a ticket: only the client's knowledge of its secrets can mask them.
TOKEN = "app-secret-d41d8cd98f00"
URL_PASSWORD = "hunter2-url-pass"
PASSWORD = "correct-horse-battery-42"
ACCESS_TOKEN = "oauth-access-d00dfeed"
ISSUED_TICKET = "opaque-session-5f3c9a"

SOAP12_CONTENT_TYPE = f'application/soap+xml; charset=utf-8; action="{ACTION}"'
SOAP11_CONTENT_TYPE = "text/xml; charset=utf-8"

TASK = BatchTaskInfo(name="ExportTask")


# -- replies ---------------------------------------------------------------------------

_SEED_REPLY = fixture_bytes("documented/seed-StartBatchJob-response.xml")
_SEED_RESPONSE = b'<Batch:Response xsi:type="xsd:int">0</Batch:Response>'


def documented_reply(job_id: int) -> bytes:
    """The documented StartBatchJob reply (a SOAP 1.2 envelope) carrying ``job_id``."""
    assert _SEED_REPLY.count(_SEED_RESPONSE) == 1
    value = f'<Batch:Response xsi:type="xsd:int">{job_id}</Batch:Response>'.encode()
    return _SEED_REPLY.replace(_SEED_RESPONSE, value)


def soap11_reply(job_id: int) -> bytes:
    """The documented reply as a SOAP 1.1 endpoint would send it."""
    reply = documented_reply(job_id)
    return reply.replace(SOAP12_NS.encode(), SOAP11_NS.encode()).replace(
        SOAP12_ENC.encode(), SOAP11_ENC.encode()
    )


def ok(job_id: int = 4711) -> httpx.Response:
    return httpx.Response(
        200,
        content=documented_reply(job_id),
        headers={"Content-Type": "application/soap+xml; charset=utf-8"},
    )


def ok11(job_id: int = 4711) -> httpx.Response:
    return httpx.Response(
        200, content=soap11_reply(job_id), headers={"Content-Type": SOAP11_CONTENT_TYPE}
    )


def html(status: int, text: str = "Service unavailable") -> httpx.Response:
    body = f"<html><head><title>{status}</title></head><body>{text}</body></html>"
    return httpx.Response(status, text=body, headers={"Content-Type": "text/html"})


def fault12_body(code: str, reason: str = "refused", subcode: str | None = None) -> bytes:
    sub = f"<env:Subcode><env:Value>{subcode}</env:Value></env:Subcode>" if subcode else ""
    return (
        f'<env:Envelope xmlns:env="{SOAP12_NS}" xmlns:a="{WCF_DISPATCHER}"><env:Body>'
        f"<env:Fault><env:Code><env:Value>{code}</env:Value>{sub}</env:Code>"
        f'<env:Reason><env:Text xml:lang="en">{reason}</env:Text></env:Reason>'
        f"</env:Fault></env:Body></env:Envelope>"
    ).encode()


def fault11_body(code: str, reason: str = "refused") -> bytes:
    return (
        f'<s:Envelope xmlns:s="{SOAP11_NS}"><s:Body><s:Fault>'
        f"<faultcode>{code}</faultcode><faultstring>{reason}</faultstring>"
        f"</s:Fault></s:Body></s:Envelope>"
    ).encode()


def fault12(status: int, code: str, reason: str = "refused") -> httpx.Response:
    return httpx.Response(
        status,
        content=fault12_body(code, reason),
        headers={"Content-Type": "application/soap+xml; charset=utf-8"},
    )


def version_mismatch12() -> httpx.Response:
    return fault12(500, "env:VersionMismatch", "SOAP 1.2 is not supported")


def version_mismatch11() -> httpx.Response:
    return httpx.Response(
        500,
        content=fault11_body("s:VersionMismatch", "Wrong envelope version"),
        headers={"Content-Type": SOAP11_CONTENT_TYPE},
    )


def sender_fault() -> httpx.Response:
    return fault12(400, "env:Sender", "The message could not be deserialized")


def receiver_fault() -> httpx.Response:
    return fault12(500, "env:Receiver", "Internal service fault")


def service_error_body(message: str, exception_type: str = "SoException") -> bytes:
    return (
        f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP12_NS}" xmlns:Batch="{TNS}">'
        "<SOAP-ENV:Header><Batch:ExceptionInfo>"
        f"<Batch:Message>{message}</Batch:Message>"
        f"<Batch:FriendlyText>{message}</Batch:FriendlyText>"
        f"<Batch:ExceptionType>{exception_type}</Batch:ExceptionType>"
        "</Batch:ExceptionInfo><Batch:Succeeded>false</Batch:Succeeded></SOAP-ENV:Header>"
        "<SOAP-ENV:Body><Batch:StartBatchJobResponse/></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    ).encode()


def service_error(message: str = "Task definition ExportTask not found") -> httpx.Response:
    return httpx.Response(
        200,
        content=service_error_body(message),
        headers={"Content-Type": "application/soap+xml; charset=utf-8"},
    )


def garbage() -> httpx.Response:
    return httpx.Response(200, text="this is not xml <<<", headers={"Content-Type": "text/plain"})


def fixture_reply(name: str, status: int = 200) -> httpx.Response:
    """A reply from fixtures/replies/ (SOAP 1.2 envelopes)."""
    return httpx.Response(
        status,
        content=fixture_bytes(f"replies/{name}"),
        headers={"Content-Type": "application/soap+xml; charset=utf-8"},
    )


_AUTHENTICATED = fixture_bytes("replies/AuthenticateResponse-success.xml")
_AUTHENTICATED_TICKET = b"7T:dGhpcyBpcyBhIHRpY2tldA=="
_AUTHENTICATED_NAME = b"<FullName>Jane Doe</FullName>"


def authenticated(ticket: str, full_name: str = "Jane Doe") -> httpx.Response:
    """A successful AuthenticateResponse issuing ``ticket`` to a user called ``full_name``."""
    assert _AUTHENTICATED.count(_AUTHENTICATED_TICKET) == 1
    assert _AUTHENTICATED.count(_AUTHENTICATED_NAME) == 1
    content = _AUTHENTICATED.replace(_AUTHENTICATED_TICKET, ticket.encode()).replace(
        _AUTHENTICATED_NAME, f"<FullName>{full_name}</FullName>".encode()
    )
    return httpx.Response(
        200, content=content, headers={"Content-Type": "application/soap+xml; charset=utf-8"}
    )


# -- what was sent -----------------------------------------------------------------------


def envelope_of(request: httpx.Request) -> etree._Element:
    return etree.fromstring(request.content)


def payload_of(request: httpx.Request) -> bytes:
    """The operation element, canonicalized without the envelope's namespace context."""
    body = next(child for child in envelope_of(request) if etree.QName(child).localname == "Body")
    return etree.tostring(body[0], method="c14n", exclusive=True)


def assert_sent_as_soap12(request: httpx.Request) -> None:
    assert request.method == "POST"
    assert request.headers["content-type"] == SOAP12_CONTENT_TYPE
    assert "soapaction" not in request.headers
    assert envelope_of(request).tag == f"{{{SOAP12_NS}}}Envelope"


def assert_sent_as_soap11(request: httpx.Request, action: str = ACTION) -> None:
    assert request.method == "POST"
    assert request.headers["content-type"] == SOAP11_CONTENT_TYPE
    assert request.headers["soapaction"] == f'"{action}"'
    assert envelope_of(request).tag == f"{{{SOAP11_NS}}}Envelope"


def exposed_text(error: BaseException) -> str:
    """Everything an exception shows: its message, repr and attributes."""
    return "\n".join([str(error), repr(error), repr(vars(error))])


# -- flavors: how a test drives a client -----------------------------------------------------


@pytest.fixture(autouse=True)
def _shared_tls_contexts(monkeypatch: pytest.MonkeyPatch) -> None:
    # No test here makes a TLS connection; sharing one context keeps the file fast.
    share_default_tls_contexts(monkeypatch)


@pytest.fixture
def client_defaults() -> dict[str, Any]:
    """This file's clients carry a fixed ticket and the app token unless a test says not."""
    return {"ticket": TICKET, "application_token": TOKEN}


@pytest.fixture
def client_factory(make: Callable[..., Any]) -> Callable[..., Any]:
    """``client_factory(base_url=BASE_URL, **options)``: conftest's ``make`` with this
    file's ticket and token; every client is closed afterwards."""
    return make


# ``router`` (a respx router, every other URL an error) comes from conftest.py.


@pytest.fixture
def route(router: respx.MockRouter) -> respx.Route:
    return router.post(BATCH_URL)


# -- 1. the request ----------------------------------------------------------------------------


# The issue's examples, as a user writes them: one per client, so not through ``flavor``.


def test_issue_example_runs_as_written(router: respx.MockRouter) -> None:
    route = router.post(BATCH_URL).mock(return_value=ok(4711))

    with BatchClient(
        "https://sod2.superoffice.com/Cust12345", ticket="7T:...", application_token="secret"
    ) as client:
        job_id = client.start_batch_job(BatchTaskInfo(name="ExportTask"))

    assert_issue_example_result(route, job_id)


def test_async_issue_example_runs_as_written(router: respx.MockRouter) -> None:
    route = router.post(BATCH_URL).mock(return_value=ok(4711))

    async def main() -> None:
        async with AsyncBatchClient(
            "https://sod2.superoffice.com/Cust12345", ticket="7T:...", application_token="secret"
        ) as client:
            job_id = await client.start_batch_job(BatchTaskInfo(name="ExportTask"))

        assert_issue_example_result(route, job_id)

    asyncio.run(main())


def assert_issue_example_result(route: respx.Route, job_id: object) -> None:
    assert job_id == 4711
    assert type(job_id) is int
    assert route.call_count == 1
    sent = route.calls.last.request
    assert str(sent.url) == BATCH_URL
    assert_sent_as_soap12(sent)
    header = envelope_of(sent).find(f"{{{SOAP12_NS}}}Header")
    assert header is not None
    assert header.findtext(f"{{{TNS}}}Credentials/{{{TNS}}}Ticket") == "7T:..."
    assert header.findtext(f"{{{TNS}}}ApplicationToken") == "secret"


@pytest.mark.parametrize(
    ("base_url", "service_url"),
    [
        ("https://sod2.superoffice.com/Cust12345", BATCH_URL),
        ("https://sod2.superoffice.com/Cust12345/", BATCH_URL),
        ("https://online.superoffice.com/Cust98765", "https://online.superoffice.com/Cust98765/Remote/Services88/Batch.svc"),
        ("http://crm.example.local/SuperOffice", "http://crm.example.local/SuperOffice/Remote/Services88/Batch.svc"),
        ("http://crm.example.local/SuperOffice/", "http://crm.example.local/SuperOffice/Remote/Services88/Batch.svc"),
        ("https://crm.example.com:8443/so/site", "https://crm.example.com:8443/so/site/Remote/Services88/Batch.svc"),
        ("https://crm.example.com", "https://crm.example.com/Remote/Services88/Batch.svc"),
    ],
)  # fmt: skip
def test_request_goes_to_batch_svc_below_base_url(
    router: respx.MockRouter,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    base_url: str,
    service_url: str,
) -> None:
    route = router.post(service_url).mock(return_value=ok(5))

    assert flavor.start(client_factory(base_url)) == 5

    assert route.call_count == 1
    assert str(route.calls.last.request.url) == service_url


def test_request_carries_ticket_and_token_in_soap_header(
    route: respx.Route, client_factory: Callable[..., Any], flavor: SyncFlavor
) -> None:
    route.mock(return_value=ok())

    flavor.start(client_factory(ticket=TICKET, application_token=TOKEN))

    envelope = envelope_of(route.calls.last.request)
    header = envelope.find(f"{{{SOAP12_NS}}}Header")
    assert header is not None
    assert header.findtext(f"{{{TNS}}}Credentials/{{{TNS}}}Ticket") == TICKET
    assert header.findtext(f"{{{TNS}}}ApplicationToken") == TOKEN
    # Header blocks belong in the Header, not directly under the Envelope as documented.
    assert [etree.QName(child).localname for child in envelope] == ["Header", "Body"]


def test_request_body_is_the_task(
    route: respx.Route, client_factory: Callable[..., Any], flavor: SyncFlavor
) -> None:
    route.mock(return_value=ok())

    flavor.start(client_factory(), BatchTaskInfo(name="NightlyExport", description="d"))

    operation = envelope_of(route.calls.last.request).find(
        f"{{{SOAP12_NS}}}Body/{{{TNS}}}StartBatchJob/{{{TNS}}}BatchTaskInfo"
    )
    assert operation is not None
    assert operation.findtext(f"{{{TNS}}}Name") == "NightlyExport"
    assert operation.findtext(f"{{{TNS}}}Description") == "d"


def test_a_call_without_credentials_is_refused_before_sending_naming_ticket_and_auth(
    route: respx.Route, client_factory: Callable[..., Any], flavor: SyncFlavor
) -> None:
    # Issue 18, friction 1: NetServer's "Failed to validate tokens" said nothing of this.
    route.mock(return_value=ok())

    with pytest.raises(ValueError, match=r"StartBatchJob needs a ticket.*ticket=.*auth=") as caught:
        flavor.start(client_factory(ticket=None, application_token=None))

    assert "Ticket" not in type(caught.value).__name__
    assert not route.called


# -- 2. outcomes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "error_type", "attributes"),
    [
        pytest.param(
            lambda: service_error("Task definition ExportTask not found"),
            ServiceError,
            {"message": "Task definition ExportTask not found", "exception_type": "SoException"},
            id="service-error",
        ),
        pytest.param(
            sender_fault,
            SoapFault,
            {"code": f"{{{SOAP12_NS}}}Sender", "status_code": 400},
            id="sender-fault",
        ),
        pytest.param(
            receiver_fault,
            SoapFault,
            {"code": f"{{{SOAP12_NS}}}Receiver", "status_code": 500},
            id="receiver-fault",
        ),
        pytest.param(
            lambda: html(502, "Bad Gateway"), HttpError, {"status_code": 502}, id="html-502"
        ),
        pytest.param(
            lambda: html(401, "Unauthorized"), HttpError, {"status_code": 401}, id="html-401"
        ),
        pytest.param(garbage, ProtocolError, {"status_code": 200}, id="garbage-200"),
        pytest.param(
            lambda: httpx.Response(200, content=b""),
            ProtocolError,
            {"status_code": 200},
            id="empty-200",
        ),
    ],
)
def test_reply_outcome_raises_matching_error(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    reply: Callable[[], httpx.Response],
    error_type: type[SuperOfficeError],
    attributes: dict[str, object],
) -> None:
    route.mock(side_effect=[reply()])

    with pytest.raises(error_type) as caught:
        flavor.start(client_factory())

    for name, value in attributes.items():
        assert getattr(caught.value, name) == value


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(lambda: html(502, "Bad Gateway"), id="html-502"),
        pytest.param(sender_fault, id="sender-fault"),
        pytest.param(garbage, id="garbage-200"),
        pytest.param(
            lambda: httpx.Response(
                200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(b"not gzip")
            ),
            id="undecodable",
        ),
    ],
)
def test_reply_error_names_the_url_called_once(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    reply: Callable[[], httpx.Response],
) -> None:
    route.mock(side_effect=[reply()])

    with pytest.raises((HttpError, SoapFault, ProtocolError)) as caught:
        flavor.start(client_factory())

    assert caught.value.url == BATCH_URL
    assert str(caught.value).count(BATCH_URL) == 1
    assert caught.value.hint is None


def test_login_error_names_the_soprincipal_url(
    router: respx.MockRouter, client_factory: Callable[..., Any], flavor: SyncFlavor
) -> None:
    router.post(PRINCIPAL_URL).mock(return_value=html(503))

    client = client_factory(ticket=None, auth=UsernamePassword("jdoe", "pw"), read_retries=0)
    with pytest.raises(HttpError) as caught:
        flavor.start(client)

    assert caught.value.url == PRINCIPAL_URL
    assert f"(POST {PRINCIPAL_URL})" in str(caught.value)


@pytest.mark.parametrize("soap_version", [None, SoapVersion.SOAP11, SoapVersion.SOAP12])
def test_404_says_base_url_must_be_the_installation_root(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    soap_version: SoapVersion | None,
) -> None:
    route.mock(side_effect=[html(404, "File or directory not found.")])

    with pytest.raises(HttpError) as caught:
        flavor.start(client_factory(soap_version=soap_version))

    message = str(caught.value)
    assert f"(POST {BATCH_URL}); base_url must be the installation root" in message
    assert caught.value.status_code == 404


def test_undecodable_reply_is_protocol_error_not_resent(
    route: respx.Route, client_factory: Callable[..., Any], flavor: SyncFlavor
) -> None:
    # httpx fails to decode the body; that must still be one of the library's errors.
    route.mock(
        side_effect=[
            httpx.Response(
                200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(b"not gzip")
            ),
            ok(),
        ]
    )

    with pytest.raises(ProtocolError):
        flavor.start(client_factory())

    assert route.call_count == 1


@pytest.mark.parametrize(
    ("failure", "request_sent"),
    [
        (httpx.ReadTimeout, True),
        (httpx.WriteTimeout, True),
        (httpx.RemoteProtocolError, True),
        (httpx.ReadError, True),
        (httpx.ConnectError, False),
        (httpx.ConnectTimeout, False),
    ],
)
def test_transport_failure_raises_transport_error_caused_by_httpx(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    failure: type[httpx.TransportError],
    request_sent: bool,
) -> None:
    route.mock(side_effect=[failure("went wrong")])

    with pytest.raises(TransportError) as caught:
        flavor.start(client_factory(connect_retries=0))

    assert isinstance(caught.value.__cause__, failure)
    assert caught.value.request_sent is request_sent


# -- 3. SOAP version negotiation ---------------------------------------------------------------

REFUSALS = [
    pytest.param(lambda: httpx.Response(415), id="415-empty"),
    pytest.param(lambda: html(415, "Unsupported Media Type"), id="415-html"),
    pytest.param(version_mismatch12, id="soap12-version-mismatch"),
    pytest.param(version_mismatch11, id="soap11-version-mismatch"),
]


def test_client_negotiates_by_default(client_factory: Callable[..., Any]) -> None:
    assert client_factory().soap_version is None


def test_first_request_is_soap12_and_success_settles_soap12(
    route: respx.Route, client_factory: Callable[..., Any], flavor: SyncFlavor
) -> None:
    route.mock(side_effect=[ok(1)])
    client = client_factory()

    assert flavor.start(client) == 1

    assert route.call_count == 1
    assert_sent_as_soap12(route.calls.last.request)
    assert client.soap_version is SoapVersion.SOAP12


@pytest.mark.parametrize("refusal", REFUSALS)
def test_refused_soap12_is_resent_once_as_soap11(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    refusal: Callable[[], httpx.Response],
) -> None:
    route.mock(side_effect=[refusal(), ok11(31)])

    assert flavor.start(client_factory()) == 31

    assert route.call_count == 2
    first, second = (call.request for call in route.calls)
    assert_sent_as_soap12(first)
    assert_sent_as_soap11(second)
    assert str(second.url) == BATCH_URL
    assert payload_of(second) == payload_of(first)
    header = envelope_of(second).find(f"{{{SOAP11_NS}}}Header")
    assert header is not None
    assert header.findtext(f"{{{TNS}}}Credentials/{{{TNS}}}Ticket") == TICKET


@pytest.mark.parametrize("refusal", REFUSALS)
def test_after_fallback_the_client_keeps_soap11(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    refusal: Callable[[], httpx.Response],
) -> None:
    route.mock(side_effect=[refusal(), ok11(1), ok11(2)])
    client = client_factory()
    flavor.start(client)

    assert client.soap_version is SoapVersion.SOAP11
    assert flavor.start(client) == 2
    assert route.call_count == 3
    assert_sent_as_soap11(route.calls[2].request)


def test_fallback_is_kept_when_the_soap11_call_reports_a_service_error(
    route: respx.Route, client_factory: Callable[..., Any], flavor: SyncFlavor
) -> None:
    # A business error proves the SOAP 1.1 envelope was dispatched: 1.1 is what works.
    route.mock(side_effect=[httpx.Response(415), service_error(), ok11(2)])
    client = client_factory()
    with pytest.raises(ServiceError):
        flavor.start(client)

    assert flavor.start(client) == 2
    assert route.call_count == 3
    assert_sent_as_soap11(route.calls[2].request)


def test_soap11_resend_refused_too_is_http_error_after_two_requests(
    route: respx.Route, client_factory: Callable[..., Any], flavor: SyncFlavor
) -> None:
    route.mock(side_effect=[httpx.Response(415), httpx.Response(415), ok11()])

    with pytest.raises(HttpError) as caught:
        flavor.start(client_factory())

    assert caught.value.status_code == 415
    assert route.call_count == 2
    assert_sent_as_soap11(route.calls[1].request)


def test_negotiated_soap11_is_kept_for_other_operations_and_services(
    router: respx.MockRouter, client_factory: Callable[..., Any], flavor: SyncFlavor
) -> None:
    batch = router.post(BATCH_URL).mock(
        side_effect=[httpx.Response(415), ok11(1), fixture_reply("StopBatchJob-true.xml")]
    )
    principal = router.post(PRINCIPAL_URL).mock(side_effect=[fixture_reply("GetSystemInfo.xml")])
    client = client_factory()

    assert flavor.start(client) == 1
    assert flavor.run(client.stop_batch_job(5)) is True
    assert flavor.run(client.call(GetSystemInfo())) is not None

    assert batch.call_count == 3
    assert_sent_as_soap11(batch.calls[2].request, f"{TNS}/Batch/StopBatchJob")
    assert principal.call_count == 1
    assert_sent_as_soap11(principal.calls[0].request, f"{TNS}/SoPrincipal/GetSystemInfo")
    assert client.soap_version is SoapVersion.SOAP11


@pytest.mark.parametrize("refusal", REFUSALS)
def test_after_soap12_success_a_refusal_is_an_error_not_renegotiated(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    refusal: Callable[[], httpx.Response],
) -> None:
    route.mock(side_effect=[ok(1), refusal(), ok11(3)])
    client = client_factory()
    flavor.start(client)

    with pytest.raises((HttpError, SoapFault)):
        flavor.start(client)

    assert route.call_count == 2
    assert client.soap_version is SoapVersion.SOAP12


@pytest.mark.parametrize("pinned", [SoapVersion.SOAP11, SoapVersion.SOAP12])
@pytest.mark.parametrize(
    ("refusal", "error_type"),
    [
        pytest.param(lambda: httpx.Response(415), HttpError, id="415"),
        pytest.param(version_mismatch12, SoapFault, id="soap12-version-mismatch"),
        pytest.param(version_mismatch11, SoapFault, id="soap11-version-mismatch"),
    ],
)
def test_pinned_version_never_negotiates(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    pinned: SoapVersion,
    refusal: Callable[[], httpx.Response],
    error_type: type[SuperOfficeError],
) -> None:
    route.mock(side_effect=[refusal(), ok(), ok11()])
    client = client_factory(soap_version=pinned)

    with pytest.raises(error_type):
        flavor.start(client)

    assert route.call_count == 1
    assert client.soap_version is pinned


@pytest.mark.parametrize(
    ("pinned", "suggested"),
    [(SoapVersion.SOAP12, "SoapVersion.SOAP11"), (SoapVersion.SOAP11, "SoapVersion.SOAP12")],
)
@pytest.mark.parametrize("refusal", REFUSALS)
def test_refusal_of_a_pinned_version_suggests_the_other(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    pinned: SoapVersion,
    suggested: str,
    refusal: Callable[[], httpx.Response],
) -> None:
    route.mock(side_effect=[refusal()])

    with pytest.raises((HttpError, SoapFault)) as caught:
        flavor.start(client_factory(soap_version=pinned))

    assert (
        caught.value.hint
        == f"the endpoint refused SOAP {pinned.value}: try soap_version={suggested}"
    )
    assert str(caught.value).endswith(caught.value.hint)


def test_refusal_of_both_versions_while_negotiating_suggests_no_version(
    route: respx.Route, client_factory: Callable[..., Any], flavor: SyncFlavor
) -> None:
    route.mock(side_effect=[httpx.Response(415), httpx.Response(415)])

    with pytest.raises(HttpError) as caught:
        flavor.start(client_factory())

    assert caught.value.hint is None
    assert str(caught.value) == f"HTTP 415 with an empty body (POST {BATCH_URL})"


@pytest.mark.parametrize(
    ("pinned", "check_sent"),
    [(SoapVersion.SOAP11, assert_sent_as_soap11), (SoapVersion.SOAP12, assert_sent_as_soap12)],
)
def test_pinned_version_is_used_from_the_first_request(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    pinned: SoapVersion,
    check_sent: Callable[[httpx.Request], None],
) -> None:
    route.mock(side_effect=[ok11(8) if pinned is SoapVersion.SOAP11 else ok(8)])
    client = client_factory(soap_version=pinned)
    assert client.soap_version is pinned

    assert flavor.start(client) == 8

    assert route.call_count == 1
    check_sent(route.calls.last.request)


@pytest.mark.parametrize(
    ("reply", "error_type"),
    [
        pytest.param(lambda: html(500, "Internal Server Error"), HttpError, id="html-500"),
        pytest.param(lambda: html(404, "Not Found"), HttpError, id="html-404"),
        pytest.param(sender_fault, SoapFault, id="sender-fault"),
        pytest.param(receiver_fault, SoapFault, id="receiver-fault"),
        pytest.param(service_error, ServiceError, id="service-error"),
        pytest.param(garbage, ProtocolError, id="garbage-200"),
    ],
)
def test_other_errors_while_negotiating_are_raised_without_resend(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    reply: Callable[[], httpx.Response],
    error_type: type[SuperOfficeError],
) -> None:
    route.mock(side_effect=[reply(), ok11()])

    with pytest.raises(error_type):
        flavor.start(client_factory())

    assert route.call_count == 1


# -- 4. re-send safety ------------------------------------------------------------------------


@pytest.mark.parametrize("failure", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
@pytest.mark.parametrize("failures", [1, 2])
def test_connect_failure_is_resent_then_succeeds(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    sleeps: list[float],
    failure: type[httpx.TransportError],
    failures: int,
) -> None:
    route.mock(side_effect=[failure("refused") for _ in range(failures)] + [ok(77)])

    assert flavor.start(client_factory()) == 77

    assert route.call_count == failures + 1
    assert len(sleeps) == failures
    first_body = route.calls[0].request.content
    assert all(call.request.content == first_body for call in route.calls)


def test_connect_backoff_delays_grow(
    route: respx.Route, client_factory: Callable[..., Any], flavor: SyncFlavor, sleeps: list[float]
) -> None:
    route.mock(side_effect=[httpx.ConnectError("refused") for _ in range(3)] + [ok(1)])

    assert flavor.start(client_factory(connect_retries=3)) == 1

    assert len(sleeps) == 3
    assert sleeps[0] > 0
    assert all(earlier < later for earlier, later in itertools.pairwise(sleeps))


@pytest.mark.parametrize("retries", [0, 1, 2, 3])
def test_more_connect_failures_than_retries_raise_unsent_transport_error(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    sleeps: list[float],
    retries: int,
) -> None:
    route.mock(side_effect=[httpx.ConnectError("refused") for _ in range(retries + 1)] + [ok()])

    with pytest.raises(TransportError) as caught:
        flavor.start(client_factory(connect_retries=retries))

    assert caught.value.request_sent is False
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert route.call_count == retries + 1
    assert len(sleeps) == retries


def test_default_connect_retries_is_two(
    route: respx.Route, client_factory: Callable[..., Any], flavor: SyncFlavor, sleeps: list[float]
) -> None:
    route.mock(side_effect=[httpx.ConnectError("refused") for _ in range(3)] + [ok()])

    with pytest.raises(TransportError):
        flavor.start(client_factory())

    assert route.call_count == 3


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout,
        httpx.WriteTimeout,
        httpx.RemoteProtocolError,
        httpx.ReadError,
        httpx.WriteError,
    ],
)
def test_failure_after_sending_is_never_resent(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    sleeps: list[float],
    failure: type[httpx.TransportError],
) -> None:
    route.mock(side_effect=[failure("lost"), ok(), ok()])

    with pytest.raises(TransportError) as caught:
        flavor.start(client_factory(connect_retries=5))

    assert caught.value.request_sent is True
    assert route.call_count == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(lambda: html(500, "Internal Server Error"), id="html-500"),
        pytest.param(lambda: html(502, "Bad Gateway"), id="html-502"),
        pytest.param(lambda: html(503, "Service Unavailable"), id="html-503"),
        pytest.param(lambda: html(504, "Gateway Timeout"), id="html-504"),
        pytest.param(receiver_fault, id="receiver-fault"),
        pytest.param(sender_fault, id="sender-fault"),
        pytest.param(service_error, id="service-error"),
    ],
)
@pytest.mark.parametrize("soap_version", [None, SoapVersion.SOAP12, SoapVersion.SOAP11])
def test_error_reply_is_never_resent(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    sleeps: list[float],
    reply: Callable[[], httpx.Response],
    soap_version: SoapVersion | None,
) -> None:
    route.mock(side_effect=[reply(), ok(), ok11()])

    with pytest.raises(SuperOfficeError):
        flavor.start(client_factory(soap_version=soap_version, connect_retries=5))

    assert route.call_count == 1
    assert sleeps == []


def test_connect_retry_then_negotiation_fallback(
    route: respx.Route, client_factory: Callable[..., Any], flavor: SyncFlavor, sleeps: list[float]
) -> None:
    route.mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(415), ok11(12)])

    assert flavor.start(client_factory()) == 12

    assert route.call_count == 3
    assert_sent_as_soap12(route.calls[0].request)
    assert_sent_as_soap12(route.calls[1].request)
    assert_sent_as_soap11(route.calls[2].request)


# -- 5. options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "timeout",
    [
        None,
        0,
        0.0,
        -1,
        float("inf"),
        float("nan"),
        httpx.Timeout(None),
        httpx.Timeout(5.0, read=None),
        httpx.Timeout(5.0, connect=0),
        "5",
        True,
    ],
)
def test_invalid_timeout_is_rejected_before_any_request(
    route: respx.Route, flavor: SyncFlavor, timeout: object
) -> None:
    route.mock(return_value=ok())

    with pytest.raises((TypeError, ValueError), match="timeout"):
        flavor.make(BASE_URL, timeout=timeout)

    assert not route.called


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, dict.fromkeys(("connect", "read", "write", "pool"), DEFAULT_TIMEOUT)),
        ({"timeout": 5}, dict.fromkeys(("connect", "read", "write", "pool"), 5.0)),
        ({"timeout": 0.25}, dict.fromkeys(("connect", "read", "write", "pool"), 0.25)),
        (
            {"timeout": httpx.Timeout(2.0, read=7.0)},
            {"connect": 2.0, "read": 7.0, "write": 2.0, "pool": 2.0},
        ),
    ],
)
def test_timeout_reaches_httpx(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    options: dict[str, Any],
    expected: dict[str, float],
) -> None:
    route.mock(return_value=ok())

    flavor.start(client_factory(**options))

    assert route.calls.last.request.extensions["timeout"] == expected


def test_timeout_applies_to_an_injected_client_too(
    route: respx.Route,
    client_factory: Callable[..., Any],
    http_client_factory: Callable[..., Any],
    flavor: SyncFlavor,
) -> None:
    route.mock(return_value=ok())
    http = http_client_factory(timeout=99.0)

    flavor.start(client_factory(timeout=3, http_client=http))

    assert route.calls.last.request.extensions["timeout"]["read"] == 3.0


@pytest.mark.parametrize(
    "base_url",
    [
        "ftp://sod2.superoffice.com/Cust12345",
        "file:///etc/passwd",
        "Cust12345",
        "/Cust12345",
        "sod2.superoffice.com/Cust12345",
        "https://sod2.superoffice.com/Cust12345?tenant=1",
        "https://sod2.superoffice.com/Cust12345#fragment",
        "https:///Cust12345",
        "",
    ],
)
def test_invalid_base_url_is_value_error(flavor: SyncFlavor, base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        flavor.make(base_url)


@pytest.mark.parametrize(
    ("base_url", "root"),
    [
        (BATCH_URL, BASE_URL),
        (PRINCIPAL_URL + "/", BASE_URL),
        ("https://crm.example.com/remote/services88/batch.SVC", "https://crm.example.com/"),
        ("https://crm.example.com/so/Remote/Services88/Old.svc", "https://crm.example.com/so"),
    ],
)
def test_base_url_naming_a_service_is_refused_showing_the_root(
    flavor: SyncFlavor, base_url: str, root: str
) -> None:
    with pytest.raises(ValueError, match="base_url must be the installation root") as caught:
        flavor.make(base_url)

    assert str(caught.value).endswith(f"use {root!r}")


@pytest.mark.parametrize("base_url", [12345, b"https://sod2.superoffice.com/Cust12345"])
def test_base_url_of_wrong_type_is_type_error(flavor: SyncFlavor, base_url: object) -> None:
    with pytest.raises(TypeError, match="base_url"):
        flavor.make(base_url)


def test_base_url_is_required_unless_a_system_user_finds_the_tenant(flavor: SyncFlavor) -> None:
    with pytest.raises(ValueError, match="base_url is required, unless auth is a SystemUser"):
        flavor.make(None, ticket="7T:abc")


@pytest.mark.parametrize("soap_version", ["1.1", "SOAP12", 1.2, True])
def test_soap_version_of_wrong_type_is_type_error(flavor: SyncFlavor, soap_version: object) -> None:
    with pytest.raises(TypeError, match="soap_version"):
        flavor.make(BASE_URL, soap_version=soap_version)


@pytest.mark.parametrize(
    "make_http_client",
    [
        pytest.param(lambda flavor: flavor.foreign_http_client_class(), id="other-kind"),
        pytest.param(lambda flavor: "https://proxy.example.com", id="str"),
        pytest.param(lambda flavor: object(), id="object"),
    ],
)
def test_http_client_of_wrong_type_is_type_error(
    flavor: SyncFlavor, make_http_client: Callable[[SyncFlavor], Any]
) -> None:
    # BatchClient takes an httpx.Client only, AsyncBatchClient an httpx.AsyncClient only.
    wrong = make_http_client(flavor)
    expected = rf"http_client must be an httpx\.{flavor.http_client_class.__name__}\b"

    with pytest.raises(TypeError, match=expected):
        flavor.make(BASE_URL, http_client=wrong)


@pytest.mark.parametrize(
    ("option", "value", "error_type"),
    [
        ("max_response_bytes", 0, ValueError),
        ("max_response_bytes", -1, ValueError),
        ("max_response_bytes", 1.5, TypeError),
        ("max_response_bytes", "1000", TypeError),
        ("max_response_bytes", True, TypeError),
        ("connect_retries", -1, ValueError),
        ("connect_retries", 1.0, TypeError),
        ("connect_retries", None, TypeError),
        ("connect_retries", True, TypeError),
    ],
)
def test_invalid_count_option_is_rejected(
    flavor: SyncFlavor, option: str, value: object, error_type: type[Exception]
) -> None:
    with pytest.raises(error_type, match=option):
        flavor.make(BASE_URL, **{option: value})


def test_injected_http_client_is_used(
    route: respx.Route,
    client_factory: Callable[..., Any],
    http_client_factory: Callable[..., Any],
    flavor: SyncFlavor,
) -> None:
    route.mock(return_value=ok())
    hooked: list[httpx.Request] = []
    http = http_client_factory(
        headers={"X-Correlation-Id": "corr-42"},
        event_hooks={"request": [flavor.event_hook(hooked.append)]},
    )

    assert flavor.start(client_factory(http_client=http)) == 4711

    assert route.calls.last.request.headers["x-correlation-id"] == "corr-42"
    assert len(hooked) == 1
    assert str(hooked[0].url) == BATCH_URL


def test_injected_http_client_is_not_closed(
    route: respx.Route, http_client_factory: Callable[..., Any], flavor: SyncFlavor
) -> None:
    route.mock(side_effect=[ok(1), ok(2)])
    http = http_client_factory()
    client = flavor.make(BASE_URL, ticket=TICKET, http_client=http)

    with flavor.entered(client):
        flavor.start(client)
    flavor.close(client)

    assert not http.is_closed
    # Still usable by its owner.
    assert flavor.run(http.post(BATCH_URL)).status_code == 200


@pytest.mark.parametrize("how", ["close", "exit"])
def test_owned_http_client_is_closed(
    route: respx.Route, flavor: SyncFlavor, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    route.mock(return_value=ok())
    created: list[Any] = []
    original_init = flavor.http_client_class.__init__

    def recording_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        created.append(self)

    monkeypatch.setattr(flavor.http_client_class, "__init__", recording_init)
    client = flavor.make(BASE_URL, ticket=TICKET)
    if how == "exit":
        with flavor.entered(client):
            flavor.start(client)
    else:
        flavor.start(client)
        assert created
        assert not any(http.is_closed for http in created)
        flavor.close(client)

    assert created
    assert all(http.is_closed for http in created)


@pytest.mark.parametrize(
    "task",
    [
        None,
        "ExportTask",
        {"name": "ExportTask"},
        BatchTaskInfo,
        [BatchTaskInfo(name="ExportTask")],
    ],
)
def test_bad_task_raises_before_any_request(
    route: respx.Route, client_factory: Callable[..., Any], flavor: SyncFlavor, task: object
) -> None:
    route.mock(return_value=ok())

    with pytest.raises((TypeError, ValueError)):
        flavor.start(client_factory(), task)

    assert not route.called


def _counting_stream(consumed: list[int], chunks: int, size: int) -> Iterator[bytes]:
    """Chunks of a reply body; ``consumed`` grows as the client pulls them."""
    for index in range(chunks):
        consumed.append(index)
        yield b"x" * size


def test_reply_declaring_a_length_over_the_limit_is_protocol_error_unread(
    route: respx.Route, client_factory: Callable[..., Any], flavor: SyncFlavor
) -> None:
    consumed: list[int] = []
    route.mock(
        return_value=httpx.Response(
            200,
            headers={"Content-Length": "5000000"},
            content=flavor.streamed(_counting_stream(consumed, chunks=5000, size=1000)),
        )
    )

    with pytest.raises(ProtocolError):
        flavor.start(client_factory(max_response_bytes=10_000))

    assert consumed == []


def test_streamed_reply_over_the_limit_is_protocol_error_and_reading_stops(
    route: respx.Route, client_factory: Callable[..., Any], flavor: SyncFlavor
) -> None:
    consumed: list[int] = []
    route.mock(
        return_value=httpx.Response(
            200, content=flavor.streamed(_counting_stream(consumed, chunks=5000, size=1000))
        )
    )

    with pytest.raises(ProtocolError):
        flavor.start(client_factory(max_response_bytes=10_000))

    assert route.calls.last.response.headers.get("transfer-encoding") == "chunked"
    assert 10 <= len(consumed) < 5000


@pytest.mark.parametrize(("slack", "accepted"), [(0, True), (1, True), (-1, False)])
def test_max_response_bytes_boundary(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    slack: int,
    accepted: bool,
) -> None:
    size = len(documented_reply(9))
    route.mock(side_effect=[ok(9)])
    client = client_factory(max_response_bytes=size + slack)

    if accepted:
        assert flavor.start(client) == 9
    else:
        with pytest.raises(ProtocolError):
            flavor.start(client)


# -- 6. secrets ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "secrets"),
    [
        pytest.param({"ticket": TICKET}, (TICKET, TOKEN), id="ticket"),
        pytest.param(
            {"ticket": None, "auth": UsernamePassword("svc-user", PASSWORD)},
            (PASSWORD, TOKEN),
            id="username-password",
        ),
        pytest.param(
            {"ticket": None, "auth": AccessToken(ACCESS_TOKEN)},
            (ACCESS_TOKEN, TOKEN),
            id="access-token",
        ),
    ],
)
def test_repr_and_str_hide_credentials(
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    options: dict[str, Any],
    secrets: tuple[str, ...],
) -> None:
    client = client_factory(application_token=TOKEN, **options)

    for text in (repr(client), str(client)):
        assert text.startswith(f"<{flavor.client_class.__name__} ")
        assert "sod2.superoffice.com/Cust12345" in text
        for secret in secrets:
            assert secret not in text


ECHO = f"ticket {TICKET} rejected for application {TOKEN}"


@pytest.mark.parametrize(
    ("reply", "error_type"),
    [
        pytest.param(lambda: html(502, ECHO), HttpError, id="http-error-html"),
        pytest.param(lambda: html(401, ECHO), HttpError, id="http-401-html"),
        pytest.param(lambda: service_error(ECHO), ServiceError, id="service-error"),
        pytest.param(lambda: fault12(500, "env:Receiver", ECHO), SoapFault, id="soap-fault"),
        pytest.param(
            lambda: httpx.Response(200, text=f"<html>{ECHO}</html"),
            ProtocolError,
            id="protocol-error",
        ),
        pytest.param(
            lambda: httpx.Response(
                200,
                text=(
                    f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP12_NS}"><SOAP-ENV:Body>'
                    f"<Other>{ECHO}</Other></SOAP-ENV:Body></SOAP-ENV:Envelope>"
                ),
            ),
            ProtocolError,
            id="unexpected-payload",
        ),
    ],
)
def test_reply_errors_hide_secrets(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    reply: Callable[[], httpx.Response],
    error_type: type[SuperOfficeError],
) -> None:
    route.mock(side_effect=[reply()])

    with pytest.raises(error_type) as caught:
        flavor.start(client_factory(soap_version=SoapVersion.SOAP12))

    text = exposed_text(caught.value)
    assert "rejected for application" in text
    assert TICKET not in text
    assert TOKEN not in text


@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.ConnectError])
def test_transport_error_hides_secrets(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    failure: type[httpx.TransportError],
) -> None:
    route.mock(side_effect=[failure(f"proxy said: {ECHO}")])

    with pytest.raises(TransportError) as caught:
        flavor.start(client_factory(connect_retries=0))

    text = exposed_text(caught.value)
    assert "proxy said" in text
    assert TICKET not in text
    assert TOKEN not in text


def _library_log_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        caplog.handler.format(record)
        for record in caplog.records
        if record.name.startswith("superoffice_batch")
    ]


def test_logs_hide_ticket_and_token(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="superoffice_batch")
    route.mock(
        side_effect=[
            httpx.ConnectError(f"proxy said: {ECHO}"),
            html(415, ECHO),
            ok11(5),
            service_error(ECHO),
        ]
    )
    client = client_factory()
    assert flavor.start(client) == 5
    with pytest.raises(ServiceError):
        flavor.start(client)

    lines = _library_log_lines(caplog)
    assert lines  # retry, fallback and timing are logged; the check below must see them
    for line in lines:
        assert TICKET not in line
        assert TOKEN not in line


def _shown_for_base_url_with_password(
    flavor: SyncFlavor, caplog: pytest.LogCaptureFixture
) -> list[str]:
    """What a client given user info in its base URL shows: the refusal, or repr, errors, logs.

    Refusing user info outright is as safe as hiding it, so both designs are accepted.
    """
    try:
        client = flavor.make(f"https://svc-user:{URL_PASSWORD}@sod2.superoffice.com/Cust12345")
    except ValueError as refused:
        return [str(refused)]
    try:
        assert flavor.start(client) == 5
        with pytest.raises(HttpError) as caught:
            flavor.start(client)
        return [
            repr(client),
            str(client),
            exposed_text(caught.value),
            *_library_log_lines(caplog),
        ]
    finally:
        flavor.close(client)


def test_base_url_password_is_never_shown(
    router: respx.MockRouter,
    flavor: SyncFlavor,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="superoffice_batch")
    router.post(BATCH_URL).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(415), ok11(5), html(502)]
    )

    shown = _shown_for_base_url_with_password(flavor, caplog)

    assert shown
    for text in shown:
        assert URL_PASSWORD not in text


# -- 7. logging ------------------------------------------------------------------------------------

# The one INFO line each call ends with: operation, endpoint, outcome, duration.
CALL_LINE = re.compile(
    r"(?P<operation>\w+) POST (?P<url>\S+): (?P<outcome>.+) \((?P<ms>\d+(?:\.\d+)?) ms\)",
    re.DOTALL,
)


def library_messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    """The messages the library logged at exactly ``level``, in order."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("superoffice_batch") and record.levelno == level
    ]


def call_line(message: str) -> dict[str, str]:
    line = CALL_LINE.fullmatch(message)
    assert line is not None, f"not a call line: {message!r}"
    return line.groupdict()


@pytest.mark.parametrize(
    ("call", "url", "reply", "operation", "status"),
    [
        pytest.param(
            lambda client: client.start_batch_job(TASK),
            BATCH_URL,
            ok,
            "StartBatchJob",
            "200",
            id="StartBatchJob",
        ),
        pytest.param(
            lambda client: client.stop_batch_job(5),
            BATCH_URL,
            lambda: fixture_reply("StopBatchJob-true.xml", status=202),
            "StopBatchJob",
            "202",
            id="StopBatchJob-202",
        ),
        pytest.param(
            lambda client: client.call(GetSystemInfo()),
            PRINCIPAL_URL,
            lambda: fixture_reply("GetSystemInfo.xml"),
            "GetSystemInfo",
            "200",
            id="GetSystemInfo",
        ),
    ],
)
def test_successful_call_logs_one_info_line(
    router: respx.MockRouter,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    caplog: pytest.LogCaptureFixture,
    call: Callable[[Any], Any],
    url: str,
    reply: Callable[[], httpx.Response],
    operation: str,
    status: str,
) -> None:
    caplog.set_level(logging.INFO, logger="superoffice_batch")
    router.post(url).mock(side_effect=[reply()])

    flavor.run(call(client_factory()))

    [message] = library_messages(caplog, logging.INFO)
    line = call_line(message)
    assert (line["operation"], line["url"], line["outcome"]) == (operation, url, f"HTTP {status}")
    assert float(line["ms"]) >= 0


@pytest.mark.parametrize(
    ("reply", "error_type"),
    [
        pytest.param(service_error, ServiceError, id="service-error"),
        pytest.param(lambda: html(502, "Bad Gateway"), HttpError, id="http-502"),
        pytest.param(lambda: html(401, "Unauthorized"), HttpError, id="http-401"),
        pytest.param(receiver_fault, SoapFault, id="soap-fault"),
        pytest.param(garbage, ProtocolError, id="protocol-error"),
        pytest.param(lambda: httpx.ConnectError("refused"), TransportError, id="connect-error"),
        pytest.param(lambda: httpx.ReadTimeout("timed out"), TransportError, id="read-timeout"),
    ],
)
def test_failed_call_logs_one_info_line_naming_the_error(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    caplog: pytest.LogCaptureFixture,
    reply: Callable[[], Any],
    error_type: type[SuperOfficeError],
) -> None:
    caplog.set_level(logging.INFO, logger="superoffice_batch")
    route.mock(side_effect=[reply()])

    with pytest.raises(error_type) as caught:
        flavor.start(client_factory(connect_retries=0))

    [message] = library_messages(caplog, logging.INFO)
    line = call_line(message)
    assert (line["operation"], line["url"]) == ("StartBatchJob", BATCH_URL)
    # The line names the URL itself: it carries the error's text without the URL and hint.
    assert line["outcome"] == f"failed: {error_type.__name__}: {caught.value.args[0]}"
    assert float(line["ms"]) >= 0


def test_connect_retry_is_logged_at_info_before_the_call_line(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    sleeps: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="superoffice_batch")
    route.mock(side_effect=[httpx.ConnectError("refused"), ok(7)])

    assert flavor.start(client_factory()) == 7

    retry, last = library_messages(caplog, logging.INFO)
    assert CALL_LINE.fullmatch(retry) is None
    assert retry.startswith("StartBatchJob")
    assert re.search(r"\b(TransportError|ConnectError)\b", retry), retry
    assert "re-send" in retry
    assert call_line(last)["outcome"] == "HTTP 200"


@pytest.mark.parametrize("refusal", REFUSALS)
def test_soap11_fallback_is_logged_at_info_before_the_call_line(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    caplog: pytest.LogCaptureFixture,
    refusal: Callable[[], httpx.Response],
) -> None:
    caplog.set_level(logging.INFO, logger="superoffice_batch")
    route.mock(side_effect=[refusal(), ok11(3)])

    assert flavor.start(client_factory()) == 3

    fallback, last = library_messages(caplog, logging.INFO)
    assert CALL_LINE.fullmatch(fallback) is None
    assert "StartBatchJob" in fallback
    assert "SOAP 1.1" in fallback
    # The call line reports the reply that settled the call, not the refusal.
    assert call_line(last)["outcome"] == "HTTP 200"


def test_login_is_logged_as_a_call_of_its_own(
    router: respx.MockRouter,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="superoffice_batch")
    router.post(PRINCIPAL_URL).mock(side_effect=[authenticated(ISSUED_TICKET)])
    router.post(BATCH_URL).mock(side_effect=[ok(8)])

    assert flavor.start(client_factory(ticket=None, auth=UsernamePassword("u", PASSWORD))) == 8

    lines = [call_line(message) for message in library_messages(caplog, logging.INFO)]
    assert [(line["operation"], line["url"], line["outcome"]) for line in lines] == [
        ("AuthenticateUsernamePassword", PRINCIPAL_URL, "HTTP 200"),
        ("StartBatchJob", BATCH_URL, "HTTP 200"),
    ]


def test_debug_logs_both_envelopes_with_ticket_and_token_masked(
    route: respx.Route,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="superoffice_batch")
    route.mock(side_effect=[service_error(f"echo: {ECHO}")])

    with pytest.raises(ServiceError):
        flavor.start(client_factory(ticket=TICKET, application_token=TOKEN))

    debug = library_messages(caplog, logging.DEBUG)
    [request] = [message for message in debug if "<Batch:StartBatchJob>" in message]
    [reply] = [message for message in debug if "StartBatchJobResponse" in message]
    assert "<Batch:Ticket>" in request
    assert "<Batch:ApplicationToken>" in request
    assert '<Batch:Name xsi:type="xsd:string">ExportTask</Batch:Name>' in request
    assert "echo: ticket " in reply
    assert "rejected for application" in reply
    for message in [record.getMessage() for record in caplog.records]:
        assert TICKET not in message
        assert TOKEN not in message


def test_debug_logs_login_envelopes_with_password_and_issued_ticket_masked(
    router: respx.MockRouter,
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="superoffice_batch")
    # The login reply echoes the password; the Batch reply echoes password and ticket.
    router.post(PRINCIPAL_URL).mock(
        side_effect=[authenticated(ISSUED_TICKET, full_name=f"echo {PASSWORD}")]
    )
    router.post(BATCH_URL).mock(
        side_effect=[service_error(f"echo {ISSUED_TICKET} {PASSWORD} {TOKEN}")]
    )
    client = client_factory(
        ticket=None, auth=UsernamePassword("svc-user", PASSWORD), application_token=TOKEN
    )

    with pytest.raises(ServiceError):
        flavor.start(client)

    debug = "\n".join(library_messages(caplog, logging.DEBUG))
    assert '<SoPrincipal:UserName xsi:type="xsd:string">svc-user</SoPrincipal:UserName>' in debug
    assert "<SoPrincipal:Password" in debug
    assert "<FullName>echo " in debug
    assert "<Ticket>" in debug
    assert "<Batch:StartBatchJob>" in debug
    assert "StartBatchJobResponse" in debug
    for message in [record.getMessage() for record in caplog.records]:
        for secret in (PASSWORD, ISSUED_TICKET, TOKEN):
            assert secret not in message


# -- 8. real HTTP over loopback ------------------------------------------------------------------

# Each call is bounded twice: by the client's own (short) timeout, and by a wall-clock
# limit on the whole call, so that a client that ignored its timeout fails instead of
# hanging the run.
LOOPBACK_CALL_LIMIT = 10.0


def start_bounded(flavor: SyncFlavor, client: Any) -> Any:
    return flavor.run_within(LOOPBACK_CALL_LIMIT, lambda: client.start_batch_job(TASK))


@pytest.fixture
def loopback() -> Iterator[Callable[..., LoopbackServer]]:
    servers: list[LoopbackServer] = []

    def start(script: Any, **options: Any) -> LoopbackServer:
        server = LoopbackServer(script, **options).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _refuse_soap12(seen: Seen) -> Answer:
    content_type = seen.headers.get("content-type", "")
    if content_type.startswith("application/soap+xml"):
        return Answer(415, b"", (("Content-Type", "text/html"),))
    if content_type.startswith("text/xml"):
        return Answer(200, documented_reply(42), (("Content-Type", SOAP11_CONTENT_TYPE),))
    return Answer(400, b"unexpected content type")


def test_loopback_negotiates_soap11_over_real_http(
    loopback: Callable[..., LoopbackServer], client_factory: Callable[..., Any], flavor: SyncFlavor
) -> None:
    server = loopback(_refuse_soap12, max_requests=4)
    client = client_factory(f"{server.url}/Cust1", timeout=2)

    assert start_bounded(flavor, client) == 42

    assert [(seen.method, seen.path) for seen in server.requests] == [
        ("POST", "/Cust1/Remote/Services88/Batch.svc"),
        ("POST", "/Cust1/Remote/Services88/Batch.svc"),
    ]
    first, second = server.requests
    assert first.headers["content-type"] == SOAP12_CONTENT_TYPE
    assert "soapaction" not in first.headers
    assert second.headers["content-type"] == SOAP11_CONTENT_TYPE
    assert second.headers["soapaction"] == f'"{ACTION}"'
    assert etree.fromstring(first.body).tag == f"{{{SOAP12_NS}}}Envelope"
    assert etree.fromstring(second.body).tag == f"{{{SOAP11_NS}}}Envelope"
    assert client.soap_version is SoapVersion.SOAP11


def test_loopback_connection_closed_without_answer_is_transport_error(
    loopback: Callable[..., LoopbackServer],
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    sleeps: list[float],
) -> None:
    server = loopback([Answer(hang_up=True)], max_requests=3)

    with pytest.raises(TransportError) as caught:
        start_bounded(flavor, client_factory(f"{server.url}/Cust1", timeout=2))

    assert caught.value.request_sent is True
    assert isinstance(caught.value.__cause__, httpx.TransportError)
    assert len(server.requests) == 1


def test_loopback_stalled_reply_times_out(
    loopback: Callable[..., LoopbackServer], client_factory: Callable[..., Any], flavor: SyncFlavor
) -> None:
    server = loopback([Answer(200, documented_reply(1), stall=5.0)], max_requests=3)

    with pytest.raises(TransportError) as caught:
        start_bounded(flavor, client_factory(f"{server.url}/Cust1", timeout=0.3))

    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert caught.value.request_sent is True
    assert len(server.requests) == 1


def test_loopback_call_line_reports_the_time_the_call_took(
    loopback: Callable[..., LoopbackServer],
    client_factory: Callable[..., Any],
    flavor: SyncFlavor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="superoffice_batch")
    server = loopback(
        [Answer(200, documented_reply(6), (("Content-Type", SOAP11_CONTENT_TYPE),), stall=0.2)]
    )
    client = client_factory(f"{server.url}/Cust1", soap_version=SoapVersion.SOAP12, timeout=2)

    assert start_bounded(flavor, client) == 6

    [message] = library_messages(caplog, logging.INFO)
    line = call_line(message)
    assert line["url"] == f"{server.url}/Cust1/Remote/Services88/Batch.svc"
    assert 200 <= float(line["ms"]) < LOOPBACK_CALL_LIMIT * 1000


def test_loopback_refused_connection_is_retried_then_unsent_transport_error(
    client_factory: Callable[..., Any], flavor: SyncFlavor, sleeps: list[float]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now, so every connect is refused.

    with pytest.raises(TransportError) as caught:
        start_bounded(flavor, client_factory(f"http://127.0.0.1:{port}/Cust1", timeout=2))

    assert caught.value.request_sent is False
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert len(sleeps) == 2
