"""A loopback stand-in for SuperOffice CRM Online: a login host and numbered tenant hosts.

:class:`OnlineSimulator` runs one **login host** (what a client calls the environment
root, ``https://{env}.superoffice.com`` in real life) and N numbered **tenant hosts**
(``sod1``, ``sod2``, … in real life), each its own HTTP server on loopback: ports stand
in for host names. Each tenant is its own NetServer, with its own jobs and tickets, which
it keeps when it moves to another host. ::

    with OnlineSimulator(tenants=("Cust12345",), hosts=2) as online:
        online.environment          # "http://127.0.0.1:<login port>": the root
        online.endpoint()           # "http://127.0.0.1:<host port>/Cust12345"

What it serves, and where that comes from (PROTOCOL.md section 11; [C] documented by
SuperOffice, [I] inferred, [own] the simulator's choice where the real behaviour is
unknown):

* The system-user exchange, ``POST {root}/Login/Services/PartnerSystemUserService.svc``
  (the path's case ignored, as IIS does), SOAP 1.1 [C]: header blocks ``ApplicationToken``
  (the app's client secret) and ``ContextIdentifier``, body ``AuthenticationRequest``
  {``SignedSystemToken``, ``ReturnTokenType``} in the partner-system-user namespace.
  The reply is an ``AuthenticationResponse`` {``IsSuccessful``, ``Token``,
  ``ErrorMessage``} in the order of the service's WSDL [C], its children in that
  namespace, a null string written as ``i:nil``
  the way WCF writes one [I], after a diagnostics ``ActivityId`` header block such as WCF
  may add [own]. Another Content-Type gets HTTP 415, another ``SOAPAction`` WCF's
  ``ActionNotSupported`` fault, a body that is no SOAP 1.1 envelope (parsed with the
  library's hardened parser) a ``DeserializationFailed`` fault, as the NetServer
  simulator answers them.
* The signed system token is ``{system user token}.{yyyyMMddHHmm UTC}.{base64 of the RSA
  PKCS#1 v1.5 SHA-256 signature of the first two parts}`` [C]; it is split on its last two
  dots (a system-user token may hold dots). The exchange is refused (HTTP 200,
  ``IsSuccessful`` false, an ``ErrorMessage``, no ``Token``) for a wrong application
  token, an unknown context identifier, a token that is not of that form, a time stamp
  more than ``clock_skew`` seconds from now (the real window is unknown [own]), a
  signature the app's public key does not verify, a system-user token the tenant does
  not have, or a ``ReturnTokenType`` other than ``Jwt``. The error texts are the
  simulator's own [own]. The exchange works whatever the tenant's state [own].
* The token issued is a JWT [C]: RS256 with a ``kid`` in its header, signed by the
  simulator's own key; ``iss`` ``SuperOffice AS``, ``aud`` ``spn:`` + the serial,
  ``exp``, ``nbf``, ``iat``, and the claims ``http://schemes.superoffice.net/identity/``
  + ``ticket`` (a fresh ``7T:`` ticket of the tenant's system user), ``serial``, ``ctx``,
  ``netserver_url`` (``{Endpoint}/Remote/Services88/``) and ``webapi_url``
  (``{Endpoint}/api/``) [C]; ``upn`` and ``associateid`` too [own values]. Each
  successful exchange creates a ticket (NetServer creates a credentials record) [C].
* The keys at ``GET {root}/login/.well-known/jwks`` and the OpenID configuration at
  ``GET {root}/login/.well-known/openid-configuration`` [C] (its ``issuer`` is
  ``{root}/login``, not the ``iss`` tokens carry [C]); other values in it are [own].
* The tenant state API, ``GET {root}/api/state/{ContextIdentifier}`` [C]:
  ``ContextIdentifier``, ``Endpoint`` (no trailing slash), ``State``, ``IsRunning`` (true
  for ``Running`` and ``OnlineMaintenance``), ``ValidUntil`` (UTC, seven fractional
  digits, ``Z``) and ``Api`` (``{Endpoint}/api``) [C]. ``ValidUntil`` is now +
  ``state_valid_for``, but not past the end of a timed state [own]. An unknown context
  identifier gets HTTP 200 with ``State`` ``Unknown`` and a null ``Endpoint`` and
  ``Api`` [own: the real reply is unknown].
* NetServer (``Batch.svc``, ``SoPrincipal.svc``, as :class:`NetServerSimulator` serves
  them, with ``online`` on: every call needs the ``ApplicationToken``) under
  ``/{ContextIdentifier}/Remote/Services88/`` on the tenant host the tenant lives on.
  The login host answers any ``…/Remote/Services88/…`` request with HTTP 421 Misdirected
  Request and the text "Wrong subdomain used to access tenant" [C], and so does a tenant
  host the tenant does not live on [I]; a tenant whose state makes the API unavailable
  (not ``Running`` or ``OnlineMaintenance``) gets IIS's HTML 503 page [own].
  Username/password logins are refused: the simulator has no users, as Basic credentials
  are not allowed Online [C]. A system user's ticket is valid for its own
  tenant only, on whichever host that tenant lives (each tenant is its own NetServer
  [I]); elsewhere it is refused like an expired one. Its jobs are its own too, numbered
  from 1 [I]. A tenant host serves exactly ``/{ContextIdentifier}/Remote/Services88/
  {Service}.svc``; under a first segment that is not a tenant living there, 421 [I].
* Anything else gets IIS's HTML 404 page (on a tenant host: every other path, such as
  ``{Endpoint}/api/Remote/Services88/Batch.svc``), a known path of the login host with
  another method 405 [own].

The simulator needs ``cryptography`` (the ``[online]`` extra): it is imported when an
:class:`OnlineSimulator` or a key is made, not when this module is, so
``superoffice_batch.testing`` is importable without it. Tests steer it with
:meth:`OnlineSimulator.move`, :meth:`~OnlineSimulator.set_state`,
:meth:`~OnlineSimulator.rotate_signing_key`, :meth:`~OnlineSimulator.tamper`,
:meth:`~OnlineSimulator.expire_tickets` and :attr:`~OnlineSimulator.faults` (one
:class:`~superoffice_batch.testing.faults.Faults` for every host, in arrival order).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import importlib
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timezone
from email.message import Message
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import attrs
from lxml import etree

from ..envelope import SoapVersion
from ..models import BatchTaskInfo
from ..xmlvalues import XSI, XSI_NIL
from . import soap
from .checks import check_options, check_seconds
from .faults import Faults
from .jobs import JobStore
from .server import Answer, Responder, Server, misdirected, page
from .sessions import Sessions
from .simulator import SERVICES_DIR, NetServerProtocol
from .wcf import MEDIA_TYPES, SoapMode, action_not_supported, action_of, read_incoming, wrong_body

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

    from ..online import SystemUser

__all__ = [
    "AUTHENTICATE_ACTION",
    "AVAILABLE_STATES",
    "IDENTITY",
    "ISSUER",
    "PSU",
    "STATES",
    "OnlineSimulator",
    "RsaKey",
    "Tamper",
    "generate_app_key",
]

PSU = "http://www.superoffice.com/superid/partnersystemuser/0.1"
"""The namespace of the partner-system-user service."""
AUTHENTICATE_ACTION = f"{PSU}/IPartnerSystemUserService/Authenticate"
IDENTITY = "http://schemes.superoffice.net/identity/"
"""The prefix of SuperOffice's own JWT claims."""
ISSUER = "SuperOffice AS"
"""The ``iss`` of the tokens SuperOffice issues."""
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
"""The tenant states the state API documents."""
AVAILABLE_STATES = frozenset({"Running", "OnlineMaintenance"})
"""The states in which the tenant's API may be called (``IsRunning`` true)."""

