"""The HTTP clients: thin I/O shells around one sans-I/O call policy.

:class:`_CallPolicy` decides, without doing any I/O, what to send and what each reply or
failure means: SOAP version negotiation, the few safe re-sends, logging in again after a
rejected ticket, retries of read-only calls, polling a job to its end. Its plans are
generators that yield *steps* (an :class:`~superoffice_batch.messages.HttpRequest` to send,
seconds to wait, :class:`NeedCredentials` or :class:`NeedTenant`, progress to report) and
receive their outcome; a ticket source's login flow is driven the same way.
:class:`BatchClient` performs the steps with ``httpx.Client``, :class:`AsyncBatchClient`
with ``httpx.AsyncClient`` (and awaits an async progress callback); each client method
hands its operation, or a plan, to the policy in a line or two.
"""

from __future__ import annotations

import inspect
import logging
import re
import threading
import time
from collections.abc import (
    Awaitable,
    Callable,
    Generator,
    Iterable,
)
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

import httpx

if TYPE_CHECKING:
    import asyncio

    from .online import TenantState

from ._version import __version__
from .auth import Tenant, TicketKeeper, TicketSource, is_ticket_rejection
from .decoding import ACCEPT_ENCODING, CappedBody
from .envelope import DEFAULT_MAX_RESPONSE_BYTES, MAX_RESPONSE_BYTES, SoapVersion
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
    _ReplyError,
)
from .hosts import is_loopback
from .messages import HttpRequest, RawResponse
from .models import BatchTaskInfo, BatchTaskState, Credentials, TimeZone
from .operations import (
    DeleteBatchTask,
    DeleteBatchTasks,
    GetAllBatchTaskInfosByName,
    GetAllBatchTaskInfosByNameAndState,
    GetBatchTaskInfo,
    GetBatchTaskInfosByAssociates,
    GetBatchTaskInfosByAssociatesAndState,
    GetBatchTaskInfosByNameAndAssociates,
    GetBatchTaskInfosByNameAndState,
    GetBatchTaskInfosByState,
    GetSystemBatchTaskInfosByName,
    GetSystemBatchTaskInfosByNameAndState,
    Operation,
    Reply,
    StartBatchJob,
    StopBatchJob,
    UpdateBatchTask,
)
from .secrets import Secrets, SecretView
from .servertext import ServerText, reveal
from .xmlvalues import number_text

__all__ = [
    "DEFAULT_CALL_DEADLINE",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WAIT_TIMEOUT",
    "MAX_RETRIES",
    "MAX_WAIT_TIMEOUT",
    "USER_AGENT",
    "AsyncBatchClient",
    "AsyncProgressCallback",
    "BatchClient",
    "NeedCredentials",
    "NeedTenant",
    "ProgressCallback",
    "RawResponse",
]

T = TypeVar("T")
H = TypeVar("H", httpx.Client, httpx.AsyncClient)
R = TypeVar("R")

logger = logging.getLogger("superoffice_batch")

DEFAULT_TIMEOUT = 30.0
"""Seconds allowed for each of connect, write, read and pool acquisition."""
DEFAULT_CALL_DEADLINE = 120.0
"""Seconds one HTTP exchange may take in all, from sending to the reply's last byte."""
DEFAULT_POLL_INTERVAL = 1.0
"""Seconds between the first polls of a job; later polls back off."""
DEFAULT_WAIT_TIMEOUT = 3600.0
"""Seconds :meth:`BatchClient.wait_for_batch_task` waits by default."""
USER_AGENT = f"superoffice-batch/{__version__} httpx/{httpx.__version__}"
"""The User-Agent the clients send, unless an injected ``http_client`` sets its own."""
# What httpx sends when nobody chose a User-Agent: replaced by USER_AGENT.
_HTTPX_USER_AGENT = f"python-httpx/{httpx.__version__}"
_MAX_POLL_INTERVAL = 30.0
_TRANSIENT_STATUS = frozenset({429, 502, 503, 504})
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
# A base_url that already names a service: the client would append the path a second time.
_SERVICE_PATH = re.compile(r"/Remote/Services88/[^/]*\.svc/?\Z", re.IGNORECASE)
_VERSION_MISMATCH = {f"{{{version.namespace}}}VersionMismatch" for version in SoapVersion}

ProgressCallback = Callable[[BatchTaskInfo], object]
"""Called with each snapshot of a job whose state, percent or description changed."""
AsyncProgressCallback = Callable[[BatchTaskInfo], Awaitable[object] | object]
"""A :data:`ProgressCallback`, or a coroutine function that the async client awaits."""


class NeedCredentials(NamedTuple):
    """A step: the plan needs credentials; ``stale`` is a ticket the server just rejected."""

    stale: str | None


class NeedTenant(NamedTuple):
    """A step: the plan needs the Online tenant's state; ``stale`` is an endpoint that just
    answered 421 Misdirected Request."""

    stale: str | None


class _Progress(NamedTuple):
    """A step: call the waiter's ``on_progress`` with a changed snapshot (and await it)."""

    callback: AsyncProgressCallback
    info: BatchTaskInfo


# What a plan asks of its driver: send a request, wait some seconds, get credentials, or
# report progress.
_Step = HttpRequest | float | NeedCredentials | NeedTenant | _Progress
_Plan = Generator[_Step, Any, T]


def _is_version_refusal(error: Exception, *, reply_succeeded: bool = False) -> bool:
    """415 or a VersionMismatch fault: the endpoint refused the envelope before dispatch.

    Like the 401 rule (:func:`~superoffice_batch.auth.is_ticket_rejection`), a refusal
    whose body reads as the operation's successful reply (``reply_succeeded``) is none:
    the call ran, and re-sending it would run it twice.
    """
    if reply_succeeded:
        return False
    if isinstance(error, HttpError):
        return error.status_code == 415
    return isinstance(error, SoapFault) and error.code in _VERSION_MISMATCH


def _is_misdirected(error: Exception) -> bool:
    """421: the host did not process the request (an Online tenant lives elsewhere)."""
    return isinstance(error, HttpError) and error.status_code == 421


