"""SystemUser without a network: its settings, keys, signed token, envelope and JWT checks.

The JWTs here are made by hand, with ``cryptography`` and the standard library only (not
PyJWT, which the library validates with), and the signed system token is verified with
``cryptography`` directly: an independent check of both directions.
"""

from __future__ import annotations

import base64
import codecs
import hashlib
import hmac
import json
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from lxml import etree

from conftest import canonical, fixture_bytes
from superoffice_batch import AuthenticationError, HttpError, ProtocolError, SoapFault
from superoffice_batch.messages import RawResponse
from superoffice_batch.online import (
    ISSUER,
    TICKET_CLAIM,
    OnlineTenant,
    SystemUser,
    environment_root,
    exchange_request,
    keys_of,
    pick_key,
    read_exchange_reply,
    read_tenant_state,
    signed_system_token,
    validated_claims,
)
from superoffice_batch.secrets import NO_SECRETS, SecretView

CLAIMS = "http://schemes.superoffice.net/identity/"
SERIAL = "0c3a2f4e-1111-4222-8333-944445555666"
TICKET = "7T:dGhlIHN5c3RlbSB1c2VyJ3MgdGlja2V0"
APP_TOKEN = "app-client-secret-0123"
SYSTEM_USER_TOKEN = "SystemUser-Cust12345-a.b.c"
STATE_URL = "https://sod.superoffice.com/api/state/Cust12345"
EXCHANGE_URL = "https://sod.superoffice.com/Login/Services/PartnerSystemUserService.svc"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey, form: serialization.PrivateFormat) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, form, serialization.NoEncryption())


def rsaxml(key: rsa.RSAPrivateKey, *, leave_out: str = "") -> str:
    """The key as .NET's RSA.ToXmlString(true) writes it: base64, big-endian."""
    numbers = key.private_numbers()
    values = {
        "Modulus": numbers.public_numbers.n,
        "Exponent": numbers.public_numbers.e,
        "P": numbers.p,
        "Q": numbers.q,
        "DP": numbers.dmp1,
        "DQ": numbers.dmq1,
        "InverseQ": numbers.iqmp,
        "D": numbers.d,
    }
    parts = []
    for name, value in values.items():
        if name != leave_out:
            raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
            parts.append(f"<{name}>{base64.b64encode(raw).decode()}</{name}>")
    return f"<RSAKeyValue>{''.join(parts)}</RSAKeyValue>"


def system_user(private_key: object, **changes: Any) -> SystemUser:
    settings: dict[str, Any] = {
        "system_user_token": SYSTEM_USER_TOKEN,
        "private_key": private_key,
        "application_token": APP_TOKEN,
        "context_identifier": "Cust12345",
        "environment": "sod",
    }
    return SystemUser(**{**settings, **changes})


# -- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "root"),
    [
        ("sod", "https://sod.superoffice.com"),
        ("qaonline", "https://qaonline.superoffice.com"),
        ("online", "https://online.superoffice.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://login.example.test/", "https://login.example.test"),
    ],
)
def test_environment_names_a_root(environment: str, root: str) -> None:
    assert environment_root(environment) == root


@pytest.mark.parametrize(
    "environment",
    [
        "prod",
        "SOD",
        "",
        "ftp://sod.superoffice.com",
        "sod.superoffice.com",
        "http://127.0.0.1:99999",
        "https://user:pw@sod.superoffice.com",
        "https://sod.superoffice.com/Cust12345",
        "https://sod.superoffice.com/?x=1",
        "http://\ud800.test",
    ],
)
def test_a_bad_environment_is_a_value_error_naming_it(
    key: rsa.RSAPrivateKey, environment: str
) -> None:
    with pytest.raises(ValueError, match="environment"):
        system_user(pem(key, serialization.PrivateFormat.PKCS8), environment=environment)


@pytest.mark.parametrize(
    "context_identifier", ["12345", "cust12345", "Cust", "Cust12a", "Cust\uff11\uff12", " Cust1"]
)
def test_a_bad_context_identifier_is_a_value_error(
    key: rsa.RSAPrivateKey, context_identifier: str
) -> None:
    with pytest.raises(ValueError, match="context_identifier"):
        system_user(
            pem(key, serialization.PrivateFormat.PKCS8), context_identifier=context_identifier
        )


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("system_user_token", "", ValueError),
        ("application_token", "", ValueError),
        ("system_user_token", None, TypeError),
        ("application_token", 42, TypeError),
        ("context_identifier", 12345, TypeError),
        ("environment", None, TypeError),
    ],
)
def test_bad_settings_name_their_field(
    key: rsa.RSAPrivateKey, field: str, value: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match=field):
        system_user(pem(key, serialization.PrivateFormat.PKCS8), **{field: value})


# -- the private key -----------------------------------------------------------------------


