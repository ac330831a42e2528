"""StartBatchJob: envelope size, build and parse cost, a loopback call, import time.

Compares superoffice-batch with zeep (the WSDL-driven alternative), a bare hardened
``lxml.etree.fromstring`` and a bare ``httpx.Client.post`` of the same bytes, all in one
run on one machine. Needs the ``bench`` extra (zeep)::

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python benchmarks/bench_start_batch_job.py

Figures are per call, the best of several repeats (the least disturbed run).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import http.server
import socket
import statistics
import subprocess
import sys
import timeit
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import ClassVar

import httpx
from lxml import etree

from superoffice_batch import BatchClient, BatchTaskInfo, Credentials, SoapVersion
from superoffice_batch.operations import StartBatchJob

ROOT = Path(__file__).resolve().parent.parent
WSDL = ROOT / "fixtures" / "wsdl" / "Services88-Batch.wsdl"
DOCUMENTED_REPLY = (
    ROOT / "fixtures" / "documented" / "seed-StartBatchJob-response.xml"
).read_bytes()
TICKET = "7T:1234abcxyzExample=="
TOKEN = "1234567-1234-9876"
WHEN = datetime(2025, 5, 7, 14, 30, 10, tzinfo=timezone.utc)


def documented_task() -> BatchTaskInfo:
    """The values of the documented example request."""
    return BatchTaskInfo(
        name="",
        parameter_object={"": ""},
        last_started=WHEN,
        created=WHEN,
        database_serial_number="",
        context="",
        result="",
        description="",
        response="",
        request="",
        progress_description="",
        file_name="",
    )


def per_call(function: Callable[[], object], number: int, repeat: int = 7) -> float:
    """Seconds per call: best of ``repeat`` runs of ``number`` calls."""
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number


def zeep_setup() -> tuple[object, Callable[[], object], Callable[[], object]]:
    import zeep  # optional: the bench extra

    client = zeep.Client(str(WSDL))
    headers = {"ApplicationToken": TOKEN, "Credentials": {"Ticket": TICKET}}
    task_type = client.get_type("ns0:BatchTaskInfo")
    dictionary = client.get_type("ns0:StringDictionary")
    task = task_type(
        Id=0,
        Name="",
        AssociateId=0,
        DetailsTable=0,
        DetailsRecord=0,
        IsSystemTask=False,
        IsInternalTask=False,
        ParameterObject=dictionary(StringKeyValuePair=[{"Key": "", "Value": ""}]),
        LastStarted=WHEN,
        Created=WHEN,
        StartCount=0,
        DatabaseSerialNumber="",
        Context="",
        Result="",
        State="Unknown",
        Description="",
        Response="",
        Request="",
        ProgressDescription="",
        ProgressPercent=0,
        FileName="",
        CancellationBehaviour="CanCancel",
    )

    def build() -> object:
        return client.create_message(
            client.service, "StartBatchJob", BatchTaskInfo=task, _soapheaders=headers
        )

    binding = client.service._binding
    operation = binding.get("StartBatchJob")
    reply = DOCUMENTED_REPLY.replace(
        b"http://www.w3.org/2003/05/soap-envelope", b"http://schemas.xmlsoap.org/soap/envelope/"
    )

    class Reply:
        status_code = 200
        content = reply
        encoding = "utf-8"
        headers: ClassVar[dict[str, str]] = {"Content-Type": "text/xml; charset=utf-8"}

    def parse() -> object:
        return binding.process_reply(client, operation, Reply())

    # The WSDL declares reply headers, so zeep returns {"header": ..., "body": {"Response": 0}}.
    assert parse()["body"]["Response"] == 0  # type: ignore[index]
    return client, build, parse


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    reply = DOCUMENTED_REPLY

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(self.reply)))
        self.end_headers()
        self.wfile.write(self.reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        # Without TCP_NODELAY every small reply waits ~40 ms for a delayed ACK.
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().server_bind()


@contextlib.contextmanager
def _server_process() -> Iterator[str]:
    """Serve the documented reply from a child process; yields the base URL."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}/Cust1"
    finally:
        process.terminate()
        process.wait(timeout=10)


