"""SuperOffice CRM Online: system-user tickets and the tenant's own endpoint (PROTOCOL.md §11).

A server-side app has no user to log in. It signs the tenant's *system-user token* with its
RSA key, exchanges it at SuperOffice's PartnerSystemUserService for a JWT, validates the JWT
against the environment's published keys and takes the NetServer ticket from its claims.
The tenant's API root is not a fixed URL either: the tenant state API names it, and it moves.

:class:`SystemUser` does both as sans-I/O flows (:meth:`SystemUser.login_flow`,
:meth:`SystemUser.tenant_flow`) that the clients drive; this module sends nothing itself.
:class:`OnlineTenant`, the part that finds the tenant, needs no credentials. They implement
the protocols of :mod:`superoffice_batch.auth` (a ticket source, a tenant source whose
state lives in a :class:`~superoffice_batch.auth.TenantCache`); the rules for what a state
may say live here: which states answer, how long one is kept (:meth:`TenantState.expires_at`)
and which hosts may serve a tenant (:func:`_checked_endpoint`). PyJWT and cryptography (the
``[online]`` extra) are imported when a :class:`SystemUser` is made, never by
``import superoffice_batch``.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import logging
import os
import re
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import httpx
from lxml import etree

from .auth import TenantCache, TicketCache, check_secret
from .envelope import hardened_parser, open_reply, serialize
from .errors import AuthenticationError, HttpError, ProtocolError, SuperOfficeError, label
from .messages import HttpRequest, RawResponse
from .secrets import SecretView
from .servertext import ServerText, reveal, shows_as_is
from .xmlvalues import MAX_SECRET_CHARS, check_text, parse_datetime

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

    from .auth import Flow, LoginSession

__all__ = [
    "API_STATES",
    "ENVIRONMENTS",
    "ISSUER",
    "SYSTEM_USER_ENV",
    "TENANT_ENV",
    "TICKET_CLAIM",
    "OnlineTenant",
    "SystemUser",
    "TenantState",
]

ENVIRONMENTS = ("sod", "qaonline", "online")
"""SuperOffice's environments: development, stage, production (``https://{env}.superoffice.com``)."""
_MAX_HOST_CHARS = 253  # DNS's limit for a name
_NAMED_ROOTS = frozenset(f"https://{name}.superoffice.com" for name in ENVIRONMENTS)
# A tenant host: ASCII labels (no punycode look-alike), under superoffice.com, no port.
_SUPEROFFICE_HOST = re.compile(
    r"(?:(?!xn--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+superoffice\.com", re.ASCII
)
ISSUER = "SuperOffice AS"
"""The ``iss`` every SuperOffice JWT carries (not the OpenID configuration's ``issuer``)."""
CLAIMS = "http://schemes.superoffice.net/identity/"
TICKET_CLAIM = CLAIMS + "ticket"
SERIAL_CLAIM = CLAIMS + "serial"
API_STATES = frozenset({"Running", "OnlineMaintenance"})
"""Tenant states in which the API answers; in any other the clients send nothing."""
PSU = "http://www.superoffice.com/superid/partnersystemuser/0.1"
EXCHANGE_PATH = "/Login/Services/PartnerSystemUserService.svc"
JWKS_PATH = "/login/.well-known/jwks"
STATE_PATH = "/api/state/"
TICKET_IDLE_LIMIT = 6 * 3600.0
"""Seconds a ticket may go unused before NetServer forgets it (each use extends it)."""
LEEWAY = 60.0
"""Seconds of clock difference allowed when checking a JWT's ``exp`` and ``nbf``."""
STATE_FLOOR = 30.0
"""Seconds a tenant state whose API is available is kept at least, so a clock ahead of
SuperOffice's cannot make every call ask for it again."""
STATE_CAP = 3600.0
"""Seconds a tenant state is kept at most, whatever its ``ValidUntil`` says."""

_SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
_EXCHANGE_HEADERS = {
    "Content-Type": "text/xml; charset=utf-8",
    "SOAPAction": f'"{PSU}/IPartnerSystemUserService/Authenticate"',
}
_JSON_HEADERS = {"Accept": "application/json"}
_RESPONSE = f"{{{PSU}}}AuthenticationResponse"
_RESPONSE_FIELDS = ("ErrorMessage", "IsSuccessful", "Token")
_RSAXML_FIELDS = ("Modulus", "Exponent", "P", "Q", "DP", "DQ", "InverseQ", "D")
_MAX_KEY_FILE_BYTES = 1024 * 1024
# Longer "paths" are taken for key content (a 2048-bit key's base64 is about 1,600 characters).
_MAX_PATH_CHARS = 512
_KEY_SUFFIXES = frozenset({".pem", ".key", ".xml", ".txt"})
# A JWKS holds a handful of keys; building thousands from a hostile reply costs real time.
_MAX_JWKS_KEYS = 64
_EXTRA_HINT = "pip install 'superoffice-batch[online]'"

