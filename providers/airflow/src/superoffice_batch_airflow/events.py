"""The outcome of a batch job as Airflow carries it: the XCom value, the trigger's event,
and the error that fails a task.

The trigger makes the event; the operator and the sensor read it the same way. Server
text (a job's result) passes Airflow's redaction before it is stored or raised.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowException

from superoffice_batch import BatchTaskInfo, BatchTaskState

from .masking import redacted

__all__ = [
    "STATUSES",
    "event_for",
    "failed",
    "finished",
    "job_result",
    "outcome",
    "succeeded",
    "timed_out",
]

STATUSES = ("success", "failed", "timeout", "error")
"""The ``status`` of a trigger event."""
_SUCCEEDED = (BatchTaskState.SUCCEEDED, BatchTaskState.SUCCEEDED_MANUAL_CLEANUP)


def succeeded(info: BatchTaskInfo) -> bool:
    """Whether the job ended well."""
    return info.state in _SUCCEEDED


def failed(info: BatchTaskInfo) -> bool:
    """Whether the job ended badly (a stopped job too: the service has no "cancelled")."""
    return info.state == BatchTaskState.FAILED


def job_result(info: BatchTaskInfo) -> dict[str, Any]:
    """The XCom value for a job: JSON-able, the state by its name."""
    return {
        "id": info.id,
        "name": info.name,
        "state": str(getattr(info.state, "value", info.state)),
        "result": redacted(info.result),
        "progress_percent": info.progress_percent,
    }


def _failure(job: dict[str, Any]) -> AirflowException:
    return AirflowException(
        f"SuperOffice batch job {job['id']} ended {job['state']}: "
        f"{job['result'] or 'no result given'}"
    )


def finished(info: BatchTaskInfo) -> dict[str, Any]:
    """The XCom value of a job that succeeded; for any other, the error that fails the task,
    naming the job and its result."""
    if not succeeded(info):
        raise _failure(job_result(info))
    return job_result(info)


def timed_out(job_id: int, info: BatchTaskInfo | None, seconds: float) -> str:
    """The message for a job not finished in time."""
    job = job_result(info) if info is not None else {"state": "unknown", "result": None}
    return (
        f"SuperOffice batch job {job_id} did not finish within {seconds:g} s "
        f"(state {job['state']}, result {job['result'] or 'none yet'}); it goes on running"
    )


def event_for(status: str, job_id: int, info: BatchTaskInfo | None, message: str) -> dict[str, Any]:
    """A trigger event's payload: ``status``, ``job_id``, ``state``, ``result``, ``message``
    and, for the operator's XCom, ``name`` and ``progress_percent``."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    job = job_result(info) if info is not None else {}
    return {
        "status": status,
        "job_id": job_id,
        "state": job.get("state"),
        "result": job.get("result"),
        "message": redacted(message),
        "name": job.get("name"),
        "progress_percent": job.get("progress_percent"),
    }


def outcome(event: dict[str, Any]) -> dict[str, Any]:
    """The XCom value of a ``success`` event; any other status raises, naming the job."""
    job = {
        "id": event.get("job_id"),
        "name": event.get("name"),
        "state": event.get("state"),
        "result": event.get("result"),
        "progress_percent": event.get("progress_percent"),
    }
    status = event.get("status")
    if status == "success":
        return job
    if status == "failed":
        raise _failure(job)
    raise AirflowException(str(event.get("message") or f"unexpected trigger event {status!r}"))