def key_inputs(key: rsa.RSAPrivateKey, tmp_path: Path) -> dict[str, object]:
    pkcs8 = pem(key, serialization.PrivateFormat.PKCS8)
    pkcs1 = pem(key, serialization.PrivateFormat.TraditionalOpenSSL)
    xml = rsaxml(key)
    (tmp_path / "key.pem").write_bytes(pkcs1)
    (tmp_path / "key.xml").write_text(xml)
    return {
        "PKCS#8 str": pkcs8.decode(),
        "PKCS#1 bytes": pkcs1,
        "RSAXML str": xml,
        "RSAXML bytes": xml.encode(),
        "PEM path": tmp_path / "key.pem",
        "RSAXML path": tmp_path / "key.xml",
    }


@pytest.mark.parametrize(
    "form", ["PKCS#8 str", "PKCS#1 bytes", "RSAXML str", "RSAXML bytes", "PEM path", "RSAXML path"]
)
def test_every_key_form_signs_as_the_key_itself(
    key: rsa.RSAPrivateKey, tmp_path: Path, form: str
) -> None:
    user = system_user(key_inputs(key, tmp_path)[form])
    now = datetime(2026, 12, 4, 5, 31, 59, tzinfo=timezone.utc)

    signed = signed_system_token(SYSTEM_USER_TOKEN, user._key, now)

    token, stamp, signature = signed.rsplit(".", 2)
    assert (token, stamp) == (SYSTEM_USER_TOKEN, "202612040531")
    # Verified with cryptography directly, against the public half of the original key.
    key.public_key().verify(
        base64.b64decode(signature, validate=True),
        f"{token}.{stamp}".encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def test_the_time_stamp_is_utc_whatever_the_zone(key: rsa.RSAPrivateKey) -> None:
    from datetime import timedelta

    oslo = timezone(timedelta(hours=1))
    signed = signed_system_token("t", key, datetime(2026, 12, 4, 6, 5, tzinfo=oslo))
    assert signed.split(".")[1] == "202612040505"


def test_a_signature_by_another_key_does_not_verify(
    key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    from cryptography.exceptions import InvalidSignature

    signed = signed_system_token("t", other_key, datetime.now(timezone.utc))
    data, _, signature = signed.rpartition(".")
    with pytest.raises(InvalidSignature):
        key.public_key().verify(
            base64.b64decode(signature), data.encode(), padding.PKCS1v15(), hashes.SHA256()
        )


def bad_keys(key: rsa.RSAPrivateKey, tmp_path: Path) -> dict[str, tuple[object, type[Exception]]]:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    inconsistent = rsaxml(key).replace("<Exponent>AQAB</Exponent>", "<Exponent>Aw==</Exponent>")
    return {
        "int": (42, TypeError),
        "None": (None, TypeError),
        "text": ("not a key at all", ValueError),
        "a str path": (str(tmp_path / "key.pem"), ValueError),
        "missing file": (tmp_path / "missing.pem", ValueError),
        "EC key": (pem(ec_key, serialization.PrivateFormat.PKCS8), ValueError),  # type: ignore[arg-type]
        "encrypted": (encrypted, ValueError),
        "public key": (public, ValueError),
        "truncated PEM": (pem(key, serialization.PrivateFormat.PKCS8)[:300], ValueError),
        "RSAXML without D": (rsaxml(key, leave_out="D"), ValueError),
        "RSAXML not XML": ("<RSAKeyValue><Modulus>", ValueError),
        "RSAXML bad base64": (rsaxml(key).replace("<P>", "<P>!!"), ValueError),
        "RSAXML inconsistent": (inconsistent, ValueError),
        "other XML": ("<KeyValue/>", ValueError),
    }


BAD_KEYS = [
    "int",
    "None",
    "text",
    "a str path",
    "missing file",
    "EC key",
    "encrypted",
    "public key",
    "truncated PEM",
    "RSAXML without D",
    "RSAXML not XML",
    "RSAXML bad base64",
    "RSAXML inconsistent",
    "other XML",
]


@pytest.mark.parametrize("case", BAD_KEYS)
def test_a_bad_private_key_is_refused_naming_the_field_not_the_key(
    key: rsa.RSAPrivateKey, tmp_path: Path, case: str
) -> None:
    value, error = bad_keys(key, tmp_path)[case]

    with pytest.raises(error, match="private_key") as raised:
        system_user(value)

    message = str(raised.value)
    # No part of any key's base64 reaches the message.
    body = "".join(pem(key, serialization.PrivateFormat.PKCS8).decode().splitlines()[1:-1])
    assert not any(body[i : i + 12] in message for i in range(0, len(body) - 12, 12))
    assert raised.value.__cause__ is None or "private_key" in str(raised.value.__cause__)
    assert raised.value.__suppress_context__ or raised.value.__context__ is None


def test_the_repr_masks_every_secret(key: rsa.RSAPrivateKey) -> None:
    key_text = pem(key, serialization.PrivateFormat.PKCS8).decode()
    user = system_user(key_text)

    text = repr(user)

    assert "Cust12345" in text
    assert "https://sod.superoffice.com" in text
    for secret in (SYSTEM_USER_TOKEN, APP_TOKEN, key_text.splitlines()[1]):
        assert secret not in text
    assert set(user.secrets) >= {SYSTEM_USER_TOKEN, APP_TOKEN, key_text.strip()}


def test_without_the_online_extra_the_error_names_it(
    key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "jwt", None)  # what an uninstalled module looks like

    with pytest.raises(ImportError, match=r"superoffice-batch\[online\]"):
        system_user(pem(key, serialization.PrivateFormat.PKCS8))


@pytest.mark.slow
def test_importing_the_package_loads_neither_jwt_nor_cryptography() -> None:
    import subprocess

    code = (
        "import sys, superoffice_batch; from superoffice_batch import BatchClient; "
        "print(sorted(m for m in ('jwt', 'cryptography') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the exchange --------------------------------------------------------------------------


def test_the_exchange_request_is_the_documented_envelope() -> None:
    request = exchange_request(
        "https://sod.superoffice.com", APP_TOKEN, "Cust12345", "token.202612040531.c2ln"
    )

    assert request.method == "POST"
    assert request.url == EXCHANGE_URL
    assert request.headers == {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": '"http://www.superoffice.com/superid/partnersystemuser/0.1/'
        'IPartnerSystemUserService/Authenticate"',
    }
    assert canonical(request.content) == canonical(
        fixture_bytes("golden/PartnerSystemUserService-Authenticate.xml")
    )
    assert APP_TOKEN not in repr(request)


def test_the_exchange_request_says_what_the_documented_one_says() -> None:
    # Prefixes aside (the documentation binds one namespace to two of them).
    def structure(xml: bytes) -> list[tuple[str, str]]:
        root = etree.fromstring(xml)
        return [(element.tag, (element.text or "").strip()) for element in root.iter(etree.Element)]

    request = exchange_request(
        "https://sod.superoffice.com", APP_TOKEN, "Cust12345", "token.202612040531.c2ln"
    )
    documented = fixture_bytes("documented/PartnerSystemUserService-Authenticate-request.xml")
    assert structure(request.content) == structure(documented)


def exchange_reply(fields: str, *, status: int = 200) -> RawResponse:
    body = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>'
        '<ActivityId xmlns="http://schemas.microsoft.com/2004/09/ServiceModel/Diagnostics">'
        "1b1f</ActivityId></s:Header><s:Body>"
        '<AuthenticationResponse xmlns="http://www.superoffice.com/superid/partnersystemuser/0.1"'
        ' xmlns:i="http://www.w3.org/2001/XMLSchema-instance">'
        f"{fields}</AuthenticationResponse></s:Body></s:Envelope>"
    )
    return RawResponse(status, "text/xml; charset=utf-8", body.encode())


def test_a_successful_exchange_gives_its_token() -> None:
    reply = exchange_reply(
        '<ErrorMessage i:nil="true"/><IsSuccessful>true</IsSuccessful><Token> a.b.c </Token>'
    )
    assert read_exchange_reply(reply, EXCHANGE_URL, NO_SECRETS) == "a.b.c"


def test_a_refused_exchange_says_why_with_secrets_masked() -> None:
    reply = exchange_reply(
        f"<ErrorMessage>Unknown application token {APP_TOKEN}</ErrorMessage>"
        '<IsSuccessful>false</IsSuccessful><Token i:nil="true"/>'
    )

    with pytest.raises(AuthenticationError, match="Unknown application token \\*\\*\\*") as raised:
        read_exchange_reply(reply, EXCHANGE_URL, SecretView([APP_TOKEN]))

    assert APP_TOKEN not in str(raised.value)


@pytest.mark.parametrize(
    "echo",
    [
        "".join(f"&amp;#{ord(c)};" for c in APP_TOKEN),
        APP_TOKEN.upper(),
        APP_TOKEN.replace("-", "%2D"),
    ],
    ids=["decimal references", "upper case", "percent-encoded"],
)
def test_a_refusal_echoing_a_secret_in_another_form_is_masked(echo: str) -> None:
    reply = exchange_reply(
        f"<ErrorMessage>Unknown token {echo}</ErrorMessage><IsSuccessful>false</IsSuccessful>"
    )

    with pytest.raises(AuthenticationError, match=r"Unknown token \*\*\*") as raised:
        read_exchange_reply(reply, EXCHANGE_URL, SecretView([APP_TOKEN]))

    assert "client-secret" not in str(raised.value).lower()


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (exchange_reply("<IsSuccessful>true</IsSuccessful><Token/>"), AuthenticationError),
        (exchange_reply("<IsSuccessful>maybe</IsSuccessful><Token>a</Token>"), AuthenticationError),
        (
            exchange_reply("<IsSuccessful>true</IsSuccessful><Token>a</Token><Token>b</Token>"),
            ProtocolError,
        ),
        (
            RawResponse(
                200, "text/xml", exchange_reply("").content.replace(b"Authentication", b"X")
            ),
            ProtocolError,
        ),
        (RawResponse(502, "text/html", b"<html>Bad gateway</html>"), HttpError),
        (RawResponse(200, "text/html", b"<html>WAF</html>"), ProtocolError),
        (
            RawResponse(
                500,
                "text/xml",
                b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
                b"<s:Fault><faultcode>s:Client</faultcode><faultstring>Bad</faultstring>"
                b"</s:Fault></s:Body></s:Envelope>",
            ),
            SoapFault,
        ),
    ],
    ids=["empty token", "not a boolean", "two tokens", "other payload", "502", "HTML", "fault"],
)
def test_an_unusable_exchange_reply_is_a_library_error_naming_the_url(
    reply: RawResponse, error: type[Exception]
) -> None:
    with pytest.raises(error) as raised:
        read_exchange_reply(reply, EXCHANGE_URL, NO_SECRETS)
    if not isinstance(raised.value, AuthenticationError):
        assert EXCHANGE_URL in str(raised.value)