logger = logging.getLogger("superoffice_batch")


def require_online_extra() -> None:
    """Raise ``ImportError`` naming the ``[online]`` extra unless PyJWT and cryptography load."""
    try:
        import cryptography  # noqa: F401
        import jwt  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"SystemUser needs PyJWT and cryptography, the 'online' extra: {_EXTRA_HINT}",
            name=error.name,
        ) from error


# -- settings --------------------------------------------------------------------------


def environment_root(environment: object) -> str:
    """``sod``/``qaonline``/``online``, or an ``http(s)://host[:port]`` URL standing in for
    one, as the root URL without a trailing slash."""
    if not isinstance(environment, str):
        raise TypeError(f"environment must be a str, not {type(environment).__name__}")
    if environment in ENVIRONMENTS:
        return f"https://{environment}.superoffice.com"
    url = _checked_url("environment", environment, expected=", or one of sod, qaonline, online")
    if url.path not in ("", "/"):
        raise ValueError("environment must be a root URL (http(s)://host[:port]), without a path")
    return str(url.copy_with(path="/")).rstrip("/")


def _checked_url(name: str, value: str, *, expected: str = "") -> httpx.URL:
    """``value`` as an absolute http(s) URL with a host, a valid port and no user info."""
    try:
        url = httpx.URL(value)
        port = url.port
    except (httpx.InvalidURL, UnicodeError, ValueError):
        raise ValueError(f"{name} must be an http:// or https:// URL{expected}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"{name} must be an http:// or https:// URL{expected}")
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"{name} has a port outside 1-65535: {port}")
    # The string too: httpx parses "…/Cust1?" as having no query, and joins it otherwise.
    if url.userinfo or url.query or url.fragment or "?" in value or "#" in value:
        raise ValueError(f"{name} must not carry user info, a query or a fragment")
    return url


def _check_context_identifier(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"context_identifier must be a str, not {type(value).__name__}")
    digits = value[4:]
    if not (value.startswith("Cust") and digits.isascii() and digits.isdigit()):
        raise ValueError(
            f"context_identifier must be Cust followed by digits (e.g. Cust12345), got {value!r}"
        )
    return value


# -- the private key -----------------------------------------------------------------------


KeyInput = str | bytes | os.PathLike[str] | os.PathLike[bytes]
"""A private key: PEM (PKCS#1 or PKCS#8) or .NET RSAXML, as text, bytes or a file's path."""


def load_private_key(value: object) -> tuple[RSAPrivateKey, str]:
    """The RSA private key in ``value``, and its text (to mask); errors never show the key.

    The text may start with a byte order mark (UTF-8, or UTF-16 as Windows PowerShell
    writes), end its lines with CRLF and have whitespace around it.
    """
    if isinstance(value, os.PathLike):
        data = _read_key_file(value)
    elif isinstance(value, (str, bytes)):
        data = value.encode("utf-8", errors="replace") if isinstance(value, str) else value
    else:
        raise TypeError(
            f"private_key must be PEM or RSAXML text (str or bytes) or a path (os.PathLike), "
            f"not {type(value).__name__}"
        )
    data = _key_text(data)
    if data.startswith(b"<"):
        key = _rsaxml_key(data)
    elif data.startswith(b"-----BEGIN "):
        key = _pem_key(data)
    else:
        hint = "; pass a file's path as a pathlib.Path" if _looks_like_path(value) else ""
        raise ValueError(
            f"private_key is neither PEM (-----BEGIN …) nor RSAXML (<RSAKeyValue>){hint}"
        )
    return key, data.decode("utf-8", errors="replace")


_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _key_text(data: bytes) -> bytes:
    """The key's bytes as UTF-8 without a byte order mark or surrounding whitespace."""
    if data.startswith(_UTF16_BOMS):
        try:
            data = data.decode("utf-16").encode("utf-8")
        except UnicodeError:
            raise ValueError(
                "private_key starts with a UTF-16 byte order mark but is not UTF-16"
            ) from None
    return data.strip().removeprefix(codecs.BOM_UTF8).strip()


def _looks_like_key(text: str) -> bool:
    """Whether text given as a file's path is a key's content instead."""
    shown = text.lstrip("\ufeff \t\r\n")
    return shown.startswith(("-----BEGIN", "<")) or "\n" in shown or len(shown) > _MAX_PATH_CHARS


