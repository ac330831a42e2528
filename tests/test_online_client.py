"""Both clients with a SystemUser against the Online simulator: real HTTP on loopback.

The simulator plays SuperOffice CRM Online as PROTOCOL.md section 11 documents it: the
system-user exchange, the JWKS, the tenant state API, numbered tenant hosts that answer
421 for a tenant they do not hold, NetServer's SoSessionException for a dead ticket.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
import types
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
import respx

import superoffice_batch.auth as auth_module
import superoffice_batch.online as online_module
from flavors import SyncFlavor
from superoffice_batch import (
    AsyncBatchClient,
    AuthenticationError,
    BatchClient,
    BatchTaskInfo,
    HttpError,
    ProtocolError,
    SoapVersion,
    SystemUser,
    TenantUnavailable,
)
from superoffice_batch.auth import TenantCache
from superoffice_batch.online import TICKET_IDLE_LIMIT, OnlineTenant, TenantState
from superoffice_batch.testing.online import OnlineSimulator, RsaKey, generate_app_key

TASK = BatchTaskInfo(name="ExportTask")


@pytest.fixture(scope="module")
def keys() -> tuple[RsaKey, RsaKey]:
    """The app's key and the simulator's signing key, made once for the module."""
    return generate_app_key(), generate_app_key()


@pytest.fixture
def clock() -> list[float]:
    """Seconds added to the wall clock, for the simulator and the client alike."""
    return [0.0]


@pytest.fixture
def shifted_time(clock: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's view of the wall clock follows ``clock`` (monotonic time does not)."""
    fake = types.SimpleNamespace(
        time=lambda: time.time() + clock[0],
        monotonic=time.monotonic,
        perf_counter=time.perf_counter,
    )
    monkeypatch.setattr(auth_module, "time", fake)
    monkeypatch.setattr(online_module, "time", fake)


@pytest.fixture
def online(keys: tuple[RsaKey, RsaKey], clock: list[float]) -> Iterator[OnlineSimulator]:
    app_key, signing_key = keys
    with OnlineSimulator(
        app_key=app_key,
        signing_key=signing_key,
        job_duration=0.0,
        clock=lambda: time.time() + clock[0],
    ) as simulator:
        yield simulator


def secrets_of(online: OnlineSimulator, user: SystemUser) -> list[str]:
    ticket = user.ticket_cache.ticket
    return [
        online.system_user_token,
        online.application_token,
        online.private_key_pem.splitlines()[1],
        *([ticket] if ticket else []),
    ]


def test_calls_need_no_base_url_the_client_finds_the_tenant(
    flavor: SyncFlavor, online: OnlineSimulator
) -> None:
    client = flavor.make(None, auth=online.system_user())
    assert client.base_url is None
    try:
        job_id = flavor.start(client)
        info = flavor.run(client.get_batch_task_info(job_id))
    finally:
        flavor.close(client)

    assert info is not None
    assert info.name == "ExportTask"
    # Endpoint has no trailing slash: joining the service path kept the tenant.
    assert client.base_url == online.endpoint() + "/"
    assert online.calls == ["StartBatchJob", "GetBatchTaskInfo"]
    assert (online.exchanges, online.state_requests, online.jwks_requests) == (1, 1, 1)


def test_the_key_as_rsaxml_works_as_well(online: OnlineSimulator) -> None:
    with BatchClient(auth=online.system_user(private_key=online.private_key_rsaxml)) as client:
        assert client.start_batch_job(TASK) > 0
    assert online.exchanges == 1


def test_many_threads_share_one_exchange_and_one_state_read(online: OnlineSimulator) -> None:
    user = online.system_user()
    errors: list[BaseException] = []

    with BatchClient(auth=user) as client:

        def work() -> None:
            try:
                for _ in range(8):
                    client.get_batch_task_infos_by_state("Started")
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=work) for _ in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    assert errors == []
    assert len(online.calls) == 32 * 8
    assert (online.exchanges, online.state_requests, online.jwks_requests) == (1, 1, 1)


