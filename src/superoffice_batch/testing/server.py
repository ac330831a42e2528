"""The simulators' HTTP server: bounded HTTP/1.1 on loopback, answers as IIS writes them.

:class:`Server` accepts connections and reads each request whole on one selector thread,
then hands it to a fixed pool of workers, which ask a :class:`Responder` for the
:class:`Answer`. :mod:`~superoffice_batch.testing.simulator` (NetServer) and
:mod:`~superoffice_batch.testing.online` (Online's login and tenant hosts) both serve
through it, and both take their fault injection (:class:`~.faults.Faults`) here, before
a request reaches what they simulate.
"""

from __future__ import annotations

import contextlib
import io
import logging
import queue
import selectors
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol

import attrs

from ..hosts import is_loopback
from .faults import FaultPlan, Faults

__all__ = [
    "IDLE_TIMEOUT",
    "MAX_CONNECTIONS",
    "MAX_REQUEST_BYTES",
    "MISDIRECTED",
    "REQUEST_DEADLINE",
    "WORKERS",
    "Answer",
    "Responder",
    "Server",
    "misdirected",
    "page",
]

MAX_REQUEST_BYTES = 10 * 1024 * 1024
MISDIRECTED = "Wrong subdomain used to access tenant"
"""Online's text for HTTP 421 (PROTOCOL.md section 1)."""

_logger = logging.getLogger("superoffice_batch.testing")


@attrs.frozen
class Answer:
    """An HTTP answer: status, body, (if any) Content-Type, and any other headers."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def truncated(self) -> Answer:
        """The first half of the body, its Content-Length saying so."""
        return attrs.evolve(self, body=self.body[: len(self.body) // 2])


_STATUS_TEXTS = {
    400: "Bad Request",
    401: "Unauthorized: Access is denied due to invalid credentials.",
    403: "Forbidden: Access is denied.",
    404: "File or directory not found.",
    405: "HTTP verb used to access this page is not allowed.",
    411: "Length Required",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Web server received an invalid response while acting as a gateway or proxy server.",
    503: "Service Unavailable",
}


def page(status: int, headers: tuple[tuple[str, str], ...] = ()) -> Answer:
    """An IIS-style HTML error page."""
    text = f"{status} - {_STATUS_TEXTS.get(status, 'Error')}"
    body = (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
        f"<html><head><title>{text}</title></head>"
        f"<body><h1>Server Error</h1><h2>{text}</h2></body></html>"
    )
    return Answer(status, body.encode("utf-8"), "text/html; charset=utf-8", headers)


def misdirected() -> Answer:
    """Online's HTTP 421 Misdirected Request: the request was not processed on this host."""
    return Answer(421, MISDIRECTED.encode("utf-8"), "text/plain; charset=utf-8")


def _fault_answer(plan: FaultPlan) -> Answer | None:
    """The answer a fault plan puts in the service's place, if any."""
    if plan.http_status is None:
        return None
    if plan.http_status == 421:
        return misdirected()
    if plan.http_status == 429:
        return page(429, (("Retry-After", str(plan.retry_after)),))
    return page(plan.http_status)


class Responder(Protocol):
    """What answers a server's requests: NetServer's protocol, or another front (Online's)."""

    def answer(
        self, method: str, target: str, headers: Message, body: bytes, host: str
    ) -> Answer: ...


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
        self.deadline = now + (REQUEST_DEADLINE if self.buffer else Server.idle_timeout)

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


class Server:
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

    def __init__(self, host: str, port: int, protocol: Responder, faults: Faults) -> None:
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
    server: Server  # type: ignore[assignment]  # a server of its own, no socketserver
    protocol_version = "HTTP/1.1"  # keep-alive, every answer with a Content-Length
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    # An answer written in pieces with Nagle's algorithm on waits ~40 ms for the client's
    # delayed ACK. Both are avoided: TCP_NODELAY, and a buffered writer (flushed after each
    # request) that sends the status line, headers and body in one write.
    wbufsize = 64 * 1024

    def __init__(self, connection: _Connection, server: Server, request: bytes) -> None:
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

    def _answer(self, plan: FaultPlan, body: bytes) -> Answer:
        answer = _fault_answer(plan) or self.server.protocol.answer(
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
        self._write(page(status))

    def _write(self, answer: Answer) -> None:
        self.send_response(answer.status)
        if answer.content_type is not None:
            self.send_header("Content-Type", answer.content_type)
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read state from the simulator, not from stderr
