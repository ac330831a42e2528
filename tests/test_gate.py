"""The one gate for server text: every error path, every echoed form, every road out.

Each hostile reply below reaches one error path of the library with the client's secrets
echoed in it, in one of the forms servers write text in. Whatever the path, no secret may
show in the error (``str()``, ``repr()``, every attribute) or in any log line, DEBUG
envelope logs included.
"""

from __future__ import annotations

import gzip
import html
import json
import logging
import subprocess
import sys
import textwrap
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from flavors import SyncFlavor
from replies import CONTENT_TYPES
from superoffice_batch import SoapVersion, SuperOfficeError
from superoffice_batch.cli._output import clean, json_line
from superoffice_batch.errors import EXCERPT_CHARS
from superoffice_batch.secrets import NO_SECRETS, SecretView
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


# -- the gate itself: one table per rule ------------------------------------------------


def shown(text: str | bytes, *secrets: str, limit: int | None = None, kind: str = "") -> str:
    return reveal(ServerText(text, SecretView(secrets), kind or None), limit=limit)


def test_server_text_has_no_str_of_its_own_and_takes_only_a_secret_view() -> None:
    text = ServerText(b"7T:abc", NO_SECRETS)

    with pytest.raises(TypeError, match="reveal"):
        str(text)
    with pytest.raises(TypeError, match="reveal"):
        f"{text}"
    assert repr(text) == "<ServerText of 6 bytes>"
    assert reveal(text) == "7T:***"
    with pytest.raises(TypeError, match="SecretView"):
        ServerText("x", (TICKET,))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ServerText"):
        reveal("7T:abcdef")  # type: ignore[arg-type]


PASSWORD = "hunter2 <pass> & 'more'"
NON_ASCII = "pässwört"


def _xml_escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# (secret, what the server wrote): every form a server echoes text in.
ECHOES = {
    "xml-escaped": (PASSWORD, _xml_escaped(PASSWORD)),
    "html-escaped": (PASSWORD, html.escape(PASSWORD)),
    "escaped twice": (PASSWORD, html.escape(_xml_escaped(PASSWORD))),
    "xml-escaped twice": (PASSWORD, _xml_escaped(_xml_escaped(PASSWORD))),
    "whitespace collapsed": (PASSWORD, " ".join(PASSWORD.split())),
    "decimal references, non-ASCII": (NON_ASCII, "p&#228;ssw&#246;rt"),
    "percent-encoded UTF-8": (NON_ASCII, "p%C3%A4ssw%C3%B6rt"),
    "json-escaped, case changed": (NON_ASCII, "P\\u00e4SSW\\u00f6RT"),
    "named references": (NON_ASCII, "p&auml;ssw&ouml;rt"),
    "upper case": (NON_ASCII, "PÄSSWÖRT"),
    "reference escaped again": (NON_ASCII, "p&amp;#228;ssw&amp;#246;rt"),
}


@pytest.mark.parametrize(("secret", "echo"), ECHOES.values(), ids=ECHOES.keys())
def test_a_known_secret_is_masked_in_each_echoed_form(secret: str, echo: str) -> None:
    assert shown(f"<p>Request was: password={echo};</p>", secret) == (
        "<p>Request was: password=***;</p>"
    )


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        # A secret under six characters is masked only as a whole token.
        ("ConnectError: e refused", ("e",), "ConnectError: *** refused"),
        ("abcdef xabc abc_d abc.", ("abc",), "abcdef xabc abc_d ***."),
        ("port 123456 or 12345", ("12345",), "port 123456 or ***"),
        ("a&amp;bc and a&amp;b", ("a&b",), "a&amp;bc and ***"),
        ("xxhunter2yy", ("hunter",), "xx***2yy"),  # six characters: inside words too
        # The escaped parts around a secret stay as they were.
        ("a&amp;b 7T&#x3a;abcdef c%20d", (), "a&amp;b 7T&#x3a;*** c%20d"),
        # Secret elements, whatever their content; hostile shapes are left alone.
        ("<Ticket " * 50, (), "<Ticket " * 50),
        ("<Ticket>" * 3 + "7x", (), "<Ticket>***" * 3),
        ("<p:Password a='1'>top secret</p:Password>", (), "<p:Password a='1'>***</p:Password>"),
        ("<Password><![CDATA[a]]>b<![CDATA[c]]></Password>", (), "<Password>***</Password>"),
        ("<Password><![CDATA[no end <x>", (), "<Password>***"),
        ("<Ticket/>secret", (), "<Ticket/>secret"),
        ("<AccessToken >q</AccessToken>", (), "<AccessToken >***</AccessToken>"),
        (
            "<x:SignedSystemToken>s.t.u</x:SignedSystemToken>",
            (),
            "<x:SignedSystemToken>***</x:SignedSystemToken>",
        ),
        (
            "".join(f"<Ticket>s{i}</Ticket>" for i in range(20000)),
            (),
            "<Ticket>***</Ticket>" * 20000,
        ),
    ],
)
def test_masking_rules(text: str, secrets: tuple[str, ...], expected: str) -> None:
    assert shown(text, *secrets) == expected


LEAD = EXCERPT_CHARS - 1


