"""The one gate for server text: every error path, every echoed form, every road out.

Each hostile reply below reaches one error path of the library with the client's secrets
echoed in it, in one of the forms servers write text in. Whatever the path, no secret may
show in the error (``str()``, ``repr()``, every attribute) or in any log line, DEBUG
envelope logs included.
"""

from __future__ import annotations

import base64
import gzip
import html
import importlib.util
import json
import logging
import re
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

import superoffice_batch.online as online_module
from conftest import BASE_URL, BATCH_URL, PRINCIPAL_URL
from flavors import SyncFlavor, share_default_tls_contexts
from replies import CONTENT_TYPES, authenticated, fault, service_error, started, task
from superoffice_batch import (
    BatchTaskInfo,
    BatchTaskState,
    SoapVersion,
    SuperOfficeError,
    SystemUser,
    UsernamePassword,
)
from superoffice_batch.cli import main
from superoffice_batch.cli._output import clean, json_line
from superoffice_batch.errors import EXCERPT_CHARS
from superoffice_batch.secrets import NO_SECRETS, Secrets, SecretView
from superoffice_batch.servertext import ServerText, for_terminal, reveal
from test_cli import ENV_NAMES
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


def test_the_registry_keeps_what_a_client_must_never_show() -> None:
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEF\nAASCBKcwggSjAgEAAoIBAQDb\n-----END"
    registry = Secrets("client-secret", None, "")
    before = registry.view

    registry.register(key, "client-secret")
    for ticket in ("7T:first-ticket", "7T:second-ticket", "7T:third-ticket"):
        registry.register_latest("ticket", ticket)

    assert before.values == ("client-secret",)  # a view is a snapshot
    assert registry.view.values == (
        "client-secret",
        key,
        "MIIEvQIBADANBgkqhkiG9w0BAQEF",  # a key's lines, each a secret of its own
        "AASCBKcwggSjAgEAAoIBAQDb",
        "7T:second-ticket",  # the latest two tickets
        "7T:third-ticket",
    )
    assert registry.view.plus(["pw"]).values[-1] == "pw"
    assert registry.view.plus(["client-secret"]) is registry.view
    assert shown("line AASCBKcwggSjAgEAAoIBAQDb was sent", *registry.view.values) == (
        "line *** was sent"
    )
    assert "client-secret" not in repr(registry) + repr(registry.view)


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


# -- every road from the server to a message, walked with a hostile server ------------------
#
# Each road below makes one call fail through one error path, against a server that
# echoes every secret the client holds (those it sent and those it was given), in one
# form, around characters that act on a terminal. Nothing the error or the log shows may
# hold a secret or such a character, and print() must be able to write it.

TRICKS = "\x1b[2J\x1b]0;owned\x07 \u202eevil\u2066 \u200b\x9b2J \ufeff"
ROAD_FORMS = {name: FORMS[name] for name in ("raw", "decimal references", "percent-encoded")}
ROAD_FORMS["json-escaped"] = FORMS["json-escaped"]
PASSWORD_ONSITE = "Pa55-w0rd!x-onsite"
ENV = "https://login.example"
CTX = "Cust12345"
ENDPOINT = f"https://tenant.example/{CTX}"
STATE_URL = f"{ENV}/api/state/{CTX}"
EXCHANGE_URL = f"{ENV}/Login/Services/PartnerSystemUserService.svc"
JWKS_URL = f"{ENV}/login/.well-known/jwks"
ONLINE_BATCH_URL = f"{ENDPOINT}/Remote/Services88/Batch.svc"
SYSTEM_USER_TOKEN = "SystemUserToken-7a8b9c0d1e2f"
ONLINE_TICKET = "7T:OnlineTicketFromTheJwt0123456789"
PSU = "http://www.superoffice.com/superid/partnersystemuser/0.1"
S11 = "http://schemas.xmlsoap.org/soap/envelope/"


