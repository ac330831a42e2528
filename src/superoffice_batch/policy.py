"""The call policy: what to send and what each reply or failure means, without any I/O.

:class:`CallPolicy` turns a call into a *plan*: a generator that yields *steps* (an
:class:`~superoffice_batch.messages.HttpRequest` to send, seconds to wait, a
:class:`NeedCredentials` or :class:`NeedTenant` refresh, :class:`Progress` to report) and
receives their outcome. The clients in :mod:`superoffice_batch.client` perform the steps;
a ticket source's login flow is driven the same way. Whether a failed call is sent again
is decided by the table in :mod:`superoffice_batch.resend`; each call has one deadline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import httpx

from .auth import Flow, LoginSession, Tenant, TicketKeeper
from .envelope import MAX_RESPONSE_BYTES, SoapVersion
from .errors import (
    BatchTaskFailed,
    BatchTaskTimeout,
    HttpError,
    ProtocolError,
    ServiceError,
    SoapFault,
    SuperOfficeError,
    TenantUnavailable,
    TransportError,
    label,
)
from .hosts import is_loopback
from .messages import HttpRequest, RawResponse
from .models import BatchTaskInfo, BatchTaskState, Credentials, TimeZone
from .operations import GetBatchTaskInfo, Operation, Reply, StartBatchJob
from .secrets import Secrets, SecretView
from .servertext import ServerText, reveal
from .settings import (
    MAX_RETRIES,
    MAX_STEP_SECONDS,
    AsyncProgressCallback,
    WaitSettings,
    check_base_url,
    check_count,
    check_job_id,
    check_seconds,
    check_timeout,
)

if TYPE_CHECKING:
    from .online import TenantState
    from .resend import Failure

__all__ = ["CallPolicy", "NeedCredentials", "NeedTenant", "Plan", "Progress", "Step"]

T = TypeVar("T")
R = TypeVar("R")

logger = logging.getLogger("superoffice_batch")

_MAX_POLL_INTERVAL = 30.0
_WRONG_URL_HINT = (
    "base_url must be the installation root, the part before /Remote/Services88/ "
    "(e.g. https://crm.example.com/SuperOffice, or an Online tenant's endpoint such as "
    "https://sod2.superoffice.com/Cust12345)"
)
_MISDIRECTED_HINT = (
    "421 Misdirected Request: this host does not serve the tenant (SuperOffice CRM Online "
    "moves tenants between hosts, and sod., qaonline. and online.superoffice.com serve "
    "authentication only); leave out base_url and pass auth=SystemUser(...) to let the "
    "client find the tenant's endpoint"
)
_NO_CREDENTIALS = (
    "{name} needs a ticket and this client has none: pass ticket= (a ticket such as "
    "7T:…) or auth= (UsernamePassword, AccessToken, SystemUser or a callable) to the client"
)


class NeedCredentials(NamedTuple):
    """A step: the plan needs credentials; ``stale`` is a ticket the server just rejected.

    Its driver asks :meth:`due` under the client's lock, drives :meth:`flow` if so and
    keeps its result; every refresh (a ticket, the tenant) goes this one way.
    """

    stale: str | None
    stop_by: float | None = None
    """The ``time.monotonic()`` instant the call needing it must end by: the login's too."""

    def due(self, keeper: TicketKeeper) -> bool:
        """Whether a login must run now."""
        return keeper.needs_login(self.stale)

    def flow(self, keeper: TicketKeeper, session: LoginSession) -> Flow[str]:
        """The source's login flow."""
        return keeper.login_flow(session)

    def keep(self, keeper: TicketKeeper, ticket: object) -> None:
        """Keep what the flow returned."""
        keeper.store(ticket)

    def current(self, keeper: TicketKeeper) -> Credentials | None:
        """The outcome of the step: the credentials to send (None: nothing fresh)."""
        return keeper.credentials(self.stale)


class NeedTenant(NamedTuple):
    """A step: the plan needs the Online tenant's state; ``stale`` is an endpoint that just
    answered 421 Misdirected Request (or 503). Driven as :class:`NeedCredentials` is."""

    stale: str | None
    stop_by: float | None = None
    """The ``time.monotonic()`` instant the call needing it must end by: the read's too."""

    def due(self, keeper: TicketKeeper) -> bool:
        """Whether the state must be read now."""
        return keeper.needs_tenant(self.stale)

    def flow(self, keeper: TicketKeeper, session: LoginSession) -> Flow[Tenant]:
        """The source's flow that reads the state."""
        return keeper.tenant_flow(session)

    def keep(self, keeper: TicketKeeper, tenant: Any) -> None:
        """Keep the state read."""
        keeper.store_tenant(tenant)

    def current(self, keeper: TicketKeeper) -> Tenant:
        """The outcome of the step: the tenant state on record."""
        return keeper.tenant()


