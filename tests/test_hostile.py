"""A hostile endpoint: compression bombs, stacked and unknown codings, against both clients."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import Callable
from functools import cache
from typing import Any

import httpx
import pytest
import respx

from flavors import DEFAULT_TASK, SyncFlavor
from hostile import chunks, gzip_bomb
from replies import started
from superoffice_batch import HttpError, ProtocolError, SoapVersion
from superoffice_batch.decoding import CappedBody
from superoffice_batch.errors import EXCERPT_CHARS

LIMIT = 1024 * 1024
BOMB_SIZE = 64 * 1024 * 1024


@cache
def _bomb(layers: int) -> bytes:
    return gzip_bomb(BOMB_SIZE, layers)


def _encoded(
    flavor: SyncFlavor, body: bytes, coding: str, status: int = 200, piece: int = 16 * 1024
) -> httpx.Response:
    return httpx.Response(
        status,
        headers={"Content-Encoding": coding, "Content-Type": "application/soap+xml"},
        content=flavor.streamed(chunks(body, piece)),
    )


def _reply_body() -> bytes:
    return started(SoapVersion.SOAP12, 4711).content


@pytest.mark.parametrize(("layers", "coding"), [(1, "gzip"), (2, "gzip, gzip")])
def test_a_gzip_bomb_is_refused_with_memory_bounded_by_the_limit(
    batch: respx.Route,
    make: Callable[..., Any],
    flavor: SyncFlavor,
    layers: int,
    coding: str,
) -> None:
    bomb = _bomb(layers)
    batch.mock(side_effect=[_encoded(flavor, bomb, coding)])
    client = make(soap_version=SoapVersion.SOAP12, ticket="7T:abcdef", max_response_bytes=LIMIT)

    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError, match="exceeds the limit"):
            flavor.start(client)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # httpx inflates a whole chunk through every layer at once: 64 MiB here, 4 GiB for
    # a 7 KB double bomb. Decoded step by step the peak stays near the limit.
    assert peak < 4 * LIMIT
    assert batch.call_count == 1


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda body: zlib.compress(body)[2:-4]),  # raw deflate, as old IIS sends
        ("gzip, gzip", lambda body: gzip.compress(gzip.compress(body))),
        ("deflate, gzip", lambda body: gzip.compress(zlib.compress(body))),
        ("identity, GZIP", gzip.compress),
        ("", lambda body: body),
    ],
)
def test_an_encoded_reply_is_decoded_layer_by_layer(
    batch: respx.Route,
    make: Callable[..., Any],
    flavor: SyncFlavor,
    coding: str,
    encode: Callable[[bytes], bytes],
) -> None:
    batch.mock(side_effect=[_encoded(flavor, encode(_reply_body()), coding, piece=7)])
    client = make(soap_version=SoapVersion.SOAP12, ticket="7T:abcdef")

    assert flavor.start(client) == 4711


def test_the_client_asks_only_for_codings_it_decodes(
    batch: respx.Route, make: Callable[..., Any], flavor: SyncFlavor
) -> None:
    batch.mock(side_effect=[started(SoapVersion.SOAP12)])

    flavor.start(make(soap_version=SoapVersion.SOAP12, ticket="7T:abcdef"))

    assert batch.calls.last.request.headers["Accept-Encoding"] == "gzip, deflate"


NOT_ENCODED = b"not what it says"


@pytest.mark.parametrize(
    ("coding", "body", "status", "match"),
    [
        ("br", NOT_ENCODED, 200, "unsupported Content-Encoding: br"),
        ("zstd", NOT_ENCODED, 500, "unsupported Content-Encoding: zstd"),
        ("gzip, gzip, gzip", NOT_ENCODED, 200, "3 Content-Encoding layers"),
        # zlib's rule, not its "Error -3 while decompressing data: ...".
        ("gzip", NOT_ENCODED, 200, "not valid gzip: incorrect header check"),
        (
            "gzip",
            gzip.compress(_reply_body()) + b"garbage",
            200,
            "not valid gzip: bytes follow the end",
        ),
    ],
    ids=["br", "zstd", "three layers", "not gzip", "gzip and garbage"],
)
def test_a_reply_with_codings_the_client_will_not_decode_is_a_protocol_error_not_resent(
    batch: respx.Route,
    make: Callable[..., Any],
    flavor: SyncFlavor,
    coding: str,
    body: bytes,
    status: int,
    match: str,
) -> None:
    batch.mock(
        side_effect=[
            _encoded(flavor, body, coding, status),
            started(SoapVersion.SOAP12),
        ]
    )
    client = make(soap_version=SoapVersion.SOAP12, ticket="7T:abcdef")

    with pytest.raises(ProtocolError, match=match) as caught:
        flavor.start(client)

    assert caught.value.status_code == status
    assert batch.call_count == 1


def _empty_blocks(count: int) -> bytes:
    """A gzip stream of ``count`` empty stored blocks: long, yet it inflates to nothing."""
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
    empty, last = b"\x00\x00\x00\xff\xff", b"\x01\x00\x00\xff\xff"
    return header + empty * count + last + bytes(8)  # CRC32 and size of nothing: 0


def test_the_raw_bytes_of_a_compressed_body_count_against_the_limit(
    batch: respx.Route, make: Callable[..., Any], flavor: SyncFlavor
) -> None:
    body = _empty_blocks(LIMIT // 4)
    assert len(body) > LIMIT
    batch.mock(side_effect=[_encoded(flavor, body, "gzip", status=502)])
    client = make(soap_version=SoapVersion.SOAP12, ticket="7T:abcdef", max_response_bytes=LIMIT)

    with pytest.raises(HttpError, match="exceeds the limit") as caught:
        flavor.start(client)

    assert caught.value.status_code == 502


def test_a_reply_of_unterminated_secret_tags_is_classified_without_freezing(
    batch: respx.Route, make: Callable[..., Any], flavor: SyncFlavor
) -> None:
    # Before, masking this 1.6 MB body backtracked quadratically: hours, holding the GIL.
    body = b"<Ticket " * 200_000
    batch.mock(side_effect=[httpx.Response(200, content=body)])
    client = make(soap_version=SoapVersion.SOAP12, ticket="7T:abcdef")

    with pytest.raises(ProtocolError) as caught:
        flavor.run_within(60, lambda: client.start_batch_job(DEFAULT_TASK))

    assert caught.value.excerpt == ("<Ticket " * 300)[: EXCERPT_CHARS - 1] + "…"


# -- codings that do not end with the body ------------------------------------------------


def _fed(raw: bytes, coding: str = "gzip") -> bytes:
    body = CappedBody(200, {"content-encoding": coding}, 1 << 20)
    for offset in range(0, len(raw), 7):
        body.feed(raw[offset : offset + 7])
    body.finish()
    return body.content()


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (gzip.compress(_reply_body()) + b"garbage", "bytes follow the end"),
        (gzip.compress(_reply_body()) + gzip.compress(b"more"), "bytes follow the end"),
        (gzip.compress(_reply_body())[:-8], "ends early"),
        (gzip.compress(_reply_body())[:-3], "ends early"),
    ],
    ids=["trailing garbage", "second member", "no trailer", "cut trailer"],
)
def test_gzip_that_does_not_end_with_the_body_is_refused(raw: bytes, problem: str) -> None:
    with pytest.raises(ProtocolError, match=f"not valid gzip: .*{problem}"):
        _fed(raw)


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_with_trailing_garbage_is_refused(wbits: int) -> None:
    compressor = zlib.compressobj(wbits=wbits)
    raw = compressor.compress(_reply_body()) + compressor.flush() + b"tail"
    with pytest.raises(ProtocolError, match="bytes follow the end"):
        _fed(raw, "deflate")


@pytest.mark.parametrize(
    ("raw", "coding", "rule"),
    [
        (b"\x1f\x8b\x08\x00" + b"x" * 40, "gzip", "invalid stored block lengths"),
        (b"\x78\x9c\xff\xff\xff\xff", "deflate", "invalid block type"),
    ],
    ids=["gzip", "deflate"],
)
def test_a_broken_stream_says_zlibs_rule_without_its_return_code(
    raw: bytes, coding: str, rule: str
) -> None:
    with pytest.raises(ProtocolError, match=f"^reply body is not valid {coding}: {rule} "):
        _fed(raw, coding)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "gzip, gzip"])
def test_a_whole_compressed_body_and_an_empty_one_are_read(coding: str) -> None:
    raw = _reply_body()
    for layer in coding.split(", "):
        raw = gzip.compress(raw) if layer == "gzip" else zlib.compress(raw)
    assert _fed(raw, coding) == _reply_body()
    assert _fed(b"", coding) == b""
