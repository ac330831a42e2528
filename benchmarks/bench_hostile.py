"""What a hostile endpoint costs: masking a large body, a dripping server, idle connections.

Three measurements, each against loopback only and bounded in time::

    .venv/bin/python benchmarks/bench_hostile.py [--mib 10] [--drip 0.3]

1. The time and peak memory (tracemalloc) of ``reveal`` over a whole body of ``--mib`` MiB
   (as DEBUG logging masks envelopes), for each shape of escaped secret.
2. How long a dripping server holds a call, sync and async: one that drips header lines
   every 0.5 s (``timeout=2, call_deadline=5``); one that drips its body a byte every
   ``--drip`` seconds, for a read re-sent up to twice (same settings) and for a
   ``wait_for_batch_task(timeout=2)`` with the default ``call_deadline`` (120 s).
3. The simulator's thread count with 400 idle connections open, and how long 20 calls
   take meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.server
import socket
import threading
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from superoffice_batch import AsyncBatchClient, BatchClient, BatchTaskInfo, SuperOfficeError
from superoffice_batch.servertext import ServerText, reveal
from superoffice_batch.testing import NetServerSimulator

TICKET = "7T:dGhpcyBpcyBhIHRpY2tldA=="
SECRETS = (TICKET, "client-secret-0001", "pässwört")

SHAPES: dict[str, str] = {
    "ordinary markup": "<p>Service Unavailable, try later</p>\n",
    "decimal references (attack)": "&#55;T&#58;",
    "hex references of a ticket": "&#x37;&#x54;&#x3a;dGhpcyBpcyBhIHRpY2tldA&#x3d;&#x3d; ",
    "percent runs (attack)": "%41" * 40 + " ",
    "json escapes (attack)": "\\u0041" * 20 + " ",
    "html-encoded password": "p&#228;ssw&#246;rt ",
    "double escapes (attack)": "&amp;#55;",
    "whitespace runs (attack)": "a\n\t",
}


def masking(mib: float) -> None:
    print(f"{'shape':34} {'MiB':>5} {'seconds':>8} {'peak MiB':>9}")
    for name, unit in SHAPES.items():
        text = ServerText((unit * (int(mib * 1024 * 1024) // len(unit) + 1)).encode())
        began = time.perf_counter()
        reveal(text, SECRETS)
        seconds = time.perf_counter() - began
        tracemalloc.start()
        reveal(text, SECRETS)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        print(f"{name:34} {mib:5.1f} {seconds:8.2f} {peak:9.0f}")


class _Dripping(http.server.BaseHTTPRequestHandler):
    """Drips its reply: the body one byte every ``drip`` seconds, or (``headers``) header
    lines one every ``drip`` seconds, never ending the headers."""

    protocol_version = "HTTP/1.1"
    drip = 0.3
    headers_only = False
    body = b"<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'>" + b" " * 4000

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        pieces: Iterator[bytes]
        if self.headers_only:
            self.flush_headers()
            pieces = (b"X-A: b\r\n" for _ in range(4000))  # at most 4000 * drip seconds
        else:
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
            pieces = (self.body[offset : offset + 1] for offset in range(len(self.body)))
        for piece in pieces:
            try:
                self.wfile.write(piece)
                self.wfile.flush()
            except OSError:
                return
            time.sleep(self.drip)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def _dripping_server(drip: float, *, headers: bool = False) -> Iterator[str]:
    _Dripping.drip = drip
    _Dripping.headers_only = headers
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Dripping)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _held(call: Callable[[], object]) -> float:
    began = time.monotonic()
    with contextlib.suppress(SuperOfficeError):
        call()
    return time.monotonic() - began


def _held_async(
    url: str, options: dict[str, Any], call: Callable[[Any], Awaitable[object]]
) -> float:
    async def run() -> float:
        async with AsyncBatchClient(url, **options) as client:
            began = time.monotonic()
            with contextlib.suppress(SuperOfficeError):
                await call(client)
            return time.monotonic() - began

    return asyncio.run(run())


def dripping(drip: float) -> None:
    """How long a dripping server holds a call, sync and async (issue 17, break 4)."""
    task = BatchTaskInfo(name="ExportTask")
    options: dict[str, Any] = {"ticket": TICKET, "timeout": 2.0, "call_deadline": 5.0}
    with _dripping_server(0.5, headers=True) as url:
        with BatchClient(url, **options) as client:
            held = _held(lambda: client.start_batch_job(task))
        print(f"header lines every 0.5 s, timeout=2, call_deadline=5: sync  {held:6.2f} s")
        held = _held_async(url, options, lambda client: client.start_batch_job(task))
        print(f"header lines every 0.5 s, timeout=2, call_deadline=5: async {held:6.2f} s")
    with _dripping_server(drip) as url:
        with BatchClient(url, read_retries=2, **options) as client:
            held = _held(lambda: client.get_batch_task_info(4711))
        print(f"body byte every {drip} s, a read with read_retries=2:      sync  {held:6.2f} s")
        held = _held_async(url, options, lambda client: client.get_batch_task_info(4711))
        print(f"body byte every {drip} s, a read with read_retries=2:      async {held:6.2f} s")
        defaults: dict[str, Any] = {"ticket": TICKET}  # call_deadline 120 s
        with BatchClient(url, **defaults) as client:
            held = _held(lambda: client.wait_for_batch_task(4711, timeout=2.0))
        print(f"wait_for_batch_task(timeout=2), default call_deadline:  sync  {held:6.2f} s")
        held = _held_async(
            url, defaults, lambda client: client.wait_for_batch_task(4711, timeout=2.0)
        )
        print(f"wait_for_batch_task(timeout=2), default call_deadline:  async {held:6.2f} s")


def idle_connections(count: int = 400) -> None:
    before = threading.active_count()
    with NetServerSimulator(job_duration=0) as simulator:
        sockets = [socket.create_connection(("127.0.0.1", simulator.port)) for _ in range(count)]
        try:
            with BatchClient(simulator.base_url, ticket=simulator.issue_ticket()) as client:
                began = time.monotonic()
                for _ in range(20):
                    client.get_system_batch_task_infos_by_name("ExportTask")
                elapsed = time.monotonic() - began
            threads = threading.active_count() - before
        finally:
            for sock in sockets:
                sock.close()
    print(f"simulator threads with {count} idle connections: {threads}")
    print(f"20 calls meanwhile:          {elapsed:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=10.0)
    parser.add_argument("--drip", type=float, default=0.3)
    parser.add_argument("--deadline-only", action="store_true", help="measurement 2 only")
    args = parser.parse_args()
    if not args.deadline_only:
        masking(args.mib)
    dripping(args.drip)
    if not args.deadline_only:
        idle_connections()


if __name__ == "__main__":
    main()
