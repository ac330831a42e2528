"""The sensor: waits for a SuperOffice batch job started elsewhere."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator, conf
from airflow.sdk.exceptions import AirflowException

from .events import failed, finished, outcome, succeeded
from .hooks import DEFAULT_CONN_ID, SuperOfficeBatchHook
from .triggers import SuperOfficeBatchJobTrigger

__all__ = ["SuperOfficeBatchJobSensor"]


class SuperOfficeBatchJobSensor(BaseSensorOperator):
    """Wait until job ``job_id`` ends; a job that fails fails the sensor, naming it.

    :param job_id: the job (templated: e.g. from another task's XCom).
    :param superoffice_conn_id: a ``superoffice_batch`` connection.
    :param deferrable: wait in the triggerer instead of poking from the worker.
    :param poll_interval: seconds between polls (the sensor's ``poke_interval``).
    :param timeout: seconds before the sensor gives up (BaseSensorOperator's).
    """

    template_fields: Sequence[str] = ("job_id",)

    def __init__(
        self,
        *,
        job_id: int | str,
        superoffice_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poll_interval, **kwargs)
        self.job_id = job_id
        self.superoffice_conn_id = superoffice_conn_id
        self.deferrable = deferrable
        self.poll_interval = poll_interval

    def execute(self, context: Any) -> Any:
        """Poke from the worker, or defer to the trigger."""
        if not self.deferrable:
            return super().execute(context)
        self.defer(
            trigger=SuperOfficeBatchJobTrigger(
                superoffice_conn_id=self.superoffice_conn_id,
                job_id=int(self.job_id),
                poll_interval=self.poll_interval,
                end_time=time.time() + self.timeout,
            ),
            method_name="execute_complete",
        )
        return None

    def poke(self, context: Any) -> bool:
        """Whether the job has ended well; a failed job raises."""
        job_id = int(self.job_id)
        with SuperOfficeBatchHook(self.superoffice_conn_id).get_conn() as client:
            info = client.get_batch_task_info(job_id)
        if info is None:
            raise AirflowException(f"SuperOffice batch job {job_id} does not exist")
        if failed(info) or succeeded(info):
            finished(info)  # raises for a failed job, naming it
            return True
        self.log.info("SuperOffice batch job %d is %s", job_id, info.state)
        return False

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        """The trigger's event: the job's result, or the sensor's failure."""
        return outcome(event)
