"""Following a job to its end, and the retries that make polling survive a busy gateway.

PROTOCOL.md section 6 (retry safety: only read-only calls are repeated after a failure
that may have reached the service) and section 8 (polling). Every test runs for
BatchClient and AsyncBatchClient through the ``flavor`` fixture, and every one that sends
a request runs with the client pinned to each SOAP version and answered in it (the
``soap`` fixture); nothing really sleeps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import httpx
import pytest
import respx

import superoffice_batch.client as client_module
from conftest import BATCH_URL, PRINCIPAL_URL, soap_taking_turns
from flavors import SyncFlavor
from replies import (
    TNS,
    TicketIssuer,
    argument,
    assert_sent_in,
    html,
    no_task,
    operation,
    operation_name,
    service_error,
    started,
    task,
    task_list,
    ticket_of,
)
from superoffice_batch import (
    BatchTaskFailed,
    BatchTaskInfo,
    BatchTaskState,
    BatchTaskTimeout,
    HttpError,
    ProtocolError,
    ServiceError,
    SoapVersion,
    SuperOfficeError,
    TransportError,
    UsernamePassword,
)

TICKET = "7T:dGlja2V0LXNlY3JldC0xMjM0NQ=="
JOB = 4711
TASK = BatchTaskInfo(name="ExportTask")
New, Started, Failed = BatchTaskState.NEW, BatchTaskState.STARTED, BatchTaskState.FAILED
Succeeded = BatchTaskState.SUCCEEDED
Cleanup = BatchTaskState.SUCCEEDED_MANUAL_CLEANUP


# -- fixtures (router, batch, make and soap are in conftest.py) ---------------------------


@pytest.fixture
def client_defaults(client_defaults: dict[str, Any]) -> dict[str, Any]:
    """``make`` gives clients a fixed ticket here, unless the test passes ``auth``."""
    return {**client_defaults, "ticket": TICKET}


class FakeClock:
    """``time.monotonic`` that only the client's own (recorded) sleeps advance."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(flavor: SyncFlavor, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    flavor.patch_sleep(monkeypatch, fake.sleep)
    monkeypatch.setattr(client_module.time, "monotonic", fake.monotonic)
    return fake


def snapshot(info: BatchTaskInfo) -> tuple[object, int, str | None]:
    return (info.state, info.progress_percent, info.progress_description)


def polls(
    version: SoapVersion, states: list[tuple[BatchTaskState | str, int, str]]
) -> list[httpx.Response]:
    """GetBatchTaskInfo replies in ``version`` for ``(state, percent, description)`` snapshots."""
    return [task(version, *state, job_id=JOB) for state in states]


def running(version: SoapVersion, count: int) -> list[httpx.Response]:
    """``count`` replies of a job that is running and making progress."""
    return polls(version, [(Started, index, f"Step {index}") for index in range(count)])


def backoff(first: float, count: int) -> list[float]:
    """The poll delays section 8 asks for: x1.5 each time, capped at max(first, 30 s)."""
    cap = max(first, 30.0)
    return [min(first * 1.5**index, cap) for index in range(count)]


def sent_ids(route: respx.Route) -> list[str | None]:
    return [argument(call.request, "Id") for call in route.calls]


TRANSIENT: dict[str, Any] = {
    "429": lambda: html(429, "Too many requests"),
    "502": lambda: html(502, "Bad gateway"),
    "503": lambda: html(503),
    "504": lambda: html(504, "Gateway timeout"),
    "read-timeout": httpx.ReadTimeout,
    "write-timeout": httpx.WriteTimeout,
    "dropped": httpx.RemoteProtocolError,
}


def failing(name: str) -> Any:
    """A respx side-effect item for a TRANSIENT failure: a fresh reply, or an exception."""
    failure = TRANSIENT[name]
    return failure if isinstance(failure, type) else failure()


def raised_for(name: str) -> type[SuperOfficeError]:
    return TransportError if isinstance(TRANSIENT[name], type) else HttpError