def _looks_like_path(value: object) -> bool:
    """Whether a key given as ``str`` that is no key is a file's path, meant as one."""
    if not isinstance(value, str) or _looks_like_key(value) or not value.strip():
        return False
    return "/" in value or "\\" in value or os.path.splitext(value)[1].lower() in _KEY_SUFFIXES


def _read_key_file(path: os.PathLike[str] | os.PathLike[bytes]) -> bytes:
    shown = os.fsdecode(os.fspath(path))
    if _looks_like_key(shown):  # key text in a Path (a container secret's content): never shown
        raise ValueError(
            "private_key: the path given looks like key content, not a path; pass the key's "
            "text as str or bytes, or the path of the file that holds it"
        )
    try:
        with open(path, "rb") as file:
            data = file.read(_MAX_KEY_FILE_BYTES + 1)
    except OSError as error:
        raise ValueError(f"private_key: cannot read {shown!r}: {error.strerror}") from None
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise ValueError(f"private_key: {shown!r} is over 1 MiB, too large for a key file")
    return data


def _pem_key(data: bytes) -> RSAPrivateKey:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError):  # cryptography's messages may quote the input
        raise ValueError(
            "private_key is not a readable, unencrypted PEM private key (PKCS#1 or PKCS#8)"
        ) from None
    except Exception:  # any parser failure is a bad key, never a crash
        raise ValueError("private_key is not a readable PEM private key") from None
    if not isinstance(key, RSAPrivateKey):
        raise ValueError(f"private_key must be an RSA key, not {type(key).__name__}")
    return key


def _rsaxml_key(data: bytes) -> RSAPrivateKey:
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        root = etree.fromstring(data, hardened_parser())
    except etree.XMLSyntaxError:
        raise ValueError("private_key looks like RSAXML but is not well-formed XML") from None
    if root.tag != "RSAKeyValue":
        raise ValueError("private_key is XML but not an RSAKeyValue")
    numbers = {child.tag: child.text or "" for child in root if isinstance(child.tag, str)}
    missing = [name for name in _RSAXML_FIELDS if not numbers.get(name, "").strip()]
    if missing:
        raise ValueError(f"private_key (RSAXML) lacks {', '.join(missing)}: not a private key")
    try:
        n, e, p, q, dp, dq, iqmp, d = (_base64_int(numbers[name]) for name in _RSAXML_FIELDS)
        key = rsa.RSAPrivateNumbers(p, q, d, dp, dq, iqmp, rsa.RSAPublicNumbers(e, n))
        return key.private_key()
    except (ValueError, TypeError):
        raise ValueError("private_key (RSAXML) does not hold a consistent RSA key") from None


def _base64_int(text: str) -> int:
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None
    return int.from_bytes(raw, "big")