# -- the JWT -------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(
    key: rsa.RSAPrivateKey | None, claims: dict[str, Any], header: dict[str, Any] | None = None
) -> str:
    """A JWT made with json, base64 and cryptography only."""
    head = header or {"alg": "RS256", "typ": "JWT", "kid": "k1"}
    signing_input = f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(claims).encode())}"
    if key is None:
        return signing_input + "."
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def good_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": f"spn:{SERIAL}",
        "exp": now + 300,
        "nbf": now - 5,
        "iat": now - 5,
        CLAIMS + "serial": SERIAL,
        CLAIMS + "ticket": TICKET,
        CLAIMS + "ctx": "Cust12345",
        CLAIMS + "netserver_url": "https://sod2.superoffice.com/Cust12345/Remote/Services88/",
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def test_a_hand_made_jwt_with_the_documented_claims_validates(key: rsa.RSAPrivateKey) -> None:
    claims = validated_claims(make_jwt(key, good_claims()), key.public_key())
    assert claims[TICKET_CLAIM] == TICKET


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        (good_claims(iss="https://sod.superoffice.com/login"), "issuer"),
        (good_claims(iss=None), "lacks"),
        (good_claims(aud="spn:someone-else"), "audience"),
        (good_claims(aud=None), "lacks"),
        (good_claims(**{CLAIMS + "serial": None}), "audience"),
        (good_claims(exp=int(time.time()) - 120), "expired"),
        (good_claims(exp=None), "lacks"),
        (good_claims(nbf=int(time.time()) + 600), "not valid yet"),
        (good_claims(**{CLAIMS + "ticket": None}), "no ticket"),
        (good_claims(**{CLAIMS + "ticket": " "}), "no ticket"),
        (good_claims(**{CLAIMS + "ticket": "7T:" + "A" * 65536}), "longer than"),
    ],
    ids=[
        "discovery issuer",
        "no issuer",
        "other audience",
        "no audience",
        "no serial",
        "expired",
        "no exp",
        "not yet valid",
        "no ticket",
        "blank ticket",
        "ticket over 64 KiB",
    ],
)
def test_a_jwt_failing_a_check_is_an_authentication_error(
    key: rsa.RSAPrivateKey, claims: dict[str, Any], reason: str
) -> None:
    with pytest.raises(AuthenticationError, match=reason) as raised:
        validated_claims(make_jwt(key, claims), key.public_key())
    assert TICKET not in str(raised.value)


