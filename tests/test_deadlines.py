"""Every wait is bounded: a reply that trickles in, a wait on a dripping server, a reader
that fails, and the started job's id on every error a waiter raises."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from conftest import BASE_URL
from flavors import DEFAULT_TASK, SyncFlavor
from loopback import Answer, LoopbackServer
from replies import CONTENT_TYPES, authenticated, started, task
from superoffice_batch import (
    BatchClient,
    BatchTaskFailed,
    BatchTaskState,
    BatchTaskTimeout,
    HttpError,
    ProtocolError,
    SoapVersion,
    TransportError,
    UsernamePassword,
)

SOAP = SoapVersion.SOAP11


def _dripping(version: SoapVersion, seconds: float = 0.3) -> Answer:
    """A StartBatchJob-sized reply, one byte every ``seconds``: no read ever times out."""
    body = task(version, BatchTaskState.STARTED).content
    return Answer(200, body, (("Content-Type", CONTENT_TYPES[version]),), drip=seconds)


def _cut_call(
    flavor: SyncFlavor,
    server: LoopbackServer,
    call: Callable[[Any], object] = lambda client: client.get_batch_task_info(4711),
    **options: Any,
) -> tuple[float, TransportError]:
    """How long ``call`` on a client of ``server`` took to end in ``TransportError`` (a
    1.5 s call deadline, 1 s per socket step, no re-sends unless ``options`` say so)."""
    settings: dict[str, Any] = {
        "ticket": "7T:abcdef",
        "soap_version": SOAP,
        "timeout": 1.0,
        "call_deadline": 1.5,
        "read_retries": 0,
    }
    client = flavor.make(server.url, **(settings | options))
    began = time.monotonic()
    try:
        with pytest.raises(TransportError, match="deadline") as caught:
            flavor.run_within(10, lambda: call(client))
        return time.monotonic() - began, caught.value
    finally:
        flavor.close(client)


def test_a_dripping_reply_ends_at_the_call_deadline(flavor: SyncFlavor) -> None:
    with LoopbackServer([_dripping(SOAP)]) as server:
        elapsed, error = _cut_call(flavor, server)

    assert "call_deadline" in str(error)
    assert error.request_sent is True
    assert 1.5 <= elapsed < 1.5 + 1.0  # the deadline, plus at most one read timeout


def test_a_wait_on_a_dripping_server_ends_within_its_timeout_plus_one_call(
    flavor: SyncFlavor,
) -> None:
    answers = [_dripping(SOAP)] * 5
    with LoopbackServer(answers) as server:
        client = flavor.make(
            server.url, ticket="7T:abcdef", soap_version=SOAP, timeout=1.0, call_deadline=1.0
        )
        began = time.monotonic()
        with pytest.raises((TransportError, BatchTaskTimeout)) as caught:
            flavor.run_within(
                20, lambda: client.wait_for_batch_task(4711, timeout=2.0, poll_interval=0.1)
            )
        elapsed = time.monotonic() - began
        flavor.close(client)

    assert caught.value.job_id == 4711
    assert elapsed < 2.0 + 1.0 + 1.0  # timeout, one call's deadline, one read timeout


def test_the_call_deadline_is_checked_like_every_other_setting() -> None:
    for bad in (0, -1.0, float("nan"), 10**400, 86401):
        with pytest.raises(ValueError, match="call_deadline must be"):
            BatchClient("https://crm.example.com/", call_deadline=bad)


HUGE_YEAR = "12345678901234567890-05-07T14:29:58"


def _task_with_created(version: SoapVersion, created: str) -> httpx.Response:
    content = task(version, BatchTaskState.STARTED).content
    content = content.replace(b"2025-05-07T14:29:58", created.encode(), 1)
    assert created.encode() in content
    return httpx.Response(200, content=content, headers={"Content-Type": CONTENT_TYPES[version]})


@pytest.mark.parametrize("created", [HUGE_YEAR, "99999-01-01T00:00:00", "0000-01-01T00:00:00"])
def test_a_value_no_reader_can_hold_is_a_protocol_error(
    batch: respx.Route, make: Callable[..., Any], flavor: SyncFlavor, created: str
) -> None:
    batch.mock(return_value=_task_with_created(SOAP, created))

    with pytest.raises(ProtocolError, match=r"BatchTaskInfo\.created"):
        flavor.run(make(ticket="7T:abcdef", soap_version=SOAP).get_batch_task_info(4711))


def test_run_batch_job_keeps_the_started_jobs_id_on_a_reader_failure(
    batch: respx.Route, make: Callable[..., Any], flavor: SyncFlavor
) -> None:
    batch.mock(side_effect=[started(SOAP, 4711), _task_with_created(SOAP, HUGE_YEAR)])
    client = make(ticket="7T:abcdef", soap_version=SOAP)

    with pytest.raises(ProtocolError) as caught:
        flavor.run(client.run_batch_job(DEFAULT_TASK, poll_interval=0.01))

    assert caught.value.job_id == 4711


@pytest.mark.parametrize(
    ("replies", "error"),
    [
        (lambda: [task(SOAP, BatchTaskState.FAILED, 100)], BatchTaskFailed),
        (lambda: [task(SOAP, BatchTaskState.STARTED, 5)] * 3, BatchTaskTimeout),
        (lambda: [httpx.Response(500, text="boom")], Exception),
    ],
    ids=["failed", "timeout", "http error"],
)
def test_every_error_of_a_wait_carries_the_job_id(
    batch: respx.Route,
    make: Callable[..., Any],
    flavor: SyncFlavor,
    replies: Callable[[], list[httpx.Response]],
    error: type[Exception],
) -> None:
    batch.mock(side_effect=[started(SOAP, 4711), *replies()])
    client = make(ticket="7T:abcdef", soap_version=SOAP)

    with pytest.raises(error) as caught:
        flavor.run(
            client.run_batch_job(
                DEFAULT_TASK, poll_interval=0.01, timeout=0.02, raise_on_failure=True
            )
        )

    assert getattr(caught.value, "job_id", None) == 4711


def test_an_error_in_on_progress_carries_the_job_id(
    batch: respx.Route, make: Callable[..., Any], flavor: SyncFlavor
) -> None:
    batch.mock(side_effect=[started(SOAP, 4711), task(SOAP, BatchTaskState.STARTED, 5)])

    def broken(info: object) -> None:
        raise KeyError("the caller's own bug")

    with pytest.raises(KeyError) as caught:
        flavor.run(
            make(ticket="7T:abcdef", soap_version=SOAP).run_batch_job(
                DEFAULT_TASK, poll_interval=0.01, on_progress=broken
            )
        )

    assert getattr(caught.value, "job_id", None) == 4711


def test_a_login_ticket_over_64_kib_is_a_protocol_error(
    router: respx.MockRouter, make: Callable[..., Any], flavor: SyncFlavor
) -> None:
    huge = "7T:" + "A" * (64 * 1024)
    router.post(f"{BASE_URL}/Remote/Services88/SoPrincipal.svc").mock(
        return_value=authenticated(SOAP, huge)
    )
    client = make(auth=UsernamePassword("demo", "secret-pw"), soap_version=SOAP)

    with pytest.raises(ProtocolError, match="ticket is longer than 65536") as caught:
        flavor.start(client)

    assert huge[:40] not in str(caught.value)


# -- one deadline per call (issue 17, break 4) ----------------------------------------------


def test_a_server_dripping_header_lines_is_cut_at_the_call_deadline(flavor: SyncFlavor) -> None:
    # One "X-A: b" line every 0.2 s: no read ever times out, and the headers never end.
    with LoopbackServer([Answer(drip_headers=0.2)]) as server:
        elapsed, error = _cut_call(
            flavor, server, lambda client: client.start_batch_job(DEFAULT_TASK)
        )

    assert 1.5 <= elapsed < 2.0
    assert error.request_sent is True
    assert f"POST {server.url}/Remote/Services88/Batch.svc" in str(error)


def test_a_resent_read_ends_within_one_call_deadline(flavor: SyncFlavor) -> None:
    # Three dripping replies, two re-sends allowed: the re-sends share the call's deadline.
    with LoopbackServer([_dripping(SOAP)] * 3) as server:
        elapsed, _ = _cut_call(flavor, server, read_retries=2)

    assert elapsed < 1.5 + 0.3
    assert len(server.requests) == 1  # no back-off fits in what is left of the deadline


def test_a_wait_cuts_its_poll_at_its_own_timeout_with_batch_task_timeout(
    flavor: SyncFlavor,
) -> None:
    # The default call_deadline (120 s) is far beyond the wait's 1 s.
    with LoopbackServer([_dripping(SOAP)]) as server:
        client = flavor.make(server.url, ticket="7T:abcdef", soap_version=SOAP, timeout=1.0)
        began = time.monotonic()
        with pytest.raises(BatchTaskTimeout) as caught:
            flavor.run_within(6, lambda: client.wait_for_batch_task(4711, timeout=1.0))
        elapsed = time.monotonic() - began
        flavor.close(client)

    assert 1.0 <= elapsed < 1.3
    assert caught.value.job_id == 4711
    assert caught.value.info is None  # no snapshot was read
    assert isinstance(caught.value.__cause__, TransportError)
    assert str(caught.value).startswith("batch job 4711 was started")


def test_an_injected_client_still_bounds_the_body(flavor: SyncFlavor) -> None:
    # The library cannot reach an injected client's sockets (docs/errors.md, "The deadline"),
    # but it reads the body itself.
    with LoopbackServer([_dripping(SOAP)]) as server:
        http = flavor.http_client_class()
        client = flavor.make(
            server.url,
            ticket="7T:abcdef",
            soap_version=SOAP,
            timeout=1.0,
            call_deadline=1.0,
            http_client=http,
            read_retries=0,
        )
        with pytest.raises(TransportError, match="deadline"):
            flavor.run_within(6, lambda: client.get_batch_task_info(4711))
        flavor.close(client)
        flavor.close_http(http)


# -- redirects (issue 17, break 8) ----------------------------------------------------------


def test_a_redirect_is_not_followed_even_by_an_injected_client_that_follows(
    router: respx.MockRouter, batch: respx.Route, flavor: SyncFlavor
) -> None:
    elsewhere = router.post("https://evil.example/steal")
    batch.mock(return_value=httpx.Response(307, headers={"Location": "https://evil.example/steal"}))
    http = flavor.http_client_class(follow_redirects=True)
    client = flavor.make(BASE_URL, ticket="7T:abcdef", soap_version=SOAP, http_client=http)

    with pytest.raises(HttpError) as caught:
        flavor.start(client)
    flavor.close_http(http)

    assert caught.value.status_code == 307
    assert not elsewhere.called
    assert f"(POST {BASE_URL}/Remote/Services88/Batch.svc)" in str(caught.value)


# -- the job in the message (issue 18, friction 7) ------------------------------------------


def test_an_error_after_the_job_started_says_so_in_its_message(
    batch: respx.Route, make: Callable[..., Any], flavor: SyncFlavor
) -> None:
    batch.mock(side_effect=[started(SOAP, 4711), _task_with_created(SOAP, HUGE_YEAR)])

    with pytest.raises(ProtocolError) as caught:
        flavor.run(make(ticket="7T:abcdef", soap_version=SOAP).run_batch_job(DEFAULT_TASK))

    assert str(caught.value).startswith("batch job 4711 was started (do not start it again): ")
    assert "BatchTaskInfo.created" in str(caught.value)


def test_an_error_before_the_job_exists_names_no_job(
    batch: respx.Route, make: Callable[..., Any], flavor: SyncFlavor
) -> None:
    batch.mock(return_value=httpx.Response(500, text="boom"))

    with pytest.raises(HttpError) as caught:
        flavor.run(make(ticket="7T:abcdef", soap_version=SOAP).run_batch_job(DEFAULT_TASK))

    assert caught.value.job_id is None
    assert "was started" not in str(caught.value)


def test_the_client_names_the_deadline_extension_its_transport_reads() -> None:
    from superoffice_batch import client, deadline

    assert client._DEADLINE == deadline.EXTENSION


def test_a_login_the_call_needs_counts_against_its_deadline(flavor: SyncFlavor) -> None:
    login = authenticated(SOAP, "7T:slow-login")
    script = [
        # The ticket arrives 0.9 s into a 1.5 s call; the call itself then drips.
        Answer(200, login.content, (("Content-Type", CONTENT_TYPES[SOAP]),), stall=0.9),
        _dripping(SOAP),
    ]
    with LoopbackServer(script) as server:
        elapsed, _ = _cut_call(
            flavor, server, ticket=None, auth=UsernamePassword("demo", "secret-pw")
        )

    assert [seen.path.rsplit("/", 1)[-1] for seen in server.requests] == [
        "SoPrincipal.svc",
        "Batch.svc",
    ]
    assert 1.5 <= elapsed < 1.5 + 0.5  # one deadline, not the login's plus the call's


def test_a_proxy_the_environment_names_is_used(
    flavor: SyncFlavor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # httpx reads HTTP(S)_PROXY only with its own transports: the client keeps them then.
    reply = task(SOAP, BatchTaskState.STARTED)
    answer = Answer(200, reply.content, (("Content-Type", CONTENT_TYPES[SOAP]),))
    with LoopbackServer([answer]) as proxy:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        client = flavor.make(
            "http://crm.example.invalid/SuperOffice", ticket="7T:abcdef", soap_version=SOAP
        )
        info = flavor.run_within(10, lambda: client.get_batch_task_info(4711))
        flavor.close(client)

    assert info is not None
    assert info.id == 4711
    assert [seen.path for seen in proxy.requests] == [
        "http://crm.example.invalid/SuperOffice/Remote/Services88/Batch.svc"
    ]