def signed_system_token(token: str, key: RSAPrivateKey, now: datetime) -> str:
    """``{token}.{yyyyMMddHHmm}.{base64 RSA-SHA256 signature}``, as SuperOffice expects."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signed = f"{token}.{now.astimezone(timezone.utc):%Y%m%d%H%M}"
    signature = key.sign(signed.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signed}.{base64.b64encode(signature).decode('ascii')}"


# -- the tenant ------------------------------------------------------------------------


@attrs.frozen
class TenantState:
    """What the tenant state API says of a tenant: where its API is, and whether it answers."""

    context_identifier: str
    endpoint: str | None
    """The tenant's root for API calls, e.g. ``https://sod2.superoffice.com/Cust12345``
    (None only where the API is not available)."""
    state: str
    """``Running``, ``OnlineMaintenance``, ``OfflineMaintenance``, ``Suspended``, …"""
    is_running: bool
    valid_until: datetime
    """When to ask again (UTC)."""
    api: str | None = None

    @property
    def api_available(self) -> bool:
        """Whether calls may be sent: the state is Running or OnlineMaintenance."""
        return self.state in API_STATES and self.endpoint is not None

    def expires_at(self) -> float:
        """Until when (a ``time.time()`` value) the clients use this state without reading
        it again: ``valid_until``, at least :data:`STATE_FLOOR` and at most
        :data:`STATE_CAP` ahead; now, when the API is not available, so that the next
        call reads it again (a maintenance window's end is seen at once)."""
        now = time.time()
        if not self.api_available:
            return now
        return min(max(self.valid_until.timestamp(), now + STATE_FLOOR), now + STATE_CAP)


def read_tenant_state(
    response: RawResponse, url: str, root: str, context_identifier: str, secrets: SecretView
) -> TenantState:
    """The tenant state API's JSON reply, checked; a ``ProtocolError`` when it is not one
    (or when its ``Endpoint`` breaks the host rule of :func:`_checked_endpoint`).

    ``Endpoint`` may be missing only where the API is not available anyway (an unknown
    tenant's state is ``Unknown``).
    """
    data = read_json(response, url, "GET", secrets)
    context, state, endpoint = (
        data.get(name) for name in ("ContextIdentifier", "State", "Endpoint")
    )
    problem = None
    if not (isinstance(context, str) and isinstance(state, str) and context and state):
        problem = "lacks ContextIdentifier or State"
    elif not isinstance(data.get("IsRunning"), bool):
        problem = "has no boolean IsRunning"
    elif state in API_STATES and not (isinstance(endpoint, str) and endpoint):
        problem = f"says {state} but names no Endpoint"
    if problem is not None:
        raise _protocol_error(f"the tenant state {problem}", response, url, "GET", secrets)
    try:
        valid_until = parse_datetime(str(data.get("ValidUntil", "")))
    except (ValueError, OverflowError):
        valid_until = None
    if valid_until is None or valid_until.tzinfo is None:
        raise _protocol_error(
            "the tenant state has no UTC ValidUntil", response, url, "GET", secrets
        )
    if isinstance(endpoint, str) and endpoint:
        endpoint = _checked_endpoint(endpoint, root, context_identifier, response, url, secrets)
        # Every URL the library shows starts with it: it must show as it is, unmasked.
        if not shows_as_is(endpoint, secrets):
            raise _protocol_error(
                "the tenant state's Endpoint holds a secret or a character a terminal acts on",
                response,
                url,
                "GET",
                secrets,
            )
    api = data.get("Api")
    return TenantState(
        context_identifier=str(context),
        endpoint=endpoint if isinstance(endpoint, str) and endpoint else None,
        state=str(state),
        is_running=bool(data["IsRunning"]),
        valid_until=valid_until,
        api=api if isinstance(api, str) else None,
    )


def _checked_endpoint(
    endpoint: str,
    root: str,
    context_identifier: str,
    response: RawResponse,
    url: str,
    secrets: SecretView,
) -> str:
    """``Endpoint`` as the client will join service paths to it, or a ``ProtocolError``.

    The ticket and the client secret go wherever it points. Under a named environment it
    must be SuperOffice's: ``https://{host}.superoffice.com/{ContextIdentifier}``, read
    from the string as given (PROTOCOL.md §11). An environment given as a URL (a test, a
    private installation) is trusted, but never sends them from https down to http.
    """
    if root in _NAMED_ROOTS:
        if not _is_superoffice_endpoint(endpoint, context_identifier):
            raise _protocol_error(
                f"the tenant state's Endpoint is not https://<host>.superoffice.com/"
                f"{context_identifier}",
                response,
                url,
                "GET",
                secrets,
            )
        return endpoint.rstrip("/")
    try:
        checked = _checked_url("Endpoint", endpoint)
    except ValueError as error:
        raise _protocol_error(
            f"the tenant state's {error}", response, url, "GET", secrets
        ) from None
    if root.startswith("https:") and checked.scheme != "https":
        raise _protocol_error(
            "the tenant state's Endpoint is not https", response, url, "GET", secrets
        )
    return endpoint.rstrip("/")


def _is_superoffice_endpoint(endpoint: str, context_identifier: str) -> bool:
    """Whether ``endpoint`` is https, on an ASCII host under .superoffice.com (no user
    info, no port), with the path ``/{context_identifier}`` (one trailing slash allowed)."""
    scheme, _, rest = endpoint.partition("://")
    host, slash, path = rest.partition("/")
    return (
        scheme == "https"
        and bool(slash)
        and path in (context_identifier, context_identifier + "/")
        and len(host) <= _MAX_HOST_CHARS
        and host.isascii()  # before lower(): U+212A KELVIN SIGN lowers to "k"
        and _SUPEROFFICE_HOST.fullmatch(host.lower()) is not None
    )


# -- replies ---------------------------------------------------------------------------


def read_json(response: RawResponse, url: str, method: str, secrets: SecretView) -> dict[str, Any]:
    """A 200 reply's JSON object; an ``HttpError``/``ProtocolError`` otherwise."""
    if response.status_code != 200:
        content_type = response.content_type
        raise HttpError(
            response.status_code,
            ServerText(response.content, secrets, content_type),
            None if content_type is None else ServerText(content_type, secrets),
            url=url,
            method=method,
        )
    try:
        data = json.loads(response.content)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
        data = None
    if not isinstance(data, dict):
        raise _protocol_error("the reply is not a JSON object", response, url, method, secrets)
    return data


def _protocol_error(
    reason: str, response: RawResponse, url: str, method: str, secrets: SecretView
) -> ProtocolError:
    return ProtocolError(
        reason,
        status_code=response.status_code,
        body=ServerText(response.content, secrets, response.content_type),
        url=url,
        method=method,
    )


def exchange_request(
    root: str, application_token: str, context_identifier: str, signed_token: str
) -> HttpRequest:
    """The SOAP 1.1 ``Authenticate`` call of PartnerSystemUserService."""
    envelope = etree.Element(f"{{{_SOAP11}}}Envelope", nsmap={"SOAP-ENV": _SOAP11, "psu": PSU})
    header = etree.SubElement(envelope, f"{{{_SOAP11}}}Header")
    etree.SubElement(header, f"{{{PSU}}}ApplicationToken").text = application_token
    etree.SubElement(header, f"{{{PSU}}}ContextIdentifier").text = context_identifier
    body = etree.SubElement(envelope, f"{{{_SOAP11}}}Body")
    request = etree.SubElement(body, f"{{{PSU}}}AuthenticationRequest")
    etree.SubElement(request, f"{{{PSU}}}SignedSystemToken").text = signed_token
    etree.SubElement(request, f"{{{PSU}}}ReturnTokenType").text = "Jwt"
    return HttpRequest("POST", root + EXCHANGE_PATH, _EXCHANGE_HEADERS, serialize(envelope))


def read_exchange_reply(response: RawResponse, url: str, secrets: SecretView) -> str:
    """The JWT of a successful exchange; ``AuthenticationError`` when it was refused."""
    try:
        payload, _ = open_reply(
            response.content,
            status_code=response.status_code,
            content_type=response.content_type,
            secrets=secrets,
        )
    except SuperOfficeError as error:
        label(error, "POST", url)
        raise
    fields = _response_fields(payload, response, url, secrets)
    successful = (fields.get("IsSuccessful") or "").strip()
    if successful not in ("true", "1"):
        reason = fields.get("ErrorMessage") or ""
        raise AuthenticationError(
            "SuperOffice refused the system-user token",
            quoting=ServerText(reason or "no reason given", secrets),
        )
    token = (fields.get("Token") or "").strip()
    if not token:
        raise AuthenticationError("SuperOffice accepted the system-user token but sent no JWT")
    return token


def _response_fields(
    payload: etree._Element, response: RawResponse, url: str, secrets: SecretView
) -> dict[str, str | None]:
    if payload.tag != _RESPONSE:
        raise ProtocolError(
            "expected an AuthenticationResponse, found",
            quoting=ServerText(etree.QName(payload).localname, secrets),
            status_code=response.status_code,
            body=ServerText(response.content, secrets, response.content_type),
            url=url,
        )
    fields: dict[str, str | None] = {}
    for child in payload:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child)
        # WCF writes the members in the contract's namespace [inferred]; unqualified too.
        if name.namespace in (PSU, None) and name.localname in _RESPONSE_FIELDS:
            if name.localname in fields:
                raise ProtocolError(
                    f"the AuthenticationResponse has two {name.localname} elements", url=url
                )
            fields[name.localname] = child.text
    return fields