class Progress(NamedTuple):
    """A step: call the waiter's ``on_progress`` with a changed snapshot (and await it)."""

    callback: AsyncProgressCallback
    info: BatchTaskInfo


Step = HttpRequest | float | NeedCredentials | NeedTenant | Progress
"""What a plan asks of its driver: send a request, wait, refresh, or report progress."""
Plan = Generator[Step, Any, T]


def _progress(info: BatchTaskInfo) -> tuple[object, ...]:
    return (info.state, info.progress_percent, info.progress_description)


def _is_finished(info: BatchTaskInfo) -> bool:
    # A state this library does not know (a plain str) counts as still running.
    return isinstance(info.state, BatchTaskState) and info.state.is_terminal


def _log_call(name: str, url: str, outcome: str, started: float) -> None:
    if logger.isEnabledFor(logging.INFO):
        elapsed = (time.perf_counter() - started) * 1000
        logger.info("%s POST %s: %s (%.1f ms)", name, url, outcome, elapsed)


def _log_envelope(
    kind: str,
    name: str,
    content: bytes,
    secrets: SecretView,
    content_type: str | None = None,
) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        text = reveal(ServerText(content, secrets, content_type))
        logger.debug("%s %s envelope: %s", name, kind, text)


class _Target:
    """Where a call was last sent: for its log line and its error."""

    __slots__ = ("url",)

    def __init__(self, url: str) -> None:
        self.url = url