class JobScript:
    """One Batch.svc route answering in ``version``: StartBatchJob answers ``job_id``,
    polls answer ``states``."""

    def __init__(
        self,
        router: respx.MockRouter,
        version: SoapVersion,
        states: list[tuple[BatchTaskState | str, int, str]],
        job_id: int = JOB,
    ) -> None:
        self.version = version
        self.job_id = job_id
        self.polls = 0
        self._replies = iter(polls(version, states))
        self.route = router.post(BATCH_URL).mock(side_effect=self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if operation_name(request) == "StartBatchJob":
            return started(self.version, self.job_id)
        self.polls += 1
        return next(self._replies)

    @property
    def operations(self) -> list[str]:
        return [operation_name(call.request) for call in self.route.calls]

    def follow(self, client: Any, method: str, **options: Any) -> Any:
        """``wait_for_batch_task`` on the job, or ``run_batch_job`` starting it."""
        if method == "wait":
            return client.wait_for_batch_task(self.job_id, **options)
        return client.run_batch_job(TASK, **options)


# -- 1. polling to the end ------------------------------------------------------------------

PROGRESS = [
    (New, 0, ""),
    (Started, 10, "Step 1"),
    (Started, 10, "Step 1"),
    (Started, 60, "Step 2"),
    (Succeeded, 100, "Finished"),
]


def test_wait_polls_until_done_and_reports_each_change_once(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    sleeps: list[float],
) -> None:
    batch.mock(side_effect=polls(soap, PROGRESS))
    seen: list[BatchTaskInfo] = []
    client = make()

    final = flavor.run(client.wait_for_batch_task(JOB, poll_interval=1.0, on_progress=seen.append))

    assert snapshot(final) == (Succeeded, 100, "Finished")
    assert final.id == JOB
    # The third snapshot repeats the second: no callback for it.
    assert [snapshot(info) for info in seen] == [s for i, s in enumerate(PROGRESS) if i != 2]
    assert seen[-1] == final
    assert batch.call_count == len(PROGRESS)
    assert {operation_name(call.request) for call in batch.calls} == {"GetBatchTaskInfo"}
    assert sent_ids(batch) == [str(JOB)] * len(PROGRESS)
    assert sleeps == pytest.approx(backoff(1.0, len(PROGRESS) - 1))
    assert_sent_in(soap, batch.calls)


def test_wait_without_callback_returns_the_final_snapshot(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    sleeps: list[float],
) -> None:
    batch.mock(side_effect=polls(soap, PROGRESS))
    client = make()

    final = flavor.run(client.wait_for_batch_task(JOB, poll_interval=0.5))

    assert snapshot(final) == (Succeeded, 100, "Finished")
    assert batch.call_count == len(PROGRESS)
    assert_sent_in(soap, batch.calls)


@pytest.mark.parametrize(("poll_interval", "soap"), soap_taking_turns([0.2, 1.0, 2.0, 30.0, 45.0]))
def test_poll_delays_grow_by_half_and_are_capped(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    sleeps: list[float],
    poll_interval: float,
) -> None:
    count = 16
    batch.mock(side_effect=[*running(soap, count), task(soap, Succeeded, job_id=JOB)])
    client = make()

    flavor.run(client.wait_for_batch_task(JOB, poll_interval=poll_interval, timeout=None))

    assert sleeps == pytest.approx(backoff(poll_interval, count))
    assert sleeps[0] == poll_interval
    assert all(later >= earlier for earlier, later in pairwise(sleeps))
    assert max(sleeps) == pytest.approx(max(poll_interval, 30.0))
    assert_sent_in(soap, batch.calls)


@pytest.mark.parametrize("state", [Succeeded, Cleanup, Failed])
def test_terminal_state_ends_the_wait_at_once(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    sleeps: list[float],
    state: BatchTaskState,
) -> None:
    batch.mock(side_effect=polls(soap, [(state, 100, "Done")]))
    client = make()

    final = flavor.run(client.wait_for_batch_task(JOB))

    assert final.state is state
    assert batch.call_count == 1
    assert sleeps == []
    assert_sent_in(soap, batch.calls)


@pytest.mark.parametrize(
    "state", [BatchTaskState.UNKNOWN, New, BatchTaskState.AQUIRED, Started, "Paused"]
)
def test_non_terminal_and_unknown_states_keep_polling(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    sleeps: list[float],
    state: BatchTaskState | str,
) -> None:
    batch.mock(
        side_effect=polls(
            soap, [(state, 5, "Waiting"), (state, 5, "Waiting"), (Succeeded, 100, "")]
        )
    )
    seen: list[BatchTaskInfo] = []
    client = make()

    final = flavor.run(client.wait_for_batch_task(JOB, on_progress=seen.append))

    assert final.state is Succeeded
    assert batch.call_count == 3
    assert len(sleeps) == 2
    assert [info.state for info in seen] == [state, Succeeded]
    assert_sent_in(soap, batch.calls)


@pytest.mark.parametrize("method", ["wait", "run"])
def test_failed_job_is_returned_by_default(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    router: respx.MockRouter,
    sleeps: list[float],
    method: str,
) -> None:
    script = JobScript(router, soap, [(Started, 50, "Half"), (Failed, 50, "Crashed")])
    client = make()

    final = flavor.run(script.follow(client, method))

    assert snapshot(final) == (Failed, 50, "Crashed")
    assert final.result == "Exported 2 041 contacts"
    assert_sent_in(soap, router.calls)


@pytest.mark.parametrize("method", ["wait", "run"])
def test_failed_job_raises_when_asked_with_the_final_snapshot(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    router: respx.MockRouter,
    sleeps: list[float],
    method: str,
) -> None:
    script = JobScript(router, soap, [(Started, 50, "Half"), (Failed, 50, "Crashed")])
    client = make()

    with pytest.raises(BatchTaskFailed) as raised:
        flavor.run(script.follow(client, method, raise_on_failure=True))

    assert snapshot(raised.value.info) == (Failed, 50, "Crashed")
    assert raised.value.info.id == JOB
    assert str(JOB) in str(raised.value)
    assert script.polls == 2
    assert_sent_in(soap, router.calls)


@pytest.mark.parametrize("state", [Succeeded, Cleanup])
def test_raise_on_failure_returns_successful_jobs(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    state: BatchTaskState,
) -> None:
    batch.mock(side_effect=polls(soap, [(state, 100, "Done")]))
    client = make()

    final = flavor.run(client.wait_for_batch_task(JOB, raise_on_failure=True))

    assert final.state is state
    assert_sent_in(soap, batch.calls)


def test_progress_callback_errors_propagate_and_stop_polling(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    sleeps: list[float],
) -> None:
    batch.mock(side_effect=polls(soap, PROGRESS))

    def callback(info: BatchTaskInfo) -> None:
        if info.state is Started:
            raise RuntimeError("the caller's callback broke")

    client = make()

    with pytest.raises(RuntimeError, match="callback broke"):
        flavor.run(client.wait_for_batch_task(JOB, on_progress=callback))

    assert batch.call_count == 2
    assert_sent_in(soap, batch.calls)


# -- 2. deadlines ----------------------------------------------------------------------------


def test_deadline_raises_timeout_with_the_last_snapshot(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    clock: FakeClock,
) -> None:
    batch.mock(side_effect=running(soap, 20))
    client = make()
    start = clock.now

    with pytest.raises(BatchTaskTimeout) as raised:
        flavor.run(client.wait_for_batch_task(JOB, poll_interval=1.0, timeout=5.0))

    # Polls at 0, 1, 2.5 and 4.75 s, then the last sleep is cut to end at the deadline.
    assert clock.sleeps == pytest.approx([1.0, 1.5, 2.25, 0.25])
    assert clock.now - start == pytest.approx(5.0)
    assert batch.call_count == 5
    assert snapshot(raised.value.info) == (Started, 4, "Step 4"), "the last one seen"
    assert_sent_in(soap, batch.calls)


@pytest.mark.parametrize("timeout", [0.5, 3.0, 100.0])
def test_waiting_never_sleeps_past_the_deadline(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    clock: FakeClock,
    timeout: float,
) -> None:
    batch.mock(side_effect=running(soap, 30))
    client = make()
    start = clock.now

    with pytest.raises(BatchTaskTimeout):
        flavor.run(client.wait_for_batch_task(JOB, poll_interval=1.0, timeout=timeout))

    assert clock.now - start == pytest.approx(timeout)
    assert batch.call_count == len(clock.sleeps) + 1
    assert_sent_in(soap, batch.calls)


def test_job_finishing_at_the_deadline_is_returned(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    clock: FakeClock,
) -> None:
    batch.mock(side_effect=[*running(soap, 4), task(soap, Succeeded, job_id=JOB)])
    client = make()

    final = flavor.run(client.wait_for_batch_task(JOB, poll_interval=1.0, timeout=5.0))

    assert final.state is Succeeded
    assert batch.call_count == 5
    assert_sent_in(soap, batch.calls)


def test_no_timeout_waits_past_the_default_deadline(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    clock: FakeClock,
) -> None:
    count = 140  # at 30 s per poll, well past the default of an hour
    batch.mock(side_effect=[*running(soap, count), task(soap, Succeeded, job_id=JOB)])
    client = make()

    final = flavor.run(client.wait_for_batch_task(JOB, timeout=None))

    assert final.state is Succeeded
    assert sum(clock.sleeps) > client_module.DEFAULT_WAIT_TIMEOUT
    assert_sent_in(soap, batch.calls)


def test_default_timeout_is_an_hour(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    clock: FakeClock,
) -> None:
    batch.mock(side_effect=running(soap, 200))
    client = make()
    start = clock.now

    with pytest.raises(BatchTaskTimeout):
        flavor.run(client.wait_for_batch_task(JOB))

    assert clock.now - start == pytest.approx(client_module.DEFAULT_WAIT_TIMEOUT)
    assert_sent_in(soap, batch.calls)


# -- 3. failures while polling ----------------------------------------------------------------


@pytest.mark.parametrize("failure", ["503", "429", "read-timeout", "dropped"])
def test_transient_failure_while_polling_is_survived(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    sleeps: list[float],
    failure: str,
) -> None:
    first = task(soap, Started, 10, "Step 1", job_id=JOB)
    batch.mock(side_effect=[first, failing(failure), task(soap, job_id=JOB)])
    client = make()

    final = flavor.run(client.wait_for_batch_task(JOB, poll_interval=1.0))

    assert final.state is Succeeded
    assert batch.call_count == 3
    assert len(sleeps) == 2, "one poll interval, one retry backoff"
    assert sleeps[0] == 1.0
    assert_sent_in(soap, batch.calls)


def test_other_failure_while_polling_is_raised(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    sleeps: list[float],
) -> None:
    error = service_error(soap, "Batch task 4711 is locked", operation="GetBatchTaskInfo")
    batch.mock(side_effect=[task(soap, Started, 10, "Step 1", job_id=JOB), error])
    client = make()

    with pytest.raises(ServiceError, match="locked"):
        flavor.run(client.wait_for_batch_task(JOB))

    assert batch.call_count == 2
    assert_sent_in(soap, batch.calls)


def test_rejected_ticket_while_polling_is_refreshed(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    router: respx.MockRouter,
    batch: respx.Route,
    sleeps: list[float],
) -> None:
    issuer = TicketIssuer(soap)
    router.post(PRINCIPAL_URL).mock(side_effect=issuer.issue)
    replies = iter(
        [task(soap, Started, 10, "Step 1", job_id=JOB), html(401), task(soap, job_id=JOB)]
    )

    def answer(request: httpx.Request) -> httpx.Response:
        reply = next(replies)
        if reply.status_code == 401:  # the ticket expires after the first poll
            assert ticket_of(request) == "7T:issued-1"
        return reply

    batch.mock(side_effect=answer)
    client = make(auth=UsernamePassword("jdoe", "Pa55-w0rd!x"))

    final = flavor.run(client.wait_for_batch_task(JOB))

    assert final.state is Succeeded
    assert [ticket_of(call.request) for call in batch.calls] == [
        "7T:issued-1",
        "7T:issued-1",
        "7T:issued-2",
    ]
    assert issuer.issued == ["7T:issued-1", "7T:issued-2"]
    assert_sent_in(soap, router.calls)


def test_no_such_task_is_protocol_error(
    flavor: SyncFlavor, soap: SoapVersion, make: Callable[..., Any], batch: respx.Route
) -> None:
    batch.mock(side_effect=[no_task(soap)])
    client = make()

    with pytest.raises(ProtocolError, match="no such job"):
        flavor.run(client.wait_for_batch_task(JOB))

    assert batch.call_count == 1
    assert_sent_in(soap, batch.calls)


@pytest.mark.parametrize(
    ("job_id", "expected"),
    [
        *((job_id, ValueError) for job_id in (0, -1, -4711)),
        *((job_id, TypeError) for job_id in (True, "4711", 4711.0, None)),
    ],
    ids=repr,
)
def test_bad_job_id_is_rejected_before_any_request(
    flavor: SyncFlavor,
    make: Callable[..., Any],
    batch: respx.Route,
    job_id: object,
    expected: type[Exception],
) -> None:
    client = make()

    with pytest.raises(expected, match="job_id"):
        flavor.run(client.wait_for_batch_task(job_id))

    assert not batch.called


BAD_SETTINGS = [
    ({"poll_interval": 0}, ValueError),
    ({"poll_interval": -1.0}, ValueError),
    ({"poll_interval": math.nan}, ValueError),
    ({"poll_interval": math.inf}, ValueError),
    ({"poll_interval": "1"}, TypeError),
    ({"poll_interval": True}, TypeError),
    ({"timeout": 0}, ValueError),
    ({"timeout": -5}, ValueError),
    ({"timeout": math.nan}, ValueError),
    ({"timeout": math.inf}, ValueError),
    ({"timeout": True}, TypeError),
    ({"on_progress": "print"}, TypeError),
    ({"raise_on_failure": "yes"}, TypeError),
    ({"raise_on_failure": 1}, TypeError),
    ({"raise_on_failure": None}, TypeError),
]


@pytest.mark.parametrize("method", ["wait", "run"])
@pytest.mark.parametrize(("settings", "expected"), BAD_SETTINGS, ids=repr)
def test_bad_wait_settings_are_rejected_before_any_request(
    flavor: SyncFlavor,
    make: Callable[..., Any],
    batch: respx.Route,
    settings: dict[str, Any],
    expected: type[Exception],
    method: str,
) -> None:
    client = make()
    [name] = settings

    follow = client.wait_for_batch_task if method == "wait" else client.run_batch_job

    with pytest.raises(expected, match=name):
        flavor.run(follow(JOB if method == "wait" else TASK, **settings))

    assert not batch.called, "not even StartBatchJob"


# -- 4. run_batch_job: start, then wait -------------------------------------------------------


def test_run_batch_job_starts_once_then_polls_the_new_id(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    router: respx.MockRouter,
    sleeps: list[float],
) -> None:
    script = JobScript(
        router, soap, [(New, 0, ""), (Started, 50, "Half"), (Succeeded, 100, "Done")]
    )
    seen: list[BatchTaskInfo] = []
    client = make()

    final = flavor.run(client.run_batch_job(TASK, poll_interval=2.0, on_progress=seen.append))

    assert snapshot(final) == (Succeeded, 100, "Done")
    assert script.operations == ["StartBatchJob"] + ["GetBatchTaskInfo"] * 3
    start, *polled = script.route.calls
    assert operation(start.request).findtext(f".//{{{TNS}}}Name") == "ExportTask"
    assert [argument(call.request, "Id") for call in polled] == [str(JOB)] * 3
    assert [info.state for info in seen] == [New, Started, Succeeded]
    assert sleeps == pytest.approx(backoff(2.0, 2))
    assert_sent_in(soap, router.calls)


def test_run_batch_job_polls_whatever_id_the_server_gave(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    router: respx.MockRouter,
    sleeps: list[float],
) -> None:
    script = JobScript(router, soap, [(Succeeded, 100, "Done")], job_id=99)
    client = make()

    flavor.run(client.run_batch_job(TASK))

    assert argument(script.route.calls.last.request, "Id") == "99"
    assert_sent_in(soap, router.calls)


@pytest.mark.parametrize("job_id", [0, -1])
def test_run_batch_job_with_no_new_id_is_protocol_error_after_starting(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    router: respx.MockRouter,
    job_id: int,
) -> None:
    script = JobScript(router, soap, [], job_id=job_id)  # the documented example reply carries 0
    client = make()

    with pytest.raises(ProtocolError, match="no job was created"):
        flavor.run(client.run_batch_job(TASK))

    assert script.operations == ["StartBatchJob"]
    assert_sent_in(soap, router.calls)


@pytest.mark.parametrize("failure", ["503", "read-timeout"])
def test_run_batch_job_never_restarts_a_job(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    sleeps: list[float],
    failure: str,
) -> None:
    batch.mock(side_effect=[failing(failure)])
    client = make()

    with pytest.raises(raised_for(failure)):
        flavor.run(client.run_batch_job(TASK))

    assert batch.call_count == 1
    assert sleeps == []
    assert_sent_in(soap, batch.calls)


def test_run_batch_job_times_out_like_wait(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    router: respx.MockRouter,
    clock: FakeClock,
) -> None:
    script = JobScript(router, soap, [(Started, n, "Running") for n in range(10)])
    client = make()

    with pytest.raises(BatchTaskTimeout) as raised:
        flavor.run(client.run_batch_job(TASK, poll_interval=1.0, timeout=2.0))

    assert raised.value.info.state is Started
    assert script.operations[0] == "StartBatchJob"
    assert script.operations.count("StartBatchJob") == 1
    assert_sent_in(soap, router.calls)


# -- 5. read-only retries (section 6) -------------------------------------------------------------

READ_ONLY: dict[str, tuple[Callable[[Any], Any], Callable[[SoapVersion], httpx.Response]]] = {
    "GetBatchTaskInfo": (lambda client: client.get_batch_task_info(JOB), task),
    "GetBatchTaskInfosByState": (
        lambda client: client.get_batch_task_infos_by_state(Started),
        task_list,
    ),
}
NOT_READ_ONLY: dict[str, Callable[[Any], Any]] = {
    "StartBatchJob": lambda client: client.start_batch_job(TASK),
    "StopBatchJob": lambda client: client.stop_batch_job(JOB),
    "UpdateBatchTask": lambda client: client.update_batch_task(BatchTaskInfo(id=JOB)),
    "DeleteBatchTask": lambda client: client.delete_batch_task(JOB),
    "DeleteBatchTasks": lambda client: client.delete_batch_tasks([JOB]),
}


@pytest.mark.parametrize("failures", [1, 2])
@pytest.mark.parametrize(("failure", "soap"), soap_taking_turns(TRANSIENT))
@pytest.mark.parametrize("call", READ_ONLY)
def test_read_only_call_is_resent_after_a_transient_failure(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    sleeps: list[float],
    call: str,
    failure: str,
    failures: int,
) -> None:
    method, success = READ_ONLY[call]
    batch.mock(side_effect=[*(failing(failure) for _ in range(failures)), success(soap)])
    client = make()

    result = flavor.run(method(client))

    assert result
    assert batch.call_count == failures + 1
    assert len(sleeps) == failures
    assert all(delay > 0 for delay in sleeps)
    assert all(later > earlier for earlier, later in pairwise(sleeps))
    assert {operation_name(c.request) for c in batch.calls} == {call}
    assert_sent_in(soap, batch.calls)


@pytest.mark.parametrize(
    ("failure", "soap"), soap_taking_turns(["503", "429", "read-timeout", "dropped"])
)
@pytest.mark.parametrize("call", NOT_READ_ONLY)
def test_call_that_changes_data_is_never_resent(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    sleeps: list[float],
    call: str,
    failure: str,
) -> None:
    batch.mock(side_effect=[failing(failure)])
    client = make()

    with pytest.raises(raised_for(failure)):
        flavor.run(NOT_READ_ONLY[call](client))

    assert batch.call_count == 1
    assert operation_name(batch.calls.last.request) == call
    assert sleeps == []
    assert_sent_in(soap, batch.calls)


@pytest.mark.parametrize("failure", ["503", "read-timeout"])
@pytest.mark.parametrize(
    ("read_retries", "resends"), [(None, 2), (0, 0), (1, 1), (2, 2), (3, 3)], ids=repr
)
def test_persistent_failure_is_raised_after_all_retries(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    sleeps: list[float],
    failure: str,
    read_retries: int | None,
    resends: int,
) -> None:
    # None: the default, two re-sends. One more request than that would find no reply.
    batch.mock(side_effect=[failing(failure) for _ in range(1 + resends)])
    client = make() if read_retries is None else make(read_retries=read_retries)

    with pytest.raises(raised_for(failure)):
        flavor.run(client.get_batch_task_info(JOB))

    assert batch.call_count == 1 + resends
    assert len(sleeps) == resends
    assert all(later > earlier for earlier, later in pairwise(sleeps))
    assert_sent_in(soap, batch.calls)


@pytest.mark.parametrize(
    "reply",
    [
        lambda version: html(500, "Internal server error"),
        lambda version: html(404, "Not found"),
        lambda version: service_error(version, "Database is busy", operation="GetBatchTaskInfo"),
    ],
    ids=["500", "404", "service-error"],
)
def test_read_only_call_is_not_resent_after_other_failures(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    batch: respx.Route,
    sleeps: list[float],
    reply: Callable[[SoapVersion], httpx.Response],
) -> None:
    batch.mock(side_effect=[reply(soap)])
    client = make()

    with pytest.raises((HttpError, ServiceError)):
        flavor.run(client.get_batch_task_info(JOB))

    assert batch.call_count == 1
    assert sleeps == []
    assert_sent_in(soap, batch.calls)