def serve() -> None:
    """The child process: print the port, then serve until terminated."""
    server = _Server(("127.0.0.1", 0), _Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def import_seconds(statement: str, runs: int) -> float:
    """Median time a fresh interpreter takes for ``statement`` (timed inside it, so the
    interpreter's own start-up is not counted)."""

    def run(code: str) -> float:
        script = f"import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True)
        return float(out.stdout)

    return statistics.median(run(statement) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke test)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    scale = 0.05 if args.quick else 1.0

    def n(count: int) -> int:
        return max(1, int(count * scale))

    credentials = Credentials(ticket=TICKET, application_token=TOKEN)
    operation = StartBatchJob(documented_task())
    request12 = operation.to_request(credentials, SoapVersion.SOAP12)
    request11 = operation.to_request(credentials, SoapVersion.SOAP11)
    print("Envelope of the documented StartBatchJob example")
    print(f"  SOAP 1.2: {len(request12.content)} bytes; SOAP 1.1: {len(request11.content)} bytes")
    print(f"  documented reply: {len(DOCUMENTED_REPLY)} bytes")

    results: dict[str, float] = {}
    # Like zeep's, our task object is made once; building is operation + envelope bytes.
    task = documented_task()
    results["build (ours: StartBatchJob(task).to_request)"] = per_call(
        lambda: StartBatchJob(task).to_request(credentials, SoapVersion.SOAP12), n(20000)
    )
    results["BatchTaskInfo(...) with validation"] = per_call(documented_task, n(20000))
    hardened = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    results["parse (ours)"] = per_call(lambda: operation.parse_response(DOCUMENTED_REPLY), n(20000))
    results["parse (bare hardened lxml.fromstring)"] = per_call(
        lambda: etree.fromstring(DOCUMENTED_REPLY, hardened), n(20000)
    )
    try:
        _, zeep_build, zeep_parse = zeep_setup()
    except ImportError:
        print("zeep not installed: skipping the zeep comparison (pip install -e '.[bench]')")
    else:
        results["build (zeep create_message)"] = per_call(zeep_build, n(500))
        results["parse (zeep process_reply)"] = per_call(zeep_parse, n(2000))

    # The server runs in its own process: in a thread it would compete for the GIL with
    # the client being measured.
    with _server_process() as base:
        url = f"{base}/Remote/Services88/Batch.svc"
        with (
            httpx.Client() as bare,
            BatchClient(
                base,
                ticket=TICKET,
                application_token=TOKEN,
                soap_version=SoapVersion.SOAP12,
            ) as client,
        ):

            def bare_post() -> object:
                return bare.post(url, content=request12.content, headers=request12.headers).content

            assert client.start_batch_job(task) == 0
            for _ in range(3):  # interleave so that drift affects both alike
                results["loopback call (ours)"] = min(
                    results.get("loopback call (ours)", 1.0),
                    per_call(lambda: client.start_batch_job(task), n(1000), repeat=3),
                )
                results["loopback call (bare httpx post)"] = min(
                    results.get("loopback call (bare httpx post)", 1.0),
                    per_call(bare_post, n(1000), repeat=3),
                )

    # As installed from a wheel: with bytecode (this machine may set PYTHONDONTWRITEBYTECODE,
    # which would make an editable checkout compile its sources on every start).
    compileall.compile_dir(str(ROOT / "src" / "superoffice_batch"), quiet=1)
    runs = 3 if args.quick else 15
    results["import superoffice_batch"] = import_seconds(
        "from superoffice_batch import BatchClient, BatchTaskInfo", runs
    )
    results["import httpx, lxml.etree, attrs"] = import_seconds(
        "import httpx, lxml.etree, attrs", runs
    )

    print("\nPer call (best of repeats); imports: median of fresh interpreters")
    for name, seconds in results.items():
        print(f"  {name:40s} {seconds * 1e6:10.1f} µs")

    def ratio(label: str, a: str, b: str) -> None:
        if a in results and b in results:
            print(f"  {label:58s} {results[a] / results[b]:6.2f}x")

    print("\nRatios (targets in brackets)")
    ratio(
        "zeep build / ours [>= 10]",
        "build (zeep create_message)",
        "build (ours: StartBatchJob(task).to_request)",
    )
    ratio("zeep parse / ours [>= 5]", "parse (zeep process_reply)", "parse (ours)")
    ratio(
        "ours parse / bare hardened fromstring [<= 1.5]",
        "parse (ours)",
        "parse (bare hardened lxml.fromstring)",
    )
    ratio(
        "ours loopback call / bare httpx post [<= 1.15]",
        "loopback call (ours)",
        "loopback call (bare httpx post)",
    )
    ratio(
        "import superoffice_batch / httpx+lxml+attrs [<= 1.15]",
        "import superoffice_batch",
        "import httpx, lxml.etree, attrs",
    )


if __name__ == "__main__":
    main()
