"""The operator: one SuperOffice batch job per task instance, waited for or deferred."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs
from airflow.sdk import BaseOperator, conf
from airflow.sdk.exceptions import AirflowException

from superoffice_batch import BatchClient, BatchTaskInfo, BatchTaskTimeout

from .events import failed, finished, job_result, outcome, succeeded, timed_out
from .hooks import DEFAULT_CONN_ID, SuperOfficeBatchHook
from .triggers import SuperOfficeBatchJobTrigger

__all__ = ["SuperOfficeBatchJobOperator", "task_marker"]

_TASK_INFO_FIELDS = frozenset(field.name for field in attrs.fields(BatchTaskInfo)) - {"name"}


def task_marker(context: Mapping[str, Any]) -> str:
    """The mark of a task instance that the operator puts in its job's ``Description``.

    Every try of one task instance (DAG, run, task, map index) has the same mark, so a
    retry can find the job an earlier try started.
    """
    ti = context["ti"]
    return f"airflow:{ti.dag_id}/{ti.run_id}/{ti.task_id}/{ti.map_index}"


class SuperOfficeBatchJobOperator(BaseOperator):
    """Start one SuperOffice batch job and, with ``wait``, wait for it to end.

    :param task_name: the batch task definition to run (``BatchTaskInfo.name``); templated.
    :param superoffice_conn_id: a ``superoffice_batch`` connection.
    :param task_info: further ``BatchTaskInfo`` fields by their Python names, e.g.
        ``{"parameter_object": {"format": "csv"}}``; templated.
    :param wait: wait for the job to end; without it the task ends once the job started.
    :param deferrable: wait in the triggerer instead of the worker.
    :param poll_interval: seconds between polls.
    :param timeout: seconds to wait before failing the task (the job goes on running).

    Returns (as XCom) ``{"id", "name", "state", "result", "progress_percent"}``. A job
    that ends ``Failed`` (a stopped one too) or is not finished at ``timeout`` fails the
    task, naming the job and its result.

    A retry does not start a second job: the job's ``Description`` carries
    :func:`task_marker`, and a later try of the same task instance that finds such a job
    waits on it (or takes its result, if it succeeded) instead of starting another.
    """

    template_fields: Sequence[str] = ("task_name", "task_info")
    template_fields_renderers: ClassVar[dict[str, str]] = {"task_info": "json"}
    ui_color = "#e3f2fd"

    def __init__(
        self,
        *,
        task_name: str,
        superoffice_conn_id: str = DEFAULT_CONN_ID,
        task_info: dict[str, Any] | None = None,
        wait: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 10.0,
        timeout: float = 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.task_name = task_name
        self.superoffice_conn_id = superoffice_conn_id
        self.task_info = task_info
        self.wait = wait
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.job_id: int | None = None

    def _hook(self) -> SuperOfficeBatchHook:
        return SuperOfficeBatchHook(self.superoffice_conn_id)

    def execute(self, context: Any) -> dict[str, Any]:
        """Start the job (or find an earlier try's), then wait or defer."""
        with self._hook().get_conn() as client:
            earlier = self._earlier_job(client, context)
            if earlier is not None and (succeeded(earlier) or not self.wait):
                return job_result(earlier)
            self.job_id = earlier.id if earlier is not None else self._start(client, context)
            if not self.wait:
                info = client.get_batch_task_info(self.job_id)
                return job_result(info) if info is not None else {"id": self.job_id}
            if self.deferrable:
                self._defer(self.job_id)
            try:
                info = client.wait_for_batch_task(
                    self.job_id, poll_interval=self.poll_interval, timeout=self.timeout
                )
            except BatchTaskTimeout as error:
                raise AirflowException(timed_out(self.job_id, error.info, self.timeout)) from None
        return finished(info)

    def _start(self, client: BatchClient, context: Any) -> int:
        job_id = client.start_batch_job(self._batch_task_info(task_marker(context)))
        self.log.info("Started SuperOffice batch job %d (%s)", job_id, self.task_name)
        return job_id

    def _defer(self, job_id: int) -> None:
        self.defer(
            trigger=SuperOfficeBatchJobTrigger(
                superoffice_conn_id=self.superoffice_conn_id,
                job_id=job_id,
                poll_interval=self.poll_interval,
                end_time=time.time() + self.timeout,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        """The trigger's event as the task's result, or the task's failure."""
        self.job_id = event.get("job_id")
        return outcome(event)

    def on_kill(self) -> None:
        """Stop the job (it then ends ``Failed``)."""
        if self.job_id is None:
            return
        with self._hook().get_conn() as client:
            stopped = client.stop_batch_job(self.job_id)
        self.log.info("Stopping SuperOffice batch job %d: %s", self.job_id, stopped)

    def _batch_task_info(self, marker: str) -> BatchTaskInfo:
        fields = dict(self.task_info or {})
        unknown = sorted(set(fields) - _TASK_INFO_FIELDS)
        if unknown:
            raise ValueError(
                f"task_info has unknown BatchTaskInfo field(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(_TASK_INFO_FIELDS))}"
            )
        description = fields.pop("description", None)
        fields["description"] = f"{description} [{marker}]" if description else marker
        return BatchTaskInfo(name=self.task_name, **fields)

    def _earlier_job(self, client: BatchClient, context: Any) -> BatchTaskInfo | None:
        """The latest job an earlier try of this task instance started, unless it failed
        (None on a first try)."""
        if context["ti"].try_number <= 1:
            return None
        marker = task_marker(context)
        mine = [
            info
            for info in client.get_all_batch_task_infos_by_name(self.task_name)
            if info.description is not None and info.description.endswith(marker)
        ]
        if not mine:
            return None
        latest = max(mine, key=lambda info: info.id)
        if failed(latest):
            self.log.info("An earlier try's job %d failed; starting a new one", latest.id)
            return None
        self.log.info(
            "Found job %d (%s) started by an earlier try; %s it instead of starting another",
            latest.id,
            latest.state,
            "taking its result" if succeeded(latest) else "waiting on",
        )
        return latest
