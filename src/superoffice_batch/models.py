"""The services' types: ``BatchTaskInfo``, the SoPrincipal results, their enumerations
and the request header blocks.

Fields are declared in WSDL order with :func:`~superoffice_batch.xmlvalues.wire`; that
order is the order on the wire (WCF silently drops members that arrive out of order).
Nullability mirrors .NET: value types (int, short, bool, enums) always have a value,
reference types (strings, dictionaries) and the dates may be ``None``, which omits them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

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
    "Authentication",
    "BatchTaskCancellationBehaviour",
    "BatchTaskInfo",
    "BatchTaskState",
    "Credentials",
    "EjUserStatus",
    "NetServerBuildType",
    "Principal",
    "ReplyHeaders",
    "RoleType",
    "SystemInfo",
    "TimeZone",
    "UserType",
]


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


@attrs.frozen(kw_only=True)
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


@attrs.frozen(kw_only=True)
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


# -- SoPrincipal.svc ----------------------------------------------------------------


class UserType(WireEnum):
    """What kind of user a principal is."""

    UNKNOWN = "Unknown"
    INTERNAL_ASSOCIATE = "InternalAssociate"
    RESOURCE_ASSOCIATE = "ResourceAssociate"
    EXTERNAL_ASSOCIATE = "ExternalAssociate"
    ANONYMOUS_ASSOCIATE = "AnonymousAssociate"
    SYSTEM_ASSOCIATE = "SystemAssociate"


class RoleType(WireEnum):
    """The kind of role a principal has."""

    EMPLOYEE = "Employee"
    EXTERNAL_USER = "ExternalUser"
    ANONYMOUS = "Anonymous"
    SYSTEM = "System"


class EjUserStatus(WireEnum):
    """The principal's status as a SuperOffice Service (eJournal) user."""

    STATUS_NONE = "StatusNone"
    STATUS_NORMAL = "StatusNormal"
    STATUS_NOT_AVAILABLE = "StatusNotAvailable"
    STATUS_DELETED = "StatusDeleted"
    STATUS_READ_ONLY = "StatusReadOnly"
    STATUS_SPM = "StatusSpm"
    STATUS_SYSTEM = "StatusSystem"


class NetServerBuildType(WireEnum):
    """The kind of NetServer build answering."""

    FEATURE = "Feature"
    STABLE = "Stable"
    ALPHA = "Alpha"
    BETA = "Beta"
    RELEASE_CANDIDATE = "ReleaseCandidate"
    RELEASE = "Release"


@attrs.frozen(kw_only=True)
class Principal(Checked):
    """Who a ticket belongs to: the scalar fields of ``SoPrincipalCarrier``.

    By design the carrier's arrays (``Licenses``, ``FunctionRights``,
    ``ProvidedCredentials``, ``SecondaryGroups``) are not read: a batch client has no use
    for them, and skipping them keeps the model flat. Enumerations hold a plain ``str``
    for a name this library does not know.
    """

    user_type: UserType | str = wire("UserType", EnumCodec(UserType, (TNS, "UserType")))
    associate: str | None = wire("Associate", XSD_STRING)
    associate_id: int = wire("AssociateId", XSD_INT)
    is_person: bool = wire("IsPerson", XSD_BOOLEAN)
    person_id: int = wire("PersonId", XSD_INT)
    country_id: int = wire("CountryId", XSD_INT)
    home_country_id: int = wire("HomeCountryId", XSD_INT)
    contact_id: int = wire("ContactId", XSD_INT)
    group_id: int = wire("GroupId", XSD_INT)
    business_id: int = wire("BusinessId", XSD_INT)
    category_id: int = wire("CategoryId", XSD_INT)
    contact_owner: int = wire("ContactOwner", XSD_INT)
    role_id: int = wire("RoleId", XSD_INT)
    role_name: str | None = wire("RoleName", XSD_STRING)
    role_description: str | None = wire("RoleDescription", XSD_STRING)
    role_type: RoleType | str = wire("RoleType", EnumCodec(RoleType, (TNS, "RoleType")))
    full_name: str | None = wire("FullName", XSD_STRING)
    e_mail_address: str | None = wire("EMailAddress", XSD_STRING)
    ej_user_id: int = wire("EjUserId", XSD_INT)
    ej_access_level: int = wire("EjAccessLevel", XSD_INT)
    ej_user_status: EjUserStatus | str = wire(
        "EjUserStatus", EnumCodec(EjUserStatus, (TNS, "EjUserStatus"))
    )
    database_context_identifier: str | None = wire("DatabaseContextIdentifier", XSD_STRING)


