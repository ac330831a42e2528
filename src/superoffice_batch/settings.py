"""The clients' settings and their checks: each is refused by name before anything is sent.

Every check raises ``TypeError`` or ``ValueError`` naming the setting and its rule, never
echoing an absurd value whole (``10**400`` is named by :func:`~.xmlvalues.number_text`).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable

import httpx

from .models import BatchTaskInfo
from .xmlvalues import number_text

__all__ = [
    "DEFAULT_CALL_DEADLINE",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WAIT_TIMEOUT",
    "MAX_RETRIES",
    "MAX_STEP_SECONDS",
    "MAX_WAIT_TIMEOUT",
    "AsyncProgressCallback",
    "ProgressCallback",
    "WaitSettings",
    "check_base_url",
    "check_count",
    "check_job_id",
    "check_seconds",
    "check_timeout",
]

DEFAULT_TIMEOUT = 30.0
"""Seconds allowed for each of connect, write, read and pool acquisition."""
DEFAULT_CALL_DEADLINE = 120.0
"""Seconds one call may take in all: connecting, sending, the reply's headers and body,
re-sends and the back-off between them."""
DEFAULT_POLL_INTERVAL = 1.0
"""Seconds between the first polls of a job; later polls back off."""
DEFAULT_WAIT_TIMEOUT = 3600.0
"""Seconds :meth:`BatchClient.wait_for_batch_task` waits by default."""
MAX_RETRIES = 10
"""The most ``connect_retries`` and ``read_retries`` may be."""
MAX_STEP_SECONDS = 86400.0
"""The longest ``timeout``, ``call_deadline`` or ``poll_interval``: sockets and sleeps
overflow on absurd values, and nothing sane waits a day for one step."""
MAX_WAIT_TIMEOUT = 366 * 86400.0
"""The longest ``timeout`` a wait accepts (a year); ``None`` waits without a limit."""

ProgressCallback = Callable[[BatchTaskInfo], object]
"""Called with each snapshot of a job whose state, percent or description changed."""
AsyncProgressCallback = Callable[[BatchTaskInfo], Awaitable[object] | object]
"""A :data:`ProgressCallback`, or a coroutine function that the async client awaits."""

# A base_url that already names a service: the client would append the path a second time.
_SERVICE_PATH = re.compile(r"/Remote/Services88/[^/]*\.svc/?\Z", re.IGNORECASE)
# The services' folder (what the netserver_url claim gives): it stands for its root.
_SERVICES_FOLDER = re.compile(r"(?:/Remote/Services88)+/?\Z", re.IGNORECASE)


def check_base_url(base_url: object) -> httpx.URL:
    """The installation root as an absolute URL ending in ``/``.

    A URL of the services' folder (``…/Remote/Services88/``, in any letter case) stands
    for its root; a service's own URL (``…/Batch.svc``) is refused, naming the root.
    """
    if not isinstance(base_url, (str, httpx.URL)):
        raise TypeError(f"base_url must be a str, not {type(base_url).__name__}")
    try:
        str(base_url).encode("utf-8")
    except UnicodeError:
        raise ValueError("base_url contains a lone surrogate, which no URL can carry") from None
    try:
        url = httpx.URL(str(base_url))
    except httpx.InvalidURL as error:
        raise ValueError(f"base_url is not a valid URL: {error}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("base_url must be an absolute http:// or https:// URL")
    if url.port is not None and not 0 < url.port <= 65535:
        # A socket would take the port modulo 65536 and call another service.
        raise ValueError(f"base_url has port {number_text(url.port)}: a port is 1 to 65535")
    if url.query or url.fragment:
        raise ValueError("base_url must not have a query or fragment")
    if url.userinfo:
        raise ValueError("base_url must not carry user info; pass credentials as options")
    try:
        # What the resolver will do with it: labels of 1-63 characters, 253 in all.
        encodable = len(url.raw_host.decode("ascii").encode("idna")) <= 253
    except UnicodeError:
        encodable = False
    if not encodable:
        raise ValueError(
            "base_url has a host name that cannot be encoded: each label must have 1 to 63 "
            "characters, the whole name at most 253"
        )
    service_path = _SERVICE_PATH.search(url.path)
    if service_path is not None:
        root = url.copy_with(path=url.path[: service_path.start()] or "/")
        raise ValueError(
            f"base_url must be the installation root, not a service URL: use {str(root)!r}"
        )
    path = _SERVICES_FOLDER.sub("", url.path)
    if not path.endswith("/"):
        path += "/"
    return url if path == url.path else url.copy_with(path=path)


def check_seconds(name: str, value: object, *, at_most: float) -> float:
    """``value`` as a float: a finite, positive number of seconds up to ``at_most``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    # Compared before any conversion: float(10**400) overflows.
    if value != value or value <= 0:
        raise ValueError(f"{name} must be finite and positive, got {number_text(value)}")
    if value > at_most:
        raise ValueError(f"{name} must be at most {at_most:g} seconds, got {number_text(value)}")
    return float(value)