def test_the_leeway_is_a_minute(key: rsa.RSAPrivateKey) -> None:
    recent = good_claims(exp=int(time.time()) - 30, nbf=int(time.time()) + 30)
    assert validated_claims(make_jwt(key, recent), key.public_key())[TICKET_CLAIM] == TICKET


def test_a_jwt_signed_by_another_key_is_refused(
    key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(AuthenticationError, match="signature"):
        validated_claims(make_jwt(other_key, good_claims()), key.public_key())


def hs256_with_public_pem(key: rsa.RSAPrivateKey) -> str:
    secret = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    body = b64url(json.dumps(good_claims()).encode())
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(mac)}"


@pytest.mark.parametrize(
    "make",
    [
        lambda key: make_jwt(None, good_claims(), {"alg": "none", "typ": "JWT", "kid": "k1"}),
        hs256_with_public_pem,
        lambda key: "not-a-jwt",
        lambda key: "a.b.c",
        lambda key: make_jwt(key, good_claims())[:-20],
        lambda key: "ä.ö.ü",
    ],
    ids=["none", "HS256 with the public key", "garbage", "three parts", "cut", "non-ASCII"],
)
def test_anything_but_a_valid_rs256_jwt_is_an_authentication_error(
    key: rsa.RSAPrivateKey, make: Any
) -> None:
    with pytest.raises(AuthenticationError):
        validated_claims(make(key), key.public_key())


