"""SOAP on the service's side: reading requests as WCF does, writing replies as WCF does.

Requests are parsed with a hardened lxml parser (no DTD, no entities, no network; a
DOCTYPE is refused). Arguments are read with the library's own codecs, in the order the
operation declares them: like WCF's DataContractSerializer, an element that comes after
a later member is skipped, not read.

Replies are text written with the library's :class:`~superoffice_batch.xmlvalues.Markup`
and codecs, in WCF's style: Services88 elements in the default namespace, ``i:`` for
XMLSchema-instance, no ``xsi:type``, NetServer's four reply headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from lxml import etree

from ..envelope import SoapVersion, hardened_parser
from ..xmlvalues import (
    TNS,
    XSD_STRING,
    XSI,
    XSI_NIL,
    Checked,
    Codec,
    Markup,
    ModelCodec,
    StringDictCodec,
    TypeName,
    WireField,
    escape,
    tns,
    wire,
)

__all__ = [
    "CONTENT_TYPES",
    "ExceptionInfo",
    "Incoming",
    "Unreadable",
    "VersionMismatch",
    "fault",
    "read_arguments",
    "read_envelope",
    "reply",
]

CONTENT_TYPES = {
    SoapVersion.SOAP11: "text/xml; charset=utf-8",
    SoapVersion.SOAP12: "application/soap+xml; charset=utf-8",
}
_VERSIONS_BY_NAMESPACE = {version.namespace: version for version in SoapVersion}
_TRUE = ("true", "1")


class Unreadable(ValueError):
    """The request is not a SOAP envelope: not XML, a DOCTYPE, another root, no Body."""


class VersionMismatch(ValueError):
    """The envelope is of the other SOAP version than its Content-Type says."""


# -- reading requests ------------------------------------------------------------------


@attrs.frozen
class Incoming:
    """A request envelope: its header blocks by Clark name, and the Body's first element."""

    version: SoapVersion
    headers: Mapping[str, etree._Element]
    payload: etree._Element | None

    def header_text(self, block: str, child: str | None = None) -> str | None:
        """The text of a Services88 header block (or of one of its children); None if absent
        or nil."""
        element = self.headers.get(tns(block))
        if element is not None and child is not None:
            element = element.find(tns(child))
        if element is None or element.get(XSI_NIL) in _TRUE:
            return None
        return element.text or ""


def read_envelope(content: bytes, version: SoapVersion) -> Incoming:
    """Parse a request that its Content-Type says is of ``version``.

    ``Unreadable`` if it is no SOAP envelope at all, ``VersionMismatch`` if it is one of
    the other version.
    """
    try:
        root = etree.fromstring(content, hardened_parser())
    except etree.XMLSyntaxError as error:
        raise Unreadable(f"The message is not well-formed XML: {error}") from None
    # lxml reports any DOCTYPE, with or without an internal subset, as internalDTD.
    if root.getroottree().docinfo.internalDTD is not None:
        raise Unreadable("DTD is prohibited in SOAP messages.")
    name = etree.QName(root)
    namespace = name.namespace or ""
    found = _VERSIONS_BY_NAMESPACE.get(namespace) if name.localname == "Envelope" else None
    if found is None:
        raise Unreadable(
            f"Expecting element 'Envelope' from namespace '{version.namespace}'. "
            f"Encountered element '{name.localname}' from namespace '{namespace}'."
        )
    if found is not version:
        raise VersionMismatch(
            f"The envelope version of the incoming message ({found.value}) does not match "
            f"that of the encoder ({version.value})."
        )
    header = root.find(f"{{{namespace}}}Header")
    body = root.find(f"{{{namespace}}}Body")
    if body is None:
        raise Unreadable("The SOAP envelope has no Body.")
    blocks = {str(block.tag): block for block in (header if header is not None else ())}
    payload = body[0] if len(body) else None
    return Incoming(version, blocks, payload)


def read_arguments(element: etree._Element, fields: tuple[WireField, ...]) -> dict[str, Any]:
    """The children of ``element`` (an operation's wrapper, or a nested model) by attribute
    name; absent ones at their codec's default. ``ValueError`` for a value a codec cannot
    read."""
    values = {field.attr: field.codec.absent() for field in fields}
    position = {field.tag: index for index, field in enumerate(fields)}
    next_index = 0
    for child in element:
        index = position.get(str(child.tag))
        if index is None or index < next_index:
            continue  # unknown, or out of order: WCF skips it
        field = fields[index]
        try:
            values[field.attr] = _read_value(child, field.codec)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{field.label}: {error}") from None
        next_index = index + 1
    return values


def _read_value(element: etree._Element, codec: Codec[Any]) -> Any:
    if isinstance(codec, ModelCodec):
        if element.get(XSI_NIL) in _TRUE:
            return None
        return codec.model(**read_arguments(element, codec.fields))
    return codec.read(element)


# -- writing replies ---------------------------------------------------------------------