def test_many_tasks_share_one_exchange(online: OnlineSimulator) -> None:
    async def main() -> None:
        async with AsyncBatchClient(auth=online.system_user()) as client:
            await asyncio.gather(
                *(client.get_batch_task_infos_by_state("Started") for _ in range(64))
            )

    asyncio.run(main())

    assert len(online.calls) == 64
    assert (online.exchanges, online.state_requests) == (1, 1)


def test_clients_sharing_a_system_user_share_its_ticket(online: OnlineSimulator) -> None:
    user = online.system_user()
    for _ in range(3):
        with BatchClient(auth=user) as client:
            client.start_batch_job(TASK)
    assert (online.exchanges, online.state_requests) == (1, 1)


def test_sync_clients_sharing_a_system_user_share_one_exchange_at_once(
    online: OnlineSimulator,
) -> None:
    user = online.system_user()
    clients = [BatchClient(auth=user) for _ in range(4)]
    barrier = threading.Barrier(len(clients) * 4)
    errors: list[BaseException] = []

    def first_call(client: BatchClient) -> None:
        barrier.wait()
        try:
            client.get_batch_task_infos_by_state("Started")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=first_call, args=(c,)) for c in clients * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for client in clients:
        client.close()

    assert errors == []
    assert (online.exchanges, online.state_requests) == (1, 1)


def test_a_moved_tenant_is_found_again_and_the_call_sent_once_more(
    flavor: SyncFlavor, online: OnlineSimulator
) -> None:
    client = flavor.make(None, auth=online.system_user())
    try:
        flavor.start(client)
        online.move(host=1)
        flavor.start(client)
    finally:
        flavor.close(client)

    # The 421 was not processed: two jobs for two starts, not three.
    assert len(online.jobs) == 2
    assert online.misdirected == 1
    assert online.state_requests == 2
    assert client.base_url == online.endpoint() + "/"
    assert online.exchanges == 1


class _Misdirecting:
    """A front end that answers every Batch call 421: with the documented text, as a host
    without the tenant does, or (``processed``) after passing it on, with the real reply's
    body, as a hostile proxy might."""

    def __init__(self, *, processed: bool = False) -> None:
        self.processed = processed
        self.batch_posts = 0

    def is_batch_call(self, request: httpx.Request) -> bool:
        if request.method == "POST" and request.url.path.endswith("/Batch.svc"):
            self.batch_posts += 1
            return True
        return False

    def misdirected(self, request: httpx.Request, real: httpx.Response | None) -> httpx.Response:
        if real is None:
            return httpx.Response(
                421, text="Wrong subdomain used to access tenant", request=request
            )
        content_type = {"Content-Type": real.headers["Content-Type"]}
        return httpx.Response(421, content=real.content, headers=content_type, request=request)


