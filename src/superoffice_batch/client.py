"""The HTTP clients: thin I/O shells around one sans-I/O call policy.

:class:`~superoffice_batch.policy.CallPolicy` decides, without doing any I/O, what to send
and what each reply or failure means; its plans yield steps (a request to send, seconds to
wait, a refresh, progress to report). :class:`BatchClient` performs them with
``httpx.Client``, :class:`AsyncBatchClient` with ``httpx.AsyncClient`` (and awaits an async
progress callback); each client method hands its operation, or a plan, to the policy in a
line or two. The settings are checked in :mod:`superoffice_batch.settings`, re-sends
decided in :mod:`superoffice_batch.resend`, and each call's deadline held at the socket by
the transports of :mod:`superoffice_batch.deadline`.
"""

from __future__ import annotations

import inspect
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

if TYPE_CHECKING:
    import asyncio

    from .online import TenantState

from ._version import __version__
from .auth import Awaiting, TicketSource
from .decoding import ACCEPT_ENCODING, CappedBody
from .envelope import DEFAULT_MAX_RESPONSE_BYTES, SoapVersion
from .errors import ProtocolError, SuperOfficeError, TransportError, label
from .messages import HttpRequest, RawResponse
from .models import BatchTaskInfo, BatchTaskState, TimeZone
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
from .policy import CallPolicy, NeedCredentials, NeedTenant, Plan, Progress, Step
from .secrets import SecretView
from .servertext import ServerText
from .settings import (
    DEFAULT_CALL_DEADLINE,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    DEFAULT_WAIT_TIMEOUT,
    MAX_RETRIES,
    MAX_WAIT_TIMEOUT,
    AsyncProgressCallback,
    ProgressCallback,
    WaitSettings,
)

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
    "ProgressCallback",
    "RawResponse",
]

T = TypeVar("T")
H = TypeVar("H", httpx.Client, httpx.AsyncClient)

USER_AGENT = f"superoffice-batch/{__version__} httpx/{httpx.__version__}"
"""The User-Agent the clients send, unless an injected ``http_client`` sets its own."""
# What httpx sends when nobody chose a User-Agent: replaced by USER_AGENT.
_HTTPX_USER_AGENT = f"python-httpx/{httpx.__version__}"

_Refresh = NeedCredentials | NeedTenant
# The request extension that carries a call's deadline to the transport (deadline.EXTENSION;
# spelt here so that importing the package does not load httpcore).
_DEADLINE = "superoffice_batch.deadline"


def _raw_response(response: httpx.Response, body: CappedBody) -> RawResponse:
    headers = response.headers
    return RawResponse(
        response.status_code,
        headers.get("content-type"),
        body.content(),
        headers.get("retry-after"),
    )


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
    if request.deadline is not None and time.monotonic() >= request.deadline:
        # The deadline cut a socket step (ours), or the wait for the next chunk (injected).
        return _past_deadline(request, sent=not isinstance(error, httpx.ConnectTimeout))
    # What httpx and h11 say may quote the server's bytes (a malformed header line).
    detail = ServerText(str(error) or "no detail", secrets)
    message = f"{type(error).__name__} on {request.method} {url}"
    if isinstance(error, httpx.TransportError):
        # Connect failures and pool timeouts happen before a byte of the request is written.
        sent = not isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        return TransportError(message, request_sent=sent, quoting=detail)
    if isinstance(error, httpx.HTTPError):
        # The reply arrived but could not be read: a bad Content-Encoding...
        return ProtocolError(type(error).__name__, quoting=detail, url=url, method=request.method)
    # Not httpx's own: when it struck is unknown, so the request may have gone out.
    return TransportError(message, request_sent=True, quoting=detail)


def _past_deadline(request: HttpRequest, *, sent: bool = True) -> TransportError:
    return TransportError(
        f"CallDeadline on {request.method} {request.url}: the call was still running at its "
        "deadline (call_deadline, or a wait's timeout)",
        request_sent=sent,
    )


def _refuse_coroutine(outcome: object, what: str) -> None:
    if inspect.iscoroutine(outcome):
        outcome.close()  # never to run: no "never awaited" warning later
        raise TypeError(f"{what}: BatchClient does not await it (AsyncBatchClient does)")


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
    * ``call_deadline``: seconds one call may take in all (default 120): connect, request,
      response headers, body, re-sends and back-off; past it the call raises
      ``TransportError``.
    * ``http_client``: an httpx client to send with (proxies, TLS, limits); the library
      does not close it, and bounds only the reply's body by ``call_deadline``, as it does
      where the environment names a proxy (otherwise the library's own transport bounds
      every socket step). Redirects are never followed.
    * ``max_response_bytes``: replies above this size raise unread.
    * ``connect_retries``: re-sends when no connection could be made (nothing was sent,
      so this is safe even for StartBatchJob).
    * ``read_retries``: re-sends of read-only calls (``Get…``) after a transport failure
      or HTTP 429/502/503/504, with backoff (after a 429, its ``Retry-After`` seconds).
    * A Batch call needs ``ticket`` or ``auth``: without either it raises ``ValueError``
      before anything is sent.
    * ``time_zone``: a :class:`TimeZone` sent with every Batch call, saying how NetServer
      should read naive dates.
