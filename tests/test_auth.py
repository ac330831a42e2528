"""Tickets: where they come from, when one counts as rejected, and who logs in again.

PROTOCOL.md section 3 (SoPrincipal), 6 (retry safety) and 7 (tickets). Every test that
involves a client runs for BatchClient and AsyncBatchClient through the ``flavor`` fixture,
and every one that sends a request runs with the client pinned to each SOAP version and
answered in it (the ``soap`` fixture).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import respx
from lxml import etree

from conftest import APP_TOKEN, BASE_URL, PRINCIPAL_URL, soap_taking_turns
from flavors import AsyncFlavor, SyncFlavor
from replies import (
    FAULT_CODES,
    TicketIssuer,
    action_of,
    argument,
    assert_sent_in,
    authenticated,
    documented_login_reply,
    fault,
    header_blocks,
    html,
    no_ticket,
    operation,
    operation_name,
    refused,
    service_error,
    started,
    task,
    ticket_of,
)
from superoffice_batch import (
    AccessToken,
    AuthenticationError,
    BatchClient,
    BatchTaskInfo,
    HttpError,
    ProtocolError,
    ServiceError,
    SoapFault,
    SoapVersion,
    TransportError,
    UsernamePassword,
)
from superoffice_batch.auth import FunctionSource, TicketKeeper, is_ticket_rejection
from superoffice_batch.errors import SuperOfficeError
from superoffice_batch.secrets import NO_SECRETS, Secrets
from superoffice_batch.servertext import ServerText

USERNAME = "jdoe"
# The password the refused fixture echoes back in ExtraInfo; not shaped like a ticket, so
# only the client's knowledge of its secrets can mask it.
PASSWORD = "Pa55-w0rd!x"
ACCESS_TOKEN = "8A:Cust12345.AccessTokenValue"
FIXED_TICKET = "7T:Zml4ZWQtdGlja2V0"
TASK = BatchTaskInfo(name="ExportTask")
PRINCIPAL_ACTION = "http://www.superoffice.net/ws/crm/NetServer/Services88/SoPrincipal/"

Source = Callable[[TicketIssuer], object]
SOURCES: dict[str, Source] = {
    "username-password": lambda issuer: UsernamePassword(USERNAME, PASSWORD),
    "access-token": lambda issuer: AccessToken(ACCESS_TOKEN),
    "callable": lambda issuer: issuer.next_ticket,
}


# -- fixtures (router, batch, make and soap are in conftest.py) ---------------------------


@pytest.fixture
def issuer(router: respx.MockRouter, soap: SoapVersion) -> TicketIssuer:
    """Answers every SoPrincipal login with the next ticket, in the test's SOAP version."""
    tickets = TicketIssuer(soap)
    router.post(PRINCIPAL_URL).mock(side_effect=tickets.issue)
    return tickets


def batch_tickets(route: respx.Route) -> list[str | None]:
    return [ticket_of(call.request) for call in route.calls]


def answer_by_ticket(
    version: SoapVersion,
    rejected: Collection[str] = (),
    rejection: Callable[[SoapVersion], httpx.Response] = lambda version: html(401, "Unauthorized"),
) -> Callable[[httpx.Request], httpx.Response]:
    """A Batch handler answering in ``version``: ``rejection`` for a ticket in ``rejected``,
    else a normal reply."""

    def answer(request: httpx.Request) -> httpx.Response:
        if ticket_of(request) in rejected:
            return rejection(version)
        if operation_name(request) == "GetBatchTaskInfo":
            return task(version)
        return started(version, 4711)

    return answer


def exposed_text(error: BaseException) -> str:
    """What an exception and the ones it chains to show: messages, reprs, attributes."""
    parts: list[str] = []
    current: BaseException | None = error
    while current is not None and len(parts) < 30:
        parts += [str(current), repr(current), repr(vars(current))]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def logged_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(record.getMessage() for record in caplog.records)


