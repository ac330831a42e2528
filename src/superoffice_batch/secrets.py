"""Where a secret is registered: what a client must never show, and where it is kept.

Each client has one :class:`Secrets` registry. Everything a call may send that would give
access to the tenant is registered in it as soon as the client has it: the ticket (each
new one), the application token (Online's client secret), a password or access token,
a system user's token and private key, the signed system-user token and the JWT of each
exchange. The gate (:mod:`~superoffice_batch.servertext`) masks every registered value
wherever server text reaches an error, a log line or a terminal; server text carries the
registry's :attr:`Secrets.view` with it (``ServerText(content, secrets)``).

The values of :meth:`Secrets.register_latest` (tickets, signed tokens, JWTs: what the
library derives) also go to the host application's listeners
(:func:`~superoffice_batch.add_secret_listener`).

A value spanning lines (a PEM or RSAXML key) is registered line by line too: a server
quoting one line of it must not show that line. The names of the elements that carry a
secret in an envelope (:data:`SECRET_ELEMENTS`) are masked whatever their content.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable

from .secret_listeners import announce_secret

__all__ = ["NO_SECRETS", "SECRET_ELEMENTS", "SecretView", "Secrets"]

SECRET_ELEMENTS = (
    "Ticket",
    "ApplicationToken",
    "Password",
    "AccessToken",
    "SignedSystemToken",
    "Token",
)
"""Elements whose content is a secret, in any namespace: masked even when not registered."""

# The pieces of a secret spanning lines that are secrets of their own: runs of this many
# characters between whitespace or markup (a key's base64 lines, not "-----BEGIN").
_PIECE = r"[^\s<>]{16,}"


class SecretView:
    """What the gate masks: a fixed set of secrets, a registry's snapshot.

    Immutable, so server text that carries one masks the same values however the registry
    changes afterwards; :meth:`plus` adds the values of one call (a login's password).
    """

    __slots__ = ("values",)

    def __init__(self, values: Iterable[str] = ()) -> None:
        found: dict[str, None] = {}
        for value in values:
            if value and value.strip():
                found[value] = None
                if "\n" in value:
                    found.update(dict.fromkeys(re.findall(_PIECE, value)))
        self.values: tuple[str, ...] = tuple(found)
        """The secrets, each once, in the order registered."""

    @classmethod
    def of(cls, secrets: SecretView | Iterable[str]) -> SecretView:
        """``secrets`` as a view (the public parsers take plain strings too)."""
        if isinstance(secrets, SecretView):
            return secrets
        if isinstance(secrets, tuple):  # the same few, parse after parse: made once
            return _view_of(secrets)
        return cls(secrets)

    def plus(self, values: Iterable[str]) -> SecretView:
        """This view and ``values``; itself when they add nothing."""
        extra = [value for value in values if value not in self.values]
        return SecretView((*self.values, *extra)) if extra else self

    def __repr__(self) -> str:
        return f"<SecretView of {len(self.values)} secrets>"


_view_of = functools.lru_cache(maxsize=32)(SecretView)

NO_SECRETS = SecretView()
"""The view of a caller that holds no secret: only ticket shapes and secret elements."""


class Secrets:
    """One client's registry of what it must never show. Thread-safe.

    Values registered with :meth:`register` stay for the client's life; those of a kind
    that is replaced over time (a ticket, a signed token, a JWT) go through
    :meth:`register_latest`, which keeps the latest two of each kind, so that a reply to
    a call sent before a refresh is masked too.
    """

    __slots__ = ("_kept", "_latest", "_lock", "view")

    def __init__(self, *values: str | None) -> None:
        self._lock = threading.Lock()
        self._kept: dict[str, None] = {}
        self._latest: dict[str, tuple[str, ...]] = {}
        self.view: SecretView = NO_SECRETS
        """What the gate masks now: read on every call, so it is rebuilt only on change."""
        self.register(*values)

    def register(self, *values: str | None) -> None:
        """Never show these values (None and empty strings are ignored)."""
        fresh = [value for value in values if value and value not in self._kept]
        if fresh:
            with self._lock:
                self._kept.update(dict.fromkeys(fresh))
                self._rebuild()

    def register_latest(self, kind: str, value: str | None) -> None:
        """``value`` is the newest secret of ``kind`` (``"ticket"``…); the one before it is
        kept as well, older ones are forgotten."""
        if not value or value in self._latest.get(kind, ()):
            return
        with self._lock:
            self._latest[kind] = (*self._latest.get(kind, ())[-1:], value)
            self._rebuild()
        announce_secret(value)  # derived at run time: the host's masking learns it here

    def _rebuild(self) -> None:
        latest = (value for values in self._latest.values() for value in values)
        self.view = SecretView((*self._kept, *latest))

    def __repr__(self) -> str:
        return f"<Secrets: {len(self.view.values)} registered>"
