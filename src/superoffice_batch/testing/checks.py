"""The checks both simulators make of the options they share, before anything listens."""

from __future__ import annotations

from collections.abc import Collection

from .wcf import SoapMode

__all__ = ["check_options", "check_seconds"]


def check_seconds(name: str, value: object, *, positive: bool) -> None:
    """``TypeError`` unless ``value`` is a number, ``ValueError`` unless it is >= 0 (> 0 if
    ``positive``); ``name`` is the option's."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'positive' if positive else 'at least 0'}, got {value}")


def check_options(
    *,
    soap: object,
    clock: object,
    failing_tasks: Collection[str],
    ticket_lifetime: float,
    job_duration: float,
) -> None:
    """The options every simulator takes: ``soap`` a :class:`SoapMode`, ``clock`` callable,
    ``failing_tasks`` names (not one name), and the two durations."""
    if not isinstance(soap, SoapMode):
        raise TypeError(f"soap must be a SoapMode, not {soap!r}")
    if isinstance(failing_tasks, str):  # a lone name would be taken letter by letter
        raise TypeError("failing_tasks must be a collection of task names, not a str")
    if not callable(clock):
        raise TypeError(f"clock must be callable, not {type(clock).__name__}")
    check_seconds("ticket_lifetime", ticket_lifetime, positive=True)
    check_seconds("job_duration", job_duration, positive=False)
