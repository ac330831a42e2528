"""The services' types: ``BatchTaskInfo``, its enumerations and the header blocks.

The SoPrincipal results (:class:`~superoffice_batch.soprincipal.Principal`,
``Authentication``, ``SystemInfo`` and their enumerations) live in
:mod:`superoffice_batch.soprincipal`, loaded on first use; they can be imported from
here too.

Fields are declared in WSDL order with :func:`~superoffice_batch.xmlvalues.wire`; that
order is the order on the wire (WCF silently drops members that arrive out of order).
Nullability mirrors .NET: value types (int, short, bool, enums) always have a value,
reference types (strings, dictionaries) and the dates may be ``None``, which omits them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from ._lazy import lazy_names
from .xmlvalues import (
    TNS,
    XSD_BOOLEAN,
    XSD_DATETIME,
    XSD_INT,
    XSD_SHORT,
    XSD_STRING,
    Checked,
    EnumCodec,
    ListCodec,
    ModelCodec,
    StringDictCodec,
    WireEnum,
    check_text,
    wire,
)

__all__ = [
    "BatchTaskCancellationBehaviour",
    "BatchTaskInfo",
    "BatchTaskState",
    "Credentials",
    "ReplyHeaders",
    "TimeZone",
]

SOPRINCIPAL_MODELS = (
    "Authentication",
    "EjUserStatus",
    "NetServerBuildType",
    "Principal",
    "RoleType",
    "SystemInfo",
    "UserType",
)
"""The names of SoPrincipal's models, offered here and by the package on first use."""
__getattr__ = lazy_names(__name__, "superoffice_batch.soprincipal", SOPRINCIPAL_MODELS)


class BatchTaskState(WireEnum):
    """Lifecycle state of a batch task. Members are ``str`` equal to their wire name.

    A state this library does not know arrives as a plain ``str`` instead.
    """

    UNKNOWN = "Unknown"
    NEW = "New"
    AQUIRED = "Aquired"  # sic: the service's spelling
    STARTED = "Started"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SUCCEEDED_MANUAL_CLEANUP = "SucceededManualCleanup"
    ALL = "All"  # a query filter, never the state of a task

    @property
    def is_terminal(self) -> bool:
        """True for the states a task never leaves: succeeded (either way) or failed."""
        return self in _TERMINAL_STATES


_TERMINAL_STATES = frozenset(
    {BatchTaskState.SUCCEEDED, BatchTaskState.FAILED, BatchTaskState.SUCCEEDED_MANUAL_CLEANUP}
)


class BatchTaskCancellationBehaviour(WireEnum):
    """Whether a running task may be stopped (``CancelWithWarning`` only affects the UI)."""

    CAN_CANCEL = "CanCancel"
    CANCEL_WITH_WARNING = "CancelWithWarning"
    CANNOT_CANCEL = "CannotCancel"


STATE = EnumCodec(BatchTaskState, (TNS, "BatchTaskState"))
CANCELLATION_BEHAVIOUR = EnumCodec(
    BatchTaskCancellationBehaviour, (TNS, "BatchTaskCancellationBehaviour")
)
STRING_DICTIONARY = StringDictCodec((TNS, "StringDictionary"), "StringKeyValuePair")


