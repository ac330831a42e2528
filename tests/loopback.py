"""A tiny HTTP server on 127.0.0.1 for tests that need real sockets instead of respx.

The server runs in a background thread on an ephemeral port, records every request and
answers each one from a script: a list of :class:`Answer` consumed in order, or a
function of the recorded request. Everything is bounded so that a broken client or test
cannot hang the run: request count, body size, socket timeouts and stalls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Answer", "LoopbackServer", "Seen"]

_MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Seen:
    """A request as the server received it. Header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    """What to do with one request.

    ``hang_up`` closes the connection without writing a byte; ``stall`` waits that many
    seconds (or until the server stops) before answering; ``drip`` writes the body one
    byte at a time, that many seconds apart (until the server stops); ``drip_headers``
    writes a header line that many seconds apart and never ends the headers.
    """

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    hang_up: bool = False
    stall: float = 0.0
    drip: float = 0.0
    drip_headers: float = 0.0


Responder = Callable[[Seen], Answer]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    loopback: LoopbackServer

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gave up (timeout, closed pool) is expected here; keep the output clean.
        self.loopback.handler_errors += 1


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Socket timeout for reads: an idle keep-alive connection cannot pin a thread forever.
    timeout = 5.0

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self.close_connection = True
            self._write(Answer(413, b"request body too large"))
            return
        body = self.rfile.read(length)
        seen = Seen(
            self.command,
            self.path,
            {name.lower(): value for name, value in self.headers.items()},
            body,
        )
        answer = self.server.loopback.record_and_answer(seen)
        if answer.stall:
            self.server.loopback.stopping.wait(answer.stall)
        if answer.hang_up:
            self.close_connection = True
            return
        self._write(answer)

    def _write(self, answer: Answer) -> None:
        self.send_response(answer.status)
        while answer.drip_headers:
            self.send_header("X-A", "b")
            self.flush_headers()
            if self.server.loopback.stopping.wait(answer.drip_headers):
                return
        for name, value in answer.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if not answer.drip:
            self.wfile.write(answer.body)
            return
        for offset in range(len(answer.body)):
            self.wfile.write(answer.body[offset : offset + 1])
            self.wfile.flush()
            if self.server.loopback.stopping.wait(answer.drip):
                return

    def log_message(self, format: str, *args: object) -> None:
        pass


class LoopbackServer:
    """An HTTP server on ``127.0.0.1:<ephemeral port>``; use it as a context manager.

    ``script`` is either a list of answers, used in order, or a function deciding the
    answer from the request. Requests past ``max_requests`` or past the end of the list
    get a 503, so a client that loops shows up as a wrong request count, not a hang.
    """

    def __init__(self, script: Iterable[Answer] | Responder, *, max_requests: int = 10) -> None:
        if callable(script):
            self._responder: Responder | None = script
            self._answers: list[Answer] = []
        else:
            self._responder = None
            self._answers = list(script)
        self.max_requests = max_requests
        self.requests: list[Seen] = []
        self.handler_errors = 0
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.loopback = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def record_and_answer(self, seen: Seen) -> Answer:
        with self._lock:
            self.requests.append(seen)
            if len(self.requests) > self.max_requests:
                return Answer(503, b"loopback: request limit reached")
            if self._responder is not None:
                return self._responder(seen)
            if not self._answers:
                return Answer(503, b"loopback: script exhausted")
            return self._answers.pop(0)

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        if self._thread.is_alive():
            raise RuntimeError("loopback server thread did not stop")

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
