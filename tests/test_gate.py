"""The one gate for server text: every error path, every echoed form, every road out.

Each hostile reply below reaches one error path of the library with the client's secrets
echoed in it, in one of the forms servers write text in. Whatever the path, no secret may
show in the error (``str()``, ``repr()``, every attribute) or in any log line, DEBUG
envelope logs included.
"""

from __future__ import annotations

import gzip
import logging
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from flavors import SyncFlavor
from replies import CONTENT_TYPES
from superoffice_batch import SoapVersion, SuperOfficeError
from superoffice_batch.servertext import ServerText, for_terminal, reveal
from test_replies import exposed_text

TICKET = "7T:SeCrEtTicket42xyzQ=="
APP_TOKEN = "AppTokenSecret9f8e7d"
SECRETS = (TICKET, APP_TOKEN)
SOAP = SoapVersion.SOAP12
S12 = "http://www.w3.org/2003/05/soap-envelope"
TNS = "http://www.superoffice.net/ws/crm/NetServer/Services88"


def _decimal(text: str) -> str:
    return "".join(f"&#{ord(char)};" for char in text)


def _hexadecimal(text: str) -> str:
    return "".join(f"&#x{ord(char):x};" for char in text)


def _json(text: str) -> str:
    return "".join(f"\\u{ord(char):04x}" if not char.isalnum() else char for char in text)


FORMS: dict[str, Callable[[str], str]] = {
    "raw": lambda text: text,
    "decimal references": _decimal,
    "hex references": _hexadecimal,
    "first character as reference": lambda text: f"&#{ord(text[0])};{text[1:]}",
    "percent-encoded": lambda text: urllib.parse.quote(text, safe=""),
    "percent-encoded, all of it": lambda text: "".join(f"%{byte:02X}" for byte in text.encode()),
    "json-escaped": _json,
    "upper case": str.upper,
    "lower case": str.lower,
    "escaped twice": lambda text: _decimal(text).replace("&", "&amp;"),
}


def _shows(text: str) -> list[str]:
    """The secrets (or a long piece of one) that ``text`` shows, in any letter case."""
    folded = text.lower()
    return [secret for secret in SECRETS if secret.lower()[3:15] in folded]


def _envelope(body: str, header: str = "") -> bytes:
    head = f"<s:Header>{header}</s:Header>" if header else ""
    return (
        f'<s:Envelope xmlns:s="{S12}" xmlns:b="{TNS}" '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">{head}'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def _soap(content: bytes, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, content=content, headers={"Content-Type": CONTENT_TYPES[SOAP], **headers}
    )


def _fault(code: str, reason: str, detail: str = "") -> bytes:
    return _envelope(
        f'<s:Fault><s:Code><s:Value xmlns:x="urn:x">{code}</s:Value></s:Code>'
        f'<s:Reason><s:Text xml:lang="en">{reason}</s:Text></s:Reason>{detail}</s:Fault>'
    )


def _start(value: str) -> bytes:
    return _envelope(
        f"<b:StartBatchJobResponse><b:Response>{value}</b:Response></b:StartBatchJobResponse>"
    )


# Each builds a reply from one echo of the secrets (``echo(secret)``) for one error path.
PATHS: dict[str, Callable[[Callable[[str], str]], httpx.Response]] = {
    "html page, non-2xx": lambda echo: httpx.Response(
        502, text=f"<html>you sent {echo(TICKET)} and {echo(APP_TOKEN)}</html>"
    ),
    "not xml, 2xx": lambda echo: httpx.Response(200, text=f"oops {echo(TICKET)} {echo(APP_TOKEN)}"),
    "utf-16 page": lambda echo: httpx.Response(
        500,
        content=f"<html>{echo(TICKET)} {echo(APP_TOKEN)}</html>".encode("utf-16"),
        headers={"Content-Type": "text/html; charset=utf-16"},
    ),
    "utf-16 page without bom": lambda echo: httpx.Response(
        500, content=f"<html>{echo(TICKET)} {echo(APP_TOKEN)}</html>".encode("utf-16-le")
    ),
    "utf-32 page": lambda echo: httpx.Response(
        500, content=f"<p>{echo(TICKET)} {echo(APP_TOKEN)}</p>".encode("utf-32")
    ),
    "not an envelope": lambda echo: _soap(f"<x>{echo(TICKET)} {echo(APP_TOKEN)}</x>".encode()),
    "fault reason and detail": lambda echo: _soap(
        _fault(
            "s:Receiver",
            f"{echo(TICKET)} / {echo(APP_TOKEN)}",
            f"<s:Detail><d>{echo(TICKET)} {echo(APP_TOKEN)}</d></s:Detail>",
        ),
        500,
    ),
    "fault code": lambda echo: _soap(_fault(f"x:{APP_TOKEN}", "no"), 500),
    "service error": lambda echo: _soap(
        _envelope(
            "<b:StartBatchJobResponse/>",
            f"<b:ExceptionInfo><b:Message>{echo(TICKET)}</b:Message>"
            f"<b:FriendlyText>{echo(APP_TOKEN)}</b:FriendlyText>"
            f"<b:Parameters><b:SoExceptionInfoParametersKeyValuePair><b:Key>{echo(APP_TOKEN)}</b:Key>"
            f"<b:Value>{echo(TICKET)}</b:Value></b:SoExceptionInfoParametersKeyValuePair>"
            "</b:Parameters></b:ExceptionInfo>",
        )
    ),
    "element name": lambda echo: _soap(
        _envelope(f'<y:{APP_TOKEN} xmlns:y="urn:x">{echo(TICKET)}</y:{APP_TOKEN}>')
    ),
    "layout: unexpected element": lambda echo: _soap(
        f'<s:Envelope xmlns:s="{S12}"><z:{APP_TOKEN} xmlns:z="urn:x"/>'
        "<s:Body/></s:Envelope>".encode()
    ),
    "malformed value": lambda echo: _soap(_start(echo(TICKET) + echo(APP_TOKEN))),
    "malformed Succeeded": lambda echo: _soap(
        _envelope(
            "<b:StartBatchJobResponse/>",
            f"<b:Succeeded>{echo(TICKET)}{echo(APP_TOKEN)}</b:Succeeded>",
        )
    ),
    "content type": lambda echo: httpx.Response(
        502,
        text="bad gateway",
        headers={"Content-Type": f"text/html; x={urllib.parse.quote(TICKET)}; y={APP_TOKEN}"},
    ),
    "content type of an oversized reply": lambda echo: httpx.Response(
        502,
        content=b"x" * 5000,
        headers={"Content-Type": f"text/html; y={APP_TOKEN}"},
    ),
    "content encoding name": lambda echo: httpx.Response(
        200,
        stream=httpx.ByteStream(b"whatever"),
        headers={"Content-Encoding": f"gzip, {APP_TOKEN}"},
    ),
    "gzip with a trailer of secrets": lambda echo: httpx.Response(
        200,
        stream=httpx.ByteStream(gzip.compress(b"<x/>") + APP_TOKEN.encode()),
        headers={"Content-Encoding": "gzip"},
    ),
}


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
def test_no_error_path_shows_a_secret_in_any_form(
    batch: respx.Route,
    make: Callable[..., Any],
    flavor: SyncFlavor,
    caplog: pytest.LogCaptureFixture,
    path: Callable[[Callable[[str], str]], httpx.Response],
    form: Callable[[str], str],
) -> None:
    batch.mock(return_value=path(form))
    client = make(
        ticket=TICKET, application_token=APP_TOKEN, soap_version=SOAP, max_response_bytes=4096
    )
    caplog.set_level(logging.DEBUG, logger="superoffice_batch")

    with pytest.raises(SuperOfficeError) as caught:
        flavor.start(client)

    assert _shows(exposed_text(caught.value)) == []
    logged = [record.getMessage() for record in caplog.records]
    assert logged, "the DEBUG envelope logs were written"
    assert [line for line in logged if _shows(line)] == []