class Hostile:
    """A server that echoes every secret it knows of, in one form, with terminal tricks.

    It knows the client's secrets from the test, and hears the ones the client makes
    (the signed system-user token) in the requests it receives.
    """

    def __init__(self, form: Callable[[str], str], *secrets: str) -> None:
        self.form = form
        self.secrets = [secret for secret in secrets if secret]

    def hear(self, request: httpx.Request) -> None:
        found = re.search(rb"SignedSystemToken>([^<]+)<", request.content)
        if found:
            self.secrets.append(found.group(1).decode())

    def text(self) -> str:
        return TRICKS + " ".join(self.form(secret) for secret in self.secrets) + TRICKS

    def page(self, status: int = 500) -> httpx.Response:
        """An HTML page: bytes, lone surrogates (as UTF-8 would write them) included."""
        body = f"<html><body>{self.text()}\ud800</body></html>"
        return httpx.Response(
            status,
            content=body.encode("utf-8", "surrogatepass"),
            headers={"Content-Type": "text/html"},
        )

    def xml_text(self) -> str:
        """The text as XML can carry it (no ESC, no BEL), escaped."""
        kept = "".join(ch for ch in self.text() if ch not in "\x1b\x07")
        return html.escape(kept, quote=False)

    def json_text(self) -> str:
        """The text as a JSON string, a lone surrogate escaped in it."""
        return json.dumps(self.text() + "\ud800")


def _check(shown: str, hostile: Hostile, where: str) -> None:
    """No secret, in the form echoed or raw, and nothing a terminal acts on."""
    folded = shown.lower()
    grams = {folded[i : i + 12] for i in range(len(folded) - 11)}  # one pass, then lookups
    for secret in hostile.secrets:
        # Past a ticket's "7T:", which is no secret and shows by design.
        for variant in {secret[3:], hostile.form(secret[3:])}:
            pieces = {variant[i : i + 12].lower() for i in range(0, max(len(variant) - 11, 1), 9)}
            leaked = sorted(pieces & grams)
            assert not leaked, f"{where} shows {leaked[0]!r} of a secret: {shown[:300]!r}"
    assert for_terminal(shown) == shown, f"{where} holds a character a terminal acts on"
    shown.encode("utf-8")  # what print() does: no lone surrogate


def _check_all(error: BaseException, records: list[logging.LogRecord], hostile: Hostile) -> None:
    _check(str(error), hostile, "str(error)")
    _check(repr(error), hostile, "repr(error)")
    _check(exposed_text(error), hostile, "an attribute")
    assert records, "the DEBUG logs were written"
    for record in records:
        _check(record.getMessage(), hostile, f"the log line {record.msg!r}")


# -- the roads: (what the routes answer, the call that fails) ---------------------------------

Call = Callable[[Any], Any]  # client -> what the flavor runs
Setup = Callable[[respx.MockRouter, Hostile], None]


def _onsite_login(router: respx.MockRouter, hostile: Hostile) -> None:
    router.post(PRINCIPAL_URL).mock(return_value=authenticated(SOAP, TICKET))


def _batch(answer: Callable[[Hostile], httpx.Response]) -> Setup:
    def setup(router: respx.MockRouter, hostile: Hostile) -> None:
        _onsite_login(router, hostile)
        router.post(BATCH_URL).mock(side_effect=lambda request: answer(hostile))

    return setup


SHAPES: dict[str, Callable[[Hostile], httpx.Response]] = {
    "page": lambda hostile: hostile.page(),
    "fault": lambda hostile: fault(SOAP, hostile.xml_text()),
    "service error": lambda hostile: service_error(SOAP, hostile.xml_text()),
}
FAMILIES: dict[str, Call] = {
    "start": lambda client: client.start_batch_job(BatchTaskInfo(name="ExportTask")),
    "read": lambda client: client.get_batch_task_info(42),
    "list": lambda client: client.get_batch_task_infos_by_state(BatchTaskState.STARTED),
    "update": lambda client: client.update_batch_task(BatchTaskInfo(id=42, name="x")),
    "stop": lambda client: client.stop_batch_job(42),
    "delete": lambda client: client.delete_batch_tasks([42]),
}
ONSITE_ROADS: dict[str, tuple[Setup, Call]] = {
    f"{family}: {shape}": (_batch(answer), call)
    for family, call in FAMILIES.items()
    for shape, answer in SHAPES.items()
}


