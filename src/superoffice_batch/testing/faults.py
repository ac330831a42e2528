"""Fault injection: what a test asks the simulator to do wrong, and to how many requests.

Set attributes on ``simulator.faults``; they apply to requests in arrival order, every
request (SOAP calls and ``?wsdl`` alike)::

    sim.faults.http_status = 502   # answer with an HTML gateway error page
    sim.faults.count = 1           # ...for the next request only (None: until reset())

``delay`` (seconds before answering), ``drop`` (``"before_read"``: close the connection
without reading the request; ``"after_read"``: read it, then close without answering),
``http_status`` (instead of the service's answer: 401, 403, 429, 500, 502 or 503 with
IIS's HTML page, the 429 with ``Retry-After: retry_after``; 421 with Online's "Wrong
subdomain used to access tenant") and ``truncate`` (send only the first half of the
reply, its Content-Length saying so) combine. After ``count`` requests every fault is
cleared again.
"""

from __future__ import annotations

import threading
from typing import Literal, NamedTuple

__all__ = ["DROP_POINTS", "FaultPlan", "Faults"]

Drop = Literal["before_read", "after_read"]
DROP_POINTS: tuple[Drop, ...] = ("before_read", "after_read")
_STATUSES = (401, 403, 421, 429, 500, 502, 503)


class FaultPlan(NamedTuple):
    """The faults one request gets, fixed when it arrives."""

    delay: float = 0.0
    drop: Drop | None = None
    http_status: int | None = None
    truncate: bool = False
    retry_after: int = 1

    @property
    def any(self) -> bool:
        """Whether anything is to go wrong (``retry_after`` alone changes nothing)."""
        return self._replace(retry_after=_NO_FAULTS.retry_after) != _NO_FAULTS


_NO_FAULTS = FaultPlan()


class Faults:
    """The faults a test has set; thread-safe. See the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plan = _NO_FAULTS
        self._count: int | None = None

    # -- settings ------------------------------------------------------------------

    @property
    def delay(self) -> float:
        """Seconds to wait before answering (0: none)."""
        return self._plan.delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise ValueError(f"delay must be a number of seconds >= 0, got {seconds!r}")
        with self._lock:
            self._plan = self._plan._replace(delay=float(seconds))

    @property
    def drop(self) -> Drop | None:
        """Where to close the connection without answering, or None."""
        return self._plan.drop

    @drop.setter
    def drop(self, point: Drop | None) -> None:
        if point is not None and point not in DROP_POINTS:
            raise ValueError(f"drop must be one of {DROP_POINTS} or None, got {point!r}")
        with self._lock:
            self._plan = self._plan._replace(drop=point)

    @property
    def http_status(self) -> int | None:
        """The HTTP error status to answer with (401, 403, 421, 429, 500, 502 or 503), or
        None."""
        return self._plan.http_status

    @http_status.setter
    def http_status(self, status: int | None) -> None:
        if status is not None and status not in _STATUSES:
            raise ValueError(f"http_status must be one of {_STATUSES} or None, got {status!r}")
        with self._lock:
            self._plan = self._plan._replace(http_status=status)

    @property
    def retry_after(self) -> int:
        """The seconds a 429 answer's ``Retry-After`` header asks for (default 1)."""
        return self._plan.retry_after

    @retry_after.setter
    def retry_after(self, seconds: int) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise ValueError(f"retry_after must be a whole number of seconds >= 0, got {seconds!r}")
        with self._lock:
            self._plan = self._plan._replace(retry_after=seconds)

    @property
    def truncate(self) -> bool:
        """Whether to cut replies in half."""
        return self._plan.truncate

    @truncate.setter
    def truncate(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"truncate must be a bool, not {type(value).__name__}")
        with self._lock:
            self._plan = self._plan._replace(truncate=value)

    @property
    def count(self) -> int | None:
        """How many more requests get the faults; None: all, until :meth:`reset`."""
        return self._count

    @count.setter
    def count(self, value: int | None) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"count must be an int or None, not {type(value).__name__}")
        if value is not None and value < 1:
            raise ValueError(f"count must be at least 1, got {value}")
        with self._lock:
            self._count = value

    def reset(self) -> None:
        """Clear every fault: requests are answered normally again."""
        with self._lock:
            self._plan = _NO_FAULTS
            self._count = None

    # -- use -------------------------------------------------------------------------

    def take(self) -> FaultPlan:
        """The faults for the request that just arrived; counts it against ``count``."""
        with self._lock:
            plan = self._plan
            if plan.any and self._count is not None:
                self._count -= 1
                if self._count == 0:
                    self._plan = _NO_FAULTS
                    self._count = None
            return plan

    def __repr__(self) -> str:
        defaults = _NO_FAULTS._asdict()
        settings = {
            key: value for key, value in self._plan._asdict().items() if value != defaults[key]
        }
        return f"Faults({settings}, count={self._count})"