def check_timeout(timeout: object) -> httpx.Timeout:
    """The per-operation timeout: seconds, or an ``httpx.Timeout`` with every part set."""
    if isinstance(timeout, httpx.Timeout):
        parts = {
            "connect": timeout.connect,
            "read": timeout.read,
            "write": timeout.write,
            "pool": timeout.pool,
        }
        for part, seconds in parts.items():
            if seconds is None:
                raise ValueError(f"timeout.{part} must be set: every request needs a timeout")
            check_seconds(f"timeout.{part}", seconds, at_most=MAX_STEP_SECONDS)
        return timeout
    seconds = check_seconds("timeout", timeout, at_most=MAX_STEP_SECONDS)
    return httpx.Timeout(seconds)


def check_count(name: str, value: object, minimum: int, maximum: int) -> int:
    """``value``: an int from ``minimum`` to ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not minimum <= value <= maximum:
        raise ValueError(f"{name} must be from {minimum} to {maximum}, got {number_text(value)}")
    return value


def check_job_id(job_id: object) -> int:
    """The id of a job to wait for: a positive int."""
    if isinstance(job_id, bool) or not isinstance(job_id, int):
        raise TypeError(f"job_id must be an int, not {type(job_id).__name__}")
    if job_id <= 0:
        # StartBatchJob answers 0 (the documented example does) when nothing was created.
        raise ValueError(
            f"job_id must be positive, got {number_text(job_id)}: no such job to wait for"
        )
    return job_id


class WaitSettings:
    """How to wait for a job, checked before anything is sent."""

    __slots__ = ("on_progress", "poll_interval", "raise_on_failure", "timeout")

    def __init__(
        self,
        poll_interval: object,
        timeout: object,
        on_progress: AsyncProgressCallback | None,
        raise_on_failure: object,
        *,
        awaits: bool,
    ) -> None:
        self.poll_interval = check_seconds("poll_interval", poll_interval, at_most=MAX_STEP_SECONDS)
        self.timeout = (
            None if timeout is None else check_seconds("timeout", timeout, at_most=MAX_WAIT_TIMEOUT)
        )
        if on_progress is not None and not callable(on_progress):
            raise TypeError(f"on_progress must be callable, not {type(on_progress).__name__}")
        if not awaits and inspect.iscoroutinefunction(on_progress):
            # Calling it would only make a coroutine that nothing ever runs.
            raise TypeError(
                "on_progress must be a plain function for BatchClient, not a coroutine "
                "function (AsyncBatchClient awaits one)"
            )
        self.on_progress = on_progress
        if not isinstance(raise_on_failure, bool):
            kind = type(raise_on_failure).__name__
            raise TypeError(f"raise_on_failure must be a bool, not {kind}")
        self.raise_on_failure = raise_on_failure
