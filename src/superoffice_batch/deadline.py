"""One deadline per call, held at the socket: the clients' own httpx transports.

The clients send through an httpcore connection pool whose network backend wraps the
default one: every connect, TLS handshake, write and read is given the smaller of its own
timeout and the time left before the call's deadline, and past the deadline it fails at
once. So a server that drips its headers, or its body, a byte at a time cannot hold a call
longer than ``call_deadline``. The client names the deadline in the request's extensions
(:data:`EXTENSION`); the transport hands it to the backend in :data:`CALL_DEADLINE`, a
context variable set around each step of the exchange (thread- and task-local).

Loaded when the first client is made (``import superoffice_batch`` does not need it).
Only the public interfaces of httpx (``BaseTransport``) and httpcore (``ConnectionPool``,
``NetworkBackend``) are used. An injected ``http_client`` keeps its own transport: the
library then bounds only the reply's body (see docs/errors.md, "The deadline").
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

import httpcore
import httpx

__all__ = [
    "CALL_DEADLINE",
    "EXTENSION",
    "AsyncDeadlineTransport",
    "DeadlineTransport",
    "time_left",
]

EXTENSION = "superoffice_batch.deadline"
"""The request extension holding the ``time.monotonic()`` instant the call must end by
(other transports ignore it)."""

CALL_DEADLINE: ContextVar[float | None] = ContextVar(
    "superoffice_batch_call_deadline", default=None
)
"""The ``time.monotonic()`` instant the current call must end by; None outside a call."""

# httpcore's exceptions as httpx names them, the most specific first.
_AS_HTTPX: tuple[tuple[type[Exception], type[Exception]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


def _as_httpx(error: Exception) -> Exception:
    for core, mapped in _AS_HTTPX:
        if isinstance(error, core):
            return mapped(str(error))
    return error


def time_left(timeout: float | None, expired: type[Exception]) -> float | None:
    """``timeout`` cut to the time left before the call's deadline; ``expired`` past it."""
    deadline = CALL_DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the call's deadline passed")
    return left if timeout is None or timeout > left else timeout


class _Stream(httpcore.NetworkStream):
    __slots__ = ("_inner",)

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = time_left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = time_left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, bounded, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        bounded = time_left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncStream(httpcore.AsyncNetworkStream):
    __slots__ = ("_inner",)

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, time_left(timeout, httpcore.ReadTimeout))

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, time_left(timeout, httpcore.WriteTimeout))

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        bounded = time_left(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        # httpcore's backend for asyncio and trio alike (anyio is loaded here, on first use).
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        bounded = time_left(timeout, httpcore.ConnectTimeout)
        inner = await self._inner.connect_tcp(host, port, bounded, local_address, socket_options)
        return _AsyncStream(inner)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        bounded = time_left(timeout, httpcore.ConnectTimeout)
        return _AsyncStream(await self._inner.connect_unix_socket(path, bounded, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


_TLS: list[ssl.SSLContext] = []


def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS context, made once: loading the CA bundle takes about 15 ms, and
    one context serves every connection (the clients' own transports all verify alike)."""
    if not _TLS:
        _TLS.append(httpx.create_ssl_context())
    return _TLS[0]


def _pool_options() -> dict[str, Any]:
    """httpx's defaults for a client's pool (``httpx.Limits()``), and the shared TLS context."""
    limits = httpx.Limits()
    return {
        "ssl_context": _tls_context(),
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
    }


def _core_request(request: httpx.Request, content: Any) -> httpcore.Request:
    url = request.url
    return httpcore.Request(
        method=request.method,
        url=httpcore.URL(
            scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
        ),
        headers=request.headers.raw,
        content=content,
        extensions=request.extensions,
    )


class _Body(httpx.SyncByteStream):
    def __init__(self, chunks: Iterable[bytes], deadline: float | None) -> None:
        self._chunks = chunks
        self._deadline = deadline

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._chunks)
        while True:
            bound = CALL_DEADLINE.set(self._deadline)
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            except Exception as error:
                raise _as_httpx(error) from error
            finally:
                CALL_DEADLINE.reset(bound)
            yield chunk

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


class DeadlineTransport(httpx.BaseTransport):
    """An httpx transport whose every socket step ends by the call's deadline."""

    def __init__(self) -> None:
        self._pool = httpcore.ConnectionPool(**_pool_options(), network_backend=_Backend())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = request.extensions.get(EXTENSION)
        bound = CALL_DEADLINE.set(deadline)
        try:
            response = self._pool.handle_request(_core_request(request, request.stream))
        except Exception as error:
            raise _as_httpx(error) from error
        finally:
            CALL_DEADLINE.reset(bound)
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=_Body(response.stream, deadline),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


class _AsyncBody(httpx.AsyncByteStream):
    def __init__(self, chunks: Any, deadline: float | None) -> None:
        self._chunks = chunks
        self._deadline = deadline

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._chunks.__aiter__()
        while True:
            bound = CALL_DEADLINE.set(self._deadline)
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                return
            except Exception as error:
                raise _as_httpx(error) from error
            finally:
                CALL_DEADLINE.reset(bound)
            yield chunk

    async def aclose(self) -> None:
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()


class AsyncDeadlineTransport(httpx.AsyncBaseTransport):
    """The asyncio (and trio) twin of :class:`DeadlineTransport`."""

    def __init__(self) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            **_pool_options(), network_backend=_AsyncBackend()
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        deadline = request.extensions.get(EXTENSION)
        bound = CALL_DEADLINE.set(deadline)
        try:
            response = await self._pool.handle_async_request(_core_request(request, request.stream))
        except Exception as error:
            raise _as_httpx(error) from error
        finally:
            CALL_DEADLINE.reset(bound)
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=_AsyncBody(response.stream, deadline),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
