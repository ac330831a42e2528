"""What a call costs: building, parsing, a 10,000-task listing, loopback calls, import time.

Compares superoffice-batch with zeep (the WSDL-driven alternative), a bare hardened
``lxml.etree.fromstring`` and bare ``httpx`` clients on the same bytes, all in one run on
one machine, with the server in another process. Needs the ``bench`` extra (zeep)::

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python benchmarks/bench_start_batch_job.py

Figures are per call, the best of several repeats (the least disturbed run); the ratios
at the end are what to compare between machines.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
import http.server
import socket
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

import httpx
from lxml import etree

from superoffice_batch import (
    AsyncBatchClient,
    BatchClient,
    BatchTaskCancellationBehaviour,
    BatchTaskInfo,
    BatchTaskState,
    Credentials,
    SoapVersion,
)
from superoffice_batch.operations import GetBatchTaskInfosByState, StartBatchJob
from superoffice_batch.testing import soap

ROOT = Path(__file__).resolve().parent.parent
WSDL = ROOT / "fixtures" / "wsdl" / "Services88-Batch.wsdl"
TICKET = "7T:1234abcxyzExample=="
TOKEN = "1234567-1234-9876"
WHEN = datetime(2025, 5, 7, 14, 30, 10, tzinfo=timezone.utc)
PARAMETERS = {"args": "42", "format": "csv"}
SOAP11 = SoapVersion.SOAP11

# A WCF-style StartBatchJob reply with NetServer's four header blocks, as the simulator
# writes it (ExceptionInfo, ExtraInfo and TimeZone nil, Succeeded true).
START_REPLY = soap.reply(SOAP11, soap.result("StartBatchJobResponse", "Response", 42))
HARDENED = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def documented_task() -> BatchTaskInfo:
    """The values of the documented example request, with a two-entry ParameterObject."""
    return BatchTaskInfo(
        name="",
        parameter_object=PARAMETERS,
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


def listed_task(number: int) -> BatchTaskInfo:
    """A task with every field filled, as a listing returns it."""
    return BatchTaskInfo(
        id=number,
        name="ExportTask",
        associate_id=12,
        details_table=77,
        details_record=number,
        is_system_task=False,
        is_internal_task=True,
        parameter_object={"format": "csv", "target": f"export-{number}.csv"},
        last_started=WHEN,
        created=WHEN,
        start_count=1,
        database_serial_number="SO-1234",
        context="nightly",
        result="Completed",
        state=BatchTaskState.SUCCEEDED,
        description="Nightly export of all companies",
        response="ok",
        request="export",
        progress_description="Finished",
        progress_percent=100,
        file_name=f"export-{number}.csv",
        cancellation_behaviour=BatchTaskCancellationBehaviour.CAN_CANCEL,
    )


def listing_reply(count: int) -> bytes:
    tasks = [listed_task(number) for number in range(1, count + 1)]
    return soap.reply(SOAP11, soap.result("GetBatchTaskInfosByStateResponse", "Response", tasks))


def per_call(function: Callable[[], object], number: int, repeat: int = 7) -> float:
    """Seconds per call: best of ``repeat`` runs of ``number`` calls."""
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number


# -- zeep ---------------------------------------------------------------------------------


class _ZeepReply:
    status_code = 200
    encoding = "utf-8"
    headers: ClassVar[dict[str, str]] = {"Content-Type": "text/xml; charset=utf-8"}

    def __init__(self, content: bytes) -> None:
        self.content = content


def zeep_setup() -> dict[str, Callable[[], object]]:
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
        ParameterObject=dictionary(
            StringKeyValuePair=[{"Key": key, "Value": value} for key, value in PARAMETERS.items()]
        ),
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
    binding = client.service._binding

    def process(name: str, content: bytes) -> Callable[[], Any]:
        operation = binding.get(name)
        reply = _ZeepReply(content)
        return lambda: binding.process_reply(client, operation, reply)

    parse = process("StartBatchJob", START_REPLY)
    assert parse()["body"]["Response"] == 42
    return {
        "build": lambda: client.create_message(
            client.service, "StartBatchJob", BatchTaskInfo=task, _soapheaders=headers
        ),
        "parse": parse,
        "listing": process("GetBatchTaskInfosByState", listing_reply(10_000)),
    }


# -- a server in another process ------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    reply = START_REPLY

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(self.reply)))
        self.end_headers()
        self.wfile.write(self.reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def server_bind(self) -> None:
        # Without TCP_NODELAY every small reply waits ~40 ms for a delayed ACK.
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().server_bind()


@contextlib.contextmanager
def _server_process() -> Iterator[str]:
    """Serve the StartBatchJob reply from a child process; yields the base URL."""
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


# -- the measurements -------------------------------------------------------------------------


def measure_codec(results: dict[str, float], n: Callable[[int], int]) -> None:
    credentials = Credentials(ticket=TICKET, application_token=TOKEN)
    task = documented_task()  # like zeep's, made once: building is operation + envelope
    operation = StartBatchJob(task)
    results["build: ours"] = per_call(
        lambda: StartBatchJob(task).to_request(credentials, SoapVersion.SOAP12), n(20000)
    )
    results["parse: ours"] = per_call(lambda: operation.parse_response(START_REPLY), n(20000))
    results["parse: bare hardened fromstring"] = per_call(
        lambda: etree.fromstring(START_REPLY, HARDENED), n(20000)
    )


def measure_listing(results: dict[str, float], quick: bool) -> None:
    query = GetBatchTaskInfosByState(BatchTaskState.ALL)
    tns = "{http://www.superoffice.net/ws/crm/NetServer/Services88}"

    def floor(content: bytes) -> object:
        root = etree.fromstring(content, etree.XMLParser(huge_tree=False))
        return [
            {child.tag: child.text for child in task} for task in root.iter(f"{tns}BatchTaskInfo")
        ]

    for count in (100, 1000) if quick else (100, 1000, 10_000):
        content = listing_reply(count)
        repeat = 3 if count == 10_000 else 5
        results[f"listing {count}: ours"] = per_call(
            lambda c=content: query.parse_response(c), 1, repeat
        )
        results[f"listing {count}: fromstring + dict per task"] = per_call(
            lambda c=content: floor(c), 1, repeat
        )
        results[f"listing {count}: bytes"] = len(content)


def measure_calls(results: dict[str, float], n: Callable[[int], int]) -> None:
    task = documented_task()
    credentials = Credentials(ticket=TICKET, application_token=TOKEN)
    operation = StartBatchJob(task)
    request = operation.to_request(credentials, SoapVersion.SOAP12)
    with _server_process() as base:
        url = f"{base}/Remote/Services88/Batch.svc"
        with (
            httpx.Client(timeout=30) as bare,
            BatchClient(
                base, ticket=TICKET, application_token=TOKEN, soap_version=SoapVersion.SOAP12
            ) as client,
        ):

            def bare_post() -> object:
                return bare.post(url, content=request.content, headers=request.headers).content

            def bare_post_build_parse() -> object:
                built = StartBatchJob(task).to_request(credentials, SoapVersion.SOAP12)
                reply = bare.post(url, content=built.content, headers=built.headers)
                return operation.parse_response(
                    reply.content,
                    status_code=reply.status_code,
                    content_type=reply.headers.get("content-type"),
                    secrets=credentials.secrets,
                )

            assert client.start_batch_job(task) == 42
            calls = {
                "loopback: ours": lambda: client.start_batch_job(task),
                "loopback: bare httpx post": bare_post,
                "loopback: bare post + build + parse": bare_post_build_parse,
            }
            for _ in range(3):  # interleave so that drift affects all alike
                for name, call in calls.items():
                    seconds = per_call(call, n(1000), repeat=3)
                    results[name] = min(results.get(name, seconds), seconds)
        asyncio.run(measure_concurrency(results, base, url, request, n(1000)))


async def measure_concurrency(
    results: dict[str, float], base: str, url: str, request: Any, count: int
) -> None:
    """``count`` calls in flight at once, through each client's default pool limits."""
    task = documented_task()
    async with (
        httpx.AsyncClient(timeout=60) as bare,
        AsyncBatchClient(
            base,
            ticket=TICKET,
            application_token=TOKEN,
            soap_version=SoapVersion.SOAP12,
            timeout=60,
        ) as client,
    ):

        async def bare_post() -> object:
            reply = await bare.post(url, content=request.content, headers=request.headers)
            return reply.content

        async def burst(call: Callable[[], Any]) -> float:
            start = time.perf_counter()
            await asyncio.gather(*(call() for _ in range(count)))
            return count / (time.perf_counter() - start)

        await burst(lambda: client.start_batch_job(task))  # warm both pools
        await burst(bare_post)
        for _ in range(3):
            for name, call in (
                ("concurrent: ours (calls/s)", lambda: client.start_batch_job(task)),
                ("concurrent: bare AsyncClient (calls/s)", bare_post),
            ):
                rate = await burst(call)
                results[name] = max(results.get(name, 0.0), rate)


