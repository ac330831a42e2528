"""SOAP envelopes: building requests in either SOAP version, and classifying every reply.

Building: each (operation, SOAP version) has a prototype request, built once with lxml
(:meth:`Service.request_prototype`): an Envelope declaring the service's documented
namespace prefixes, a Header with every block the service takes, and a Body with the
operation's element and the prototypes of all its arguments. A request is a copy of it,
filled in (:meth:`Service.fill_header`; the codecs fill the body, see
:func:`superoffice_batch.operations.build_envelope`), with what is not sent removed;
:func:`serialize` turns the tree into bytes.

Reading: :func:`open_reply` is the one place where a reply is classified. It parses with a
hardened parser, insists on the SOAP layout (at most one Header, before exactly one Body
holding at most one element; at most one of each NetServer header block), and returns the
Body's payload, or raises exactly one of
:class:`~superoffice_batch.errors.HttpError`, :class:`~superoffice_batch.errors.SoapFault`,
:class:`~superoffice_batch.errors.ServiceError` or :class:`~superoffice_batch.errors.ProtocolError`.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from lxml import etree

from .errors import HttpError, ProtocolError, ServiceError, SoapFault
from .models import TIME_ZONE, Credentials, ReplyHeaders, TimeZone
from .secrets import NO_SECRETS, SecretView
from .servertext import ServerText
from .xmlvalues import (
    ARRAYS,
    CRYPTOGRAPHY,
    SERIALIZATION,
    TNS,
    XSD,
    XSD_BOOLEAN,
    XSI,
    Prototypes,
    StringDictCodec,
    WireField,
    append_prototypes,
    int_text,
    is_nil,
    string_text,
    tns,
)

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "MAX_RESPONSE_BYTES",
    "ReplyBlocks",
    "Service",
    "SoapVersion",
    "open_reply",
    "serialize",
]

DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
MAX_RESPONSE_BYTES = 1024 * 1024 * 1024
"""The largest ``max_response_bytes`` a client accepts (1 GiB): the body is held in memory."""


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


_APPLICATION_TOKEN = tns("ApplicationToken")
_CREDENTIALS = tns("Credentials")
_TICKET = tns("Ticket")
_TIME_ZONE = tns("TimeZone")
_TIME_ZONE_ID = tns("SoTimeZoneId")
_LOCATION_CODE = tns("SoTimeZoneLocationCode")


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
        self.namespaces = namespaces
        self.protos = Prototypes(dict(namespaces))
        """Makes the item elements (dictionary pairs, array items) of this service's requests."""

    def __repr__(self) -> str:
        return f"Service({self.name!r})"

    def action(self, operation: str) -> str:
        """The SOAP action URI of one of this service's operations."""
        return f"{TNS}/{self.name}/{operation}"

    def request_prototype(
        self, version: SoapVersion, operation: str, arguments: tuple[WireField, ...]
    ) -> etree._Element:
        """An Envelope with every header block and ``operation``'s element in the Body,
        holding the prototypes of its ``arguments``: what :meth:`fill_header` and the
        codecs fill in."""
        tags = _TAGS[version]
        nsmap = {"SOAP-ENV": version.namespace, "SOAP-ENC": _ENCODING_NS[version]}
        envelope = etree.Element(tags.envelope, nsmap={**nsmap, **dict(self.namespaces)})
        header = etree.SubElement(envelope, tags.header)
        etree.SubElement(header, _APPLICATION_TOKEN)
        if self.takes_ticket:
            etree.SubElement(etree.SubElement(header, _CREDENTIALS), _TICKET)
            time_zone = etree.SubElement(header, _TIME_ZONE)
            etree.SubElement(time_zone, _TIME_ZONE_ID)
            etree.SubElement(time_zone, _LOCATION_CODE)
        wrapper = etree.SubElement(etree.SubElement(envelope, tags.body), tns(operation))
        append_prototypes(wrapper, arguments, self.protos)
        return envelope

    def fill_header(
        self,
        envelope: etree._Element,
        credentials: Credentials | None,
        time_zone: TimeZone | None = None,
    ) -> None:
        """Fill the header blocks of a copied :meth:`request_prototype`; drop the others.

        Header blocks go inside ``SOAP-ENV:Header``, in WSDL order: ``ApplicationToken``
        when one is set, then, if the service takes them, ``Credentials/Ticket`` when a
        ticket is set and ``TimeZone`` when one is given. The documentation shows blocks
        directly under the Envelope, which is not valid SOAP; this is the library's one
        deliberate deviation from it. Like the documented blocks, ours carry no xsi:type.
        The Header goes too when no block is left.
        """
        header = envelope[0]
        blocks = list(header)
        token = credentials.application_token if credentials is not None else None
        _fill_or_remove(header, blocks[0], token)
        if self.takes_ticket:
            ticket = credentials.ticket if credentials is not None else None
            if ticket is None:
                header.remove(blocks[1])
            else:
                blocks[1][0].text = string_text(ticket)
            if time_zone is None:
                header.remove(blocks[2])
            else:
                zone_id, location_code = blocks[2]
                zone_id.text = int_text(time_zone.id)
                _fill_or_remove(blocks[2], location_code, time_zone.location_code)
        if not len(header):
            envelope.remove(header)


