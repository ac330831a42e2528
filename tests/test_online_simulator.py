"""The Online simulator (``superoffice_batch.testing.online``): login host, state API, hosts.

Driven with plain httpx and hand-built tokens: the system-user token is signed here with
``cryptography`` from the key the simulator hands out (its PEM and its RSAXML, each read
here independently), and the JWT it returns is verified here, without PyJWT, against the
JWKS it serves. NetServer calls are built with the library's sans-I/O operations and
their replies read with lxml, so no client code decides what counts.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from lxml import etree

from conftest import FIXTURES
from superoffice_batch import BatchTaskInfo, SoapVersion
from superoffice_batch.models import Credentials
from superoffice_batch.operations import (
    GetAllBatchTaskInfosByName,
    GetBatchTaskInfo,
    Operation,
    StartBatchJob,
)
from superoffice_batch.testing.online import (
    OnlineSimulator,
    RsaKey,
    Tamper,
    generate_app_key,
)
from test_simulator import FRONT_END_STATUSES

pytest_plugins = ["superoffice_batch.testing", "pytester"]

PSU = "http://www.superoffice.com/superid/partnersystemuser/0.1"
ACTION = f"{PSU}/IPartnerSystemUserService/Authenticate"
EXCHANGE_PATH = "/Login/Services/PartnerSystemUserService.svc"
IDENTITY = "http://schemes.superoffice.net/identity/"
TNS = "http://www.superoffice.net/ws/crm/NetServer/Services88"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
DISPATCHER = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"
ADDRESSING_NONE = "http://schemas.microsoft.com/ws/2005/05/addressing/none"
SESSION_EXCEPTION = "SuperOffice.CRM.Security.SoSessionException"
NOT_FOUND = "SuperOffice.Exceptions.SoDataNotFoundException"
"""What a valid ticket gets for a task that does not exist: it passed the ticket check."""
SEVEN_DIGITS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z")
BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
FIRST, SECOND = "Cust12345", "Cust67890"
NO_SUCH_TASK = 999_999
DOTTED_TOKEN = "SystemUser.with.dots"
STATES = (
    "Unknown",
    "Provisioning",
    "Running",
    "Deleted",
    "Suspended",
    "OnlineMaintenance",
    "OfflineMaintenance",
    "ProvisioningFailed",
    "Deleting",
    "DeleteFailed",
)


class FakeClock:
    """Epoch seconds that move only when told to; starts at the real time (a whole second),
    so the JWTs' times are plausible."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# -- keys and tokens, built here --------------------------------------------------------


# Loading a private key checks it, which takes tens of milliseconds: each is read once.
@cache
def rsaxml_key(xml: str) -> rsa.RSAPrivateKey:
    """A private key from .NET's RSAXML, read here (not by the simulator's code)."""
    root = etree.fromstring(xml.encode())
    value = {child.tag: int.from_bytes(base64.b64decode(child.text), "big") for child in root}
    public = rsa.RSAPublicNumbers(value["Exponent"], value["Modulus"])
    numbers = rsa.RSAPrivateNumbers(
        value["P"], value["Q"], value["D"], value["DP"], value["DQ"], value["InverseQ"], public
    )
    return numbers.private_key()


