"""The NetServer simulator (``superoffice_batch.testing``): HTTP, SOAP and the services.

Tests that take the ``flavor`` fixture run once per client (``BatchClient`` and
``AsyncBatchClient``) against a real simulator on loopback. The others speak HTTP
directly, building envelopes with the library's own operations. Simulators come from
the package's pytest plugin (``netserver_factory``), so the plugin is tested by use too.
"""

from __future__ import annotations

import importlib.resources
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import attrs
import httpx
import pytest
from lxml import etree

from flavors import SyncFlavor, share_default_tls_contexts
from superoffice_batch import (
    AuthenticationError,
    BatchClient,
    BatchTaskCancellationBehaviour,
    BatchTaskFailed,
    BatchTaskInfo,
    BatchTaskState,
    Credentials,
    HttpError,
    ProtocolError,
    ServiceError,
    SoapFault,
    SoapVersion,
    SystemInfo,
    TransportError,
    UsernamePassword,
)
from superoffice_batch.auth import is_ticket_rejection
from superoffice_batch.envelope import BATCH
from superoffice_batch.operations import (
    AuthenticateGeneric,
    AuthenticateImplicit,
    AuthenticateUsernamePassword,
    AuthenticateWithAccessToken,
    GetBatchTaskInfo,
    GetSystemInfo,
    Operation,
    Request,
    Returns,
    StartBatchJob,
    arg,
)
from superoffice_batch.testing import NetServerSimulator, SoapMode
from superoffice_batch.xmlvalues import XSD_BOOLEAN, XSD_INT

pytest_plugins = ["superoffice_batch.testing", "pytester"]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TNS = "http://www.superoffice.net/ws/crm/NetServer/Services88"
WSDL_NS = {
    "wsdl": "http://schemas.xmlsoap.org/wsdl/",
    "soap": "http://schemas.xmlsoap.org/wsdl/soap/",
}
ADDRESSING_NONE = "http://schemas.microsoft.com/ws/2005/05/addressing/none"
DISPATCHER = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SOAP11_NS = SoapVersion.SOAP11.namespace
SOAP12_NS = SoapVersion.SOAP12.namespace

DEMO = UsernamePassword("demo", "demo")
CLIENT_TIMEOUT = 5.0
"""Every client call is bounded: a broken simulator fails a test instead of hanging it."""
EXPORT = BatchTaskInfo(name="ExportTask")
STATES = BatchTaskState
MEDIA_TYPES = {SoapVersion.SOAP11: "text/xml", SoapVersion.SOAP12: "application/soap+xml"}


class FakeClock:
    """A clock that moves only when told to (``advance``)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SteppingClock(FakeClock):
    """A clock that moves ``step`` seconds each time it is read: jobs progress per call."""

    def __init__(self, step: float) -> None:
        super().__init__()
        self.step = step
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self.now += self.step
            return self.now


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _shared_tls_contexts(monkeypatch: pytest.MonkeyPatch) -> None:
    share_default_tls_contexts(monkeypatch)  # plain HTTP only: no handshake ever happens


@pytest.fixture
def simulate(
    netserver_factory: Callable[..., NetServerSimulator],
) -> Iterator[Callable[..., NetServerSimulator]]:
    """Started simulators (stopped by the plugin); none may have failed internally."""
    made: list[NetServerSimulator] = []

    def make(**options: Any) -> NetServerSimulator:
        options.setdefault("job_duration", 0.3)
        simulator = netserver_factory(**options)
        made.append(simulator)
        return simulator

    yield make
    for simulator in made:
        assert simulator.errors == [], "the simulator answered an internal error"


@pytest.fixture
def connect(flavor: SyncFlavor) -> Iterator[Callable[..., Any]]:
    """Clients of the flavor's kind for a simulator, logging in as demo; closed afterwards."""
    made: list[Any] = []

    def make(simulator: NetServerSimulator, **options: Any) -> Any:
        if "ticket" not in options:
            options.setdefault("auth", DEMO)
        options.setdefault("timeout", CLIENT_TIMEOUT)
        client = flavor.make(simulator.base_url, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        flavor.close(client)


# -- speaking HTTP directly ------------------------------------------------------------------


def build(
    operation: Operation[Any],
    version: SoapVersion = SoapVersion.SOAP11,
    *,
    ticket: str | None = None,
    token: str | None = None,
) -> Request:
    """The library's request for ``operation``."""
    return operation.to_request(Credentials(ticket=ticket, application_token=token), version)


def send(
    simulator: NetServerSimulator,
    request: Request,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    url: str | None = None,
) -> httpx.Response:
    """POST a request (its headers or content replaced where given) to the simulator."""
    target = url or f"{simulator.base_url}/{request.path}"
    return httpx.post(
        target,
        content=request.content if content is None else content,
        headers=request.headers if headers is None else headers,
        timeout=CLIENT_TIMEOUT,
    )


def result_of(response: httpx.Response, operation: Operation[Any]) -> Any:
    """Read a reply the way the library does (raising its exceptions)."""
    return operation.parse_response(
        response.content,
        status_code=response.status_code,
        content_type=response.headers.get("content-type"),
    )


def fault_of(response: httpx.Response) -> SoapFault:
    with pytest.raises(SoapFault) as caught:
        result_of(response, GetBatchTaskInfo(1))
    return caught.value


def started_job(simulator: NetServerSimulator, task: BatchTaskInfo = EXPORT) -> int:
    """Start a job over HTTP with a ticket issued directly (no login)."""
    operation = StartBatchJob(task)
    job_id = result_of(
        send(simulator, build(operation, ticket=simulator.issue_ticket())), operation
    )
    assert isinstance(job_id, int)
    return job_id


def exchange(connection: socket.socket, simulator: NetServerSimulator) -> tuple[bytes, bytes]:
    """One GetSystemInfo over a raw socket: the status line and the body of the answer."""
    request = build(GetSystemInfo())
    head = (
        f"POST /Cust12345/{request.path} HTTP/1.1\r\nHost: 127.0.0.1:{simulator.port}\r\n"
        f"Content-Type: {request.headers['Content-Type']}\r\n"
        f"SOAPAction: {request.headers['SOAPAction']}\r\n"
        f"Content-Length: {len(request.content)}\r\n\r\n"
    ).encode()
    connection.sendall(head + request.content)
    with connection.makefile("rb") as reader:
        status = reader.readline()
        length = 0
        while (line := reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, reader.read(length)


def job(simulator: NetServerSimulator, job_id: int) -> BatchTaskInfo:
    (info,) = (info for info in simulator.jobs if info.id == job_id)
    return info


# -- the server ---------------------------------------------------------------------------


def test_starts_in_well_under_half_a_second() -> None:
    began = time.perf_counter()
    simulator = NetServerSimulator().start()
    try:
        elapsed = time.perf_counter() - began
        # It answers, too: the port is open and serving once start() returns.
        reply = httpx.get(simulator.service_url() + "?wsdl", timeout=CLIENT_TIMEOUT)
    finally:
        simulator.stop()
    assert elapsed < 0.5
    assert reply.status_code == 200


def test_stop_closes_the_port_and_open_connections() -> None:
    with NetServerSimulator() as simulator:
        port = simulator.port
        idle = socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT)
        # Answered, so the server holds it open (keep-alive) when it stops.
        assert exchange(idle, simulator)[0].startswith(b"HTTP/1.1 200")
    try:
        # The kept-alive connection was closed by the server: reading sees the end.
        assert idle.recv(1) == b""
    finally:
        idle.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT).close()