def _is_transient(error: SuperOfficeError) -> bool:
    """Failures worth retrying for a read-only call: the network, or a busy gateway."""
    if isinstance(error, TransportError):
        return True
    return isinstance(error, HttpError) and error.status_code in _TRANSIENT_STATUS


MAX_RETRIES = 10
"""The most ``connect_retries`` and ``read_retries`` may be."""
# No back-off sleep is longer: the doubling would reach years within a few dozen attempts.
_MAX_BACKOFF = 30.0


def _backoff(attempt: int, first: float) -> float:
    return min(first * 2.0 ** min(attempt - 1, 32), _MAX_BACKOFF)


def _within(delay: float | None, stop_by: float | None) -> float | None:
    """``delay``, unless the re-send after it would start past ``stop_by``."""
    if delay is None or stop_by is None or time.monotonic() + delay < stop_by:
        return delay
    return None


def _check_base_url(base_url: object) -> httpx.URL:
    if not isinstance(base_url, (str, httpx.URL)):
        raise TypeError(f"base_url must be a str, not {type(base_url).__name__}")
    try:
        str(base_url).encode("utf-8")
    except UnicodeError:
        raise ValueError("base_url contains a lone surrogate, which no URL can carry") from None
    try:
        url = httpx.URL(str(base_url))
    except httpx.InvalidURL as error:
        raise ValueError(f"base_url is not a valid URL: {error}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("base_url must be an absolute http:// or https:// URL")
    if url.port is not None and not 0 < url.port <= 65535:
        # A socket would take the port modulo 65536 and call another service.
        raise ValueError(f"base_url has port {number_text(url.port)}: a port is 1 to 65535")
    if url.query or url.fragment:
        raise ValueError("base_url must not have a query or fragment")
    if url.userinfo:
        raise ValueError("base_url must not carry user info; pass credentials as options")
    try:
        # What the resolver will do with it: labels of 1-63 characters, 253 in all.
        encodable = len(url.raw_host.decode("ascii").encode("idna")) <= 253
    except UnicodeError:
        encodable = False
    if not encodable:
        raise ValueError(
            "base_url has a host name that cannot be encoded: each label must have 1 to 63 "
            "characters, the whole name at most 253"
        )
    service_path = _SERVICE_PATH.search(url.path)
    if service_path is not None:
        root = url.copy_with(path=url.path[: service_path.start()] or "/")
        raise ValueError(
            f"base_url must be the installation root, not a service URL: use {str(root)!r}"
        )
    if not url.path.endswith("/"):
        url = url.copy_with(path=url.path + "/")
    return url


def _warn_if_plain_http(url: httpx.URL, sends_credentials: bool) -> None:
    if sends_credentials and url.scheme == "http" and not is_loopback(url.host):
        logger.warning(
            "credentials will be sent over plain HTTP to %s, readable on the way; use https://",
            url.host,
        )


def _check_seconds(name: str, value: object, *, at_most: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    # Compared before any conversion: float(10**400) overflows.
    if value != value or value <= 0:
        raise ValueError(f"{name} must be finite and positive, got {number_text(value)}")
    if value > at_most:
        raise ValueError(f"{name} must be at most {at_most:g} seconds, got {number_text(value)}")
    return float(value)


# Sockets and sleeps overflow on absurd values; nothing sane waits a day for one step.
_MAX_STEP_SECONDS = 86400.0
MAX_WAIT_TIMEOUT = 366 * 86400.0
"""The longest ``timeout`` a wait accepts (a year); ``None`` waits without a limit."""


def _check_timeout(timeout: object) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        parts = {
            "connect": timeout.connect,
            "read": timeout.read,
            "write": timeout.write,
            "pool": timeout.pool,
        }
        for part, seconds in parts.items():
            if seconds is None:
                raise ValueError(f"timeout.{part} must be set: every request needs a timeout")
            _check_seconds(f"timeout.{part}", seconds, at_most=_MAX_STEP_SECONDS)
        return timeout
    seconds = _check_seconds("timeout", timeout, at_most=_MAX_STEP_SECONDS)
    return httpx.Timeout(seconds)


def _check_count(name: str, value: object, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not minimum <= value <= maximum:
        raise ValueError(f"{name} must be from {minimum} to {maximum}, got {number_text(value)}")
    return value


def _check_job_id(job_id: object) -> int:
    if isinstance(job_id, bool) or not isinstance(job_id, int):
        raise TypeError(f"job_id must be an int, not {type(job_id).__name__}")
    if job_id <= 0:
        # StartBatchJob answers 0 (the documented example does) when nothing was created.
        raise ValueError(
            f"job_id must be positive, got {number_text(job_id)}: no such job to wait for"
        )
    return job_id


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


class _Attempts:
    """Re-sends made so far for one call, by reason."""

    __slots__ = ("connect", "read")

    def __init__(self) -> None:
        self.connect = 0
        self.read = 0


class _CallPolicy:
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
            self.base_url = _check_base_url(base_url)
            sends_credentials = auth is not None or application_token is not None
            _warn_if_plain_http(self.base_url, sends_credentials)
        # SoPrincipal calls carry the application token only: they are how tickets start.
        self.anonymous = Credentials(application_token=self.keeper.application_token)
        self.pinned_version = soap_version
        self.negotiated_version: SoapVersion | None = None
        self.timeout = _check_timeout(timeout)
        self.call_deadline = _check_seconds(
            "call_deadline", call_deadline, at_most=_MAX_STEP_SECONDS
        )
        self.max_response_bytes = _check_count(
            "max_response_bytes", max_response_bytes, 1, MAX_RESPONSE_BYTES
        )
        self.connect_retries = _check_count("connect_retries", connect_retries, 0, MAX_RETRIES)
        self.read_retries = _check_count("read_retries", read_retries, 0, MAX_RETRIES)
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

    def plan(self, operation: Operation[T], *, stop_by: float | None = None) -> _Plan[T]:
        """Send ``operation`` and return its result.

        Logs one INFO line per call: operation, endpoint, outcome, duration. No re-send
        starts after ``stop_by`` (a ``time.monotonic()`` instant), a waiter's deadline.
        """
        return (yield from self._logged(operation, operation.parse_response, stop_by))

    def reply_plan(self, operation: Operation[T]) -> _Plan[Reply[T]]:
        """Like :meth:`plan`, returning the result with the reply headers."""
        return (yield from self._logged(operation, operation.parse_reply, None))

    def _logged(
        self, operation: Operation[Any], parse: Callable[..., R], stop_by: float | None
    ) -> _Plan[R]:
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
            if isinstance(error, _ReplyError) and error.url is None:
                error.url = target.url
                error.hint = self._hint(error)
            raise
        _log_call(name, target.url, f"HTTP {status}", started)
        return result

    def _hint(self, error: _ReplyError) -> str | None:
        """What to check after ``error``, in the client's own terms (the CLI has its own)."""
        if isinstance(error, HttpError) and error.status_code == 404:
            return _WRONG_URL_HINT
        if _is_misdirected(error) and self._root is not None:
            return _MISDIRECTED_HINT
        pinned = self.pinned_version
        if pinned is not None and _is_version_refusal(error):
            other = SoapVersion.SOAP11 if pinned is SoapVersion.SOAP12 else SoapVersion.SOAP12
            refused = f"the endpoint refused SOAP {pinned.value}"
            return f"{refused}: try soap_version=SoapVersion.{other.name}"
        return error.hint

    def _exchange(
        self,
        operation: Operation[Any],
        parse: Callable[..., R],
        target: _Target,
        stop_by: float | None,
    ) -> _Plan[tuple[R, int]]:
        # Re-sends only what certainly did not run, or what is safe to repeat:
        # * a connect failure (nothing was written);
        # * once as SOAP 1.1, when negotiating and the endpoint refused SOAP 1.2;
        # * once to the tenant's endpoint read anew, when a host answered 421 (Online);
        # * once with a fresh ticket, when the ticket was rejected (the call never ran);
        # * read-only calls after a transient failure, with backoff.
        root = self._root if self._root is not None else (yield from self._tenant_root(None))
        takes_ticket = operation.SERVICE.takes_ticket
        credentials = (yield NeedCredentials(None)) if takes_ticket else self.anonymous
        negotiating = self.soap_version is None
        version = self.soap_version or SoapVersion.SOAP12
        attempts = _Attempts()
        reauthenticated = relocated = False
        name = type(operation).__name__
        own_secrets = operation.secrets  # a password or token passed to a login call
        while True:
            secrets = self.secrets.view.plus(own_secrets)
            request = operation.to_request(credentials, version, time_zone=self.time_zone)
            target.url = url = self.url(root, request.path)
            _log_envelope("request", name, request.content, secrets)
            response = yield from self.send(
                HttpRequest("POST", url, request.headers, request.content),
                read_only=operation.READ_ONLY,
                attempts=attempts,
                label=name,
                stop_by=stop_by,
            )
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
                failure = error
            else:
                if negotiating:
                    self.negotiated_version = version
                return result, response.status_code
            # Decided outside the except block, so that later errors do not chain to it.
            # Every re-send below needs proof that the call did not run: a body that reads
            # as the operation's successful reply means it did, whatever the status said.
            succeeded = self._reads_as_success(parse, response, secrets)
            if negotiating and _is_version_refusal(failure, reply_succeeded=succeeded):
                negotiating = False
                version = self.negotiated_version = SoapVersion.SOAP11
                logger.info("%s: endpoint refused SOAP 1.2 (%s); using SOAP 1.1", name, failure)
            elif (
                self._root is None and not relocated and _is_misdirected(failure) and not succeeded
            ):
                relocated = True
                logger.info("%s: %s answered 421; reading the tenant's endpoint anew", name, url)
                root = yield from self._tenant_root(root)
            elif (
                takes_ticket
                and not reauthenticated
                and is_ticket_rejection(failure, reply_succeeded=succeeded)
            ):
                reauthenticated = True
                fresh = yield NeedCredentials(credentials.ticket)
                if fresh is None or fresh is credentials:  # nothing to refresh with
                    raise failure
                logger.info("%s: ticket rejected; re-sending with a fresh one", name)
                credentials = fresh
            elif operation.READ_ONLY and _is_transient(failure):
                delay = _within(self._read_retry(attempts), stop_by)
                if delay is None:
                    raise failure
                logger.info("%s: %s; re-sending in %.1f s", name, failure, delay)
                yield delay
            else:
                raise failure

    def _reads_as_success(
        self, parse: Callable[..., object], response: RawResponse, secrets: SecretView
    ) -> bool:
        """Whether the body is the operation's successful reply, whatever the status said."""
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

    def send(
        self,
        request: HttpRequest,
        *,
        read_only: bool,
        attempts: _Attempts | None = None,
        label: str | None = None,
        stop_by: float | None = None,
    ) -> _Plan[RawResponse]:
        """Send ``request``; re-sent after a connect failure (nothing was written), and
        after any transport failure when ``read_only``. (The login flows' session.)

        ``label`` names the call in log lines (the operation; the method by default); no
        re-send starts after ``stop_by``.
        """
        attempts = attempts or _Attempts()
        while True:
            try:
                response: RawResponse = yield request
            except TransportError as error:
                delay = _within(self._transport_retry(error, read_only, attempts), stop_by)
                if delay is None:
                    raise
                logger.info("%s: %s; re-sending in %.1f s", label or request.method, error, delay)
                yield delay
                continue
            return response

    def call(self, operation: Operation[T]) -> _Plan[T]:
        """Call ``operation`` (the login flows' session: SoPrincipal's calls)."""
        return self.plan(operation)

    def tenant_plan(self) -> _Plan[TenantState]:
        """Read the tenant state anew, whatever it says."""
        if not self.keeper.locates_tenant:
            raise ValueError("tenant_state needs auth=SystemUser(...): only Online has tenants")
        known = self.keeper.known_tenant
        # Naming the endpoint on record as stale makes the driver read the state again.
        tenant: TenantState = yield NeedTenant(None if known is None else known.endpoint)
        return tenant

    def _tenant_root(self, stale: str | None) -> _Plan[str]:
        """The Online tenant's endpoint, read anew when ``stale`` is the one on record;
        ``TenantUnavailable`` when the tenant's API does not answer now."""
        tenant: TenantState = yield NeedTenant(stale)
        if tenant.endpoint is None or not tenant.api_available:
            state = ServerText(tenant.state, self.secrets.view)  # the state API's words
            raise TenantUnavailable(tenant.context_identifier, state, tenant.valid_until)
        return tenant.endpoint

    def _transport_retry(
        self, error: TransportError, read_only: bool, attempts: _Attempts
    ) -> float | None:
        if not error.request_sent and attempts.connect < self.connect_retries:
            attempts.connect += 1
            return _backoff(attempts.connect, 0.1)
        if read_only:
            return self._read_retry(attempts)
        return None

    def _read_retry(self, attempts: _Attempts) -> float | None:
        if attempts.read >= self.read_retries:
            return None
        attempts.read += 1
        return _backoff(attempts.read, 0.5)

    def wait_plan(self, job_id: object, wait: WaitSettings) -> _Plan[BatchTaskInfo]:
        """Poll GetBatchTaskInfo until the job reaches a terminal state.

        The interval grows by half after each poll, up to 30 s (or ``poll_interval`` if
        that is longer). Past the deadline no poll starts and no poll is re-sent, so the
        wait ends within ``timeout`` plus one exchange's ``call_deadline``. Every error
        raised carries the job's id as ``job_id``.
        """
        job = _check_job_id(job_id)
        try:
            return (yield from self._polls(job, wait))
        except Exception as error:
            # A started job must not be lost to the caller, whatever went wrong after.
            setattr(error, "job_id", job)  # noqa: B010 - any exception, not only ours
            raise

    def _polls(self, job: int, wait: WaitSettings) -> _Plan[BatchTaskInfo]:
        interval = wait.poll_interval
        longest = max(interval, _MAX_POLL_INTERVAL)
        deadline = None if wait.timeout is None else time.monotonic() + wait.timeout
        seen: tuple[object, ...] | None = None
        while True:
            info = yield from self.plan(GetBatchTaskInfo(job), stop_by=deadline)
            if info is None:
                raise ProtocolError(f"GetBatchTaskInfo({job}) returned no task: no such job")
            if wait.on_progress is not None and _progress(info) != seen:
                yield _Progress(wait.on_progress, info)
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
                    raise BatchTaskTimeout(
                        f"batch task {job} had not finished after {wait.timeout} s; its state",
                        info,
                        quoting=ServerText(str(info.state), self.secrets.view),  # maybe unknown
                    )
                delay = min(delay, remaining)
            yield delay
            interval = min(interval * 1.5, longest)

    def run_plan(self, batch_task_info: BatchTaskInfo, wait: WaitSettings) -> _Plan[BatchTaskInfo]:
        """Start a job, then wait for it."""
        job_id = yield from self.plan(StartBatchJob(batch_task_info))
        if job_id <= 0:
            raise ProtocolError(f"StartBatchJob answered id {job_id}: no job was created")
        return (yield from self.wait_plan(job_id, wait))


class WaitSettings:
    """How to wait for a job, checked before anything is sent."""

    __slots__ = ("on_progress", "poll_interval", "raise_on_failure", "timeout")

    def __init__(
        self,
        poll_interval: object,
        timeout: object,
        on_progress: AsyncProgressCallback | None,
        raise_on_failure: object,
        *,
        awaits: bool,
    ) -> None:
        self.poll_interval = _check_seconds(
            "poll_interval", poll_interval, at_most=_MAX_STEP_SECONDS
        )
        self.timeout = (
            None
            if timeout is None
            else _check_seconds("timeout", timeout, at_most=MAX_WAIT_TIMEOUT)
        )
        if on_progress is not None and not callable(on_progress):
            raise TypeError(f"on_progress must be callable, not {type(on_progress).__name__}")
        if not awaits and inspect.iscoroutinefunction(on_progress):
            # Calling it would only make a coroutine that nothing ever runs.
            raise TypeError(
                "on_progress must be a plain function for BatchClient, not a coroutine "
                "function (AsyncBatchClient awaits one)"
            )
        self.on_progress = on_progress
        if not isinstance(raise_on_failure, bool):
            kind = type(raise_on_failure).__name__
            raise TypeError(f"raise_on_failure must be a bool, not {kind}")
        self.raise_on_failure = raise_on_failure


def _raw_response(response: httpx.Response, body: CappedBody) -> RawResponse:
    return RawResponse(response.status_code, response.headers.get("content-type"), body.content())


# What sending can raise besides httpx.HTTPError: a URL or host httpx or the resolver cannot
# encode, a setting a socket refuses, a stream misused by an injected client.
_HTTPX_FAILURES = (
    httpx.HTTPError,
    httpx.InvalidURL,
    httpx.StreamError,
    UnicodeError,
    OverflowError,
    OSError,
)


def _wrap_httpx_error(
    error: Exception, request: HttpRequest, secrets: SecretView
) -> SuperOfficeError:
    url = request.url
    # What httpx and h11 say may quote the server's bytes (a malformed header line).
    detail = ServerText(str(error) or "no detail", secrets)
    message = f"{type(error).__name__} on {request.method} {url}"
    if isinstance(error, httpx.TransportError):
        # Connect failures and pool timeouts happen before a byte of the request is written.
        sent = not isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        return TransportError(message, request_sent=sent, quoting=detail)
    if isinstance(error, httpx.HTTPError):
        # The reply arrived but could not be read: a bad Content-Encoding, redirects (only
        # an injected client follows them)...
        return ProtocolError(type(error).__name__, quoting=detail, url=url, method=request.method)
    # Not httpx's own: when it struck is unknown, so the request may have gone out.
    return TransportError(message, request_sent=True, quoting=detail)


def _past_deadline(url: str, seconds: float) -> TransportError:
    return TransportError(
        f"ReplyDeadline on POST {url}: the reply was still arriving after call_deadline "
        f"({seconds:g} s)",
        request_sent=True,
    )


def _ticket_source(ticket: str | None, auth: TicketSource | None) -> object:
    if ticket is not None and auth is not None:
        raise ValueError("pass either ticket= or auth=, not both")
    return auth if auth is not None else ticket


_CLIENT_OPTIONS = """
    ``base_url`` is the installation root: an on-site site URL such as
    ``https://crm.example.com/SuperOffice``, or an Online tenant's endpoint. The client
    appends ``Remote/Services88/<Service>.svc``. Leave it out with ``auth=SystemUser(...)``:
    the client then asks SuperOffice's tenant state API where the tenant is, keeps that
    until the state's ``ValidUntil``, and follows a move (HTTP 421) by asking again.

    Options:

    * ``ticket``: a fixed ticket (``7T:…``; an ``8A:…`` access token works too).
    * ``auth``: instead of ``ticket``, where tickets come from: ``UsernamePassword``,
      ``AccessToken``, ``SystemUser`` (Online) or a callable returning a ticket. The
      client logs in on first use and once more, re-sending the call, when NetServer
      rejects the ticket.
    * ``application_token``: the app's client secret (required by Online; a
      ``SystemUser`` brings its own).
    * ``soap_version``: ``None`` (default) negotiates: SOAP 1.2 first, SOAP 1.1 from the
      first refusal on. Pin :attr:`SoapVersion.SOAP11` for a stock WCF endpoint.
    * ``timeout``: seconds (or an ``httpx.Timeout``) for every request, injected client
      or not; it must be finite.
    * ``call_deadline``: seconds one HTTP exchange may take in all, however slowly the
      reply trickles in (default 120); past it the call raises ``TransportError``.
    * ``http_client``: an httpx client to send with (proxies, TLS, limits); the library
      does not close it.
    * ``max_response_bytes``: replies above this size raise unread.
    * ``connect_retries``: re-sends when no connection could be made (nothing was sent,
      so this is safe even for StartBatchJob).
    * ``read_retries``: re-sends of read-only calls (``Get…``) after a transport failure
      or HTTP 429/502/503/504, with backoff.
    * ``time_zone``: a :class:`TimeZone` sent with every Batch call, saying how NetServer
      should read naive dates.
"""


class _Client(Generic[H]):
    """What the two clients share: options, the call policy, the httpx client they own."""

    _http_class: type[H]

    def __init__(
        self,
        base_url: str | None = None,
        *,
        ticket: str | None = None,
        auth: TicketSource | None = None,
        application_token: str | None = None,
        soap_version: SoapVersion | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        call_deadline: float = DEFAULT_CALL_DEADLINE,
        http_client: H | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        connect_retries: int = 2,
        read_retries: int = 2,
        time_zone: TimeZone | None = None,
    ) -> None:
        if http_client is not None and not isinstance(http_client, self._http_class):
            kind = type(http_client).__name__
            expected = self._http_class.__name__
            raise TypeError(f"http_client must be an httpx.{expected}, not {kind}")
        self._policy = _CallPolicy(
            base_url,
            auth=_ticket_source(ticket, auth),
            application_token=application_token,
            soap_version=soap_version,
            timeout=timeout,
            call_deadline=call_deadline,
            max_response_bytes=max_response_bytes,
            connect_retries=connect_retries,
            read_retries=read_retries,
            time_zone=time_zone,
        )
        self._auth_lock = self._new_lock()
        self._owns_http = http_client is None
        if http_client is None:
            http_client = self._http_class(headers={"User-Agent": USER_AGENT})
        self._http: H = http_client

    def _new_lock(self) -> Any:
        """The lock that makes concurrent callers share one login (per client kind)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        version = self.soap_version.value if self.soap_version else "negotiate"
        return f"<{type(self).__name__} {self.base_url!r} soap={version}>"

    @property
    def base_url(self) -> str | None:
        """The installation root the services are found below, ending in ``/``: the one
        given, or the Online tenant's endpoint once known (None before that)."""
        return self._policy.current_root

    @property
    def soap_version(self) -> SoapVersion | None:
        """The SOAP version in use: pinned, or settled by negotiation; None before that."""
        return self._policy.soap_version

    def _headers(self, request: HttpRequest) -> dict[str, str]:
        """The request's headers, naming this library unless the httpx client names another."""
        # Only the codings CappedBody can decode: httpx would offer br or zstd when installed.
        headers = {**request.headers, "Accept-Encoding": ACCEPT_ENCODING}
        # Read per request: an injected client's headers may change after it was passed.
        if self._http.headers.get("user-agent") == _HTTPX_USER_AGENT:
            headers["User-Agent"] = USER_AGENT
        return headers


class BatchClient(_Client[httpx.Client]):
    """A synchronous client for NetServer's ``Batch.svc`` (and ``SoPrincipal.svc`` for tickets).

    Use it as a context manager, or call :meth:`close`. It is safe to share between
    threads: they share one connection pool, one login and one ticket refresh.
    """

    __doc__ = (__doc__ or "") + _CLIENT_OPTIONS
    _http_class = httpx.Client
    _auth_lock: threading.Lock

    def _new_lock(self) -> threading.Lock:
        # A SystemUser's own lock: its clients share one exchange, each creating a
        # credentials record on the tenant.
        shared: threading.Lock | None = getattr(self._policy.keeper.source, "login_lock", None)
        return shared or threading.Lock()

    # -- calls -----------------------------------------------------------------------

    def call(self, operation: Operation[T]) -> T:
        """Send any operation (Batch or SoPrincipal) and return its result."""
        return self._drive(self._policy.plan(operation))

    def call_reply(self, operation: Operation[T]) -> Reply[T]:
        """Like :meth:`call`, with NetServer's ``TimeZone`` and ``ExtraInfo`` reply headers."""
        return self._drive(self._policy.reply_plan(operation))

    # -- Batch.svc -------------------------------------------------------------------

    def start_batch_job(self, batch_task_info: BatchTaskInfo) -> int:
        """Start a batch job from a task description; returns the id of the new task.

        StartBatchJob is not idempotent: it is re-sent only when NetServer certainly did
        not run it (no connection made, SOAP version refused, ticket rejected).
        """
        return self.call(StartBatchJob(batch_task_info))

    def get_batch_task_info(self, id: int) -> BatchTaskInfo | None:
        """One task by id, or None when the service has none to give."""
        return self.call(GetBatchTaskInfo(id))

    def update_batch_task(self, batch_task_info: BatchTaskInfo) -> BatchTaskInfo | None:
        """Store a task's ``State``, ``Description``, ``Response`` and ``Request``.

        Send the whole task, ``id`` included; returns the task as stored, or None.
        """
        return self.call(UpdateBatchTask(batch_task_info))

    def stop_batch_job(self, id: int) -> bool:
        """Ask a running task to stop; True if it was stopped (False for ``CannotCancel``)."""
        return self.call(StopBatchJob(id))

    def delete_batch_task(self, batch_task_id: int) -> None:
        """Delete one task by id."""
        return self.call(DeleteBatchTask(batch_task_id))

    def delete_batch_tasks(self, batch_task_ids: Iterable[int]) -> None:
        """Delete several tasks by id."""
        return self.call(DeleteBatchTasks(batch_task_ids))

    def get_batch_task_infos_by_associates(
        self, associate_ids: Iterable[int]
    ) -> list[BatchTaskInfo]:
        """Tasks owned by the given associates: ``[]`` all, ``0`` system, ``-1`` all users."""
        return self.call(GetBatchTaskInfosByAssociates(associate_ids))

    def get_batch_task_infos_by_state(self, state: BatchTaskState | str) -> list[BatchTaskInfo]:
        """User tasks in one state (``BatchTaskState.ALL`` for any)."""
        return self.call(GetBatchTaskInfosByState(state))

    def get_batch_task_infos_by_name_and_state(
        self, name: str | None, state: BatchTaskState | str
    ) -> list[BatchTaskInfo]:
        """User tasks with one definition name (blank: any) in one state."""
        return self.call(GetBatchTaskInfosByNameAndState(name, state))

    def get_batch_task_infos_by_name_and_associates(
        self, name: str | None, associate_ids: Iterable[int]
    ) -> list[BatchTaskInfo]:
        """Tasks with one definition name owned by the given associates."""
        return self.call(GetBatchTaskInfosByNameAndAssociates(name, associate_ids))

    def get_batch_task_infos_by_associates_and_state(
        self, associate_ids: Iterable[int], state: BatchTaskState | str
    ) -> list[BatchTaskInfo]:
        """Tasks owned by the given associates, in one state."""
        return self.call(GetBatchTaskInfosByAssociatesAndState(associate_ids, state))

    def get_all_batch_task_infos_by_name(self, task_name: str | None) -> list[BatchTaskInfo]:
        """System and user tasks with one definition name (None or blank: all tasks)."""
        return self.call(GetAllBatchTaskInfosByName(task_name))

    def get_all_batch_task_infos_by_name_and_state(
        self, task_name: str | None, state: BatchTaskState | str
    ) -> list[BatchTaskInfo]:
        """System and user tasks with one definition name, in one state."""
        return self.call(GetAllBatchTaskInfosByNameAndState(task_name, state))

    def get_system_batch_task_infos_by_name(self, task_name: str | None) -> list[BatchTaskInfo]:
        """System tasks with one definition name."""
        return self.call(GetSystemBatchTaskInfosByName(task_name))

    def get_system_batch_task_infos_by_name_and_state(
        self, task_name: str | None, state: BatchTaskState | str
    ) -> list[BatchTaskInfo]:
        """System tasks with one definition name, in one state."""
        return self.call(GetSystemBatchTaskInfosByNameAndState(task_name, state))

    # -- following a job -------------------------------------------------------------

    def wait_for_batch_task(
        self,
        job_id: int,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        on_progress: ProgressCallback | None = None,
        raise_on_failure: bool = False,
    ) -> BatchTaskInfo:
        """Poll a job until it succeeds or fails; returns its final ``BatchTaskInfo``.

        ``on_progress`` receives each snapshot whose state, percent or description changed.
        A failed job is returned unless ``raise_on_failure`` (then ``BatchTaskFailed``). Past
        ``timeout`` seconds (None: no limit), ``BatchTaskTimeout`` carries the last snapshot;
        the job goes on running. The settings are checked before anything is sent.
        """
        wait = WaitSettings(poll_interval, timeout, on_progress, raise_on_failure, awaits=False)
        return self._drive(self._policy.wait_plan(job_id, wait))

    def run_batch_job(
        self,
        batch_task_info: BatchTaskInfo,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        on_progress: ProgressCallback | None = None,
        raise_on_failure: bool = False,
    ) -> BatchTaskInfo:
        """Start a batch job, then wait for it as :meth:`wait_for_batch_task` does."""
        wait = WaitSettings(poll_interval, timeout, on_progress, raise_on_failure, awaits=False)
        return self._drive(self._policy.run_plan(batch_task_info, wait))

    def tenant_state(self) -> TenantState:
        """Read the Online tenant's state anew: its endpoint, and whether its API answers.

        The client does this by itself when it needs to; call it to show the state (the
        CLI's ``tenant`` command does). Needs ``auth=SystemUser(...)``; a tenant whose API
        is unavailable is returned, not raised.
        """
        return self._drive(self._policy.tenant_plan())

    # -- driving plans ---------------------------------------------------------------

    def _drive(self, plan: _Plan[T]) -> T:
        step = next(plan)
        while True:
            try:
                try:
                    outcome = self._perform(step)
                except Exception as error:  # thrown in, so a waiting plan can name its job
                    step = plan.throw(error)
                else:
                    step = plan.send(outcome)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

    def _perform(self, step: _Step) -> object:
        if isinstance(step, HttpRequest):
            return self._send(step)
        if isinstance(step, NeedCredentials):
            return self._credentials(step.stale)
        if isinstance(step, NeedTenant):
            return self._tenant(step.stale)
        if isinstance(step, _Progress):
            reported = step.callback(step.info)
            if inspect.iscoroutine(reported):
                reported.close()  # never to run: no "never awaited" warning later
                raise TypeError(
                    "on_progress returned a coroutine: BatchClient does not await it "
                    "(AsyncBatchClient does)"
                )
        else:
            time.sleep(step)
        return None

    def _credentials(self, stale: str | None) -> Credentials | None:
        keeper = self._policy.keeper
        if not keeper.needs_login(stale):  # the common case needs no lock
            return keeper.credentials(stale)
        with self._auth_lock:
            if keeper.needs_login(stale):
                login = keeper.login_flow(self._policy)
                keeper.store(self._drive(login) if login is not None else keeper.source())
            return keeper.credentials(stale)

    def _tenant(self, stale: str | None) -> Tenant:
        keeper = self._policy.keeper
        if not keeper.needs_tenant(stale):  # the common case needs no lock
            return keeper.tenant()
        with self._auth_lock:
            if keeper.needs_tenant(stale):
                keeper.store_tenant(self._drive(keeper.tenant_flow(self._policy)))
            return keeper.tenant()

    def _send(self, request: HttpRequest) -> RawResponse:
        policy = self._policy
        deadline = time.monotonic() + policy.call_deadline
        try:
            with self._http.stream(
                request.method,
                request.url,
                content=request.content or None,
                headers=self._headers(request),
                timeout=policy.timeout,
            ) as response:
                # The raw bytes, decoded by CappedBody: the cap must hold as they are decoded.
                body = CappedBody(
                    response.status_code,
                    response.headers,
                    policy.max_response_bytes,
                    policy.secrets.view,
                )
                if response.is_stream_consumed:
                    body.take_decoded(response.content)
                else:
                    for chunk in response.iter_raw():
                        body.feed(chunk)
                        # A chunk at a time: a server that drips never trips a read timeout.
                        if time.monotonic() > deadline:
                            raise _past_deadline(request.url, policy.call_deadline)
                    body.finish()
                return _raw_response(response, body)
        except _HTTPX_FAILURES as error:
            raise _wrap_httpx_error(error, request, policy.secrets.view) from error

    # -- lifetime ------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool, unless the ``http_client`` was injected."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> BatchClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncBatchClient(_Client[httpx.AsyncClient]):
    """The asyncio twin of :class:`BatchClient`: same options, same methods, awaited.

    Use it as an async context manager, or await :meth:`aclose`. Tasks sharing it share
    one connection pool, one login and one ticket refresh.
    """

    __doc__ = (__doc__ or "") + _CLIENT_OPTIONS
    _http_class = httpx.AsyncClient
    _auth_lock: asyncio.Lock

    def _new_lock(self) -> asyncio.Lock:
        # asyncio is imported where first needed: it would double the package's import time.
        import asyncio

        return asyncio.Lock()

    # -- calls -----------------------------------------------------------------------

    async def call(self, operation: Operation[T]) -> T:
        """Send any operation (Batch or SoPrincipal) and return its result."""
        return await self._drive(self._policy.plan(operation))

    async def call_reply(self, operation: Operation[T]) -> Reply[T]:
        """Like :meth:`call`, with NetServer's ``TimeZone`` and ``ExtraInfo`` reply headers."""
        return await self._drive(self._policy.reply_plan(operation))

    # -- Batch.svc -------------------------------------------------------------------

    async def start_batch_job(self, batch_task_info: BatchTaskInfo) -> int:
        """Start a batch job from a task description; returns the id of the new task.

        StartBatchJob is not idempotent: it is re-sent only when NetServer certainly did
        not run it (no connection made, SOAP version refused, ticket rejected).
        """
        return await self.call(StartBatchJob(batch_task_info))

    async def get_batch_task_info(self, id: int) -> BatchTaskInfo | None:
        """One task by id, or None when the service has none to give."""
        return await self.call(GetBatchTaskInfo(id))

    async def update_batch_task(self, batch_task_info: BatchTaskInfo) -> BatchTaskInfo | None:
        """Store a task's ``State``, ``Description``, ``Response`` and ``Request``.

        Send the whole task, ``id`` included; returns the task as stored, or None.
        """
        return await self.call(UpdateBatchTask(batch_task_info))

    async def stop_batch_job(self, id: int) -> bool:
        """Ask a running task to stop; True if it was stopped (False for ``CannotCancel``)."""
        return await self.call(StopBatchJob(id))

    async def delete_batch_task(self, batch_task_id: int) -> None:
        """Delete one task by id."""
        return await self.call(DeleteBatchTask(batch_task_id))

    async def delete_batch_tasks(self, batch_task_ids: Iterable[int]) -> None:
        """Delete several tasks by id."""
        return await self.call(DeleteBatchTasks(batch_task_ids))

    async def get_batch_task_infos_by_associates(
        self, associate_ids: Iterable[int]
    ) -> list[BatchTaskInfo]:
        """Tasks owned by the given associates: ``[]`` all, ``0`` system, ``-1`` all users."""
        return await self.call(GetBatchTaskInfosByAssociates(associate_ids))

    async def get_batch_task_infos_by_state(
        self, state: BatchTaskState | str
    ) -> list[BatchTaskInfo]:
        """User tasks in one state (``BatchTaskState.ALL`` for any)."""
        return await self.call(GetBatchTaskInfosByState(state))

    async def get_batch_task_infos_by_name_and_state(
        self, name: str | None, state: BatchTaskState | str
    ) -> list[BatchTaskInfo]:
        """User tasks with one definition name (blank: any) in one state."""
        return await self.call(GetBatchTaskInfosByNameAndState(name, state))

    async def get_batch_task_infos_by_name_and_associates(
        self, name: str | None, associate_ids: Iterable[int]
    ) -> list[BatchTaskInfo]:
        """Tasks with one definition name owned by the given associates."""
        return await self.call(GetBatchTaskInfosByNameAndAssociates(name, associate_ids))

    async def get_batch_task_infos_by_associates_and_state(
        self, associate_ids: Iterable[int], state: BatchTaskState | str
    ) -> list[BatchTaskInfo]:
        """Tasks owned by the given associates, in one state."""
        return await self.call(GetBatchTaskInfosByAssociatesAndState(associate_ids, state))

    async def get_all_batch_task_infos_by_name(self, task_name: str | None) -> list[BatchTaskInfo]:
        """System and user tasks with one definition name (None or blank: all tasks)."""
        return await self.call(GetAllBatchTaskInfosByName(task_name))

    async def get_all_batch_task_infos_by_name_and_state(
        self, task_name: str | None, state: BatchTaskState | str
    ) -> list[BatchTaskInfo]:
        """System and user tasks with one definition name, in one state."""
        return await self.call(GetAllBatchTaskInfosByNameAndState(task_name, state))

    async def get_system_batch_task_infos_by_name(
        self, task_name: str | None
    ) -> list[BatchTaskInfo]:
        """System tasks with one definition name."""
        return await self.call(GetSystemBatchTaskInfosByName(task_name))

    async def get_system_batch_task_infos_by_name_and_state(
        self, task_name: str | None, state: BatchTaskState | str
    ) -> list[BatchTaskInfo]:
        """System tasks with one definition name, in one state."""
        return await self.call(GetSystemBatchTaskInfosByNameAndState(task_name, state))

    # -- following a job -------------------------------------------------------------

    async def wait_for_batch_task(
        self,
        job_id: int,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        on_progress: AsyncProgressCallback | None = None,
        raise_on_failure: bool = False,
    ) -> BatchTaskInfo:
        """Poll a job until it succeeds or fails; returns its final ``BatchTaskInfo``.

        ``on_progress`` receives each snapshot whose state, percent or description changed;
        a coroutine function is awaited (polling waits for it).
        A failed job is returned unless ``raise_on_failure`` (then ``BatchTaskFailed``). Past
        ``timeout`` seconds (None: no limit), ``BatchTaskTimeout`` carries the last snapshot;
        the job goes on running. The settings are checked before anything is sent.
        """
        wait = WaitSettings(poll_interval, timeout, on_progress, raise_on_failure, awaits=True)
        return await self._drive(self._policy.wait_plan(job_id, wait))

    async def run_batch_job(
        self,
        batch_task_info: BatchTaskInfo,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = DEFAULT_WAIT_TIMEOUT,
        on_progress: AsyncProgressCallback | None = None,
        raise_on_failure: bool = False,
    ) -> BatchTaskInfo:
        """Start a batch job, then wait for it as :meth:`wait_for_batch_task` does."""
        wait = WaitSettings(poll_interval, timeout, on_progress, raise_on_failure, awaits=True)
        return await self._drive(self._policy.run_plan(batch_task_info, wait))

    async def tenant_state(self) -> TenantState:
        """Read the Online tenant's state anew: its endpoint, and whether its API answers.

        The client does this by itself when it needs to; call it to show the state (the
        CLI's ``tenant`` command does). Needs ``auth=SystemUser(...)``; a tenant whose API
        is unavailable is returned, not raised.
        """
        return await self._drive(self._policy.tenant_plan())

    # -- driving plans ---------------------------------------------------------------

    async def _drive(self, plan: _Plan[T]) -> T:
        step = next(plan)
        while True:
            try:
                try:
                    outcome = await self._perform(step)
                except Exception as error:  # thrown in, so a waiting plan can name its job
                    step = plan.throw(error)
                else:
                    step = plan.send(outcome)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

    async def _perform(self, step: _Step) -> object:
        if isinstance(step, HttpRequest):
            return await self._send(step)
        if isinstance(step, NeedCredentials):
            return await self._credentials(step.stale)
        if isinstance(step, NeedTenant):
            return await self._tenant(step.stale)
        if isinstance(step, _Progress):
            reported = step.callback(step.info)
            if inspect.isawaitable(reported):
                await reported
            return None
        import asyncio  # already loaded: see _new_lock

        await asyncio.sleep(step)
        return None

    async def _credentials(self, stale: str | None) -> Credentials | None:
        keeper = self._policy.keeper
        if not keeper.needs_login(stale):  # the common case needs no lock
            return keeper.credentials(stale)
        async with self._auth_lock:
            if keeper.needs_login(stale):
                login = keeper.login_flow(self._policy)
                if login is not None:
                    ticket = await self._drive(login)
                else:
                    ticket = keeper.source()
                    if inspect.isawaitable(ticket):
                        ticket = await ticket
                keeper.store(ticket)
            return keeper.credentials(stale)

    async def _tenant(self, stale: str | None) -> Tenant:
        keeper = self._policy.keeper
        if not keeper.needs_tenant(stale):  # the common case needs no lock
            return keeper.tenant()
        async with self._auth_lock:
            if keeper.needs_tenant(stale):
                keeper.store_tenant(await self._drive(keeper.tenant_flow(self._policy)))
            return keeper.tenant()

    async def _send(self, request: HttpRequest) -> RawResponse:
        policy = self._policy
        deadline = time.monotonic() + policy.call_deadline
        try:
            async with self._http.stream(
                request.method,
                request.url,
                content=request.content or None,
                headers=self._headers(request),
                timeout=policy.timeout,
            ) as response:
                # The raw bytes, decoded by CappedBody: the cap must hold as they are decoded.
                body = CappedBody(
                    response.status_code,
                    response.headers,
                    policy.max_response_bytes,
                    policy.secrets.view,
                )
                if response.is_stream_consumed:
                    body.take_decoded(response.content)
                else:
                    async for chunk in response.aiter_raw():
                        body.feed(chunk)
                        # A chunk at a time: a server that drips never trips a read timeout.
                        if time.monotonic() > deadline:
                            raise _past_deadline(request.url, policy.call_deadline)
                    body.finish()
                return _raw_response(response, body)
        except _HTTPX_FAILURES as error:
            raise _wrap_httpx_error(error, request, policy.secrets.view) from error

    # -- lifetime ------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the connection pool, unless the ``http_client`` was injected."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncBatchClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
