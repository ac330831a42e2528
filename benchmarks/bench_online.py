"""What the Online system-user flow costs, against the Online simulator on loopback.

* exchanges made for 1,000 calls from 32 threads sharing one client (expected: 1);
* the time the flow (tenant state, exchange, JWKS, validation) adds to a client's first
  call, against a first call with a fixed ticket and base URL;
* ``import superoffice_batch`` before and after ``SystemUser`` is used (it loads PyJWT and
  cryptography on first use), against importing httpx, lxml and attrs.

The simulator runs in this process (its own threads): the figures are for comparison,
one machine, one run. ``--quick`` for a smoke run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from superoffice_batch import BatchClient, BatchTaskInfo
from superoffice_batch.testing.online import OnlineSimulator

TASK = BatchTaskInfo(name="ExportTask")


def threaded_calls(online: OnlineSimulator, threads: int, calls: int) -> tuple[int, int, float]:
    """Exchanges and state reads for ``calls`` calls spread over ``threads`` threads."""
    before = (online.exchanges, online.state_requests)
    per_thread = calls // threads
    with BatchClient(auth=online.system_user()) as client:
        started = time.perf_counter()

        def work() -> None:
            for _ in range(per_thread):
                client.get_batch_task_infos_by_state("Started")

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
    return online.exchanges - before[0], online.state_requests - before[1], elapsed


def first_call(make: Callable[[], BatchClient]) -> float:
    client = make()
    try:
        started = time.perf_counter()
        client.get_batch_task_infos_by_state("Started")
        return time.perf_counter() - started
    finally:
        client.close()


def import_seconds(statement: str, runs: int) -> float:
    script = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    times = [
        float(
            subprocess.run(
                [sys.executable, "-c", script], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (smoke test)")
    runs = 3 if parser.parse_args().quick else 25

    with OnlineSimulator(job_duration=0.0) as online:
        exchanges, state_reads, elapsed = threaded_calls(online, threads=32, calls=1000)
        print(
            f"1,000 calls from 32 threads: {exchanges} exchange(s), {state_reads} state "
            f"read(s), {elapsed:.2f} s"
        )

        ticket = online.issue_ticket()
        endpoint = online.endpoint()
        fixed = [
            first_call(
                lambda: BatchClient(
                    endpoint, ticket=ticket, application_token=online.application_token
                )
            )
            for _ in range(runs)
        ]
        flowed = [first_call(lambda: BatchClient(auth=online.system_user())) for _ in range(runs)]
    fixed_ms, flowed_ms = statistics.median(fixed) * 1000, statistics.median(flowed) * 1000
    print(f"first call, fixed ticket and base URL: {fixed_ms:.2f} ms (median of {runs})")
    print(f"first call, SystemUser (state, exchange, JWKS, validation): {flowed_ms:.2f} ms")
    print(f"  the flow adds {flowed_ms - fixed_ms:.2f} ms ({flowed_ms / fixed_ms:.1f}x)")

    deps = import_seconds("import httpx, lxml.etree, attrs", runs)
    package = import_seconds("from superoffice_batch import BatchClient, BatchTaskInfo", runs)
    online_too = import_seconds(
        "from superoffice_batch import BatchClient, SystemUser; import jwt, cryptography", runs
    )
    print(f"import httpx, lxml.etree, attrs: {deps * 1000:.1f} ms")
    print(f"import superoffice_batch: {package * 1000:.1f} ms ({package / deps:.2f}x)")
    print(f"  with SystemUser's PyJWT and cryptography: {online_too * 1000:.1f} ms")


if __name__ == "__main__":
    main()
