"""The simulator's batch tasks: an in-memory, thread-safe store driven by a clock.

A task's progress is not advanced by a background thread: it is worked out from the
time elapsed since ``StartBatchJob`` whenever the task is read, so an injected clock
(a test's fake one) controls it exactly. Over ``job_duration`` seconds a task goes
through NetServer's states::

    New (first 5 %) -> Aquired (to 10 %) -> Started 0..90 % in steps of 10 -> Succeeded

A task whose name is in ``failing_tasks`` ends ``Failed`` instead, with an error text in
``Result``. ``StopBatchJob`` and an ``UpdateBatchTask`` that changes ``State`` take the
task off the clock: its state stays as set from then on. ``Created`` and ``LastStarted``
are naive UTC, in whole seconds, moving with the injected clock.
"""

from __future__ import annotations

import enum
import itertools
import threading
from collections.abc import Callable, Collection, Iterable
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

import attrs

from ..models import BatchTaskCancellationBehaviour, BatchTaskInfo, BatchTaskState

__all__ = ["Clock", "JobStore", "Scope", "TaskNotFound"]

Clock = Callable[[], float]
"""Seconds on a monotonic scale, like :func:`time.monotonic` (the default)."""

# Shares of job_duration: New until 5 %, Aquired until 10 %, then Started.
_NEW_UNTIL = 0.05
_AQUIRED_UNTIL = 0.10
_STEP = 10
"""ProgressPercent moves in steps of this many percent, like a job reporting stages."""

STOPPED_RESULT = "Stopped by user"


class TaskNotFound(LookupError):
    """No task has this id (never created, or deleted)."""

    def __init__(self, task_id: int) -> None:
        super().__init__(task_id)
        self.task_id = task_id


class Scope(enum.Enum):
    """Which tasks a query looks at: those users started, system tasks, or both."""

    USER = "user"
    SYSTEM = "system"
    ALL = "all"


class _Progress(NamedTuple):
    state: BatchTaskState | str
    percent: int
    description: str | None
    result: str | None