def test_the_jwks_gives_rsa_signing_keys_by_kid(
    key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    def jwk(private: rsa.RSAPrivateKey, kid: str, **extra: str) -> dict[str, str]:
        numbers = private.public_key().public_numbers()
        size = (numbers.n.bit_length() + 7) // 8
        return {
            "kty": "RSA",
            "kid": kid,
            "n": b64url(numbers.n.to_bytes(size, "big")),
            "e": b64url(numbers.e.to_bytes(3, "big")),
            **extra,
        }

    keys = keys_of(
        {
            "keys": [
                jwk(key, "k1", use="sig"),
                jwk(other_key, "enc", use="enc"),
                {"kty": "EC", "kid": "ec"},
                "junk",
                jwk(other_key, "k2"),
            ]
        },
        "https://sod.superoffice.com/login/.well-known/jwks",
    )

    assert set(keys) == {"k1", "k2"}
    assert keys["k1"].public_numbers() == key.public_key().public_numbers()


@pytest.mark.parametrize(
    "jwks", [{}, {"keys": "x"}, {"keys": []}, {"keys": [{"kty": "EC"}]}, {"keys": [{}] * 65}]
)
def test_a_jwks_without_usable_keys_is_a_protocol_error(jwks: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError, match="JWKS") as raised:
        keys_of(jwks, "https://sod.superoffice.com/login/.well-known/jwks")
    assert "(GET https://sod.superoffice.com/login/.well-known/jwks)" in str(raised.value)


# -- the tenant state ----------------------------------------------------------------------


def state_reply(**changes: Any) -> RawResponse:
    state: dict[str, Any] = {
        "ContextIdentifier": "Cust12345",
        "Endpoint": "https://sod2.superoffice.com/Cust12345",
        "State": "Running",
        "IsRunning": True,
        "ValidUntil": "2026-12-04T09:52:01.9342965Z",
        "Api": "https://sod2.superoffice.com/Cust12345/api",
    }
    state.update(changes)
    return RawResponse(200, "application/json; charset=utf-8", json.dumps(state).encode())


def test_the_documented_state_reads_with_seven_fraction_digits() -> None:
    tenant = read_tenant_state(
        state_reply(), STATE_URL, "https://sod.superoffice.com", "Cust12345", NO_SECRETS
    )

    assert tenant.endpoint == "https://sod2.superoffice.com/Cust12345"
    assert tenant.valid_until == datetime(2026, 12, 4, 9, 52, 1, 934296, tzinfo=timezone.utc)
    assert tenant.api_available
    assert tenant.api == "https://sod2.superoffice.com/Cust12345/api"


@pytest.mark.parametrize(
    ("state", "available"),
    [
        ("Running", True),
        ("OnlineMaintenance", True),
        ("OfflineMaintenance", False),
        ("Suspended", False),
        ("Provisioning", False),
        ("Deleted", False),
        ("SomethingNew", False),
    ],
)
def test_only_running_and_online_maintenance_have_the_api(state: str, available: bool) -> None:
    reply = state_reply(State=state, IsRunning=available)
    assert (
        read_tenant_state(
            reply, STATE_URL, "https://sod.superoffice.com", "Cust12345", NO_SECRETS
        ).api_available
        is available
    )


@pytest.mark.parametrize(
    "reply",
    [
        state_reply(Endpoint=None),
        state_reply(Endpoint="http://sod2.superoffice.com/Cust12345"),
        state_reply(Endpoint="https://u:p@evil.test/Cust12345"),
        state_reply(Endpoint="https://sod2.superoffice.com:99999/Cust12345"),
        state_reply(State=None),
        state_reply(State="Running", Endpoint=""),
        state_reply(IsRunning="yes"),
        state_reply(ValidUntil="2026-12-04T09:52:01"),
        state_reply(ValidUntil="99999999999999999999-12-04T09:52:01Z"),
        RawResponse(200, "application/json", b"[1, 2]"),
        RawResponse(200, "application/json", b"[" * 100_000),
        RawResponse(200, "text/html", b"<html>maintenance</html>"),
    ],
    ids=[
        "no endpoint",
        "endpoint downgraded to http",
        "endpoint with user info",
        "endpoint port",
        "no state",
        "running without an endpoint",
        "IsRunning not bool",
        "ValidUntil without zone",
        "ValidUntil out of range",
        "array",
        "deep nesting",
        "HTML",
    ],
)
def test_an_unusable_state_is_a_protocol_error_naming_the_get(reply: RawResponse) -> None:
    with pytest.raises(ProtocolError) as raised:
        read_tenant_state(reply, STATE_URL, "https://sod.superoffice.com", "Cust12345", NO_SECRETS)
    assert f"(GET {STATE_URL})" in str(raised.value)


def test_a_failed_state_request_is_an_http_error_naming_the_get() -> None:
    reply = RawResponse(503, "text/html", b"<html>Service Unavailable</html>")
    with pytest.raises(HttpError, match=f"HTTP 503.*\\(GET {STATE_URL}\\)"):
        read_tenant_state(reply, STATE_URL, "https://sod.superoffice.com", "Cust12345", NO_SECRETS)


# -- issue 17, break 6: the tenant's host must be SuperOffice's ---------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://169.254.169.254/Cust12345",
        "https://evil.example/Cust12345",
        "https://sod2.superoffice.com.evil.example/Cust12345",
        "https://\u0455od2.superoffice.com/Cust12345",  # Cyrillic dze for the s
        "https://xn--od2-ehd.superoffice.com/Cust12345",  # the same, as punycode
        "https://\u212aod2.superoffice.com/Cust12345",  # KELVIN SIGN: lower() makes it "k"
        "https://superoffice.com/Cust12345",
        "https://sod2.superoffice.com./Cust12345",
        "http://sod2.superoffice.com/Cust12345",
        "https://u:p@sod2.superoffice.com/Cust12345",
        "https://sod2.superoffice.com:443/Cust12345",
        "https://sod2.superoffice.com:8443/Cust12345",
        "https://sod2.superoffice.com/Cust12345?",
        "https://sod2.superoffice.com/Cust12345#",
        "https://sod2.superoffice.com/Cust12345?x=1",
        "https://sod2.superoffice.com/Cust54321",
        "https://sod2.superoffice.com/Cust12345/api",
        "https://sod2.superoffice.com/cust12345",
        "https://sod2.superoffice.com/x/../Cust12345",
        "https://sod2.superoffice.com",
        "https://sod2.superoffice.com\\@evil.example/Cust12345",
        " https://sod2.superoffice.com/Cust12345",
        "https://" + "a." * 120 + "superoffice.com/Cust12345",  # over DNS's 253 characters
    ],
)
def test_under_a_named_environment_an_endpoint_off_superoffice_is_a_protocol_error(
    endpoint: str,
) -> None:
    reply = state_reply(Endpoint=endpoint)
    for environment in ("sod", "online"):
        root = environment_root(environment)
        with pytest.raises(ProtocolError, match=r"superoffice\.com/Cust12345"):
            read_tenant_state(reply, f"{root}/api/state/Cust12345", root, "Cust12345", NO_SECRETS)


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://sod2.superoffice.com/Cust12345",
        "https://online10.superoffice.com/Cust12345/",
        "https://SOD2.SuperOffice.com/Cust12345",
    ],
)
def test_under_a_named_environment_superoffice_endpoints_pass(endpoint: str) -> None:
    tenant = read_tenant_state(
        state_reply(Endpoint=endpoint),
        STATE_URL,
        "https://sod.superoffice.com",
        "Cust12345",
        NO_SECRETS,
    )
    assert tenant.endpoint == endpoint.rstrip("/")