_EXCHANGE_PATH = "/login/services/partnersystemuserservice.svc"
_JWKS_PATH = "/login/.well-known/jwks"
_CONFIGURATION_PATH = "/login/.well-known/openid-configuration"
_STATE_PATH = re.compile(r"/api/state/(?P<ctx>[^/]+)", re.IGNORECASE)
_TENANT_PATH = re.compile(r"/(?P<ctx>[^/]+)/remote/services88/[^/]+\.svc", re.IGNORECASE)
"""What a tenant host serves: ``/{ContextIdentifier}/Remote/Services88/{Service}.svc``."""
_DIAGNOSTICS = "http://schemas.microsoft.com/2004/09/ServiceModel/Diagnostics"
_SOAP11 = SoapVersion.SOAP11
_STAMP = re.compile(r"[0-9]{12}")
_STAMP_FORMAT = "%Y%m%d%H%M"
_CONTEXT_IDENTIFIER = re.compile(r"[A-Za-z0-9_-]+")
_READ_METHODS = ("GET", "HEAD")
_EXTRA = "the online simulator needs cryptography: pip install 'superoffice-batch[online]'"


def _psu(local: str) -> str:
    return f"{{{PSU}}}{local}"


def _b64url(data: bytes) -> str:
    """Base64url without padding, as JOSE writes it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _big_endian(number: int, length: int = 0) -> bytes:
    """``number`` as unsigned big-endian bytes: the fewest, or at least ``length``."""
    return number.to_bytes(max(length, (number.bit_length() + 7) // 8, 1), "big")


def _compact_json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _json(value: object) -> Answer:
    return Answer(200, _compact_json(value), "application/json; charset=utf-8")


def _same_secret(given: str | None, expected: str) -> bool:
    """Whether ``given`` is ``expected``, compared in constant time."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


# -- keys ----------------------------------------------------------------------------------


def _cryptography() -> None:
    """Make sure the ``[online]`` extra is there, with an error that says how to get it."""
    try:
        importlib.import_module("cryptography.hazmat.primitives.asymmetric.rsa")
    except ImportError as missing:
        raise ImportError(_EXTRA) from missing