def misdirecting_client(flavor: SyncFlavor, front: _Misdirecting) -> Any:
    if flavor.name == "sync":
        real = httpx.HTTPTransport()

        class Sync(httpx.BaseTransport):
            def handle_request(self, request: httpx.Request) -> httpx.Response:
                if not front.is_batch_call(request):
                    return real.handle_request(request)
                reply = real.handle_request(request) if front.processed else None
                if reply is not None:
                    reply.read()
                return front.misdirected(request, reply)

            def close(self) -> None:
                real.close()

        return httpx.Client(transport=Sync())
    real_async = httpx.AsyncHTTPTransport()

    class Async(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if not front.is_batch_call(request):
                return await real_async.handle_async_request(request)
            reply = await real_async.handle_async_request(request) if front.processed else None
            if reply is not None:
                await reply.aread()
            return front.misdirected(request, reply)

        async def aclose(self) -> None:
            await real_async.aclose()

    return httpx.AsyncClient(transport=Async())


def start_through(flavor: SyncFlavor, online: OnlineSimulator, front: _Misdirecting) -> HttpError:
    """Start a job through ``front``; the HttpError it ends in."""
    http = misdirecting_client(flavor, front)
    # Pinned: the simulator's 415 to SOAP 1.2 would otherwise be a body passed on.
    client = flavor.make(
        None, auth=online.system_user(), http_client=http, soap_version=SoapVersion.SOAP11
    )
    try:
        with pytest.raises(HttpError) as raised:
            flavor.start(client)
    finally:
        flavor.close(client)
        flavor.close_http(http)
    return raised.value


def test_a_second_421_is_raised(flavor: SyncFlavor, online: OnlineSimulator) -> None:
    front = _Misdirecting()

    error = start_through(flavor, online, front)

    assert error.status_code == 421
    assert front.batch_posts == 2
    assert online.state_requests == 2
    assert online.jobs == []


def test_a_421_whose_body_is_a_successful_reply_is_not_sent_again(
    flavor: SyncFlavor, online: OnlineSimulator
) -> None:
    front = _Misdirecting(processed=True)

    error = start_through(flavor, online, front)

    assert error.status_code == 421
    assert front.batch_posts == 1
    assert len(online.jobs) == 1  # it ran: a second start would have made two


def test_with_a_fixed_base_url_a_421_is_raised_with_a_hint(online: OnlineSimulator) -> None:
    # The login host serves authentication only, like sod.superoffice.com.
    with (
        BatchClient(
            f"{online.environment}/{online.context_identifier}", auth=online.system_user()
        ) as client,
        pytest.raises(HttpError) as raised,
    ):
        client.start_batch_job(TASK)

    assert raised.value.status_code == 421
    assert "leave out base_url and pass auth=SystemUser" in str(raised.value)
    assert online.misdirected == 1
    assert online.state_requests == 0


@pytest.mark.parametrize("state", ["OfflineMaintenance", "Suspended", "Deleted", "Provisioning"])
def test_an_unavailable_tenant_sends_nothing(online: OnlineSimulator, state: str) -> None:
    online.set_state(state=state)

    with (
        BatchClient(auth=online.system_user()) as client,
        pytest.raises(TenantUnavailable) as raised,
    ):
        client.start_batch_job(TASK)

    assert (raised.value.state, raised.value.context_identifier) == (state, "Cust12345")
    assert online.calls == []
    assert online.exchanges == 0


def test_the_log_line_of_a_call_refused_before_sending_names_the_endpoint(
    online: OnlineSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="superoffice_batch")
    online.set_state(state="OfflineMaintenance")

    with BatchClient(auth=online.system_user()) as client, pytest.raises(TenantUnavailable):
        client.start_batch_job(TASK)

    [line] = [r.getMessage() for r in caplog.records if "TenantUnavailable" in r.getMessage()]
    assert line.startswith(f"StartBatchJob POST {online.endpoint()}/Remote/Services88/Batch.svc")


def test_online_maintenance_leaves_the_api_available(online: OnlineSimulator) -> None:
    online.set_state(state="OnlineMaintenance")
    with BatchClient(auth=online.system_user()) as client:
        assert client.start_batch_job(TASK) > 0


def test_an_unknown_tenant_is_unavailable(online: OnlineSimulator) -> None:
    user = online.system_user(context_identifier="Cust99999")
    with BatchClient(auth=user) as client, pytest.raises(TenantUnavailable, match="Unknown"):
        client.start_batch_job(TASK)
    assert online.calls == []


@pytest.mark.usefixtures("shifted_time")
def test_the_state_is_kept_until_valid_until_then_read_again(
    online: OnlineSimulator, clock: list[float]
) -> None:
    with BatchClient(auth=online.system_user()) as client:
        client.start_batch_job(TASK)
        clock[0] = 250.0
        client.start_batch_job(TASK)  # the state on record is valid for 300 s
        assert online.state_requests == 1
        clock[0] = 0.0
        online.set_state(state="OfflineMaintenance", seconds=600)

        clock[0] = 400.0  # past ValidUntil (300 s), inside the window
        with pytest.raises(TenantUnavailable):
            client.start_batch_job(TASK)
        assert online.state_requests == 2
        assert len(online.calls) == 2

        clock[0] = 1300.0  # the window is over
        client.start_batch_job(TASK)
        assert online.state_requests == 3
    assert online.exchanges == 1


def test_tenant_state_reads_the_state_anew(flavor: SyncFlavor, online: OnlineSimulator) -> None:
    client = flavor.make(None, auth=online.system_user())
    try:
        first = flavor.run(client.tenant_state())
        online.set_state(state="OfflineMaintenance")
        second = flavor.run(client.tenant_state())
    finally:
        flavor.close(client)

    assert (first.state, first.endpoint) == ("Running", online.endpoint())
    assert second.state == "OfflineMaintenance"
    assert not second.api_available
    assert online.state_requests == 2
    assert online.exchanges == 0


def test_tenant_state_needs_a_system_user() -> None:
    client = BatchClient("https://sod2.superoffice.com/Cust12345", ticket="7T:x")
    with client, pytest.raises(ValueError, match="SystemUser"):
        client.tenant_state()


def test_an_expired_ticket_is_exchanged_again_and_the_call_sent_once_more(
    flavor: SyncFlavor, online: OnlineSimulator
) -> None:
    user = online.system_user()
    client = flavor.make(None, auth=user)
    try:
        flavor.start(client)
        first = user.ticket_cache.ticket
        online.expire_tickets()
        flavor.start(client)
    finally:
        flavor.close(client)

    assert online.exchanges == 2
    assert user.ticket_cache.ticket != first
    assert len(online.jobs) == 2
    assert online.jwks_requests == 1  # the key is known: not fetched again


def test_a_ticket_idle_for_six_hours_is_exchanged_again(online: OnlineSimulator) -> None:
    user = online.system_user()
    with BatchClient(auth=user) as client:
        client.start_batch_job(TASK)
        user.ticket_cache.last_used -= TICKET_IDLE_LIMIT + 1
        client.start_batch_job(TASK)
        client.start_batch_job(TASK)

    assert online.exchanges == 2
    assert online.calls == ["StartBatchJob"] * 3  # no rejection was needed


def test_a_rotated_signing_key_is_fetched_once(online: OnlineSimulator) -> None:
    user = online.system_user()
    with BatchClient(auth=user) as client:
        client.start_batch_job(TASK)
        online.rotate_signing_key()
        online.expire_tickets()
        client.start_batch_job(TASK)
        online.expire_tickets()
        client.start_batch_job(TASK)

    assert online.exchanges == 3
    assert online.jwks_requests == 2


def test_an_unknown_kid_fetches_the_keys_once_then_fails(online: OnlineSimulator) -> None:
    user = online.system_user()
    with BatchClient(auth=user) as client:
        client.start_batch_job(TASK)
        online.expire_tickets()
        online.tamper(unknown_kid=True)
        with pytest.raises(AuthenticationError, match="kid"):
            client.start_batch_job(TASK)
    assert online.jwks_requests == 2


@pytest.mark.parametrize(
    ("tampering", "reason"),
    [
        ({"issuer": "https://sod.superoffice.com/login"}, "issuer"),
        ({"audience": "spn:someone-else"}, "audience"),
        ({"algorithm": "none"}, "not RS256"),
        ({"algorithm": "HS256"}, "not RS256"),
        ({"expires_in": -120}, "expired"),
        ({"not_before_in": 600}, "not valid yet"),
        ({"omit_ticket": True}, "no ticket"),
        ({"foreign_key": True}, "signature"),
        ({"unknown_kid": True}, "kid"),
        ({"garbage": True}, "not a well-formed JWT"),
        ({"refuse": "System user token rejected"}, "System user token rejected"),
    ],
    ids=lambda value: "-".join(map(str, value)) if isinstance(value, dict) else None,
)
def test_a_bad_token_is_an_authentication_error_before_any_batch_call(
    online: OnlineSimulator, tampering: dict[str, Any], reason: str
) -> None:
    online.tamper(**tampering)
    user = online.system_user()

    with (
        BatchClient(auth=user) as client,
        pytest.raises(AuthenticationError, match=reason) as raised,
    ):
        client.start_batch_job(TASK)

    assert online.calls == []
    assert user.ticket_cache.ticket is None
    for secret in secrets_of(online, user):
        assert secret not in str(raised.value)


def test_the_async_client_refuses_a_bad_token_too(online: OnlineSimulator) -> None:
    online.tamper(algorithm="HS256")

    async def main() -> None:
        async with AsyncBatchClient(auth=online.system_user()) as client:
            await client.start_batch_job(TASK)

    with pytest.raises(AuthenticationError, match="not RS256"):
        asyncio.run(main())
    assert online.calls == []


def test_a_different_application_token_on_the_client_is_refused(online: OnlineSimulator) -> None:
    with pytest.raises(ValueError, match="application_token"):
        BatchClient(auth=online.system_user(), application_token="another-secret")


def test_no_secret_reaches_a_log_line_or_an_error(
    online: OnlineSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    user = online.system_user()
    caplog.set_level(logging.DEBUG, logger="superoffice_batch")
    errors: list[str] = []
    with BatchClient(auth=user) as client:
        client.start_batch_job(TASK)
        online.expire_tickets()
        online.move(host=1)
        client.start_batch_job(TASK)
        online.expire_tickets()
        online.tamper(refuse=f"bad token {online.system_user_token}")
        with pytest.raises(AuthenticationError) as raised:
            client.start_batch_job(TASK)
        errors.append(str(raised.value))
        errors.append(repr(user))

    assert "StartBatchJob" in caplog.text
    assert f"SystemUser: tenant Cust12345 is Running at {online.endpoint()}" in caplog.text
    assert "SystemUser: a ticket for Cust12345 from " in caplog.text
    for secret in secrets_of(online, user):
        assert secret not in caplog.text
        assert not any(secret in text for text in errors)


# -- issue 17, break 5: the tenant as one object -------------------------------------------


@pytest.mark.parametrize("state", ["OfflineMaintenance", "Suspended"])
def test_the_call_after_a_maintenance_window_works_at_once(
    flavor: SyncFlavor, online: OnlineSimulator, state: str
) -> None:
    online.set_state(state=state)  # no end: the state's ValidUntil is 5 minutes ahead
    client = flavor.make(None, auth=online.system_user())
    try:
        with pytest.raises(TenantUnavailable):
            flavor.start(client)
        online.set_state(state="Running")
        assert flavor.start(client) > 0  # not 30 s or ValidUntil later: at once
    finally:
        flavor.close(client)
    assert online.state_requests == 2


def test_tenant_state_reads_an_unknown_tenant_anew(
    flavor: SyncFlavor, online: OnlineSimulator
) -> None:
    client = flavor.make(None, auth=online.system_user(context_identifier="Cust99999"))
    try:
        states = [flavor.run(client.tenant_state()).state for _ in range(3)]
    finally:
        flavor.close(client)
    assert states == ["Unknown"] * 3
    assert online.state_requests == 3


def test_an_unavailable_state_is_never_kept_however_far_its_valid_until() -> None:
    cache = TenantCache()
    far = datetime(9999, 12, 31, tzinfo=timezone.utc)
    for state, endpoint in (("Unknown", None), ("OfflineMaintenance", None), ("Suspended", "x")):
        tenant = TenantState("Cust1", endpoint, state, False, far)
        cache.store(tenant)
        assert cache.current() is None
        assert cache.last is tenant


def test_valid_until_is_capped_at_an_hour_and_floored_at_30_seconds() -> None:
    now = time.time()
    far = TenantState(
        "Cust1", "https://h/Cust1", "Running", True, datetime(9999, 1, 1, tzinfo=timezone.utc)
    )
    past = TenantState(
        "Cust1", "https://h/Cust1", "Running", True, datetime(2000, 1, 1, tzinfo=timezone.utc)
    )
    assert now + 3599 <= far.expires_at() <= time.time() + 3600
    assert now + 29 <= past.expires_at() <= time.time() + 30


@pytest.mark.usefixtures("shifted_time")
def test_a_running_state_valid_for_years_is_read_again_after_an_hour(
    keys: tuple[RsaKey, RsaKey], clock: list[float]
) -> None:
    with (
        OnlineSimulator(
            app_key=keys[0],
            signing_key=keys[1],
            job_duration=0.0,
            state_valid_for=10 * 365 * 86400.0,
            clock=lambda: time.time() + clock[0],
        ) as online,
        BatchClient(auth=online.system_user()) as client,
    ):
        client.start_batch_job(TASK)
        clock[0] = 3500.0
        client.start_batch_job(TASK)
        assert online.state_requests == 1
        clock[0] = 3700.0
        client.start_batch_job(TASK)
        assert online.state_requests == 2


def test_the_tenant_state_lives_in_the_system_users_tenant_cache(online: OnlineSimulator) -> None:
    user = online.system_user()
    with BatchClient(auth=user) as first, BatchClient(auth=user) as second:
        first.start_batch_job(TASK)
        second.start_batch_job(TASK)
        assert user.tenant_cache.current() is user.tenant_cache.last
        assert second.base_url == user.tenant_cache.last.endpoint + "/"
    assert not hasattr(user, "tenant")
    assert online.state_requests == 1


# -- issue 17, break 6: the host rule stops the call before the exchange ------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://169.254.169.254/Cust12345",
        "https://sod2.superoffice.com.evil.example/Cust12345",
        "https://sod2.superoffice.com/Cust12345?",
    ],
)
def test_under_sod_a_foreign_endpoint_is_refused_before_any_exchange_or_call(
    flavor: SyncFlavor, keys: tuple[RsaKey, RsaKey], endpoint: str
) -> None:
    user = SystemUser(
        system_user_token="SystemUser-Cust12345-token",
        private_key=keys[0].pem,
        application_token="client-secret-0123",
        context_identifier="Cust12345",
        environment="sod",
    )
    reply = {
        "ContextIdentifier": "Cust12345",
        "Endpoint": endpoint,
        "State": "Running",
        "IsRunning": True,
        "ValidUntil": "2099-01-01T00:00:00.0000000Z",
        "Api": None,
    }
    with respx.mock(assert_all_called=False) as router:
        state = router.get("https://sod.superoffice.com/api/state/Cust12345").respond(json=reply)
        anything_else = router.route().respond(500)
        client = flavor.make(None, auth=user)
        try:
            with pytest.raises(ProtocolError, match=r"Endpoint is not https://<host>\.superoffice"):
                flavor.start(client)
        finally:
            flavor.close(client)
    assert state.call_count == 1
    assert anything_else.call_count == 0


