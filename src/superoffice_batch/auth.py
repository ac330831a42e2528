"""Where tickets come from, when one counts as rejected, and who logs in again.

A client is given one *ticket source* through its ``auth=`` option:

* a fixed ticket string (the ``ticket=`` shorthand): used as is, never refreshed;
* :class:`UsernamePassword`: logs in with SoPrincipal's AuthenticateUsernamePassword;
* :class:`AccessToken`: exchanges an OAuth access token with AuthenticateWithAccessToken;
* :class:`~superoffice_batch.online.SystemUser`: SuperOffice CRM Online's system-user flow;
* any callable returning a ticket (for the async client it may return an awaitable),
  wrapped in a :class:`FunctionSource` as httpx wraps a function in ``FunctionAuth``.

The three classes log in through a *login flow*, in the manner of httpx's
``Auth.auth_flow``: a generator that yields requests (through :class:`LoginSession`) and
receives their responses, doing no I/O itself, so the sync and async clients drive the
same flow through the same capped, bounded reading as every other reply.

:class:`TicketKeeper` holds the current ticket and decides, without I/O, whether a caller
must log in. Clients serialise that decision behind one lock, so concurrent callers share
one login and, after a rejection, one refresh.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Generator
from datetime import datetime
from typing import Any, NamedTuple, Protocol, TypeVar

import attrs

from .errors import HttpError, ServiceError, SoapFault, SuperOfficeError
from .messages import HttpRequest, RawResponse
from .models import Credentials
from .operations import Operation
from .secrets import Secrets
from .xmlvalues import check_text

__all__ = [
    "AccessToken",
    "Awaiting",
    "FlowSource",
    "FunctionSource",
    "LoginSession",
    "Tenant",
    "TenantCache",
    "TenantSource",
    "TicketCache",
    "TicketKeeper",
    "TicketSource",
    "UsernamePassword",
    "is_ticket_rejection",
]

T = TypeVar("T")
Flow = Generator[Any, Any, T]
"""A sans-I/O flow: yields what the client must do (send, wait), returns a ``T``."""


class LoginSession(Protocol):
    """What a login flow may ask of the client driving it."""

    @property
    def secrets(self) -> Secrets:
        """The client's registry: a flow registers each secret it makes (a signed token)."""
        ...

    def call(self, operation: Operation[T]) -> Flow[T]:
        """Call a NetServer operation (SoPrincipal's, for a ticket) and return its result."""
        ...

    def send(self, request: HttpRequest, *, read_only: bool) -> Flow[RawResponse]:
        """Send one HTTP request; re-sent after a connect failure, and after any transport
        failure when ``read_only``."""
        ...


def _mask(value: str) -> str:
    return "'***'"


def check_secret(name: str, value: object) -> str:
    """``value`` if it is a non-empty string XML can carry, else raise naming ``name``
    (never showing the value)."""
    text = check_text(name, value, secret=True)
    if not text:
        raise ValueError(f"{name} must not be empty")
    return text


