"""XSD values on the wire: how each kind of field is checked, written and read.

A *codec* knows one XSD type: the Python values it accepts (``check``), how a value
becomes an element (``write``) and how an element becomes a value again (``read``).
Models and operations declare their fields with codecs; nothing here knows about
a particular service.

Requests are written as text, not as an lxml tree: the documented envelopes fix every
prefix, so each start and end tag is worked out once per service (:class:`Markup`) and
writing a field is appending its escaped value between two cached strings. Building an
lxml tree instead costs a namespace search per element and attribute, which made a
StartBatchJob request several times slower (see docs/performance.md). Replies are read
with lxml.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import attrs
from lxml import etree

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
TNS = "http://www.superoffice.net/ws/crm/NetServer/Services88"
ARRAYS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
SERIALIZATION = "http://schemas.microsoft.com/2003/10/Serialization/"
CRYPTOGRAPHY = "http://schemas.datacontract.org/2004/07/System.Security.Cryptography"

XSI_TYPE = f"{{{XSI}}}type"
XSI_NIL = f"{{{XSI}}}nil"

INT_RANGE = (-(2**31), 2**31 - 1)
SHORT_RANGE = (-(2**15), 2**15 - 1)

TypeName = tuple[str, str]
"""An XSD type as ``(namespace, local name)``; rendered as ``xsi:type="prefix:local"``."""
_XSD_STRING: TypeName = (XSD, "string")


def tns(local: str) -> str:
    """The Clark name of an element in the Services88 namespace."""
    return f"{{{TNS}}}{local}"


class Markup:
    """Start and end tags as text for one service's envelope, each worked out once.

    The prefix of an element or type depends on the service's documented envelope
    (``Batch:`` vs ``SoPrincipal:``, ``NetServerServices882:`` for Arrays in one and
    ``NetServerServices883:`` in the other), never on the call.
    """

    def __init__(self, prefixes: Mapping[str, str]) -> None:
        self._prefixes = dict(prefixes)
        self._tags: dict[tuple[str, TypeName | None], tuple[str, str]] = {}
        self._nil_attribute = f' {self._prefixes[XSI]}:nil="true"'

    def qname(self, tag: str) -> str:
        """``{namespace}Local`` -> ``prefix:Local``."""
        namespace, _, local = tag[1:].partition("}")
        return f"{self._prefixes[namespace]}:{local}"

    def tags(self, tag: str, type_name: TypeName | None = None) -> tuple[str, str]:
        """The start tag (with ``xsi:type`` when ``type_name`` is given) and the end tag."""
        key = (tag, type_name)
        pair = self._tags.get(key)
        if pair is None:
            name = self.qname(tag)
            annotation = ""
            if type_name is not None:
                namespace, local = type_name
                annotation = f' {self._prefixes[XSI]}:type="{self._prefixes[namespace]}:{local}"'
            pair = self._tags[key] = (f"<{name}{annotation}>", f"</{name}>")
        return pair

    def nil(self, tag: str) -> str:
        """An empty element marked ``xsi:nil``."""
        return f"<{self.qname(tag)}{self._nil_attribute}/>"


_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


def escape(text: str) -> str:
    """Element content as XML text. Values were checked to hold only XML characters.

    A carriage return is written as a reference, or the reader's line-end normalisation
    would turn it into a line feed.
    """
    if "&" in text or "<" in text or ">" in text or "\r" in text:
        return text.translate(_ESCAPES)
    return text


# The complement of XML 1.0's Char production (lone surrogates included). Written as the
# few excluded ranges: the negated class of allowed ones takes milliseconds to compile.
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XSD_DATETIME = re.compile(
    r"(-?[0-9]{4,})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_MAX_OFFSET = timedelta(hours=14)
_DOTNET_MIN_VALUE = "0001-01-01T00:00:00"


def check_text(field: str, value: object, *, secret: bool = False) -> str:
    """Return ``value`` if it is a string XML can carry, else raise naming ``field``.

    The message shows the offending code point, never the value: fields such as a
    ticket are secrets.
    """
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str, not {type(value).__name__}")
    bad = _NOT_XML_CHAR.search(value)
    if bad is not None:
        where = "" if secret else f" U+{ord(bad.group()):04X} at index {bad.start()}"
        raise ValueError(f"{field} contains a character XML 1.0 cannot carry{where}")
    return value


def _read_text(element: etree._Element) -> str:
    return element.text or ""


_TRUE = ("true", "1")


def is_nil(element: etree._Element) -> bool:
    """Whether the element is marked ``xsi:nil``."""
    return element.get(XSI_NIL) in _TRUE


class Codec(Generic[T]):
    """One XSD type: check a Python value, write it as an element, read it back."""

    type_name: TypeName | None = None
    nullable: bool = False
    default: Any = None
    secret: bool = False
    """Whether values are credentials, to be masked wherever reply or log text is shown."""

    def secrets_in(self, value: T) -> tuple[str, ...]:
        """The secret strings in ``value``: itself, or a dictionary's values."""
        if not self.secret or value is None:
            return ()
        if isinstance(value, Mapping):
            return tuple(item for item in value.values() if item)
        return (str(value),) if value else ()

    def check(self, field: str, value: object) -> None:
        """Raise ``TypeError``/``ValueError`` naming ``field`` unless ``value`` fits."""
        raise NotImplementedError

    def write(self, out: list[str], start: str, end: str, value: T, markup: Markup) -> None:
        """Append ``value`` between the tags ``start`` and ``end`` to ``out`` (None: nothing).

        The caller works the tags out once with ``markup.tags(tag, codec.type_name)``.
        """
        raise NotImplementedError

    def read(self, element: etree._Element) -> T:
        """Decode ``element``; raise ``ValueError`` if its content is malformed."""
        raise NotImplementedError

    def read_required(self, element: etree._Element) -> T:
        """Like :meth:`read`, but ``xsi:nil`` is an error even where the default would do."""
        if is_nil(element):
            raise ValueError("nil where a value is required")
        return self.read(element)

    def absent(self) -> T:
        """The value of an element that is not there: the default."""
        return self.default  # type: ignore[no-any-return]