# -- issue 18, friction 6: what to do, by state --------------------------------------------


@pytest.mark.parametrize(
    ("state", "advice"),
    [
        ("Unknown", "check the context identifier"),
        ("OfflineMaintenance", r"try again later, after \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"),
        ("Provisioning", "try again later, after"),
        ("Suspended", "the tenant's owner must act"),
        ("Deleted", "the tenant's owner must act"),
    ],
)
def test_tenant_unavailable_says_what_to_do_for_its_state(
    online: OnlineSimulator, state: str, advice: str
) -> None:
    online.set_state(state=state)
    with (
        BatchClient(auth=online.system_user()) as client,
        pytest.raises(TenantUnavailable) as raised,
    ):
        client.start_batch_job(TASK)
    assert re.search(f"nothing was sent; {advice}", str(raised.value))
    assert raised.value.valid_until is not None


def test_an_unknown_tenant_is_told_to_check_its_context_identifier(
    online: OnlineSimulator,
) -> None:
    user = online.system_user(context_identifier="Cust99999")
    with BatchClient(auth=user) as client, pytest.raises(TenantUnavailable) as raised:
        client.start_batch_job(TASK)
    assert "check the context identifier" in str(raised.value)
    assert "try again later" not in str(raised.value)


# -- issue 18, friction 4: the tenant state without credentials ----------------------------


