"""The HTTP clients: thin I/O shells around one sans-I/O call policy.

:class:`_CallPolicy` decides, without doing any I/O, what to send and what each reply or
failure means: SOAP version negotiation, the few safe re-sends, logging in again after a
rejected ticket, retries of read-only calls, polling a job to its end. Its plans are
generators that yield *steps* (a :class:`~superoffice_batch.operations.Request` to send,
seconds to wait, or :class:`NeedCredentials`) and receive their outcome.
:class:`BatchClient` performs the steps with ``httpx.Client``, :class:`AsyncBatchClient`
with ``httpx.AsyncClient``; nothing else differs between them.
"""

from __future__ import annotations

import inspect
import logging
import math
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterator
from types import TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Generic,
    NamedTuple,
    ParamSpec,
    TypeVar,
    overload,
)

import httpx

if TYPE_CHECKING:
    import asyncio

from .auth import TicketKeeper, TicketSource, is_ticket_rejection
from .envelope import DEFAULT_MAX_RESPONSE_BYTES, SoapVersion, oversized
from .errors import (
    BatchTaskFailed,
    BatchTaskTimeout,
    HttpError,
    ProtocolError,
    ServiceError,
    SoapFault,
    SuperOfficeError,
    TransportError,
    _ReplyError,
    redact,
)
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
    Request,
    StartBatchJob,
    StopBatchJob,
    UpdateBatchTask,
)

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WAIT_TIMEOUT",
    "AsyncBatchClient",
    "BatchClient",
    "NeedCredentials",
    "RawResponse",
]

T = TypeVar("T")
P = ParamSpec("P")
H = TypeVar("H", httpx.Client, httpx.AsyncClient)
R = TypeVar("R")

logger = logging.getLogger("superoffice_batch")

DEFAULT_TIMEOUT = 30.0
"""Seconds allowed for each of connect, write, read and pool acquisition."""
DEFAULT_POLL_INTERVAL = 1.0
"""Seconds between the first polls of a job; later polls back off."""
DEFAULT_WAIT_TIMEOUT = 3600.0
"""Seconds :meth:`BatchClient.wait_for_batch_task` waits by default."""
_MAX_POLL_INTERVAL = 30.0
_TRANSIENT_STATUS = frozenset({429, 502, 503, 504})
_WRONG_URL_HINT = (
    "base_url must be the installation root, the part before /Remote/Services88/ "
    "(e.g. https://sod.superoffice.com/Cust12345)"
)
# A base_url that already names a service: the client would append the path a second time.
_SERVICE_PATH = re.compile(r"/Remote/Services88/[^/]*\.svc/?\Z", re.IGNORECASE)
_VERSION_MISMATCH = {f"{{{version.namespace}}}VersionMismatch" for version in SoapVersion}

ProgressCallback = Callable[[BatchTaskInfo], object]
"""Called with each snapshot of a job whose state, percent or description changed."""


class RawResponse(NamedTuple):
    """The parts of an HTTP reply the operations read."""

    status_code: int
    content_type: str | None
    content: bytes


class NeedCredentials(NamedTuple):
    """A step: the plan needs credentials; ``stale`` is a ticket the server just rejected."""

    stale: str | None


# What a plan asks of its driver: send a request, wait some seconds, or get credentials.
_Step = Request | float | NeedCredentials
_Plan = Generator[_Step, Any, T]


def _is_version_refusal(error: Exception) -> bool:
    """415 or a VersionMismatch fault: the endpoint refused the envelope before dispatch."""
    if isinstance(error, HttpError):
        return error.status_code == 415
    return isinstance(error, SoapFault) and error.code in _VERSION_MISMATCH


def _is_transient(error: SuperOfficeError) -> bool:
    """Failures worth retrying for a read-only call: the network, or a busy gateway."""
    if isinstance(error, TransportError):
        return True
    return isinstance(error, HttpError) and error.status_code in _TRANSIENT_STATUS


