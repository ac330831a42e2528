"""Reading a reply body within ``max_response_bytes``, its Content-Encoding included.

httpx would inflate each received chunk through every content coding at once, before the
library sees a byte, so ``gzip(gzip(4 GiB of zeros))`` (a 7 KB body) becomes gigabytes in
memory. Here the client reads the raw bytes and inflates them itself, each layer with a
bounded output per step, counting what comes out: memory stays within a small multiple
of the limit for any body and any stack of codings. Sans-I/O: the clients feed it chunks.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from typing import TypeAlias

from .envelope import oversized
from .errors import HttpError, ProtocolError
from .secrets import NO_SECRETS, SecretView
from .servertext import ServerText

__all__ = ["ACCEPT_ENCODING", "MAX_CODINGS", "CappedBody"]

ACCEPT_ENCODING = "gzip, deflate"
"""The codings the client can decode, and so asks for (httpx may offer br or zstd)."""
MAX_CODINGS = 2
"""More content-coding layers than this are refused: no server needs them."""
_STEP = 64 * 1024  # the most one layer outputs per step
_GZIP = 16 + zlib.MAX_WBITS
_DECODABLE = ("gzip", "x-gzip", "deflate")


class _Deflate:
    """HTTP's ``deflate``: the zlib format by the standard, raw deflate from some servers.

    The first two bytes tell which (a zlib header is a checksum of itself); httpx
    accepts both too, so the client must not refuse what it used to read.
    """

    def __init__(self) -> None:
        self._decoder: zlib._Decompress | None = None
        self._head = b""

    @property
    def unconsumed_tail(self) -> bytes:
        return self._decoder.unconsumed_tail if self._decoder is not None else b""

    @property
    def eof(self) -> bool:
        return self._decoder is not None and self._decoder.eof

    @property
    def unused_data(self) -> bytes:
        return self._decoder.unused_data if self._decoder is not None else self._head

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._decoder is None:
            self._head += data
            if len(self._head) < 2:
                return b""
            data, self._head = self._head, b""
            zlib_header = data[0] & 0x0F == 8 and (data[0] * 256 + data[1]) % 31 == 0
            self._decoder = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
        return self._decoder.decompress(data, max_length)


_Layer: TypeAlias = "zlib._Decompress | _Deflate"


def _layer(coding: str) -> _Layer:
    return _Deflate() if coding == "deflate" else zlib.decompressobj(_GZIP)


def _codings(content_encoding: str | None, status_code: int, secrets: SecretView) -> list[str]:
    """The codings of a Content-Encoding header, in the order the server applied them."""
    codings = [token.strip().lower() for token in (content_encoding or "").split(",")]
    codings = [coding for coding in codings if coding and coding != "identity"]
    if len(codings) > MAX_CODINGS:
        raise ProtocolError(
            f"reply has {len(codings)} Content-Encoding layers; at most {MAX_CODINGS} are accepted",
            status_code=status_code,
        )
    for coding in codings:
        if coding not in _DECODABLE:
            raise ProtocolError(
                "reply has an unsupported Content-Encoding",
                quoting=ServerText(coding, secrets),
                status_code=status_code,
            )
    return codings


def _inflate(layers: list[_Layer], data: bytes) -> Iterator[bytes]:
    """``data`` decoded through ``layers``, in pieces of at most a step each."""
    if not layers:
        if data:
            yield data
        return
    layer, inner = layers[0], layers[1:]
    while True:
        piece = layer.decompress(data, _STEP)
        data = layer.unconsumed_tail
        yield from _inflate(inner, piece)
        # A full step may leave output pending inside the decompressor: ask again.
        if not data and len(piece) < _STEP:
            return


def _zlib_rule(error: zlib.error) -> str:
    """The rule zlib found broken ("incorrect header check"), without the return code and
    call it wraps it in ("Error -3 while decompressing data: ...")."""
    return str(error).rpartition("data: ")[2] or "not a compressed stream"


class CappedBody:
    """The decoded body of one reply, refusing to hold more than ``limit`` bytes of it.

    The declared ``Content-Length`` and the raw bytes received count against the limit
    too, so neither a large compressed body nor a large plain one is ever held.
    """

    def __init__(
        self,
        status_code: int,
        headers: Mapping[str, str],
        limit: int,
        secrets: SecretView = NO_SECRETS,
    ) -> None:
        self._status_code = status_code
        self._content_type = headers.get("content-type")
        self._limit = limit
        self._secrets = secrets  # for the header values an error quotes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise self._oversized(int(declared))
        codings = _codings(headers.get("content-encoding"), status_code, secrets)
        self._coding = ", ".join(codings)
        # Decoding undoes the last coding applied first.
        self._layers = [_layer(coding) for coding in reversed(codings)]
        self._received = 0
        self._body = bytearray()

    def feed(self, raw: bytes) -> None:
        """Take the next raw chunk of the body, as received."""
        self._received += len(raw)
        if self._received > self._limit:
            raise self._oversized(None)
        try:
            for piece in _inflate(self._layers, raw):
                self._body += piece
                if len(self._body) > self._limit:
                    raise self._oversized(None)
        except zlib.error as error:
            raise self._invalid(_zlib_rule(error)) from None

    def _invalid(self, problem: str) -> ProtocolError:
        return ProtocolError(
            f"reply body is not valid {self._coding}: {problem}", status_code=self._status_code
        )

    def finish(self) -> None:
        """Check, once the last chunk was fed, that every coding ended where the body did.

        A stream cut short (no gzip trailer, so no checksum was checked) or followed by
        bytes of no coding is refused, as it would be if it were not compressed at all.
        """
        if not self._received:
            return  # an empty body, as some servers send with any Content-Encoding
        for layer in self._layers:
            if not layer.eof:
                raise self._invalid("the compressed stream ends early")
            if layer.unused_data:
                raise self._invalid("bytes follow the end of the compressed stream")

    def take_decoded(self, content: bytes) -> None:
        """Take a body that was already read and decoded into memory (a reply an
        ``httpx.MockTransport`` or an event hook made): only its size is left to check."""
        if len(content) > self._limit:
            raise self._oversized(len(content))
        self._body = bytearray(content)

    def content(self) -> bytes:
        """The whole decoded body."""
        return bytes(self._body)

    def _oversized(self, size: int | None) -> HttpError | ProtocolError:
        return oversized(size, self._limit, self._status_code, self._content_type, self._secrets)