@attrs.frozen(repr=False)
class RsaKey:
    """An RSA key pair: an app's key (what SuperOffice gives a partner) or the simulator's
    JWT signing key. Its repr shows no key material."""

    private_key: RSAPrivateKey

    @property
    def public_key(self) -> RSAPublicKey:
        return self.private_key.public_key()

    @property
    def pem(self) -> str:
        """The private key as unencrypted PKCS#8 PEM."""
        from cryptography.hazmat.primitives import serialization

        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    @property
    def public_pem(self) -> str:
        """The public key as SubjectPublicKeyInfo PEM."""
        from cryptography.hazmat.primitives import serialization

        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    @property
    def rsaxml(self) -> str:
        """The private key as .NET's ``RSA.ToXmlString(true)`` writes it: standard base64 of
        big-endian numbers, ``D`` as long as the modulus and the CRT values half that, as
        ``RSAParameters`` demands."""
        numbers = self.private_key.private_numbers()
        size = (numbers.public_numbers.n.bit_length() + 7) // 8
        half = (size + 1) // 2
        values = (
            ("Modulus", numbers.public_numbers.n, size),
            ("Exponent", numbers.public_numbers.e, 0),
            ("P", numbers.p, half),
            ("Q", numbers.q, half),
            ("DP", numbers.dmp1, half),
            ("DQ", numbers.dmq1, half),
            ("InverseQ", numbers.iqmp, half),
            ("D", numbers.d, size),
        )
        key = etree.Element("RSAKeyValue")
        for name, value, length in values:
            encoded = base64.b64encode(_big_endian(value, length)).decode("ascii")
            etree.SubElement(key, name).text = encoded
        return etree.tostring(key, encoding="unicode")

    def sign(self, data: bytes) -> bytes:
        """The RSA PKCS#1 v1.5 SHA-256 signature of ``data`` (RS256)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        return self.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def verifies(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is this key's RS256 signature of ``data``."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            self.public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True

    def jwk(self, kid: str) -> dict[str, str]:
        """The public key as a JSON Web Key for RS256 signatures."""
        numbers = self.public_key.public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": kid,
            "n": _b64url(_big_endian(numbers.n)),
            "e": _b64url(_big_endian(numbers.e)),
        }

    def __repr__(self) -> str:
        return f"<RsaKey {self.private_key.key_size} bits>"


def generate_app_key(bits: int = 2048) -> RsaKey:
    """A new RSA key pair (public exponent 65537); ``ImportError`` without the extra."""
    _cryptography()
    from cryptography.hazmat.primitives.asymmetric import rsa

    return RsaKey(rsa.generate_private_key(public_exponent=65537, key_size=bits))


def _new_kid() -> str:
    # Shaped like an X.509 thumbprint, as key ids often are [own].
    return secrets.token_hex(20).upper()


# -- what a test can break -----------------------------------------------------------------

_SECONDS = attrs.validators.optional(attrs.validators.instance_of((int, float)))
_TEXT = attrs.validators.optional(attrs.validators.instance_of(str))
_FLAG = attrs.validators.instance_of(bool)


@attrs.frozen(kw_only=True)
class Tamper:
    """How the next exchange goes wrong (:meth:`OnlineSimulator.tamper`); the defaults
    change nothing."""

    issuer: str | None = attrs.field(default=None, validator=_TEXT)
    """``iss`` instead of ``SuperOffice AS``."""
    audience: str | None = attrs.field(default=None, validator=_TEXT)
    """``aud`` instead of ``spn:`` + the serial."""
    algorithm: Literal["none", "HS256"] | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(("none", "HS256")))
    )
    """``none``: no signature; ``HS256``: HMAC-SHA256 keyed with the signing key's public
    PEM (the classic key-confusion attack)."""
    expires_in: float | None = attrs.field(default=None, validator=_SECONDS)
    """``exp`` this many seconds from now (negative: already expired)."""
    not_before_in: float | None = attrs.field(default=None, validator=_SECONDS)
    """``nbf`` (and ``iat``) this many seconds from now (positive: not yet valid)."""
    omit_ticket: bool = attrs.field(default=False, validator=_FLAG)
    """No ``ticket`` claim."""
    foreign_key: bool = attrs.field(default=False, validator=_FLAG)
    """Signed by a key the JWKS does not hold (the app's own), with the current ``kid``."""
    unknown_kid: bool = attrs.field(default=False, validator=_FLAG)
    """Signed by the current key, with a ``kid`` the JWKS does not hold."""
    garbage: bool = attrs.field(default=False, validator=_FLAG)
    """A ``Token`` that is no JWT at all."""
    refuse: bool | str = attrs.field(
        default=False, validator=attrs.validators.instance_of((bool, str))
    )
    """Refuse the exchange (``IsSuccessful`` false) with this ``ErrorMessage`` (True: a
    default one)."""


_NO_TAMPERING = Tamper()


# -- the environment's state ---------------------------------------------------------------


@attrs.define
class _Tenant:
    context_identifier: str
    system_user_token: str
    jobs: JobStore
    """The tenant's own batch tasks: each tenant is its own NetServer."""
    host: int = 0
    state: str = "Running"
    until: float | None = None
    """When a timed state ends (on the clock); None: it lasts until changed."""

    @property
    def user(self) -> str:
        """The system user's name in the shared :class:`Sessions`."""
        return f"SystemUser@{self.context_identifier}"

    def settle(self, now: float) -> None:
        """End a timed state that is over: the tenant is ``Running`` again."""
        if self.until is not None and now >= self.until:
            self.state, self.until = "Running", None


@attrs.frozen
class _ExchangeRequest:
    """What an ``AuthenticationRequest`` carries; None where an element is absent or nil."""

    application_token: str | None
    context_identifier: str | None
    signed_system_token: str | None
    return_token_type: str | None

    @classmethod
    def read(cls, incoming: soap.Incoming, payload: etree._Element) -> _ExchangeRequest:
        return cls(
            _text(incoming.headers.get(_psu("ApplicationToken"))),
            _text(incoming.headers.get(_psu("ContextIdentifier"))),
            _text(payload.find(_psu("SignedSystemToken"))),
            _text(payload.find(_psu("ReturnTokenType"))),
        )


def _text(element: etree._Element | None) -> str | None:
    if element is None or element.get(XSI_NIL) in ("true", "1"):
        return None
    return element.text or ""


class _Refused(Exception):
    """The exchange is refused with this ``ErrorMessage``."""


def _stamp_time(stamp: str) -> float:
    """The epoch seconds of a ``yyyyMMddHHmm`` UTC time stamp; ``_Refused`` if it is none."""
    try:
        if _STAMP.fullmatch(stamp) is None:
            raise ValueError(stamp)
        when = datetime.strptime(stamp, _STAMP_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        raise _Refused("Malformed signed system token") from None
    return when.timestamp()


def _valid_until(seconds: float) -> str:
    """Epoch ``seconds`` as the state API writes a time: UTC, seven fractional digits, Z."""
    whole, ticks = divmod(round(seconds * 10_000_000), 10_000_000)
    day_time = datetime.fromtimestamp(whole, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{day_time}.{ticks:07d}Z"


class _Environment:
    """Every decision about the login host's requests and who may call which tenant host.

    Thread-safe: the tenants, keys, pending tampering and counters change under ``lock``.
    """

    def __init__(
        self,
        *,
        tenants: Mapping[str, str],
        hosts: int,
        app_key: RsaKey,
        signing_key: RsaKey,
        application_token: str,
        sessions: Sessions,
        new_jobs: Callable[[], JobStore],
        clock: Callable[[], float],
        clock_skew: float,
        token_lifetime: float,
        state_valid_for: float,
    ) -> None:
        self.tenants = {
            ctx.casefold(): _Tenant(ctx, token, new_jobs()) for ctx, token in tenants.items()
        }
        self.hosts = hosts
        self.app_key = app_key
        self.kid = _new_kid()
        self.keys: dict[str, RsaKey] = {self.kid: signing_key}
        """The JWKS, by kid; the current signing key is ``keys[kid]``."""
        self.application_token = application_token
        self.serial = str(uuid.uuid4()).upper()
        self.sessions = sessions
        for tenant in self.tenants.values():
            sessions.confine(tenant.user, tenant.context_identifier)
        self.clock = clock
        self.clock_skew = clock_skew
        self.token_lifetime = token_lifetime
        self.state_valid_for = state_valid_for
        self.root = ""
        self.host_urls: list[str] = []
        self.tampering = _NO_TAMPERING
        self.counts = dict.fromkeys(
            ("exchanges", "exchange_requests", "jwks", "configuration", "state", "misdirected"),
            0,
        )
        self.errors: list[BaseException] = []
        self.lock = threading.RLock()

    def count(self, counter: str) -> None:
        with self.lock:
            self.counts[counter] += 1

    def tenant(self, context_identifier: str | None) -> _Tenant | None:
        """The tenant (its timed state settled), or None if there is no such tenant."""
        if context_identifier is None:
            return None
        with self.lock:
            tenant = self.tenants.get(context_identifier.casefold())
            if tenant is not None:
                tenant.settle(self.clock())
            return tenant

    def jobs_of(self, context_identifier: str | None) -> JobStore:
        """The job store of a tenant a tenant host serves (so one that exists)."""
        tenant = self.tenant(context_identifier)
        if tenant is None:
            raise LookupError(f"no tenant {context_identifier!r} to hold jobs")
        return tenant.jobs

    def endpoint(self, tenant: _Tenant) -> str:
        return f"{self.host_urls[tenant.host]}/{tenant.context_identifier}"

    # -- tenant hosts ----------------------------------------------------------------------

    def refusal(self, host: int, context_identifier: str | None) -> Answer | None:
        """Why tenant host ``host`` does not serve a NetServer call for this tenant, if it
        does not: 421 when the tenant lives elsewhere, 503 when its API is unavailable."""
        with self.lock:
            tenant = self.tenant(context_identifier)
            if tenant is None or tenant.host != host:
                self.counts["misdirected"] += 1
                return misdirected()
            return None if tenant.state in AVAILABLE_STATES else page(503)

    # -- the login host --------------------------------------------------------------------

    def state(self, context_identifier: str) -> Answer:
        """The state API's answer for a tenant."""
        self.count("state")
        with self.lock:
            until = self.clock() + self.state_valid_for
            tenant = self.tenant(context_identifier)
            if tenant is None:
                return _json(_state_reply(context_identifier, None, "Unknown", until))
            if tenant.until is not None:
                until = min(until, tenant.until)
            return _json(
                _state_reply(tenant.context_identifier, self.endpoint(tenant), tenant.state, until)
            )

    def jwks(self) -> Answer:
        self.count("jwks")
        with self.lock:
            return _json({"keys": [key.jwk(kid) for kid, key in self.keys.items()]})

    def configuration(self) -> Answer:
        self.count("configuration")
        login = f"{self.root}/login"
        return _json(
            {
                "issuer": login,
                "jwks_uri": f"{login}/.well-known/jwks",
                "authorization_endpoint": f"{login}/common/oauth/authorize",
                "token_endpoint": f"{login}/common/oauth/tokens",
                "response_types_supported": ["code", "id_token", "code id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    def exchange(self, headers: Message, body: bytes) -> Answer:
        """The answer to ``PartnerSystemUserService.svc``'s ``Authenticate``."""
        self.count("exchange_requests")
        if MEDIA_TYPES.get(headers.get_content_type()) is not _SOAP11:
            return Answer(415)
        incoming = read_incoming(body, _SOAP11)
        if isinstance(incoming, Answer):
            return incoming
        action = action_of(headers, _SOAP11)
        if action != AUTHENTICATE_ACTION:
            return action_not_supported(_SOAP11, action)
        payload = incoming.payload
        if payload is None or payload.tag != _psu("AuthenticationRequest"):
            return wrong_body(_SOAP11, "Authenticate", _psu("AuthenticationRequest"), payload)
        try:
            token = self._authenticate(_ExchangeRequest.read(incoming, payload))
        except _Refused as refused:
            return _authentication_response(str(refused), None)
        return _authentication_response(None, token)

    def _authenticate(self, request: _ExchangeRequest) -> str:
        """The JWT for a valid request; ``_Refused`` with the reason otherwise."""
        if not _same_secret(request.application_token, self.application_token):
            raise _Refused("Invalid application token")
        tenant = self.tenant(request.context_identifier)
        if tenant is None:
            raise _Refused("Unknown context identifier")
        if request.return_token_type != "Jwt":
            raise _Refused("Unsupported token type")
        self._verify(request.signed_system_token or "", tenant)
        with self.lock:
            tampering, self.tampering = self.tampering, _NO_TAMPERING
            if tampering.refuse:
                reason = tampering.refuse
                raise _Refused(reason if isinstance(reason, str) else "Refused by the simulator")
            ticket = self.sessions.issue(tenant.user)
            self.counts["exchanges"] += 1
            return self._jwt(tenant, ticket, tampering)

    def _verify(self, signed: str, tenant: _Tenant) -> None:
        """``_Refused`` unless ``signed`` is the tenant's system-user token, signed by the
        app's key within ``clock_skew`` of now."""
        parts = signed.rsplit(".", 2)
        if len(parts) != 3:
            raise _Refused("Malformed signed system token")
        token, stamp, encoded = parts
        try:
            signature = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise _Refused("Malformed signed system token") from None
        if abs(self.clock() - _stamp_time(stamp)) > self.clock_skew:
            raise _Refused("Signed system token time stamp is out of range")
        if not self.app_key.verifies(signature, f"{token}.{stamp}".encode()):
            raise _Refused("Invalid signature")
        if not _same_secret(token, tenant.system_user_token):
            raise _Refused("Unknown system user token")

    def _jwt(self, tenant: _Tenant, ticket: str, tampering: Tamper) -> str:
        """The JWT for ``tenant``'s new ``ticket``, wrong as ``tampering`` says."""
        if tampering.garbage:
            return "not-a-jwt-" + secrets.token_urlsafe(24)
        now = self.clock()
        endpoint = self.endpoint(tenant)
        not_before = int(now + (tampering.not_before_in or 0))
        expires_in = self.token_lifetime if tampering.expires_in is None else tampering.expires_in
        claims: dict[str, object] = {
            "iss": ISSUER if tampering.issuer is None else tampering.issuer,
            "aud": f"spn:{self.serial}" if tampering.audience is None else tampering.audience,
            "exp": int(now + expires_in),
            "nbf": not_before,
            "iat": not_before,
            IDENTITY + "ticket": ticket,
            IDENTITY + "serial": self.serial,
            IDENTITY + "ctx": tenant.context_identifier,
            IDENTITY + "netserver_url": f"{endpoint}/Remote/Services88/",
            IDENTITY + "webapi_url": f"{endpoint}/api/",
            IDENTITY + "upn": tenant.user,
            IDENTITY + "associateid": str(self.sessions.associate_id(tenant.user)),
        }
        if tampering.omit_ticket:
            del claims[IDENTITY + "ticket"]
        algorithm = tampering.algorithm or "RS256"
        kid = _new_kid() if tampering.unknown_kid else self.kid
        header = {"alg": algorithm, "typ": "JWT", "kid": kid}
        signing_input = f"{_b64url(_compact_json(header))}.{_b64url(_compact_json(claims))}"
        return f"{signing_input}.{_b64url(self._signature(signing_input.encode(), tampering))}"

    def _signature(self, signing_input: bytes, tampering: Tamper) -> bytes:
        key = self.keys[self.kid]
        if tampering.algorithm == "none":
            return b""
        if tampering.algorithm == "HS256":
            secret = key.public_pem.encode("ascii")
            return hmac.new(secret, signing_input, hashlib.sha256).digest()
        return (self.app_key if tampering.foreign_key else key).sign(signing_input)


def _state_reply(
    context_identifier: str, endpoint: str | None, state: str, valid_until: float
) -> dict[str, object]:
    return {
        "ContextIdentifier": context_identifier,
        "Endpoint": endpoint,
        "State": state,
        "IsRunning": state in AVAILABLE_STATES,
        "ValidUntil": _valid_until(valid_until),
        "Api": None if endpoint is None else f"{endpoint}/api",
    }


def _authentication_response(error: str | None, token: str | None) -> Answer:
    """The reply envelope to ``Authenticate``: refused when ``error`` is given."""
    namespace = _SOAP11.namespace
    envelope = etree.Element(f"{{{namespace}}}Envelope", nsmap={"s": namespace})
    header = etree.SubElement(envelope, f"{{{namespace}}}Header")
    activity = etree.SubElement(
        header,
        f"{{{_DIAGNOSTICS}}}ActivityId",
        {"CorrelationId": str(uuid.uuid4())},
        nsmap={None: _DIAGNOSTICS},  # type: ignore[dict-item]
    )
    activity.text = str(uuid.uuid4())
    body = etree.SubElement(envelope, f"{{{namespace}}}Body")
    response = etree.SubElement(
        body,
        _psu("AuthenticationResponse"),
        nsmap={None: PSU, "i": XSI},  # type: ignore[dict-item]
    )
    members = (  # in the order of the service's WSDL
        ("IsSuccessful", "false" if error is not None else "true"),
        ("Token", token),
        ("ErrorMessage", error),
    )
    for name, value in members:
        member = etree.SubElement(response, _psu(name))
        if value is None:
            member.set(XSI_NIL, "true")
        else:
            member.text = value
    return Answer(200, etree.tostring(envelope), soap.CONTENT_TYPES[_SOAP11])


# -- the hosts -----------------------------------------------------------------------------


class _LoginHost:
    """The un-numbered host: the exchange, the keys, the state API; 421 for NetServer."""

    def __init__(self, environment: _Environment) -> None:
        self.environment = environment

    def answer(self, method: str, target: str, headers: Message, body: bytes, host: str) -> Answer:
        try:
            return self._answer(method, urlsplit(target).path, headers, body)
        except Exception as error:  # a simulator bug: answer as IIS does, keep it for tests
            with self.environment.lock:
                self.environment.errors.append(error)
            return page(500)

    def _answer(self, method: str, path: str, headers: Message, body: bytes) -> Answer:
        environment = self.environment
        lowered = path.lower()
        if SERVICES_DIR in lowered:
            environment.count("misdirected")
            return misdirected()
        state = _STATE_PATH.fullmatch(path)
        if lowered == _EXCHANGE_PATH:
            return environment.exchange(headers, body) if method == "POST" else page(405)
        if lowered not in (_JWKS_PATH, _CONFIGURATION_PATH) and state is None:
            return page(404)
        if method not in _READ_METHODS:
            return page(405)
        if state is not None:
            return environment.state(state["ctx"])
        return environment.jwks() if lowered == _JWKS_PATH else environment.configuration()


class _TenantHost:
    """A numbered host: NetServer for the tenants that live on it, 421 for the others."""

    def __init__(self, environment: _Environment, index: int, protocol: NetServerProtocol) -> None:
        self.environment = environment
        self.index = index
        self.protocol = protocol

    def answer(self, method: str, target: str, headers: Message, body: bytes, host: str) -> Answer:
        route = _TENANT_PATH.fullmatch(urlsplit(target).path)
        if route is None:  # only a tenant's root holds NetServer's services
            return page(404)
        refusal = self.environment.refusal(self.index, route["ctx"])
        if refusal is not None:
            return refusal
        return self.protocol.answer(method, target, headers, body, host)


# -- the public class ----------------------------------------------------------------------


class OnlineSimulator:
    """SuperOffice CRM Online on local ports: a login host and ``hosts`` tenant hosts.

    See the module docstring for what is served. ::

        with OnlineSimulator(tenants=("Cust12345",), hosts=2) as online:
            online.environment, online.context_identifier, online.system_user_token
            online.application_token, online.private_key_pem   # what the partner has

    Options (all keyword-only, checked when the simulator is made): ``tenants``
    (context identifiers; every tenant starts ``Running`` on host 0); ``hosts`` (how many
    tenant hosts); ``system_user_tokens`` (context identifier to system-user token, for
    any tenant whose token should not be random); ``application_token`` (the app's client
    secret; None: random); ``app_key`` and ``signing_key`` (:class:`RsaKey`; None: newly
    generated, which takes tens of milliseconds each); ``state_valid_for`` (seconds
    ``ValidUntil`` lies ahead); ``token_lifetime`` (seconds from a JWT's issue to its
    ``exp``); ``clock_skew`` (seconds a signed system token's time stamp may be off);
    ``ticket_lifetime`` (seconds a ticket may go unused); ``job_duration`` and
    ``failing_tasks`` (as :class:`NetServerSimulator`'s); ``soap`` (:class:`SoapMode` of
    the tenant hosts); ``host`` (the address every server listens on); ``port`` (the login
    host's, 0 for a free one; the tenant hosts always take free ones); ``clock`` (seconds
    since the epoch, like :func:`time.time`: tokens, time stamps, states, tickets and jobs
    all follow it). ``ImportError`` without ``cryptography``.
    """

    def __init__(
        self,
        *,
        tenants: Collection[str] = ("Cust12345",),
        hosts: int = 2,
        system_user_tokens: Mapping[str, str] | None = None,
        application_token: str | None = None,
        app_key: RsaKey | None = None,
        signing_key: RsaKey | None = None,
        state_valid_for: float = 300.0,
        token_lifetime: float = 300.0,
        clock_skew: float = 300.0,
        ticket_lifetime: float = 6 * 3600.0,
        job_duration: float = 3.0,
        failing_tasks: Collection[str] = ("FailingTask",),
        soap: SoapMode = SoapMode.SOAP11,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        _cryptography()
        tokens = _system_user_tokens(tenants, system_user_tokens)
        if isinstance(hosts, bool) or not isinstance(hosts, int) or hosts < 1:
            raise ValueError(f"hosts must be a positive number of hosts, got {hosts!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be a port number from 0 to 65535, got {port!r}")
        check_options(
            soap=soap,
            clock=clock,
            failing_tasks=failing_tasks,
            ticket_lifetime=ticket_lifetime,
            job_duration=job_duration,
        )
        check_seconds("state_valid_for", state_valid_for, positive=True)
        check_seconds("token_lifetime", token_lifetime, positive=True)
        check_seconds("clock_skew", clock_skew, positive=False)
        self.host = host
        self.port = port
        """The login host's port as asked for (0: a free one, see :attr:`environment`)."""
        self.app_key = app_key or generate_app_key()
        """The app's key pair: its private half is what SuperOffice gave the partner."""
        self.application_token = application_token or secrets.token_hex(16)
        """The app's client secret: the exchange's and every NetServer call's
        ``ApplicationToken``."""
        self.faults = Faults()
        """Fault injection for every host, in arrival order (see :mod:`.faults`)."""
        self._sessions = Sessions({}, lifetime=ticket_lifetime, clock=clock)
        self._environment = _Environment(
            tenants=tokens,
            hosts=hosts,
            app_key=self.app_key,
            signing_key=signing_key or generate_app_key(),
            application_token=self.application_token,
            sessions=self._sessions,
            new_jobs=lambda: JobStore(
                clock=clock, job_duration=job_duration, failing_tasks=failing_tasks
            ),
            clock=clock,
            clock_skew=clock_skew,
            token_lifetime=token_lifetime,
            state_valid_for=state_valid_for,
        )
        self._protocol = NetServerProtocol(
            soap_mode=soap,
            application_token=self.application_token,
            sessions=self._sessions,
            jobs_of=self._environment.jobs_of,
        )
        self._servers: list[tuple[Server, threading.Thread]] = []
        self._started = False

    # -- lifetime --------------------------------------------------------------------------

    def start(self) -> OnlineSimulator:
        """Listen on the login host and every tenant host; returns the simulator."""
        if self._started:
            raise RuntimeError("the simulator was already started")
        self._started = True
        environment = self._environment
        exposes = "exchange its system users' tokens and call their tenants"
        try:
            responders: list[Responder] = [_LoginHost(environment)]
            responders += [
                _TenantHost(environment, index, self._protocol)
                for index in range(environment.hosts)
            ]
            for number, responder in enumerate(responders):
                server = Server(self.host, self.port if number == 0 else 0, responder, self.faults)
                thread = server.serve_in_thread(f"OnlineSimulator:{number}", exposes)
                self._servers.append((server, thread))
        except BaseException:
            self.stop()
            raise
        urls = [f"http://{server.authority}" for server, _ in self._servers]
        with environment.lock:
            environment.root, environment.host_urls = urls[0], urls[1:]
        return self

    def stop(self) -> None:
        """Stop every host and close every connection; safe to call more than once."""
        # Side by side: each server takes up to its poll interval to notice.
        stopping = [
            threading.Thread(target=server.stop, args=(thread,)) for server, thread in self._servers
        ]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()

    def __enter__(self) -> OnlineSimulator:
        return self if self._started else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where -----------------------------------------------------------------------------

    def _running(self) -> _Environment:
        if not self._servers:
            raise RuntimeError("start the simulator first")
        return self._environment

    @property
    def environment(self) -> str:
        """The login host's root (``https://{env}.superoffice.com`` in real life), e.g.
        ``http://127.0.0.1:51234``."""
        return self._running().root

    @property
    def host_urls(self) -> list[str]:
        """The numbered tenant hosts' roots, by index."""
        return list(self._running().host_urls)

    def endpoint(self, ctx: str | None = None) -> str:
        """Where tenant ``ctx`` (None: the first) lives now: its ``Endpoint``, without a
        trailing slash."""
        environment = self._running()
        with environment.lock:
            return environment.endpoint(self._tenant(ctx))

    def _tenant(self, ctx: str | None) -> _Tenant:
        tenant = self._environment.tenant(ctx or self.context_identifier)
        if tenant is None:
            raise ValueError(f"no such tenant: {ctx!r}")
        return tenant

    # -- who -------------------------------------------------------------------------------

    @property
    def context_identifier(self) -> str:
        """The first tenant's context identifier, e.g. ``Cust12345``."""
        return next(iter(self._environment.tenants.values())).context_identifier

    @property
    def system_user_tokens(self) -> dict[str, str]:
        """Every tenant's system-user token, by context identifier."""
        tenants = self._environment.tenants.values()
        return {tenant.context_identifier: tenant.system_user_token for tenant in tenants}

    @property
    def system_user_token(self) -> str:
        """The first tenant's system-user token."""
        return self.system_user_tokens[self.context_identifier]

    def system_user(self, ctx: str | None = None, **changes: Any) -> SystemUser:
        """The :class:`~superoffice_batch.SystemUser` a partner's app would make for tenant
        ``ctx`` (None: the first) with what this simulator issued; ``changes`` replace any
        of its settings (``private_key=online.private_key_rsaxml``, say). The key goes in
        as text: nothing secret is written to disk."""
        from ..online import SystemUser

        tenant = self._tenant(ctx)
        settings: dict[str, Any] = {
            "system_user_token": tenant.system_user_token,
            "private_key": self.private_key_pem,
            "application_token": self.application_token,
            "context_identifier": tenant.context_identifier,
            "environment": self.environment,
        }
        return SystemUser(**{**settings, **changes})

    @property
    def private_key_pem(self) -> str:
        """The app's private key as PKCS#8 PEM."""
        return self.app_key.pem

    @property
    def private_key_rsaxml(self) -> str:
        """The app's private key as .NET RSAXML (``<RSAKeyValue>…``), as SuperOffice hands
        it out."""
        return self.app_key.rsaxml

    @property
    def serial(self) -> str:
        """The environment's serial: the tokens' ``aud`` is ``spn:`` + this."""
        return self._environment.serial

    @property
    def kid(self) -> str:
        """The ``kid`` of the current JWT signing key."""
        with self._environment.lock:
            return self._environment.kid

    @property
    def signing_public_key(self) -> RSAPublicKey:
        """The current JWT signing key's public half."""
        environment = self._environment
        with environment.lock:
            return environment.keys[environment.kid].public_key

    # -- steering --------------------------------------------------------------------------

    def move(self, ctx: str | None = None, host: int = 1) -> None:
        """Tenant ``ctx`` (None: the first) now lives on tenant host ``host`` (0-based): the
        old host answers 421 at once and the state API names the new ``Endpoint``."""
        if isinstance(host, bool) or not isinstance(host, int):
            raise TypeError(f"host must be a host index, not {type(host).__name__}")
        if not 0 <= host < self._environment.hosts:
            raise ValueError(f"no tenant host {host}: there are {self._environment.hosts}")
        with self._environment.lock:
            self._tenant(ctx).host = host

    def set_state(
        self,
        ctx: str | None = None,
        state: str = "OfflineMaintenance",
        seconds: float | None = None,
    ) -> None:
        """Tenant ``ctx`` (None: the first) is in ``state`` (one of :data:`STATES`) for
        ``seconds`` (None: until changed), then ``Running`` again."""
        if state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
        if seconds is not None:
            check_seconds("seconds", seconds, positive=True)
        environment = self._environment
        with environment.lock:
            tenant = self._tenant(ctx)
            tenant.state = state
            tenant.until = None if seconds is None else environment.clock() + seconds

    def state(self, ctx: str | None = None) -> str:
        """Tenant ``ctx``'s state now (None: the first tenant's)."""
        with self._environment.lock:
            return self._tenant(ctx).state

    def rotate_signing_key(self, keep_old: bool = True, key: RsaKey | None = None) -> str:
        """Sign the next JWTs with a new key (``key``, or a generated one) under a new
        ``kid``, which is returned; the JWKS keeps the old keys too if ``keep_old``."""
        key = key or generate_app_key()
        kid = _new_kid()
        environment = self._environment
        with environment.lock:
            if not keep_old:
                environment.keys.clear()
            environment.keys[kid] = key
            environment.kid = kid
        return kid

    def tamper(self, **changes: Any) -> Tamper:
        """Make the next successful exchange wrong in the ways :class:`Tamper` names, e.g.
        ``tamper(expires_in=-60)`` or ``tamper(refuse=True)``; once, then cleared. A new
        call replaces what an earlier one set. Returns what was set."""
        tampering = Tamper(**changes)
        with self._environment.lock:
            self._environment.tampering = tampering
        return tampering

    def issue_ticket(self, ctx: str | None = None) -> str:
        """A valid ticket for tenant ``ctx``'s system user, without an exchange."""
        return self._sessions.issue(self._tenant(ctx).user)

    def expire_tickets(self) -> None:
        """Make every ticket issued so far invalid, as if each had outlived its lifetime."""
        self._sessions.expire_all()

    # -- reading ---------------------------------------------------------------------------

    def _count(self, counter: str) -> int:
        with self._environment.lock:
            return self._environment.counts[counter]

    @property
    def exchanges(self) -> int:
        """Successful exchanges so far: each created a ticket (a credentials record)."""
        return self._count("exchanges")

    @property
    def exchange_requests(self) -> int:
        """POST requests to the exchange endpoint so far, successful or not."""
        return self._count("exchange_requests")

    @property
    def jwks_requests(self) -> int:
        return self._count("jwks")

    @property
    def configuration_requests(self) -> int:
        """Requests for the OpenID configuration so far."""
        return self._count("configuration")

    @property
    def state_requests(self) -> int:
        return self._count("state")

    @property
    def misdirected(self) -> int:
        """HTTP 421 answers sent so far, by any host."""
        return self._count("misdirected")

    @property
    def calls(self) -> list[str]:
        """The NetServer operations called so far on any tenant host, in order."""
        with self._protocol.lock:
            return list(self._protocol.calls)

    @property
    def jobs(self) -> list[BatchTaskInfo]:
        """Every tenant's tasks as they are now: tenant by tenant, in the order the tenants
        were given, each tenant's by id (each tenant numbers its own from 1)."""
        tenants = self._environment.tenants.values()
        return [job for tenant in tenants for job in tenant.jobs.snapshots()]

    def jobs_of(self, ctx: str | None = None) -> list[BatchTaskInfo]:
        """Tenant ``ctx``'s tasks (None: the first tenant's) as they are now, by id."""
        return self._tenant(ctx).jobs.snapshots()

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions the simulator itself raised while answering; empty unless it has a
        bug."""
        with self._protocol.lock:
            errors = list(self._protocol.errors)
        with self._environment.lock:
            return errors + self._environment.errors

    def __repr__(self) -> str:
        where = self._environment.root if self._servers else "not started"
        return f"<OnlineSimulator {where} hosts={self._environment.hosts}>"


def _system_user_tokens(
    tenants: Collection[str], chosen: Mapping[str, str] | None
) -> dict[str, str]:
    """Each tenant's system-user token: the chosen one, or a random one."""
    if isinstance(tenants, str) or not tenants:
        raise TypeError("tenants must be a non-empty collection of context identifiers")
    chosen = dict(chosen or {})
    tokens: dict[str, str] = {}
    for ctx in tenants:
        if not isinstance(ctx, str) or _CONTEXT_IDENTIFIER.fullmatch(ctx) is None:
            raise ValueError(f"not a context identifier: {ctx!r}")
        if ctx.casefold() in {known.casefold() for known in tokens}:
            raise ValueError(f"tenant {ctx!r} is given twice")
        tokens[ctx] = chosen.pop(ctx, "") or f"SystemUser-{ctx}-{secrets.token_hex(12)}"
    if chosen:
        raise ValueError(f"system_user_tokens for unknown tenants: {sorted(chosen)}")
    return tokens
