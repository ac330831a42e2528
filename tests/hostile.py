"""What a hostile endpoint sends: compression bombs, built without holding what they inflate to."""

from __future__ import annotations

import gzip
import zlib

_CHUNK = 1024 * 1024


def gzip_bomb(size: int, layers: int = 1) -> bytes:
    """``size`` zero bytes gzipped ``layers`` times, built a MiB at a time (about size/1000)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(_CHUNK)
    parts = []
    for offset in range(0, size, _CHUNK):
        parts.append(compressor.compress(zeros[: min(_CHUNK, size - offset)]))
    parts.append(compressor.flush())
    body = b"".join(parts)
    for _ in range(layers - 1):
        body = gzip.compress(body, 9)
    return body


def chunks(body: bytes, size: int = 16 * 1024) -> list[bytes]:
    """``body`` in pieces, as a server streams it."""
    return [body[offset : offset + size] for offset in range(0, len(body), size)] or [b""]