# -- 1. the sources ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "login", "arguments"),
    [
        (
            UsernamePassword(USERNAME, PASSWORD),
            "AuthenticateUsernamePassword",
            {"UserName": USERNAME, "Password": PASSWORD},
        ),
        (AccessToken(ACCESS_TOKEN), "AuthenticateWithAccessToken", {"AccessToken": ACCESS_TOKEN}),
    ],
    ids=["username-password", "access-token"],
)
def test_login_on_first_use_then_batch_call_carries_the_issued_ticket(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    issuer: TicketIssuer,
    batch: respx.Route,
    auth: object,
    login: str,
    arguments: dict[str, str],
) -> None:
    batch.mock(return_value=started(soap, 4711))
    client = make(auth=auth)
    assert issuer.sent == [], "nothing is sent before the first call"

    assert flavor.start(client, TASK) == 4711

    [sent] = issuer.sent
    assert str(sent.url) == PRINCIPAL_URL
    assert operation_name(sent) == login
    assert action_of(sent) == f"{PRINCIPAL_ACTION}{login}"
    assert_sent_in(soap, issuer.sent, batch.calls)
    assert {name: argument(sent, name) for name in arguments} == arguments
    blocks = header_blocks(sent)
    assert list(blocks) == ["ApplicationToken"], "SoPrincipal takes no Credentials"
    assert blocks["ApplicationToken"].text == APP_TOKEN
    assert batch_tickets(batch) == ["7T:issued-1"]
    assert header_blocks(batch.calls.last.request)["ApplicationToken"].text == APP_TOKEN


def test_login_without_application_token_sends_no_header_blocks(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    issuer: TicketIssuer,
    batch: respx.Route,
) -> None:
    batch.mock(return_value=started(soap, 4711))
    client = make(auth=UsernamePassword(USERNAME, PASSWORD), application_token=None)

    flavor.start(client, TASK)

    assert header_blocks(issuer.sent[0]) == {}
    assert batch_tickets(batch) == ["7T:issued-1"]
    assert_sent_in(soap, issuer.sent, batch.calls)


def test_login_settles_the_soap_version_for_batch_calls(
    flavor: SyncFlavor, make: Callable[..., Any], router: respx.MockRouter, batch: respx.Route
) -> None:
    # Negotiation, so no ``soap`` fixture: the client starts with SOAP 1.2, and the endpoint
    # that refuses it answers SOAP 1.1.
    soap11 = SoapVersion.SOAP11
    login = router.post(PRINCIPAL_URL).mock(
        side_effect=[html(415, "Unsupported media type"), authenticated(soap11, "7T:issued-1")]
    )
    batch.mock(return_value=started(soap11, 4711))
    client = make(auth=UsernamePassword(USERNAME, PASSWORD))

    flavor.start(client, TASK)

    refused_login, accepted_login = (call.request for call in login.calls)
    assert refused_login.headers["content-type"].startswith("application/soap+xml")
    assert accepted_login.headers["content-type"] == "text/xml; charset=utf-8"
    assert batch.call_count == 1, "the Batch call goes out as SOAP 1.1 at once"
    assert batch.calls.last.request.headers["content-type"] == "text/xml; charset=utf-8"


@pytest.mark.parametrize("source", SOURCES)
def test_later_calls_reuse_the_ticket(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    issuer: TicketIssuer,
    batch: respx.Route,
    source: str,
) -> None:
    batch.mock(side_effect=answer_by_ticket(soap))
    client = make(auth=SOURCES[source](issuer))

    flavor.start(client, TASK)
    flavor.run(client.get_batch_task_info(4711))
    flavor.start(client, TASK)

    assert issuer.issued == ["7T:issued-1"]
    assert batch_tickets(batch) == ["7T:issued-1"] * 3
    assert_sent_in(soap, issuer.sent, batch.calls)


def test_callable_source_is_called_once_and_needs_no_soprincipal(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    router: respx.MockRouter,
    batch: respx.Route,
) -> None:
    principal = router.post(PRINCIPAL_URL)
    calls: list[None] = []

    def source() -> str:
        calls.append(None)
        return "7T:from-the-callable"

    batch.mock(return_value=started(soap, 4711))
    client = make(auth=source)
    assert calls == [], "the callable is not called before the first call"

    flavor.start(client, TASK)
    flavor.start(client, TASK)

    assert len(calls) == 1
    assert batch_tickets(batch) == ["7T:from-the-callable"] * 2
    assert not principal.called
    assert_sent_in(soap, batch.calls)


@pytest.fixture
def async_flavor() -> Iterator[AsyncFlavor]:
    """Only AsyncBatchClient can await a ticket callable; this drives it alone."""
    driver = AsyncFlavor()
    yield driver
    driver.finish()