def _fill_or_remove(parent: etree._Element, element: etree._Element, text: str | None) -> None:
    if text is None:
        parent.remove(element)
    else:
        element.text = string_text(text)


def serialize(envelope: etree._Element) -> bytes:
    """The envelope as UTF-8 bytes behind an XML declaration."""
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


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


ReplyBlocks = Mapping[str, etree._Element]
"""NetServer's reply header blocks by Clark name: at most one of each."""
_NO_BLOCKS: ReplyBlocks = MappingProxyType({})


def open_reply(
    content: bytes,
    *,
    status_code: int,
    content_type: str | None = None,
    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    secrets: SecretView | Iterable[str] = NO_SECRETS,
) -> tuple[etree._Element, ReplyBlocks]:
    """Classify a reply. Returns ``(payload, blocks)`` for a normal SOAP answer.

    ``payload`` is the Body's element (``<Op>Response`` on success); ``blocks`` holds
    the NetServer header blocks, for :func:`read_reply_headers`. Every other reply raises.

    Precedence, first match wins:

    1. not SOAP: larger than ``max_bytes`` (then not parsed), not XML, a DOCTYPE, not
       an envelope, no Body -> ``HttpError`` for a non-2xx status (an HTML error page,
       say), ``ProtocolError`` for a 2xx one;
    2. a broken layout: two Headers or Bodies, a Header after the Body, anything else
       before the Body (or after it in SOAP 1.2), more than one element in the Body, a
       NetServer header block twice -> ``ProtocolError`` (any status);
    3. a Fault -> ``SoapFault`` (any status);
    4. ``Succeeded`` false or a non-nil ``ExceptionInfo`` header -> ``ServiceError``
       (any status: content decides);
    5. any other non-2xx status -> ``HttpError``;
    6. an empty Body -> ``ProtocolError``.
    """
    ok = 200 <= status_code < 300
    secrets = SecretView.of(secrets)
    if len(content) > max_bytes:
        raise oversized(len(content), max_bytes, status_code, content_type, secrets)
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
    try:
        header, body = _header_and_body(root, tags)
    except _LayoutError as error:
        raise ProtocolError(
            "malformed SOAP envelope",
            quoting=ServerText(str(error), secrets),  # names an element of the reply
            status_code=status_code,
            body=ServerText(content, secrets, content_type),
        ) from None
    if body is None:
        raise _unreadable(
            "SOAP envelope without a Body", content, status_code, content_type, secrets
        )
    if len(body) > 1:
        raise ProtocolError(
            f"malformed SOAP envelope: the Body holds {len(body)} elements, not one",
            status_code=status_code,
            body=ServerText(content, secrets, content_type),
        )
    payload = body[0] if len(body) else None
    if payload is not None and payload.tag == tags.fault:
        raise _fault(payload, tags.version, status_code, secrets)
    blocks = _NO_BLOCKS
    if header is not None:
        blocks = _read_header(header, status_code, content, secrets)
    if not ok:
        raise HttpError(
            status_code,
            ServerText(content, secrets, content_type),
            _header(content_type, secrets),
        )
    if payload is None:
        raise ProtocolError("SOAP Body is empty", status_code=status_code)
    return payload, blocks


