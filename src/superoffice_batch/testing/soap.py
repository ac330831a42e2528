"""SOAP on the service's side: reading requests as WCF does, writing replies as WCF does.

Requests are parsed with a hardened lxml parser (no DTD, no entities, no network; a
DOCTYPE is refused). Arguments are read with the library's own codecs, in the order the
operation declares them: like WCF's DataContractSerializer, an element that comes after
a later member is skipped, not read.

Replies are lxml trees built here, not by the library's request writer: element names
come from the models' attribute names the way WCF's DataContractSerializer would spell
the .NET members (``associate_id`` -> ``AssociateId``), so a naming or value bug in the
client's writer cannot hide behind the same bug in the simulator. They are in WCF's
style: Services88 elements in the default namespace, ``i:`` for XMLSchema-instance, no
``xsi:type``, null members as ``i:nil``, NetServer's four reply headers.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

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
    ModelCodec,
    StringDictCodec,
    WireField,
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
    "member_name",
    "read_arguments",
    "read_envelope",
    "reply",
    "result",
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

_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_WCF_NAMESPACES = {None: TNS, "i": XSI}
# DateTime is a .NET value type: WCF writes a null date as DateTime.MinValue, not nil.
_DATE_MEMBERS = frozenset({"LastStarted", "Created", "AccumulatedNextCheckDate"})
_DOTNET_MIN_VALUE = "0001-01-01T00:00:00"
# Dictionary members and their item elements (the WSDL's anonymous pair types).
_PAIR_ITEMS = {
    "ParameterObject": "StringKeyValuePair",
    "Parameters": "SoExceptionInfoParametersKeyValuePair",
}


@attrs.frozen(kw_only=True, eq=False, repr=False)
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


def member_name(attribute: str) -> str:
    """The .NET member a model attribute stands for: ``e_mail_address`` -> ``EMailAddress``."""
    return "".join(word[:1].upper() + word[1:] for word in attribute.split("_"))


def _top(local: str, **attributes: str) -> etree._Element:
    """A top-level Services88 element declaring its namespaces, as WCF writes one."""
    return etree.Element(tns(local), attributes, nsmap=_WCF_NAMESPACES)  # type: ignore[arg-type]


def _child(parent: etree._Element, local: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tns(local))
    element.text = text
    return element


def _lexical(value: object) -> str:
    """A simple value as WCF writes it; enumerations by name, dates as ISO 8601."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (int, str)):
        return str(value)
    raise TypeError(f"the simulator cannot write a {type(value).__name__}")


def _member(parent: etree._Element, local: str, value: object) -> None:
    """Append member ``local`` holding ``value``: null as nil, .NET's null date as MinValue."""
    if value is None and local in _DATE_MEMBERS:
        _child(parent, local, _DOTNET_MIN_VALUE)
    elif value is None:
        _child(parent, local).set(XSI_NIL, "true")
    elif attrs.has(type(value)):
        _members(_child(parent, local), cast("attrs.AttrsInstance", value))
    elif isinstance(value, Mapping):
        _pairs(_child(parent, local), _PAIR_ITEMS[local], value)
    elif isinstance(value, list):
        items = _child(parent, local)
        for item in value:
            _member(items, type(item).__name__, item)
    else:
        _child(parent, local, _lexical(value))


def _members(element: etree._Element, model: attrs.AttrsInstance) -> None:
    """The attributes of an attrs model as members of ``element``, in declaration order."""
    for field in attrs.fields(type(model)):
        _member(element, member_name(field.name), getattr(model, field.name))


def _pairs(element: etree._Element, item: str, pairs: Mapping[str, str | None]) -> None:
    for key, value in pairs.items():
        pair = _child(element, item)
        _child(pair, "Key", key)
        _member(pair, "Value", value)


def result(response: str, result_member: str | None, value: Any) -> etree._Element:
    """The ``<response>`` element: ``value`` as its member ``result_member``, or (None) as
    the element's own members; None for a response without a result is an empty element."""
    element = _top(response)
    if result_member is not None:
        _member(element, result_member, value)
    elif value is not None:
        _members(element, value)
    return element


def _nil_block(local: str) -> etree._Element:
    return _top(local, **{XSI_NIL: "true"})


def reply(
    version: SoapVersion, payload: etree._Element, error: ExceptionInfo | None = None
) -> bytes:
    """A whole reply envelope: the reply headers (``Succeeded`` false and ``ExceptionInfo``
    set when ``error`` is given), then ``payload`` in the Body."""
    envelope = etree.Element(f"{{{version.namespace}}}Envelope", nsmap={"s": version.namespace})
    header = etree.SubElement(envelope, f"{{{version.namespace}}}Header")
    if error is None:
        header.append(_nil_block("ExceptionInfo"))
    else:
        exception_info = _top("ExceptionInfo")
        _members(exception_info, error)
        header.append(exception_info)
    header.append(_nil_block("ExtraInfo"))
    succeeded = etree.SubElement(header, tns("Succeeded"), nsmap={None: TNS})  # type: ignore[dict-item]
    succeeded.text = "false" if error else "true"
    header.append(_nil_block("TimeZone"))
    etree.SubElement(envelope, f"{{{version.namespace}}}Body").append(payload)
    return etree.tostring(envelope)


# -- faults -----------------------------------------------------------------------------

_SOAP11_CODES = {"Sender": "Client", "Receiver": "Server", "VersionMismatch": "VersionMismatch"}


def fault(version: SoapVersion, code: str, subcode: tuple[str, str] | None, reason: str) -> bytes:
    """A Fault envelope as WCF writes it.

    ``code`` is the SOAP 1.2 name (``Sender``, ``Receiver``, ``VersionMismatch``);
    ``subcode`` is ``(namespace, local name)``. SOAP 1.1 has no subcodes, so WCF sends
    the subcode as the ``faultcode`` there.
    """
    namespace = version.namespace
    envelope = etree.Element(f"{{{namespace}}}Envelope", nsmap={"s": namespace})
    fault = etree.SubElement(
        etree.SubElement(envelope, f"{{{namespace}}}Body"), f"{{{namespace}}}Fault"
    )
    text = _xml_safe(reason)
    if version is SoapVersion.SOAP11:
        if subcode is not None:
            faultcode = etree.SubElement(fault, "faultcode", nsmap={"a": subcode[0]})
            faultcode.text = f"a:{subcode[1]}"
        else:
            etree.SubElement(fault, "faultcode").text = f"s:{_SOAP11_CODES[code]}"
        faultstring = etree.SubElement(fault, "faultstring", {_XML_LANG: "en-US"})
        faultstring.text = text
    else:
        code_element = etree.SubElement(fault, f"{{{namespace}}}Code")
        etree.SubElement(code_element, f"{{{namespace}}}Value").text = f"s:{code}"
        if subcode is not None:
            sub = etree.SubElement(code_element, f"{{{namespace}}}Subcode")
            value = etree.SubElement(sub, f"{{{namespace}}}Value", nsmap={"a": subcode[0]})
            value.text = f"a:{subcode[1]}"
        reason_element = etree.SubElement(fault, f"{{{namespace}}}Reason")
        reason_text = etree.SubElement(reason_element, f"{{{namespace}}}Text", {_XML_LANG: "en-US"})
        reason_text.text = text
    return etree.tostring(envelope)


def _xml_safe(text: str) -> str:
    # Reasons quote what the client sent (an action, a parser message): keep them printable
    # and within what XML can carry.
    return "".join(
        char
        if (char >= " " or char in "\t\n")
        and not ("\ud800" <= char <= "\udfff" or char in "\ufffe\uffff")
        else "?"
        for char in text
    )
