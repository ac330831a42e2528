"""A local NetServer stand-in: ``Batch.svc`` and ``SoPrincipal.svc`` over real HTTP.

:class:`NetServerSimulator` serves both services on loopback under any tenant prefix
(``/<prefix>/Remote/Services88/Batch.svc``, the path's case ignored, the prefix not
itself holding ``/Remote/Services88/``), as NetServer
behind WCF's ``BasicHttpBinding`` does (PROTOCOL.md sections 1-8):

* SOAP version by Content-Type (:class:`SoapMode`): the other one gets HTTP 415 with an
  empty body; an envelope of the other version a ``VersionMismatch`` fault.
* The action from ``SOAPAction`` (SOAP 1.1; quoted or not, as WCF takes it) or the
  Content-Type's ``action`` parameter (SOAP 1.2). An action the service does not have
  gets WCF's ``ActionNotSupported`` fault (HTTP 500); a request that is not a readable
  envelope (not XML, a DOCTYPE, another root element) a ``DeserializationFailed`` fault
  (HTTP 400), as does a body the operation cannot read (HTTP 500).
* Batch calls need a valid ticket in ``Credentials/Ticket`` (or an ``8A:`` access
  token); online, every call needs the ``ApplicationToken``. Refusals, unknown task ids
  and bad arguments are NetServer business errors: HTTP 200, the reply header
  ``Succeeded`` false and an ``ExceptionInfo``. A missing, expired or unknown ticket is
  refused as NetServer refuses credentials it cannot validate: a ``SoSessionException``
  whose message starts "Failed to validate tokens: " (both documented by SuperOffice,
  PROTOCOL.md section 7). The rest is the simulator's own: the namespace
  ``SuperOffice.CRM.Security`` and the words after the colon; so are the types and texts
  of the other refusals (PROTOCOL.md section 10: the real ones are unknown).
* ``GET …/<Service>.svc?wsdl`` answers the published WSDL, its address pointing here;
  anything else answers an HTML 404 page.

Tests steer it through :attr:`NetServerSimulator.faults` (see
:mod:`superoffice_batch.testing.faults`), an injectable clock, :meth:`issue_ticket` and
:meth:`expire_tickets`, and read it through :attr:`jobs`, :attr:`logins` and :attr:`calls`.
"""

from __future__ import annotations

import contextlib
import copy
import enum
import importlib.resources
import io
import logging
import queue
import re
import selectors
import socket
import threading
import time
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from functools import cache
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit

import attrs
from lxml import etree

from ..envelope import BATCH, SOPRINCIPAL, Service, SoapVersion, hardened_parser
from ..hosts import is_loopback
from ..models import BatchTaskInfo
from ..operations import Operation
from ..soprincipal import AUTHENTICATE_REPLY
from ..xmlvalues import TNS, Codec, WireField, checked_fields, tns
from . import soap
from .faults import FaultPlan, Faults
from .jobs import Clock, JobStore, TaskNotFound
from .services import BATCH_HANDLERS, SOPRINCIPAL_HANDLERS, Caller
from .sessions import Sessions

__all__ = ["NetServerSimulator", "SoapMode"]

DEFAULT_APPLICATION_TOKEN = "demo-app-token"
TENANT = "Cust12345"
"""The tenant prefix of :attr:`NetServerSimulator.base_url` (any other is served too)."""
MAX_REQUEST_BYTES = 10 * 1024 * 1024

_ADDRESSING_NONE = "http://schemas.microsoft.com/ws/2005/05/addressing/none"
_DISPATCHER = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"
_ROUTE = re.compile(
    r"(?P<prefix>/(?:.*/)?)remote/services88/(?P<service>batch|soprincipal)\.svc", re.IGNORECASE
)
_SERVICES_DIR = "/remote/services88/"
_WSDL_QUERIES = ("wsdl", "singlewsdl")
_MEDIA_TYPES = {"text/xml": SoapVersion.SOAP11, "application/soap+xml": SoapVersion.SOAP12}


_logger = logging.getLogger("superoffice_batch.testing")


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


# -- what is served ------------------------------------------------------------------------