# -- the JWT ---------------------------------------------------------------------------


def _refused(reason: str) -> AuthenticationError:
    return AuthenticationError(f"the JWT from SuperOffice failed validation: {reason}")


def unverified_header(token: str) -> dict[str, Any]:
    """The JWT's header, read without checking anything."""
    import jwt

    try:
        return jwt.get_unverified_header(token)
    except Exception:  # whatever a malformed token makes PyJWT raise
        raise _refused("it is not a well-formed JWT") from None


def keys_of(jwks: Mapping[str, Any], url: str) -> dict[str | None, RSAPublicKey]:
    """The RSA signing keys of a JWKS, by ``kid``; two usable keys with one ``kid`` (or
    both without) are a ``ProtocolError``."""
    import jwt

    entries = jwks.get("keys")
    if not isinstance(entries, list) or len(entries) > _MAX_JWKS_KEYS:
        raise ProtocolError(
            f"the JWKS has no list of at most {_MAX_JWKS_KEYS} keys", url=url, method="GET"
        )
    keys: dict[str | None, RSAPublicKey] = {}
    for entry in entries:
        if not (isinstance(entry, dict) and entry.get("kty") == "RSA"):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry, algorithm="RS256").key
        except Exception:  # a key PyJWT cannot use is no signing key
            continue
        kid = entry.get("kid")
        kid = kid if isinstance(kid, str) else None
        if kid in keys:  # which of the two signs? Neither is trusted.
            named = "without a kid" if kid is None else "with the same kid"
            raise ProtocolError(f"the JWKS holds two signing keys {named}", url=url, method="GET")
        keys[kid] = key
    if not keys:
        raise ProtocolError("the JWKS holds no RSA signing key", url=url, method="GET")
    return keys