class Scalar(Codec[T]):
    """A simple type whose value is the element's text."""

    def __init__(
        self,
        type_name: TypeName,
        *,
        default: Any,
        to_text: Callable[[Any], str],
        from_text: Callable[[str], T],
        check: Callable[[str, object], None],
        nullable: bool = False,
        secret: bool = False,
    ) -> None:
        self.type_name = type_name
        self.default = default
        self.nullable = nullable
        self.secret = secret
        self.to_text = to_text
        self._from_text = from_text
        self._check = check

    def check(self, field: str, value: object) -> None:
        if value is None and self.nullable:
            return
        self._check(field, value)

    def write(self, out: list[str], start: str, end: str, value: T, markup: Markup) -> None:
        if value is not None:
            out += (start, self.to_text(value), end)

    def read(self, element: etree._Element) -> T:
        if is_nil(element):
            return self.default  # type: ignore[no-any-return]
        return self._from_text(element.text or "")

    def read_required(self, element: etree._Element) -> T:
        if element.get(XSI_NIL) in _TRUE:
            raise ValueError("nil where a value is required")
        return self._from_text(element.text or "")


# -- integers and booleans ---------------------------------------------------------


def _int_checker(low: int, high: int, xsd_name: str) -> Callable[[str, object], None]:
    def check(field: str, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{field} must be an int, not {type(value).__name__}")
        if not low <= value <= high:
            raise ValueError(f"{field} must be in {low}..{high} (xs:{xsd_name}), got {value}")

    return check


def _int_parser(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        # int() also takes "1_000" and non-ASCII digits, which xs:int does not.
        if not text.isascii() or "_" in text:
            raise ValueError(f"not an integer: {text[:40]!r}")
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"not an integer: {text.strip()[:40]!r}") from None
        if not low <= value <= high:
            raise ValueError(f"integer out of range: {value}")
        return value

    return parse


def _check_bool(field: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{field} must be a bool, not {type(value).__name__}")


def _parse_bool(text: str) -> bool:
    text = text.strip()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(f"not a boolean: {text[:40]!r}")


def _string_checker(*, secret: bool) -> Callable[[str, object], None]:
    def check(field: str, value: object) -> None:
        check_text(field, value, secret=secret)

    return check


def _string(*, nullable: bool, secret: bool = False) -> Scalar[Any]:
    return Scalar(
        _XSD_STRING,
        default=None,
        to_text=escape,
        from_text=str,
        check=_string_checker(secret=secret),
        secret=secret,
        nullable=nullable,
    )


XSD_INT: Scalar[int] = Scalar(
    (XSD, "int"),
    default=0,
    to_text=str,
    from_text=_int_parser(*INT_RANGE),
    check=_int_checker(*INT_RANGE, "int"),
)
XSD_SHORT: Scalar[int] = Scalar(
    (XSD, "short"),
    default=0,
    to_text=str,
    from_text=_int_parser(*SHORT_RANGE),
    check=_int_checker(*SHORT_RANGE, "short"),
)
XSD_BOOLEAN: Scalar[bool] = Scalar(
    (XSD, "boolean"),
    default=False,
    to_text=lambda value: "true" if value else "false",
    from_text=_parse_bool,
    check=_check_bool,
)
XSD_STRING: Scalar[str | None] = _string(nullable=True)
REQUIRED_STRING: Scalar[str] = _string(nullable=False)
"""An ``xs:string`` argument that must be given (``None`` is refused, ``""`` is sent)."""
SECRET_STRING: Scalar[str] = _string(nullable=False, secret=True)
"""Like :data:`REQUIRED_STRING`, for a password or token: errors never point into it."""


# -- dates -------------------------------------------------------------------------


def format_datetime(value: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ss[.ffffff][Z|±hh:mm]``: naive stays naive, UTC becomes ``Z``."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_datetime(text: str) -> datetime | None:
    """Inverse of :func:`format_datetime`; .NET ``DateTime.MinValue`` reads as ``None``.

    Up to seven fraction digits arrive from .NET; Python keeps six (truncated).
    """
    text = text.strip()
    match = _XSD_DATETIME.fullmatch(text)
    if match is None:
        raise ValueError(f"not an xs:dateTime: {text[:40]!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if f"{year}-{month}-{day}T{hour}:{minute}:{second}" == _DOTNET_MIN_VALUE and not (
        (fraction or "").strip("0")
    ):
        return None
    tz: timezone | None = None
    if zone == "Z":
        tz = timezone.utc
    elif zone is not None:
        if int(zone[4:6]) > 59:
            raise ValueError(f"time zone offset out of range: {zone}")
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        if offset > _MAX_OFFSET:
            raise ValueError(f"time zone offset out of range: {zone}")
        tz = timezone(-offset if zone[0] == "-" else offset)
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    return datetime(
        int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz
    )


def _check_datetime(field: str, value: object) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{field} must be a datetime, not {type(value).__name__}")
    offset = value.utcoffset()
    if offset is not None and (offset % timedelta(minutes=1) or abs(offset) > _MAX_OFFSET):
        raise ValueError(f"{field} has a UTC offset xs:dateTime cannot carry: {offset}")


XSD_DATETIME: Scalar[datetime | None] = Scalar(
    (XSD, "dateTime"),
    default=None,
    to_text=format_datetime,
    from_text=parse_datetime,
    check=_check_datetime,
    nullable=True,
)


# -- enumerations ------------------------------------------------------------------


class WireEnum(str, enum.Enum):
    """Base of the service's enumerations: members are strings equal to their wire name."""

    def __str__(self) -> str:
        return str(self.value)


class EnumCodec(Codec["E | str"]):
    """An enumeration sent by name.

    A name this library does not know (a newer server) reads as the plain ``str`` and
    is written back verbatim, so a task read from a newer server round-trips.
    """

    def __init__(self, enum_type: type[E], type_name: TypeName) -> None:
        self.type_name = type_name
        self._members: dict[str, Any] = {member.value: member for member in enum_type}
        self._enum_name = enum_type.__name__
        self.default = next(iter(enum_type))

    def convert(self, value: object) -> object:
        """Map a known wire name to its member; anything else is left for ``check``."""
        if isinstance(value, str) and not isinstance(value, enum.Enum):
            return self._members.get(value, value)
        return value

    def check(self, field: str, value: object) -> None:
        if isinstance(value, enum.Enum):
            if self._members.get(value.value) is not value:
                raise TypeError(f"{field} must be a {self._enum_name}, not {value!r}")
            return
        check_text(field, value)
        assert isinstance(value, str)
        if value.split() != [value]:
            raise ValueError(f"{field} must be a {self._enum_name} name, got {value!r}")

    def write(self, out: list[str], start: str, end: str, value: E | str, markup: Markup) -> None:
        # Members are str subclasses holding their wire name, like unknown names.
        out += (start, escape(value), end)  # type: ignore[arg-type]

    def read(self, element: etree._Element) -> E | str:
        if is_nil(element):
            return self.default  # type: ignore[no-any-return]
        text = _read_text(element).strip()
        if not text:
            raise ValueError(f"empty {self._enum_name}")
        return self._members.get(text, text)  # type: ignore[no-any-return]


# -- collections -------------------------------------------------------------------


class StringDictCodec(Codec["dict[str, str | None] | None"]):
    """A .NET ``Dictionary<string, string>``: ``<Item><Key/><Value/></Item>`` pairs.

    Key and Value are required elements; a ``None`` value travels as ``xsi:nil``.
    ``nullable=False`` refuses ``None`` for the whole dictionary; ``secret=True`` keeps
    errors from pointing into values (authentication data).
    """

    def __init__(
        self, type_name: TypeName, item: str, *, nullable: bool = True, secret: bool = False
    ) -> None:
        self.type_name = type_name
        self.nullable = nullable
        self.secret = secret
        self._item = tns(item)
        self._key = tns("Key")
        self._value = tns("Value")

    @staticmethod
    def convert(value: object) -> object:
        """A read-only copy of a mapping: what was checked is what will be sent."""
        if isinstance(value, Mapping):
            return MappingProxyType(dict(value))
        return value

    def check(self, field: str, value: object) -> None:
        if value is None and self.nullable:
            return
        if not isinstance(value, Mapping):
            raise TypeError(f"{field} must be a mapping of str to str, not {type(value).__name__}")
        for key, item in value.items():
            check_text(f"{field} key", key)
            if item is not None:
                check_text(f"{field}[{key!r}]", item, secret=self.secret)

    def write(
        self,
        out: list[str],
        start: str,
        end: str,
        value: dict[str, str | None] | None,
        markup: Markup,
    ) -> None:
        if value is None:
            return
        pair_start, pair_end = markup.tags(self._item)
        key_start, key_end = markup.tags(self._key, _XSD_STRING)
        value_start, value_end = markup.tags(self._value, _XSD_STRING)
        out.append(start)
        for key, item in value.items():
            out += (pair_start, key_start, escape(key), key_end)
            if item is None:
                out += (markup.nil(self._value), pair_end)
            else:
                out += (value_start, escape(item), value_end, pair_end)
        out.append(end)

    def read(self, element: etree._Element) -> dict[str, str | None] | None:
        if is_nil(element):
            return None
        result: dict[str, str | None] = {}
        for pair in element:
            if pair.tag != self._item:
                continue
            key: str | None = None
            item: str | None = None
            for part in pair:
                if part.tag == self._key:
                    key = _read_text(part)
                elif part.tag == self._value:
                    item = None if is_nil(part) else _read_text(part)
            if key is None:
                raise ValueError(f"{etree.QName(pair).localname} without a Key")
            result[key] = item
        return result


class IntArrayCodec(Codec["tuple[int, ...] | None"]):
    """``ArrayOfint``: a tns wrapper holding ``arrays:int`` items.

    ``nullable=False`` refuses ``None`` (an argument that must be a sequence).
    """

    def __init__(self, *, nullable: bool = True) -> None:
        self.type_name = (ARRAYS, "ArrayOfint")
        self.nullable = nullable
        self._item = f"{{{ARRAYS}}}int"

    @staticmethod
    def convert(value: object) -> object:
        """Any iterable of ints (a list, a set, a generator) as a tuple, which cannot change."""
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
            return value
        return tuple(value)

    def check(self, field: str, value: object) -> None:
        if value is None and self.nullable:
            return
        if not isinstance(value, tuple):
            raise TypeError(f"{field} must be a sequence of int, not {type(value).__name__}")
        for index, item in enumerate(value):
            XSD_INT.check(f"{field}[{index}]", item)

    def write(
        self, out: list[str], start: str, end: str, value: tuple[int, ...] | None, markup: Markup
    ) -> None:
        if value is None:
            return
        item_start, item_end = markup.tags(self._item, (XSD, "int"))
        out.append(start)
        for item in value:
            out += (item_start, str(item), item_end)
        out.append(end)

    def read(self, element: etree._Element) -> tuple[int, ...] | None:
        if is_nil(element):
            return None
        return tuple(XSD_INT.read(item) for item in element if item.tag == self._item)


# -- composite types: models built from declared fields -----------------------------

_WIRE = "superoffice_batch.wire"
M = TypeVar("M")


class WireField:
    """One declared field: its Python attribute, its element tag and its codec."""

    __slots__ = ("attr", "codec", "label", "tag")

    def __init__(self, owner: str, attr: str, local: str, codec: Codec[Any]) -> None:
        self.attr = attr
        self.tag = tns(local)
        self.codec = codec
        self.label = f"{owner}.{attr}"

    def check(self, value: object) -> None:
        """Raise ``TypeError``/``ValueError`` naming this field unless ``value`` fits."""
        self.codec.check(self.label, value)


def wire(local: str, codec: Codec[Any], **options: Any) -> Any:
    """Declare a model field that travels as element ``local`` encoded by ``codec``.

    Its default is the codec's (.NET's: 0, False, the first enum member, or None).
    Typed ``Any`` so that the annotation, not this call, is the field's type.
    """
    return attrs.field(
        default=codec.default,
        converter=getattr(codec, "convert", None),
        metadata=wire_metadata(local, codec),
        **options,
    )


def wire_metadata(local: str, codec: Codec[Any]) -> dict[str, Any]:
    """The attrs field metadata that :func:`wire_fields` reads: element name and codec."""
    return {_WIRE: (local, codec)}


FieldPlan = tuple[tuple[str, str, str, "Callable[[Any], str] | None", Codec[Any]], ...]
"""Fields ready to write: attribute, start tag, end tag, the scalar text function (None
for other codecs), codec."""


def compile_fields(fields: tuple[WireField, ...], markup: Markup) -> FieldPlan:
    """Work out each field's start and end tag in ``markup`` once."""
    return tuple(
        (
            field.attr,
            *markup.tags(field.tag, field.codec.type_name),
            field.codec.to_text if isinstance(field.codec, Scalar) else None,
            field.codec,
        )
        for field in fields
    )


def write_fields(out: list[str], plan: FieldPlan, owner: object, markup: Markup) -> None:
    """Append the fields of ``owner`` in plan order; most are scalars, written inline."""
    for attr, start, end, to_text, codec in plan:
        value = getattr(owner, attr)
        if to_text is None:
            codec.write(out, start, end, value, markup)
        elif value is not None:
            out += (start, to_text(value), end)


def wire_fields(cls: type[Any]) -> tuple[WireField, ...]:
    """The declared fields of an attrs class, in declaration (that is, wire) order."""
    return tuple(
        WireField(cls.__name__, field.name, *field.metadata[_WIRE])
        for field in attrs.fields(cls)
        if _WIRE in field.metadata
    )


_FIELDS_BY_CLASS: dict[type[Any], tuple[WireField, ...]] = {}


def checked_fields(cls: type[Any]) -> tuple[WireField, ...]:
    """:func:`wire_fields` of ``cls``, worked out on first use and then kept."""
    fields = _FIELDS_BY_CLASS.get(cls)
    if fields is None:
        fields = _FIELDS_BY_CLASS[cls] = wire_fields(cls)
    return fields


class Checked:
    """Base of attrs classes declared with wire fields: each instance checks its fields.

    An invalid value (out of range, wrong type, a character XML cannot carry) raises
    ``TypeError``/``ValueError`` naming the field when the instance is created, so
    nothing invalid can reach the wire.
    """

    __slots__ = ()

    def __attrs_post_init__(self) -> None:
        for field in checked_fields(type(self)):
            field.check(getattr(self, field.attr))


class ModelCodec(Codec["M | None"]):
    """A complex type modelled by an attrs class declared with :func:`wire` fields.

    Reading keeps direct children only, skips elements it does not know (the inherited
    ``TableRight``/``FieldProperties``, fields of newer servers) and lets missing ones
    take their defaults.
    """

    def __init__(self, model: type[M], type_name: TypeName, *, nullable: bool = True) -> None:
        self.type_name = type_name
        self.nullable = nullable
        self.model = model
        self.fields = wire_fields(model)
        self._by_tag = {field.tag: field for field in self.fields}
        self._plans: dict[Markup, FieldPlan] = {}

    def check(self, field: str, value: object) -> None:
        if value is None and self.nullable:
            return
        if not isinstance(value, self.model):
            raise TypeError(f"{field} must be a {self.model.__name__}, not {type(value).__name__}")

    def write(self, out: list[str], start: str, end: str, value: M | None, markup: Markup) -> None:
        if value is None:
            return
        plan = self._plans.get(markup)
        if plan is None:
            plan = self._plans[markup] = compile_fields(self.fields, markup)
        out.append(start)
        write_fields(out, plan, value, markup)
        out.append(end)

    def read(self, element: etree._Element) -> M | None:
        if is_nil(element):
            return None
        values: dict[str, Any] = {}
        by_tag = self._by_tag
        for child in element:
            field = by_tag.get(child.tag)
            if field is None:
                continue
            try:
                values[field.attr] = field.codec.read(child)
            except ValueError as error:
                raise ValueError(f"{field.label}: {error}") from None
        return self.model(**values)


class ListCodec(Codec["list[M]"]):
    """``ArrayOf<Type>``: nil or empty reads as ``[]``; nil items are skipped."""

    def __init__(self, item: ModelCodec[M], item_local: str, type_name: TypeName) -> None:
        self.type_name = type_name
        self.nullable = True
        self.default = []
        self._item = item
        self._item_tag = tns(item_local)

    def check(self, field: str, value: object) -> None:
        if not isinstance(value, list):
            raise TypeError(f"{field} must be a list, not {type(value).__name__}")
        for index, item in enumerate(value):
            self._item.check(f"{field}[{index}]", item)

    def write(self, out: list[str], start: str, end: str, value: list[M], markup: Markup) -> None:
        item_start, item_end = markup.tags(self._item_tag, self._item.type_name)
        out.append(start)
        for item in value:
            self._item.write(out, item_start, item_end, item, markup)
        out.append(end)

    def absent(self) -> list[M]:
        # A new list each time: the caller may change what it gets.
        return []

    def read(self, element: etree._Element) -> list[M]:
        if is_nil(element):
            return []
        items = (self._item.read(child) for child in element if child.tag == self._item_tag)
        return [item for item in items if item is not None]


class EmptyCodec(Codec[None]):
    """A complex type with an empty sequence (``DeleteBatchTaskResponse``): reads as None.

    Whatever a newer server might put inside is ignored, like any unknown element.
    """

    nullable = True

    def read(self, element: etree._Element) -> None:
        return None


EMPTY = EmptyCodec()
