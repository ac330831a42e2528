"""The simulator's concurrency is bounded: idle and trickling connections hold no thread,
and cannot keep legitimate clients out."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from superoffice_batch import BatchClient
from superoffice_batch.testing import NetServerSimulator
from superoffice_batch.testing import server as server_module

IDLE_CONNECTIONS = 400


@contextlib.contextmanager
def _idle_connections(port: int, count: int) -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    try:
        for _ in range(count):
            opened.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        yield opened
    finally:
        for sock in opened:
            sock.close()


def test_400_idle_connections_hold_no_thread_and_keep_no_caller_out() -> None:
    before = threading.active_count()
    with (
        NetServerSimulator(job_duration=0) as simulator,
        _idle_connections(simulator.port, IDLE_CONNECTIONS) as idle,
    ):
        # Some send half a request too, as a trickling client would.
        for sock in idle[::4]:
            sock.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\n")
        with BatchClient(simulator.base_url, ticket=simulator.issue_ticket()) as client:
            began = time.monotonic()
            infos = [client.get_system_batch_task_infos_by_name("ExportTask") for _ in range(20)]
            elapsed = time.monotonic() - began
        threads = threading.active_count() - before

    assert infos == [[]] * 20
    assert elapsed < 5.0
    # The serving thread and the worker pool (8), whatever the number of connections.
    assert threads <= 1 + 8


def test_a_trickle_cannot_extend_the_request_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "REQUEST_DEADLINE", 0.5)
    with (
        NetServerSimulator() as simulator,
        socket.create_connection(("127.0.0.1", simulator.port), timeout=10) as trickle,
    ):
        began = time.monotonic()
        closed_after = None
        for byte in b"POST /Cust1/Remote/Services88/Batch.svc HTTP/1.1\r\n" * 10:
            try:
                trickle.sendall(bytes([byte]))
            except OSError:
                closed_after = time.monotonic() - began
                break
            time.sleep(0.05)
            trickle.setblocking(False)
            try:
                if trickle.recv(1) == b"":
                    closed_after = time.monotonic() - began
                    break
            except BlockingIOError:
                pass
            finally:
                trickle.setblocking(True)

    assert closed_after is not None, "the server kept the trickling connection open"
    assert 0.4 < closed_after < 2.0


def test_past_the_connection_limit_the_longest_idle_one_makes_room(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(server_module, "MAX_CONNECTIONS", 5)
    with (
        NetServerSimulator(job_duration=0) as simulator,
        _idle_connections(simulator.port, 5) as idle,
    ):
        time.sleep(0.1)  # all five accepted
        with BatchClient(simulator.base_url, ticket=simulator.issue_ticket()) as client:
            assert client.get_system_batch_task_infos_by_name("ExportTask") == []
        idle[0].settimeout(5)
        assert idle[0].recv(1) == b""  # the oldest idle connection was closed