def pick_key(keys: Mapping[str | None, RSAPublicKey], kid: object) -> RSAPublicKey | None:
    """The key a JWT names; a token without ``kid`` may use the only key there is (and
    only when the JWKS holds exactly one)."""
    if isinstance(kid, str):
        return keys.get(kid)
    if kid is None and len(keys) == 1:
        return next(iter(keys.values()))
    return None


def validated_claims(token: str, key: RSAPublicKey) -> dict[str, Any]:
    """The claims of an RS256 JWT from SuperOffice, every documented check passed."""
    import jwt

    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            issuer=ISSUER,
            leeway=LEEWAY,
            options={"require": ["exp", "iss", "aud"], "verify_aud": False},
        )
    except jwt.InvalidTokenError as error:
        raise _refused(_token_problem(error)) from None
    except Exception:  # PyJWT may raise plain errors on odd input
        raise _refused("it could not be verified") from None
    serial = claims.get(SERIAL_CLAIM)
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if not isinstance(serial, str) or f"spn:{serial}" not in audiences:
        raise _refused("its audience is not spn: followed by its serial claim")
    ticket = claims.get(TICKET_CLAIM)
    if not isinstance(ticket, str) or not ticket.strip():
        raise _refused("it carries no ticket claim")
    if len(ticket) > MAX_SECRET_CHARS:  # every later masking would pay for its length
        raise _refused(f"its ticket is longer than {MAX_SECRET_CHARS} characters")
    try:
        check_text("the ticket claim", ticket, secret=True)
    except ValueError:  # signed, yet no envelope could carry it: nothing is sent
        raise _refused("its ticket holds a character XML cannot carry") from None
    return claims


def _token_problem(error: Exception) -> str:
    import jwt

    problems: tuple[tuple[type[Exception], str], ...] = (
        (jwt.InvalidSignatureError, "its signature does not verify"),
        (jwt.ExpiredSignatureError, "it has expired (exp)"),
        (jwt.ImmatureSignatureError, "it is not valid yet (nbf)"),
        (jwt.InvalidIssuerError, f"its issuer is not {ISSUER!r}"),
        (jwt.MissingRequiredClaimError, "it lacks exp, iss or aud"),
        (jwt.InvalidAlgorithmError, "it is not signed with RS256"),
    )
    for kind, text in problems:
        if isinstance(error, kind):
            return text
    return "it is malformed"


# -- the sources --------------------------------------------------------------------------

_Source = TypeVar("_Source", bound="OnlineTenant")


ENV_CONTEXT_ID = "SUPEROFFICE_CONTEXT_ID"
ENV_ENVIRONMENT = "SUPEROFFICE_ENVIRONMENT"
ENV_SYSTEM_USER_TOKEN = "SUPEROFFICE_SYSTEM_USER_TOKEN"
ENV_PRIVATE_KEY_FILE = "SUPEROFFICE_PRIVATE_KEY_FILE"
ENV_APP_TOKEN = "SUPEROFFICE_APP_TOKEN"
TENANT_ENV = (ENV_CONTEXT_ID, ENV_ENVIRONMENT)
"""What :meth:`OnlineTenant.from_env` reads."""
SYSTEM_USER_ENV = (*TENANT_ENV, ENV_SYSTEM_USER_TOKEN, ENV_PRIVATE_KEY_FILE, ENV_APP_TOKEN)
"""What :meth:`SystemUser.from_env` reads (the CLI's variables)."""

# The settings' errors start with the argument they are about (never with its value);
# from_env names the variable instead. In order: "private_key:" (the file) first.
_ENV_TERMS = (
    ("private_key:", f"{ENV_PRIVATE_KEY_FILE}:"),
    ("private_key", f"the key in {ENV_PRIVATE_KEY_FILE}"),
    ("system_user_token", ENV_SYSTEM_USER_TOKEN),
    ("application_token", ENV_APP_TOKEN),
    ("context_identifier", ENV_CONTEXT_ID),
    ("environment", ENV_ENVIRONMENT),
)