def _polls(*answers: Callable[[Hostile], httpx.Response]) -> Setup:
    def setup(router: respx.MockRouter, hostile: Hostile) -> None:
        _onsite_login(router, hostile)
        replies = iter(answers)
        router.post(BATCH_URL).mock(side_effect=lambda request: next(replies)(hostile))

    return setup


def _failed(hostile: Hostile) -> httpx.Response:
    return task(SOAP, BatchTaskState.FAILED, job_id=42, result=hostile.xml_text())


ONSITE_ROADS |= {
    # Break 3: the job's Result, and a state the library does not know, are server text.
    "wait: failed job": (
        _polls(_failed),
        lambda client: client.wait_for_batch_task(42, raise_on_failure=True),
    ),
    "wait: unknown state at the deadline": (
        _polls(lambda hostile: task(SOAP, hostile.xml_text().replace(" ", "_"), job_id=42)),
        lambda client: client.wait_for_batch_task(42, timeout=0.001),
    ),
    "run: failed job": (
        _polls(lambda hostile: started(SOAP, 42), _failed),
        lambda client: client.run_batch_job(
            BatchTaskInfo(name="ExportTask"), raise_on_failure=True, poll_interval=0.001
        ),
    ),
    "SoPrincipal login: page": (
        lambda router, hostile: router.post(PRINCIPAL_URL).mock(return_value=hostile.page()),
        FAMILIES["start"],
    ),
    "SoPrincipal login: fault": (
        lambda router, hostile: router.post(PRINCIPAL_URL).mock(
            return_value=fault(SOAP, hostile.xml_text())
        ),
        FAMILIES["start"],
    ),
}


# Each family in two forms (the reply shapes above meet every form already); the rest in all.
ONSITE_CASES = [
    pytest.param(road, form, id=f"{name}-{form_name}")
    for name, road in ONSITE_ROADS.items()
    for form_name, form in ROAD_FORMS.items()
    if name.split(":")[0] not in FAMILIES or form_name in ("raw", "percent-encoded")
]


