"""The simulator's users and tickets.

A ticket is ``7T:`` and random base64, like NetServer's. It expires once it has gone
unused for the ticket lifetime; each use starts that period again (PROTOCOL.md section
7). OAuth access tokens (``8A:…``) are accepted in a ticket's place, for the user "demo".
A user may be confined to one tenant (Online's system users: each tenant is its own
NetServer, which knows only its own tickets); the others' tickets work under any tenant.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import threading
from collections.abc import Mapping

from ..soprincipal import EjUserStatus, Principal, RoleType, UserType
from .jobs import Clock

__all__ = ["ACCESS_TOKEN_USER", "Sessions", "is_access_token"]

ACCESS_TOKEN_USER = "demo"
"""The user an ``8A:…`` access token stands for."""


def is_access_token(value: str) -> bool:
    """Whether ``value`` looks like an OAuth access token (``8A:`` and something more)."""
    return value.startswith("8A:") and len(value) > 3


class Sessions:
    """Users, their associate ids and the tickets issued to them. Thread-safe."""

    def __init__(self, users: Mapping[str, str], *, lifetime: float, clock: Clock) -> None:
        self._passwords = dict(users)
        # Associates are numbered in the order the users were given; 0 is the system.
        self._associates = {user: number for number, user in enumerate(users, start=1)}
        self._lifetime = lifetime
        self._clock = clock
        self._last_used: dict[str, float] = {}
        self._owners: dict[str, str] = {}
        self._confined: dict[str, str] = {}
        """The tenant (casefolded) a confined user's tickets are valid for, by user."""
        self._lock = threading.Lock()
        self.logins = 0
        """Successful ``Authenticate…`` calls so far."""

    def knows(self, user: str) -> bool:
        """Whether ``user`` is one of the configured users."""
        return user in self._passwords

    def password_matches(self, user: str, password: str) -> bool:
        """Whether ``user`` exists and ``password`` is theirs (compared in constant time)."""
        expected = self._passwords.get(user)
        return expected is not None and hmac.compare_digest(
            expected.encode("utf-8"), password.encode("utf-8")
        )

    def associate_id(self, user: str) -> int:
        """The associate id of ``user``; one not in ``users`` (the access-token user) gets the
        next free number."""
        with self._lock:
            return self._associates.setdefault(user, len(self._associates) + 1)

    def principal(self, user: str, context: str | None) -> Principal:
        """Who ``user`` is, as ``AuthenticateResponse`` describes them."""
        associate_id = self.associate_id(user)
        return Principal(
            user_type=UserType.INTERNAL_ASSOCIATE,
            associate=user.upper(),
            associate_id=associate_id,
            is_person=True,
            person_id=100 + associate_id,
            contact_id=2,
            group_id=1,
            contact_owner=associate_id,
            role_id=1,
            role_name="Administrator",
            role_type=RoleType.EMPLOYEE,
            full_name=f"{user.title()} User",
            e_mail_address=f"{user}@example.com",
            ej_user_status=EjUserStatus.STATUS_NORMAL,
            database_context_identifier=context,
        )

    def issue(self, user: str, *, login: bool = False) -> str:
        """A fresh ticket for ``user``; ``login`` counts it as a successful login."""
        ticket = "7T:" + base64.b64encode(secrets.token_bytes(24)).decode("ascii")
        with self._lock:
            self._owners[ticket] = user
            self._last_used[ticket] = self._clock()
            if login:
                self.logins += 1
        return ticket

    def confine(self, user: str, tenant: str) -> None:
        """Make ``user``'s tickets valid only under ``tenant`` (any letter case)."""
        with self._lock:
            self._confined[user] = tenant.casefold()

    def user_of(self, ticket: str | None, tenant: str | None = None) -> str | None:
        """The user a ticket valid under ``tenant`` belongs to (the use renews it); None if
        not valid there."""
        if ticket is None:
            return None
        if is_access_token(ticket):
            return ACCESS_TOKEN_USER
        now = self._clock()
        with self._lock:
            user = self._owners.get(ticket)
            if user is None:
                return None
            confined = self._confined.get(user)
            if confined is not None and confined != (tenant or "").casefold():
                return None  # another tenant's NetServer has no such ticket
            if now - self._last_used[ticket] >= self._lifetime:
                # Expired tickets cannot be renewed: forget them.
                del self._owners[ticket], self._last_used[ticket]
                return None
            self._last_used[ticket] = now
            return user

    def expire_all(self) -> None:
        """Make every ticket issued so far invalid."""
        with self._lock:
            self._owners.clear()
            self._last_used.clear()