def listed(names: tuple[str, ...] | list[str]) -> str:
    """``A``, ``A and B``, ``A, B and C``: names as a message lists them."""
    return " and ".join(filter(None, (", ".join(names[:-1]), names[-1])))


def _from_env(environ: Mapping[str, str] | None, names: tuple[str, ...]) -> dict[str, str]:
    """The variables ``names``, all set and not empty, else a ``ValueError`` naming the
    ones that are not (never a value)."""
    source = os.environ if environ is None else environ
    settings = {name: source.get(name) or "" for name in names}
    missing = [name for name, value in settings.items() if not value]
    if missing:
        raise ValueError(f"incomplete system-user settings: set {listed(missing)}")
    return settings


def _in_env_terms(error: ValueError) -> ValueError:
    """A settings error with the argument it names as the variable it came from."""
    text = str(error)
    for argument, variable in _ENV_TERMS:
        if text.startswith(argument):
            return ValueError(variable + text[len(argument) :])
    return error


class OnlineTenant:
    """An Online tenant, found through SuperOffice's tenant state API: no credentials.

    ``context_identifier`` is the tenant (``Cust12345``), ``environment`` one of ``sod``,
    ``qaonline``, ``online`` (or an ``http(s)://host[:port]`` URL standing in for one).
    Give it to a client as ``auth=`` to read :meth:`BatchClient.tenant_state` only: the
    state API needs no credentials, so neither the ``[online]`` extra nor a key is needed.
    A call to NetServer needs a :class:`SystemUser`, which is an ``OnlineTenant`` with
    the app's credentials.
    """

    def __init__(self, *, context_identifier: str, environment: str) -> None:
        self.context_identifier = _check_context_identifier(context_identifier)
        self.environment = environment_root(environment)
        """The environment's root URL, e.g. ``https://sod.superoffice.com``."""
        self.secrets: tuple[str, ...] = ()
        """What to mask in errors and logs."""
        self.tenant_cache = TenantCache()
        """The tenant state, shared by every client given this source."""
        self.login_lock = threading.Lock()
        """Held by the sync clients given this source while they exchange or read the
        tenant state, so that they share one exchange (async clients lock per client)."""

    _ENV: tuple[str, ...] = TENANT_ENV
    _MASKED = ""  # the secret settings, as repr() shows them

    @classmethod
    def from_env(cls: type[_Source], environ: Mapping[str, str] | None = None) -> _Source:
        """The source the CLI's variables describe, in ``environ`` (default ``os.environ``):
        ``SUPEROFFICE_CONTEXT_ID`` and ``SUPEROFFICE_ENVIRONMENT``; for a
        :class:`SystemUser` also ``SUPEROFFICE_SYSTEM_USER_TOKEN``,
        ``SUPEROFFICE_PRIVATE_KEY_FILE`` (the key file's path; ``~`` is expanded) and
        ``SUPEROFFICE_APP_TOKEN``.

        Variables missing or empty, or a value refused, are a ``ValueError`` naming the
        variables, never their values.
        """
        settings = _from_env(environ, cls._ENV)
        try:
            return cls(**cls._arguments(settings))
        except ValueError as error:
            raise _in_env_terms(error) from None

    @staticmethod
    def _arguments(settings: Mapping[str, str]) -> dict[str, Any]:
        """The constructor's arguments from the variables."""
        return {
            "context_identifier": settings[ENV_CONTEXT_ID],
            "environment": settings[ENV_ENVIRONMENT],
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(context_identifier={self.context_identifier!r}, "
            f"environment={self.environment!r}{self._MASKED})"
        )

    def login_flow(self, session: LoginSession) -> Flow[str]:
        """Refuse: an ``OnlineTenant`` has no credentials (nothing is sent)."""
        raise ValueError(
            "auth=OnlineTenant(...) only reads the tenant state; calls to NetServer need "
            "auth=SystemUser(...)"
        )

    def tenant_flow(self, session: LoginSession) -> Flow[TenantState]:
        """Ask the state API where the tenant's API is and whether it answers."""
        url = f"{self.environment}{STATE_PATH}{self.context_identifier}"
        response = yield from session.send(HttpRequest("GET", url, _JSON_HEADERS), read_only=True)
        secrets = session.secrets.view
        tenant = read_tenant_state(
            response, url, self.environment, self.context_identifier, secrets
        )
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "%s: tenant %s is %s at %s until %s",
                type(self).__name__,
                self.context_identifier,
                reveal(ServerText(tenant.state, secrets), limit=40),  # the state API's words
                tenant.endpoint,
                tenant.valid_until.isoformat(),
            )
        return tenant


