"""SoPrincipal.svc, where tickets come from: its models and its five operations.

Loaded on first use (the client's first login, or an import of one of these names): a
client given a fixed ticket never needs it, and leaving it out of ``import
superoffice_batch`` keeps start-up close to that of httpx, lxml and attrs. The names are
also available from :mod:`superoffice_batch.models`, :mod:`superoffice_batch.operations`
and the package itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import cast

import attrs
from lxml import etree

from .envelope import SOPRINCIPAL
from .errors import AuthenticationError
from .models import masked
from .operations import Operation, Returns, arg
from .xmlvalues import (
    MAX_SECRET_CHARS,
    REQUIRED_STRING,
    SECRET_STRING,
    TNS,
    XSD_BOOLEAN,
    XSD_DATETIME,
    XSD_INT,
    XSD_STRING,
    Checked,
    Codec,
    EnumCodec,
    ModelCodec,
    StringDictCodec,
    WireEnum,
    wire,
)

__all__ = [
    "AuthenticateGeneric",
    "AuthenticateImplicit",
    "AuthenticateUsernamePassword",
    "AuthenticateWithAccessToken",
    "Authentication",
    "EjUserStatus",
    "GetSystemInfo",
    "NetServerBuildType",
    "Principal",
    "RoleType",
    "SystemInfo",
    "UserType",
]


# -- models -------------------------------------------------------------------------


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


@attrs.frozen(kw_only=True, eq=False, repr=False)
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


@attrs.frozen(kw_only=True, eq=False, repr=False)
class SoCredentials(Checked):
    """``SoCredentials`` as a reply carries it: just the ticket (masked in ``repr()``).

    Internal: the ticket reaches callers as :attr:`Authentication.ticket`.
    """

    ticket: str | None = wire("Ticket", XSD_STRING, repr=masked)


@attrs.frozen(kw_only=True, eq=False, repr=False)
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


@attrs.frozen(kw_only=True, eq=False, repr=False)
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


# -- operations -----------------------------------------------------------------------

_AUTHENTICATION_DATA = StringDictCodec(
    (TNS, "AuthenticationGenericData"),
    "AuthenticationGenericDataKeyValuePair",
    nullable=False,
    secret=True,
)


def _string_map(value: Mapping[str, str | None]) -> Mapping[str, str | None]:
    """A read-only copy of a mapping, which cannot change after it was checked."""
    return cast("Mapping[str, str | None]", _AUTHENTICATION_DATA.convert(value))


class _AuthenticationCodec(Codec[Authentication]):
    """``AuthenticateResponse`` -> :class:`Authentication`, or ``AuthenticationError``.

    Success needs ``AuthenticationSucceeded`` true and a ticket that is not blank (the
    ``Succeeded`` header was already checked by ``open_reply``). The error names neither
    the ticket nor anything sent: a failed login must not leak a credential.
    """

    def read(self, element: etree._Element) -> Authentication:
        reply = AUTHENTICATE_REPLY.read(element)
        principal = reply.response if reply is not None else None
        if reply is None or not reply.authentication_succeeded:
            raise AuthenticationError(
                "authentication failed: AuthenticationSucceeded is false", principal=principal
            )
        ticket = reply.credentials.ticket if reply.credentials is not None else None
        if ticket is None or not ticket.strip():
            raise AuthenticationError(
                "authentication failed: the reply carries no ticket", principal=principal
            )
        if len(ticket) > MAX_SECRET_CHARS:
            # Every later error masks it: its length would be paid on each one.
            raise ValueError(f"the ticket is longer than {MAX_SECRET_CHARS} characters")
        return Authentication(principal=principal, ticket=ticket, succeeded=True)


class _Authenticate(Operation[Authentication]):
    """The ``Authenticate…`` operations: each answers ``AuthenticateResponse``.

    Their requests carry the application token, never a ticket (SoPrincipal takes none).
    """

    SERVICE = SOPRINCIPAL
    RESPONSE_ELEMENT = "AuthenticateResponse"
    RETURNS = Returns(_AuthenticationCodec(), local=None)

    __slots__ = ()


@attrs.frozen(eq=False, repr=False)
class AuthenticateUsernamePassword(_Authenticate):
    """Log in with a SuperOffice user name and password (on-site installations)."""

    user_name: str = attrs.field(metadata=arg("UserName", REQUIRED_STRING))
    password: str = attrs.field(repr=masked, metadata=arg("Password", SECRET_STRING))


@attrs.frozen(eq=False, repr=False)
class AuthenticateWithAccessToken(_Authenticate):
    """Exchange an OAuth access token for a ticket."""

    access_token: str = attrs.field(repr=masked, metadata=arg("AccessToken", SECRET_STRING))


@attrs.frozen(eq=False, repr=False)
class AuthenticateImplicit(_Authenticate):
    """Authenticate with the identity the server derives from the call itself (no secret sent)."""


@attrs.frozen(eq=False, repr=False)
class AuthenticateGeneric(_Authenticate):
    """Authenticate with plugin-specific key/value data (values are secrets)."""

    authentication_data: Mapping[str, str | None] = attrs.field(
        converter=_string_map,
        repr=masked,
        hash=False,
        metadata=arg("AuthenticationData", _AUTHENTICATION_DATA),
    )


@attrs.frozen(eq=False, repr=False)
class GetSystemInfo(Operation[SystemInfo | None]):
    """Version, build and database facts about the installation."""

    SERVICE = SOPRINCIPAL
    RETURNS = Returns(SYSTEM_INFO, "SystemInfo")
    READ_ONLY = True