def test_async_client_awaits_an_async_callable_once(
    async_flavor: AsyncFlavor, soap: SoapVersion, batch: respx.Route
) -> None:
    calls: list[None] = []

    async def source() -> str:
        calls.append(None)
        await asyncio.sleep(0)
        return "7T:from-a-coroutine"

    batch.mock(return_value=started(soap, 4711))
    client = async_flavor.make(BASE_URL, auth=source, soap_version=soap)
    try:
        async_flavor.start(client, TASK)
        async_flavor.start(client, TASK)
    finally:
        async_flavor.close(client)

    assert len(calls) == 1
    assert batch_tickets(batch) == ["7T:from-a-coroutine"] * 2
    assert_sent_in(soap, batch.calls)


@pytest.mark.parametrize(
    ("returned", "expected"),
    [("", ValueError), (None, TypeError), (42, TypeError), (b"7T:bytes", TypeError)],
    ids=["empty", "none", "int", "bytes"],
)
def test_callable_returning_no_ticket_is_refused_before_any_batch_request(
    flavor: SyncFlavor,
    make: Callable[..., Any],
    batch: respx.Route,
    returned: object,
    expected: type[Exception],
) -> None:
    client = make(auth=lambda: returned)

    with pytest.raises(expected, match="ticket"):
        flavor.start(client, TASK)

    assert not batch.called


def test_fixed_ticket_is_sent_without_login(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    router: respx.MockRouter,
    batch: respx.Route,
) -> None:
    principal = router.post(PRINCIPAL_URL)
    batch.mock(return_value=started(soap, 4711))
    client = make(ticket=FIXED_TICKET)

    flavor.start(client, TASK)

    assert batch_tickets(batch) == [FIXED_TICKET]
    assert not principal.called
    assert_sent_in(soap, batch.calls)


@pytest.mark.parametrize(
    "auth",
    [UsernamePassword(USERNAME, PASSWORD), AccessToken(ACCESS_TOKEN), lambda: "7T:x", "7T:y"],
    ids=["username-password", "access-token", "callable", "str"],
)
def test_ticket_and_auth_together_is_value_error(flavor: SyncFlavor, auth: object) -> None:
    with pytest.raises(ValueError, match="either ticket= or auth="):
        flavor.make(BASE_URL, ticket=FIXED_TICKET, auth=auth)


@pytest.mark.parametrize(
    "options",
    [{"auth": 42}, {"auth": b"7T:bytes"}, {"auth": ("jdoe", "pw")}, {"ticket": 42}],
    ids=["int", "bytes", "tuple", "ticket-int"],
)
def test_unusable_ticket_source_is_type_error(flavor: SyncFlavor, options: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="auth must be"):
        flavor.make(BASE_URL, **options)


# -- 2. the source values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "secret"),
    [(UsernamePassword(USERNAME, PASSWORD), PASSWORD), (AccessToken(ACCESS_TOKEN), ACCESS_TOKEN)],
    ids=["username-password", "access-token"],
)
def test_source_repr_hides_the_secret(source: object, secret: str) -> None:
    shown = f"{source!r} {source}"
    assert secret not in shown
    assert "***" in shown


def test_username_stays_visible_in_repr() -> None:
    assert USERNAME in repr(UsernamePassword(USERNAME, PASSWORD))