def _check_secret(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    check_secret(f"{type(instance).__name__}.{attribute.name}", value)


@attrs.frozen
class UsernamePassword:
    """Log in with a SuperOffice user name and password (on-site installations).

    The client authenticates on first use and again when the ticket is rejected.
    """

    username: str = attrs.field(validator=_check_secret)
    password: str = attrs.field(repr=_mask, validator=_check_secret)

    @property
    def secrets(self) -> tuple[str, ...]:
        """What to mask in errors and logs."""
        return (self.password,)

    def login_flow(self, session: LoginSession) -> Flow[str]:
        """Log in with SoPrincipal's AuthenticateUsernamePassword; returns the ticket."""
        from .soprincipal import AuthenticateUsernamePassword  # loaded at the first login

        authentication = yield from session.call(
            AuthenticateUsernamePassword(self.username, self.password)
        )
        return str(authentication.ticket)


@attrs.frozen
class AccessToken:
    """Exchange an OAuth access token (``8A:…``) for a NetServer ticket.

    NetServer also accepts such a token directly as a ticket; pass it as ``ticket=`` for
    that. This source logs in explicitly, so the client can refresh it on rejection.
    """

    token: str = attrs.field(repr=_mask, validator=_check_secret)

    @property
    def secrets(self) -> tuple[str, ...]:
        """What to mask in errors and logs."""
        return (self.token,)

    def login_flow(self, session: LoginSession) -> Flow[str]:
        """Exchange the token with SoPrincipal's AuthenticateWithAccessToken; the ticket."""
        from .soprincipal import AuthenticateWithAccessToken  # loaded at the first login

        authentication = yield from session.call(AuthenticateWithAccessToken(self.token))
        return str(authentication.ticket)


class FlowSource(Protocol):
    """A ticket source that logs in through a login flow: :class:`UsernamePassword`,
    :class:`AccessToken`, :class:`~superoffice_batch.online.SystemUser`, or your own."""

    @property
    def secrets(self) -> tuple[str, ...]:
        """What to mask in errors and logs."""
        ...

    def login_flow(self, session: LoginSession) -> Flow[str]:
        """Obtain a ticket through ``session``; return it."""
        ...


TicketSource = str | FlowSource | Callable[[], str | Awaitable[str]]
"""Anything the ``auth=`` option accepts."""


class Awaiting(NamedTuple):
    """A flow's step: await ``awaitable`` and send back its result (the async client only)."""

    awaitable: Awaitable[Any]


class FunctionSource:
    """A callable ticket source as a login flow, so the clients refresh every source alike.

    The callable's result is the ticket; an awaitable result is yielded as
    :class:`Awaiting` for the async client to await.
    """

    secrets: tuple[str, ...] = ()

    def __init__(self, function: Callable[[], object]) -> None:
        self.function = function

    def login_flow(self, session: LoginSession) -> Flow[object]:
        """Call the function; its (awaited) result is the ticket."""
        ticket = self.function()
        if inspect.isawaitable(ticket):
            ticket = yield Awaiting(ticket)
        return ticket


_REJECTING_STATUS = frozenset({401, 403})
# NetServer's own type for credentials that fail validation (PROTOCOL.md section 7).
_SESSION_EXCEPTION = "sosessionexception"
# Otherwise a ticket or session that is no good, by name (an assumption, PROTOCOL.md §7).
# Never "authentication" or "unauthorized" alone: .NET's UnauthorizedAccessException (a
# file's permissions) and AuthenticationException (TLS) can come after the job started.
_SUBJECTS = ("ticket", "session")
_FAILURES = ("invalid", "expired", "notvalid", "rejected")


def is_ticket_rejection(error: SuperOfficeError) -> bool:
    """Whether NetServer refused the call's ticket, by what the error says.

    PROTOCOL.md section 7 leaves most exact types open until a real tenant shows them; the
    rule therefore lives here alone. A rejection is:

    * a reply with HTTP status 401 or 403 (an HTML page, a fault or a business error
      alike);
    * a :class:`ServiceError` (or one of its inner exceptions) whose ``exception_type``
      is NetServer's ``SoSessionException`` (in any namespace), or names a ticket or
      session that is invalid, expired, not valid or rejected. The free-text message never
      counts: the Service module has "support tickets", and any text may mention a session.

    The proof that the call did not run (its body is not the operation's successful
    reply) is the re-send table's (:mod:`superoffice_batch.resend`).
    """
    status = error.status_code if isinstance(error, (HttpError, SoapFault, ServiceError)) else None
    if status in _REJECTING_STATUS:
        return True
    current: ServiceError | None = error if isinstance(error, ServiceError) else None
    while current is not None:
        if _names_ticket_failure(current.exception_type):
            return True
        current = current.inner_exception
    return False


def _names_ticket_failure(exception_type: str | None) -> bool:
    # "SuperOffice.CRM.Security.SoSessionException" -> "sosessionexception"
    name = "".join(ch for ch in (exception_type or "").rpartition(".")[2].lower() if ch.isalnum())
    if name == _SESSION_EXCEPTION:
        return True
    return any(word in name for word in _SUBJECTS) and any(word in name for word in _FAILURES)


class TicketCache:
    """A ticket and when it was last used: kept by a source, shared by its clients.

    ``idle_limit`` is how long the ticket may go unused before it is no good (NetServer
    forgets a ticket after six idle hours); None when the source does not say.
    """

    __slots__ = ("idle_limit", "last_used", "ticket")

    def __init__(self, idle_limit: float | None = None) -> None:
        self.idle_limit = idle_limit
        self.ticket: str | None = None
        self.last_used = 0.0

    def idle(self) -> bool:
        """Whether the ticket has gone unused for longer than the idle limit."""
        limit = self.idle_limit
        return limit is not None and time.monotonic() - self.last_used > limit


class TicketKeeper:
    """The current credentials of a client and the rules for logging in (no I/O).

    Callers ask :meth:`needs_login` under the client's lock; if it says yes they run the
    source's :meth:`login_flow` (or call it) and :meth:`store` the ticket. ``stale`` is the
    ticket a caller saw rejected: only the first caller with that ticket logs in again,
    the others get the fresh one. An Online source also says where the tenant is
    (:meth:`needs_tenant`, :meth:`store_tenant`).
    """

    def __init__(self, source: object, application_token: str | None, secrets: Secrets) -> None:
        if not (source is None or isinstance(source, str) or callable(source)) and not hasattr(
            source, "login_flow"
        ):
            raise TypeError(
                "auth must be a ticket string, UsernamePassword, AccessToken, SystemUser or a "
                f"callable returning a ticket, not {type(source).__name__}"
            )
        own_token = getattr(source, "application_token", None)
        if own_token is not None and application_token not in (None, own_token):
            raise ValueError(
                "application_token differs from the SystemUser's: pass it to one of them only"
            )
        if callable(source) and not hasattr(source, "login_flow"):
            source = FunctionSource(source)
        self.source: Any = source
        self.application_token = application_token or own_token
        self.locates_tenant = hasattr(source, "tenant_flow")
        """Whether the source finds the tenant's endpoint (SuperOffice CRM Online)."""
        self.tenants: TenantCache = getattr(source, "tenant_cache", None) or TenantCache()
        self.cache: TicketCache = getattr(source, "ticket_cache", None) or TicketCache()
        self._ticket: str | None = None
        self._credentials = Credentials(application_token=self.application_token)
        self.secrets = secrets
        """The client's registry: the keeper registers the credentials and each ticket."""
        secrets.register(self.application_token, *getattr(source, "secrets", ()))
        if isinstance(source, str):
            self.store(source)

    @property
    def refreshable(self) -> bool:
        """False for a fixed ticket (or none): there is nothing to log in with."""
        return self.source is not None and not isinstance(self.source, str)

    def needs_login(self, stale: str | None) -> bool:
        """Whether the caller must obtain a ticket now."""
        if not self.refreshable:
            return False
        ticket = self.cache.ticket
        return ticket is None or (stale is not None and stale == ticket) or self.cache.idle()

    def store(self, ticket: object) -> None:
        """Keep a ticket obtained by logging in (or from the callable)."""
        if not isinstance(ticket, str):
            raise TypeError(f"the ticket source returned {type(ticket).__name__}, not a ticket")
        if not ticket:
            raise ValueError("the ticket source returned an empty ticket")
        # Checks the text before it can reach an envelope.
        Credentials(ticket=ticket, application_token=self.application_token)
        self.cache.ticket = ticket
        self.cache.last_used = time.monotonic()
        self._follow_cache()

    def credentials(self, stale: str | None) -> Credentials | None:
        """The credentials to send; None when ``stale`` was rejected and cannot be replaced."""
        self._follow_cache()
        if stale is not None and stale == self._ticket:
            return None
        if self.cache.idle_limit is not None:
            self.cache.last_used = time.monotonic()
        return self._credentials

    def login_flow(self, session: LoginSession) -> Flow[str]:
        """The source's login flow (after :meth:`needs_login` said yes)."""
        return self.source.login_flow(session)  # type: ignore[no-any-return]

    def _follow_cache(self) -> None:
        """Take up a ticket stored in the shared cache, by this client or another."""
        ticket = self.cache.ticket
        if ticket is not self._ticket:
            self._credentials = Credentials(ticket=ticket, application_token=self.application_token)
            self._ticket = ticket
            self.secrets.register_latest("ticket", ticket)

    # -- the tenant (SuperOffice CRM Online) -----------------------------------------

    def needs_tenant(self, stale: str | None) -> bool:
        """Whether the tenant's state must be read now: none kept (see
        :class:`TenantCache`), or ``stale`` (an endpoint that answered 421) is its endpoint."""
        return self.tenants.current(stale) is None

    def tenant(self) -> Tenant:
        """The tenant state last read (after :meth:`needs_tenant` said no, or after
        :meth:`store_tenant`)."""
        tenant = self.tenants.last
        assert tenant is not None
        return tenant

    @property
    def known_tenant(self) -> Tenant | None:
        """The tenant state last read, if any: for showing where calls go."""
        return self.tenants.last

    def store_tenant(self, tenant: Tenant) -> None:
        """Record a tenant state just read."""
        self.tenants.store(tenant)

    def tenant_flow(self, session: LoginSession) -> Flow[Tenant]:
        """The source's flow that reads the tenant state."""
        source: TenantSource = self.source
        return source.tenant_flow(session)


class Tenant(Protocol):
    """What the clients read of an Online tenant's state
    (:class:`~superoffice_batch.online.TenantState` is one)."""

    @property
    def context_identifier(self) -> str:
        """The tenant, ``Cust12345``."""
        ...

    @property
    def endpoint(self) -> str | None:
        """The tenant's root for API calls, without a trailing ``/``."""
        ...

    @property
    def state(self) -> str:
        """What the state API said, ``Running``, ``OfflineMaintenance``, …"""
        ...

    @property
    def valid_until(self) -> datetime:
        """When the state API says to ask again."""
        ...

    @property
    def api_available(self) -> bool:
        """Whether calls may be sent now."""
        ...

    def expires_at(self) -> float:
        """Until when (a ``time.time()`` value) the state may be used without reading it
        again; at or before now: not at all."""
        ...


class TenantCache:
    """The tenant state last read and until when it holds: kept by a source (next to its
    :class:`TicketCache`), shared by its clients.

    A state is kept until its :meth:`Tenant.expires_at`. One whose API is not available
    expires at once, so the next call (and ``tenant_state()``) reads it again; the state
    last read is still :attr:`last`, for the error that says so.
    """

    __slots__ = ("_record",)

    def __init__(self) -> None:
        # One attribute, replaced whole: a reader never sees a state with another's expiry.
        self._record: tuple[Tenant, float] | None = None

    @property
    def last(self) -> Tenant | None:
        """The state last read, kept or not; None before the first."""
        record = self._record
        return None if record is None else record[0]

    def current(self, stale: str | None = None) -> Tenant | None:
        """The state on record while it holds and ``stale`` is not its endpoint; else None
        (read it again)."""
        record = self._record
        if record is None:
            return None
        tenant, expires = record
        if time.time() >= expires or (stale is not None and stale == tenant.endpoint):
            return None
        return tenant

    def store(self, tenant: Tenant) -> None:
        """Record a state just read."""
        self._record = (tenant, tenant.expires_at())


class TenantSource(Protocol):
    """A source that finds an Online tenant's endpoint:
    :class:`~superoffice_batch.online.SystemUser` (or ``OnlineTenant``)."""

    @property
    def tenant_cache(self) -> TenantCache:
        """The tenant state, shared by every client given this source."""
        ...

    def tenant_flow(self, session: LoginSession) -> Flow[Tenant]:
        """Read the tenant state through ``session``; return it."""
        ...
