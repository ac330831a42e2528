"""Drive BatchClient and AsyncBatchClient through one interface, so one suite tests both.

``flavor.run(x)`` turns what a client method returned into its value: the value itself
for the sync client, the awaited coroutine (on the test's own event loop) for the async
one. ``flavor.run(client.get_batch_task_info(5))`` therefore works for both.

Where the two httpx clients want different things from a test, the flavor supplies them:
``streamed(chunks)`` for a respx reply body sent chunk by chunk, ``event_hook(fn)`` for
an httpx event hook, ``run_within(seconds, call)`` for a call that must not hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest

import superoffice_batch.client as client_module
from superoffice_batch import AsyncBatchClient, BatchClient, BatchTaskInfo

DEFAULT_TASK = BatchTaskInfo(name="ExportTask")

_TLS_CONTEXTS: dict[tuple[object, ...], Any] = {}


def share_default_tls_contexts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the httpx clients a test creates share one TLS context per configuration.

    Building one loads the CA bundle (about 15 ms), which would dominate a suite that
    creates hundreds of clients. Only for tests that make no TLS connection (respx,
    plain-HTTP loopback): a shared context is never configured by a handshake. Does
    nothing if httpx moves its (private) factory.
    """
    transports = importlib.import_module("httpx._transports.default")
    create = getattr(transports, "create_ssl_context", None)
    if create is None:
        return

    def shared(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        if not (verify is True and cert is None):
            return create(verify=verify, cert=cert, trust_env=trust_env)
        key = (verify, cert, trust_env)
        if key not in _TLS_CONTEXTS:
            _TLS_CONTEXTS[key] = create(verify=verify, cert=cert, trust_env=trust_env)
        return _TLS_CONTEXTS[key]

    monkeypatch.setattr(transports, "create_ssl_context", shared)


class SyncFlavor:
    """Drives :class:`BatchClient`."""

    name = "sync"
    client_class: type[Any] = BatchClient
    http_client_class: type[Any] = httpx.Client
    foreign_http_client_class: type[Any] = httpx.AsyncClient

    def run(self, outcome: Any) -> Any:
        return outcome

    def run_within(self, seconds: float, call: Callable[[], Any]) -> Any:
        """``run(call())``, failing the test if it has not returned after ``seconds``.

        ``call`` invokes one client method (``lambda: client.start_batch_job(task)``). The
        sync call runs in a daemon thread, so a hung socket fails the test instead of
        hanging the run.
        """
        done: dict[str, Any] = {}

        def target() -> None:
            try:
                done["value"] = call()
            except BaseException as error:  # re-raised in the test's thread
                done["error"] = error

        worker = threading.Thread(target=target, daemon=True)
        worker.start()
        worker.join(seconds)
        if worker.is_alive():
            pytest.fail(f"client call still running after {seconds} s")
        if "error" in done:
            raise done["error"]
        return done["value"]

    def streamed(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Reply content that respx streams chunk by chunk, pulled from ``chunks`` lazily."""
        return iter(chunks)

    def event_hook(self, record: Callable[[Any], None]) -> Callable[[Any], Any]:
        """An httpx event hook of this flavor's kind that calls ``record``."""
        return record

    def make(self, base_url: object, **options: Any) -> Any:
        return self.client_class(base_url, **options)

    def start(self, client: Any, task: Any = DEFAULT_TASK) -> Any:
        return self.run(client.start_batch_job(task))

    def close(self, client: Any) -> None:
        client.close()

    def close_http(self, http: Any) -> None:
        http.close()

    @contextlib.contextmanager
    def entered(self, client: Any) -> Iterator[Any]:
        with client as entered:
            yield entered

    def patch_sleep(self, monkeypatch: pytest.MonkeyPatch, record: Callable[[float], None]) -> None:
        monkeypatch.setattr(client_module.time, "sleep", record)

    def finish(self) -> None:
        pass


class AsyncFlavor(SyncFlavor):
    """Drives :class:`AsyncBatchClient` on an event loop of its own."""

    name = "async"
    client_class = AsyncBatchClient
    http_client_class = httpx.AsyncClient
    foreign_http_client_class = httpx.Client

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def run(self, outcome: Any) -> Any:
        assert isinstance(outcome, Awaitable), "an async client method must return a coroutine"
        return self.loop.run_until_complete(outcome)  # type: ignore[arg-type]

    def run_within(self, seconds: float, call: Callable[[], Any]) -> Any:
        """``run(call())``, cancelled and failing the test after ``seconds``."""
        try:
            return self.run(asyncio.wait_for(call(), seconds))
        except asyncio.TimeoutError:
            pytest.fail(f"client call still running after {seconds} s")

    def streamed(self, chunks: Iterable[bytes]) -> AsyncIterator[bytes]:  # type: ignore[override]
        async def stream() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        return stream()

    def event_hook(self, record: Callable[[Any], None]) -> Callable[[Any], Any]:
        async def hook(item: Any) -> None:
            record(item)

        return hook

    def close(self, client: Any) -> None:
        self.run(client.aclose())

    def close_http(self, http: Any) -> None:
        self.run(http.aclose())

    @contextlib.contextmanager
    def entered(self, client: Any) -> Iterator[Any]:
        entered = self.run(client.__aenter__())
        try:
            yield entered
        finally:
            self.run(client.__aexit__(None, None, None))

    def patch_sleep(self, monkeypatch: pytest.MonkeyPatch, record: Callable[[float], None]) -> None:
        async def sleep(seconds: float) -> None:
            record(seconds)

        monkeypatch.setattr(asyncio, "sleep", sleep)

    def finish(self) -> None:
        # Async generators left suspended (a reply stream the client stopped reading) are
        # closed here, not by a garbage collector after the loop is gone.
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


FLAVORS = [SyncFlavor, AsyncFlavor]