def test_an_environment_given_as_a_url_trusts_the_endpoint_as_before() -> None:
    reply = state_reply(Endpoint="http://127.0.0.1:8081/Cust12345")
    tenant = read_tenant_state(reply, STATE_URL, "http://127.0.0.1:8080", "Cust12345", NO_SECRETS)
    assert tenant.endpoint == "http://127.0.0.1:8081/Cust12345"


@pytest.mark.parametrize(
    "endpoint",
    ["http://127.0.0.1:8081/Cust12345?", "http://127.0.0.1:8081/Cust12345#"],
)
def test_an_empty_query_or_fragment_is_refused_under_any_environment(endpoint: str) -> None:
    # httpx parses these as having none, but joins "Remote/…" to the host's root.
    with pytest.raises(ProtocolError, match="query or a fragment"):
        read_tenant_state(
            state_reply(Endpoint=endpoint),
            STATE_URL,
            "http://127.0.0.1:8080",
            "Cust12345",
            NO_SECRETS,
        )


# -- issue 17, break 7: keys and tickets ---------------------------------------------------


def jwk(private: rsa.RSAPrivateKey, kid: str | None) -> dict[str, str]:
    numbers = private.public_key().public_numbers()
    size = (numbers.n.bit_length() + 7) // 8
    entry = {
        "kty": "RSA",
        "n": b64url(numbers.n.to_bytes(size, "big")),
        "e": b64url(numbers.e.to_bytes(3, "big")),
    }
    return entry if kid is None else {**entry, "kid": kid}


@pytest.mark.parametrize(
    ("kids", "reason"),
    [((None, None), "without a kid"), (("k1", "k1"), "with the same kid")],
)
def test_two_signing_keys_under_one_kid_are_a_protocol_error(
    key: rsa.RSAPrivateKey,
    other_key: rsa.RSAPrivateKey,
    kids: tuple[str | None, str | None],
    reason: str,
) -> None:
    jwks = {"keys": [jwk(key, kids[0]), jwk(other_key, kids[1])]}
    with pytest.raises(ProtocolError, match=reason):
        keys_of(jwks, "https://sod.superoffice.com/login/.well-known/jwks")


def test_a_token_without_a_kid_needs_exactly_one_key(
    key: rsa.RSAPrivateKey, other_key: rsa.RSAPrivateKey
) -> None:
    url = "https://sod.superoffice.com/login/.well-known/jwks"
    one = keys_of({"keys": [jwk(key, "k1")]}, url)
    two = keys_of({"keys": [jwk(key, "k1"), jwk(other_key, None)]}, url)

    assert pick_key(one, None) is one["k1"]
    assert pick_key(two, None) is None
    assert pick_key(two, "k1") is two["k1"]