def test_base_url_names_a_tenant_on_loopback() -> None:
    simulator = NetServerSimulator()
    with pytest.raises(RuntimeError, match="start"):
        _ = simulator.base_url
    with simulator:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/Cust12345", simulator.base_url)
        assert simulator.port > 0
        assert simulator.service_url("SoPrincipal") == (
            f"{simulator.base_url}/Remote/Services88/SoPrincipal.svc"
        )


@pytest.mark.parametrize("service", ["Batch", "SoPrincipal"])
def test_wsdl_is_the_published_one_pointing_here(
    simulate: Callable[..., NetServerSimulator], service: str
) -> None:
    simulator = simulate()
    reply = httpx.get(simulator.service_url(service) + "?wsdl", timeout=CLIENT_TIMEOUT)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/xml")
    served = etree.fromstring(reply.content)
    (address,) = served.iterfind(".//wsdl:port/soap:address", WSDL_NS)
    assert address.get("location") == simulator.service_url(service)
    # Apart from the address, exactly the published file.
    published = etree.parse(str(FIXTURES / "wsdl" / f"Services88-{service}.wsdl")).getroot()
    (original,) = published.iterfind(".//wsdl:port/soap:address", WSDL_NS)
    original.set("location", simulator.service_url(service))
    assert etree.tostring(served, method="c14n") == etree.tostring(published, method="c14n")


def test_wsdl_address_follows_the_requested_tenant(
    simulate: Callable[..., NetServerSimulator],
) -> None:
    simulator = simulate()
    url = f"http://127.0.0.1:{simulator.port}/Other/Tenant/remote/services88/BATCH.svc"
    reply = httpx.get(url + "?WSDL", timeout=CLIENT_TIMEOUT)
    assert reply.status_code == 200
    (address,) = etree.fromstring(reply.content).iterfind(".//wsdl:port/soap:address", WSDL_NS)
    assert address.get("location") == url


def test_packaged_wsdl_files_are_the_fixtures() -> None:
    packaged = importlib.resources.files("superoffice_batch.testing") / "wsdl"
    for name in ("Services88-Batch.wsdl", "Services88-SoPrincipal.wsdl"):
        assert (packaged / name).read_bytes() == (FIXTURES / "wsdl" / name).read_bytes()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/Cust12345"),
        ("GET", "/Cust12345/Remote/Services88/Batch.svc"),  # no ?wsdl
        ("GET", "/Cust12345/Remote/Services88/Unknown.svc?wsdl"),
        ("POST", "/Cust12345/Remote/Services88/Unknown.svc"),
        ("POST", "/Cust12345/Remote/Services99/Batch.svc"),
        ("PUT", "/Cust12345/Remote/Services88/Batch.svc"),
        ("DELETE", "/Cust12345/Remote/Services88/Batch.svc"),
    ],
)
def test_anything_else_is_an_html_404(
    simulate: Callable[..., NetServerSimulator], method: str, path: str
) -> None:
    simulator = simulate()
    reply = httpx.request(
        method, f"http://127.0.0.1:{simulator.port}{path}", content=b"", timeout=CLIENT_TIMEOUT
    )
    assert reply.status_code == 404
    assert reply.headers["content-type"].startswith("text/html")
    assert b"404" in reply.content
    assert simulator.calls == []


def test_any_tenant_prefix_and_the_path_case_are_served(
    simulate: Callable[..., NetServerSimulator],
) -> None:
    simulator = simulate()
    operation = GetSystemInfo()
    for path in ("/Remote/Services88/SoPrincipal.svc", "/a/b/c/REMOTE/services88/soprincipal.SVC"):
        reply = send(simulator, build(operation), url=f"http://127.0.0.1:{simulator.port}{path}")
        assert isinstance(result_of(reply, operation), SystemInfo)
    assert simulator.calls == ["GetSystemInfo", "GetSystemInfo"]


@pytest.mark.parametrize(
    "path",
    [
        # A base URL that already named the service, with the service path appended again:
        "/Cust12345/Remote/Services88/SoPrincipal.svc/Remote/Services88/SoPrincipal.svc",
        "/Cust12345/Remote/Services88/Batch.svc/Remote/Services88/SoPrincipal.svc",
        "/Cust12345/remote/SERVICES88/Remote/Services88/SoPrincipal.svc",
        "/Cust12345Remote/Services88/SoPrincipal.svc",  # no separating slash
    ],
)
def test_a_call_outside_the_service_paths_is_an_html_404_like_iis(
    simulate: Callable[..., NetServerSimulator], path: str
) -> None:
    simulator = simulate()
    request = build(GetSystemInfo())

    reply = send(simulator, request, url=f"http://127.0.0.1:{simulator.port}{path}")

    assert reply.status_code == 404
    assert reply.headers["content-type"].startswith("text/html")
    assert b"File or directory not found." in reply.content
    assert simulator.calls == []


def test_connections_are_kept_alive() -> None:
    with NetServerSimulator() as simulator:
        address = ("127.0.0.1", simulator.port)
        with socket.create_connection(address, timeout=CLIENT_TIMEOUT) as connection:
            for _ in range(3):  # three requests, one connection
                status, body = exchange(connection, simulator)
                assert status.startswith(b"HTTP/1.1 200")
                assert b"GetSystemInfoResponse" in body
        assert simulator.calls == ["GetSystemInfo"] * 3


def test_sequential_calls_do_not_stall_on_delayed_acks() -> None:
    # An answer written in pieces without TCP_NODELAY waits ~40 ms for the client's delayed
    # ACK on a kept-alive connection: 25 calls would take over 1 s. The simulator writes
    # each answer at once and sets TCP_NODELAY; either alone avoids the stall.
    with (
        NetServerSimulator() as simulator,
        BatchClient(
            simulator.base_url, ticket=simulator.issue_ticket(), timeout=CLIENT_TIMEOUT
        ) as client,
    ):
        job_id = client.start_batch_job(EXPORT)
        began = time.perf_counter()
        for _ in range(25):
            client.get_batch_task_info(job_id)
        elapsed = time.perf_counter() - began
    assert elapsed < 0.6


def test_many_concurrent_clients_are_served(simulate: Callable[..., NetServerSimulator]) -> None:
    simulator = simulate(users={f"user{n}": f"pw{n}" for n in range(12)})
    ids: dict[int, int] = {}
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            auth = UsernamePassword(f"user{n}", f"pw{n}")
            with BatchClient(simulator.base_url, auth=auth, timeout=CLIENT_TIMEOUT) as client:
                job_id = client.start_batch_job(BatchTaskInfo(name=f"Task{n}"))
                for _ in range(5):
                    assert client.get_batch_task_info(job_id).name == f"Task{n}"
                ids[n] = job_id
        except BaseException as error:  # reported by the test's thread
            failures.append(error)

    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    assert sorted(ids.values()) == list(range(1, 13))
    assert simulator.logins == 12
    owners = {info.name: info.associate_id for info in simulator.jobs}
    assert owners == {f"Task{n}": simulator.associate_id(f"user{n}") for n in range(12)}