def _backoff(attempt: int, first: float) -> float:
    return first * 2.0 ** (attempt - 1)


def _check_base_url(base_url: object) -> httpx.URL:
    if not isinstance(base_url, (str, httpx.URL)):
        raise TypeError(f"base_url must be a str, not {type(base_url).__name__}")
    try:
        url = httpx.URL(str(base_url))
    except httpx.InvalidURL as error:
        raise ValueError(f"base_url is not a valid URL: {error}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("base_url must be an absolute http:// or https:// URL")
    if url.query or url.fragment:
        raise ValueError("base_url must not have a query or fragment")
    if url.userinfo:
        raise ValueError("base_url must not carry user info; pass credentials as options")
    service_path = _SERVICE_PATH.search(url.path)
    if service_path is not None:
        root = url.copy_with(path=url.path[: service_path.start()] or "/")
        raise ValueError(
            f"base_url must be the installation root, not a service URL: use {str(root)!r}"
        )
    if not url.path.endswith("/"):
        url = url.copy_with(path=url.path + "/")
    return url


def _check_seconds(name: str, value: object, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and positive, got {value}")
    return float(value)


def _check_timeout(timeout: object) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        parts = (timeout.connect, timeout.read, timeout.write, timeout.pool)
        if any(part is None or not math.isfinite(part) or part <= 0 for part in parts):
            raise ValueError("timeout must be finite and positive for connect, read, write, pool")
        return timeout
    seconds = _check_seconds("timeout", timeout)
    return httpx.Timeout(seconds)


def _check_count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def _check_job_id(job_id: object) -> int:
    if isinstance(job_id, bool) or not isinstance(job_id, int):
        raise TypeError(f"job_id must be an int, not {type(job_id).__name__}")
    if job_id <= 0:
        # StartBatchJob answers 0 (the documented example does) when nothing was created.
        raise ValueError(f"job_id must be positive, got {job_id}: no such job to wait for")
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


def _log_envelope(kind: str, name: str, content: bytes, secrets: tuple[str, ...]) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        text = redact(content.decode("utf-8", errors="replace"), secrets)
        logger.debug("%s %s envelope: %s", name, kind, text)


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
        max_response_bytes: object,
        connect_retries: object,
        read_retries: object,
        time_zone: object,
    ) -> None:
        if soap_version is not None and not isinstance(soap_version, SoapVersion):
            raise TypeError(f"soap_version must be a SoapVersion or None, not {soap_version!r}")
        self.base_url = _check_base_url(base_url)
        self.keeper = TicketKeeper(auth, application_token)
        # SoPrincipal calls carry the application token only: they are how tickets start.
        self.anonymous = Credentials(application_token=application_token)
        self.pinned_version = soap_version
        self.negotiated_version: SoapVersion | None = None
        self.timeout = _check_timeout(timeout)
        self.max_response_bytes = _check_count("max_response_bytes", max_response_bytes, 1)
        self.connect_retries = _check_count("connect_retries", connect_retries, 0)
        self.read_retries = _check_count("read_retries", read_retries, 0)
        if time_zone is not None and not isinstance(time_zone, TimeZone):
            raise TypeError(f"time_zone must be a TimeZone, not {type(time_zone).__name__}")
        self.time_zone = time_zone
        self._urls: dict[str, str] = {}

    @property
    def soap_version(self) -> SoapVersion | None:
        """The version in use: pinned, or settled by negotiation; None until then."""
        return self.pinned_version or self.negotiated_version

    def url(self, path: str) -> str:
        """The absolute URL of a service path, computed once per service."""
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = str(self.base_url.join(path))
        return url

    def plan(self, operation: Operation[T]) -> _Plan[T]:
        """Send ``operation`` and return its result.

        Logs one INFO line per call: operation, endpoint, outcome, duration.
        """
        return (yield from self._logged(operation, operation.parse_response))

    def reply_plan(self, operation: Operation[T]) -> _Plan[Reply[T]]:
        """Like :meth:`plan`, returning the result with the reply headers."""
        return (yield from self._logged(operation, operation.parse_reply))

    def _logged(self, operation: Operation[Any], parse: Callable[..., R]) -> _Plan[R]:
        started = time.perf_counter()
        name = type(operation).__name__
        url = self.url(operation.SERVICE.path)
        try:
            result, status = yield from self._exchange(operation, parse)
        except SuperOfficeError as error:
            _log_call(name, url, f"failed: {type(error).__name__}: {error}", started)
            if isinstance(error, _ReplyError) and error.url is None:
                error.url = url
                error.hint = self._hint(error)
            raise
        _log_call(name, url, f"HTTP {status}", started)
        return result

    def _hint(self, error: _ReplyError) -> str | None:
        """What to check after ``error``, in the client's own terms (the CLI has its own)."""
        if isinstance(error, HttpError) and error.status_code == 404:
            return _WRONG_URL_HINT
        pinned = self.pinned_version
        if pinned is not None and _is_version_refusal(error):
            other = SoapVersion.SOAP11 if pinned is SoapVersion.SOAP12 else SoapVersion.SOAP12
            refused = f"the endpoint refused SOAP {pinned.value}"
            return f"{refused}: try soap_version=SoapVersion.{other.name}"
        return error.hint

    def _exchange(self, operation: Operation[Any], parse: Callable[..., R]) -> _Plan[tuple[R, int]]:
        # Re-sends only what certainly did not run, or what is safe to repeat:
        # * a connect failure (nothing was written);
        # * once as SOAP 1.1, when negotiating and the endpoint refused SOAP 1.2;
        # * once with a fresh ticket, when the ticket was rejected (the call never ran);
        # * read-only calls after a transient failure, with backoff.
        takes_ticket = operation.SERVICE.takes_ticket
        credentials = (yield NeedCredentials(None)) if takes_ticket else self.anonymous
        negotiating = self.soap_version is None
        version = self.soap_version or SoapVersion.SOAP12
        attempts = _Attempts()
        reauthenticated = False
        name = type(operation).__name__
        own_secrets = operation.secrets  # a password or token passed to a login call
        while True:
            secrets = self.keeper.secrets + own_secrets
            request = operation.to_request(credentials, version, time_zone=self.time_zone)
            _log_envelope("request", name, request.content, secrets)
            try:
                response = yield request
            except TransportError as error:
                delay = self._transport_retry(error, operation, attempts)
                if delay is None:
                    raise
                logger.info("%s: %s; re-sending in %.1f s", name, error, delay)
                yield delay
                continue
            _log_envelope("reply", name, response.content, secrets)
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
            if negotiating and _is_version_refusal(failure):
                negotiating = False
                version = self.negotiated_version = SoapVersion.SOAP11
                logger.info("%s: endpoint refused SOAP 1.2 (%s); using SOAP 1.1", name, failure)
            elif takes_ticket and not reauthenticated and is_ticket_rejection(failure):
                reauthenticated = True
                fresh = yield NeedCredentials(credentials.ticket)
                if fresh is None or fresh is credentials:  # nothing to refresh with
                    raise failure
                logger.info("%s: ticket rejected; re-sending with a fresh one", name)
                credentials = fresh
            elif operation.READ_ONLY and _is_transient(failure):
                delay = self._read_retry(attempts)
                if delay is None:
                    raise failure
                logger.info("%s: %s; re-sending in %.1f s", name, failure, delay)
                yield delay
            else:
                raise failure

    def _transport_retry(
        self, error: TransportError, operation: Operation[Any], attempts: _Attempts
    ) -> float | None:
        if not error.request_sent and attempts.connect < self.connect_retries:
            attempts.connect += 1
            return _backoff(attempts.connect, 0.1)
        if operation.READ_ONLY:
            return self._read_retry(attempts)
        return None

    def _read_retry(self, attempts: _Attempts) -> float | None:
        if attempts.read >= self.read_retries:
            return None
        attempts.read += 1
        return _backoff(attempts.read, 0.5)

    def login_plan(self) -> _Plan[str] | None:
        """Log in through SoPrincipal; None when the ticket source is a callable."""
        operation = self.keeper.login_operation()
        if operation is None:
            return None
        return self._ticket_of(operation)

    def _ticket_of(self, operation: Operation[Any]) -> _Plan[str]:
        authentication = yield from self.plan(operation)
        return str(authentication.ticket)

    def wait_plan(self, job_id: object, wait: WaitSettings) -> _Plan[BatchTaskInfo]:
        """Poll GetBatchTaskInfo until the job reaches a terminal state.

        The interval grows by half after each poll, up to 30 s (or ``poll_interval`` if
        that is longer).
        """
        job = _check_job_id(job_id)
        interval = wait.poll_interval
        longest = max(interval, _MAX_POLL_INTERVAL)
        deadline = None if wait.timeout is None else time.monotonic() + wait.timeout
        seen: tuple[object, ...] | None = None
        while True:
            info = yield from self.plan(GetBatchTaskInfo(job))
            if info is None:
                raise ProtocolError(f"GetBatchTaskInfo({job}) returned no task: no such job")
            if wait.on_progress is not None and _progress(info) != seen:
                wait.on_progress(info)
            seen = _progress(info)
            if _is_finished(info):
                if wait.raise_on_failure and info.state is BatchTaskState.FAILED:
                    raise BatchTaskFailed(f"batch task {job} failed: {info.result or ''}", info)
                return info
            delay = interval
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BatchTaskTimeout(
                        f"batch task {job} still {info.state} after {wait.timeout} s", info
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
        on_progress: ProgressCallback | None,
        raise_on_failure: object,
    ) -> None:
        interval = _check_seconds("poll_interval", poll_interval)
        assert interval is not None
        self.poll_interval = interval
        self.timeout = _check_seconds("timeout", timeout, optional=True)
        if on_progress is not None and not callable(on_progress):
            raise TypeError(f"on_progress must be callable, not {type(on_progress).__name__}")
        if inspect.iscoroutinefunction(on_progress):
            # It is called between polls and not awaited, by both clients alike.
            raise TypeError("on_progress must be a plain function, not a coroutine function")
        self.on_progress = on_progress
        if not isinstance(raise_on_failure, bool):
            kind = type(raise_on_failure).__name__
            raise TypeError(f"raise_on_failure must be a bool, not {kind}")
        self.raise_on_failure = raise_on_failure


def _read_body(chunks: Iterator[bytes], response: httpx.Response, limit: int) -> bytes:
    """The (decoded) body, refusing to hold more than ``limit`` bytes of it."""
    _refuse_declared_oversize(response, limit)
    body = bytearray()
    for chunk in chunks:
        _append_capped(body, chunk, response, limit)
    return bytes(body)


async def _aread_body(chunks: AsyncIterator[bytes], response: httpx.Response, limit: int) -> bytes:
    """:func:`_read_body` for an async stream."""
    _refuse_declared_oversize(response, limit)
    body = bytearray()
    async for chunk in chunks:
        _append_capped(body, chunk, response, limit)
    return bytes(body)


def _append_capped(body: bytearray, chunk: bytes, response: httpx.Response, limit: int) -> None:
    body += chunk
    if len(body) > limit:
        raise oversized(None, limit, response.status_code, response.headers.get("content-type"))


def _refuse_declared_oversize(response: httpx.Response, limit: int) -> None:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        content_type = response.headers.get("content-type")
        raise oversized(int(declared), limit, response.status_code, content_type)


def _wrap_httpx_error(
    error: httpx.HTTPError, url: str, secrets: tuple[str, ...]
) -> SuperOfficeError:
    detail = redact(str(error), secrets) or "no detail"
    if isinstance(error, httpx.TransportError):
        # Connect failures and pool timeouts happen before a byte of the request is written.
        sent = not isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        return TransportError(f"{type(error).__name__} on POST {url}: {detail}", request_sent=sent)
    # The reply arrived but could not be read: a bad Content-Encoding, redirects (only an
    # injected client follows them)...
    return ProtocolError(f"{type(error).__name__}: {detail}", url=url)


def _ticket_source(ticket: str | None, auth: TicketSource | None) -> object:
    if ticket is not None and auth is not None:
        raise ValueError("pass either ticket= or auth=, not both")
    return auth if auth is not None else ticket


_CLIENT_OPTIONS = """
    ``base_url`` is the installation root: an on-site site URL or an Online tenant URL
    such as ``https://sod.superoffice.com/Cust12345``. The client appends
    ``Remote/Services88/<Service>.svc``.

    Options:

    * ``ticket``: a fixed ticket (``7T:…``; an ``8A:…`` access token works too).
    * ``auth``: instead of ``ticket``, where tickets come from: ``UsernamePassword``,
      ``AccessToken`` or a callable returning a ticket. The client logs in on first use
      and once more, re-sending the call, when NetServer rejects the ticket.
    * ``application_token``: the app's client secret (required by Online).
    * ``soap_version``: ``None`` (default) negotiates: SOAP 1.2 first, SOAP 1.1 from the
      first refusal on. Pin :attr:`SoapVersion.SOAP11` for a stock WCF endpoint.
    * ``timeout``: seconds (or an ``httpx.Timeout``) for every request, injected client
      or not; it must be finite.
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


class PlanMethod(Generic[P, T]):
    """A client method that runs one plan of the call policy.

    ``client.stop_batch_job(5)`` runs the plan that sends ``StopBatchJob(5)``: the sync
    client returns the result, the async one a coroutine. Declared once for both
    clients, so that an operation or a helper is one line for both.
    """

    def __init__(
        self, plan: Callable[Concatenate[_CallPolicy, P], _Plan[T]], doc: str | None
    ) -> None:
        self.plan = plan
        self.__doc__ = doc

    @overload
    def __get__(self, client: None, owner: type[Any]) -> PlanMethod[P, T]: ...
    @overload
    def __get__(self, client: BatchClient, owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(
        self, client: AsyncBatchClient, owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, client: Any, owner: type[Any]) -> Any:
        if client is None:
            return self
        plan = self.plan

        def run(*args: P.args, **kwargs: P.kwargs) -> Any:
            return client._drive(plan(client._policy, *args, **kwargs))

        run.__doc__ = self.__doc__
        return run


def operation_method(operation: Callable[P, Operation[T]]) -> PlanMethod[P, T]:
    """The client method that sends ``operation`` built from the method's arguments."""

    def plan(policy: _CallPolicy, /, *args: P.args, **kwargs: P.kwargs) -> _Plan[T]:
        return policy.plan(operation(*args, **kwargs))

    return PlanMethod(plan, operation.__doc__)


def _wait_for_batch_task(
    policy: _CallPolicy,
    job_id: int,
    *,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    timeout: float | None = DEFAULT_WAIT_TIMEOUT,
    on_progress: ProgressCallback | None = None,
    raise_on_failure: bool = False,
) -> _Plan[BatchTaskInfo]:
    """Poll a job until it succeeds or fails; returns its final ``BatchTaskInfo``.

    ``on_progress`` receives each snapshot whose state, percent or description changed.
    A failed job is returned unless ``raise_on_failure`` (then ``BatchTaskFailed``). Past
    ``timeout`` seconds (None: no limit), ``BatchTaskTimeout`` carries the last snapshot;
    the job goes on running. The settings are checked before anything is sent.
    """
    return policy.wait_plan(
        job_id, WaitSettings(poll_interval, timeout, on_progress, raise_on_failure)
    )


def _run_batch_job(
    policy: _CallPolicy,
    batch_task_info: BatchTaskInfo,
    *,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    timeout: float | None = DEFAULT_WAIT_TIMEOUT,
    on_progress: ProgressCallback | None = None,
    raise_on_failure: bool = False,
) -> _Plan[BatchTaskInfo]:
    """Start a batch job, then wait for it as ``wait_for_batch_task`` does."""
    return policy.run_plan(
        batch_task_info, WaitSettings(poll_interval, timeout, on_progress, raise_on_failure)
    )


class _BatchMethods:
    """The Batch.svc operations as methods, snake_case, with the operations' arguments,
    and the helpers that follow a job."""

    start_batch_job = operation_method(StartBatchJob)
    get_batch_task_info = operation_method(GetBatchTaskInfo)
    update_batch_task = operation_method(UpdateBatchTask)
    stop_batch_job = operation_method(StopBatchJob)
    delete_batch_task = operation_method(DeleteBatchTask)
    delete_batch_tasks = operation_method(DeleteBatchTasks)
    get_batch_task_infos_by_associates = operation_method(GetBatchTaskInfosByAssociates)
    get_batch_task_infos_by_state = operation_method(GetBatchTaskInfosByState)
    get_batch_task_infos_by_name_and_state = operation_method(GetBatchTaskInfosByNameAndState)
    get_batch_task_infos_by_name_and_associates = operation_method(
        GetBatchTaskInfosByNameAndAssociates
    )
    get_batch_task_infos_by_associates_and_state = operation_method(
        GetBatchTaskInfosByAssociatesAndState
    )
    get_all_batch_task_infos_by_name = operation_method(GetAllBatchTaskInfosByName)
    get_all_batch_task_infos_by_name_and_state = operation_method(
        GetAllBatchTaskInfosByNameAndState
    )
    get_system_batch_task_infos_by_name = operation_method(GetSystemBatchTaskInfosByName)
    get_system_batch_task_infos_by_name_and_state = operation_method(
        GetSystemBatchTaskInfosByNameAndState
    )

    wait_for_batch_task = PlanMethod(_wait_for_batch_task, _wait_for_batch_task.__doc__)
    run_batch_job = PlanMethod(_run_batch_job, _run_batch_job.__doc__)


class _Client(_BatchMethods, Generic[H]):
    """What the two clients share: options, the call policy, the httpx client they own."""

    _http_class: type[H]

    def __init__(
        self,
        base_url: str,
        *,
        ticket: str | None = None,
        auth: TicketSource | None = None,
        application_token: str | None = None,
        soap_version: SoapVersion | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
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
            max_response_bytes=max_response_bytes,
            connect_retries=connect_retries,
            read_retries=read_retries,
            time_zone=time_zone,
        )
        self._auth_lock = self._new_lock()
        self._owns_http = http_client is None
        self._http: H = http_client if http_client is not None else self._http_class()

    def _new_lock(self) -> Any:
        """The lock that makes concurrent callers share one login (per client kind)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        version = self.soap_version.value if self.soap_version else "negotiate"
        return f"<{type(self).__name__} {str(self._policy.base_url)!r} soap={version}>"

    @property
    def soap_version(self) -> SoapVersion | None:
        """The SOAP version in use: pinned, or settled by negotiation; None before that."""
        return self._policy.soap_version


class BatchClient(_Client[httpx.Client]):
    """A synchronous client for NetServer's ``Batch.svc`` (and ``SoPrincipal.svc`` for tickets).

    Use it as a context manager, or call :meth:`close`. It is safe to share between
    threads: they share one connection pool, one login and one ticket refresh.
    """

    __doc__ = (__doc__ or "") + _CLIENT_OPTIONS
    _http_class = httpx.Client
    _auth_lock: threading.Lock

    def _new_lock(self) -> threading.Lock:
        return threading.Lock()

    # -- driving plans ---------------------------------------------------------------

    def call(self, operation: Operation[T]) -> T:
        """Send any operation (Batch or SoPrincipal) and return its result."""
        return self._drive(self._policy.plan(operation))

    def call_reply(self, operation: Operation[T]) -> Reply[T]:
        """Like :meth:`call`, with NetServer's ``TimeZone`` and ``ExtraInfo`` reply headers."""
        return self._drive(self._policy.reply_plan(operation))

    def _drive(self, plan: _Plan[T]) -> T:
        step = next(plan)
        while True:
            try:
                try:
                    outcome = self._perform(step)
                except SuperOfficeError as error:
                    step = plan.throw(error)
                else:
                    step = plan.send(outcome)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

    def _perform(self, step: _Step) -> object:
        if isinstance(step, Request):
            return self._send(step)
        if isinstance(step, NeedCredentials):
            return self._credentials(step.stale)
        time.sleep(step)
        return None

    def _credentials(self, stale: str | None) -> Credentials | None:
        keeper = self._policy.keeper
        if not keeper.needs_login(stale):  # the common case needs no lock
            return keeper.credentials(stale)
        with self._auth_lock:
            if keeper.needs_login(stale):
                login = self._policy.login_plan()
                keeper.store(self._drive(login) if login is not None else keeper.source())
            return keeper.credentials(stale)

    def _send(self, request: Request) -> RawResponse:
        policy = self._policy
        url = policy.url(request.path)
        try:
            with self._http.stream(
                "POST",
                url,
                content=request.content,
                headers=request.headers,
                timeout=policy.timeout,
            ) as response:
                content = _read_body(response.iter_bytes(), response, policy.max_response_bytes)
                return RawResponse(
                    response.status_code, response.headers.get("content-type"), content
                )
        except httpx.HTTPError as error:
            raise _wrap_httpx_error(error, url, policy.keeper.secrets) from error

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

    # -- driving plans ---------------------------------------------------------------

    async def call(self, operation: Operation[T]) -> T:
        """Send any operation (Batch or SoPrincipal) and return its result."""
        return await self._drive(self._policy.plan(operation))

    async def call_reply(self, operation: Operation[T]) -> Reply[T]:
        """Like :meth:`call`, with NetServer's ``TimeZone`` and ``ExtraInfo`` reply headers."""
        return await self._drive(self._policy.reply_plan(operation))

    async def _drive(self, plan: _Plan[T]) -> T:
        step = next(plan)
        while True:
            try:
                try:
                    outcome = await self._perform(step)
                except SuperOfficeError as error:
                    step = plan.throw(error)
                else:
                    step = plan.send(outcome)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

    async def _perform(self, step: _Step) -> object:
        if isinstance(step, Request):
            return await self._send(step)
        if isinstance(step, NeedCredentials):
            return await self._credentials(step.stale)
        import asyncio  # already loaded: see _new_lock

        await asyncio.sleep(step)
        return None

    async def _credentials(self, stale: str | None) -> Credentials | None:
        keeper = self._policy.keeper
        if not keeper.needs_login(stale):  # the common case needs no lock
            return keeper.credentials(stale)
        async with self._auth_lock:
            if keeper.needs_login(stale):
                login = self._policy.login_plan()
                if login is not None:
                    ticket = await self._drive(login)
                else:
                    ticket = keeper.source()
                    if inspect.isawaitable(ticket):
                        ticket = await ticket
                keeper.store(ticket)
            return keeper.credentials(stale)

    async def _send(self, request: Request) -> RawResponse:
        policy = self._policy
        url = policy.url(request.path)
        try:
            async with self._http.stream(
                "POST",
                url,
                content=request.content,
                headers=request.headers,
                timeout=policy.timeout,
            ) as response:
                limit = policy.max_response_bytes
                content = await _aread_body(response.aiter_bytes(), response, limit)
                return RawResponse(
                    response.status_code, response.headers.get("content-type"), content
                )
        except httpx.HTTPError as error:
            raise _wrap_httpx_error(error, url, policy.keeper.secrets) from error

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