@pytest.mark.parametrize("ticket", ["7T:ab\x01cd", "7T:ab\ud800cd", "7T:\ufffe"])
def test_a_signed_ticket_xml_cannot_carry_is_an_authentication_error(
    key: rsa.RSAPrivateKey, ticket: str
) -> None:
    token = make_jwt(key, good_claims(**{CLAIMS + "ticket": ticket}))
    with pytest.raises(AuthenticationError, match="XML cannot carry") as raised:
        validated_claims(token, key.public_key())
    assert ticket not in str(raised.value)


# -- issue 17, break 9, and issue 18, friction 3: the forms a key comes in ------------------


def key_text_forms(key: rsa.RSAPrivateKey) -> dict[str, bytes]:
    pkcs8 = pem(key, serialization.PrivateFormat.PKCS8)
    xml = rsaxml(key).encode()
    return {
        "RSAXML with a UTF-8 BOM": codecs.BOM_UTF8 + xml,
        "PEM with a UTF-8 BOM": codecs.BOM_UTF8 + pkcs8,
        "PEM with CRLF": pkcs8.replace(b"\n", b"\r\n"),
        "RSAXML with CRLF and indentation": xml.replace(b"><", b">\r\n  <"),
        "whitespace around": b"\r\n\t " + pkcs8 + b" \r\n\r\n",
        "BOM then whitespace": codecs.BOM_UTF8 + b"\r\n  " + xml + b"\r\n",
        "UTF-16 with a BOM": rsaxml(key).encode("utf-16"),
    }


TEXT_FORMS = [
    "RSAXML with a UTF-8 BOM",
    "PEM with a UTF-8 BOM",
    "PEM with CRLF",
    "RSAXML with CRLF and indentation",
    "whitespace around",
    "BOM then whitespace",
]


@pytest.mark.parametrize(
    ("form", "given_as"),
    [
        *((form, given_as) for form in TEXT_FORMS for given_as in ("bytes", "str", "path")),
        # A str has no encoding: UTF-16 comes as bytes or in a file.
        ("UTF-16 with a BOM", "bytes"),
        ("UTF-16 with a BOM", "path"),
    ],
)
def test_a_key_with_a_bom_crlf_or_whitespace_is_accepted(
    key: rsa.RSAPrivateKey, tmp_path: Path, form: str, given_as: str
) -> None:
    data = key_text_forms(key)[form]
    if given_as == "str":
        value: object = data.decode("utf-8")
    elif given_as == "path":
        value = tmp_path / "key"
        value.write_bytes(data)
    else:
        value = data

    user = system_user(value)

    signed = signed_system_token("t", user._key, datetime.now(timezone.utc))
    data_signed, _, signature = signed.rpartition(".")
    key.public_key().verify(
        base64.b64decode(signature), data_signed.encode(), padding.PKCS1v15(), hashes.SHA256()
    )


@pytest.mark.parametrize(
    ("value", "advised"),
    [
        ("/run/secrets/app-key.pem", True),
        ("C:\\keys\\app.xml", True),
        ("app-key.pem", True),
        (b"/run/secrets/app-key.pem", False),  # bytes are never a path
        ("not a key at all", False),
        ("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" * 40, False),  # a PEM body without its armour
        ("-----BEGIN NOTHING-----", False),
    ],
)
def test_the_path_advice_appears_only_for_text_that_looks_like_a_path(
    key: rsa.RSAPrivateKey, value: object, advised: bool
) -> None:
    with pytest.raises(ValueError, match="private_key") as raised:
        system_user(value)
    assert ("pathlib.Path" in str(raised.value)) is advised


@pytest.mark.parametrize("form", ["PKCS#8 PEM", "RSAXML", "PEM in one line"])
def test_key_text_given_as_a_path_is_never_echoed(key: rsa.RSAPrivateKey, form: str) -> None:
    text = {
        "PKCS#8 PEM": pem(key, serialization.PrivateFormat.PKCS8).decode(),
        "RSAXML": rsaxml(key),
        "PEM in one line": pem(key, serialization.PrivateFormat.PKCS8).decode().replace("\n", ""),
    }[form]

    with pytest.raises(ValueError, match="looks like key content") as raised:
        system_user(Path(text))

    message = str(raised.value)
    assert message.startswith("private_key: ")
    assert "looks like key content, not a path" in message
    assert not any(line in message for line in text.splitlines() if len(line) > 8)
    for piece in ("BEGIN", "RSAKeyValue", "MII"):
        assert piece not in message


# -- issue 18, friction 4: SystemUser.from_env ---------------------------------------------


def env_settings(key: rsa.RSAPrivateKey, tmp_path: Path) -> dict[str, str]:
    key_file = tmp_path / "app-key.pem"
    key_file.write_bytes(pem(key, serialization.PrivateFormat.PKCS8))
    return {
        "SUPEROFFICE_CONTEXT_ID": "Cust12345",
        "SUPEROFFICE_ENVIRONMENT": "sod",
        "SUPEROFFICE_SYSTEM_USER_TOKEN": SYSTEM_USER_TOKEN,
        "SUPEROFFICE_PRIVATE_KEY_FILE": str(key_file),
        "SUPEROFFICE_APP_TOKEN": APP_TOKEN,
    }