# -- SOAP versions and actions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "version", "accepted"),
    [
        (SoapMode.SOAP11, SoapVersion.SOAP11, True),
        (SoapMode.SOAP11, SoapVersion.SOAP12, False),
        (SoapMode.SOAP12, SoapVersion.SOAP11, False),
        (SoapMode.SOAP12, SoapVersion.SOAP12, True),
        (SoapMode.BOTH, SoapVersion.SOAP11, True),
        (SoapMode.BOTH, SoapVersion.SOAP12, True),
    ],
)
def test_the_refused_soap_version_gets_415_with_an_empty_body(
    simulate: Callable[..., NetServerSimulator],
    mode: SoapMode,
    version: SoapVersion,
    accepted: bool,
) -> None:
    simulator = simulate(soap=mode)
    operation = GetSystemInfo()
    reply = send(simulator, build(operation, version))
    if accepted:
        assert reply.status_code == 200
        assert reply.headers["content-type"].split(";")[0] == MEDIA_TYPES[version]
        assert etree.fromstring(reply.content).tag == f"{{{version.namespace}}}Envelope"
        assert isinstance(result_of(reply, operation), SystemInfo)
    else:
        assert (reply.status_code, reply.content) == (415, b"")


@pytest.mark.parametrize("mode", list(SoapMode))
def test_other_content_types_get_415(
    simulate: Callable[..., NetServerSimulator], mode: SoapMode
) -> None:
    simulator = simulate(soap=mode)
    request = build(GetSystemInfo())
    reply = send(
        simulator, request, headers={**request.headers, "Content-Type": "application/json"}
    )
    assert reply.status_code == 415


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (SoapMode.SOAP11, SoapVersion.SOAP11),
        (SoapMode.SOAP12, SoapVersion.SOAP12),
        (SoapMode.BOTH, SoapVersion.SOAP12),
    ],
)
def test_client_negotiation_settles_on_the_accepted_version(
    simulate: Callable[..., NetServerSimulator],
    connect: Callable[..., Any],
    flavor: SyncFlavor,
    mode: SoapMode,
    expected: SoapVersion,
) -> None:
    simulator = simulate(soap=mode)
    client = connect(simulator)
    job_id = flavor.run(client.start_batch_job(EXPORT))
    assert client.soap_version is expected
    assert flavor.run(client.get_batch_task_info(job_id)).id == job_id
    # A refused envelope never reached an operation: one login, one start, one get.
    assert simulator.calls == ["AuthenticateUsernamePassword", "StartBatchJob", "GetBatchTaskInfo"]


@pytest.mark.parametrize("version", list(SoapVersion))
def test_unknown_action_is_wcfs_action_not_supported_fault(
    simulate: Callable[..., NetServerSimulator], version: SoapVersion
) -> None:
    simulator = simulate(soap=SoapMode.BOTH)
    action = f"{TNS}/Batch/PauseBatchJob"
    request = build(GetBatchTaskInfo(1), version, ticket=simulator.issue_ticket())
    headers = PauseBatchJob(1).to_request(None, version).headers
    reply = send(simulator, request, headers=headers)
    assert reply.status_code == 500
    fault = fault_of(reply)
    if version is SoapVersion.SOAP11:
        assert fault.code == f"{{{ADDRESSING_NONE}}}ActionNotSupported"
        assert fault.subcodes == ()
    else:
        assert fault.code == f"{{{SOAP12_NS}}}Sender"
        assert fault.subcodes == (f"{{{ADDRESSING_NONE}}}ActionNotSupported",)
    assert fault.reason.startswith(f"The message with Action '{action}' cannot be processed")
    assert "ContractFilter mismatch at the EndpointDispatcher" in fault.reason
    assert simulator.calls == []


def test_an_action_of_the_other_service_is_not_supported(
    simulate: Callable[..., NetServerSimulator],
) -> None:
    simulator = simulate()
    request = build(GetSystemInfo())
    reply = send(simulator, request, url=simulator.service_url("Batch"))
    assert fault_of(reply).code == f"{{{ADDRESSING_NONE}}}ActionNotSupported"


def test_soap12_action_comes_from_the_content_type(
    simulate: Callable[..., NetServerSimulator],
) -> None:
    simulator = simulate(soap=SoapMode.SOAP12)
    request = build(GetSystemInfo(), SoapVersion.SOAP12)
    without_action = {"Content-Type": "application/soap+xml; charset=utf-8"}
    # A SOAPAction header means nothing in SOAP 1.2.
    wrong = {**without_action, "SOAPAction": f'"{TNS}/SoPrincipal/GetSystemInfo"'}
    fault = fault_of(send(simulator, request, headers=wrong))
    assert fault.subcodes == (f"{{{ADDRESSING_NONE}}}ActionNotSupported",)
    assert "Action ''" in fault.reason
    assert isinstance(result_of(send(simulator, request), GetSystemInfo()), SystemInfo)


def test_soap11_action_is_taken_with_or_without_quotes(
    simulate: Callable[..., NetServerSimulator],
) -> None:
    simulator = simulate()
    request = build(GetSystemInfo())
    bare = {**request.headers, "SOAPAction": request.headers["SOAPAction"].strip('"')}
    assert isinstance(
        result_of(send(simulator, request, headers=bare), GetSystemInfo()), SystemInfo
    )
    missing = {"Content-Type": request.headers["Content-Type"]}
    assert "ActionNotSupported" in fault_of(send(simulator, request, headers=missing)).code


def test_client_reports_an_unknown_operation_as_possibly_missing(
    simulate: Callable[..., NetServerSimulator], connect: Callable[..., Any], flavor: SyncFlavor
) -> None:
    simulator = simulate()
    client = connect(simulator)
    with pytest.raises(SoapFault) as caught:
        flavor.run(client.call(PauseBatchJob(1)))
    assert caught.value.code_name == "ActionNotSupported"
    assert "may not exist" in str(caught.value)
    assert caught.value.status_code == 500


@attrs.frozen
class PauseBatchJob(Operation[bool]):
    """An operation NetServer does not have."""

    SERVICE = BATCH
    RETURNS = Returns(XSD_BOOLEAN)

    id: int = attrs.field(metadata=arg("Id", XSD_INT))


