"""SOAP envelopes: building requests in either SOAP version, and classifying every reply.

Building: the envelope is written as text around the operation's body: the start tag with
the documented namespace declarations is worked out once per (service, SOAP version), the
header blocks and the body are escaped values between cached tags.

Reading: :func:`open_reply` is the one place where a reply is classified. It parses with a
hardened parser and returns the Body's payload, or raises exactly one of
:class:`~superoffice_batch.errors.HttpError`, :class:`~superoffice_batch.errors.SoapFault`,
:class:`~superoffice_batch.errors.ServiceError` or :class:`~superoffice_batch.errors.ProtocolError`.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable

from lxml import etree

from .errors import HttpError, ProtocolError, ServiceError, SoapFault, excerpt, redact
from .models import TIME_ZONE, Credentials, ReplyHeaders, TimeZone
from .xmlvalues import (
    ARRAYS,
    CRYPTOGRAPHY,
    SERIALIZATION,
    TNS,
    XSD,
    XSD_BOOLEAN,
    XSI,
    Markup,
    StringDictCodec,
    escape,
    is_nil,
    tns,
)

__all__ = ["DEFAULT_MAX_RESPONSE_BYTES", "Service", "SoapVersion", "open_reply"]

DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024


class SoapVersion(enum.Enum):
    """The SOAP version of an envelope.

    NetServer's documentation shows SOAP 1.2 envelopes; its published WSDL binds SOAP 1.1
    only. The client negotiates between them unless one is pinned.
    """

    SOAP11 = "1.1"
    SOAP12 = "1.2"

    @property
    def namespace(self) -> str:
        """The envelope namespace URI."""
        return _ENVELOPE_NS[self]

    def http_headers(self, action: str) -> dict[str, str]:
        """The HTTP headers that carry ``action`` in this version."""
        if self is SoapVersion.SOAP12:
            return {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'}
        return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}


_ENVELOPE_NS = {
    SoapVersion.SOAP11: "http://schemas.xmlsoap.org/soap/envelope/",
    SoapVersion.SOAP12: "http://www.w3.org/2003/05/soap-envelope",
}
_ENCODING_NS = {
    SoapVersion.SOAP11: "http://schemas.xmlsoap.org/soap/encoding/",
    SoapVersion.SOAP12: "http://www.w3.org/2003/05/soap-encoding",
}


class _Tags:
    """The Clark names of one SOAP version's envelope elements."""

    def __init__(self, version: SoapVersion) -> None:
        self.version = version
        namespace = version.namespace
        self.envelope = f"{{{namespace}}}Envelope"
        self.header = f"{{{namespace}}}Header"
        self.body = f"{{{namespace}}}Body"
        self.fault = f"{{{namespace}}}Fault"
        # SOAP 1.2 fault parts are namespace-qualified; SOAP 1.1's are not.
        self.code = f"{{{namespace}}}Code"
        self.subcode = f"{{{namespace}}}Subcode"
        self.value = f"{{{namespace}}}Value"
        self.reason = f"{{{namespace}}}Reason"
        self.text = f"{{{namespace}}}Text"
        self.detail = f"{{{namespace}}}Detail"


_TAGS = {version: _Tags(version) for version in SoapVersion}
_TAGS_BY_ENVELOPE_TAG = {tags.envelope: tags for tags in _TAGS.values()}


