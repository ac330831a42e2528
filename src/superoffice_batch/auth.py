"""Where tickets come from, when one counts as rejected, and who logs in again.

A client is given one *ticket source* through its ``auth=`` option:

* a fixed ticket string (the ``ticket=`` shorthand): used as is, never refreshed;
* :class:`UsernamePassword`: logs in with SoPrincipal's AuthenticateUsernamePassword;
* :class:`AccessToken`: exchanges an OAuth access token with AuthenticateWithAccessToken;
* any callable returning a ticket (for the async client it may return an awaitable).

:class:`TicketKeeper` holds the current ticket and decides, without I/O, whether a caller
must log in. Clients serialise that decision behind one lock, so concurrent callers share
one login and, after a rejection, one refresh.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs

from .errors import HttpError, ServiceError, SoapFault, SuperOfficeError
from .models import Credentials
from .operations import Operation
from .xmlvalues import check_text

if TYPE_CHECKING:
    from .soprincipal import Authentication

__all__ = ["AccessToken", "TicketKeeper", "TicketSource", "UsernamePassword", "is_ticket_rejection"]


def _mask(value: str) -> str:
    return "'***'"


def _check_secret(instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    check_text(f"{type(instance).__name__}.{attribute.name}", value, secret=True)
    if not value:
        raise ValueError(f"{type(instance).__name__}.{attribute.name} must not be empty")


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

    def login_operation(self) -> Operation[Authentication]:
        """The SoPrincipal call that issues a ticket for these credentials."""
        from .soprincipal import AuthenticateUsernamePassword  # loaded at the first login

        return AuthenticateUsernamePassword(self.username, self.password)


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

    def login_operation(self) -> Operation[Authentication]:
        """The SoPrincipal call that issues a ticket for this token."""
        from .soprincipal import AuthenticateWithAccessToken  # loaded at the first login

        return AuthenticateWithAccessToken(self.token)


TicketSource = str | UsernamePassword | AccessToken | Callable[[], str | Awaitable[str]]
"""Anything the ``auth=`` option accepts."""


# What an ExceptionType must say to count as a refused ticket (an assumption, PROTOCOL.md §7):
# an authentication failure outright, or a ticket or session that is no good.
_AUTHENTICATION_FAILURES = ("authentication", "credential", "unauthori", "notauthenticated")
_SUBJECTS = ("ticket", "session")
_FAILURES = ("invalid", "expired", "notvalid", "rejected")
_REJECTING_STATUS = frozenset({401, 403})


def is_ticket_rejection(error: SuperOfficeError, *, reply_succeeded: bool = False) -> bool:
    """Whether NetServer refused the call's ticket, so the operation did not run.

    PROTOCOL.md section 7 leaves the exact types open until a real tenant shows them; the
    rule therefore lives here alone. A rejection is:

    * a reply with HTTP status 401 or 403 (an HTML page, a fault or a business error
      alike) whose body is not the operation's successful reply: ``reply_succeeded``
      says whether it was, read as if the status were 200 (then the call ran);
    * a :class:`ServiceError` (or one of its inner exceptions) whose ``exception_type``
      names an authentication or credential failure, or a ticket or session that is
      invalid, expired, not valid or rejected. The free-text message never counts: the
      Service module has "support tickets", and any text may mention a session.
    """
    status = error.status_code if isinstance(error, (HttpError, SoapFault, ServiceError)) else None
    if status in _REJECTING_STATUS:
        return not reply_succeeded
    current: ServiceError | None = error if isinstance(error, ServiceError) else None
    while current is not None:
        if _names_authentication_failure(current.exception_type):
            return True
        current = current.inner_exception
    return False


def _names_authentication_failure(exception_type: str | None) -> bool:
    # "SuperOffice.Exceptions.InvalidTicketException" -> "invalidticketexception"
    name = "".join(ch for ch in (exception_type or "").rpartition(".")[2].lower() if ch.isalnum())
    if any(word in name for word in _AUTHENTICATION_FAILURES):
        return True
    return any(word in name for word in _SUBJECTS) and any(word in name for word in _FAILURES)


class TicketKeeper:
    """The current credentials of a client and the rule for logging in (no I/O).

    Callers ask :meth:`needs_login` under the client's lock; if it says yes they log in
    and :meth:`store` the ticket. ``stale`` is the ticket a caller saw rejected: only
    the first caller with that ticket logs in again, the others get the fresh one.
    """

    def __init__(self, source: object, application_token: str | None) -> None:
        known = (str, UsernamePassword, AccessToken, type(None))
        if not isinstance(source, known) and not callable(source):
            raise TypeError(
                "auth must be a ticket string, UsernamePassword, AccessToken or a callable "
                f"returning a ticket, not {type(source).__name__}"
            )
        self.source: Any = source
        self.application_token = application_token
        self._ticket: str | None = None
        self._credentials = Credentials(application_token=application_token)
        self.secrets = self._secrets()
        """Every secret this keeper knows, the current ticket included: what to mask."""
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
        return self._ticket is None or (stale is not None and stale == self._ticket)

    def store(self, ticket: object) -> None:
        """Keep a ticket obtained by logging in (or from the callable)."""
        if not isinstance(ticket, str):
            raise TypeError(f"the ticket source returned {type(ticket).__name__}, not a ticket")
        if not ticket:
            raise ValueError("the ticket source returned an empty ticket")
        # Checks the text before it can reach an envelope.
        self._credentials = Credentials(ticket=ticket, application_token=self.application_token)
        self._ticket = ticket
        self.secrets = self._secrets()

    def credentials(self, stale: str | None) -> Credentials | None:
        """The credentials to send; None when ``stale`` was rejected and cannot be replaced."""
        if stale is not None and stale == self._ticket:
            return None
        return self._credentials

    def login_operation(self) -> Operation[Authentication] | None:
        """The SoPrincipal call that issues a ticket, or None when the source is a callable."""
        if isinstance(self.source, (UsernamePassword, AccessToken)):
            return self.source.login_operation()
        return None

    def _secrets(self) -> tuple[str, ...]:
        return self._credentials.secrets + tuple(getattr(self.source, "secrets", ()))