# -- unreadable requests -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"<s:Envelope", "not well-formed"),
        (b"not xml at all", "not well-formed"),
        (b"<Envelope><Body/></Envelope>", "Encountered element 'Envelope' from namespace ''"),
        (f'<s:Envelope xmlns:s="{SOAP11_NS}"/>'.encode(), "no Body"),
        (
            b'<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY x "EXPANDED">]>'
            + f'<s:Envelope xmlns:s="{SOAP11_NS}"><s:Body>&x;</s:Body></s:Envelope>'.encode(),
            "DTD is prohibited",
        ),
    ],
    ids=["truncated", "text", "no-namespace", "no-body", "doctype"],
)
@pytest.mark.parametrize("version", list(SoapVersion))
def test_unreadable_requests_get_a_deserialization_fault_with_400(
    simulate: Callable[..., NetServerSimulator],
    version: SoapVersion,
    content: bytes,
    reason: str,
) -> None:
    simulator = simulate(soap=SoapMode.BOTH)
    content = content.replace(SOAP11_NS.encode(), version.namespace.encode())
    reply = send(simulator, build(GetSystemInfo(), version), content=content)
    assert reply.status_code == 400
    assert b"EXPANDED" not in reply.content
    fault = fault_of(reply)
    if version is SoapVersion.SOAP11:
        assert fault.code == f"{{{DISPATCHER}}}DeserializationFailed"
    else:
        assert fault.code == f"{{{SOAP12_NS}}}Sender"
        assert fault.subcodes == (f"{{{DISPATCHER}}}DeserializationFailed",)
    assert reason in fault.reason
    assert simulator.calls == []


def test_an_envelope_of_the_other_version_is_a_version_mismatch(
    simulate: Callable[..., NetServerSimulator],
) -> None:
    simulator = simulate()
    soap12_envelope = build(GetSystemInfo(), SoapVersion.SOAP12).content
    reply = send(simulator, build(GetSystemInfo()), content=soap12_envelope)
    assert reply.status_code == 500
    assert fault_of(reply).code == f"{{{SOAP11_NS}}}VersionMismatch"


def test_a_body_the_operation_cannot_read_is_a_deserialization_fault(
    simulate: Callable[..., NetServerSimulator],
) -> None:
    simulator = simulate()
    request = build(GetBatchTaskInfo(7), ticket=simulator.issue_ticket())
    not_a_number = request.content.replace(b">7</", b">seven</")
    assert not_a_number != request.content
    fault = fault_of(send(simulator, request, content=not_a_number))
    assert fault.code == f"{{{DISPATCHER}}}DeserializationFailed"
    assert "GetBatchTaskInfo.id" in fault.reason
    other_body = build(GetSystemInfo()).content
    fault = fault_of(send(simulator, request, content=other_body))
    assert "Error in deserializing body of request message for operation" in fault.reason
    assert simulator.calls == []


def test_members_out_of_order_are_skipped_like_wcf_does(
    simulate: Callable[..., NetServerSimulator],
) -> None:
    simulator = simulate()
    operation = StartBatchJob(BatchTaskInfo(name="ExportTask", description="moved"))
    request = build(operation, ticket=simulator.issue_ticket())
    name = re.search(rb"<Batch:Name[^>]*>ExportTask</Batch:Name>", request.content)
    assert name is not None
    # Name moved after Description: WCF has passed Name by then, so it never arrives.
    moved = request.content.replace(name.group(), b"").replace(
        b"</Batch:Description>", b"</Batch:Description>" + name.group()
    )
    with pytest.raises(ServiceError) as caught:
        result_of(send(simulator, request, content=moved), operation)
    assert caught.value.exception_type == "System.ArgumentException"
    assert result_of(send(simulator, request), operation) == 1


# -- SoPrincipal ---------------------------------------------------------------------------


def test_username_password_login_issues_a_fresh_ticket_and_principal(
    simulate: Callable[..., NetServerSimulator], connect: Callable[..., Any], flavor: SyncFlavor
) -> None:
    simulator = simulate(users={"alice": "a-secret", "demo": "demo"})
    client = connect(simulator)
    first = flavor.run(client.call(AuthenticateUsernamePassword("demo", "demo")))
    second = flavor.run(client.call(AuthenticateUsernamePassword("demo", "demo")))
    assert re.fullmatch(r"7T:[A-Za-z0-9+/]+=*", first.ticket)
    assert first.ticket != second.ticket
    assert first.succeeded is True
    principal = first.principal
    assert principal.associate_id == simulator.associate_id("demo") == 2
    assert principal.full_name == "Demo User"
    assert principal.database_context_identifier == "Cust12345"
    assert simulator.logins == 2


@pytest.mark.parametrize(
    "operation",
    [
        AuthenticateUsernamePassword("demo", "wrong"),
        AuthenticateUsernamePassword("nobody", "demo"),
        AuthenticateWithAccessToken("not-a-token"),
        AuthenticateImplicit(),
        AuthenticateGeneric({"key": "value"}),
    ],
    ids=["wrong-password", "unknown-user", "bad-token", "implicit", "generic"],
)
def test_refused_logins_say_so_without_an_exception_info(
    simulate: Callable[..., NetServerSimulator], operation: Operation[Any]
) -> None:
    simulator = simulate()
    reply = send(simulator, build(operation))
    assert reply.status_code == 200
    root = etree.fromstring(reply.content)
    assert root.findtext(f".//{{{TNS}}}Succeeded") == "true"
    assert root.find(f".//{{{TNS}}}ExceptionInfo").get(f"{{{XSI}}}nil") == "true"
    assert root.findtext(f".//{{{TNS}}}AuthenticateResponse/{{{TNS}}}AuthenticationSucceeded") == (
        "false"
    )
    assert root.findtext(f".//{{{TNS}}}Credentials/{{{TNS}}}Ticket") == ""
    with pytest.raises(AuthenticationError, match="AuthenticationSucceeded is false"):
        result_of(reply, operation)
    assert simulator.logins == 0


def test_access_tokens_log_in_as_demo_and_work_as_tickets(
    simulate: Callable[..., NetServerSimulator], connect: Callable[..., Any], flavor: SyncFlavor
) -> None:
    simulator = simulate()
    client = connect(simulator, ticket="8A:access-token-from-oauth")
    job_id = flavor.run(client.start_batch_job(EXPORT))
    assert flavor.run(client.get_batch_task_info(job_id)).associate_id == (
        simulator.associate_id("demo")
    )
    login = flavor.run(client.call(AuthenticateWithAccessToken("8A:access-token-from-oauth")))
    assert login.ticket.startswith("7T:")
    assert login.principal.associate == "DEMO"


def test_system_info(
    simulate: Callable[..., NetServerSimulator], connect: Callable[..., Any], flavor: SyncFlavor
) -> None:
    simulator = simulate()
    info = flavor.run(connect(simulator).call(GetSystemInfo()))
    assert isinstance(info, SystemInfo)
    assert "simulator" in (info.description or "")
    assert info.is_unicode is True
    assert simulator.logins == 0  # SoPrincipal calls need no ticket


# -- tickets and application tokens ----------------------------------------------------------


def test_an_expired_ticket_means_a_transparent_new_login(
    simulate: Callable[..., NetServerSimulator], connect: Callable[..., Any], flavor: SyncFlavor
) -> None:
    simulator = simulate()
    client = connect(simulator)
    job_id = flavor.run(client.start_batch_job(EXPORT))
    assert simulator.logins == 1
    simulator.expire_tickets()
    assert flavor.run(client.get_batch_task_info(job_id)).id == job_id
    assert simulator.logins == 2
    assert simulator.calls == [
        "AuthenticateUsernamePassword",
        "StartBatchJob",
        "GetBatchTaskInfo",  # refused: ticket expired
        "AuthenticateUsernamePassword",
        "GetBatchTaskInfo",
    ]