@pytest.mark.parametrize(
    "build",
    [
        lambda: UsernamePassword("", PASSWORD),
        lambda: UsernamePassword(USERNAME, ""),
        lambda: AccessToken(""),
    ],
    ids=["empty-username", "empty-password", "empty-token"],
)
def test_empty_credentials_are_value_error(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        build()


@pytest.mark.parametrize(
    "build",
    [
        lambda: UsernamePassword(None, PASSWORD),
        lambda: UsernamePassword(USERNAME, 1234),
        lambda: AccessToken(b"8A:bytes"),
    ],
    ids=["username-none", "password-int", "token-bytes"],
)
def test_credentials_of_wrong_type_are_type_error(build: Callable[[], object]) -> None:
    with pytest.raises(TypeError):
        build()


def test_bad_character_error_does_not_show_the_password() -> None:
    password = "secret\x00value"
    with pytest.raises(ValueError, match=r"XML 1\.0") as raised:
        UsernamePassword(USERNAME, password)
    assert "secret" not in str(raised.value)


# -- 3. what counts as a rejected ticket ----------------------------------------------------------

# (ExceptionType, Message): how NetServer might say the ticket or session is no good. Only
# the type counts (PROTOCOL.md section 7); the messages are there to show they do not matter.
REJECTING_TEXTS = [
    # What NetServer throws when credentials fail validation (PROTOCOL.md section 7).
    ("SoSessionException", "Failed to validate tokens: ticket expired"),
    ("SuperOffice.CRM.Security.SoSessionException", "Failed to validate tokens: …"),
    ("SuperOffice.Exceptions.SoSessionException", None),
    ("SuperOffice.Exceptions.InvalidTicketException", "The ticket is invalid or has expired"),
    ("InvalidTicketException", None),
    ("SessionExpiredException", "Authentication required"),
    ("SoTicketExpiredException", "Disk full"),
    ("SoSessionNotValidException", ""),
]
# Errors whose message speaks of a bad ticket or session, and types that do not say so.
NEAR_MISSES = [
    ("SoException", "Invalid argument"),
    ("SoException", "Support ticket 12 is invalid"),
    ("SoException", "Session table: invalid row"),
    ("SoSecurityException", "Invalid ticket"),
    ("SoException", "Your session has expired. Please log in again."),
    (None, "Ticket expired"),
    ("SoException", "Session timeout for report generation"),
    ("ArgumentException", "Invalid batch task id: 0"),
    ("SoLicenseException", "The license has expired"),
    ("SoSecurityException", "Access denied: missing function right allow-batch"),
    ("TicketNotFoundException", "Ticket booking not found"),
    ("SessionTableException", None),
    (None, None),
    # .NET types that can come after the job was dispatched: a file's permissions, TLS.
    ("System.UnauthorizedAccessException", "Access to the path is denied"),
    ("System.Security.Authentication.AuthenticationException", "TLS handshake failed"),
    ("SoAuthenticationException", None),
    ("SuperOffice.Exceptions.InvalidCredentialsException", "Login failed"),
    ("SoSessionExceptionHandler", None),
]


S12 = "http://www.w3.org/2003/05/soap-envelope"


def said(text: str) -> ServerText:
    """``text`` as the server's words (no secret to mask)."""
    return ServerText(text, NO_SECRETS)


def _service(pair: tuple[str | None, str | None], **extra: Any) -> ServiceError:
    exception_type, message = (None if text is None else said(text) for text in pair)
    return ServiceError(exception_type=exception_type, message=message, **extra)


@pytest.mark.parametrize(
    ("error", "rejected"),
    [
        *((_service(pair), True) for pair in REJECTING_TEXTS),
        *((_service(pair), False) for pair in NEAR_MISSES),
        (HttpError(401, said("")), True),
        (HttpError(401, said("<html>Unauthorized</html>"), said("text/html")), True),
        (HttpError(403, said("Forbidden")), True),
        (HttpError(500, said("Invalid ticket")), False),
        (HttpError(503, said("Session expired")), False),
        # Only a business error's type or an HTTP 401/403 says so (section 7), not a fault.
        (SoapFault(said(f"{{{S12}}}Sender"), said("Invalid ticket")), False),
        (SoapFault(said("{urn:x}Sender"), said("Denied"), status_code=401), True),
        (ServiceError(exception_type=said("SoException"), status_code=403), True),
        (TransportError("ReadTimeout: session expired?", request_sent=True), False),
        (ProtocolError("Invalid ticket in reply"), False),
        (AuthenticationError("authentication failed: ticket invalid"), False),
        # The reason may sit deeper in the server's exception chain.
        (
            _service(
                ("SoException", "Could not start"), inner_exception=_service(REJECTING_TEXTS[2])
            ),
            True,
        ),
        (
            _service(("SoException", "Could not start"), inner_exception=_service(NEAR_MISSES[0])),
            False,
        ),
        (
            _service(
                ("SoException", "Could not start"),
                inner_exception=_service(("System.UnauthorizedAccessException", "Denied")),
            ),
            False,
        ),
    ],
    ids=repr,
)
def test_is_ticket_rejection(error: SuperOfficeError, rejected: bool) -> None:
    assert is_ticket_rejection(error) is rejected


# -- 4. rejection on the wire: one refresh, one re-send ------------------------------------------

# Each builds its reply in the SOAP version it is given; the HTTP ones are the same in both.
REJECTIONS: dict[str, Callable[[SoapVersion], httpx.Response]] = {
    "http-401-html": lambda version: html(401, "Unauthorized"),
    "http-401-empty": lambda version: httpx.Response(401),
    "http-403-html": lambda version: html(403, "Forbidden"),
    **{
        f"service-error-{index}": (
            lambda version, pair=pair: service_error(version, pair[1], pair[0])
        )
        for index, pair in enumerate(REJECTING_TEXTS)
    },
    "inner-exception": lambda version: service_error(
        version,
        "Could not start the batch task",
        inner_message="Ticket has expired",
        inner_type="SoTicketExpiredException",
    ),
}
RAISED = {"http-401-html": HttpError, "http-401-empty": HttpError, "http-403-html": HttpError}

CALLS: dict[str, Callable[[Any], Any]] = {
    "StartBatchJob": lambda client: client.start_batch_job(TASK),
    "GetBatchTaskInfo": lambda client: client.get_batch_task_info(4711),
}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize(("rejection", "soap"), soap_taking_turns(REJECTIONS))
def test_rejected_ticket_is_refreshed_and_the_call_resent_once(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    issuer: TicketIssuer,
    batch: respx.Route,
    rejection: str,
    call: str,
) -> None:
    batch.mock(side_effect=answer_by_ticket(soap, {"7T:issued-1"}, REJECTIONS[rejection]))
    client = make(auth=UsernamePassword(USERNAME, PASSWORD))

    result = flavor.run(CALLS[call](client))

    assert (result if call == "StartBatchJob" else result.id) == 4711
    assert batch_tickets(batch) == ["7T:issued-1", "7T:issued-2"]
    assert len(issuer.sent) == 2
    first, second = (operation(c.request) for c in batch.calls)
    assert etree.tostring(first, method="c14n") == etree.tostring(second, method="c14n")
    assert_sent_in(soap, issuer.sent, batch.calls)


@pytest.mark.parametrize("source", SOURCES)
def test_every_refreshable_source_refreshes(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    issuer: TicketIssuer,
    batch: respx.Route,
    source: str,
) -> None:
    batch.mock(side_effect=answer_by_ticket(soap, {"7T:issued-1"}, REJECTIONS["http-401-html"]))
    client = make(auth=SOURCES[source](issuer))

    assert flavor.start(client, TASK) == 4711

    assert issuer.issued == ["7T:issued-1", "7T:issued-2"]
    assert batch_tickets(batch) == ["7T:issued-1", "7T:issued-2"]
    assert_sent_in(soap, issuer.sent, batch.calls)


def test_the_fresh_ticket_is_kept_for_later_calls(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    issuer: TicketIssuer,
    batch: respx.Route,
) -> None:
    batch.mock(side_effect=answer_by_ticket(soap, {"7T:issued-1"}, REJECTIONS["http-401-html"]))
    client = make(auth=UsernamePassword(USERNAME, PASSWORD))

    flavor.start(client, TASK)
    flavor.start(client, TASK)

    assert batch_tickets(batch) == ["7T:issued-1", "7T:issued-2", "7T:issued-2"]
    assert len(issuer.sent) == 2
    assert_sent_in(soap, issuer.sent, batch.calls)


@pytest.mark.parametrize("rejection", ["http-401-html", "service-error-2", "inner-exception"])
def test_a_second_rejection_is_raised_not_looped(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    issuer: TicketIssuer,
    batch: respx.Route,
    rejection: str,
) -> None:
    # One more rejection than may be used: a client that kept refreshing would reach it.
    batch.mock(side_effect=[REJECTIONS[rejection](soap) for _ in range(3)])
    client = make(auth=UsernamePassword(USERNAME, PASSWORD))

    with pytest.raises(RAISED.get(rejection, ServiceError)) as raised:
        flavor.start(client, TASK)

    assert is_ticket_rejection(raised.value)
    assert batch_tickets(batch) == ["7T:issued-1", "7T:issued-2"]
    assert len(issuer.sent) == 2
    assert_sent_in(soap, issuer.sent, batch.calls)


@pytest.mark.parametrize("source", ["username-password", "callable"])
def test_refresh_yielding_the_rejected_ticket_again_is_not_resent(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    router: respx.MockRouter,
    batch: respx.Route,
    source: str,
) -> None:
    issued: list[str] = []

    def same_ticket() -> str:
        issued.append("7T:c2FtZS10aWNrZXQ=")
        return issued[-1]

    login = router.post(PRINCIPAL_URL).mock(
        side_effect=lambda request: authenticated(soap, same_ticket())
    )
    auth = UsernamePassword(USERNAME, PASSWORD) if source == "username-password" else same_ticket
    batch.mock(side_effect=[html(401), started(soap, 4711)])
    client = make(auth=auth)

    with pytest.raises(HttpError) as raised:
        flavor.start(client, TASK)

    assert raised.value.status_code == 401
    assert len(issued) == 2, "it did log in again"
    assert batch.call_count == 1, "but a ticket just rejected is not sent again"
    assert login.call_count == (2 if source == "username-password" else 0)
    assert_sent_in(soap, router.calls)


# Neither ticket= nor auth=: refused before sending (test_client.py, issue 18 friction 1).
@pytest.mark.parametrize(("rejection", "soap"), soap_taking_turns(REJECTIONS))
def test_rejection_without_a_source_to_refresh_from_is_raised_after_one_request(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    router: respx.MockRouter,
    batch: respx.Route,
    rejection: str,
) -> None:
    principal = router.post(PRINCIPAL_URL)
    batch.mock(side_effect=[REJECTIONS[rejection](soap) for _ in range(2)])
    client = make(ticket=FIXED_TICKET)

    with pytest.raises(RAISED.get(rejection, ServiceError)):
        flavor.start(client, TASK)

    assert batch_tickets(batch) == [FIXED_TICKET]
    assert not principal.called
    assert_sent_in(soap, batch.calls)


OTHER_FAILURES = [
    *(
        (
            lambda version, pair=pair: service_error(version, pair[1], pair[0]),
            ServiceError,
            {"exception_type": pair[0], "message": pair[1]},
        )
        for pair in NEAR_MISSES
    ),
    *((lambda version, status=status: html(status), HttpError, {"status_code": status})
      for status in (404, 500)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("failure", "soap"), soap_taking_turns(OTHER_FAILURES, ids=lambda failure: repr(failure[2]))
)
def test_other_failures_are_raised_without_refresh(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    issuer: TicketIssuer,
    batch: respx.Route,
    failure: tuple[
        Callable[[SoapVersion], httpx.Response], type[SuperOfficeError], dict[str, object]
    ],
) -> None:
    reply, error_type, attributes = failure
    batch.mock(return_value=reply(soap))
    client = make(auth=UsernamePassword(USERNAME, PASSWORD))

    with pytest.raises(error_type) as raised:
        flavor.start(client, TASK)

    assert {name: getattr(raised.value, name) for name in attributes} == attributes
    assert batch.call_count == 1
    assert len(issuer.sent) == 1
    assert_sent_in(soap, issuer.sent, batch.calls)


# -- 5. failed logins ------------------------------------------------------------------------

LoginReply = Callable[[SoapVersion, str], httpx.Response]
LOGIN_FAILURES: dict[str, tuple[LoginReply, type[SuperOfficeError]]] = {
    "not-succeeded": (refused, AuthenticationError),
    "empty-ticket": (lambda version, secret: no_ticket(version), AuthenticationError),
    "documented-reply": (
        lambda version, secret: documented_login_reply(version),
        AuthenticationError,
    ),
    "soap-fault": (lambda version, secret: fault(version, f"Login failed for {secret}"), SoapFault),
    "http-500": (lambda version, secret: html(500, f"Server error ({secret})"), HttpError),
    "service-error": (
        lambda version, secret: service_error(
            version, f"Bad credentials: {secret}", operation="Authenticate"
        ),
        ServiceError,
    ),
}
SECRET_SOURCES = {
    "username-password": (UsernamePassword(USERNAME, PASSWORD), PASSWORD),
    "access-token": (AccessToken(ACCESS_TOKEN), ACCESS_TOKEN),
}


@pytest.mark.parametrize("source", SECRET_SOURCES)
@pytest.mark.parametrize("failure", LOGIN_FAILURES)
def test_failed_login_raises_and_never_shows_the_secret(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    router: respx.MockRouter,
    batch: respx.Route,
    caplog: pytest.LogCaptureFixture,
    failure: str,
    source: str,
) -> None:
    auth, secret = SECRET_SOURCES[source]
    reply, expected = LOGIN_FAILURES[failure]
    router.post(PRINCIPAL_URL).mock(side_effect=lambda request: reply(soap, secret))
    client = make(auth=auth)
    caplog.set_level(logging.DEBUG, logger="superoffice_batch")

    with pytest.raises(expected) as raised:
        flavor.start(client, TASK)

    assert not batch.called
    assert secret not in exposed_text(raised.value)
    assert caplog.records, "the failed login is logged"
    assert secret not in logged_text(caplog)
    if isinstance(raised.value, SoapFault):  # read in the version's own fault format
        assert raised.value.code == FAULT_CODES[soap]
        assert raised.value.reason.startswith("Login failed for ")
    assert_sent_in(soap, router.calls)


@pytest.mark.parametrize("source", SECRET_SOURCES)
def test_secret_echoed_by_a_batch_call_is_never_shown(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    issuer: TicketIssuer,
    batch: respx.Route,
    caplog: pytest.LogCaptureFixture,
    source: str,
) -> None:
    auth, secret = SECRET_SOURCES[source]
    batch.mock(return_value=service_error(soap, f"No task definition for user {secret}"))
    client = make(auth=auth)
    caplog.set_level(logging.DEBUG, logger="superoffice_batch")

    with pytest.raises(ServiceError) as raised:
        flavor.start(client, TASK)

    assert "No task definition for user" in str(raised.value)
    assert secret not in exposed_text(raised.value)
    assert secret not in logged_text(caplog)
    assert_sent_in(soap, issuer.sent, batch.calls)


def test_refused_login_does_not_show_the_ticket_it_carries(
    flavor: SyncFlavor, soap: SoapVersion, make: Callable[..., Any], router: respx.MockRouter
) -> None:
    reply = refused(soap, PASSWORD)
    router.post(PRINCIPAL_URL).mock(return_value=reply)
    client = make(auth=UsernamePassword(USERNAME, PASSWORD))

    with pytest.raises(AuthenticationError) as raised:
        flavor.start(client, TASK)

    assert b"7T:bm90IGEgdmFsaWQgdGlja2V0" in reply.content
    assert "bm90IGEgdmFsaWQgdGlja2V0" not in exposed_text(raised.value)
    assert_sent_in(soap, router.calls)


def test_failed_refresh_is_raised_after_one_batch_request(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    router: respx.MockRouter,
    batch: respx.Route,
) -> None:
    login = router.post(PRINCIPAL_URL).mock(
        side_effect=[authenticated(soap, "7T:issued-1"), refused(soap, PASSWORD)]
    )
    batch.mock(return_value=html(401))
    client = make(auth=UsernamePassword(USERNAME, PASSWORD))

    with pytest.raises(AuthenticationError):
        flavor.start(client, TASK)

    assert batch.call_count == 1
    assert login.call_count == 2
    assert_sent_in(soap, router.calls)


def test_successful_login_logs_neither_password_nor_tickets(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    issuer: TicketIssuer,
    batch: respx.Route,
    caplog: pytest.LogCaptureFixture,
) -> None:
    batch.mock(side_effect=answer_by_ticket(soap, {"7T:issued-1"}, REJECTIONS["http-401-html"]))
    client = make(auth=UsernamePassword(USERNAME, PASSWORD))
    caplog.set_level(logging.DEBUG, logger="superoffice_batch")

    flavor.start(client, TASK)

    logged = logged_text(caplog)
    assert "AuthenticateUsernamePassword" in logged, "the login envelope is logged at DEBUG"
    for secret in (PASSWORD, APP_TOKEN, "issued-1", "issued-2"):
        assert secret not in logged
    assert_sent_in(soap, issuer.sent, batch.calls)


# -- 6. concurrency: one login, one refresh -------------------------------------------------------

CROWD = 8
LOGIN_DELAY = 0.03
WAIT_LIMIT = 5.0


class _Threads:
    """Runs calls on threads against one BatchClient; handlers block.

    :meth:`slowed` delays a handler; :meth:`held` keeps each request carrying ``ticket``
    waiting until ``size`` of them have arrived.
    """

    def __init__(self, size: int) -> None:
        self.size = size

    def slowed(self, handler: Callable[[httpx.Request], httpx.Response]) -> Callable[..., Any]:
        def effect(request: httpx.Request) -> httpx.Response:
            time.sleep(LOGIN_DELAY)
            return handler(request)

        return effect

    def held(
        self, ticket: str, handler: Callable[[httpx.Request], httpx.Response]
    ) -> Callable[..., Any]:
        barrier = threading.Barrier(self.size, timeout=WAIT_LIMIT)

        def effect(request: httpx.Request) -> httpx.Response:
            if ticket_of(request) == ticket:
                barrier.wait()
            return handler(request)

        return effect

    def run(self, flavor: SyncFlavor, calls: list[Callable[[], Any]]) -> list[Any]:
        start = threading.Barrier(len(calls), timeout=WAIT_LIMIT)

        def together(call: Callable[[], Any]) -> Any:
            start.wait()
            return call()

        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            futures = [pool.submit(together, call) for call in calls]
            return [future.result(timeout=WAIT_LIMIT) for future in futures]


class _Tasks:
    """Runs calls as asyncio tasks against one AsyncBatchClient; handlers yield."""

    def __init__(self, size: int) -> None:
        self.size = size

    def slowed(self, handler: Callable[[httpx.Request], httpx.Response]) -> Callable[..., Any]:
        async def effect(request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(LOGIN_DELAY)
            return handler(request)

        return effect

    def held(
        self, ticket: str, handler: Callable[[httpx.Request], httpx.Response]
    ) -> Callable[..., Any]:
        arrived: list[None] = []
        everyone = asyncio.Event()

        async def effect(request: httpx.Request) -> httpx.Response:
            if ticket_of(request) == ticket:
                arrived.append(None)
                if len(arrived) == self.size:
                    everyone.set()
                await asyncio.wait_for(everyone.wait(), WAIT_LIMIT)
            return handler(request)

        return effect

    def run(self, flavor: SyncFlavor, calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
        async def gather() -> list[Any]:
            return list(await asyncio.gather(*(call() for call in calls)))

        return flavor.run(gather())  # type: ignore[no-any-return]


@pytest.fixture
def crowd(flavor: SyncFlavor) -> _Threads | _Tasks:
    return _Tasks(CROWD) if isinstance(flavor, AsyncFlavor) else _Threads(CROWD)


def test_concurrent_first_calls_share_one_login(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    router: respx.MockRouter,
    batch: respx.Route,
    crowd: _Threads | _Tasks,
) -> None:
    tickets = TicketIssuer(soap)
    router.post(PRINCIPAL_URL).mock(side_effect=crowd.slowed(tickets.issue))
    batch.mock(side_effect=answer_by_ticket(soap))
    client = make(auth=UsernamePassword(USERNAME, PASSWORD))

    results = crowd.run(flavor, [lambda: client.start_batch_job(TASK)] * CROWD)

    assert results == [4711] * CROWD
    assert len(tickets.sent) == 1
    assert batch_tickets(batch) == ["7T:issued-1"] * CROWD
    assert_sent_in(soap, router.calls)


def test_concurrent_rejections_of_one_ticket_share_one_refresh(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    router: respx.MockRouter,
    batch: respx.Route,
    crowd: _Threads | _Tasks,
) -> None:
    tickets = TicketIssuer(soap)
    router.post(PRINCIPAL_URL).mock(side_effect=crowd.slowed(tickets.issue))
    client = make(auth=UsernamePassword(USERNAME, PASSWORD))
    batch.mock(side_effect=answer_by_ticket(soap))
    flavor.start(client, TASK)  # logs in: 7T:issued-1
    # Every caller gets its rejection of 7T:issued-1 before any of them may go on.
    reject_first = answer_by_ticket(soap, {"7T:issued-1"})
    batch.mock(side_effect=crowd.held("7T:issued-1", reject_first))

    results = crowd.run(flavor, [lambda: client.start_batch_job(TASK)] * CROWD)

    assert results == [4711] * CROWD
    assert tickets.issued == ["7T:issued-1", "7T:issued-2"]
    sent = batch_tickets(batch)[1:]
    assert sorted(sent) == ["7T:issued-1"] * CROWD + ["7T:issued-2"] * CROWD
    assert_sent_in(soap, router.calls)


def test_the_sync_client_refuses_an_async_ticket_source_by_name(batch: respx.Route) -> None:
    async def source() -> str:
        return "7T:never"

    with (
        BatchClient(BASE_URL, auth=source) as client,
        pytest.raises(TypeError, match="ticket source returned an awaitable: BatchClient"),
    ):
        client.start_batch_job(TASK)

    assert not batch.called


def test_a_callable_source_logs_in_through_a_flow_like_every_other_source() -> None:
    keeper = TicketKeeper(lambda: "7T:from-a-function", None, Secrets())

    assert isinstance(keeper.source, FunctionSource)
    flow = keeper.login_flow(session=None)  # type: ignore[arg-type]
    with pytest.raises(StopIteration) as done:
        next(flow)
    assert done.value.value == "7T:from-a-function"


class _KnownTicket:
    """A login flow that needs no request: it hands out a ticket it already has."""

    secrets: tuple[str, ...] = ()

    def login_flow(self, session: object) -> Generator[object, object, str]:
        return FIXED_TICKET
        yield  # a generator, as the protocol asks, that never yields


def test_a_login_flow_may_return_without_a_request(
    flavor: SyncFlavor,
    soap: SoapVersion,
    make: Callable[..., Any],
    issuer: TicketIssuer,
    batch: respx.Route,
) -> None:
    batch.mock(return_value=started(soap, 4711))
    client = make(auth=_KnownTicket())

    assert flavor.start(client, TASK) == 4711

    assert issuer.sent == []
    assert batch_tickets(batch) == [FIXED_TICKET]