class _Task:
    """One task: the fields as stored, and what decides its progress."""

    __slots__ = ("fails", "fixed", "info", "started")

    def __init__(self, info: BatchTaskInfo, started: float, fails: bool) -> None:
        self.info = info
        self.started = started
        self.fails = fails
        self.fixed: _Progress | None = None
        """Set once the task left the clock's control (stopped, or its state updated)."""

    def progress(self, now: float, duration: float) -> _Progress:
        if self.fixed is not None:
            return self.fixed
        fraction = (now - self.started) / duration if duration > 0 else 1.0
        if fraction < _NEW_UNTIL:
            return _Progress(BatchTaskState.NEW, 0, None, None)
        if fraction < _AQUIRED_UNTIL:
            return _Progress(BatchTaskState.AQUIRED, 0, None, None)
        if fraction < 1.0:
            share = (fraction - _AQUIRED_UNTIL) / (1.0 - _AQUIRED_UNTIL)
            percent = min(100 - _STEP, int(share * 100) // _STEP * _STEP)
            description = "Starting" if percent == 0 else f"Processing {percent}%"
            return _Progress(BatchTaskState.STARTED, percent, description, None)
        if self.fails:
            result = f"{self.info.name} failed: simulated failure"
            return _Progress(BatchTaskState.FAILED, 100 - _STEP, "Failed", result)
        return _Progress(BatchTaskState.SUCCEEDED, 100, "Finished", "Completed")

    def snapshot(self, now: float, duration: float) -> BatchTaskInfo:
        state, percent, description, result = self.progress(now, duration)
        return attrs.evolve(
            self.info,
            state=state,
            progress_percent=percent,
            progress_description=description,
            result=result,
        )


class JobStore:
    """The batch tasks of one simulator. Every method is safe to call from any thread."""

    def __init__(
        self, *, clock: Clock, job_duration: float, failing_tasks: Collection[str]
    ) -> None:
        self._clock = clock
        self._duration = job_duration
        self._failing = frozenset(name.casefold() for name in failing_tasks)
        self._tasks: dict[int, _Task] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        # Dates follow the injected clock, anchored to the wall clock once.
        self._wall_origin = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
        self._clock_origin = clock()

    def _now(self) -> tuple[float, datetime]:
        now = self._clock()
        wall = self._wall_origin + timedelta(seconds=round(now - self._clock_origin))
        return now, wall

    def start(self, info: BatchTaskInfo, associate_id: int) -> int:
        """Store a new task from ``info`` and return its id.

        Server-managed fields are overwritten: id, owner (0 for a system task), dates,
        start count, state and progress. ``ValueError`` if ``info.name`` is blank.
        """
        name = (info.name or "").strip()
        if not name:
            raise ValueError("BatchTaskInfo.Name must name a batch task definition")
        now, wall = self._now()
        with self._lock:
            task_id = next(self._ids)
            stored = attrs.evolve(
                info,
                id=task_id,
                associate_id=0 if info.is_system_task else associate_id,
                last_started=wall,
                created=wall,
                start_count=1,
            )
            self._tasks[task_id] = _Task(stored, now, name.casefold() in self._failing)
        return task_id

    def get(self, task_id: int) -> BatchTaskInfo:
        """The task as it is now; ``TaskNotFound`` if there is none with that id."""
        now = self._clock()
        with self._lock:
            return self._find(task_id).snapshot(now, self._duration)

    def stop(self, task_id: int) -> bool:
        """Stop a running task: it ends ``Failed`` with result "Stopped by user".

        False when the task may not be stopped (``CannotCancel``) or has already ended.
        """
        now = self._clock()
        with self._lock:
            task = self._find(task_id)
            progress = task.progress(now, self._duration)
            if task.info.cancellation_behaviour == BatchTaskCancellationBehaviour.CANNOT_CANCEL:
                return False
            if isinstance(progress.state, BatchTaskState) and progress.state.is_terminal:
                return False
            task.fixed = _Progress(
                BatchTaskState.FAILED, progress.percent, "Stopped", STOPPED_RESULT
            )
            return True

    def update(self, info: BatchTaskInfo) -> BatchTaskInfo:
        """Store ``State``, ``Description``, ``Response`` and ``Request`` of task ``info.id``.

        A state other than the current one takes the task off the clock. Returns the task
        as stored. ``ValueError`` for the filter-only state ``All``.
        """
        if info.state == BatchTaskState.ALL:
            raise ValueError("BatchTaskInfo.State All is a query filter, not a task state")
        now = self._clock()
        with self._lock:
            task = self._find(info.id)
            progress = task.progress(now, self._duration)
            if info.state != progress.state:
                task.fixed = progress._replace(state=info.state)
            task.info = attrs.evolve(
                task.info,
                description=info.description,
                response=info.response,
                request=info.request,
            )
            return task.snapshot(now, self._duration)

    def delete(self, task_id: int) -> None:
        """Remove a task; ``TaskNotFound`` if there is none with that id."""
        with self._lock:
            self._find(task_id)
            del self._tasks[task_id]

    def delete_many(self, task_ids: Iterable[int]) -> None:
        """Remove the tasks that exist among ``task_ids``; the others are ignored."""
        with self._lock:
            for task_id in task_ids:
                self._tasks.pop(task_id, None)

    def select(
        self,
        scope: Scope,
        *,
        name: str | None = None,
        state: BatchTaskState | str = BatchTaskState.ALL,
        associates: Collection[int] | None = None,
    ) -> list[BatchTaskInfo]:
        """The tasks a query operation answers, by id.

        ``name`` None or blank matches every name (case is ignored, as SQL Server's
        default collation does); state ``All`` matches every state; ``associates`` None
        or empty matches every owner, else ``0`` means system tasks, ``-1`` every user's
        tasks, any other number that associate's tasks.
        """
        wanted = (name or "").strip().casefold()
        now = self._clock()
        with self._lock:
            tasks = [self._tasks[task_id] for task_id in sorted(self._tasks)]
            snapshots = [task.snapshot(now, self._duration) for task in tasks]
        return [
            info
            for info in snapshots
            if _in_scope(info, scope)
            and (not wanted or (info.name or "").casefold() == wanted)
            and (state == BatchTaskState.ALL or info.state == state)
            and _owned_by(info, associates)
        ]

    def snapshots(self) -> list[BatchTaskInfo]:
        """Every task as it is now, by id."""
        return self.select(Scope.ALL)

    def _find(self, task_id: int) -> _Task:
        task = self._tasks.get(task_id)
        if task is None:
            raise TaskNotFound(task_id)
        return task


def _in_scope(info: BatchTaskInfo, scope: Scope) -> bool:
    if scope is Scope.ALL:
        return True
    return info.is_system_task == (scope is Scope.SYSTEM)


def _owned_by(info: BatchTaskInfo, associates: Collection[int] | None) -> bool:
    if not associates:
        return True
    if info.is_system_task:
        return 0 in associates
    return -1 in associates or info.associate_id in associates
