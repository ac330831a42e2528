"""One on-site login shared by every client a process makes for a connection.

A ``SystemUser`` already keeps its ticket for all the clients given it. A
``UsernamePassword`` does not: each client logs in on first use. :class:`SharedLogin`
keeps the ticket for the connection, and each client gets a :class:`ClientLogin`, a login
flow (superoffice-batch's documented ticket-source protocol) that hands out the shared
ticket, and logs in only when there is none yet or when this client saw it rejected.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from superoffice_batch import UsernamePassword

__all__ = ["ClientLogin", "SharedLogin"]


class SharedLogin:
    """A user name and password, and the ticket last obtained with them."""

    def __init__(self, login: UsernamePassword) -> None:
        self.login = login
        self.ticket: str | None = None

    def __repr__(self) -> str:
        return f"SharedLogin({self.login!r})"

    def for_client(self) -> ClientLogin:
        """A ticket source for one new client."""
        return ClientLogin(self)


class ClientLogin:
    """One client's view of a :class:`SharedLogin` (give one to each client)."""

    def __init__(self, shared: SharedLogin) -> None:
        self._shared = shared
        self._seen: str | None = None
        self.secrets: tuple[str, ...] = shared.login.secrets

    def __repr__(self) -> str:
        return f"ClientLogin({self._shared.login!r})"

    def login_flow(self, session: Any) -> Generator[Any, Any, str]:
        """The shared ticket; a new login when there is none or this client saw it fail.

        The client runs this on its first call and after NetServer rejected its ticket:
        a ticket this client has used before is the rejected one.
        """
        ticket = self._shared.ticket
        if ticket is None or ticket == self._seen:
            ticket = yield from self._shared.login.login_flow(session)
            self._shared.ticket = ticket
        self._seen = ticket
        return ticket