PRINCIPAL: ModelCodec[Principal] = ModelCodec(Principal, (TNS, "SoPrincipalCarrier"))


@attrs.frozen(kw_only=True)
class Authentication:
    """A successful ``Authenticate*`` call: the ticket to send with Batch calls, and whose.

    ``ticket`` is never empty and never shows in ``repr()``. ``succeeded`` is the reply's
    ``AuthenticationSucceeded``, always true here: a failed authentication raises
    :class:`~superoffice_batch.errors.AuthenticationError` instead.
    """

    principal: Principal | None
    ticket: str = attrs.field(repr=masked)
    succeeded: bool


@attrs.frozen(kw_only=True)
class SoCredentials(Checked):
    """``SoCredentials`` as a reply carries it: just the ticket (masked in ``repr()``).

    Internal: the ticket reaches callers as :attr:`Authentication.ticket`.
    """

    ticket: str | None = wire("Ticket", XSD_STRING, repr=masked)


@attrs.frozen(kw_only=True)
class AuthenticateReply(Checked):
    """The ``AuthenticateResponse`` element as sent, before the success rule is applied.

    Internal: callers get an :class:`Authentication` or an ``AuthenticationError``.
    """

    response: Principal | None = wire("Response", PRINCIPAL)
    credentials: SoCredentials | None = wire(
        "Credentials", ModelCodec(SoCredentials, (TNS, "SoCredentials"))
    )
    authentication_succeeded: bool = wire("AuthenticationSucceeded", XSD_BOOLEAN)


# The element's type is anonymous; the type name is never written (replies only).
AUTHENTICATE_REPLY: ModelCodec[AuthenticateReply] = ModelCodec(
    AuthenticateReply, (TNS, "AuthenticateResponse")
)


@attrs.frozen(kw_only=True)
class SystemInfo(Checked):
    """What ``GetSystemInfo`` tells about the installation (``SoSystemInfoCarrier``).

    The carrier's scalar fields. By design its ``License`` (a nested licence description
    with signatures) is not read.
    """

    warning_english: str | None = wire("WarningEnglish", XSD_STRING)
    warning_resource: str | None = wire("WarningResource", XSD_STRING)
    branch_name: str | None = wire("BranchName", XSD_STRING)
    build_label: str | None = wire("BuildLabel", XSD_STRING)
    assembly_version: str | None = wire("AssemblyVersion", XSD_STRING)
    accumulated_next_check_date: datetime | None = wire("AccumulatedNextCheckDate", XSD_DATETIME)
    file_version: str | None = wire("FileVersion", XSD_STRING)
    description: str | None = wire("Description", XSD_STRING)
    days_until_net_server_expiry: int = wire("DaysUntilNetServerExpiry", XSD_INT)
    build_type: NetServerBuildType | str = wire(
        "BuildType", EnumCodec(NetServerBuildType, (TNS, "NetServerBuildType"))
    )
    database_version: int = wire("DatabaseVersion", XSD_INT)
    is_unicode: bool = wire("IsUnicode", XSD_BOOLEAN)
    company_name: str | None = wire("CompanyName", XSD_STRING)
    company_id: int = wire("CompanyId", XSD_INT)
    database_type: str | None = wire("DatabaseType", XSD_STRING)
    database_minor: str | None = wire("DatabaseMinor", XSD_STRING)
    database_name: str | None = wire("DatabaseName", XSD_STRING)
    is_on_travel: bool = wire("IsOnTravel", XSD_BOOLEAN)
    is_satellite: bool = wire("IsSatellite", XSD_BOOLEAN)


SYSTEM_INFO: ModelCodec[SystemInfo] = ModelCodec(SystemInfo, (TNS, "SoSystemInfoCarrier"))
