"""Telling a host application about the secrets the library derives at run time.

A host such as Apache Airflow masks known secrets in its own logs. The secrets it was
given (a password, a client secret) it knows; the ones the library makes from them (a
ticket, a signed system-user token, the exchange's JWT) it cannot know unless told. A
listener registered here is called with each such secret as soon as it exists, before it
is sent or used.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["add_secret_listener", "announce_secret", "remove_secret_listener"]

SecretListener = Callable[[str], object]

_listeners: tuple[SecretListener, ...] = ()
_lock = threading.Lock()


def add_secret_listener(listener: SecretListener) -> None:
    """Call ``listener(secret)`` with every secret the library derives from here on.

    Process-wide, as log masking is: tickets from every ``auth=`` source, and a
    ``SystemUser``'s signed system-user tokens and JWTs. An exception from the listener
    propagates, and the call that derived the secret fails before using it. Adding the
    same listener twice registers it once.
    """
    if not callable(listener):
        raise TypeError(f"listener must be callable, not {type(listener).__name__}")
    global _listeners
    with _lock:
        if listener not in _listeners:
            _listeners = (*_listeners, listener)


def remove_secret_listener(listener: SecretListener) -> None:
    """Stop calling ``listener``; a listener that is not registered is ignored."""
    global _listeners
    with _lock:
        _listeners = tuple(known for known in _listeners if known != listener)


def announce_secret(secret: str) -> None:
    """Hand a secret the library just derived to every listener."""
    for listener in _listeners:
        listener(secret)