class WcfMarkup(Markup):
    """Tags as WCF writes them: Services88 elements unprefixed, no ``xsi:type``.

    The default namespace is declared on each top-level element (:func:`declared`).
    """

    def __init__(self) -> None:
        super().__init__({TNS: "", XSI: "i"})

    def qname(self, tag: str) -> str:
        return super().qname(tag).lstrip(":")

    def tags(self, tag: str, type_name: TypeName | None = None) -> tuple[str, str]:
        return super().tags(tag, None)


MARKUP = WcfMarkup()


def declared(local: str) -> tuple[str, str]:
    """Start and end tag of a top-level Services88 element, declaring its namespaces."""
    return f'<{local} xmlns="{TNS}" xmlns:i="{XSI}">', f"</{local}>"


@attrs.frozen(kw_only=True)
class ExceptionInfo(Checked):
    """NetServer's ``ExceptionInfo`` reply header (``SoExceptionInfo``), without an inner
    exception."""

    message: str | None = wire("Message", XSD_STRING)
    stack_trace: str | None = wire("StackTrace", XSD_STRING)
    friendly_text: str | None = wire("FriendlyText", XSD_STRING)
    exception_type: str | None = wire("ExceptionType", XSD_STRING)
    source: str | None = wire("Source", XSD_STRING)
    parameters: Mapping[str, str | None] | None = wire(
        "Parameters",
        StringDictCodec(
            (TNS, "SoExceptionInfoParameters"), "SoExceptionInfoParametersKeyValuePair"
        ),
        hash=False,
    )


_EXCEPTION_INFO = ModelCodec(ExceptionInfo, (TNS, "SoExceptionInfo"))


def _nil_block(local: str) -> str:
    return f'<{local} xmlns="{TNS}" xmlns:i="{XSI}" i:nil="true"/>'


def _reply_headers(error: ExceptionInfo | None) -> list[str]:
    out = ["<s:Header>"]
    if error is None:
        out.append(_nil_block("ExceptionInfo"))
    else:
        _EXCEPTION_INFO.write(out, *declared("ExceptionInfo"), error, MARKUP)
    out += (
        _nil_block("ExtraInfo"),
        f'<Succeeded xmlns="{TNS}">{"false" if error else "true"}</Succeeded>',
        _nil_block("TimeZone"),
        "</s:Header>",
    )
    return out


def write_result(
    out: list[str], response: str, tag: str | None, codec: Codec[Any], value: Any
) -> None:
    """Append ``<response>``: ``value`` as its child ``tag``, or (``tag`` None) as the
    element itself; a None value of a nullable child is written ``i:nil``."""
    start, end = declared(response)
    if tag is None:
        if value is None:
            out += (start, end)
        else:
            codec.write(out, start, end, value, MARKUP)
        return
    out.append(start)
    if value is None:
        if codec.nullable:
            out.append(MARKUP.nil(tag))
    else:
        codec.write(out, *MARKUP.tags(tag), value, MARKUP)
    out.append(end)


def reply(version: SoapVersion, body: list[str], error: ExceptionInfo | None = None) -> bytes:
    """A whole reply envelope: the reply headers (``Succeeded`` false and ``ExceptionInfo``
    set when ``error`` is given), then ``body``."""
    out = [f'<s:Envelope xmlns:s="{version.namespace}">', *_reply_headers(error), "<s:Body>"]
    out += body
    out.append("</s:Body></s:Envelope>")
    return "".join(out).encode()


# -- faults -----------------------------------------------------------------------------

_SOAP11_CODES = {"Sender": "Client", "Receiver": "Server", "VersionMismatch": "VersionMismatch"}


def fault(version: SoapVersion, code: str, subcode: tuple[str, str] | None, reason: str) -> bytes:
    """A Fault envelope as WCF writes it.

    ``code`` is the SOAP 1.2 name (``Sender``, ``Receiver``, ``VersionMismatch``);
    ``subcode`` is ``(namespace, local name)``. SOAP 1.1 has no subcodes, so WCF sends
    the subcode as the ``faultcode`` there.
    """
    text = escape(_xml_safe(reason))
    if version is SoapVersion.SOAP11:
        if subcode is not None:
            faultcode = f'<faultcode xmlns:a="{subcode[0]}">a:{subcode[1]}</faultcode>'
        else:
            faultcode = f"<faultcode>s:{_SOAP11_CODES[code]}</faultcode>"
        inner = f'{faultcode}<faultstring xml:lang="en-US">{text}</faultstring>'
    else:
        sub = ""
        if subcode is not None:
            sub = f'<s:Subcode><s:Value xmlns:a="{subcode[0]}">a:{subcode[1]}</s:Value></s:Subcode>'
        inner = (
            f"<s:Code><s:Value>s:{code}</s:Value>{sub}</s:Code>"
            f'<s:Reason><s:Text xml:lang="en-US">{text}</s:Text></s:Reason>'
        )
    return (
        f'<s:Envelope xmlns:s="{version.namespace}"><s:Body><s:Fault>{inner}</s:Fault>'
        "</s:Body></s:Envelope>"
    ).encode()


def _xml_safe(text: str) -> str:
    # Reasons quote what the client sent (an action, a parser message): keep them printable.
    return "".join(char if char >= " " or char in "\t\n" else "?" for char in text)
