"""The re-send rules: StartBatchJob is re-sent only on proof that it did not run; reads
are re-sent after transient failures and 429 (Retry-After), within the call's deadline."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from flavors import SyncFlavor
from replies import html, service_error, started, task, ticket_of
from superoffice_batch import BatchTaskState, HttpError, ServiceError, SoapVersion, resend

SOAP = SoapVersion.SOAP12


def _fresh_tickets() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"7T:fresh-ticket-{next(counter)}"


def _start(
    batch: respx.Route, make: Callable[..., Any], flavor: SyncFlavor, first: httpx.Response
) -> Any:
    """StartBatchJob answered first by ``first``, then (if re-sent) by job 4712."""
    batch.mock(side_effect=[first, started(SOAP, 4712)])
    return flavor.start(make(soap_version=SOAP, auth=_fresh_tickets()))


def _with_status(reply: httpx.Response, status: int) -> httpx.Response:
    return httpx.Response(status, headers=reply.headers, content=reply.content)


NOT_RESENT: dict[str, Callable[[], httpx.Response]] = {
    "401 with a successful reply": lambda: _with_status(started(SOAP, 4711), 401),
    "403 with a successful reply": lambda: _with_status(started(SOAP, 4711), 403),
    "support ticket message": lambda: service_error(SOAP, "Support ticket 12 is invalid"),
    "session table message": lambda: service_error(SOAP, "Session table: invalid row"),
    "ticket message, plain type": lambda: service_error(
        SOAP, "Ticket has expired", "SoSecurityException"
    ),
}


@pytest.mark.parametrize("reply", NOT_RESENT.values(), ids=NOT_RESENT.keys())
def test_start_batch_job_is_not_resent_without_proof_of_a_rejection(
    batch: respx.Route,
    make: Callable[..., Any],
    flavor: SyncFlavor,
    reply: Callable[[], httpx.Response],
) -> None:
    with pytest.raises((HttpError, ServiceError)):
        _start(batch, make, flavor, reply())

    assert batch.call_count == 1


RESENT: dict[str, Callable[[], httpx.Response]] = {
    "simulator's InvalidTicketException": lambda: service_error(
        SOAP,
        "The ticket is invalid or has expired",
        "SuperOffice.Exceptions.InvalidTicketException",
    ),
    "inner SessionExpiredException": lambda: service_error(
        SOAP, "Could not start", inner_message="Please log in", inner_type="SessionExpiredException"
    ),
    "401 page": lambda: html(401, "Unauthorized"),
    "403 page": lambda: html(403, "Forbidden"),
    "401 with a business error": lambda: _with_status(service_error(SOAP, "no"), 401),
}


@pytest.mark.parametrize("reply", RESENT.values(), ids=RESENT.keys())
def test_a_proven_rejection_is_resent_once_with_a_fresh_ticket(
    batch: respx.Route,
    make: Callable[..., Any],
    flavor: SyncFlavor,
    reply: Callable[[], httpx.Response],
) -> None:
    assert _start(batch, make, flavor, reply()) == 4712
    assert [ticket_of(call.request) for call in batch.calls] == [
        "7T:fresh-ticket-1",
        "7T:fresh-ticket-2",
    ]


def test_a_415_whose_body_is_a_successful_reply_is_not_resent_as_soap11(
    batch: respx.Route, make: Callable[..., Any], flavor: SyncFlavor
) -> None:
    # The 401 rule's twin: a body that reads as the job started proves the call ran.
    batch.mock(side_effect=[_with_status(started(SOAP, 4711), 415), started(SOAP, 4712)])

    with pytest.raises(HttpError) as caught:
        flavor.start(make(ticket="7T:abcdef"))  # negotiating

    assert caught.value.status_code == 415
    assert batch.call_count == 1


def test_an_empty_415_is_still_resent_as_soap11(
    batch: respx.Route, make: Callable[..., Any], flavor: SyncFlavor
) -> None:
    soap11 = SoapVersion.SOAP11
    batch.mock(side_effect=[httpx.Response(415), started(soap11, 4712)])

    assert flavor.start(make(ticket="7T:abcdef")) == 4712
    assert batch.call_count == 2


# -- the table (issue 17: one table, applied in one place) ----------------------------------


def test_every_rule_says_when_it_applies_its_proof_its_budget_and_what_it_does() -> None:
    for rule in resend.RULES:
        assert rule.name
        assert rule.proof
        assert callable(rule.applies)
        assert callable(rule.holds)
        assert rule.at_most in ("connect_retries", "read_retries") or rule.at_most == 1
        assert isinstance(rule.action, resend.Action)
    assert len({rule.action for rule in resend.RULES}) == len(resend.RULES)


# -- 429 (issue 18) -------------------------------------------------------------------------


def _too_many(retry_after: str) -> httpx.Response:
    return httpx.Response(429, text="slow down", headers={"Retry-After": retry_after})


def test_a_read_answered_429_is_resent_after_retry_after(
    batch: respx.Route, make: Callable[..., Any], flavor: SyncFlavor, sleeps: list[float]
) -> None:
    batch.mock(side_effect=[_too_many("3"), task(SOAP, BatchTaskState.STARTED)])

    info = flavor.run(make(ticket="7T:abcdef", soap_version=SOAP).get_batch_task_info(4711))

    assert info is not None
    assert sleeps == [3.0]
    assert batch.call_count == 2


def test_retry_after_is_capped(
    batch: respx.Route, make: Callable[..., Any], flavor: SyncFlavor, sleeps: list[float]
) -> None:
    batch.mock(side_effect=[_too_many("99999999999999999999"), task(SOAP, BatchTaskState.STARTED)])

    flavor.run(make(ticket="7T:abcdef", soap_version=SOAP).get_batch_task_info(4711))

    assert sleeps == [resend.MAX_BACKOFF]


def test_a_retry_after_beyond_the_call_deadline_is_raised(
    batch: respx.Route, make: Callable[..., Any], flavor: SyncFlavor, sleeps: list[float]
) -> None:
    batch.mock(side_effect=[_too_many("20"), task(SOAP, BatchTaskState.STARTED)])
    client = make(ticket="7T:abcdef", soap_version=SOAP, call_deadline=10)

    with pytest.raises(HttpError) as caught:
        flavor.run(client.get_batch_task_info(4711))

    assert caught.value.status_code == 429
    assert sleeps == []
    assert batch.call_count == 1


def test_start_batch_job_is_never_resent_on_429(
    batch: respx.Route, make: Callable[..., Any], flavor: SyncFlavor, sleeps: list[float]
) -> None:
    batch.mock(side_effect=[_too_many("1"), started(SOAP, 4712)])

    with pytest.raises(HttpError) as caught:
        flavor.start(make(ticket="7T:abcdef", soap_version=SOAP))

    assert caught.value.status_code == 429
    assert batch.call_count == 1
    assert sleeps == []
