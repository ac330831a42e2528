"""What a hostile endpoint costs: masking a large body, a dripping server, idle connections.

Three measurements, each against loopback only and bounded in time::

    .venv/bin/python benchmarks/bench_hostile.py [--mib 10] [--drip 0.3]

1. The time and peak memory (tracemalloc) of ``reveal`` over a whole body of ``--mib`` MiB
   (as DEBUG logging masks envelopes), for each shape of escaped secret.
2. How long a server that drips its reply one byte every ``--drip`` seconds holds one
   call, and a ``wait_for_batch_task(timeout=2.0)``, with ``timeout=1.0`` and
   ``call_deadline=5.0``.
3. The simulator's thread count with 400 idle connections open, and how long 20 calls
   take meanwhile.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator

from superoffice_batch import BatchClient, SuperOfficeError
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
    protocol_version = "HTTP/1.1"
    drip = 0.3
    body = b"<s:Envelope xmlns:s='http://schemas.xmlsoap.org/soap/envelope/'>" + b" " * 4000

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        for offset in range(len(self.body)):  # at most 4000 * drip seconds
            try:
                self.wfile.write(self.body[offset : offset + 1])
                self.wfile.flush()
            except OSError:
                return
            time.sleep(self.drip)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def _dripping_server(drip: float) -> Iterator[str]:
    _Dripping.drip = drip
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Dripping)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def dripping(drip: float) -> None:
    with _dripping_server(drip) as url:
        options = {"ticket": TICKET, "timeout": 1.0, "call_deadline": 5.0}
        with BatchClient(url, read_retries=0, **options) as client:  # type: ignore[arg-type]
            began = time.monotonic()
            with contextlib.suppress(SuperOfficeError):
                client.get_batch_task_info(4711)
            print(f"one call held for            {time.monotonic() - began:6.2f} s")
        with BatchClient(url, **options) as client:  # type: ignore[arg-type]
            began = time.monotonic()
            with contextlib.suppress(SuperOfficeError):
                client.wait_for_batch_task(4711, timeout=2.0, poll_interval=0.1)
            print(f"wait(timeout=2.0) held for   {time.monotonic() - began:6.2f} s")


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
    args = parser.parse_args()
    masking(args.mib)
    dripping(args.drip)
    idle_connections()


if __name__ == "__main__":
    main()