@pytest.mark.parametrize(("road", "form"), ONSITE_CASES)
def test_no_onsite_road_shows_a_secret_or_steers_a_terminal(
    router: respx.MockRouter,
    flavor: SyncFlavor,
    caplog: pytest.LogCaptureFixture,
    road: tuple[Setup, Call],
    form: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    share_default_tls_contexts(monkeypatch)  # respx: no handshake
    setup, call = road
    hostile = Hostile(form, TICKET, APP_TOKEN, PASSWORD_ONSITE)
    setup(router, hostile)
    caplog.set_level(logging.DEBUG, logger="superoffice_batch")
    client = flavor.make(
        BASE_URL,
        auth=UsernamePassword("jdoe", PASSWORD_ONSITE),
        application_token=APP_TOKEN,
        soap_version=SOAP,
    )
    try:
        with pytest.raises(SuperOfficeError) as caught:
            flavor.run(call(client))
    finally:
        flavor.close(client)

    _check_all(caught.value, caplog.records, hostile)


# -- Online: the state, the exchange, the keys, the tenant's own calls ----------------------


@pytest.fixture(scope="module")
def _keys() -> tuple[Any, Any]:
    from superoffice_batch.testing.online import generate_app_key

    return generate_app_key(), generate_app_key()


@pytest.fixture
def online_keys(_keys: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """The app's key and SuperOffice's signing key.

    Loading a PEM key checks it (about 50 ms): each text is loaded once for the module.
    """
    monkeypatch.setattr(
        online_module, "load_private_key", _loaded_once(online_module.load_private_key)
    )
    return _keys


_LOADED: dict[object, Any] = {}


def _loaded_once(load: Callable[[object], Any]) -> Callable[[object], Any]:
    def loaded(value: object) -> Any:
        key = str(value)
        if key not in _LOADED:
            _LOADED[key] = load(value)
        return _LOADED[key]

    return loaded


def _state(**changes: object) -> dict[str, object]:
    return {
        "ContextIdentifier": CTX,
        "Endpoint": ENDPOINT,
        "State": "Running",
        "IsRunning": True,
        "ValidUntil": "2099-01-01T00:00:00Z",
        **changes,
    }


def _json_reply(value: object, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=value)


def _exchange_reply(token: str = "", error: str = "", ok: bool = True) -> httpx.Response:
    body = (
        f'<s:Envelope xmlns:s="{S11}"><s:Body><AuthenticationResponse xmlns="{PSU}">'
        f"<IsSuccessful>{'true' if ok else 'false'}</IsSuccessful><Token>{token}</Token>"
        f"<ErrorMessage>{error}</ErrorMessage></AuthenticationResponse></s:Body></s:Envelope>"
    )
    return httpx.Response(200, text=body, headers={"Content-Type": "text/xml; charset=utf-8"})


def _jwt(signing: Any, header: dict[str, str] | None = None) -> str:
    import jwt

    from superoffice_batch.online import SERIAL_CLAIM, TICKET_CLAIM

    claims = {
        "iss": "SuperOffice AS",
        "aud": "spn:SERIAL1",
        SERIAL_CLAIM: "SERIAL1",
        TICKET_CLAIM: ONLINE_TICKET,
        "exp": time.time() + 3600,
    }
    if header is not None:  # a token whose header says what the test wants: unsigned
        parts = [json.dumps(part).encode() for part in (header, claims)]
        encoded = [base64.urlsafe_b64encode(part).rstrip(b"=").decode() for part in parts]
        return ".".join([*encoded, "c2ln"])
    key, _ = online_module.load_private_key(signing.pem)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})


class Online:
    """SuperOffice CRM Online as respx routes: each step answers as told, else as it should."""

    def __init__(self, router: respx.MockRouter, hostile: Hostile, signing: Any) -> None:
        self.hostile = hostile
        self.signing = signing
        self.state = router.get(STATE_URL).mock(return_value=_json_reply(_state()))
        self.exchange = router.post(EXCHANGE_URL).mock(side_effect=self._exchange)
        self.jwks = router.get(JWKS_URL).mock(
            return_value=_json_reply({"keys": [signing.jwk("k1")]})
        )
        self.batch = router.post(ONLINE_BATCH_URL).mock(return_value=started(SOAP, 42))
        self.token: Callable[[], str] = lambda: _jwt(signing)
        self.refusal: str | None = None

    def _exchange(self, request: httpx.Request) -> httpx.Response:
        self.hostile.hear(request)
        if self.refusal is not None:
            return _exchange_reply(error=self.refusal, ok=False)
        token = self.token()
        self.hostile.secrets.append(token)
        return _exchange_reply(token)


OnlineSetup = Callable[[Online, Hostile], None]


def _refused(online: Online, hostile: Hostile) -> None:
    online.exchange.mock(
        side_effect=lambda request: (
            hostile.hear(request),
            _exchange_reply(error=hostile.xml_text(), ok=False),
        )[1]
    )


def _exchange_page(online: Online, hostile: Hostile) -> None:
    online.exchange.mock(side_effect=lambda request: (hostile.hear(request), hostile.page())[1])