def test_an_online_tenant_reads_the_state_without_credentials(
    flavor: SyncFlavor, online: OnlineSimulator
) -> None:
    tenant = OnlineTenant(
        context_identifier=online.context_identifier, environment=online.environment
    )
    client = flavor.make(None, auth=tenant)
    try:
        state = flavor.run(client.tenant_state())
        with pytest.raises(ValueError, match="auth=SystemUser"):
            flavor.start(client)
    finally:
        flavor.close(client)
    assert (state.state, state.endpoint) == ("Running", online.endpoint())
    assert online.calls == []
    assert online.exchange_requests == 0


class _Front:
    """A front end before the simulator: ``answer(request)`` replaces the real reply when
    it returns one (a gateway's 503, a hostile body)."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.batch_posts = 0

    def replaced(self, request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/Batch.svc"):
            self.batch_posts += 1
        reply: httpx.Response | None = self.answer(request)
        return reply


def fronted_client(flavor: SyncFlavor, front: _Front) -> Any:
    if flavor.name == "sync":
        real = httpx.HTTPTransport()

        class Sync(httpx.BaseTransport):
            def handle_request(self, request: httpx.Request) -> httpx.Response:
                return front.replaced(request) or real.handle_request(request)

            def close(self) -> None:
                real.close()

        return httpx.Client(transport=Sync())
    real_async = httpx.AsyncHTTPTransport()

    class Async(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return front.replaced(request) or await real_async.handle_async_request(request)

        async def aclose(self) -> None:
            await real_async.aclose()

    return httpx.AsyncClient(transport=Async())


def call_through(flavor: SyncFlavor, online: OnlineSimulator, front: _Front, call: Any) -> Any:
    """``call(client)`` through ``front``, with a client that finds the tenant itself."""
    http = fronted_client(flavor, front)
    client = flavor.make(
        None,
        auth=online.system_user(),
        http_client=http,
        soap_version=SoapVersion.SOAP11,
        max_response_bytes=100_000,
    )
    try:
        return flavor.run(call(client))
    finally:
        flavor.close(client)
        flavor.close_http(http)


def test_a_503_from_the_tenant_host_reads_the_state_and_raises_tenant_unavailable(
    flavor: SyncFlavor, online: OnlineSimulator
) -> None:
    # Issue 18, friction 5: maintenance found by IIS's 503 before the state said so.
    def maintenance(request: httpx.Request) -> httpx.Response | None:
        if not request.url.path.endswith("/Batch.svc"):
            return None
        online.set_state(state="OfflineMaintenance")
        return httpx.Response(503, text="<h1>Service Unavailable</h1>")

    front = _Front(maintenance)

    with pytest.raises(TenantUnavailable) as raised:
        call_through(flavor, online, front, lambda client: client.start_batch_job(TASK))

    assert raised.value.state == "OfflineMaintenance"
    assert isinstance(raised.value.__cause__, HttpError)
    assert raised.value.__cause__.status_code == 503
    assert (front.batch_posts, online.state_requests) == (1, 2)


def test_a_503_while_the_tenant_runs_is_raised_and_start_batch_job_not_resent(
    flavor: SyncFlavor, online: OnlineSimulator
) -> None:
    def busy(request: httpx.Request) -> httpx.Response | None:
        return httpx.Response(503) if request.url.path.endswith("/Batch.svc") else None

    front = _Front(busy)

    with pytest.raises(HttpError) as raised:
        call_through(flavor, online, front, lambda client: client.start_batch_job(TASK))

    assert raised.value.status_code == 503
    assert (front.batch_posts, online.state_requests) == (1, 2)
    assert online.jobs == []


def test_a_jwks_failure_names_the_get_it_came_from(
    flavor: SyncFlavor, online: OnlineSimulator
) -> None:
    # Issue 17, break 10: it said "(POST …)".
    def no_keys(request: httpx.Request) -> httpx.Response | None:
        return httpx.Response(200, json={"keys": "none"}) if "jwks" in request.url.path else None

    with pytest.raises(ProtocolError) as raised:
        call_through(flavor, online, _Front(no_keys), lambda c: c.start_batch_job(TASK))

    assert f"(GET {online.environment}/login/.well-known/jwks)" in str(raised.value)


def test_a_huge_state_reply_is_blamed_on_the_state_api(
    flavor: SyncFlavor, online: OnlineSimulator
) -> None:
    def huge(request: httpx.Request) -> httpx.Response | None:
        return (
            httpx.Response(200, content=b" " * 200_000)
            if "/api/state/" in request.url.path
            else None
        )

    with pytest.raises(ProtocolError, match="exceeds the limit") as raised:
        call_through(flavor, online, _Front(huge), lambda c: c.start_batch_job(TASK))

    assert f"(GET {online.environment}/api/state/Cust12345)" in str(raised.value)
    assert "Batch.svc" not in str(raised.value)