class Service:
    """A NetServer service endpoint and the namespace prefixes of its documented envelopes."""

    def __init__(
        self, name: str, namespaces: tuple[tuple[str, str], ...], *, takes_ticket: bool
    ) -> None:
        self.name = name
        self.takes_ticket = takes_ticket
        """Whether calls carry the session's header blocks, ``Credentials/Ticket`` and
        ``TimeZone`` (SoPrincipal takes neither: it is where tickets come from)."""
        self.path = f"Remote/Services88/{name}.svc"
        self.markup = Markup({uri: prefix for prefix, uri in namespaces})
        declarations = "".join(f' xmlns:{prefix}="{uri}"' for prefix, uri in namespaces)
        self._starts = {
            version: (
                '<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope'
                f' xmlns:SOAP-ENV="{version.namespace}"'
                f' xmlns:SOAP-ENC="{_ENCODING_NS[version]}"{declarations}>'
            )
            for version in SoapVersion
        }
        tns_tags = self.markup.tags
        self._token_tags = tns_tags(tns("ApplicationToken"))
        self._credentials_tags = tns_tags(tns("Credentials"))
        self._ticket_tags = tns_tags(tns("Ticket"))
        self._time_zone_tags = tns_tags(tns("TimeZone"))
        self._time_zone_id_tags = tns_tags(tns("SoTimeZoneId"))
        self._location_code_tags = tns_tags(tns("SoTimeZoneLocationCode"))

    def __repr__(self) -> str:
        return f"Service({self.name!r})"

    def action(self, operation: str) -> str:
        """The SOAP action URI of one of this service's operations."""
        return f"{TNS}/{self.name}/{operation}"

    def open_envelope(
        self,
        out: list[str],
        version: SoapVersion,
        credentials: Credentials | None,
        time_zone: TimeZone | None = None,
    ) -> None:
        """Write the declaration, the Envelope start tag, the header blocks and ``<Body>``.

        Header blocks go inside ``SOAP-ENV:Header``, in WSDL order: ``ApplicationToken``
        when one is set, then, if the service takes them, ``Credentials/Ticket`` when a
        ticket is set and ``TimeZone`` when one is given. The documentation shows blocks
        directly under the Envelope, which is not valid SOAP; this is the library's one
        deliberate deviation from it. Like the documented blocks, ours carry no xsi:type.
        """
        out.append(self._starts[version])
        token = credentials.application_token if credentials is not None else None
        ticket = credentials.ticket if credentials is not None and self.takes_ticket else None
        if not self.takes_ticket:
            time_zone = None
        if token is not None or ticket is not None or time_zone is not None:
            out.append("<SOAP-ENV:Header>")
            if token is not None:
                out += (self._token_tags[0], escape(token), self._token_tags[1])
            if ticket is not None:
                out += (
                    self._credentials_tags[0],
                    self._ticket_tags[0],
                    escape(ticket),
                    self._ticket_tags[1],
                    self._credentials_tags[1],
                )
            if time_zone is not None:
                self._write_time_zone(out, time_zone)
            out.append("</SOAP-ENV:Header>")
        out.append("<SOAP-ENV:Body>")

    def _write_time_zone(self, out: list[str], time_zone: TimeZone) -> None:
        start, end = self._time_zone_id_tags
        out += (self._time_zone_tags[0], start, str(time_zone.id), end)
        if time_zone.location_code is not None:
            start, end = self._location_code_tags
            out += (start, escape(time_zone.location_code), end)
        out.append(self._time_zone_tags[1])

    @staticmethod
    def close_envelope(out: list[str]) -> bytes:
        """Write the closing tags and return the whole envelope as UTF-8 bytes."""
        out.append("</SOAP-ENV:Body></SOAP-ENV:Envelope>")
        return "".join(out).encode("utf-8")


BATCH = Service(
    "Batch",
    (
        ("xsi", XSI),
        ("xsd", XSD),
        ("NetServerServices882", ARRAYS),
        ("NetServerServices881", SERIALIZATION),
        ("Batch", TNS),
    ),
    takes_ticket=True,
)
SOPRINCIPAL = Service(
    "SoPrincipal",
    (
        ("xsi", XSI),
        ("xsd", XSD),
        ("NetServerServices882", CRYPTOGRAPHY),
        ("NetServerServices883", ARRAYS),
        ("NetServerServices881", SERIALIZATION),
        ("SoPrincipal", TNS),
    ),
    takes_ticket=False,
)


# -- reading replies -----------------------------------------------------------------


class _Parsers(threading.local):
    # One hardened parser per thread: lxml parsers keep per-document state.
    def __init__(self) -> None:
        self.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )


_parsers = _Parsers()


def hardened_parser() -> etree.XMLParser:
    """This thread's parser: no DTD, no entity expansion, no network, no huge trees."""
    return _parsers.parser


