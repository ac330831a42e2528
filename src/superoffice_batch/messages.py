"""The plain HTTP messages between the sans-I/O core and the clients that do the I/O.

Plans (see :mod:`superoffice_batch.client`) and login flows (see
:mod:`superoffice_batch.auth`) yield an :class:`HttpRequest`; the client sends it through
its capped, bounded reading and sends back a :class:`RawResponse`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

__all__ = ["HttpRequest", "RawResponse"]


class HttpRequest(NamedTuple):
    """One HTTP request to an absolute URL. ``content`` may hold secrets: never log it."""

    method: str
    url: str
    headers: Mapping[str, str]
    content: bytes = b""
    deadline: float | None = None
    """The ``time.monotonic()`` instant the exchange must end by (set by the call policy)."""

    def __repr__(self) -> str:
        # The content carries tickets and tokens; the URL and method are what identify it.
        return f"HttpRequest({self.method} {self.url})"


class RawResponse(NamedTuple):
    """The parts of an HTTP reply the readers use: status, Content-Type, decoded body."""

    status_code: int
    content_type: str | None
    content: bytes
    retry_after: str | None = None
    """The ``Retry-After`` header, if any (read by :mod:`superoffice_batch.resend`)."""