ONLINE_ROADS: dict[str, OnlineSetup] = {
    # Break 1: the state and JWKS reads quote their replies with the client's secrets.
    "state: page": lambda online, hostile: online.state.mock(return_value=hostile.page()),
    "state: unusable": lambda online, hostile: online.state.mock(
        return_value=httpx.Response(
            200, text='{"State": ' + hostile.json_text() + "}", headers={"Content-Type": "json"}
        )
    ),
    "jwks: page": lambda online, hostile: online.jwks.mock(
        side_effect=lambda request: hostile.page()
    ),
    "jwks: not json": lambda online, hostile: online.jwks.mock(
        side_effect=lambda request: httpx.Response(200, text=hostile.text())
    ),
    # Break 2: the tenant's State and Endpoint are server text.
    "state: unavailable": lambda online, hostile: online.state.mock(
        return_value=httpx.Response(
            200,
            text=f'{{"ContextIdentifier": "{CTX}", "IsRunning": false, '
            f'"ValidUntil": "2099-01-01T00:00:00Z", "State": {hostile.json_text()}}}',
        )
    ),
    "state: endpoint with secrets": lambda online, hostile: online.state.mock(
        return_value=_json_reply(
            _state(
                Endpoint=f"https://tenant.example/{hostile.form(APP_TOKEN)}"
                f"/{hostile.form(SYSTEM_USER_TOKEN)}\u202e/{CTX}"
            )
        )
    ),
    "exchange: refused": _refused,
    "exchange: page": _exchange_page,
    "exchange: algorithm": lambda online, hostile: setattr(
        online, "token", lambda: _jwt(online.signing, {"alg": hostile.text(), "kid": "k1"})
    ),
    "batch: page": lambda online, hostile: online.batch.mock(
        side_effect=lambda request: hostile.page()
    ),
    "batch: fault": lambda online, hostile: online.batch.mock(
        side_effect=lambda request: fault(SOAP, hostile.xml_text())
    ),
}


@pytest.mark.parametrize("form", ROAD_FORMS.values(), ids=ROAD_FORMS.keys())
@pytest.mark.parametrize("road", ONLINE_ROADS.values(), ids=ONLINE_ROADS.keys())
def test_no_online_road_shows_a_secret_or_steers_a_terminal(
    router: respx.MockRouter,
    flavor: SyncFlavor,
    caplog: pytest.LogCaptureFixture,
    online_keys: tuple[Any, Any],
    road: OnlineSetup,
    form: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    share_default_tls_contexts(monkeypatch)  # respx: no handshake
    app_key, signing = online_keys
    key_lines = app_key.pem.splitlines()[1:-1]
    hostile = Hostile(form, APP_TOKEN, SYSTEM_USER_TOKEN, ONLINE_TICKET, *key_lines[::8])
    road(Online(router, hostile, signing), hostile)
    caplog.set_level(logging.DEBUG, logger="superoffice_batch")
    user = SystemUser(
        system_user_token=SYSTEM_USER_TOKEN,
        private_key=app_key.pem,
        application_token=APP_TOKEN,
        context_identifier=CTX,
        environment=ENV,
    )
    client = flavor.make(None, auth=user, soap_version=SOAP)
    try:
        with pytest.raises(SuperOfficeError) as caught:
            flavor.start(client)
        _check(str(client.base_url), hostile, "base_url")
    finally:
        flavor.close(client)

    _check_all(caught.value, caplog.records, hostile)


# -- the command line: what reaches the terminal ----------------------------------------

CLI_ONSITE = {
    name: ONSITE_ROADS[name][0]
    for name in ("read: page", "read: fault", "read: service error", "SoPrincipal login: page")
}
CLI_FORMS = {name: ROAD_FORMS[name] for name in ("raw", "percent-encoded")}


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[int, str]]:
    share_default_tls_contexts(monkeypatch)  # respx: no handshake
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)

    def run(*argv: str, **env: str) -> tuple[int, str]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize("form", CLI_FORMS.values(), ids=CLI_FORMS.keys())
