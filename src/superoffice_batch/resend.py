"""When a call is sent again: one table of rules (:data:`RULES`), applied by :func:`decide`.

A call may be sent again only when the server certainly did not run it, or when running it
twice is harmless (a read-only call). Each rule names:

* when it applies (the failure, and the kind of call);
* the proof that the call did not run, checked before the rule fires;
* how often it may fire in one call (its budget; rules naming the same setting share it);
* what the client does.

The first rule that applies, holds its proof and has budget left decides. Every re-send,
and every back-off before one, starts before the call's deadline or not at all.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from typing import NamedTuple

from .auth import is_ticket_rejection
from .envelope import SoapVersion
from .errors import HttpError, SoapFault, SuperOfficeError, TransportError

__all__ = [
    "MAX_BACKOFF",
    "RULES",
    "Action",
    "Decision",
    "Failure",
    "Rule",
    "decide",
    "is_misdirected",
    "is_version_refusal",
]

# No back-off sleep is longer: the doubling would reach years within a few dozen attempts.
MAX_BACKOFF = 30.0
"""The longest sleep before a re-send, ``Retry-After`` included."""

_TRANSIENT_STATUS = frozenset({429, 502, 503, 504})
_VERSION_MISMATCH = {f"{{{version.namespace}}}VersionMismatch" for version in SoapVersion}


class Action(enum.Enum):
    """What the client does when a rule fires."""

    RECONNECT = "re-send after a back-off (0.1 s, doubling)"
    SOAP11 = "re-send as SOAP 1.1, and keep SOAP 1.1 for later calls"
    RELOCATE = "read the tenant's endpoint anew, re-send there"
    LOG_IN_AGAIN = "log in again, re-send with the fresh ticket"
    CHECK_TENANT = "read the tenant state anew (no re-send): TenantUnavailable if it is down"
    RETRY_AFTER = "re-send after the Retry-After seconds (at most MAX_BACKOFF)"
    BACK_OFF = "re-send after a back-off (0.5 s, doubling)"


class Failure:
    """What a plan knows of one failed attempt of a call."""

    __slots__ = (
        "_ran",
        "error",
        "locates_tenant",
        "negotiating",
        "read_only",
        "retry_after",
        "takes_ticket",
    )

    def __init__(
        self,
        error: SuperOfficeError,
        *,
        read_only: bool,
        takes_ticket: bool = False,
        negotiating: bool = False,
        locates_tenant: bool = False,
        retry_after: str | None = None,
        ran: Callable[[], bool] | None = None,
    ) -> None:
        self.error = error
        self.read_only = read_only
        self.takes_ticket = takes_ticket
        self.negotiating = negotiating
        self.locates_tenant = locates_tenant
        self.retry_after = retry_after
        self._ran = ran

    def reply_ran(self) -> bool:
        """Whether the reply's body reads as the operation's successful reply, whatever its
        status said: then the call ran, and no proof holds."""
        return self._ran is not None and self._ran()

    @property
    def status(self) -> int | None:
        """The reply's HTTP status, for a failure that had a reply."""
        error = self.error
        return error.status_code if isinstance(error, (HttpError, SoapFault)) else None


def is_version_refusal(error: SuperOfficeError) -> bool:
    """415 or a VersionMismatch fault: the endpoint refused the envelope's SOAP version."""
    if isinstance(error, HttpError):
        return error.status_code == 415
    return isinstance(error, SoapFault) and error.code in _VERSION_MISMATCH


def is_misdirected(error: SuperOfficeError) -> bool:
    """421: the host did not process the request (an Online tenant lives elsewhere)."""
    return isinstance(error, HttpError) and error.status_code == 421


def _not_sent(failure: Failure) -> bool:
    error = failure.error
    return isinstance(error, TransportError) and not error.request_sent


def _transient(failure: Failure) -> bool:
    return failure.read_only and (
        isinstance(failure.error, TransportError) or failure.status in _TRANSIENT_STATUS
    )


def _retry_after(failure: Failure) -> bool:
    return failure.read_only and failure.status == 429 and _seconds(failure.retry_after) is not None


def _reply_did_not_run(failure: Failure) -> bool:
    return not failure.reply_ran()


def _always(failure: Failure) -> bool:
    return True