class _LayoutError(ValueError):
    """The envelope's children break SOAP's layout; the message says how."""


def _header_and_body(
    root: etree._Element, tags: _Tags
) -> tuple[etree._Element | None, etree._Element | None]:
    """The Envelope's one Header (if any) and one Body (None when missing)."""
    header = body = None
    for child in root:
        tag = child.tag
        if tag == tags.body:
            if body is not None:
                raise _LayoutError("two Bodies")
            body = child
        elif tag == tags.header:
            if header is not None:
                raise _LayoutError("two Headers")
            if body is not None:
                raise _LayoutError("a Header after the Body")
            header = child
        # SOAP 1.1 lets other elements follow the Body; SOAP 1.2 allows none anywhere.
        elif body is None or tags.version is SoapVersion.SOAP12:
            raise _LayoutError(f"unexpected {_name(child)} in the Envelope")
    return header, body


def _name(element: etree._Element) -> str:
    """An element's local name, for messages (never its content)."""
    tag = element.tag
    return etree.QName(tag).localname if isinstance(tag, str) else "node"


def _header(value: str | None, secrets: SecretView) -> ServerText | None:
    return None if value is None else ServerText(value, secrets)


def oversized(
    size: int | None,
    limit: int,
    status_code: int,
    content_type: str | None,
    secrets: SecretView,
) -> HttpError | ProtocolError:
    """The error for a reply over the size limit; its body is neither parsed nor shown."""
    amount = f"of {size} bytes" if size is not None else "(size not declared)"
    note = f"[reply {amount} exceeds the limit of {limit} bytes; not read]"
    if 200 <= status_code < 300:
        return ProtocolError(note.strip("[]"), status_code=status_code)
    return HttpError(status_code, None, _header(content_type, secrets), note=note)


def _unreadable(
    reason: str,
    content: bytes,
    status_code: int,
    content_type: str | None,
    secrets: SecretView,
) -> HttpError | ProtocolError:
    body = ServerText(content, secrets, content_type)
    if 200 <= status_code < 300:
        return ProtocolError(reason, status_code=status_code, body=body)
    return HttpError(status_code, body, _header(content_type, secrets))


# -- faults ----------------------------------------------------------------------------


def _resolve_qname(element: etree._Element, text: str | None) -> str:
    """``prefix:Local`` in element text -> ``{namespace}Local`` (as is if unresolvable)."""
    text = (text or "").strip()
    prefix, _, local = text.rpartition(":")
    namespace = element.nsmap.get(prefix or None)
    return f"{{{namespace}}}{local}" if namespace else text


def _fault(
    fault: etree._Element, version: SoapVersion, status_code: int, secrets: SecretView
) -> SoapFault:
    tags = _TAGS[version]
    if version is SoapVersion.SOAP11:
        code_element = fault.find("faultcode")
        # The prefix may be declared on faultcode itself (WCF does), so resolve it there.
        code = "" if code_element is None else _resolve_qname(code_element, code_element.text)
        reason = fault.findtext("faultstring") or ""
        subcodes: tuple[ServerText, ...] = ()
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
        subcodes = tuple(ServerText(name, secrets) for name in subcodes_found)
        reason = fault.findtext(f"{tags.reason}/{tags.text}") or ""
        detail = fault.find(tags.detail)
    detail_text = None
    if detail is not None:
        detail_xml = etree.tostring(detail, encoding="unicode", with_tail=False)
        detail_text = ServerText(detail_xml, secrets)
    return SoapFault(
        ServerText(code, secrets),
        ServerText(reason, secrets),
        subcodes=subcodes,
        detail=detail_text,
        status_code=status_code,
    )