@pytest.mark.parametrize("setup", CLI_ONSITE.values(), ids=CLI_ONSITE.keys())
def test_no_onsite_road_reaches_the_terminal_through_the_command_line(
    router: respx.MockRouter,
    cli: Callable[..., tuple[int, str]],
    setup: Setup,
    form: Callable[[str], str],
    debug: bool,
) -> None:
    hostile = Hostile(form, TICKET, APP_TOKEN, PASSWORD_ONSITE)
    setup(router, hostile)

    code, shown = cli(
        *(["--debug"] if debug else []),
        "status",
        "42",
        "--soap",
        "1.2",
        SUPEROFFICE_URL=BASE_URL,
        SUPEROFFICE_USERNAME="jdoe",
        SUPEROFFICE_PASSWORD=PASSWORD_ONSITE,
        SUPEROFFICE_APP_TOKEN=APP_TOKEN,
    )

    assert code != 0
    _check(shown.replace("\r", ""), hostile, "the command line's output")


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize("form", CLI_FORMS.values(), ids=CLI_FORMS.keys())
@pytest.mark.parametrize("road", ONLINE_ROADS.values(), ids=ONLINE_ROADS.keys())
def test_no_online_road_reaches_the_terminal_through_the_command_line(
    router: respx.MockRouter,
    cli: Callable[..., tuple[int, str]],
    online_keys: tuple[Any, Any],
    tmp_path: Any,
    road: OnlineSetup,
    form: Callable[[str], str],
    debug: bool,
) -> None:
    app_key, signing = online_keys
    key_file = tmp_path / "app.pem"
    key_file.write_text(app_key.pem)
    key_lines = app_key.pem.splitlines()[1:-1]
    hostile = Hostile(form, APP_TOKEN, SYSTEM_USER_TOKEN, ONLINE_TICKET, *key_lines[::8])
    road(Online(router, hostile, signing), hostile)
    settings = {
        "SUPEROFFICE_CONTEXT_ID": CTX,
        "SUPEROFFICE_ENVIRONMENT": ENV,
        "SUPEROFFICE_SYSTEM_USER_TOKEN": SYSTEM_USER_TOKEN,
        "SUPEROFFICE_PRIVATE_KEY_FILE": str(key_file),
        "SUPEROFFICE_APP_TOKEN": APP_TOKEN,
    }
    options = ["--debug"] if debug else []

    _code, shown = cli(*options, "status", "42", "--soap", "1.2", **settings)
    _check(shown.replace("\r", ""), hostile, "the output of status")
    # The tenant command reads no key: what it can know of is sent by no request.
    hostile.secrets = [secret for secret in hostile.secrets if secret not in key_lines]
    _code, shown = cli(*options, "tenant", **settings)
    _check(shown.replace("\r", ""), hostile, "the output of tenant")


# -- a road that skips the gate does not type-check ---------------------------------------

MISTAKES = """
from superoffice_batch.errors import HttpError, ProtocolError, SoapFault, TenantUnavailable
from superoffice_batch.secrets import NO_SECRETS
from superoffice_batch.servertext import ServerText, Shown, reveal

reply = "<html>server text</html>"
HttpError(500, reply)  # line 7
ProtocolError("bad", body=reply)  # line 8
SoapFault("code", ServerText("reason", NO_SECRETS))  # line 9
TenantUnavailable("Cust1", "Suspended")  # line 10
ServerText(reply)  # line 11
ServerText(reply, ("7T:ticket",))  # line 12
shown: Shown = reply  # line 13
reveal(reply)  # line 14
"""


@pytest.mark.slow
def test_server_text_that_skips_the_gate_does_not_type_check(tmp_path: Any) -> None:
    if importlib.util.find_spec("mypy") is None:
        pytest.fail("this test runs mypy, which the dev extra installs: pip install -e '.[dev]'")
    module = tmp_path / "mistakes.py"
    module.write_text(MISTAKES)

    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(module)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )

    flagged = {
        int(line.split(":")[1]) for line in checked.stdout.splitlines() if ": error:" in line
    }
    assert flagged == set(range(7, 15)), checked.stdout