@attrs.frozen
class _Endpoint:
    """One operation as served: how to read its arguments and write its result."""

    name: str
    operation: type[Operation[Any]]
    fields: tuple[WireField, ...]
    response: str
    result_member: str | None
    """The member of ``response`` holding the result; None: the members are the result's."""
    result_codec: Codec[Any]

    @classmethod
    def of(cls, operation: type[Operation[Any]]) -> _Endpoint:
        name = operation.__name__
        response = operation.RESPONSE_ELEMENT or f"{name}Response"
        returns = operation.RETURNS
        # The library reads AuthenticateResponse into an Authentication; its wire form is
        # the AuthenticateReply model.
        codec = AUTHENTICATE_REPLY if response == "AuthenticateResponse" else returns.codec
        fields = checked_fields(operation)
        member = None if returns.tag is None else returns.tag.partition("}")[2]
        return cls(name, operation, fields, response, member, codec)

    def default_result(self) -> object:
        """What a failed call carries in its body: null, or a value type's default."""
        if self.result_member is None or self.result_codec.nullable:
            return None
        return self.result_codec.default


@attrs.frozen
class _Service:
    """One ``.svc`` endpoint: the library's description of it, and its operations."""

    service: Service
    endpoints: Mapping[str, _Endpoint]
    """By action URI."""

    @classmethod
    def of(cls, service: Service, operations: Collection[type[Operation[Any]]]) -> _Service:
        return cls(service, {service.action(op.__name__): _Endpoint.of(op) for op in operations})


_SERVICES = {
    "batch": _Service.of(BATCH, BATCH_HANDLERS),
    "soprincipal": _Service.of(SOPRINCIPAL, SOPRINCIPAL_HANDLERS),
}


_SOAP_ADDRESS = "{http://schemas.xmlsoap.org/wsdl/soap/}address"


@cache
def _wsdl_tree(service: str) -> etree._Element:
    resource = importlib.resources.files(__package__) / "wsdl" / f"Services88-{service}.wsdl"
    return etree.fromstring(resource.read_bytes(), hardened_parser())


def _wsdl(service: str, address: str) -> bytes:
    """The published WSDL with ``soap:address`` pointing at ``address``."""
    wsdl = copy.deepcopy(_wsdl_tree(service))
    for element in wsdl.iter(_SOAP_ADDRESS):
        element.set("location", address)
    return etree.tostring(wsdl, xml_declaration=True, encoding="utf-8")


# -- answers -------------------------------------------------------------------------------


