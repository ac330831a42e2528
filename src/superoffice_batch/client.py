"""The HTTP clients: a thin I/O shell around the sans-I/O operations.

:class:`_CallPolicy` decides, without doing any I/O, what to send and what a reply or a
transport failure means (SOAP version negotiation, the few safe re-sends). It is a
generator that yields requests to send and delays to wait; :class:`BatchClient` drives it
with ``httpx.Client``. An async client drives the same generator with ``httpx.AsyncClient``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Generator, Iterator
from types import TracebackType
from typing import NamedTuple, TypeVar

import httpx

from .envelope import DEFAULT_MAX_RESPONSE_BYTES, SoapVersion, oversized
from .errors import (
    HttpError,
    ProtocolError,
    SoapFault,
    SuperOfficeError,
    TransportError,
    redact,
)
from .models import BatchTaskInfo, Credentials
from .operations import Operation, Request, StartBatchJob

__all__ = ["DEFAULT_TIMEOUT", "BatchClient"]

T = TypeVar("T")

logger = logging.getLogger("superoffice_batch")

DEFAULT_TIMEOUT = 30.0
"""Seconds allowed for each of connect, write, read and pool acquisition."""

_VERSION_MISMATCH = {f"{{{version.namespace}}}VersionMismatch" for version in SoapVersion}


class RawResponse(NamedTuple):
    """The parts of an HTTP reply the operations read."""

    status_code: int
    content_type: str | None
    content: bytes


# What the policy asks of its driver: send a request, or wait some seconds.
_Step = Request | float


def _is_version_refusal(error: Exception) -> bool:
    """415 or a VersionMismatch fault: the endpoint refused the envelope before dispatch."""
    if isinstance(error, HttpError):
        return error.status_code == 415
    return isinstance(error, SoapFault) and error.code in _VERSION_MISMATCH


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
    if not url.path.endswith("/"):
        url = url.copy_with(path=url.path + "/")
    return url


def _check_timeout(timeout: object) -> httpx.Timeout:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float, httpx.Timeout)):
        kind = type(timeout).__name__
        raise TypeError(f"timeout must be seconds or an httpx.Timeout, not {kind}")
    result = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(float(timeout))
    parts = (result.connect, result.read, result.write, result.pool)
    if any(part is None or not math.isfinite(part) or part <= 0 for part in parts):
        raise ValueError("timeout must be finite and positive for connect, read, write and pool")
    return result


def _check_count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


class _CallPolicy:
    """Connection settings and the rules for sending a call; no I/O of its own."""

    def __init__(
        self,
        base_url: object,
        *,
        ticket: str | None,
        application_token: str | None,
        soap_version: SoapVersion | None,
        timeout: object,
        max_response_bytes: object,
        connect_retries: object,
    ) -> None:
        if soap_version is not None and not isinstance(soap_version, SoapVersion):
            raise TypeError(f"soap_version must be a SoapVersion or None, not {soap_version!r}")
        self.base_url = _check_base_url(base_url)
        self.credentials = Credentials(ticket=ticket, application_token=application_token)
        self.pinned_version = soap_version
        self.negotiated_version: SoapVersion | None = None
        self.timeout = _check_timeout(timeout)
        self.max_response_bytes = _check_count("max_response_bytes", max_response_bytes, 1)
        self.connect_retries = _check_count("connect_retries", connect_retries, 0)
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

    def secrets(self) -> tuple[str, ...]:
        """Everything to mask in reply text kept by errors and in log lines."""
        return self.credentials.secrets

    def plan(self, operation: Operation[T]) -> Generator[_Step, RawResponse | None, T]:
        """Send ``operation`` and return its result; the driver does the I/O.

        Logs one INFO line per call: operation, endpoint, outcome, duration.
        """
        started = time.perf_counter()
        name = type(operation).__name__
        url = self.url(operation.SERVICE.path)
        try:
            result, status = yield from self._exchange(operation)
        except SuperOfficeError as error:
            _log_call(name, url, f"failed: {type(error).__name__}: {error}", started)
            raise
        _log_call(name, url, f"HTTP {status}", started)
        return result

    def _exchange(
        self, operation: Operation[T]
    ) -> Generator[_Step, RawResponse | None, tuple[T, int]]:
        # Re-sends only what certainly did not run: after a connect failure (nothing was
        # written) and, once, as SOAP 1.1 when negotiating and the endpoint refused the
        # SOAP 1.2 envelope (HTTP 415 or a VersionMismatch fault).
        negotiating = self.soap_version is None
        version = self.soap_version or SoapVersion.SOAP12
        request = operation.to_request(self.credentials, version)
        connect_failures = 0
        while True:
            try:
                response = yield request
            except TransportError as error:
                if error.request_sent or connect_failures >= self.connect_retries:
                    raise
                connect_failures += 1
                delay = 0.1 * 2 ** (connect_failures - 1)
                logger.info("%s: connect failed, retrying in %.1f s", request.operation, delay)
                yield delay
                continue
            assert response is not None
            try:
                result = operation.parse_response(
                    response.content,
                    status_code=response.status_code,
                    content_type=response.content_type,
                    secrets=self.secrets(),
                    max_response_bytes=self.max_response_bytes,
                )
            except (HttpError, SoapFault) as error:
                if not (negotiating and _is_version_refusal(error)):
                    raise
                negotiating = False
                version = self.negotiated_version = SoapVersion.SOAP11
                logger.info(
                    "%s: endpoint refused SOAP 1.2 (%s); using SOAP 1.1 from now on",
                    request.operation,
                    error,
                )
                request = operation.to_request(self.credentials, version)
                continue
            if negotiating:
                self.negotiated_version = version
            return result, response.status_code


def _log_call(name: str, url: str, outcome: str, started: float) -> None:
    if logger.isEnabledFor(logging.INFO):
        elapsed = (time.perf_counter() - started) * 1000
        logger.info("%s POST %s: %s (%.1f ms)", name, url, outcome, elapsed)


def _read_body(chunks: Iterator[bytes], response: httpx.Response, limit: int) -> bytes:
    """The (decoded) body, refusing to hold more than ``limit`` bytes of it."""
    declared = response.headers.get("content-length", "")
    content_type = response.headers.get("content-type")
    if declared.isdigit() and int(declared) > limit:
        raise oversized(int(declared), limit, response.status_code, content_type)
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise oversized(None, limit, response.status_code, content_type)
    return bytes(body)


def _wrap_httpx_error(error: httpx.HTTPError, url: str, secrets: tuple[str, ...]) -> Exception:
    detail = redact(str(error), secrets) or "no detail"
    message = f"{type(error).__name__} on POST {url}: {detail}"
    if isinstance(error, httpx.TransportError):
        # Connect failures and pool timeouts happen before a byte of the request is written.
        sent = not isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        return TransportError(message, request_sent=sent)
    # The reply arrived but could not be read: a bad Content-Encoding, redirects (only an
    # injected client follows them)...
    return ProtocolError(message)


class BatchClient:
    """A synchronous client for NetServer's ``Batch.svc``.

    ``base_url`` is the installation root: an on-site site URL or an Online tenant URL
    such as ``https://sod.superoffice.com/Cust12345``. The client appends
    ``Remote/Services88/Batch.svc``.

    Options:

    * ``soap_version``: ``None`` (default) negotiates: SOAP 1.2 first, SOAP 1.1 from the
      first refusal on. Pin :attr:`SoapVersion.SOAP11` for a stock WCF endpoint.
    * ``timeout``: seconds (or an ``httpx.Timeout``) for every request, injected client
      or not; it must be finite.
    * ``http_client``: an ``httpx.Client`` to send with (proxies, TLS, limits); the
      library does not close it.
    * ``max_response_bytes``: replies above this size raise ``ProtocolError`` unread.
    * ``connect_retries``: how often a request is re-sent when the connection could not
      be established (nothing was sent, so this is safe even for StartBatchJob).

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        ticket: str | None = None,
        application_token: str | None = None,
        soap_version: SoapVersion | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        http_client: httpx.Client | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        connect_retries: int = 2,
    ) -> None:
        if http_client is not None and not isinstance(http_client, httpx.Client):
            kind = type(http_client).__name__
            raise TypeError(f"http_client must be an httpx.Client, not {kind}")
        self._policy = _CallPolicy(
            base_url,
            ticket=ticket,
            application_token=application_token,
            soap_version=soap_version,
            timeout=timeout,
            max_response_bytes=max_response_bytes,
            connect_retries=connect_retries,
        )
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client()

    def __repr__(self) -> str:
        version = self.soap_version.value if self.soap_version else "negotiate"
        return f"<BatchClient {str(self._policy.base_url)!r} soap={version}>"

    @property
    def soap_version(self) -> SoapVersion | None:
        """The SOAP version in use: pinned, or settled by negotiation; None before that."""
        return self._policy.soap_version

    def start_batch_job(self, batch_task_info: BatchTaskInfo) -> int:
        """Start a batch job; returns the id NetServer gave the new task.

        Raises ``TypeError``/``ValueError`` for a bad task (before sending) and a
        :class:`~superoffice_batch.SuperOfficeError` for any failure after.
        """
        return self.call(StartBatchJob(batch_task_info))

    def call(self, operation: Operation[T]) -> T:
        """Send any operation of this client's service and return its result."""
        plan = self._policy.plan(operation)
        step: _Step = next(plan)
        while True:
            try:
                if isinstance(step, Request):
                    try:
                        response = self._send(step)
                    except TransportError as error:
                        step = plan.throw(error)
                    else:
                        step = plan.send(response)
                else:
                    time.sleep(step)
                    step = plan.send(None)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

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
            raise _wrap_httpx_error(error, url, policy.secrets()) from error

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
