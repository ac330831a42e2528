"""Peak memory of a call answered by a compression bomb, one or two gzip layers.

The bomb (gzip of 4 GiB of zeros, ~4 MB; gzipped again, a few KB) is built a MiB at a
time, then served over loopback HTTP with ``Content-Encoding: gzip`` or ``gzip, gzip``.
Each case runs in a fresh process and reports how far the call raised its peak RSS::

    .venv/bin/python benchmarks/bench_decoding.py [--gib 4] [--limit-mib 10]
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import resource
import subprocess
import sys
import threading
import time
import zlib

from superoffice_batch import BatchClient, BatchTaskInfo, ProtocolError, SoapVersion

_CHUNK = 1024 * 1024


def bomb(size: int, layers: int) -> bytes:
    """``size`` zero bytes gzipped ``layers`` times, never holding more than a MiB of them."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(_CHUNK)
    parts = [compressor.compress(zeros) for _ in range(size // _CHUNK)]
    body = b"".join(parts) + compressor.flush()
    for _ in range(layers - 1):
        body = gzip.compress(body, 9)
    return body


def _serve(body: bytes, coding: str) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/soap+xml")
            self.send_header("Content-Encoding", coding)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # the client hangs up at the limit: that is the point

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_case(gib: float, layers: int, limit_mib: int) -> None:
    body = bomb(int(gib * 1024**3), layers)
    server = _serve(body, ", ".join(["gzip"] * layers))
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    with BatchClient(
        url,
        ticket="7T:abcdef",
        soap_version=SoapVersion.SOAP12,
        max_response_bytes=limit_mib * 1024 * 1024,
    ) as client:
        before = _peak_kib()
        started = time.perf_counter()
        try:
            client.start_batch_job(BatchTaskInfo(name="ExportTask"))
        except ProtocolError as error:
            outcome = f"ProtocolError: {error}"
        else:
            outcome = "no error?"
        elapsed = time.perf_counter() - started
    peak = _peak_kib()
    server.shutdown()
    print(
        f"gzip x{layers} of {gib:g} GiB zeros ({len(body)} bytes sent), limit {limit_mib} MiB: "
        f"peak RSS {before / 1024:.1f} -> {peak / 1024:.1f} MiB (+{(peak - before) / 1024:.1f}), "
        f"{elapsed:.2f} s; {outcome}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=4.0)
    parser.add_argument("--limit-mib", type=int, default=10)
    parser.add_argument("--case", type=int, choices=(1, 2), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        run_case(args.gib, args.case, args.limit_mib)
        return
    for layers in (1, 2):  # each in a process of its own: RSS peaks never go down
        command = [sys.executable, __file__, "--gib", str(args.gib), "--case", str(layers)]
        subprocess.run([*command, "--limit-mib", str(args.limit_mib)], check=True)


if __name__ == "__main__":
    main()