def test_server_text_has_no_str_of_its_own() -> None:
    text = ServerText(b"7T:abc")

    with pytest.raises(TypeError, match="reveal"):
        str(text)
    with pytest.raises(TypeError, match="reveal"):
        f"{text}"
    assert repr(text) == "<ServerText of 6 bytes>"
    assert reveal(text) == "7T:***"


@pytest.mark.parametrize(
    ("echo", "shown"),
    [
        ("p&#228;ssw&#246;rt", "***"),  # .NET HtmlEncode of non-ASCII
        ("p%C3%A4ssw%C3%B6rt", "***"),
        ("P\\u00e4SSW\\u00f6RT", "***"),
        ("p&auml;ssw&ouml;rt", "***"),
        ("PÄSSWÖRT", "***"),
        ("p&amp;#228;ssw&amp;#246;rt", "***"),
    ],
)
def test_a_non_ascii_password_is_masked_in_each_form(echo: str, shown: str) -> None:
    assert (
        reveal(ServerText(f"login as x with {echo}."), ["pässwört"]) == f"login as x with {shown}."
    )


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"])
def test_a_wide_page_is_decoded_before_it_is_masked(encoding: str) -> None:
    body = f"<html>ticket {TICKET} was refused</html>".encode(encoding)

    shown = reveal(ServerText(body, f"text/html; charset={encoding}"), [TICKET], limit=2048)

    assert shown == "<html>ticket *** was refused</html>"


def test_a_latin_1_page_is_decoded_by_its_charset() -> None:
    body = "<p>pässwört abgelehnt</p>".encode("latin-1")

    shown = reveal(ServerText(body, "text/html; charset=ISO-8859-1"), ["pässwört"], limit=100)

    assert shown == "<p>*** abgelehnt</p>"


def test_the_escaped_parts_around_a_secret_stay_as_they_were() -> None:
    text = "a&amp;b 7T&#x3a;abcdef c%20d"

    assert reveal(ServerText(text)) == "a&amp;b 7T&#x3a;*** c%20d"


def test_only_what_a_terminal_acts_on_is_replaced() -> None:
    text = "line\x1b[31mred\x07\x9b2J\u202eevil\u2066\nnext\tcol\r"

    assert for_terminal(text) == "line [31mred  2J evil \nnext\tcol "


def test_masking_a_large_hostile_text_stays_linear() -> None:
    import time

    piece = "&#55;T&#x3a;" + "%41" * 20 + " \\u0041 &amp;#55; "
    small, large = piece * 2000, piece * 20000
    timings = []
    for text in (small, large):
        began = time.perf_counter()
        reveal(ServerText(text), SECRETS)
        timings.append(time.perf_counter() - began)

    assert timings[1] < timings[0] * 10 * 3  # ten times the text, not a hundred times the time


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_a_transport_error_quoting_a_secret_does_not_show_it(
    batch: respx.Route,
    make: Callable[..., Any],
    flavor: SyncFlavor,
    form: Callable[[str], str],
) -> None:
    batch.mock(side_effect=httpx.ReadError(f"peer said {form(TICKET)} {form(APP_TOKEN)}"))
    client = make(ticket=TICKET, application_token=APP_TOKEN, soap_version=SOAP)

    with pytest.raises(SuperOfficeError) as caught:
        flavor.start(client)

    assert _shows(exposed_text(caught.value)) == []
