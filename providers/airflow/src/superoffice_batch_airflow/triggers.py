"""The trigger: waits for a batch job in the triggerer's event loop."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from superoffice_batch import BatchTaskTimeout, SuperOfficeError

from .events import event_for, succeeded, timed_out
from .hooks import SuperOfficeBatchHook

__all__ = ["SuperOfficeBatchJobTrigger"]


class SuperOfficeBatchJobTrigger(BaseTrigger):
    """Poll job ``job_id`` with ``AsyncBatchClient`` until it ends or ``end_time`` passes.

    :param superoffice_conn_id: the connection the job was started with.
    :param job_id: the job.
    :param poll_interval: seconds between polls.
    :param end_time: when to give up, as a Unix time (``time.time()``); None: never.

    Yields one ``TriggerEvent`` whose payload has ``status`` (``success``, ``failed``,
    ``timeout`` or ``error``), ``job_id``, ``state``, ``result`` and ``message``. Expired
    tickets and tenant moves are the client's business: it logs in again and follows the
    tenant, and the trigger goes on polling.
    """

    def __init__(
        self,
        *,
        superoffice_conn_id: str,
        job_id: int,
        poll_interval: float,
        end_time: float | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Airflow's, untyped
        self.superoffice_conn_id = superoffice_conn_id
        self.job_id = int(job_id)
        self.poll_interval = float(poll_interval)
        self.end_time = None if end_time is None else float(end_time)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and plain keyword arguments: the connection id, never its secrets."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "superoffice_conn_id": self.superoffice_conn_id,
                "job_id": self.job_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait for the job; yield its one event once the client is closed."""
        # Yielding inside `async with` would leave the client open across the yield, and
        # dag.test() closes this generator there ("ignored GeneratorExit").
        payload = await self._follow()
        yield TriggerEvent(payload)  # type: ignore[no-untyped-call]  # Airflow's, untyped

    async def _follow(self) -> dict[str, Any]:
        # Past end_time (the triggerer picked the trigger up late): poll once, then report.
        timeout = None if self.end_time is None else max(self.end_time - time.time(), 0.001)
        try:
            async with SuperOfficeBatchHook(self.superoffice_conn_id).async_client() as client:
                info = await client.wait_for_batch_task(
                    self.job_id, poll_interval=self.poll_interval, timeout=timeout
                )
        except BatchTaskTimeout as error:
            message = timed_out(self.job_id, error.info, timeout or 0.0)
            return event_for("timeout", self.job_id, error.info, message)
        except (SuperOfficeError, ValueError, TypeError) as error:
            message = (
                f"waiting for SuperOffice batch job {self.job_id}: {type(error).__name__}: {error}"
            )
            return event_for("error", self.job_id, None, message)
        status = "success" if succeeded(info) else "failed"
        return event_for(status, self.job_id, info, f"SuperOffice batch job {self.job_id} ended")