"""


def _proxy_in_environment() -> bool:
    """Whether the environment names a proxy, as httpx reads it (``trust_env``)."""
    proxies = urllib.request.getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


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
        self._policy = CallPolicy(
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
            # httpx honours HTTP(S)_PROXY/ALL_PROXY only with its own transports.
            own = {} if _proxy_in_environment() else {"transport": self._deadline_transport()}
            http_client = self._http_class(headers={"User-Agent": USER_AGENT}, **own)
        self._http: H = http_client

    def _deadline_transport(self) -> Any:
        """The transport that holds each call's deadline at the socket (per client kind)."""
        raise NotImplementedError

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

    def _deadline_transport(self) -> httpx.BaseTransport:
        from .deadline import DeadlineTransport  # with httpcore, loaded by the first client

        return DeadlineTransport()

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

    def _drive(self, plan: Plan[T]) -> T:
        resume: Callable[[Any], Any] = plan.send
        outcome: Any = None
        sent: HttpRequest | None = None
        while True:
            try:
                step = resume(outcome)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            except SuperOfficeError as error:
                if sent is not None:  # the request this plan sent last is the one that failed
                    label(error, sent.method, sent.url)
                raise
            if isinstance(step, HttpRequest):
                sent = step
            try:
                outcome = self._perform(step)
                resume = plan.send
            except Exception as error:  # thrown in, so a waiting plan can name its job
                outcome = error
                resume = plan.throw

    def _perform(self, step: Step | Awaiting) -> object:
        if isinstance(step, HttpRequest):
            return self._send(step)
        if isinstance(step, (NeedCredentials, NeedTenant)):
            return self._refresh(step)
        if isinstance(step, Progress):
            _refuse_coroutine(step.callback(step.info), "on_progress returned a coroutine")
        elif isinstance(step, Awaiting):
            _refuse_coroutine(step.awaitable, "the ticket source returned an awaitable")
            raise TypeError("the ticket source returned an awaitable, not a ticket")
        else:
            time.sleep(step)
        return None

    def _refresh(self, need: _Refresh) -> object:
        keeper = self._policy.keeper
        if not need.due(keeper):  # the common case needs no lock
            return need.current(keeper)
        with self._auth_lock:
            if need.due(keeper):
                flow = need.flow(keeper, self._policy.session(need.stop_by))
                need.keep(keeper, self._drive(flow))
            return need.current(keeper)

    def _send(self, request: HttpRequest) -> RawResponse:
        policy = self._policy
        deadline = request.deadline or policy.deadline()
        try:
            with self._http.stream(
                request.method,
                request.url,
                content=request.content or None,
                headers=self._headers(request),
                timeout=policy.timeout,
                follow_redirects=False,
                extensions={_DEADLINE: deadline},
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
                        # For an injected client, whose sockets know no deadline.
                        if time.monotonic() > deadline:
                            raise _past_deadline(request)
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

    def _deadline_transport(self) -> httpx.AsyncBaseTransport:
        from .deadline import AsyncDeadlineTransport

        return AsyncDeadlineTransport()

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

    async def _drive(self, plan: Plan[T]) -> T:
        resume: Callable[[Any], Any] = plan.send
        outcome: Any = None
        sent: HttpRequest | None = None
        while True:
            try:
                step = resume(outcome)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
            except SuperOfficeError as error:
                if sent is not None:  # the request this plan sent last is the one that failed
                    label(error, sent.method, sent.url)
                raise
            if isinstance(step, HttpRequest):
                sent = step
            try:
                outcome = await self._perform(step)
                resume = plan.send
            except Exception as error:  # thrown in, so a waiting plan can name its job
                outcome = error
                resume = plan.throw

    async def _perform(self, step: Step | Awaiting) -> object:
        if isinstance(step, HttpRequest):
            return await self._send(step)
        if isinstance(step, (NeedCredentials, NeedTenant)):
            return await self._refresh(step)
        if isinstance(step, Progress):
            reported = step.callback(step.info)
            if inspect.isawaitable(reported):
                await reported
            return None
        if isinstance(step, Awaiting):
            return await step.awaitable
        import asyncio  # already loaded: see _new_lock

        await asyncio.sleep(step)
        return None

    async def _refresh(self, need: _Refresh) -> object:
        keeper = self._policy.keeper
        if not need.due(keeper):  # the common case needs no lock
            return need.current(keeper)
        async with self._auth_lock:
            if need.due(keeper):
                flow = need.flow(keeper, self._policy.session(need.stop_by))
                need.keep(keeper, await self._drive(flow))
            return need.current(keeper)

    async def _send(self, request: HttpRequest) -> RawResponse:
        policy = self._policy
        deadline = request.deadline or policy.deadline()
        try:
            async with self._http.stream(
                request.method,
                request.url,
                content=request.content or None,
                headers=self._headers(request),
                timeout=policy.timeout,
                follow_redirects=False,
                extensions={_DEADLINE: deadline},
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
                        # For an injected client, whose sockets know no deadline.
                        if time.monotonic() > deadline:
                            raise _past_deadline(request)
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