def open_reply(
    content: bytes,
    *,
    status_code: int,
    content_type: str | None = None,
    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    secrets: Iterable[str] = (),
) -> tuple[etree._Element, etree._Element | None]:
    """Classify a reply. Returns ``(payload, header)`` for a normal SOAP answer.

    ``payload`` is the Body's first element (``<Op>Response`` on success); ``header`` is
    the SOAP Header, if any. Every other reply raises.

    Precedence, first match wins:

    1. not SOAP: larger than ``max_bytes`` (then not parsed), not XML, a DOCTYPE, not
       an envelope, no Body -> ``HttpError`` for a non-2xx status (an HTML error page,
       say), ``ProtocolError`` for a 2xx one;
    2. a Fault -> ``SoapFault`` (any status);
    3. ``Succeeded`` false or a non-nil ``ExceptionInfo`` header -> ``ServiceError``
       (any status: content decides);
    4. any other non-2xx status -> ``HttpError``;
    5. an empty Body -> ``ProtocolError``.
    """
    ok = 200 <= status_code < 300
    secrets = tuple(secrets)  # the same object when a tuple already: read more than once
    if len(content) > max_bytes:
        raise oversized(len(content), max_bytes, status_code, content_type)
    try:
        root = etree.fromstring(content, _parsers.parser)
    except etree.XMLSyntaxError:
        raise _unreadable(
            "reply is not well-formed XML", content, status_code, content_type, secrets
        ) from None
    if root.getroottree().docinfo.internalDTD is not None:
        raise _unreadable(
            "reply carries a DOCTYPE, which SOAP forbids",
            content,
            status_code,
            content_type,
            secrets,
        )
    tags = _TAGS_BY_ENVELOPE_TAG.get(root.tag)
    if tags is None:
        raise _unreadable(
            "reply is not a SOAP envelope", content, status_code, content_type, secrets
        )
    # Header, if any, comes first and Body last (SOAP 1.1 allows trailing elements).
    body = root[-1] if len(root) else None
    if body is None or body.tag != tags.body:
        body = root.find(tags.body)
        if body is None:
            raise _unreadable(
                "SOAP envelope without a Body", content, status_code, content_type, secrets
            )
    header = root[0]
    if header.tag != tags.header:
        header = None
    payload = body[0] if len(body) else None
    if payload is not None and payload.tag == tags.fault:
        raise _fault(payload, tags.version, status_code, secrets)
    if header is not None:
        _raise_for_service_error(header, status_code, secrets)
    if not ok:
        raise HttpError(status_code, excerpt(content, secrets), content_type)
    if payload is None:
        raise ProtocolError("SOAP Body is empty", status_code=status_code)
    return payload, header


def oversized(
    size: int | None, limit: int, status_code: int, content_type: str | None
) -> HttpError | ProtocolError:
    """The error for a reply over the size limit; its body is neither parsed nor shown."""
    amount = f"of {size} bytes" if size is not None else "(size not declared)"
    note = f"[reply {amount} exceeds the limit of {limit} bytes; not read]"
    if 200 <= status_code < 300:
        return ProtocolError(note.strip("[]"), status_code=status_code)
    return HttpError(status_code, note, content_type)


def _unreadable(
    reason: str,
    content: bytes,
    status_code: int,
    content_type: str | None,
    secrets: Iterable[str],
) -> HttpError | ProtocolError:
    text = excerpt(content, secrets)
    if 200 <= status_code < 300:
        return ProtocolError(reason, status_code=status_code, excerpt=text)
    return HttpError(status_code, text, content_type)


# -- faults ----------------------------------------------------------------------------


def _resolve_qname(element: etree._Element, text: str | None) -> str:
    """``prefix:Local`` in element text -> ``{namespace}Local`` (as is if unresolvable)."""
    text = (text or "").strip()
    prefix, _, local = text.rpartition(":")
    namespace = element.nsmap.get(prefix or None)
    return f"{{{namespace}}}{local}" if namespace else text