def measure_import(results: dict[str, float], runs: int) -> None:
    # As installed from a wheel: with bytecode (this machine may set PYTHONDONTWRITEBYTECODE,
    # which would make an editable checkout compile its sources on every start).
    compileall.compile_dir(str(ROOT / "src" / "superoffice_batch"), quiet=1)
    results["import superoffice_batch"] = import_seconds(
        "from superoffice_batch import BatchClient, BatchTaskInfo", runs
    )
    results["import httpx, lxml.etree, attrs"] = import_seconds(
        "import httpx, lxml.etree, attrs", runs
    )


def report(results: dict[str, float]) -> None:
    print("\nPer call (best of repeats); listings per reply; imports: median of fresh interpreters")
    for name, value in results.items():
        if "bytes" in name:
            print(f"  {name:48s} {value / 1e6:10.1f} MB")
        elif "calls/s" in name:
            print(f"  {name:48s} {value:10.0f}")
        else:
            print(f"  {name:48s} {value * 1e6:10.1f} µs")

    def ratio(label: str, a: str, b: str) -> None:
        if a in results and b in results:
            print(f"  {label:62s} {results[a] / results[b]:6.2f}x")

    print("\nRatios (targets in brackets)")
    ratio("zeep build / ours [>= 4]", "build: zeep create_message", "build: ours")
    ratio("zeep parse / ours [>= 5]", "parse: zeep process_reply", "parse: ours")
    ratio(
        "ours parse / bare hardened fromstring [<= 1.75]",
        "parse: ours",
        "parse: bare hardened fromstring",
    )
    ratio("zeep 10,000-task listing / ours [>= 6]", "listing 10000: zeep", "listing 10000: ours")
    for count in (100, 1000, 10_000):
        ratio(
            f"ours {count}-task listing / fromstring + dicts [<= 2.5]",
            f"listing {count}: ours",
            f"listing {count}: fromstring + dict per task",
        )
    for count in (100, 1000, 10_000):
        if f"listing {count}: ours" in results:
            per_task = results[f"listing {count}: ours"] / count * 1e6
            print(
                f"  {f'ours per task, {count} tasks (linear: about equal)':62s} {per_task:6.1f} µs"
            )
    ratio(
        "ours loopback call / bare httpx post [<= 1.5]",
        "loopback: ours",
        "loopback: bare httpx post",
    )
    if "loopback: ours" in results:
        plumbing = results["loopback: ours"] - results["loopback: bare post + build + parse"]
        share = plumbing / results["loopback: ours"] * 100
        print(f"  {'client plumbing, share of the call [<= 5%]':62s} {share:5.1f} %")
    ratio(
        "ours concurrent throughput / bare AsyncClient [>= 0.9]",
        "concurrent: ours (calls/s)",
        "concurrent: bare AsyncClient (calls/s)",
    )
    ratio(
        "import superoffice_batch / httpx+lxml+attrs [<= 1.15]",
        "import superoffice_batch",
        "import httpx, lxml.etree, attrs",
    )


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

    request = StartBatchJob(documented_task()).to_request(
        Credentials(ticket=TICKET, application_token=TOKEN), SoapVersion.SOAP12
    )
    print(
        f"StartBatchJob request: {len(request.content)} bytes; its reply: {len(START_REPLY)} bytes"
    )
    results: dict[str, float] = {}
    measure_codec(results, n)
    try:
        zeep = zeep_setup()
    except ImportError:
        print("zeep not installed: skipping the zeep comparison (pip install -e '.[bench]')")
    else:
        results["build: zeep create_message"] = per_call(zeep["build"], n(500))
        results["parse: zeep process_reply"] = per_call(zeep["parse"], n(2000))
        if not args.quick:
            results["listing 10000: zeep"] = per_call(zeep["listing"], 1, repeat=1)
    measure_listing(results, args.quick)
    measure_calls(results, n)
    measure_import(results, 3 if args.quick else 15)
    report(results)


if __name__ == "__main__":
    main()