@attrs.frozen(kw_only=True, eq=False, repr=False)
class BatchTaskInfo(Checked):
    """A batch task: what to run (``name``, ``parameter_object``) and, in replies, its progress.

    All arguments are keyword-only and optional. Invalid values (an out-of-range int, a
    character XML cannot carry, a wrong type) raise ``TypeError``/``ValueError`` naming
    the field, here, before anything can be sent. The service overwrites server-managed
    fields (id, state, dates, counts, progress) when a job is started.
    """

    id: int = wire("Id", XSD_INT)
    name: str | None = wire("Name", XSD_STRING)
    associate_id: int = wire("AssociateId", XSD_INT)
    details_table: int = wire("DetailsTable", XSD_SHORT)
    details_record: int = wire("DetailsRecord", XSD_INT)
    is_system_task: bool = wire("IsSystemTask", XSD_BOOLEAN)
    is_internal_task: bool = wire("IsInternalTask", XSD_BOOLEAN)
    parameter_object: Mapping[str, str | None] | None = wire(
        "ParameterObject", STRING_DICTIONARY, hash=False
    )
    last_started: datetime | None = wire("LastStarted", XSD_DATETIME)
    created: datetime | None = wire("Created", XSD_DATETIME)
    start_count: int = wire("StartCount", XSD_INT)
    database_serial_number: str | None = wire("DatabaseSerialNumber", XSD_STRING)
    context: str | None = wire("Context", XSD_STRING)
    result: str | None = wire("Result", XSD_STRING)
    state: BatchTaskState | str = wire("State", STATE)
    description: str | None = wire("Description", XSD_STRING)
    response: str | None = wire("Response", XSD_STRING)
    request: str | None = wire("Request", XSD_STRING)
    progress_description: str | None = wire("ProgressDescription", XSD_STRING)
    progress_percent: int = wire("ProgressPercent", XSD_SHORT)
    file_name: str | None = wire("FileName", XSD_STRING)
    cancellation_behaviour: BatchTaskCancellationBehaviour | str = wire(
        "CancellationBehaviour", CANCELLATION_BEHAVIOUR
    )


BATCH_TASK_INFO: ModelCodec[BatchTaskInfo] = ModelCodec(BatchTaskInfo, (TNS, "BatchTaskInfo"))
BATCH_TASK_INFO_LIST: ListCodec[BatchTaskInfo] = ListCodec(
    BATCH_TASK_INFO, "BatchTaskInfo", (TNS, "ArrayOfBatchTaskInfo")
)


def masked(value: object) -> str:
    """The ``repr`` of a secret: whether it is set, never what it is."""
    return "None" if value is None else "'***'"


def _check_secret(
    instance: Credentials, attribute: attrs.Attribute[str | None], value: object
) -> None:
    if value is not None:
        check_text(f"Credentials.{attribute.name}", value, secret=True)


@attrs.frozen
class Credentials:
    """What identifies a call: the NetServer ticket and, for Online, the application token.

    ``ticket`` is a ``7T:…`` ticket (or an ``8A:…`` OAuth access token, which NetServer
    accepts in its place); ``application_token`` is the app's client secret. Each header
    block is sent only when its value is set. Neither value ever shows in ``repr()``.
    """

    ticket: str | None = attrs.field(default=None, repr=masked, validator=_check_secret)
    application_token: str | None = attrs.field(default=None, repr=masked, validator=_check_secret)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values to mask wherever reply text is shown."""
        return tuple(value for value in (self.ticket, self.application_token) if value)


@attrs.frozen(kw_only=True, eq=False, repr=False)
class TimeZone(Checked):
    """NetServer's time zone header (``SoTimeZone``): sent to say how to read naive dates.

    ``id`` is a SuperOffice time zone id and ``location_code`` its location code (e.g.
    ``"NO"``). Replies may carry one too: see :class:`ReplyHeaders`.
    """

    id: int = wire("SoTimeZoneId", XSD_INT)
    location_code: str | None = wire("SoTimeZoneLocationCode", XSD_STRING)


TIME_ZONE: ModelCodec[TimeZone] = ModelCodec(TimeZone, (TNS, "SoTimeZone"))


@attrs.frozen
class ReplyHeaders:
    """What NetServer says about a successful call beside its result.

    ``time_zone`` is the ``TimeZone`` reply header (None when absent); ``extra_info`` the
    ``ExtraInfo`` name/value pairs (empty when absent).
    """

    time_zone: TimeZone | None = None
    extra_info: Mapping[str, str | None] = attrs.field(factory=dict, hash=False)