def _fault(
    fault: etree._Element, version: SoapVersion, status_code: int, secrets: Iterable[str]
) -> SoapFault:
    secrets = tuple(secrets)
    tags = _TAGS[version]
    if version is SoapVersion.SOAP11:
        code_element = fault.find("faultcode")
        # The prefix may be declared on faultcode itself (WCF does), so resolve it there.
        code = "" if code_element is None else _resolve_qname(code_element, code_element.text)
        reason = fault.findtext("faultstring") or ""
        subcodes: tuple[str, ...] = ()
        detail = fault.find("detail")
    else:
        code = ""
        subcodes_found: list[str] = []
        level = fault.find(tags.code)
        while level is not None:
            value = level.find(tags.value)
            name = _resolve_qname(value if value is not None else level, level.findtext(tags.value))
            if code:
                subcodes_found.append(name)
            else:
                code = name
            level = level.find(tags.subcode)
        subcodes = tuple(subcodes_found)
        reason = fault.findtext(f"{tags.reason}/{tags.text}") or ""
        detail = fault.find(tags.detail)
    detail_text = None
    if detail is not None:
        detail_text = redact(etree.tostring(detail, encoding="unicode", with_tail=False), secrets)
    return SoapFault(
        code or "(no fault code)",
        redact(reason.strip(), secrets),
        subcodes=subcodes,
        detail=detail_text,
        status_code=status_code,
    )


# -- NetServer's reply headers -----------------------------------------------------------

_SUCCEEDED = tns("Succeeded")
_TIME_ZONE = tns("TimeZone")
_EXTRA_INFO = tns("ExtraInfo")
_EXTRA_INFO_PAIRS = StringDictCodec((TNS, "SoExtraInfo"), "ExtraInfoNameValuePair")
_EXCEPTION_INFO = tns("ExceptionInfo")
_INNER_EXCEPTION = tns("InnerException")
_PARAMETERS = tns("Parameters")
_EXCEPTION_TEXT_FIELDS = {
    tns("Message"): "message",
    tns("StackTrace"): "stack_trace",
    tns("FriendlyText"): "friendly_text",
    tns("ExceptionType"): "exception_type",
    tns("Source"): "source",
}
_EXCEPTION_PARAMETERS = StringDictCodec(
    (TNS, "SoExceptionInfoParameters"), "SoExceptionInfoParametersKeyValuePair"
)


def _raise_for_service_error(
    header: etree._Element, status_code: int, secrets: Iterable[str]
) -> None:
    succeeded = True
    exception_info = None
    for block in header:
        if block.tag == _SUCCEEDED:
            try:
                succeeded = XSD_BOOLEAN.read_required(block)
            except ValueError as error:
                problem = redact(str(error), secrets)
                raise ProtocolError(
                    f"malformed Succeeded header: {problem}", status_code=status_code
                ) from None
        elif block.tag == _EXCEPTION_INFO and not is_nil(block):
            exception_info = block
    if exception_info is not None:
        raise _service_error(exception_info, status_code, tuple(secrets))
    if not succeeded:
        raise ServiceError(status_code=status_code)


def _service_error(
    element: etree._Element, status_code: int, secrets: tuple[str, ...]
) -> ServiceError:
    texts: dict[str, str | None] = {}
    inner = None
    parameters: dict[str, str | None] = {}
    for child in element:
        name = _EXCEPTION_TEXT_FIELDS.get(child.tag)
        if name is not None:
            texts[name] = None if is_nil(child) else redact(child.text or "", secrets)
        elif child.tag == _INNER_EXCEPTION and not is_nil(child):
            inner = _service_error(child, status_code, secrets)
        elif child.tag == _PARAMETERS:
            try:
                values = _EXCEPTION_PARAMETERS.read(child) or {}
            except ValueError:
                # A malformed pair must not hide the error the server is reporting.
                values = {}
            parameters = {
                redact(key, secrets): None if value is None else redact(value, secrets)
                for key, value in values.items()
            }
    return ServiceError(
        **texts, parameters=parameters, inner_exception=inner, status_code=status_code
    )


def read_reply_headers(header: etree._Element | None) -> ReplyHeaders:
    """The ``TimeZone`` and ``ExtraInfo`` reply headers (raises ``ValueError`` if malformed)."""
    time_zone = None
    extra_info: dict[str, str | None] = {}
    for block in header if header is not None else ():
        if block.tag == _TIME_ZONE:
            time_zone = TIME_ZONE.read(block)
        elif block.tag == _EXTRA_INFO:
            extra_info = _EXTRA_INFO_PAIRS.read(block) or {}
    return ReplyHeaders(time_zone, extra_info)
