"""The hook: superoffice-batch clients for an Airflow connection, one login per process.

Every client the hook makes for a connection shares one login per process (a
``SystemUser``, an on-site :class:`~superoffice_batch_airflow.logins.SharedLogin`, or the
connection's fixed ticket), keyed by the connection id and a digest of its fields: a
hundred jobs on one tenant make one exchange, and an edited connection takes effect at
once.
In the triggerer, the triggers of one event loop also share one ``AsyncBatchClient`` per
connection, so that they share its login lock as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from airflow.sdk import BaseHook

from superoffice_batch import AsyncBatchClient, BatchClient, BatchTaskState, SuperOfficeError

from .connection import (
    CONN_TYPE,
    AirflowConnection,
    ConnectionSettings,
    connection_fingerprint,
    read_connection,
)
from .masking import mask, redacted

__all__ = ["DEFAULT_CONN_ID", "SuperOfficeBatchHook"]

DEFAULT_CONN_ID = "superoffice_batch_default"

_Key = tuple[str, str]
_settings: dict[_Key, ConnectionSettings] = {}
_settings_lock = threading.Lock()


class _Shared:
    """An async client and how many triggers use it."""

    __slots__ = ("client", "users")

    def __init__(self, client: AsyncBatchClient) -> None:
        self.client = client
        self.users = 0


# Per event loop: a client belongs to the loop it was made in (dag.test() makes several).
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_Key, _Shared]] = (
    weakref.WeakKeyDictionary()
)


def _settings_for(conn: AirflowConnection) -> ConnectionSettings:
    """The connection's settings, made once per process for each version of its fields."""
    key = (conn.conn_id, connection_fingerprint(conn))
    with _settings_lock:
        settings = _settings.get(key)
        if settings is None:
            settings = read_connection(conn)
            mask(settings.secrets)
            # An edited connection replaces its older versions.
            for old in [known for known in _settings if known[0] == conn.conn_id]:
                del _settings[old]
            _settings[key] = settings
    return settings


_C = TypeVar("_C", BatchClient, AsyncBatchClient)


def _client(kind: type[_C], settings: ConnectionSettings) -> _C:
    return kind(settings.base_url, auth=settings.client_auth(), **settings.options)


class SuperOfficeBatchHook(BaseHook):
    """Clients for SuperOffice NetServer (on-site) or SuperOffice CRM Online.

    :param superoffice_conn_id: an Airflow connection of type ``superoffice_batch``.

    :meth:`get_conn` gives a :class:`~superoffice_batch.BatchClient`, :meth:`aget_conn`
    an :class:`~superoffice_batch.AsyncBatchClient` (reading the connection without
    blocking the event loop); close what you get. :meth:`async_client` shares one async
    client per connection and event loop, as the trigger does.
    """

    conn_name_attr = "superoffice_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "SuperOffice Batch"

    def __init__(self, superoffice_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.superoffice_conn_id = superoffice_conn_id

    # -- settings ------------------------------------------------------------------------

    def settings(self) -> ConnectionSettings:
        """The connection's settings (read with the sync API: not in an event loop)."""
        return _settings_for(self.get_connection(self.superoffice_conn_id))

    async def asettings(self) -> ConnectionSettings:
        """The connection's settings, read without blocking the event loop."""
        if hasattr(BaseHook, "aget_connection"):
            conn = await self.aget_connection(self.superoffice_conn_id)
        else:  # Airflow 3.0: the sync read, off the event loop's thread
            conn = await asyncio.to_thread(self.get_connection, self.superoffice_conn_id)
        return _settings_for(conn)

    # -- clients -------------------------------------------------------------------------

    def get_conn(self) -> BatchClient:
        """A new ``BatchClient`` sharing the connection's login; close it after use."""
        return _client(BatchClient, self.settings())

    async def aget_conn(self) -> AsyncBatchClient:
        """A new ``AsyncBatchClient`` sharing the connection's login; ``aclose()`` it after use."""
        return _client(AsyncBatchClient, await self.asettings())

    @contextlib.asynccontextmanager
    async def async_client(self) -> AsyncIterator[AsyncBatchClient]:
        """The async client this event loop shares for the connection; closed when its last
        user leaves."""
        settings = await self.asettings()
        key = (self.superoffice_conn_id, settings.fingerprint)
        shared_here = _async_clients.setdefault(asyncio.get_running_loop(), {})
        shared = shared_here.get(key)
        if shared is None:
            shared = shared_here[key] = _Shared(_client(AsyncBatchClient, settings))
        shared.users += 1
        try:
            yield shared.client
        finally:
            shared.users -= 1
            if shared.users == 0:
                if shared_here.get(key) is shared:
                    del shared_here[key]
                await shared.client.aclose()

    # -- the connection form -------------------------------------------------------------

    def test_connection(self) -> tuple[bool, str]:
        """Log in and list the running jobs: ``(True, where)`` or ``(False, why)``.

        The message never shows a secret: the library masks them in its errors, and the
        text passes Airflow's redaction as well.
        """
        try:
            with self.get_conn() as client:
                running = client.get_batch_task_infos_by_state(BatchTaskState.STARTED)
                where = client.base_url
        except (SuperOfficeError, ValueError, TypeError, ImportError) as error:
            return False, str(redacted(f"{type(error).__name__}: {error}"))
        return True, f"Connected to {where}: {len(running)} job(s) running"