@pytest.mark.parametrize(
    ("body", "secrets", "expected"),
    [
        # The start of a secret element, or of a ticket, that the cut left at the end.
        *(
            (
                f"{'x' * (LEAD - 8 - n)}<Ticket>{TICKET[:-3]}abc</Ticket> and more",
                (),
                f"{'x' * (LEAD - 8 - n)}<Ticket>***"[:LEAD] + "…",
            )
            for n in (3, 5, 8)
        ),
        *(
            (
                f"{'x' * (LEAD - 5 - n)} {TICKET} and more",
                (),
                f"{'x' * (LEAD - 5 - n)} 7T:***"[:LEAD] + "…",
            )
            for n in (1, 2, 3, 4)
        ),
        # A short secret cut at the end; a word that only ends like one stays.
        (f"{'x' * (LEAD - 3)} abcd and more", ("abcd",), f"{'x' * (LEAD - 3)} ***"[:LEAD] + "…"),
        (f"{'x' * (LEAD - 2)}abcd and more", ("abcd",), f"{'x' * (LEAD - 2)}ab…"),
        # Whitespace runs collapse first, so a secret with runs is found in the excerpt.
        (
            "<html><body>you sent pass   phrase\twith\n\nruns which is wrong</body></html>",
            ("pass   phrase\twith\n\nruns",),
            "<html><body>you sent *** which is wrong</body></html>",
        ),
        (" \n\t" * 100000 + "<b>7T:abcdef</b>", (), "<b>7T:***</b>"),
        ("<html>" + "A" * (50 * 1024 * 1024), (), "<html>" + "A" * (EXCERPT_CHARS - 7) + "…"),
    ],
    ids=lambda value: str(len(value)) if isinstance(value, str) else None,
)
def test_an_excerpt_is_cut_before_it_is_masked(
    body: str, secrets: tuple[str, ...], expected: str
) -> None:
    assert shown(body.encode(), *secrets, limit=EXCERPT_CHARS) == expected


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        *(
            (f"<html>ticket {TICKET} was refused</html>".encode(encoding), f"charset={encoding}")
            for encoding in ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be")
        ),
        (f"<html>ticket {TICKET} was refused</html>".encode("latin-1"), "charset=ISO-8859-1"),
    ],
)
def test_bytes_are_decoded_before_they_are_masked(body: bytes, kind: str) -> None:
    assert shown(body, TICKET, limit=2048, kind=f"text/html; {kind}") == (
        "<html>ticket *** was refused</html>"
    )


# The one terminal rule: (character, replaced?).
TERMINAL = {
    "ESC": ("\x1b", True),
    "BEL": ("\x07", True),
    "CR": ("\r", True),
    "DEL": ("\x7f", True),
    "CSI (C1)": ("\x9b", True),
    "RLO": ("\u202e", True),
    "LRI": ("\u2066", True),
    "ALM": ("\u061c", True),
    "zero-width space": ("\u200b", True),
    "word joiner": ("\u2060", True),
    "BOM": ("\ufeff", True),
    "soft hyphen": ("\xad", True),
    "line separator": ("\u2028", True),
    "tag character": ("\U000e0041", True),
    "Hangul filler": ("\u3164", True),
    "private use": ("\ue000", True),
    "kitty placeholder": ("\U0010eeee", True),
    "lone surrogate": ("\ud800", True),
    "newline": ("\n", False),
    "tab": ("\t", False),
    "NBSP": ("\xa0", False),
    "ideographic space": ("\u3000", False),
    "letter": ("é", False),
    "emoji": ("\U0001f600", False),
}


@pytest.mark.parametrize(("char", "replaced"), TERMINAL.values(), ids=TERMINAL.keys())
def test_one_rule_for_what_reaches_a_terminal(char: str, replaced: bool) -> None:
    expected = "a b" if replaced else f"a{char}b"

    assert for_terminal(f"a{char}b") == expected
    assert shown(f"a{char}b") == expected  # the gate ends with it
    assert clean(f"a{char}b") == " ".join(expected.split())  # the command line's one line
    assert json.loads(json_line({"v": f"a{char}b"}))["v"] == f"a{char}b"  # escaped, kept
    if replaced:
        assert char not in json_line({"v": f"a{char}b"})


def test_masking_a_large_hostile_text_stays_linear() -> None:
    piece = "&#55;T&#x3a;" + "%41" * 20 + " \\u0041 &amp;#55; "
    small, large = piece * 2000, piece * 20000
    timings = []
    for text in (small, large):
        began = time.perf_counter()
        shown(text, *SECRETS)
        timings.append(time.perf_counter() - began)

    assert timings[1] < timings[0] * 10 * 3  # ten times the text, not a hundred times the time


# Hostile sizes: run in a child process with a hang guard (not a benchmark). Before the
# fix "<Ticket " * 12500 (100 KB) took about 25 s and grew quadratically.
ATTACKS = {
    "unterminated secret start tags": '"<Ticket " * 262144',  # 2 MiB
    "start tags without content": '"<Password>" * 200000',
    "unterminated CDATA": '"<Ticket><![CDATA[" * 120000',
    "ticket prefixes": '"7T:" * 700000',
    "many small secret elements": '"<Ticket>x</Ticket>" * 120000',
}


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def test_masking_a_hostile_reply_finishes(attack: str) -> None:
    code = textwrap.dedent(
        f"""
        from superoffice_batch.secrets import SecretView
        from superoffice_batch.servertext import ServerText, reveal
        text = {attack}
        secrets = SecretView(["hunter2"])
        reveal(ServerText(text, secrets))
        reveal(ServerText(text.encode(), secrets), limit=2048)
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


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
