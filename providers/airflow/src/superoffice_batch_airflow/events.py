"""The outcome of a batch job as Airflow carries it: the trigger's event and the XCom value.

The trigger makes the event; the operator and the sensor read it the same way. Server
text (a job's result) passes Airflow's redaction before it is stored or raised.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowException
from superoffice_batch import BatchTaskInfo, BatchTaskState

from .masking import redacted

__all__ = ["STATUSES", "event_for", "failure", "finished", "job_result", "outcome", "succeeded", "timed_out"]

STATUSES = ("success", "failed", "timeout", "error")
_SUCCEEDED = (BatchTaskState.SUCCEEDED, BatchTaskState.SUCCEEDED_MANUAL_CLEANUP)


def _state(info: BatchTaskInfo) -> str:
    return str(getattr(info.state, "value", info.state))


def job_result(info: BatchTaskInfo) -> dict[str, Any]:
    """The XCom value for a job: JSON-able, the state by its name."""
    return {
        "id": info.id,
        "name": info.name,
        "state": _state(info),
        "result": redacted(info.result),
        "progress_percent": info.progress_percent,
    }


def event_for(
    status: str, job_id: int, info: BatchTaskInfo | None, message: str
) -> dict[str, Any]:
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


def failure(job_id: int, info: BatchTaskInfo) -> AirflowException:
    """The error for a job that ended ``Failed`` (a stopped job ends so too)."""
    return AirflowException(
        f"SuperOffice batch job {job_id} ended {_state(info)}: "
        f"{redacted(info.result) or 'no result given'}"
    )


def timed_out(job_id: int, info: BatchTaskInfo | None, seconds: float) -> str:
    """The message for a job not finished in time."""
    state = "unknown" if info is None else _state(info)
    result = None if info is None else redacted(info.result)
    return (
        f"SuperOffice batch job {job_id} did not finish within {seconds:g} s "
        f"(state {state}, result {result or 'none yet'}); it goes on running"
    )


def succeeded(info: BatchTaskInfo) -> bool:
    """Whether the job ended well."""
    return info.state in _SUCCEEDED


def finished(job_id: int, info: BatchTaskInfo) -> dict[str, Any]:
    """The XCom value of a finished job, or :func:`failure` raised."""
    if not succeeded(info):
        raise failure(job_id, info)
    return job_result(info)


def outcome(event: dict[str, Any]) -> dict[str, Any]:
    """The XCom value of a ``success`` event; any other status raises, naming the job."""
    status = event.get("status")
    if status == "success":
        return {
            "id": event["job_id"],
            "name": event.get("name"),
            "state": event.get("state"),
            "result": event.get("result"),
            "progress_percent": event.get("progress_percent"),
        }
    if status == "failed":
        raise AirflowException(
            f"SuperOffice batch job {event.get('job_id')} ended {event.get('state')}: "
            f"{event.get('result') or 'no result given'}"
        )
    raise AirflowException(str(event.get("message") or f"unexpected event {status!r}"))