class Rule(NamedTuple):
    """One reason to act on a failure."""

    name: str
    applies: Callable[[Failure], bool]
    """When it applies."""
    proof: str
    """Why the call did not run (or why running it twice is harmless)."""
    holds: Callable[[Failure], bool]
    """Checks the proof."""
    at_most: int | str
    """How often it may fire in one call: a number, or the setting that says."""
    action: Action


RULES: tuple[Rule, ...] = (
    Rule(
        "connect failure",
        _not_sent,
        "no connection was made: not a byte of the request was written",
        _always,
        "connect_retries",
        Action.RECONNECT,
    ),
    Rule(
        "SOAP version refused (415, VersionMismatch) while negotiating",
        lambda failure: failure.negotiating and is_version_refusal(failure.error),
        "the endpoint refuses an envelope before dispatch; a body that reads as the "
        "operation's successful reply disproves it",
        _reply_did_not_run,
        1,
        Action.SOAP11,
    ),
    Rule(
        "421 Misdirected Request from a tenant host found by the state API",
        lambda failure: failure.locates_tenant and is_misdirected(failure.error),
        "a host that does not serve the tenant runs nothing; a body that reads as the "
        "operation's successful reply disproves it",
        _reply_did_not_run,
        1,
        Action.RELOCATE,
    ),
    Rule(
        "ticket rejected (401, 403, SoSessionException) by a call that takes a ticket",
        lambda failure: failure.takes_ticket and is_ticket_rejection(failure.error),
        "NetServer checks the ticket before it runs the operation; a body that reads as "
        "the operation's successful reply disproves it",
        _reply_did_not_run,
        1,
        Action.LOG_IN_AGAIN,
    ),
    Rule(
        "503 from a tenant host found by the state API",
        lambda failure: failure.locates_tenant and failure.status == 503,
        "none needed: nothing is re-sent by this rule (the rules below may still)",
        _always,
        1,
        Action.CHECK_TENANT,
    ),
    Rule(
        "429 with Retry-After (seconds) on a read-only call",
        _retry_after,
        "a read-only call: running it twice is harmless (StartBatchJob is never re-sent)",
        _always,
        "read_retries",
        Action.RETRY_AFTER,
    ),
    Rule(
        "transport failure, or HTTP 429/502/503/504, on a read-only call",
        _transient,
        "a read-only call: running it twice is harmless",
        _always,
        "read_retries",
        Action.BACK_OFF,
    ),
)


class Decision(NamedTuple):
    """A rule that fired, and the seconds to wait before acting on it."""

    rule: Rule
    delay: float


def decide(
    failure: Failure,
    fired: dict[str, int],
    budgets: dict[str, int],
    deadline: float,
) -> Decision | None:
    """The first rule of :data:`RULES` that applies to ``failure``, holds its proof and has
    budget left (counted in ``fired``, from the settings in ``budgets``), with its delay;
    None when none does, or when the re-send would start past ``deadline``.
    """
    for rule in RULES:
        if not rule.applies(failure):
            continue
        key = rule.at_most if isinstance(rule.at_most, str) else rule.name
        limit = budgets[rule.at_most] if isinstance(rule.at_most, str) else rule.at_most
        count = fired.get(key, 0)
        if count >= limit or not rule.holds(failure):
            continue
        delay = _delay(rule.action, count + 1, failure)
        if time.monotonic() + delay >= deadline:
            return None
        fired[key] = count + 1
        return Decision(rule, delay)
    return None


def _delay(action: Action, attempt: int, failure: Failure) -> float:
    if action is Action.RECONNECT:
        return _backoff(attempt, 0.1)
    if action is Action.BACK_OFF:
        return _backoff(attempt, 0.5)
    if action is Action.RETRY_AFTER:
        return min(_seconds(failure.retry_after) or 0.0, MAX_BACKOFF)
    return 0.0


def _backoff(attempt: int, first: float) -> float:
    return min(first * 2.0 ** min(attempt - 1, 32), MAX_BACKOFF)


def _seconds(retry_after: str | None) -> float | None:
    """The delay-seconds form of ``Retry-After`` (RFC 9110 §10.2.3); None for a date or junk."""
    text = (retry_after or "").strip()
    if not text.isascii() or not text.isdigit():
        return None
    return float(text[:9])  # beyond MAX_BACKOFF anyway; no huge int is built