def test_tickets_expire_after_going_unused_for_their_lifetime(
    simulate: Callable[..., NetServerSimulator], connect: Callable[..., Any], flavor: SyncFlavor
) -> None:
    clock = FakeClock()
    simulator = simulate(clock=clock, ticket_lifetime=100.0)
    client = connect(simulator)
    job_id = flavor.run(client.start_batch_job(EXPORT))
    for _ in range(3):  # each use starts the lifetime again
        clock.advance(99.0)
        flavor.run(client.get_batch_task_info(job_id))
    assert simulator.logins == 1
    clock.advance(100.0)
    flavor.run(client.get_batch_task_info(job_id))
    assert simulator.logins == 2


def test_the_ticket_refusal_is_what_the_library_recognises(
    simulate: Callable[..., NetServerSimulator], connect: Callable[..., Any], flavor: SyncFlavor
) -> None:
    simulator = simulate()
    client = connect(simulator, ticket=simulator.issue_ticket())
    job_id = flavor.run(client.start_batch_job(EXPORT))
    simulator.expire_tickets()
    with pytest.raises(ServiceError) as caught:
        flavor.run(client.get_batch_task_info(job_id))
    assert is_ticket_rejection(caught.value)
    assert caught.value.status_code == 200
    assert simulator.logins == 0  # issue_ticket is no login


@pytest.mark.parametrize(
    "ticket", [None, "7T:bm90LWlzc3VlZA==", ""], ids=["none", "unknown", "empty"]
)
def test_batch_calls_without_a_valid_ticket_are_refused(
    simulate: Callable[..., NetServerSimulator], ticket: str | None
) -> None:
    simulator = simulate()
    operation = StartBatchJob(EXPORT)
    with pytest.raises(ServiceError) as caught:
        result_of(send(simulator, build(operation, ticket=ticket)), operation)
    assert caught.value.exception_type == "SuperOffice.CRM.Security.SoSessionException"
    assert caught.value.message.startswith("Failed to validate tokens: ")
    assert is_ticket_rejection(caught.value)
    assert simulator.jobs == []


def test_online_calls_need_the_application_token(
    simulate: Callable[..., NetServerSimulator], connect: Callable[..., Any], flavor: SyncFlavor
) -> None:
    simulator = simulate(online=True)
    for token in (None, "wrong-token"):
        with pytest.raises(ServiceError) as caught:
            flavor.run(connect(simulator, application_token=token).start_batch_job(EXPORT))
        assert caught.value.message == "Application token is missing or invalid"
        assert not is_ticket_rejection(caught.value)
    # Batch.svc checks it too, ticket or not.
    with pytest.raises(ServiceError, match="Application token"):
        flavor.run(connect(simulator, ticket=simulator.issue_ticket()).start_batch_job(EXPORT))
    assert simulator.jobs == []
    client = connect(simulator, application_token="demo-app-token")
    assert flavor.run(client.start_batch_job(EXPORT)) == 1
    assert simulator.logins == 1


def test_online_application_token_can_be_chosen(
    simulate: Callable[..., NetServerSimulator], connect: Callable[..., Any], flavor: SyncFlavor
) -> None:
    simulator = simulate(online=True, application_token="my-secret")
    with pytest.raises(ServiceError):
        flavor.run(connect(simulator, application_token="demo-app-token").start_batch_job(EXPORT))
    client = connect(simulator, application_token="my-secret")
    assert flavor.run(client.start_batch_job(EXPORT)) == 1


def test_on_site_the_application_token_is_not_checked(
    simulate: Callable[..., NetServerSimulator], connect: Callable[..., Any], flavor: SyncFlavor
) -> None:
    simulator = simulate()
    client = connect(simulator, application_token="anything")
    assert flavor.run(client.start_batch_job(EXPORT)) == 1


# -- Batch: the job lifecycle ------------------------------------------------------------------


def test_a_job_goes_through_the_states_on_the_clock(
    simulate: Callable[..., NetServerSimulator],
) -> None:
    clock = FakeClock()
    simulator = simulate(clock=clock, job_duration=10.0)
    job_id = started_job(simulator)
    seen = []
    for at in (0.2, 0.7, 1.45, 5.05, 9.99, 10.0, 500.0):
        clock.now = 1000.0 + at
        info = job(simulator, job_id)
        seen.append((info.state, info.progress_percent, info.progress_description, info.result))
    assert seen == [
        (STATES.NEW, 0, None, None),
        (STATES.AQUIRED, 0, None, None),
        (STATES.STARTED, 0, "Starting", None),
        (STATES.STARTED, 40, "Processing 40%", None),
        (STATES.STARTED, 90, "Processing 90%", None),
        (STATES.SUCCEEDED, 100, "Finished", "Completed"),
        (STATES.SUCCEEDED, 100, "Finished", "Completed"),
    ]


def test_a_started_task_keeps_what_was_sent_and_gets_server_fields(
    simulate: Callable[..., NetServerSimulator], connect: Callable[..., Any], flavor: SyncFlavor
) -> None:
    simulator = simulate()
    client = connect(simulator)
    sent = BatchTaskInfo(
        id=999,
        name="ExportTask",
        associate_id=77,
        parameter_object={"format": "csv", "empty": None},
        description="Nightly export",
        request="everything",
        state=STATES.SUCCEEDED,
        start_count=9,
        file_name="export.csv",
        cancellation_behaviour=BatchTaskCancellationBehaviour.CANCEL_WITH_WARNING,
    )
    job_id = flavor.run(client.start_batch_job(sent))
    info = flavor.run(client.get_batch_task_info(job_id))
    assert job_id == info.id == 1
    assert info.associate_id == simulator.associate_id("demo")
    assert info.start_count == 1
    assert info.state in (STATES.NEW, STATES.AQUIRED, STATES.STARTED)
    assert info.created is not None
    assert info.created == info.last_started
    kept = ("name", "parameter_object", "description", "request", "file_name")
    assert {name: getattr(info, name) for name in kept} == {
        name: getattr(sent, name) for name in kept
    }
    assert info.cancellation_behaviour is BatchTaskCancellationBehaviour.CANCEL_WITH_WARNING


def test_run_batch_job_follows_a_job_to_succeeded(
    simulate: Callable[..., NetServerSimulator], connect: Callable[..., Any], flavor: SyncFlavor
) -> None:
    simulator = simulate(job_duration=0.3)
    client = connect(simulator)
    seen: list[BatchTaskInfo] = []
    info = flavor.run_within(
        10,
        lambda: client.run_batch_job(EXPORT, poll_interval=0.02, on_progress=seen.append),
    )
    assert info.state is STATES.SUCCEEDED
    assert (info.progress_percent, info.result) == (100, "Completed")
    assert seen[-1] == info
    percents = [snapshot.progress_percent for snapshot in seen]
    assert percents == sorted(percents)
    assert job(simulator, info.id).state is STATES.SUCCEEDED