def test_from_env_reads_the_cli_variables(key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    user = SystemUser.from_env(env_settings(key, tmp_path))

    assert (user.context_identifier, user.environment) == (
        "Cust12345",
        "https://sod.superoffice.com",
    )
    assert user.application_token == APP_TOKEN
    assert user._key.private_numbers() == key.private_numbers()
    assert SYSTEM_USER_TOKEN in user.secrets


def test_from_env_reads_os_environ_by_default(
    key: rsa.RSAPrivateKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env_settings(key, tmp_path).items():
        monkeypatch.setenv(name, value)
    assert SystemUser.from_env().context_identifier == "Cust12345"


@pytest.mark.parametrize(
    ("unset", "named"),
    [
        (["SUPEROFFICE_APP_TOKEN"], "SUPEROFFICE_APP_TOKEN"),
        (
            ["SUPEROFFICE_CONTEXT_ID", "SUPEROFFICE_PRIVATE_KEY_FILE"],
            "SUPEROFFICE_CONTEXT_ID and SUPEROFFICE_PRIVATE_KEY_FILE",
        ),
        (
            [
                "SUPEROFFICE_CONTEXT_ID",
                "SUPEROFFICE_ENVIRONMENT",
                "SUPEROFFICE_SYSTEM_USER_TOKEN",
                "SUPEROFFICE_PRIVATE_KEY_FILE",
                "SUPEROFFICE_APP_TOKEN",
            ],
            "SUPEROFFICE_CONTEXT_ID, SUPEROFFICE_ENVIRONMENT, SUPEROFFICE_SYSTEM_USER_TOKEN, "
            "SUPEROFFICE_PRIVATE_KEY_FILE and SUPEROFFICE_APP_TOKEN",
        ),
    ],
)
@pytest.mark.parametrize("how", ["missing", "empty"])
def test_from_env_with_variables_missing_names_them_never_a_value(
    key: rsa.RSAPrivateKey, tmp_path: Path, unset: list[str], named: str, how: str
) -> None:
    environ = env_settings(key, tmp_path)
    for name in unset:
        if how == "missing":
            del environ[name]
        else:
            environ[name] = ""

    with pytest.raises(ValueError, match="incomplete") as raised:
        SystemUser.from_env(environ)

    assert str(raised.value) == f"incomplete system-user settings: set {named}"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SUPEROFFICE_CONTEXT_ID", "12345", "SUPEROFFICE_CONTEXT_ID must be Cust followed"),
        ("SUPEROFFICE_ENVIRONMENT", "prod", "SUPEROFFICE_ENVIRONMENT must be an http"),
        ("SUPEROFFICE_APP_TOKEN", "a\x01b", "SUPEROFFICE_APP_TOKEN contains a character"),
        (
            "SUPEROFFICE_PRIVATE_KEY_FILE",
            "/nowhere/key.pem",
            "SUPEROFFICE_PRIVATE_KEY_FILE: cannot",
        ),
    ],
)
def test_from_env_names_the_variable_a_bad_value_came_from(
    key: rsa.RSAPrivateKey, tmp_path: Path, name: str, value: str, message: str
) -> None:
    environ = {**env_settings(key, tmp_path), name: value}
    with pytest.raises(ValueError, match=f"^{re.escape(message)}") as raised:
        SystemUser.from_env(environ)
    assert SYSTEM_USER_TOKEN not in str(raised.value)
    assert APP_TOKEN not in str(raised.value)


@pytest.mark.parametrize("form", ["PEM", "RSAXML"])
def test_from_env_with_key_content_for_the_key_file_names_the_variable_not_the_key(
    key: rsa.RSAPrivateKey, tmp_path: Path, form: str
) -> None:
    text = pem(key, serialization.PrivateFormat.PKCS8).decode() if form == "PEM" else rsaxml(key)
    environ = {**env_settings(key, tmp_path), "SUPEROFFICE_PRIVATE_KEY_FILE": text}

    with pytest.raises(ValueError, match="looks like key content") as raised:
        SystemUser.from_env(environ)

    message = str(raised.value)
    assert message.startswith("SUPEROFFICE_PRIVATE_KEY_FILE looks like key content, not a path")
    assert not any(line in message for line in text.splitlines() if len(line) > 8)


def test_online_tenant_from_env_needs_only_the_tenant() -> None:
    tenant = OnlineTenant.from_env(
        {"SUPEROFFICE_CONTEXT_ID": "Cust12345", "SUPEROFFICE_ENVIRONMENT": "online"}
    )
    assert repr(tenant) == (
        "OnlineTenant(context_identifier='Cust12345', environment='https://online.superoffice.com')"
    )
    with pytest.raises(ValueError, match=r"set SUPEROFFICE_ENVIRONMENT$"):
        OnlineTenant.from_env({"SUPEROFFICE_CONTEXT_ID": "Cust12345"})