class CallPolicy:
    """Connection settings and the rules for sending calls; no I/O of its own."""

    def __init__(
        self,
        base_url: object,
        *,
        auth: object,
        application_token: str | None,
        soap_version: SoapVersion | None,
        timeout: object,
        call_deadline: object,
        max_response_bytes: object,
        connect_retries: object,
        read_retries: object,
        time_zone: object,
    ) -> None:
        if soap_version is not None and not isinstance(soap_version, SoapVersion):
            raise TypeError(f"soap_version must be a SoapVersion or None, not {soap_version!r}")
        self.secrets = Secrets()
        """What this client must never show: every road to a message consults it."""
        self.keeper = TicketKeeper(auth, application_token, self.secrets)
        self.base_url: httpx.URL | None = None
        """The fixed installation root; None when the tenant state says where it is."""
        if base_url is not None or not self.keeper.locates_tenant:
            if base_url is None:
                raise ValueError(
                    "base_url is required, unless auth is a SystemUser (which finds the "
                    "Online tenant's endpoint)"
                )
            self.base_url = check_base_url(base_url)
            if auth is not None or application_token is not None:
                _warn_if_plain_http(self.base_url)
        # SoPrincipal calls carry the application token only: they are how tickets start.
        self.anonymous = Credentials(application_token=self.keeper.application_token)
        self.pinned_version = soap_version
        self.negotiated_version: SoapVersion | None = None
        self.timeout = check_timeout(timeout)
        self.call_deadline = check_seconds("call_deadline", call_deadline, at_most=MAX_STEP_SECONDS)
        self.max_response_bytes = check_count(
            "max_response_bytes", max_response_bytes, 1, MAX_RESPONSE_BYTES
        )
        self.budgets = {
            "connect_retries": check_count("connect_retries", connect_retries, 0, MAX_RETRIES),
            "read_retries": check_count("read_retries", read_retries, 0, MAX_RETRIES),
        }
        if time_zone is not None and not isinstance(time_zone, TimeZone):
            raise TypeError(f"time_zone must be a TimeZone, not {type(time_zone).__name__}")
        self.time_zone = time_zone
        self._root = None if self.base_url is None else str(self.base_url)
        self._urls: dict[tuple[str, str], str] = {}

    @property
    def soap_version(self) -> SoapVersion | None:
        """The version in use: pinned, or settled by negotiation; None until then."""
        return self.pinned_version or self.negotiated_version

    def url(self, root: str, path: str) -> str:
        """The absolute URL of a service path below ``root``, computed once per pair."""
        url = self._urls.get((root, path))
        if url is None:
            base = httpx.URL(root if root.endswith("/") else root + "/")
            url = self._urls[root, path] = str(base.join(path))
        return url

    @property
    def current_root(self) -> str | None:
        """The installation root in use: fixed, or the tenant's endpoint once known."""
        if self._root is not None:
            return self._root
        tenant = self.keeper.known_tenant
        return None if tenant is None or tenant.endpoint is None else tenant.endpoint + "/"

    def deadline(self, stop_by: float | None = None) -> float:
        """The ``time.monotonic()`` instant a call starting now must end by."""
        deadline = time.monotonic() + self.call_deadline
        return deadline if stop_by is None or stop_by > deadline else stop_by

    def plan(self, operation: Operation[T], *, stop_by: float | None = None) -> Plan[T]:
        """Send ``operation`` and return its result.

        Logs one INFO line per call: operation, endpoint, outcome, duration. The call ends
        by ``call_deadline`` after its first byte is sent, or by ``stop_by`` (a
        ``time.monotonic()`` instant, a waiter's deadline) if that is sooner.
        """
        return (yield from self._logged(operation, operation.parse_response, stop_by))

    def reply_plan(self, operation: Operation[T]) -> Plan[Reply[T]]:
        """Like :meth:`plan`, returning the result with the reply headers."""
        return (yield from self._logged(operation, operation.parse_reply, None))

    def _logged(
        self, operation: Operation[Any], parse: Callable[..., R], stop_by: float | None
    ) -> Plan[R]:
        started = time.perf_counter()
        name = type(operation).__name__
        target = _Target(operation.SERVICE.path)
        try:
            result, status = yield from self._exchange(operation, parse, target, stop_by)
        except SuperOfficeError as error:
            root = self.current_root
            if target.url is operation.SERVICE.path and root is not None:
                target.url = self.url(root, target.url)  # failed before sending: say where to
            _log_call(name, target.url, f"failed: {type(error).__name__}: {error}", started)
            label(error, "POST", target.url, self._hint)
            raise
        _log_call(name, target.url, f"HTTP {status}", started)
        return result

    def _hint(self, error: SuperOfficeError) -> str | None:
        """What to check after ``error``, in the client's own terms (the CLI has its own)."""
        from .resend import is_misdirected, is_version_refusal  # loaded by the first failure

        if isinstance(error, HttpError) and error.status_code == 404:
            return _WRONG_URL_HINT
        if is_misdirected(error) and self._root is not None:
            return _MISDIRECTED_HINT
        pinned = self.pinned_version
        if pinned is not None and is_version_refusal(error):
            other = SoapVersion.SOAP11 if pinned is SoapVersion.SOAP12 else SoapVersion.SOAP12
            refused = f"the endpoint refused SOAP {pinned.value}"
            return f"{refused}: try soap_version=SoapVersion.{other.name}"
        return None

    def _exchange(
        self,
        operation: Operation[Any],
        parse: Callable[..., R],
        target: _Target,
        stop_by: float | None,
    ) -> Plan[tuple[R, int]]:
        name = type(operation).__name__
        # One deadline for the whole call: the tenant state and a login it needs count too.
        deadline = self.deadline(stop_by)
        root = self._root
        if root is None:
            root = yield from self._tenant_root(None, deadline)
        takes_ticket = operation.SERVICE.takes_ticket
        credentials = (yield NeedCredentials(None, deadline)) if takes_ticket else self.anonymous
        if takes_ticket and credentials.ticket is None:
            raise ValueError(_NO_CREDENTIALS.format(name=name))
        negotiating = self.soap_version is None
        version = self.soap_version or SoapVersion.SOAP12
        fired: dict[str, int] = {}
        own_secrets = operation.secrets  # a password or token passed to a login call
        while True:
            secrets = self.secrets.view.plus(own_secrets)
            request = operation.to_request(credentials, version, time_zone=self.time_zone)
            target.url = url = self.url(root, request.path)
            _log_envelope("request", name, request.content, secrets)
            try:
                response: RawResponse = yield HttpRequest(
                    "POST", url, request.headers, request.content, deadline
                )
            except TransportError as error:
                failure = self._failure(error, operation)
            else:
                _log_envelope("reply", name, response.content, secrets, response.content_type)
                try:
                    result = parse(
                        response.content,
                        status_code=response.status_code,
                        content_type=response.content_type,
                        secrets=secrets,
                        max_response_bytes=self.max_response_bytes,
                    )
                except (HttpError, SoapFault, ServiceError) as error:
                    failure = self._failure(
                        error, operation, (parse, response, secrets), negotiating
                    )
                else:
                    if negotiating:
                        self.negotiated_version = version
                    return result, response.status_code
            # Decided outside the except blocks, so that later errors do not chain to them.
            from .resend import Action, decide  # loaded with the first failure

            while (decision := decide(failure, fired, self.budgets, deadline)) is not None:
                action = decision.rule.action
                if action is not Action.CHECK_TENANT:
                    break
                logger.info("%s: %s answered 503; reading the tenant state anew", name, url)
                root = yield from self._tenant_root(root, deadline, cause=failure.error)
            if decision is None:
                raise failure.error
            if action is Action.SOAP11:
                negotiating = False
                version = self.negotiated_version = SoapVersion.SOAP11
                logger.info(
                    "%s: endpoint refused SOAP 1.2 (%s); using SOAP 1.1", name, failure.error
                )
            elif action is Action.RELOCATE:
                logger.info("%s: %s answered 421; reading the tenant's endpoint anew", name, url)
                root = yield from self._tenant_root(root, deadline)
            elif action is Action.LOG_IN_AGAIN:
                fresh = yield NeedCredentials(credentials.ticket, deadline)
                if fresh is None or fresh is credentials:  # nothing to refresh with
                    raise failure.error
                logger.info("%s: ticket rejected; re-sending with a fresh one", name)
                credentials = fresh
            else:
                logger.info("%s: %s; re-sending in %.1f s", name, failure.error, decision.delay)
                yield decision.delay

    def _failure(
        self,
        error: SuperOfficeError,
        operation: Operation[Any],
        reply: tuple[Callable[..., object], RawResponse, SecretView] | None = None,
        negotiating: bool = False,
    ) -> Failure:
        """What the re-send table needs to know of a failed attempt: ``reply`` (the parser,
        the response and the secrets) when a reply came."""
        from .resend import Failure  # no import cost for calls that succeed

        if reply is None:
            return Failure(error, read_only=operation.READ_ONLY)
        parse, response, secrets = reply

        def ran() -> bool:
            # The proof every re-send needs: a body that reads as the operation's successful
            # reply means the call ran, whatever the status said.
            try:
                parse(
                    response.content,
                    status_code=200,
                    content_type=response.content_type,
                    secrets=secrets,
                    max_response_bytes=self.max_response_bytes,
                )
            except SuperOfficeError:
                return False
            return True

        return Failure(
            error,
            read_only=operation.READ_ONLY,
            takes_ticket=operation.SERVICE.takes_ticket,
            negotiating=negotiating,
            locates_tenant=self._root is None,
            retry_after=response.retry_after,
            ran=ran,
        )

    def send(
        self, request: HttpRequest, *, read_only: bool, stop_by: float | None = None
    ) -> Plan[RawResponse]:
        """Send ``request`` within ``call_deadline``, or by ``stop_by`` if that is sooner;
        re-sent as :mod:`.resend` allows (after a connect failure, and any transport failure
        when ``read_only``). The login flows' session."""
        deadline = self.deadline(stop_by)
        request = request._replace(deadline=deadline)
        fired: dict[str, int] = {}
        while True:
            try:
                response: RawResponse = yield request
            except TransportError as error:
                from .resend import Failure, decide  # loaded with the first failure

                decision = decide(
                    Failure(error, read_only=read_only), fired, self.budgets, deadline
                )
                if decision is None:
                    raise
                logger.info("%s %s: %s; re-sending in %.1f s", *request[:2], error, decision.delay)
                yield decision.delay
                continue
            return response

    def call(self, operation: Operation[T], *, stop_by: float | None = None) -> Plan[T]:
        """Call ``operation`` (the login flows' session: SoPrincipal's calls)."""
        return self.plan(operation, stop_by=stop_by)

    def session(self, stop_by: float | None) -> LoginSession:
        """The session a login flow runs in: bound to the deadline of the call needing it."""
        return self if stop_by is None else _CallSession(self, stop_by)

    def tenant_plan(self) -> Plan[TenantState]:
        """Read the tenant state anew, whatever it says."""
        if not self.keeper.locates_tenant:
            raise ValueError("tenant_state needs auth=SystemUser(...): only Online has tenants")
        known = self.keeper.known_tenant
        # Naming the endpoint on record as stale makes the driver read the state again.
        tenant: TenantState = yield NeedTenant(None if known is None else known.endpoint)
        return tenant

    def _tenant_root(
        self, stale: str | None, stop_by: float, cause: BaseException | None = None
    ) -> Plan[str]:
        """The Online tenant's endpoint, read anew when ``stale`` is the one on record;
        ``TenantUnavailable`` (caused by ``cause``, the failure that made the client look)
        when the tenant's API does not answer now."""
        tenant: Tenant = yield NeedTenant(stale, stop_by)
        if tenant.endpoint is None or not tenant.api_available:
            raise self._unavailable(tenant) from cause
        return tenant.endpoint

    def _unavailable(self, tenant: Tenant) -> TenantUnavailable:
        state = ServerText(tenant.state, self.secrets.view)  # the state API's words
        return TenantUnavailable(tenant.context_identifier, state, tenant.valid_until)

    def wait_plan(self, job_id: object, wait: WaitSettings) -> Plan[BatchTaskInfo]:
        """Poll GetBatchTaskInfo until the job reaches a terminal state.

        The interval grows by half after each poll, up to 30 s (or ``poll_interval`` if
        that is longer). A poll in flight at the wait's deadline is cut there, so the wait
        ends by ``timeout`` (``BatchTaskTimeout``). Every error raised carries the job's id
        as ``job_id``, and a library error says in its message that the job was started.
        """
        job = check_job_id(job_id)
        try:
            return (yield from self._polls(job, wait))
        except Exception as error:
            # A started job must not be lost to the caller, whatever went wrong after.
            setattr(error, "job_id", job)  # noqa: B010 - any exception, not only ours
            raise

    def _polls(self, job: int, wait: WaitSettings) -> Plan[BatchTaskInfo]:
        interval = wait.poll_interval
        longest = max(interval, _MAX_POLL_INTERVAL)
        deadline = None if wait.timeout is None else time.monotonic() + wait.timeout
        seen: tuple[object, ...] | None = None
        info: BatchTaskInfo | None = None
        while True:
            try:
                info = yield from self.plan(GetBatchTaskInfo(job), stop_by=deadline)
            except TransportError as error:
                if deadline is None or time.monotonic() < deadline:
                    raise
                # The wait's deadline cut the poll.
                raise self._timed_out(job, info, wait) from error
            if info is None:
                raise ProtocolError(f"GetBatchTaskInfo({job}) returned no task: no such job")
            if wait.on_progress is not None and _progress(info) != seen:
                yield Progress(wait.on_progress, info)
            seen = _progress(info)
            if _is_finished(info):
                if wait.raise_on_failure and info.state is BatchTaskState.FAILED:
                    result = ServerText(info.result or "", self.secrets.view)  # the job's words
                    raise BatchTaskFailed(f"batch task {job} failed", info, quoting=result)
                return info
            delay = interval
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._timed_out(job, info, wait)
                delay = min(delay, remaining)
            yield delay
            interval = min(interval * 1.5, longest)

    def _timed_out(
        self, job: int, info: BatchTaskInfo | None, wait: WaitSettings
    ) -> BatchTaskTimeout:
        message = f"batch task {job} had not finished after {wait.timeout} s"
        if info is None:
            return BatchTaskTimeout(f"{message}; no state was read", None)
        state = ServerText(str(info.state), self.secrets.view)  # maybe a state we do not know
        return BatchTaskTimeout(f"{message}; its state", info, quoting=state)

    def run_plan(self, batch_task_info: BatchTaskInfo, wait: WaitSettings) -> Plan[BatchTaskInfo]:
        """Start a job, then wait for it."""
        job_id = yield from self.plan(StartBatchJob(batch_task_info))
        if job_id <= 0:
            raise ProtocolError(f"StartBatchJob answered id {job_id}: no job was created")
        return (yield from self.wait_plan(job_id, wait))


def _warn_if_plain_http(url: httpx.URL) -> None:
    if url.scheme == "http" and not is_loopback(url.host):
        logger.warning(
            "credentials will be sent over plain HTTP to %s, readable on the way; use https://",
            url.host,
        )


class _CallSession:
    """A :class:`LoginSession` whose every request ends by the deadline of the call that
    needed the login (or the tenant state): a call has one deadline, logins included."""

    __slots__ = ("_policy", "_stop_by")

    def __init__(self, policy: CallPolicy, stop_by: float) -> None:
        self._policy = policy
        self._stop_by = stop_by

    @property
    def secrets(self) -> Secrets:
        return self._policy.secrets

    def call(self, operation: Operation[T]) -> Plan[T]:
        return self._policy.call(operation, stop_by=self._stop_by)

    def send(self, request: HttpRequest, *, read_only: bool) -> Plan[RawResponse]:
        return self._policy.send(request, read_only=read_only, stop_by=self._stop_by)