def test_progress_is_reported_stage_by_stage(
    simulate: Callable[..., NetServerSimulator], connect: Callable[..., Any], flavor: SyncFlavor
) -> None:
    # Each read of the clock moves it: the job advances per call, whatever the machine's speed.
    simulator = simulate(clock=SteppingClock(0.05), job_duration=1.0)
    client = connect(simulator)
    seen: list[BatchTaskInfo] = []
    info = flavor.run_within(
        10, lambda: client.run_batch_job(EXPORT, poll_interval=0.001, on_progress=seen.append)
    )
    assert info.state is STATES.SUCCEEDED
    running = [snapshot for snapshot in seen if snapshot.state is STATES.STARTED]
    assert len({snapshot.progress_percent for snapshot in running}) >= 5
    for snapshot in running:
        expected = "Starting" if snapshot.progress_percent == 0 else "Processing {}%"
        assert snapshot.progress_description == expected.format(snapshot.progress_percent)
    assert [snapshot.progress_percent for snapshot in seen] == sorted(
        snapshot.progress_percent for snapshot in seen
    )


def test_a_failing_task_ends_failed(
    simulate: Callable[..., NetServerSimulator], connect: Callable[..., Any], flavor: SyncFlavor
) -> None:
    # The clock moves per read, so the jobs end after a few polls, not after real seconds.
    simulator = simulate(
        clock=SteppingClock(0.05), job_duration=0.2, failing_tasks=("FailingTask", "Broken")
    )
    client = connect(simulator)
    info = flavor.run_within(
        10, lambda: client.run_batch_job(BatchTaskInfo(name="FailingTask"), poll_interval=0.001)
    )
    assert info.state is STATES.FAILED
    assert info.result == "FailingTask failed: simulated failure"
    with pytest.raises(BatchTaskFailed, match="Broken failed"):
        flavor.run_within(
            10,
            lambda: client.run_batch_job(
                BatchTaskInfo(name="Broken"), poll_interval=0.001, raise_on_failure=True
            ),
        )


@pytest.mark.parametrize(
    ("behaviour", "stopped"),
    [
        (BatchTaskCancellationBehaviour.CAN_CANCEL, True),
        (BatchTaskCancellationBehaviour.CANCEL_WITH_WARNING, True),
        (BatchTaskCancellationBehaviour.CANNOT_CANCEL, False),
    ],
)
def test_stop_batch_job_honours_the_cancellation_behaviour(
    simulate: Callable[..., NetServerSimulator],
    connect: Callable[..., Any],
    flavor: SyncFlavor,
    behaviour: BatchTaskCancellationBehaviour,
    stopped: bool,
) -> None:
    clock = FakeClock()
    simulator = simulate(clock=clock, job_duration=10.0)
    client = connect(simulator)
    job_id = flavor.run(
        client.start_batch_job(BatchTaskInfo(name="ExportTask", cancellation_behaviour=behaviour))
    )
    clock.advance(3.0)
    assert flavor.run(client.stop_batch_job(job_id)) is stopped
    clock.advance(20.0)  # past the job's end
    info = flavor.run(client.get_batch_task_info(job_id))
    if stopped:
        assert (info.state, info.result) == (STATES.FAILED, "Stopped by user")
    else:
        assert (info.state, info.result) == (STATES.SUCCEEDED, "Completed")
    # A finished job cannot be stopped.
    assert flavor.run(client.stop_batch_job(job_id)) is False


def test_update_batch_task_stores_only_its_four_fields(
    simulate: Callable[..., NetServerSimulator], connect: Callable[..., Any], flavor: SyncFlavor
) -> None:
    clock = FakeClock()
    simulator = simulate(clock=clock, job_duration=10.0)
    client = connect(simulator)
    job_id = flavor.run(client.start_batch_job(EXPORT))
    clock.advance(5.0)
    current = flavor.run(client.get_batch_task_info(job_id))
    changed = attrs.evolve(
        current,
        name="Renamed",
        description="new description",
        response="new response",
        request="new request",
        file_name="ignored.csv",
        progress_percent=3,
    )
    stored = flavor.run(client.update_batch_task(changed))
    assert stored == flavor.run(client.get_batch_task_info(job_id))
    assert (stored.description, stored.response, stored.request) == (
        "new description",
        "new response",
        "new request",
    )
    assert (stored.name, stored.file_name, stored.progress_percent) == ("ExportTask", None, 40)
    clock.advance(1.0)  # the same state as read: the job goes on running
    assert flavor.run(client.get_batch_task_info(job_id)).progress_percent == 50
    finished = flavor.run(client.update_batch_task(attrs.evolve(stored, state=STATES.SUCCEEDED)))
    assert finished.state is STATES.SUCCEEDED
    clock.advance(100.0)  # a state set by an update stays
    assert flavor.run(client.get_batch_task_info(job_id)).state is STATES.SUCCEEDED
    with pytest.raises(ServiceError, match="query filter"):
        flavor.run(client.update_batch_task(attrs.evolve(stored, state=STATES.ALL)))


def test_delete_batch_task_and_tasks(
    simulate: Callable[..., NetServerSimulator], connect: Callable[..., Any], flavor: SyncFlavor
) -> None:
    simulator = simulate()
    client = connect(simulator)
    ids = [flavor.run(client.start_batch_job(EXPORT)) for _ in range(4)]
    assert flavor.run(client.delete_batch_task(ids[0])) is None
    assert flavor.run(client.delete_batch_tasks([ids[1], ids[2], 999])) is None
    assert [info.id for info in simulator.jobs] == [ids[3]]
    with pytest.raises(ServiceError, match=f"Batch task {ids[0]} does not exist"):
        flavor.run(client.get_batch_task_info(ids[0]))
    # Ids are never reused.
    assert flavor.run(client.start_batch_job(EXPORT)) == 5


@pytest.mark.parametrize("call", ["get", "stop", "delete", "update"])
def test_an_unknown_task_id_is_a_business_error(
    simulate: Callable[..., NetServerSimulator],
    connect: Callable[..., Any],
    flavor: SyncFlavor,
    call: str,
) -> None:
    client = connect(simulate())
    methods: dict[str, Callable[[], Any]] = {
        "get": lambda: client.get_batch_task_info(42),
        "stop": lambda: client.stop_batch_job(42),
        "delete": lambda: client.delete_batch_task(42),
        "update": lambda: client.update_batch_task(BatchTaskInfo(id=42, name="X")),
    }
    with pytest.raises(ServiceError) as caught:
        flavor.run(methods[call]())
    assert caught.value.exception_type == "SuperOffice.Exceptions.SoDataNotFoundException"
    assert caught.value.message == "Batch task 42 does not exist"
    assert caught.value.parameters == {"Id": "42"}
    assert not is_ticket_rejection(caught.value)


@pytest.mark.parametrize("name", [None, "", "   "])
def test_start_batch_job_needs_a_task_name(
    simulate: Callable[..., NetServerSimulator],
    connect: Callable[..., Any],
    flavor: SyncFlavor,
    name: str | None,
) -> None:
    simulator = simulate()
    with pytest.raises(ServiceError) as caught:
        flavor.run(connect(simulator).start_batch_job(BatchTaskInfo(name=name)))
    assert caught.value.exception_type == "System.ArgumentException"
    assert "Name" in (caught.value.message or "")
    assert simulator.jobs == []