@attrs.frozen
class _Answer:
    """An HTTP answer: status, body and (if any) Content-Type."""

    status: int
    body: bytes = b""
    content_type: str | None = None

    def truncated(self) -> _Answer:
        return attrs.evolve(self, body=self.body[: len(self.body) // 2])


_STATUS_TEXTS = {
    400: "Bad Request",
    404: "File or directory not found.",
    405: "HTTP verb used to access this page is not allowed.",
    411: "Length Required",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    502: "Web server received an invalid response while acting as a gateway or proxy server.",
    503: "Service Unavailable",
}


def _page(status: int) -> _Answer:
    """An IIS-style HTML error page."""
    text = f"{status} - {_STATUS_TEXTS.get(status, 'Error')}"
    body = (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        f"<html><head><title>{text}</title></head>"
        f"<body><h1>Server Error</h1><h2>{text}</h2></body></html>"
    )
    return _Answer(status, body.encode("utf-8"), "text/html; charset=utf-8")


def _fault(
    version: SoapVersion, status: int, code: str, sub: tuple[str, str] | None, reason: str
) -> _Answer:
    return _Answer(status, soap.fault(version, code, sub, reason), soap.CONTENT_TYPES[version])


def _action_not_supported(version: SoapVersion, action: str) -> _Answer:
    reason = (
        f"The message with Action '{action}' cannot be processed at the receiver, due to a "
        "ContractFilter mismatch at the EndpointDispatcher. This may be because of either a "
        "contract mismatch (mismatched Actions between sender and receiver) or a "
        "binding/security mismatch between the sender and the receiver.  Check that sender "
        "and receiver have the same contract and the same binding (including security "
        "requirements, e.g. Message, Transport, None)."
    )
    return _fault(version, 500, "Sender", (_ADDRESSING_NONE, "ActionNotSupported"), reason)


def _deserialization_failed(version: SoapVersion, status: int, detail: str) -> _Answer:
    return _fault(version, status, "Sender", (_DISPATCHER, "DeserializationFailed"), detail)


def _formatter_failed(version: SoapVersion, detail: str) -> _Answer:
    reason = f"The formatter threw an exception while trying to deserialize the message: {detail}"
    return _deserialization_failed(version, 500, reason)


def _internal_fault(version: SoapVersion) -> _Answer:
    reason = (
        "The server was unable to process the request due to an internal error.  For more "
        "information about the error, either turn on IncludeExceptionDetailInFaults on the "
        "server or turn on tracing."
    )
    return _fault(version, 500, "Receiver", (_DISPATCHER, "InternalServiceFault"), reason)


def _action_of(headers: Message, version: SoapVersion) -> str:
    if version is SoapVersion.SOAP11:
        action = headers.get("SOAPAction", "")
        # WCF takes the value with or without the quotes SOAP 1.1 asks for.
        if len(action) >= 2 and action[0] == action[-1] == '"':
            action = action[1:-1]
        return action
    action_param = headers.get_param("action", "")
    return action_param if isinstance(action_param, str) else ""


class _BusinessError(Exception):
    """A NetServer business error: answered with HTTP 200, ``Succeeded`` false and this
    ``ExceptionInfo``."""

    def __init__(self, exception_type: str, message: str, **parameters: str) -> None:
        super().__init__(message)
        self.info = soap.ExceptionInfo(
            message=message,
            friendly_text=message,
            exception_type=exception_type,
            source="SuperOffice.Services88",
            parameters=parameters or None,
        )


SESSION_EXCEPTION = "SuperOffice.CRM.Security.SoSessionException"
"""The ``ExceptionType`` of a refused ticket: the class name is NetServer's (documented),
the namespace the simulator's guess."""


def _invalid_ticket() -> _BusinessError:
    # The documented prefix "Failed to validate tokens: ", then the simulator's own reason.
    return _BusinessError(SESSION_EXCEPTION, "Failed to validate tokens: ticket expired or invalid")


def _bad_application_token() -> _BusinessError:
    return _BusinessError(
        "SuperOffice.Exceptions.ApplicationTokenException",
        "Application token is missing or invalid",
    )


# -- the protocol --------------------------------------------------------------------------


class _Protocol:
    """Every decision about a request: which service, version, action, caller, result."""

    def __init__(
        self,
        *,
        soap_mode: SoapMode,
        application_token: str | None,
        sessions: Sessions,
        jobs: JobStore,
    ) -> None:
        self.soap_mode = soap_mode
        self.application_token = application_token
        self.sessions = sessions
        self.jobs = jobs
        self.calls: list[str] = []
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()

    def answer(self, method: str, target: str, headers: Message, body: bytes, host: str) -> _Answer:
        """The answer to one HTTP request (faults aside); ``host`` is ``host:port`` here."""
        url = urlsplit(target)
        route = _ROUTE.fullmatch(url.path)
        # A prefix holding the service path too is a base URL that already ended in
        # .../Batch.svc, with the service path appended again: IIS has no such file.
        if route is None or _SERVICES_DIR in route["prefix"].lower():
            return _page(404)
        service = _SERVICES[route["service"].lower()]
        if method == "GET" and url.query.lower() in _WSDL_QUERIES:
            wsdl = _wsdl(service.service.name, f"http://{host}{url.path}")
            return _Answer(200, wsdl, "text/xml; charset=UTF-8")
        if method != "POST":
            return _page(404)
        version = _MEDIA_TYPES.get(headers.get_content_type())
        if version is None or not self.soap_mode.accepts(version):
            return _Answer(415)
        tenant = _tenant(route["prefix"])
        try:
            call = _dispatch(service, version, headers, body, tenant)
            return call if isinstance(call, _Answer) else self._answer_call(call)
        except Exception as error:  # a simulator bug: answer as WCF does, keep it for tests
            with self.lock:
                self.errors.append(error)
            return _internal_fault(version)

    def _answer_call(self, call: _Call) -> _Answer:
        with self.lock:
            self.calls.append(call.endpoint.name)
        error = None
        try:
            result = self._perform(call)
        except _BusinessError as refused:
            error, result = refused.info, call.endpoint.default_result()
        endpoint, version = call.endpoint, call.incoming.version
        payload = soap.result(endpoint.response, endpoint.result_member, result)
        return _Answer(200, soap.reply(version, payload, error), soap.CONTENT_TYPES[version])

    def _perform(self, call: _Call) -> object:
        """Run the operation for its caller; ``_BusinessError`` when NetServer would refuse."""
        if self.application_token is not None and (
            call.incoming.header_text("ApplicationToken") != self.application_token
        ):
            raise _bad_application_token()
        operation = call.endpoint.operation
        if not call.service.service.takes_ticket:
            return SOPRINCIPAL_HANDLERS[operation](self.sessions, call.caller(None, 0), call.args)
        ticket = call.incoming.header_text("Credentials", "Ticket")
        user = self.sessions.user_of(ticket, call.tenant)
        if user is None:
            raise _invalid_ticket()
        caller = call.caller(user, self.sessions.associate_id(user))
        try:
            return BATCH_HANDLERS[operation](self.jobs, caller, call.args)
        except TaskNotFound as missing:
            raise _BusinessError(
                "SuperOffice.Exceptions.SoDataNotFoundException",
                f"Batch task {missing.task_id} does not exist",
                Id=str(missing.task_id),
            ) from None
        except ValueError as invalid:
            raise _BusinessError("System.ArgumentException", str(invalid)) from None


def _tenant(prefix: str) -> str | None:
    """The tenant a path prefix names: its first segment (``/Cust12345/`` -> ``Cust12345``)."""
    return prefix.strip("/").partition("/")[0] or None


@attrs.frozen
class _Call:
    """A request that reached an operation: what its answer depends on."""

    service: _Service
    endpoint: _Endpoint
    incoming: soap.Incoming
    args: dict[str, Any]
    tenant: str | None

    def caller(self, user: str | None, associate_id: int) -> Caller:
        return Caller(user, associate_id, self.tenant)


def _dispatch(
    service: _Service, version: SoapVersion, headers: Message, body: bytes, tenant: str | None
) -> _Call | _Answer:
    """The operation a request calls, with its arguments; or the fault WCF answers before
    any operation runs (unreadable envelope, wrong version, unknown action, bad body)."""
    incoming = _incoming(body, version)
    if isinstance(incoming, _Answer):
        return incoming
    action = _action_of(headers, version)
    endpoint = service.endpoints.get(action)
    if endpoint is None:
        return _action_not_supported(version, action)
    payload = incoming.payload
    if payload is None or payload.tag != tns(endpoint.name):
        found = "nothing" if payload is None else f"'{payload.tag}'"
        return _formatter_failed(
            version,
            f"Error in deserializing body of request message for operation "
            f"'{endpoint.name}'. Expected element '{tns(endpoint.name)}', found {found}.",
        )
    try:
        args = soap.read_arguments(payload, endpoint.fields)
    except ValueError as error:
        return _formatter_failed(
            version,
            f"There was an error while trying to deserialize parameter "
            f"{TNS}:{endpoint.name}. {error}",
        )
    return _Call(service, endpoint, incoming, args, tenant)


def _incoming(body: bytes, version: SoapVersion) -> soap.Incoming | _Answer:
    """The request envelope, or the fault WCF answers when there is none of ``version``."""
    try:
        return soap.read_envelope(body, version)
    except soap.Unreadable as error:
        return _deserialization_failed(version, 400, str(error))
    except soap.VersionMismatch as error:
        return _fault(version, 500, "VersionMismatch", None, str(error))


# -- HTTP ---------------------------------------------------------------------------------


class _Responder(Protocol):
    """What answers a server's requests: :class:`_Protocol`, or another front (Online's)."""

    def answer(
        self, method: str, target: str, headers: Message, body: bytes, host: str
    ) -> _Answer: ...


MAX_CONNECTIONS = 512
"""Connections the simulator keeps open at once; past it the longest idle one is closed."""
WORKERS = 8
"""Threads that answer requests: a fixed pool, whatever the number of connections."""
IDLE_TIMEOUT = 30.0
"""Seconds a connection may stay open with no request under way."""
REQUEST_DEADLINE = 10.0
"""Seconds from a request's first byte to its last: a trickle cannot extend it."""
_MAX_HEADER_BYTES = 64 * 1024


class _Connection:
    """One open connection while no worker has it: what it sent so far, and its deadline."""

    __slots__ = ("address", "buffer", "deadline", "sock")

    def __init__(self, sock: socket.socket, address: Any) -> None:
        self.sock = sock
        self.address = address
        self.buffer = b""
        self.deadline = 0.0

    def listen_from(self, now: float) -> None:
        """Waiting for the server to read again: idle, or with a request begun (pipelined)."""
        self.deadline = now + (REQUEST_DEADLINE if self.buffer else _Server.idle_timeout)

    def request_end(self) -> int | None:
        """Where the first complete request in the buffer ends, or None while incomplete.

        Only the framing is read here (headers, Content-Length); the handler checks the
        rest. A request the handler will refuse (no or bad length) ends with its headers.
        """
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return None
        head_end += 4
        declared = _content_length(self.buffer[:head_end])
        if declared is None or declared > MAX_REQUEST_BYTES:
            return head_end
        end = head_end + declared
        return end if len(self.buffer) >= end else None


def _content_length(head: bytes) -> int | None:
    for line in head.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == b"content-length":
            value = value.strip()
            return int(value) if value.isdigit() and len(value) <= 12 else None
    return None


class _Server:
    """An HTTP/1.1 server with bounded concurrency: one selector thread, a pool of workers.

    The selector thread accepts connections and reads each request whole, without
    blocking, before a worker sees it; so idle or trickling connections hold no thread,
    only a buffer. A connection is closed when it stays idle past :data:`IDLE_TIMEOUT`,
    when a request takes longer than :data:`REQUEST_DEADLINE` to arrive (counted from its
    first byte, so a trickle cannot extend it), or to make room past
    :data:`MAX_CONNECTIONS` (the longest idle one goes first). Workers answer one request
    and hand keep-alive connections back.
    """

    idle_timeout = IDLE_TIMEOUT

    def __init__(self, host: str, port: int, protocol: _Responder, faults: Faults) -> None:
        self.protocol = protocol
        self.faults = faults
        self.stopping = threading.Event()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # socketserver's default backlog of 5 drops connections when many clients start at once.
        self._listener = socket.create_server((host, port), family=family, backlog=128)
        self._listener.setblocking(False)
        address = self._listener.getsockname()
        self.server_name, self.server_port = str(address[0]), int(address[1])
        self.server_address = (self.server_name, self.server_port)
        self.authority = (
            f"[{self.server_name}]:{self.server_port}"
            if ":" in self.server_name
            else f"{self.server_name}:{self.server_port}"
        )
        """``host:port`` as URLs to this server write it."""
        self._idle: dict[socket.socket, _Connection] = {}
        self._busy: set[socket.socket] = set()
        # Connections the workers are done with, and whether to keep them open.
        self._returned: queue.SimpleQueue[tuple[_Connection, bool]] = queue.SimpleQueue()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._workers = ThreadPoolExecutor(WORKERS, thread_name_prefix="NetServerSimulator")
        self._selector = selectors.DefaultSelector()
        self._done = threading.Event()

    # -- the selector thread -----------------------------------------------------------

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Accept, read and dispatch requests until :meth:`shutdown`."""
        selector = self._selector
        selector.register(self._listener, selectors.EVENT_READ, None)
        selector.register(self._wake_reader, selectors.EVENT_READ, self._wake_reader)
        try:
            while not self.stopping.is_set():
                for key, _ in selector.select(poll_interval):
                    if key.data is None:
                        self._accept()
                    elif key.data is self._wake_reader:
                        self._wake_reader.recv(4096)
                    else:
                        self._receive(key.data)
                self._take_back()
                self._expire(time.monotonic())
        finally:
            self._done.set()

    def _accept(self) -> None:
        try:
            sock, address = self._listener.accept()
        except OSError:  # the client gave up already
            return
        if len(self._idle) + len(self._busy) >= MAX_CONNECTIONS:
            self._evict_one()
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self._listen(_Connection(sock, address))

    def _listen(self, connection: _Connection) -> None:
        connection.listen_from(time.monotonic())
        self._idle[connection.sock] = connection
        self._selector.register(connection.sock, selectors.EVENT_READ, connection)

    def _evict_one(self) -> None:
        if self._idle:
            oldest = min(self._idle.values(), key=lambda connection: connection.deadline)
            self._close(oldest)

    def _receive(self, connection: _Connection) -> None:
        try:
            data = connection.sock.recv(64 * 1024)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(connection)
            return
        if not connection.buffer:  # a request starts: its deadline is fixed now
            connection.deadline = time.monotonic() + REQUEST_DEADLINE
        connection.buffer += data
        self._dispatch_if_complete(connection)

    def _dispatch_if_complete(self, connection: _Connection) -> None:
        end = connection.request_end()
        if end is None:
            too_long = len(connection.buffer) > MAX_REQUEST_BYTES + _MAX_HEADER_BYTES
            if too_long or (
                b"\r\n\r\n" not in connection.buffer and len(connection.buffer) > _MAX_HEADER_BYTES
            ):
                self._close(connection)
            return
        request, connection.buffer = connection.buffer[:end], connection.buffer[end:]
        self._selector.unregister(connection.sock)
        del self._idle[connection.sock]
        self._busy.add(connection.sock)
        self._workers.submit(self._answer, connection, request)

    def _take_back(self) -> None:
        """Keep-alive connections the workers are done with, listened to again."""
        while True:
            try:
                connection, keep = self._returned.get_nowait()
            except queue.Empty:
                return
            self._busy.discard(connection.sock)
            if not keep or self.stopping.is_set():
                self._close(connection)
                continue
            connection.sock.setblocking(False)
            self._listen(connection)
            self._dispatch_if_complete(connection)  # a pipelined request may be whole

    def _expire(self, now: float) -> None:
        for connection in [item for item in self._idle.values() if item.deadline <= now]:
            self._close(connection)

    def _close(self, connection: _Connection) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(connection.sock)
        self._idle.pop(connection.sock, None)
        with contextlib.suppress(OSError):
            connection.sock.close()

    # -- the workers -------------------------------------------------------------------

    def _answer(self, connection: _Connection, request: bytes) -> None:
        keep = False
        try:
            # Blocking for the answer, but never longer than a request may take.
            connection.sock.settimeout(REQUEST_DEADLINE)
            keep = not _Handler(connection, self, request).close_connection
        except OSError:
            pass  # a client that went away is routine here
        if not keep:
            with contextlib.suppress(OSError):
                connection.sock.close()
        self._returned.put((connection, keep))
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"x")  # the selector thread takes it back at once

    # -- stopping ------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop the selector loop and wait for it."""
        self.stopping.set()
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"x")
        self._done.wait(5)

    def close_connections(self) -> None:
        """End every open connection, idle or being answered."""
        for connection in list(self._idle.values()):
            self._close(connection)
        for sock in list(self._busy):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def server_close(self) -> None:
        """Release the listening socket, the workers and what they handed back."""
        # Bounded: the busy connections were shut down, so their writes fail at once.
        self._workers.shutdown(wait=True, cancel_futures=True)
        self._take_back()
        for resource in (self._listener, self._wake_reader, self._wake_writer):
            with contextlib.suppress(OSError):
                resource.close()
        with contextlib.suppress(OSError):
            self._selector.close()

    def serve_in_thread(self, name: str, exposes: str) -> threading.Thread:
        """Serve in a started daemon thread; warn first when listening beyond loopback,
        where anyone who can reach this machine could use what ``exposes`` says."""
        if not is_loopback(self.server_name):
            _logger.warning(
                "the simulator listens on %s, beyond loopback: anyone who can reach this "
                "machine can %s",
                self.authority,
                exposes,
            )
        thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.02}, name=name, daemon=True
        )
        thread.start()
        return thread

    def stop(self, thread: threading.Thread) -> None:
        """Stop serving and close every connection; safe to call more than once."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        self.shutdown()
        self.close_connections()
        self.server_close()
        thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server: _Server  # type: ignore[assignment]  # a server of its own, no socketserver
    protocol_version = "HTTP/1.1"  # keep-alive, every answer with a Content-Length
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    # An answer written in pieces with Nagle's algorithm on waits ~40 ms for the client's
    # delayed ACK. Both are avoided: TCP_NODELAY, and a buffered writer (flushed after each
    # request) that sends the status line, headers and body in one write.
    wbufsize = 64 * 1024

    def __init__(self, connection: _Connection, server: _Server, request: bytes) -> None:
        self._request = request
        super().__init__(connection.sock, connection.address, server)  # type: ignore[arg-type]

    def setup(self) -> None:
        # The request was read whole by the selector thread (TCP_NODELAY is set there).
        self.connection = self.request
        self.rfile = io.BytesIO(self._request)
        self.wfile = self.connection.makefile("wb", self.wbufsize)

    def handle(self) -> None:
        # One request per dispatch: the next one is read by the selector thread.
        self.close_connection = True
        self.handle_one_request()

    def do_POST(self) -> None:
        self._serve()

    do_GET = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    def _serve(self) -> None:
        plan = self.server.faults.take()  # in arrival order: before anything is read
        if plan.drop == "before_read":
            self._hang_up()
            return
        body = self._read_body()
        if body is None:
            return
        # A delay ends early when the simulator stops; then nobody waits for the answer.
        if (plan.delay and self.server.stopping.wait(plan.delay)) or plan.drop == "after_read":
            self._hang_up()
            return
        self._write(self._answer(plan, body))

    def _hang_up(self) -> None:
        """Close the connection without a word (once this request's handling returns)."""
        self.close_connection = True

    def _answer(self, plan: FaultPlan, body: bytes) -> _Answer:
        if plan.http_status is not None:
            answer = _page(plan.http_status)
        else:
            answer = self.server.protocol.answer(
                self.command, self.path, self.headers, body, self.server.authority
            )
        return answer.truncated() if plan.truncate else answer

    def _read_body(self) -> bytes | None:
        """The request body, or None when the request was answered (or dropped) here."""
        declared = self.headers.get("Content-Length")
        if declared is None:
            if self.command != "POST":
                return b""
            self._refuse(411)
            return None
        if not declared.isdigit():
            self._refuse(400)
            return None
        if int(declared) > MAX_REQUEST_BYTES:
            self._refuse(413)
            return None
        body = self.rfile.read(int(declared))
        if len(body) < int(declared):  # the client went away mid-request
            self._hang_up()
            return None
        return body

    def _refuse(self, status: int) -> None:
        # The body is left unread, so the connection cannot carry another request.
        self.close_connection = True
        self._write(_page(status))

    def _write(self, answer: _Answer) -> None:
        self.send_response(answer.status)
        if answer.content_type is not None:
            self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read state from the simulator, not from stderr


# -- the public class ----------------------------------------------------------------------


class NetServerSimulator:
    """A NetServer (Batch.svc and SoPrincipal.svc) on a local port, in background threads.

    ::

        with NetServerSimulator(job_duration=0.5) as sim:
            with BatchClient(sim.base_url, auth=UsernamePassword("demo", "demo")) as client:
                info = client.run_batch_job(BatchTaskInfo(name="ExportTask"), poll_interval=0.1)

    Options: ``host``/``port`` (0 picks a free port); ``users`` (user name to password,
    for ``AuthenticateUsernamePassword``; default ``{"demo": "demo"}``); ``soap``
    (:class:`SoapMode`); ``online`` (then every call must carry the ``ApplicationToken``
    ``application_token``, default ``"demo-app-token"``); ``ticket_lifetime`` (seconds a
    ticket may go unused); ``job_duration`` (seconds from start to the end of a job);
    ``failing_tasks`` (task names that end ``Failed``); ``clock`` (a monotonic clock in
    seconds: inject one to control job progress and ticket expiry).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        users: Mapping[str, str] | None = None,
        soap: SoapMode = SoapMode.SOAP11,
        online: bool = False,
        application_token: str | None = None,
        ticket_lifetime: float = 6 * 3600.0,
        job_duration: float = 3.0,
        failing_tasks: Collection[str] = ("FailingTask",),
        clock: Clock = time.monotonic,
    ) -> None:
        if not isinstance(soap, SoapMode):
            raise TypeError(f"soap must be a SoapMode, not {soap!r}")
        users = {"demo": "demo"} if users is None else users
        if not all(isinstance(item, str) for pair in users.items() for item in pair):
            raise TypeError("users must map user names (str) to passwords (str)")
        if isinstance(failing_tasks, str):  # a lone name would be taken letter by letter
            raise TypeError("failing_tasks must be a collection of task names, not a str")
        if not callable(clock):
            raise TypeError(f"clock must be callable, not {type(clock).__name__}")
        _check_seconds("ticket_lifetime", ticket_lifetime, positive=True)
        _check_seconds("job_duration", job_duration, positive=False)
        self.host = host
        self._port = port
        self.soap = soap
        self.online = online
        self.application_token = (
            (application_token or DEFAULT_APPLICATION_TOKEN) if online else None
        )
        self.faults = Faults()
        """Fault injection for the next requests: see :mod:`superoffice_batch.testing.faults`."""
        self._sessions = Sessions(users, lifetime=ticket_lifetime, clock=clock)
        self._jobs = JobStore(clock=clock, job_duration=job_duration, failing_tasks=failing_tasks)
        self._protocol = _Protocol(
            soap_mode=soap,
            application_token=self.application_token,
            sessions=self._sessions,
            jobs=self._jobs,
        )
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifetime --------------------------------------------------------------------------

    def start(self) -> NetServerSimulator:
        """Listen and serve in a daemon thread; returns the simulator."""
        if self._server is not None:
            raise RuntimeError("the simulator was already started")
        self._server = _Server(self.host, self._port, self._protocol, self.faults)
        self._thread = self._server.serve_in_thread(
            f"NetServerSimulator:{self.port}", "log in as its users and read their tickets"
        )
        return self

    def stop(self) -> None:
        """Stop serving and close every connection; safe to call more than once."""
        if self._server is not None and self._thread is not None:
            self._server.stop(self._thread)

    def __enter__(self) -> NetServerSimulator:
        return self.start() if self._server is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port listened on (the one picked, once started with port 0)."""
        if self._server is None:
            return self._port
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The tenant URL to give a client, e.g. ``http://127.0.0.1:51234/Cust12345``."""
        if self._server is None:
            raise RuntimeError("start the simulator first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/{TENANT}"

    def service_url(self, service: str = "Batch") -> str:
        """The endpoint of ``"Batch"`` or ``"SoPrincipal"``; add ``?wsdl`` for its WSDL."""
        known = _SERVICES.get(service.lower())
        if known is None:
            raise ValueError(f"no such service: {service!r}")
        return f"{self.base_url}/{known.service.path}"

    # -- steering and reading --------------------------------------------------------------

    def issue_ticket(self, user: str = "demo") -> str:
        """A valid ticket for ``user`` without a SOAP call (not counted as a login)."""
        if not self._sessions.knows(user):
            raise ValueError(f"no such user: {user!r}")
        return self._sessions.issue(user)

    def expire_tickets(self) -> None:
        """Make every ticket issued so far invalid, as if each had outlived its lifetime."""
        self._sessions.expire_all()

    def associate_id(self, user: str) -> int:
        """The associate id of ``user``: the owner of the tasks that user starts."""
        return self._sessions.associate_id(user)

    @property
    def jobs(self) -> list[BatchTaskInfo]:
        """Every task as it is now, by id."""
        return self._jobs.snapshots()

    @property
    def logins(self) -> int:
        """Successful ``Authenticate…`` calls so far."""
        return self._sessions.logins

    @property
    def calls(self) -> list[str]:
        """The operations called so far, in order (requests refused before dispatch, e.g. by
        415 or ``ActionNotSupported``, are not in it)."""
        with self._protocol.lock:
            return list(self._protocol.calls)

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions the simulator itself raised while answering (answered as WCF's
        ``InternalServiceFault``); empty unless the simulator has a bug."""
        with self._protocol.lock:
            return list(self._protocol.errors)

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "not started"
        return f"<NetServerSimulator {where} soap={self.soap.value} online={self.online}>"


def _check_seconds(name: str, value: object, *, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'positive' if positive else 'at least 0'}, got {value}")
