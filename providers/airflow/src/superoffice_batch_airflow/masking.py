"""Airflow's log masking, told about every secret a connection holds or the library derives.

Airflow masks a connection's ``password`` and the extras whose names it deems sensitive.
It cannot know the on-site ``extra.ticket``, a key read from ``extra.private_key_file``,
or what superoffice-batch derives at run time (tickets, signed system-user tokens, JWTs):
those are registered here, the derived ones through
:func:`superoffice_batch.add_secret_listener` as soon as they exist.
"""

from __future__ import annotations

from collections.abc import Iterable

# Where Airflow itself tells providers to take redact() from (3.1+).
from airflow.sdk._shared.secrets_masker import redact
from airflow.sdk.log import mask_secret

from superoffice_batch import add_secret_listener

__all__ = ["mask", "redacted"]


def mask(secrets: Iterable[str]) -> None:
    """Have Airflow mask each secret, and each line of a multi-line one (a PEM key)."""
    for secret in secrets:
        mask_secret(secret)
        lines = secret.splitlines()
        if len(lines) > 1:
            for line in lines:
                mask_secret(line.strip())


def redacted(text: str | None) -> str | None:
    """``text`` with every secret Airflow knows masked (server text bound for XCom)."""
    if text is None:
        return None
    return str(redact(text))


def mask_derived(secret: str) -> None:
    """Mask a secret the library derived, and each long part of a dotted one.

    A signed system-user token starts with the system-user token, and Airflow's masker
    may match that shorter secret first, leaving the signature after it visible; masking
    the parts (signature, JWT payload) on their own closes that gap.
    """
    mask_secret(secret)
    for part in secret.split("."):
        if len(part) >= _LONG_PART:
            mask_secret(part)


_LONG_PART = 16
add_secret_listener(mask_derived)