class TestQueries:
    """The nine query operations over one set of tasks, their filters as PROTOCOL.md says.

    Tasks (ids in start order): 1 ImportTask by demo, finished; 2 Cleanup, a system task,
    finished; 3 ExportTask by demo and 4 ExportTask by alice, both new.
    """

    IDS: ClassVar[dict[str, int]] = {"demo-import": 1, "cleanup": 2, "demo-export": 3}

    @pytest.fixture
    def client(
        self,
        simulate: Callable[..., NetServerSimulator],
        connect: Callable[..., Any],
        flavor: SyncFlavor,
    ) -> Any:
        clock = FakeClock()
        simulator = simulate(clock=clock, job_duration=10.0, users={"demo": "demo", "alice": "a"})
        demo = connect(simulator)
        alice = connect(simulator, auth=UsernamePassword("alice", "a"))
        flavor.run(demo.start_batch_job(BatchTaskInfo(name="ImportTask")))
        flavor.run(demo.start_batch_job(BatchTaskInfo(name="Cleanup", is_system_task=True)))
        clock.advance(10.0)
        flavor.run(demo.start_batch_job(EXPORT))
        flavor.run(alice.start_batch_job(EXPORT))
        owners = [(info.id, info.associate_id) for info in simulator.jobs]
        assert owners == [(1, 1), (2, 0), (3, 1), (4, 2)]
        return demo

    @staticmethod
    def ids(flavor: SyncFlavor, outcome: Any) -> list[int]:
        return [info.id for info in flavor.run(outcome)]

    def test_by_associates(self, client: Any, flavor: SyncFlavor) -> None:
        assert self.ids(flavor, client.get_batch_task_infos_by_associates([])) == [1, 2, 3, 4]
        assert self.ids(flavor, client.get_batch_task_infos_by_associates([0])) == [2]
        assert self.ids(flavor, client.get_batch_task_infos_by_associates([-1])) == [1, 3, 4]
        assert self.ids(flavor, client.get_batch_task_infos_by_associates([1])) == [1, 3]
        assert self.ids(flavor, client.get_batch_task_infos_by_associates([0, 2])) == [2, 4]
        assert self.ids(flavor, client.get_batch_task_infos_by_associates([99])) == []

    def test_by_state_covers_user_tasks_only(self, client: Any, flavor: SyncFlavor) -> None:
        by_state = client.get_batch_task_infos_by_state
        assert self.ids(flavor, by_state(STATES.SUCCEEDED)) == [1]
        assert self.ids(flavor, by_state(STATES.NEW)) == [3, 4]
        assert self.ids(flavor, by_state(STATES.ALL)) == [1, 3, 4]
        assert self.ids(flavor, by_state(STATES.FAILED)) == []

    def test_by_name_and_state(self, client: Any, flavor: SyncFlavor) -> None:
        query = client.get_batch_task_infos_by_name_and_state
        assert self.ids(flavor, query("exporttask", STATES.NEW)) == [3, 4]  # case ignored
        assert self.ids(flavor, query("ExportTask", STATES.SUCCEEDED)) == []
        assert self.ids(flavor, query("", STATES.ALL)) == [1, 3, 4]
        assert self.ids(flavor, query(None, STATES.SUCCEEDED)) == [1]
        assert self.ids(flavor, query("Cleanup", STATES.ALL)) == []  # a system task

    def test_by_name_and_associates(self, client: Any, flavor: SyncFlavor) -> None:
        query = client.get_batch_task_infos_by_name_and_associates
        assert self.ids(flavor, query("ExportTask", [2])) == [4]
        assert self.ids(flavor, query("ExportTask", [])) == [3, 4]
        assert self.ids(flavor, query("Cleanup", [0])) == [2]
        assert self.ids(flavor, query("ImportTask", [2])) == []

    def test_by_associates_and_state(self, client: Any, flavor: SyncFlavor) -> None:
        query = client.get_batch_task_infos_by_associates_and_state
        assert self.ids(flavor, query([1], STATES.NEW)) == [3]
        assert self.ids(flavor, query([0], STATES.SUCCEEDED)) == [2]
        assert self.ids(flavor, query([-1], STATES.ALL)) == [1, 3, 4]

    def test_all_by_name_covers_system_and_user_tasks(
        self, client: Any, flavor: SyncFlavor
    ) -> None:
        assert self.ids(flavor, client.get_all_batch_task_infos_by_name("")) == [1, 2, 3, 4]
        assert self.ids(flavor, client.get_all_batch_task_infos_by_name(None)) == [1, 2, 3, 4]
        assert self.ids(flavor, client.get_all_batch_task_infos_by_name("Cleanup")) == [2]
        query = client.get_all_batch_task_infos_by_name_and_state
        assert self.ids(flavor, query("", STATES.SUCCEEDED)) == [1, 2]
        assert self.ids(flavor, query("ExportTask", STATES.ALL)) == [3, 4]

    def test_system_queries_cover_system_tasks_only(self, client: Any, flavor: SyncFlavor) -> None:
        assert self.ids(flavor, client.get_system_batch_task_infos_by_name("")) == [2]
        assert self.ids(flavor, client.get_system_batch_task_infos_by_name("ExportTask")) == []
        query = client.get_system_batch_task_infos_by_name_and_state
        assert self.ids(flavor, query("Cleanup", STATES.SUCCEEDED)) == [2]
        assert self.ids(flavor, query("Cleanup", STATES.NEW)) == []

    def test_results_are_whole_tasks(self, client: Any, flavor: SyncFlavor) -> None:
        (info,) = flavor.run(client.get_batch_task_infos_by_state(STATES.SUCCEEDED))
        assert (info.name, info.state, info.progress_percent) == (
            "ImportTask",
            STATES.SUCCEEDED,
            100,
        )
        assert flavor.run(client.get_batch_task_info(1)) == info


# -- fault injection -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        pytest.param({"drop": "before_read"}, TransportError, id="drop-before-read"),
        pytest.param({"drop": "after_read"}, TransportError, id="drop-after-read"),
        pytest.param({"http_status": 500}, HttpError, id="500"),
        pytest.param({"http_status": 502}, HttpError, id="502"),
        pytest.param({"http_status": 503}, HttpError, id="503"),
        pytest.param({"truncate": True}, ProtocolError, id="truncate"),
        # Longer than the client's timeout of 0.3 s.
        pytest.param({"delay": 2.0}, TransportError, id="delay"),
    ],
)
def test_each_fault_is_the_right_library_error_for_one_request(
    simulate: Callable[..., NetServerSimulator],
    connect: Callable[..., Any],
    flavor: SyncFlavor,
    faults: dict[str, Any],
    expected: type[Exception],
) -> None:
    simulator = simulate()
    client = connect(simulator, timeout=0.3)
    job_id = flavor.run(client.start_batch_job(EXPORT))  # logged in, connection open
    for name, value in faults.items():
        setattr(simulator.faults, name, value)
    simulator.faults.count = 1
    with pytest.raises(expected) as caught:
        flavor.run_within(5, lambda: client.start_batch_job(EXPORT))
    if "http_status" in faults:
        assert caught.value.status_code == faults["http_status"]  # type: ignore[attr-defined]
    # Only that request: the next one is answered normally.
    assert simulator.faults.count is None
    assert flavor.run(client.get_batch_task_info(job_id)).id == job_id