class SystemUser(OnlineTenant):
    """A SuperOffice CRM Online system user: tickets for a server-side app, no user needed.

    ``system_user_token`` comes from the tenant's consent (the app's callback),
    ``private_key`` is the app's RSA key as issued by SuperOffice (PEM, PKCS#1 or PKCS#8,
    or .NET RSAXML; as ``str``, ``bytes`` or a path), ``application_token`` the app's client
    secret (also sent as the ``ApplicationToken`` of every Batch call),
    ``context_identifier`` the tenant (``Cust12345``) and ``environment`` one of ``sod``,
    ``qaonline``, ``online`` (or an ``http(s)://host[:port]`` URL standing in for one).
    :meth:`from_env` reads them from the environment, as the CLI does.

    Give it to a client as ``auth=`` and leave out ``base_url``: the client finds the
    tenant's endpoint through the state API. The ticket (:attr:`ticket_cache`), the tenant
    state (:attr:`tenant_cache`) and the environment's keys are cached in this object, so
    clients sharing it share them; every exchange creates a credentials record on the
    tenant, so one is made only on first use, after NetServer rejects the ticket, or when
    the ticket has been idle for six hours.
    """

    def __init__(
        self,
        *,
        system_user_token: str,
        private_key: KeyInput,
        application_token: str,
        context_identifier: str,
        environment: str,
    ) -> None:
        self._system_user_token = check_secret("system_user_token", system_user_token)
        self.application_token = check_secret("application_token", application_token)
        """The app's client secret (read by the clients; never shown)."""
        super().__init__(context_identifier=context_identifier, environment=environment)
        require_online_extra()
        self._key, key_text = load_private_key(private_key)
        self.secrets = (self._system_user_token, self.application_token, key_text)
        """What to mask in errors and logs (the clients add the ticket)."""
        self.ticket_cache: TicketCache = TicketCache(idle_limit=TICKET_IDLE_LIMIT)
        """The ticket, shared by every client given this source."""
        self._keys: dict[str | None, RSAPublicKey] | None = None

    _ENV = SYSTEM_USER_ENV
    _MASKED = ", system_user_token='***', private_key='***', application_token='***'"

    @staticmethod
    def _arguments(settings: Mapping[str, str]) -> dict[str, Any]:
        key_file = settings[ENV_PRIVATE_KEY_FILE]
        if _looks_like_key(key_file):  # a container secret's content, not its path
            raise ValueError(
                f"{ENV_PRIVATE_KEY_FILE} looks like key content, not a path: set it to the "
                "path of the file that holds the key"
            )
        return {
            **OnlineTenant._arguments(settings),
            "system_user_token": settings[ENV_SYSTEM_USER_TOKEN],
            "private_key": Path(key_file).expanduser(),
            "application_token": settings[ENV_APP_TOKEN],
        }

    def login_flow(self, session: LoginSession) -> Flow[str]:
        """Exchange a freshly signed system-user token for a validated JWT; its ticket."""
        signed = signed_system_token(self._system_user_token, self._key, datetime.now(timezone.utc))
        session.secrets.register_latest("signed system-user token", signed)
        request = exchange_request(
            self.environment, self.application_token, self.context_identifier, signed
        )
        response = yield from session.send(request, read_only=False)
        token = read_exchange_reply(response, request.url, session.secrets.view)
        session.secrets.register_latest("JWT", token)
        header = unverified_header(token)
        if header.get("alg") != "RS256":
            # Checked before PyJWT sees it: HS256 "signed" with the public key, or none.
            raise AuthenticationError(
                "the JWT from SuperOffice failed validation: its algorithm is not RS256",
                quoting=ServerText(str(header.get("alg")), session.secrets.view),
            )
        kid = header.get("kid")
        key = None if self._keys is None else pick_key(self._keys, kid)
        if key is None:  # first use, or a key rotated in since: fetch the keys once
            self._keys = yield from self._fetch_keys(session)
            key = pick_key(self._keys, kid)
        if key is None:
            raise _refused("no key in the environment's JWKS has its kid")
        ticket: str = validated_claims(token, key)[TICKET_CLAIM]
        logger.info("SystemUser: a ticket for %s from %s", self.context_identifier, request.url)
        return ticket

    def _fetch_keys(self, session: LoginSession) -> Flow[dict[str | None, RSAPublicKey]]:
        url = self.environment + JWKS_PATH
        response = yield from session.send(HttpRequest("GET", url, _JSON_HEADERS), read_only=True)
        keys = keys_of(read_json(response, url, "GET", session.secrets.view), url)
        logger.info("SystemUser: %d signing key(s) from %s", len(keys), url)
        return keys