@cache
def pem_key(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def stamp(when: float) -> str:
    return datetime.fromtimestamp(when, timezone.utc).strftime("%Y%m%d%H%M")


def signed(key: rsa.RSAPrivateKey, token: str, when: float | None = None) -> str:
    """``{token}.{yyyyMMddHHmm}.{base64 RS256 signature}``, as a partner signs it."""
    data = f"{token}.{stamp(time.time() if when is None else when)}"
    signature = key.sign(data.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{data}.{base64.b64encode(signature).decode()}"


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Header, claims, signing input and signature of a compact JWT."""
    header, claims, signature = token.split(".")
    return (
        json.loads(b64url_decode(header)),
        json.loads(b64url_decode(claims)),
        f"{header}.{claims}".encode(),
        b64url_decode(signature),
    )


def jwk_public_key(jwk: dict[str, str]) -> rsa.RSAPublicKey:
    n, e = (int.from_bytes(b64url_decode(jwk[name]), "big") for name in ("n", "e"))
    return rsa.RSAPublicNumbers(e, n).public_key()


def rs256_verifies(key: rsa.RSAPublicKey, signing_input: bytes, signature: bytes) -> bool:
    try:
        key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


# -- HTTP -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=5.0) as client:
        yield client


@pytest.fixture(scope="module")
def keys() -> tuple[RsaKey, RsaKey, RsaKey]:
    """An app key, a signing key and a spare: generated once, shared by every simulator."""
    return generate_app_key(), generate_app_key(), generate_app_key()


@pytest.fixture(scope="module")
def online(keys: tuple[RsaKey, RsaKey, RsaKey]) -> Iterator[OnlineSimulator]:
    """The simulator of the tests that change nothing lasting (tampering is consumed)."""
    app_key, signing_key, _ = keys
    with OnlineSimulator(
        tenants=(FIRST, SECOND),
        system_user_tokens={SECOND: DOTTED_TOKEN},
        app_key=app_key,
        signing_key=signing_key,
        job_duration=0.0,
    ) as simulator:
        yield simulator
        assert simulator.errors == []


@pytest.fixture
def untampered(online: OnlineSimulator) -> Iterator[OnlineSimulator]:
    """The shared simulator, its tampering cleared after the test even if it failed."""
    yield online
    online.tamper()


@pytest.fixture
def simulate(keys: tuple[RsaKey, RsaKey, RsaKey]) -> Iterator[Callable[..., OnlineSimulator]]:
    """Own simulators for the tests that change one (keys reused, so they start fast)."""
    made: list[OnlineSimulator] = []

    def make(**options: Any) -> OnlineSimulator:
        options = {"app_key": keys[0], "signing_key": keys[1], **options}
        simulator = OnlineSimulator(**options).start()
        made.append(simulator)
        return simulator

    yield make
    for simulator in made:
        simulator.stop()
        assert simulator.errors == []


def envelope(
    signed_token: str | None,
    application_token: str | None,
    context_identifier: str | None,
    return_type: str = "Jwt",
) -> bytes:
    headers = "".join(
        f"<psu:{name}>{value}</psu:{name}>"
        for name, value in (
            ("ApplicationToken", application_token),
            ("ContextIdentifier", context_identifier),
        )
        if value is not None
    )
    body = (
        f"<psu:SignedSystemToken>{signed_token}</psu:SignedSystemToken>"
        if signed_token is not None
        else ""
    ) + f"<psu:ReturnTokenType>{return_type}</psu:ReturnTokenType>"
    return (
        f'<s:Envelope xmlns:s="{SOAP11}" xmlns:psu="{PSU}"><s:Header>{headers}</s:Header>'
        f"<s:Body><psu:AuthenticationRequest>{body}</psu:AuthenticationRequest></s:Body>"
        "</s:Envelope>"
    ).encode()


def post_exchange(
    http: httpx.Client,
    simulator: OnlineSimulator,
    content: bytes,
    *,
    content_type: str = "text/xml; charset=utf-8",
    action: str = f'"{ACTION}"',
    path: str = EXCHANGE_PATH,
) -> httpx.Response:
    headers = {"Content-Type": content_type, "SOAPAction": action}
    return http.post(simulator.environment + path, content=content, headers=headers)


def exchange(
    http: httpx.Client,
    simulator: OnlineSimulator,
    *,
    ctx: str = FIRST,
    token: str | None = None,
    key: rsa.RSAPrivateKey | None = None,
    application_token: str | None = None,
    **options: Any,
) -> httpx.Response:
    """A well-formed exchange for tenant ``ctx``; the arguments change one part."""
    key = key or pem_key(simulator.private_key_pem)
    signed_token = signed(key, token or simulator.system_user_tokens[ctx])
    content = envelope(signed_token, application_token or simulator.application_token, ctx)
    return post_exchange(http, simulator, content, **options)


def reply_of(response: httpx.Response) -> dict[str, str | None]:
    """The ``AuthenticationResponse`` members, nil as None; checks the reply's layout."""
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    root = etree.fromstring(response.content)
    (body,) = root.findall(f"{{{SOAP11}}}Body")
    (member,) = body
    assert member.tag == f"{{{PSU}}}AuthenticationResponse"
    found: dict[str, str | None] = {}
    for child in member:
        name = etree.QName(child)
        assert name.namespace == PSU
        nil = child.get(f"{{{XSI}}}nil") == "true"
        found[name.localname] = None if nil else (child.text or "")
    assert list(found) == ["IsSuccessful", "Token", "ErrorMessage"]  # the WSDL's order
    return found


def token_of(response: httpx.Response) -> str:
    reply = reply_of(response)
    assert reply["IsSuccessful"] == "true", reply["ErrorMessage"]
    assert reply["ErrorMessage"] is None
    assert reply["Token"]
    return reply["Token"]


def jwks_of(http: httpx.Client, simulator: OnlineSimulator) -> dict[str, dict[str, str]]:
    response = http.get(simulator.environment + "/login/.well-known/jwks")
    assert response.status_code == 200
    return {key["kid"]: key for key in response.json()["keys"]}


def verified_claims(http: httpx.Client, simulator: OnlineSimulator, token: str) -> dict[str, Any]:
    """The claims of a JWT whose RS256 signature a key of the JWKS verifies."""
    header, claims, signing_input, signature = jwt_parts(token)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": header["kid"]}
    key = jwk_public_key(jwks_of(http, simulator)[header["kid"]])
    assert rs256_verifies(key, signing_input, signature)
    return claims


def state_of(http: httpx.Client, simulator: OnlineSimulator, ctx: str = FIRST) -> dict[str, Any]:
    response = http.get(f"{simulator.environment}/api/state/{ctx}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    return response.json()  # type: ignore[no-any-return]


def call(
    http: httpx.Client,
    base: str,
    operation: Operation[Any],
    ticket: str | None,
    application_token: str | None,
) -> httpx.Response:
    """A NetServer call, built by the library's sans-I/O core, to ``base``."""
    request = operation.to_request(
        Credentials(ticket=ticket, application_token=application_token), SoapVersion.SOAP11
    )
    return http.post(f"{base}/{request.path}", content=request.content, headers=request.headers)


def business_error(response: httpx.Response) -> tuple[str | None, str | None]:
    """The ``ExceptionType`` and ``Message`` of a reply's ``ExceptionInfo`` (None: none)."""
    assert response.status_code == 200
    info = etree.fromstring(response.content).find(f"{{{SOAP11}}}Header/{{{TNS}}}ExceptionInfo")
    assert info is not None
    if info.get(f"{{{XSI}}}nil") == "true":
        return None, None
    return info.findtext(f"{{{TNS}}}ExceptionType"), info.findtext(f"{{{TNS}}}Message")


def started_job(http: httpx.Client, simulator: OnlineSimulator, base: str, ticket: str) -> int:
    start = StartBatchJob(BatchTaskInfo(name="ExportTask"))
    response = call(http, base, start, ticket, simulator.application_token)
    assert business_error(response) == (None, None)
    return int(etree.fromstring(response.content).findtext(f".//{{{TNS}}}Response"))


def ticket_of(http: httpx.Client, simulator: OnlineSimulator, ctx: str = FIRST) -> str:
    claims = verified_claims(http, simulator, token_of(exchange(http, simulator, ctx=ctx)))
    return claims[IDENTITY + "ticket"]  # type: ignore[no-any-return]


# -- keys -------------------------------------------------------------------------------


def test_the_pem_and_the_rsaxml_are_one_key_in_dotnets_layout(online: OnlineSimulator) -> None:
    from_pem, from_xml = pem_key(online.private_key_pem), rsaxml_key(online.private_key_rsaxml)
    assert from_pem.private_numbers() == from_xml.private_numbers()
    assert online.private_key_pem.startswith("-----BEGIN PRIVATE KEY-----\n")  # PKCS#8
    root = etree.fromstring(online.private_key_rsaxml.encode())
    order = ["Modulus", "Exponent", "P", "Q", "DP", "DQ", "InverseQ", "D"]
    assert [child.tag for child in root] == order
    # .NET's RSAParameters wants D as long as the modulus, the CRT values half that.
    size = {child.tag: len(base64.b64decode(child.text)) for child in root}
    assert size["Modulus"] == size["D"] == 256
    assert {size[name] for name in ("P", "Q", "DP", "DQ", "InverseQ")} == {128}
    assert base64.b64decode(root.findtext("Exponent")) == b"\x01\x00\x01"


def test_keys_do_not_show_in_repr(keys: tuple[RsaKey, RsaKey, RsaKey]) -> None:
    assert repr(keys[0]) == "<RsaKey 2048 bits>"


# -- the exchange -----------------------------------------------------------------------


@pytest.mark.parametrize("read_key", [pem_key, rsaxml_key], ids=["pem", "rsaxml"])
def test_an_exchange_answers_a_jwt_the_jwks_verifies(
    http: httpx.Client,
    online: OnlineSimulator,
    read_key: Callable[[str], rsa.RSAPrivateKey],
) -> None:
    text = online.private_key_pem if read_key is pem_key else online.private_key_rsaxml
    before = online.exchanges
    token = token_of(exchange(http, online, key=read_key(text)))
    header, _claims, _, _ = jwt_parts(token)
    assert header["kid"] == online.kid
    verified = verified_claims(http, online, token)
    now = time.time()
    endpoint = online.endpoint(FIRST)
    assert verified["iss"] == "SuperOffice AS"
    assert verified["aud"] == f"spn:{online.serial}"
    assert verified[IDENTITY + "serial"] == online.serial
    assert verified[IDENTITY + "ctx"] == FIRST
    assert verified[IDENTITY + "netserver_url"] == f"{endpoint}/Remote/Services88/"
    assert verified[IDENTITY + "webapi_url"] == f"{endpoint}/api/"
    assert verified[IDENTITY + "ticket"].startswith("7T:")
    assert verified["nbf"] == verified["iat"]
    assert now - 5 <= verified["iat"] <= now
    assert verified["exp"] - verified["iat"] == 300
    assert online.exchanges == before + 1


def test_the_ticket_works_on_the_tenants_host(http: httpx.Client, online: OnlineSimulator) -> None:
    ticket = ticket_of(http, online)
    job_id = started_job(http, online, online.endpoint(), ticket)
    assert [job.id for job in online.jobs][-1] == job_id
    assert online.calls[-1] == "StartBatchJob"


@cache
def exchange_schema() -> etree.XMLSchema:
    """The partner-system-user namespace's schema, as PartnerSystemUserService.wsdl gives it."""
    wsdl = etree.parse(str(FIXTURES / "wsdl" / "PartnerSystemUserService.wsdl")).getroot()
    (schema,) = (
        element
        for element in wsdl.iter("{http://www.w3.org/2001/XMLSchema}schema")
        if element.get("targetNamespace") == PSU
    )
    # A schema of its own, with the prefixes the WSDL declares (types name them: tns:…).
    standalone = etree.Element(
        schema.tag, dict(schema.attrib), nsmap={**wsdl.nsmap, **schema.nsmap}
    )
    standalone.extend(copy.deepcopy(list(schema)))
    return etree.XMLSchema(standalone)


def assert_valid(element: etree._Element) -> None:
    schema = exchange_schema()
    assert schema.validate(element), schema.error_log


class RecordingTransport(httpx.BaseTransport):
    """Forwards to the network, keeping each exchange's request and response bytes."""

    def __init__(self) -> None:
        self.forward = httpx.HTTPTransport()
        self.exchanges: list[tuple[bytes, bytes]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.forward.handle_request(request)
        if request.url.path.lower() == EXCHANGE_PATH.lower():
            response.read()
            self.exchanges.append((request.read(), response.content))
        return response

    def close(self) -> None:
        self.forward.close()


@pytest.mark.parametrize("refused", [False, True], ids=["accepted", "refused"])
def test_the_clients_exchange_and_the_reply_follow_the_wsdls_schema(
    untampered: OnlineSimulator, refused: bool
) -> None:
    from superoffice_batch import AuthenticationError, BatchClient

    if refused:
        untampered.tamper(refuse="No such system user")
    transport = RecordingTransport()
    with (
        httpx.Client(transport=transport, trust_env=False, timeout=5.0) as http,
        BatchClient(auth=untampered.system_user(), http_client=http) as client,
    ):
        if refused:
            with pytest.raises(AuthenticationError):
                client.get_batch_task_infos_by_state("All")
        else:
            client.get_batch_task_infos_by_state("All")
    ((sent, answered),) = transport.exchanges
    request = etree.fromstring(sent)
    blocks = request.findall(f"{{{SOAP11}}}Header/*")
    assert [etree.QName(block).localname for block in blocks] == [
        "ApplicationToken",
        "ContextIdentifier",
    ]
    for element in [*blocks, *request.findall(f"{{{SOAP11}}}Body/*")]:
        assert_valid(element)
    (reply,) = etree.fromstring(answered).findall(f"{{{SOAP11}}}Body/*")
    assert_valid(reply)
    members = [etree.QName(child).localname for child in reply]
    assert members == ["IsSuccessful", "Token", "ErrorMessage"]


def test_the_old_reply_order_breaks_the_wsdls_schema() -> None:
    reply = etree.fromstring(
        f'<AuthenticationResponse xmlns="{PSU}"><ErrorMessage>no</ErrorMessage>'
        "<IsSuccessful>false</IsSuccessful></AuthenticationResponse>"
    )
    assert not exchange_schema().validate(reply)  # the schema is a real check


def test_a_system_user_token_with_dots_is_split_on_the_last_two(
    http: httpx.Client, online: OnlineSimulator
) -> None:
    assert online.system_user_tokens[SECOND] == DOTTED_TOKEN
    claims = verified_claims(http, online, token_of(exchange(http, online, ctx=SECOND)))
    assert claims[IDENTITY + "ctx"] == SECOND


def test_the_path_case_and_an_unquoted_action_are_taken(
    http: httpx.Client, online: OnlineSimulator
) -> None:
    response = exchange(http, online, path=EXCHANGE_PATH.lower(), action=ACTION)
    token_of(response)


def test_the_reply_may_carry_an_unrelated_header_block(
    http: httpx.Client, online: OnlineSimulator
) -> None:
    root = etree.fromstring(exchange(http, online).content)
    header = root.find(f"{{{SOAP11}}}Header")
    assert [etree.QName(block).localname for block in header] == ["ActivityId"]


def now_stamped(online: OnlineSimulator, token: str, offset: float) -> str:
    return signed(pem_key(online.private_key_pem), token, time.time() + offset)


REFUSALS: dict[str, tuple[Callable[[OnlineSimulator], bytes], str]] = {
    "wrong-application-token": (
        lambda o: envelope(now_stamped(o, o.system_user_token, 0), "not-the-secret", FIRST),
        "Invalid application token",
    ),
    "no-application-token": (
        lambda o: envelope(now_stamped(o, o.system_user_token, 0), None, FIRST),
        "Invalid application token",
    ),
    "unknown-context": (
        lambda o: envelope(now_stamped(o, o.system_user_token, 0), o.application_token, "Cust1"),
        "Unknown context identifier",
    ),
    "no-context": (
        lambda o: envelope(now_stamped(o, o.system_user_token, 0), o.application_token, None),
        "Unknown context identifier",
    ),
    "saml": (
        lambda o: envelope(
            now_stamped(o, o.system_user_token, 0), o.application_token, FIRST, "Saml"
        ),
        "Unsupported token type",
    ),
    "another-tenants-token": (
        lambda o: envelope(now_stamped(o, DOTTED_TOKEN, 0), o.application_token, FIRST),
        "Unknown system user token",
    ),
    "unknown-system-user-token": (
        lambda o: envelope(now_stamped(o, "SystemUser-nobody", 0), o.application_token, FIRST),
        "Unknown system user token",
    ),
    "stale-time-stamp": (
        lambda o: envelope(now_stamped(o, o.system_user_token, -420), o.application_token, FIRST),
        "Signed system token time stamp is out of range",
    ),
    "future-time-stamp": (
        lambda o: envelope(now_stamped(o, o.system_user_token, 420), o.application_token, FIRST),
        "Signed system token time stamp is out of range",
    ),
    "bad-signature": (
        lambda o: envelope(
            now_stamped(o, o.system_user_token, 0)[:-8] + "AAAAAAA=", o.application_token, FIRST
        ),
        "Invalid signature",
    ),
    "signature-of-another-text": (
        lambda o: envelope(
            f"{o.system_user_token}.{stamp(time.time())}."
            + now_stamped(o, o.system_user_token + "x", 0).rpartition(".")[2],
            o.application_token,
            FIRST,
        ),
        "Invalid signature",
    ),
    "no-dots": (
        lambda o: envelope("just-a-token", o.application_token, FIRST),
        "Malformed signed system token",
    ),
    "no-signed-token": (
        lambda o: envelope(None, o.application_token, FIRST),
        "Malformed signed system token",
    ),
    "signature-not-base64": (
        lambda o: envelope(
            f"{o.system_user_token}.{stamp(time.time())}.not*base64", o.application_token, FIRST
        ),
        "Malformed signed system token",
    ),
    "time-stamp-not-a-time": (
        lambda o: envelope(f"{o.system_user_token}.202613991299.AAAA", o.application_token, FIRST),
        "Malformed signed system token",
    ),
}


@pytest.mark.parametrize(("build", "message"), REFUSALS.values(), ids=list(REFUSALS))
def test_every_refusal_is_unsuccessful_with_a_message_and_no_token(
    http: httpx.Client,
    online: OnlineSimulator,
    build: Callable[[OnlineSimulator], bytes],
    message: str,
) -> None:
    before, requests = online.exchanges, online.exchange_requests
    reply = reply_of(post_exchange(http, online, build(online)))
    assert reply == {"ErrorMessage": message, "IsSuccessful": "false", "Token": None}
    assert (online.exchanges, online.exchange_requests) == (before, requests + 1)


def test_the_time_stamp_window_is_clock_skew(
    http: httpx.Client, simulate: Callable[..., OnlineSimulator]
) -> None:
    clock = FakeClock()
    # Time stamps are whole minutes: one made now is up to 60 s old.
    simulator = simulate(clock=clock, clock_skew=90.0)
    token_of(exchange(http, simulator))
    clock.advance(180.0)
    reply = reply_of(exchange(http, simulator))
    assert reply["ErrorMessage"] == "Signed system token time stamp is out of range"


def fault_code(response: httpx.Response) -> tuple[str, str]:
    """The faultcode of a SOAP 1.1 fault as (namespace, local name)."""
    fault = etree.fromstring(response.content).find(f"{{{SOAP11}}}Body/{{{SOAP11}}}Fault")
    code = fault.find("faultcode")
    prefix, _, local = code.text.partition(":")
    return code.nsmap[prefix], local


@pytest.mark.parametrize(
    ("content", "options", "status", "code"),
    [
        (b"not xml", {}, 400, (DISPATCHER, "DeserializationFailed")),
        (
            b'<!DOCTYPE x [<!ENTITY e "e">]><s:Envelope xmlns:s="' + SOAP11.encode() + b'"/>',
            {},
            400,
            (DISPATCHER, "DeserializationFailed"),
        ),
        (b"<AuthenticationRequest/>", {}, 400, (DISPATCHER, "DeserializationFailed")),
        (
            b'<s:Envelope xmlns:s="'
            + SOAP11.encode()
            + b'"><s:Body><Other/></s:Body></s:Envelope>',
            {},
            500,
            (DISPATCHER, "DeserializationFailed"),
        ),
        (None, {"action": '"urn:other"'}, 500, (ADDRESSING_NONE, "ActionNotSupported")),
        (None, {"action": ""}, 500, (ADDRESSING_NONE, "ActionNotSupported")),
    ],
    ids=["not-xml", "doctype", "not-an-envelope", "other-body", "other-action", "no-action"],
)
def test_a_request_that_is_no_authenticate_envelope_gets_wcfs_fault(
    http: httpx.Client,
    online: OnlineSimulator,
    content: bytes | None,
    options: dict[str, str],
    status: int,
    code: tuple[str, str],
) -> None:
    before = online.exchanges
    body = content or envelope("x.y.z", online.application_token, FIRST)
    response = post_exchange(http, online, body, **options)
    assert response.status_code == status
    assert fault_code(response) == code
    assert online.exchanges == before


def test_another_content_type_gets_415_and_another_method_405(
    http: httpx.Client, online: OnlineSimulator
) -> None:
    body = envelope("x.y.z", online.application_token, FIRST)
    soap12 = post_exchange(http, online, body, content_type="application/soap+xml")
    assert (soap12.status_code, soap12.content) == (415, b"")
    assert http.get(online.environment + EXCHANGE_PATH).status_code == 405
    assert http.post(online.environment + "/login/.well-known/jwks").status_code == 405
    assert http.get(online.environment + "/login/elsewhere").status_code == 404


# -- tampering --------------------------------------------------------------------------


def tampered(
    http: httpx.Client, online: OnlineSimulator, **changes: Any
) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    online.tamper(**changes)
    return jwt_parts(token_of(exchange(http, online)))


def jwks_key(http: httpx.Client, online: OnlineSimulator) -> rsa.RSAPublicKey:
    return jwk_public_key(jwks_of(http, online)[online.kid])


@pytest.mark.parametrize(
    ("changes", "claim", "value"),
    [({"issuer": "x"}, "iss", "x"), ({"audience": "spn:x"}, "aud", "spn:x")],
)
def test_tampered_claims_are_still_signed_by_the_jwks_key(
    http: httpx.Client,
    untampered: OnlineSimulator,
    changes: dict[str, str],
    claim: str,
    value: str,
) -> None:
    _header, claims, signing_input, signature = tampered(http, untampered, **changes)
    assert claims[claim] == value
    assert rs256_verifies(jwks_key(http, untampered), signing_input, signature)


def test_tampered_times(http: httpx.Client, untampered: OnlineSimulator) -> None:
    _, expired, _, _ = tampered(http, untampered, expires_in=-60)
    assert expired["exp"] < time.time() - 50
    _, early, _, _ = tampered(http, untampered, not_before_in=600)
    assert early["nbf"] > time.time() + 590


def test_an_omitted_ticket(http: httpx.Client, untampered: OnlineSimulator) -> None:
    _, claims, _, _ = tampered(http, untampered, omit_ticket=True)
    assert IDENTITY + "ticket" not in claims
    assert claims[IDENTITY + "ctx"] == FIRST


def test_algorithm_none_has_no_signature(http: httpx.Client, untampered: OnlineSimulator) -> None:
    header, _, _, signature = tampered(http, untampered, algorithm="none")
    assert header["alg"] == "none"
    assert signature == b""


def test_hs256_is_keyed_with_the_public_pem(
    http: httpx.Client, untampered: OnlineSimulator
) -> None:
    header, _, signing_input, signature = tampered(http, untampered, algorithm="HS256")
    assert header["alg"] == "HS256"
    public_pem = jwks_key(http, untampered).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert signature == hmac.new(public_pem, signing_input, hashlib.sha256).digest()


def test_a_foreign_key_signs_under_the_current_kid(
    http: httpx.Client, untampered: OnlineSimulator
) -> None:
    header, _, signing_input, signature = tampered(http, untampered, foreign_key=True)
    assert header["kid"] == untampered.kid
    assert not rs256_verifies(jwks_key(http, untampered), signing_input, signature)
    assert rs256_verifies(
        pem_key(untampered.private_key_pem).public_key(), signing_input, signature
    )


def test_an_unknown_kid_is_not_in_the_jwks(http: httpx.Client, untampered: OnlineSimulator) -> None:
    header, _, signing_input, signature = tampered(http, untampered, unknown_kid=True)
    assert header["kid"] not in jwks_of(http, untampered)
    assert rs256_verifies(untampered.signing_public_key, signing_input, signature)


def test_garbage_is_no_jwt(http: httpx.Client, untampered: OnlineSimulator) -> None:
    untampered.tamper(garbage=True)
    token = token_of(exchange(http, untampered))
    assert token.count(".") != 2


@pytest.mark.parametrize(
    ("refuse", "message"), [(True, "Refused by the simulator"), ("Try later", "Try later")]
)
def test_a_refused_exchange(
    http: httpx.Client, untampered: OnlineSimulator, refuse: bool | str, message: str
) -> None:
    before = untampered.exchanges
    untampered.tamper(refuse=refuse)
    reply = reply_of(exchange(http, untampered))
    assert reply == {"ErrorMessage": message, "IsSuccessful": "false", "Token": None}
    assert untampered.exchanges == before


def test_tampering_applies_to_the_next_exchange_only(
    http: httpx.Client, untampered: OnlineSimulator
) -> None:
    untampered.tamper(issuer="x")
    # Requests refused before the token is checked consume nothing.
    assert post_exchange(http, untampered, b"not xml").status_code == 400
    assert reply_of(exchange(http, untampered, application_token="wrong"))["Token"] is None
    assert jwt_parts(token_of(exchange(http, untampered)))[1]["iss"] == "x"
    assert verified_claims(http, untampered, token_of(exchange(http, untampered)))["iss"] == (
        "SuperOffice AS"
    )


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"issuer_name": "x"}, TypeError),
        ({"algorithm": "RS512"}, ValueError),
        ({"expires_in": "soon"}, TypeError),
        ({"garbage": 1}, TypeError),
    ],
)
def test_tampering_is_checked(
    untampered: OnlineSimulator, changes: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        untampered.tamper(**changes)
    assert Tamper() == Tamper(refuse=False)


# -- keys, configuration ----------------------------------------------------------------


def test_the_jwks_and_the_openid_configuration(http: httpx.Client, online: OnlineSimulator) -> None:
    before = (online.jwks_requests, online.configuration_requests)
    response = http.get(online.environment + "/LOGIN/.well-known/JWKS")
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    (key,) = response.json()["keys"]
    assert set(key) == {"kty", "use", "alg", "kid", "n", "e"}
    assert (key["kty"], key["use"], key["alg"], key["kid"]) == ("RSA", "sig", "RS256", online.kid)
    assert BASE64URL.fullmatch(key["n"])
    assert key["e"] == "AQAB"
    assert jwk_public_key(key).public_numbers() == online.signing_public_key.public_numbers()
    configuration = http.get(online.environment + "/login/.well-known/openid-configuration")
    assert (
        configuration.json()
        | {
            "issuer": f"{online.environment}/login",
            "jwks_uri": f"{online.environment}/login/.well-known/jwks",
            "id_token_signing_alg_values_supported": ["RS256"],
        }
        == configuration.json()
    )
    assert (online.jwks_requests, online.configuration_requests) == (
        before[0] + 1,
        before[1] + 1,
    )


@pytest.mark.parametrize("keep_old", [True, False])
def test_a_rotated_key_signs_the_next_tokens(
    http: httpx.Client,
    simulate: Callable[..., OnlineSimulator],
    keys: tuple[RsaKey, RsaKey, RsaKey],
    keep_old: bool,
) -> None:
    simulator = simulate()
    old = simulator.kid
    new = simulator.rotate_signing_key(keep_old=keep_old, key=keys[2])
    assert new == simulator.kid != old
    assert sorted(jwks_of(http, simulator)) == sorted([old, new] if keep_old else [new])
    token = token_of(exchange(http, simulator))
    assert jwt_parts(token)[0]["kid"] == new
    assert verified_claims(http, simulator, token)
    assert simulator.signing_public_key.public_numbers() == keys[2].public_key.public_numbers()


# -- the state API ----------------------------------------------------------------------


def test_the_state_of_a_running_tenant(http: httpx.Client, online: OnlineSimulator) -> None:
    before = online.state_requests
    state = state_of(http, online, FIRST.lower())
    endpoint = online.endpoint(FIRST)
    assert not endpoint.endswith("/")
    assert state == {
        "ContextIdentifier": FIRST,
        "Endpoint": endpoint,
        "State": "Running",
        "IsRunning": True,
        "ValidUntil": state["ValidUntil"],
        "Api": f"{endpoint}/api",
    }
    assert SEVEN_DIGITS.fullmatch(state["ValidUntil"])
    valid_until = datetime.fromisoformat(state["ValidUntil"][:26] + "+00:00")
    expected = datetime.now(timezone.utc) + timedelta(seconds=300)
    assert abs((valid_until - expected).total_seconds()) < 5
    assert online.state_requests == before + 1


def test_the_state_of_an_unknown_tenant(http: httpx.Client, online: OnlineSimulator) -> None:
    state = state_of(http, online, "Cust00001")
    assert state["ContextIdentifier"] == "Cust00001"
    assert (state["State"], state["IsRunning"], state["Endpoint"], state["Api"]) == (
        "Unknown",
        False,
        None,
        None,
    )
    assert SEVEN_DIGITS.fullmatch(state["ValidUntil"])


@pytest.mark.parametrize("state", STATES)
def test_is_running_and_the_hosts_answer_follow_the_state(
    http: httpx.Client, simulate: Callable[..., OnlineSimulator], state: str
) -> None:
    simulator = simulate()
    simulator.set_state(state=state)
    available = state in ("Running", "OnlineMaintenance")
    reported = state_of(http, simulator)
    assert (reported["State"], reported["IsRunning"]) == (state, available)
    response = call(
        http,
        simulator.endpoint(),
        GetBatchTaskInfo(1),
        simulator.issue_ticket(),
        simulator.application_token,
    )
    assert response.status_code == (200 if available else 503)


def test_a_maintenance_window_ends_by_itself(
    http: httpx.Client, simulate: Callable[..., OnlineSimulator]
) -> None:
    clock = FakeClock()
    simulator = simulate(clock=clock, state_valid_for=300.0)
    ticket = simulator.issue_ticket()
    simulator.set_state(state="OfflineMaintenance", seconds=60)
    state = state_of(http, simulator)
    assert (state["State"], state["IsRunning"]) == ("OfflineMaintenance", False)
    # ValidUntil does not lie past the window's end, so a client asks again then.
    end = datetime.fromtimestamp(clock.now + 60, timezone.utc)
    assert state["ValidUntil"] == end.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    base = simulator.endpoint()
    task = GetBatchTaskInfo(1)
    assert call(http, base, task, ticket, simulator.application_token).status_code == 503
    clock.advance(60)
    assert (simulator.state(), state_of(http, simulator)["IsRunning"]) == ("Running", True)
    assert call(http, base, task, ticket, simulator.application_token).status_code == 200


def test_set_state_and_move_check_their_arguments(online: OnlineSimulator) -> None:
    with pytest.raises(ValueError, match="state must be one of"):
        online.set_state(state="Paused")
    with pytest.raises(ValueError, match="seconds must be positive"):
        online.set_state(state="Running", seconds=0)
    with pytest.raises(ValueError, match="no tenant host 2"):
        online.move(host=2)
    with pytest.raises(TypeError):
        online.move(host="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no such tenant"):
        online.move("Cust1", host=0)
    assert online.state() == "Running"


# -- hosts ------------------------------------------------------------------------------


def test_a_host_the_tenant_is_not_on_answers_421(
    http: httpx.Client, online: OnlineSimulator
) -> None:
    before = online.misdirected
    host_0, host_1 = online.host_urls
    assert online.endpoint() == f"{host_0}/{FIRST}"
    ticket = online.issue_ticket()
    for base in (f"{host_1}/{FIRST}", f"{online.environment}/{FIRST}", f"{host_0}/Cust1"):
        response = call(http, base, GetBatchTaskInfo(1), ticket, online.application_token)
        assert response.status_code == 421
        assert response.text == "Wrong subdomain used to access tenant"
    response = http.get(f"{online.environment}/Remote/Services88/Batch.svc?wsdl")
    assert response.status_code == 421
    assert online.misdirected == before + 4


def test_a_moved_tenant_keeps_its_jobs_and_tickets(
    http: httpx.Client, simulate: Callable[..., OnlineSimulator]
) -> None:
    simulator = simulate(hosts=3)
    ticket = ticket_of(http, simulator)
    old = simulator.endpoint()
    job_id = started_job(http, simulator, old, ticket)
    simulator.move(host=2)
    new = simulator.endpoint()
    assert new == f"{simulator.host_urls[2]}/{FIRST}"
    assert state_of(http, simulator)["Endpoint"] == new
    task = GetBatchTaskInfo(job_id)
    assert call(http, old, task, ticket, simulator.application_token).status_code == 421
    moved = call(http, new, task, ticket, simulator.application_token)
    assert business_error(moved) == (None, None)
    claims = verified_claims(http, simulator, token_of(exchange(http, simulator)))
    assert claims[IDENTITY + "netserver_url"] == f"{new}/Remote/Services88/"


@pytest.mark.parametrize(
    "path",
    [
        "/api/Remote/Services88/Batch.svc",
        "/Remote/Services87/Remote/Services88/Batch.svc",
        "/Remote/Services88/Remote/Services88/Batch.svc",
        "/Remote/Services88/Batch.svc/",
        "/Remote/Services88/Batch.svc/more",
        "/Remote/Services88/Nothing.svc",
    ],
)
def test_a_tenant_host_serves_exactly_the_tenants_service_paths(
    http: httpx.Client, online: OnlineSimulator, path: str
) -> None:
    calls = len(online.calls)
    request = GetBatchTaskInfo(1).to_request(
        Credentials(ticket=online.issue_ticket(), application_token=online.application_token),
        SoapVersion.SOAP11,
    )
    url = online.endpoint() + path
    response = http.post(url, content=request.content, headers=request.headers)
    assert response.status_code == 404
    assert "404 - File or directory not found." in response.text
    assert len(online.calls) == calls


# -- NetServer on a tenant host ---------------------------------------------------------


def test_an_expired_ticket_is_a_so_session_exception(
    http: httpx.Client, simulate: Callable[..., OnlineSimulator]
) -> None:
    clock = FakeClock()
    simulator = simulate(clock=clock, ticket_lifetime=60.0)
    ticket = ticket_of(http, simulator)
    task = GetBatchTaskInfo(1)
    known = call(http, simulator.endpoint(), task, ticket, simulator.application_token)
    assert business_error(known)[0] == NOT_FOUND
    clock.advance(60.0)
    for _ in range(2):  # expired, then unknown: it cannot be renewed
        expired = call(http, simulator.endpoint(), task, ticket, simulator.application_token)
        exception_type, message = business_error(expired)
        assert exception_type == SESSION_EXCEPTION
        assert message.startswith("Failed to validate tokens: ")


def test_expire_tickets_ends_every_ticket(
    http: httpx.Client, simulate: Callable[..., OnlineSimulator]
) -> None:
    simulator = simulate()
    ticket = ticket_of(http, simulator)
    simulator.expire_tickets()
    response = call(
        http, simulator.endpoint(), GetBatchTaskInfo(1), ticket, simulator.application_token
    )
    assert business_error(response)[0] == SESSION_EXCEPTION


def test_a_ticket_is_valid_for_its_own_tenant_only(
    http: httpx.Client, simulate: Callable[..., OnlineSimulator]
) -> None:
    simulator = simulate(tenants=(FIRST, SECOND))
    first = ticket_of(http, simulator, FIRST)
    simulator.move(SECOND, host=0)  # both on one host: only the tenant differs
    task = GetBatchTaskInfo(1)
    for ctx, expected in ((SECOND, SESSION_EXCEPTION), (FIRST, NOT_FOUND)):
        response = call(http, simulator.endpoint(ctx), task, first, simulator.application_token)
        assert business_error(response)[0] == expected
    lower = simulator.endpoint(FIRST).replace(FIRST, FIRST.lower())
    response = call(http, lower, task, first, simulator.application_token)
    assert business_error(response)[0] == NOT_FOUND


def test_each_tenant_has_its_own_jobs(
    http: httpx.Client, simulate: Callable[..., OnlineSimulator]
) -> None:
    simulator = simulate(tenants=(FIRST, SECOND), job_duration=0.0)
    simulator.move(SECOND, host=0)  # both on one host: only the tenant differs
    first, second = ticket_of(http, simulator, FIRST), ticket_of(http, simulator, SECOND)
    token = simulator.application_token
    job_id = started_job(http, simulator, simulator.endpoint(FIRST), first)
    listing = GetAllBatchTaskInfosByName("")
    for ctx, ticket, expected in ((FIRST, first, [job_id]), (SECOND, second, [])):
        listed = call(http, simulator.endpoint(ctx), listing, ticket, token)
        assert business_error(listed) == (None, None)
        ids = etree.fromstring(listed.content).iterfind(f".//{{{TNS}}}BatchTaskInfo/{{{TNS}}}Id")
        assert [int(element.text or "") for element in ids] == expected
    read = call(http, simulator.endpoint(SECOND), GetBatchTaskInfo(job_id), second, token)
    assert business_error(read)[0] == NOT_FOUND  # Cust67890 has no such task
    assert [job.id for job in simulator.jobs_of(FIRST)] == [job_id]
    assert simulator.jobs_of(SECOND) == []
    # Each tenant numbers its own tasks, as each is its own database.
    assert started_job(http, simulator, simulator.endpoint(SECOND), second) == job_id
    assert [job.id for job in simulator.jobs] == [job_id, job_id]


@pytest.mark.parametrize(("status", "retry_after", "body"), FRONT_END_STATUSES)
def test_the_front_ends_statuses_can_be_rehearsed_online(
    http: httpx.Client,
    online: OnlineSimulator,
    status: int,
    retry_after: str | None,
    body: str,
) -> None:
    ticket, calls = online.issue_ticket(), len(online.calls)
    online.faults.http_status = status
    online.faults.retry_after = 7
    online.faults.count = 1
    try:
        refused = call(
            http,
            online.endpoint(),
            GetBatchTaskInfo(NO_SUCH_TASK),
            ticket,
            online.application_token,
        )
    finally:
        online.faults.reset()
    assert refused.status_code == status
    assert body in refused.text
    assert refused.headers.get("retry-after") == retry_after
    assert len(online.calls) == calls
    served = call(
        http, online.endpoint(), GetBatchTaskInfo(NO_SUCH_TASK), ticket, online.application_token
    )
    assert business_error(served)[0] == NOT_FOUND


@pytest.mark.parametrize("application_token", [None, "not-the-secret"], ids=["none", "wrong"])
def test_batch_calls_need_the_application_token(
    http: httpx.Client, online: OnlineSimulator, application_token: str | None
) -> None:
    before = len(online.jobs)
    start = StartBatchJob(BatchTaskInfo(name="ExportTask"))
    response = call(http, online.endpoint(), start, online.issue_ticket(), application_token)
    exception_type, _ = business_error(response)
    assert exception_type == "SuperOffice.Exceptions.ApplicationTokenException"
    assert len(online.jobs) == before


# -- making one -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"tenants": "Cust12345"}, TypeError, "tenants"),
        ({"tenants": ()}, TypeError, "tenants"),
        ({"tenants": ("Cust/1",)}, ValueError, "context identifier"),
        ({"tenants": ("Cust1", "CUST1")}, ValueError, "twice"),
        ({"system_user_tokens": {"Cust2": "t"}}, ValueError, "unknown tenants"),
        ({"hosts": 0}, ValueError, "hosts"),
        ({"token_lifetime": 0}, ValueError, "token_lifetime"),
        ({"clock_skew": -1}, ValueError, "clock_skew"),
        ({"clock": 5}, TypeError, "clock"),
    ],
)
def test_options_are_checked_before_any_key_is_made(
    options: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        OnlineSimulator(**options)


def test_where_before_start_is_an_error(keys: tuple[RsaKey, RsaKey, RsaKey]) -> None:
    simulator = OnlineSimulator(app_key=keys[0], signing_key=keys[1])
    assert simulator.system_user_token.startswith("SystemUser-Cust12345-")
    assert simulator.context_identifier == "Cust12345"
    with pytest.raises(RuntimeError, match="start"):
        _ = simulator.environment
    assert "not started" in repr(simulator)


def test_stop_closes_every_host(
    http: httpx.Client, simulate: Callable[..., OnlineSimulator]
) -> None:
    simulator = simulate()
    urls = [simulator.environment, *simulator.host_urls]
    simulator.stop()
    simulator.stop()
    for url in urls:
        with pytest.raises(httpx.ConnectError):
            http.get(url + "/", timeout=2)


def test_the_plugin_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["superoffice_batch.testing"]')
    pytester.makepyfile(
        """
        import httpx
        from superoffice_batch.testing.online import OnlineSimulator

        def test_online(netserver_online, netserver_online_factory):
            assert isinstance(netserver_online, OnlineSimulator)
            other = netserver_online_factory(hosts=3, tenants=("Cust1",))
            assert len(other.host_urls) == 3 and other.context_identifier == "Cust1"
            for simulator in (netserver_online, other):
                url = simulator.environment + "/login/.well-known/jwks"
                assert httpx.get(url, timeout=5).status_code == 200
        """
    )
    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


@pytest.mark.slow
def test_importing_needs_no_extra_until_a_simulator_is_made() -> None:
    script = (
        "import sys\n"
        "sys.modules['cryptography'] = None\n"  # as if the extra were not installed
        "import pytest, superoffice_batch.testing as testing\n"
        "from superoffice_batch.testing.online import OnlineSimulator\n"
        "assert hasattr(testing, 'netserver_online') and 'jwt' not in sys.modules\n"
        "try:\n"
        "    OnlineSimulator()\n"
        "except ImportError as error:\n"
        "    assert 'superoffice-batch[online]' in str(error), error\n"
        "else:\n"
        "    raise AssertionError('no ImportError')\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