def test_faults_without_a_count_last_until_reset(
    simulate: Callable[..., NetServerSimulator], connect: Callable[..., Any], flavor: SyncFlavor
) -> None:
    simulator = simulate()
    client = connect(simulator, ticket=simulator.issue_ticket())
    simulator.faults.http_status = 503
    for _ in range(3):
        with pytest.raises(HttpError):
            flavor.run(client.start_batch_job(EXPORT))
    reply = httpx.get(simulator.service_url() + "?wsdl", timeout=CLIENT_TIMEOUT)
    assert reply.status_code == 503  # every request, not only SOAP calls
    assert simulator.jobs == []
    simulator.faults.reset()
    assert flavor.run(client.start_batch_job(EXPORT)) == 1


def test_faults_apply_in_arrival_order_for_count_requests(
    simulate: Callable[..., NetServerSimulator],
) -> None:
    simulator = simulate()
    simulator.faults.http_status = 502
    simulator.faults.count = 2
    statuses = [
        httpx.get(simulator.service_url() + "?wsdl", timeout=CLIENT_TIMEOUT).status_code
        for _ in range(3)
    ]
    assert statuses == [502, 502, 200]


def test_truncated_replies_declare_their_shortened_length(
    simulate: Callable[..., NetServerSimulator],
) -> None:
    simulator = simulate()
    whole = httpx.get(simulator.service_url() + "?wsdl", timeout=CLIENT_TIMEOUT).content
    simulator.faults.truncate = True
    cut = httpx.get(simulator.service_url() + "?wsdl", timeout=CLIENT_TIMEOUT).content
    assert cut == whole[: len(whole) // 2]


def test_a_delay_is_only_a_delay(simulate: Callable[..., NetServerSimulator]) -> None:
    simulator = simulate()
    simulator.faults.delay = 0.3
    began = time.perf_counter()
    reply = httpx.get(simulator.service_url() + "?wsdl", timeout=CLIENT_TIMEOUT)
    assert reply.status_code == 200
    assert time.perf_counter() - began >= 0.3


FRONT_END_STATUSES = [
    # status, the Retry-After sent when faults.retry_after is 7, a text of the body
    pytest.param(401, None, "401 - Unauthorized", id="401"),
    pytest.param(403, None, "403 - Forbidden", id="403"),
    pytest.param(421, None, "Wrong subdomain used to access tenant", id="421"),
    pytest.param(429, "7", "429 - Too Many Requests", id="429"),
    pytest.param(503, None, "503 - Service Unavailable", id="503"),
]
"""What ``faults.http_status`` answers with: the same on both simulators (the Online one's
tests use this table too)."""


@pytest.mark.parametrize(("status", "retry_after", "body"), FRONT_END_STATUSES)
def test_the_front_ends_statuses_can_be_rehearsed(
    simulate: Callable[..., NetServerSimulator], status: int, retry_after: str | None, body: str
) -> None:
    simulator = simulate()
    simulator.faults.http_status = status
    simulator.faults.retry_after = 7
    simulator.faults.count = 1
    request = build(GetBatchTaskInfo(1), ticket=simulator.issue_ticket())
    refused = send(simulator, request)
    assert refused.status_code == status
    assert body in refused.text
    assert refused.headers.get("retry-after") == retry_after  # on the 429 only
    assert simulator.calls == []  # the front end answered: the service never saw it
    assert send(simulator, request).status_code == 200


def test_retry_after_is_one_second_unless_set(simulate: Callable[..., NetServerSimulator]) -> None:
    simulator = simulate()
    simulator.faults.http_status = 429
    assert repr(simulator.faults) == "Faults({'http_status': 429}, count=None)"
    reply = httpx.get(simulator.service_url() + "?wsdl", timeout=CLIENT_TIMEOUT)
    assert (reply.status_code, reply.headers["retry-after"]) == (429, "1")
    simulator.faults.retry_after = 0
    reply = httpx.get(simulator.service_url() + "?wsdl", timeout=CLIENT_TIMEOUT)
    assert reply.headers["retry-after"] == "0"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("drop", "sideways"),
        ("http_status", 404),
        ("delay", -1),
        ("count", 0),
        ("retry_after", -1),
        ("retry_after", 0.5),
    ],
)
def test_fault_settings_are_checked(name: str, value: object) -> None:
    simulator = NetServerSimulator()
    with pytest.raises(ValueError, match=name):
        setattr(simulator.faults, name, value)


# -- options, the plugin, packaging ------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"soap": "1.1"}, TypeError),
        ({"job_duration": -1}, ValueError),
        ({"ticket_lifetime": 0}, ValueError),
        ({"ticket_lifetime": "long"}, TypeError),
        ({"users": {"demo": 1234}}, TypeError),
        ({"failing_tasks": "FailingTask"}, TypeError),
        ({"clock": 12.0}, TypeError),
    ],
)
def test_options_are_checked(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        NetServerSimulator(**options)


def test_issue_ticket_is_for_known_users_only() -> None:
    simulator = NetServerSimulator(users={"alice": "a"})
    assert simulator.issue_ticket("alice").startswith("7T:")
    with pytest.raises(ValueError, match="no such user"):
        simulator.issue_ticket("demo")


def test_jobs_are_snapshots(simulate: Callable[..., NetServerSimulator]) -> None:
    clock = FakeClock()
    simulator = simulate(clock=clock, job_duration=10.0)
    job_id = started_job(simulator)
    before = simulator.jobs
    clock.advance(10.0)
    assert before[0].state is STATES.NEW
    assert job(simulator, job_id).state is STATES.SUCCEEDED


def test_the_plugin_fixtures_start_and_stop_simulators(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["superoffice_batch.testing"]')
    pytester.makepyfile(
        """
        import httpx
        import pytest
        from superoffice_batch.testing import NetServerSimulator, SoapMode

        URLS = []

        def wsdl(simulator):
            return httpx.get(simulator.service_url() + "?wsdl", timeout=5).status_code

        def test_netserver(netserver):
            assert isinstance(netserver, NetServerSimulator)
            assert (netserver.soap, netserver.online) == (SoapMode.SOAP11, False)
            assert wsdl(netserver) == 200
            URLS.append(netserver.service_url())

        def test_netserver_factory(netserver_factory):
            both = netserver_factory(soap=SoapMode.BOTH)
            online = netserver_factory(online=True, job_duration=1.0)
            assert both.soap is SoapMode.BOTH and online.online
            assert wsdl(both) == wsdl(online) == 200
            URLS.extend([both.service_url(), online.service_url()])

        def test_all_were_stopped():
            assert len(URLS) == 3
            for url in URLS:
                with pytest.raises(httpx.ConnectError):
                    httpx.get(url + "?wsdl", timeout=5)
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


@pytest.mark.slow
def test_importing_the_package_leaves_the_simulator_and_pytest_alone() -> None:
    script = (
        "import sys, superoffice_batch\n"
        "assert not [m for m in sys.modules if m.startswith('superoffice_batch.testing')]\n"
        "import superoffice_batch.testing as testing\n"
        "assert 'pytest' not in sys.modules and 'zeep' not in sys.modules\n"
        "assert not hasattr(testing, 'netserver')\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