# -- NetServer's reply headers -----------------------------------------------------------

_SUCCEEDED = tns("Succeeded")
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


_KNOWN_BLOCKS = frozenset({_SUCCEEDED, _EXCEPTION_INFO, _TIME_ZONE, _EXTRA_INFO})


def _read_header(
    header: etree._Element, status_code: int, content: bytes, secrets: SecretView
) -> ReplyBlocks:
    """Raise for a business error; otherwise the blocks a successful reply may carry.

    Each NetServer block may come once: with two ``Succeeded`` blocks, which one counts
    would depend on the reader.
    """
    found: dict[str, etree._Element] = {}
    for block in header:
        tag = block.tag
        if tag in _KNOWN_BLOCKS:
            if tag in found:
                raise ProtocolError(
                    f"malformed SOAP envelope: two {_name(block)} header blocks",
                    status_code=status_code,
                    body=ServerText(content, secrets),
                )
            found[tag] = block
    succeeded = True
    succeeded_block = found.get(_SUCCEEDED)
    # "true" is what every successful reply says; anything else is read in full.
    if succeeded_block is not None and succeeded_block.text != "true":
        try:
            succeeded = XSD_BOOLEAN.read_required(succeeded_block)
        except ValueError as error:
            raise ProtocolError(
                "malformed Succeeded header",
                quoting=ServerText(str(error), secrets),  # a reader's words quote the value
                status_code=status_code,
            ) from None
    exception_info = found.get(_EXCEPTION_INFO)
    if exception_info is not None:
        try:
            reported = (
                None
                if is_nil(exception_info)
                else _service_error(exception_info, status_code, secrets)
            )
        except ValueError as problem:
            # Nil yet holding an error: whether the call failed cannot be told.
            raise ProtocolError(
                "malformed ExceptionInfo header",
                quoting=ServerText(str(problem), secrets),
                status_code=status_code,
            ) from None
        if reported is not None:
            raise reported
    if not succeeded:
        raise ServiceError(status_code=status_code)
    return found


def _service_error(element: etree._Element, status_code: int, secrets: SecretView) -> ServiceError:
    texts: dict[str, ServerText | None] = {}
    inner = None
    parameters: dict[ServerText, ServerText | None] = {}
    for child in element:
        name = _EXCEPTION_TEXT_FIELDS.get(child.tag)
        if name is not None:
            texts[name] = None if is_nil(child) else ServerText(child.text or "", secrets)
        elif child.tag == _INNER_EXCEPTION and not is_nil(child):
            inner = _service_error(child, status_code, secrets)
        elif child.tag == _PARAMETERS:
            try:
                values = _EXCEPTION_PARAMETERS.read(child) or {}
            except ValueError:
                # A malformed pair must not hide the error the server is reporting.
                values = {}
            parameters = {
                ServerText(key, secrets): None if value is None else ServerText(value, secrets)
                for key, value in values.items()
            }
    return ServiceError(
        **texts, parameters=parameters, inner_exception=inner, status_code=status_code
    )


def read_reply_headers(blocks: ReplyBlocks) -> ReplyHeaders:
    """The ``TimeZone`` and ``ExtraInfo`` reply headers (raises ``ValueError`` if malformed)."""
    time_zone = blocks.get(_TIME_ZONE)
    extra_info = blocks.get(_EXTRA_INFO)
    return ReplyHeaders(
        TIME_ZONE.read(time_zone) if time_zone is not None else None,
        (_EXTRA_INFO_PAIRS.read(extra_info) if extra_info is not None else None) or {},
    )
