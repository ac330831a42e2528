"""Drive BatchClient and AsyncBatchClient through one interface, so one suite tests both.

``flavor.run(x)`` turns what a client method returned into its value: the value itself
for the sync client, the awaited coroutine (on the test's own event loop) for the async
one. ``flavor.run(client.get_batch_task_info(5))`` therefore works for both.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

import superoffice_batch.client as client_module
from superoffice_batch import AsyncBatchClient, BatchClient, BatchTaskInfo

DEFAULT_TASK = BatchTaskInfo(name="ExportTask")


class SyncFlavor:
    """Drives :class:`BatchClient`."""

    name = "sync"
    client_class: type[Any] = BatchClient
    http_client_class: type[Any] = httpx.Client
    foreign_http_client_class: type[Any] = httpx.AsyncClient

    def run(self, outcome: Any) -> Any:
        return outcome

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

        monkeypatch.setattr(client_module.asyncio, "sleep", sleep)

    def finish(self) -> None:
        self.loop.close()


FLAVORS = [SyncFlavor, AsyncFlavor]
