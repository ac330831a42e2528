"""XSD values on the wire: how each kind of field is checked, written and read.

A *codec* knows one XSD type: the Python values it accepts (``check``), how a value
becomes an element (``write``) and how an element becomes a value again (``read``).
Models and operations declare their fields with codecs; nothing here knows about
a particular service.

Requests are lxml trees built from prototypes. Every field has an element that already
carries its tag, its ``xsi:type`` and the service's namespace prefixes; a model's
prototype holds those of all its fields (:func:`append_prototypes`), so a request starts
as one copy of a prebuilt tree. Each codec then writes its value into its field's element
(:meth:`Codec.write`): a simple value as the element's text, a dictionary or an array by
appending copies of its item prototypes (:class:`Prototypes`); a field whose value is
None is removed (:func:`fill_fields`). Creating each element from scratch instead costs a
namespace search per element and attribute (see docs/performance.md). Values go into the
tree by their lexical form only (:func:`int_text`, :func:`datetime_text`,
:func:`string_text`), never through a ``__str__`` or ``isoformat`` a subclass may
override, and lxml escapes them.

Replies are read with lxml too. A value is checked once, while it is read, so models
read from a reply are built without running their constructor's checks a second time
(:meth:`ModelCodec.read`).
"""

from __future__ import annotations

import enum
import functools
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any, Generic, NamedTuple, NoReturn, TypeVar

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


Maker = Callable[[], etree._Element]
"""Makes a fresh element: a copy of a prototype."""


def copier(prototype: etree._Element) -> Maker:
    """The maker of copies of ``prototype`` (lxml copies an element with its subtree)."""
    # copy.copy() would find this same method, at a measurable cost per element.
    return prototype.__copy__  # type: ignore[attr-defined,no-any-return]


class Prototypes:
    """The item elements of one service's requests (dictionary pairs, array items).

    They live under a holder that declares the service's documented namespace prefixes,
    so a copy appended into the envelope (which declares the same ones) uses them:
    ``Batch:`` in one service and ``SoPrincipal:`` in the other, ``NetServerServices882:``
    for Arrays in one and ``NetServerServices883:`` in the other.
    """

    def __init__(self, nsmap: Mapping[str, str]) -> None:
        self._holder = etree.Element(tns("Prototypes"), nsmap=nsmap)
        self._prefixes = {uri: prefix for prefix, uri in nsmap.items()}
        self._makers: dict[tuple[str, ...], Maker] = {}

    def attributes(self, type_name: TypeName | None) -> dict[str, str]:
        """The ``xsi:type="prefix:Local"`` annotation of ``type_name`` (none for None)."""
        if type_name is None:
            return {}
        namespace, local = type_name
        return {XSI_TYPE: f"{self._prefixes[namespace]}:{local}"}

    def maker(self, key: tuple[str, ...], build: Callable[[etree._Element], None]) -> Maker:
        """The maker of copies of the prototype ``build`` puts under the holder, built once.

        ``key`` names the prototype; the first call with it builds it.
        """
        maker = self._makers.get(key)
        if maker is None:
            before = len(self._holder)
            build(self._holder)
            maker = self._makers[key] = copier(self._holder[before])
        return maker


# The complement of XML 1.0's Char production (lone surrogates included). Written as the
# few excluded ranges: the negated class of allowed ones takes milliseconds to compile.
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_XSD_DATETIME = re.compile(
    r"(-?[0-9]{4,})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
_MAX_OFFSET = timedelta(hours=14)
_DOTNET_MIN_VALUE = "0001-01-01T00:00:00"


MAX_SECRET_CHARS = 64 * 1024
"""The longest ticket, token or password: masking costs time and memory per secret."""


def check_text(field: str, value: object, *, secret: bool = False) -> str:
    """Return ``value`` if it is a string XML can carry, else raise naming ``field``.

    The message shows the offending code point, never the value: fields such as a
    ticket are secrets.
    """
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str, not {type(value).__name__}")
    if secret and len(value) > MAX_SECRET_CHARS:
        raise ValueError(f"{field} must be at most {MAX_SECRET_CHARS} characters")
    bad = _NOT_XML_CHAR.search(value)
    if bad is not None:
        where = "" if secret else f" U+{ord(bad.group()):04X} at index {bad.start()}"
        raise ValueError(f"{field} contains a character XML 1.0 cannot carry{where}")
    return value


_TRUE = ("true", "1")


def is_nil(element: etree._Element) -> bool:
    """Whether the element is marked ``xsi:nil`` (an xs:boolean: spaces around it count
    for nothing); ``ValueError`` if it is and yet has content, which XSD forbids."""
    nil = element.get(XSI_NIL)
    if nil is None or nil.strip() not in _TRUE:
        return False
    if element.text or len(element):
        raise ValueError("an element marked nil has content")
    return True


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

    def prototype(self, element: etree._Element, protos: Prototypes) -> None:
        """Complete the prototype of a field's ``element``: a model adds its fields'."""

    def write(self, element: etree._Element, value: T, protos: Prototypes) -> None:
        """Write ``value`` (never None) into ``element``, a copy of the field's prototype.

        ``protos`` makes the items a dictionary or an array appends.
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

    def write(self, element: etree._Element, value: T, protos: Prototypes) -> None:
        element.text = self.to_text(value)

    def read(self, element: etree._Element) -> T:
        text = element.text
        if text is None:
            if is_nil(element):
                return self.default  # type: ignore[no-any-return]
            text = ""
        elif element.keys():  # a cheap test first: most values carry no attribute
            is_nil(element)  # raises if marked nil: this one has content
        return self._from_text(text)

    def read_required(self, element: etree._Element) -> T:
        text = element.text
        if text is None:
            if is_nil(element):
                raise ValueError("nil where a value is required")
            text = ""
        elif element.keys():
            is_nil(element)  # raises if marked nil: this one has content
        return self._from_text(text)


# -- integers and booleans ---------------------------------------------------------

# str() of an int beyond Python's digit limit (4300) raises a ValueError naming nothing.
_SHOWN_DIGITS = 40


def number_text(value: float) -> str:
    """A number for an error message: digits if it has few, else its size in digits."""
    if isinstance(value, int) and value.bit_length() > _SHOWN_DIGITS * 3:
        digits = int(value.bit_length() * 0.30103) + 1
        return f"{'a negative' if value < 0 else 'an'} integer of about {digits} digits"
    return repr(value)


def _int_checker(low: int, high: int, xsd_name: str) -> Callable[[str, object], None]:
    def check(field: str, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{field} must be an int, not {type(value).__name__}")
        if not low <= value <= high:
            shown = number_text(value)
            raise ValueError(f"{field} must be in {low}..{high} (xs:{xsd_name}), got {shown}")

    return check


_INTEGER = re.compile(r"[+-]?[0-9]+")
# More significant digits than any xs:long has: out of range without reading it (int()
# refuses texts over 4300 digits with a message that names no rule).
_MOST_DIGITS = 19


def _int_parser(low: int, high: int, xsd_name: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        # int() also takes "1_000" and non-ASCII digits, which xs:int does not; without
        # them it reads exactly xs:int's lexical space, so a value it reads in range is good.
        if text.isascii() and "_" not in text:
            try:
                value = int(text)
            except ValueError:
                pass
            else:
                if low <= value <= high:
                    return value
        return read_slowly(text)

    def read_slowly(text: str) -> int:
        """Read ``text`` digit by digit, or say which rule it breaks: off the hot path, for
        a bad value or one int() will not take (over 4300 digits, leading zeros included)."""
        stripped = text.strip() if text.isascii() else text
        if _INTEGER.fullmatch(stripped) is None:
            raise ValueError(f"not an xs:{xsd_name}: {stripped[:40]!r}")
        sign = "-" if stripped[0] == "-" else ""
        significant = stripped.lstrip("+-").lstrip("0") or "0"
        rule = f"out of range {low}..{high} (xs:{xsd_name})"
        if len(significant) > _MOST_DIGITS:
            raise ValueError(f"an integer of {len(significant)} digits {rule}")
        value = int(sign + significant)
        if not low <= value <= high:
            raise ValueError(f"{value} {rule}")
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
    raise ValueError(f"not a boolean (xs:boolean is true, false, 1 or 0): {text[:40]!r}")


def _string_checker(*, secret: bool) -> Callable[[str, object], None]:
    def check(field: str, value: object) -> None:
        check_text(field, value, secret=secret)

    return check


# The slot functions themselves, not str()/repr(), which would consult a subclass: an
# int subclass's __str__ could return markup, and on Python 3.10 str() of an IntEnum
# member is "Cls.NAME". Bound directly, they also cost less per field than a wrapper.
string_text: Callable[[str], str] = str.__str__
"""A string's characters as a plain ``str``."""
int_text: Callable[[int], str] = int.__repr__
"""An int (a subclass, an ``IntEnum`` member) as plain decimal digits."""


def bool_text(value: bool) -> str:
    """``true`` or ``false``."""
    return "true" if value else "false"


def _string(*, nullable: bool, secret: bool = False) -> Scalar[Any]:
    return Scalar(
        _XSD_STRING,
        default=None,
        to_text=string_text,
        from_text=str,
        check=_string_checker(secret=secret),
        secret=secret,
        nullable=nullable,
    )


XSD_INT: Scalar[int] = Scalar(
    (XSD, "int"),
    default=0,
    to_text=int_text,
    from_text=_int_parser(*INT_RANGE, "int"),
    check=_int_checker(*INT_RANGE, "int"),
)
XSD_SHORT: Scalar[int] = Scalar(
    (XSD, "short"),
    default=0,
    to_text=int_text,
    from_text=_int_parser(*SHORT_RANGE, "short"),
    check=_int_checker(*SHORT_RANGE, "short"),
)
XSD_BOOLEAN: Scalar[bool] = Scalar(
    (XSD, "boolean"),
    default=False,
    to_text=bool_text,
    from_text=_parse_bool,
    check=_check_bool,
)
XSD_STRING: Scalar[str | None] = _string(nullable=True)
REQUIRED_STRING: Scalar[str] = _string(nullable=False)
"""An ``xs:string`` argument that must be given (``None`` is refused, ``""`` is sent)."""
SECRET_STRING: Scalar[str] = _string(nullable=False, secret=True)
"""Like :data:`REQUIRED_STRING`, for a password or token: errors never point into it."""


# -- dates -------------------------------------------------------------------------


_YEAR = date.year.__get__
_MONTH = date.month.__get__
_DAY = date.day.__get__
_HOUR = datetime.hour.__get__
_MINUTE = datetime.minute.__get__
_SECOND = datetime.second.__get__
_MICROSECOND = datetime.microsecond.__get__


def datetime_text(value: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ss[.ffffff][Z|±hh:mm]``: naive stays naive, UTC becomes ``Z``.

    Computed from the datetime's own fields, read through ``datetime``'s descriptors: a
    subclass's ``isoformat``, ``__str__`` or overriding properties cannot change it. The
    offset comes from the tzinfo, as checked when the value was accepted.
    """
    text = (
        f"{_YEAR(value):04d}-{_MONTH(value):02d}-{_DAY(value):02d}"
        f"T{_HOUR(value):02d}:{_MINUTE(value):02d}:{_SECOND(value):02d}"
    )
    microsecond = _MICROSECOND(value)
    if microsecond:
        text += f".{microsecond:06d}"
    offset = datetime.utcoffset(value)
    if offset is None:
        return text
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


def parse_datetime(text: str) -> datetime | None:
    """Inverse of :func:`datetime_text`; .NET ``DateTime.MinValue`` reads as ``None``.

    Up to seven fraction digits arrive from .NET; Python keeps six (truncated).
    """
    text = text.strip()
    # The longest lexical form is about 40 characters; a longer text is refused unread.
    match = _XSD_DATETIME.fullmatch(text) if len(text) <= 64 else None
    if match is None:
        raise ValueError(f"not a valid xs:dateTime: {text[:40]!r}")
    *parts, fraction, zone = match.groups()
    if text.startswith(_DOTNET_MIN_VALUE) and not (fraction or "").strip("0"):
        return None
    numbers = [int(part) for part in parts]
    year, month, day, hour, minute, second = numbers
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    try:
        tzinfo = _zone(zone) if zone else None
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tzinfo)
    except (ValueError, OverflowError):
        # datetime() would say "year 0 is out of range", naming neither rule nor value.
        problem = _out_of_range(numbers) or _zone_problem(zone) or "not a valid xs:dateTime"
        raise ValueError(f"{problem} (xs:dateTime {text[:40]!r})") from None


_DATETIME_RANGES = (
    ("year", 1, 9999),
    ("month", 1, 12),
    ("day", 1, 31),
    ("hour", 0, 23),
    ("minute", 0, 59),
    ("second", 0, 59),
)
_SHORT_MONTHS = frozenset({4, 6, 9, 11})


def _out_of_range(numbers: list[int]) -> str:
    """What is wrong with the parts of a date and time (``""``: nothing), by the first
    part's rule it breaks."""
    for (name, low, high), number in zip(_DATETIME_RANGES, numbers, strict=True):
        if not low <= number <= high:
            return f"{name} {number} out of range {low}-{high}"
    year, month, day = numbers[:3]
    last = _days_in(year, month)
    return f"day {day} out of range 1-{last} for {year:04d}-{month:02d}" if day > last else ""


def _days_in(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in _SHORT_MONTHS else 31


def _zone_problem(zone: str | None) -> str:
    """What is wrong with a ``Z`` or ``±hh:mm`` zone (``""``: nothing, or no zone)."""
    if not zone or zone == "Z":
        return ""
    if int(zone[4:6]) > 59:
        return f"time zone minutes {zone[4:6]} out of range 00-59 in {zone}"
    if timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])) > _MAX_OFFSET:
        return f"time zone offset {zone} out of range -14:00 to +14:00"
    return ""


@functools.cache
def _zone(zone: str) -> timezone:
    """``Z`` or ``±hh:mm`` as a time zone, ValueError where :func:`_zone_problem` finds a
    fault; the pattern bounds how many there can be."""
    if zone == "Z":
        return timezone.utc
    if _zone_problem(zone):
        raise ValueError(zone)  # parse_datetime says what is wrong
    offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return timezone(-offset if zone[0] == "-" else offset)


def _check_datetime(field: str, value: object) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{field} must be a datetime, not {type(value).__name__}")
    offset = datetime.utcoffset(value)
    if offset is not None and (offset % timedelta(minutes=1) or abs(offset) > _MAX_OFFSET):
        raise ValueError(f"{field} has a UTC offset xs:dateTime cannot carry: {offset}")


XSD_DATETIME: Scalar[datetime | None] = Scalar(
    (XSD, "dateTime"),
    default=None,
    to_text=datetime_text,
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

    def write(self, element: etree._Element, value: E | str, protos: Prototypes) -> None:
        # Members are str subclasses whose characters are their wire name.
        element.text = str.__str__(value)

    def read(self, element: etree._Element) -> E | str:
        text = element.text
        if element.keys() and is_nil(element):  # raises if marked nil with content
            return self.default  # type: ignore[no-any-return]
        member = self._members.get(text)  # type: ignore[arg-type]
        if member is not None:
            return member  # type: ignore[no-any-return]
        # An unknown name is kept only if the constructor would accept it: one token.
        words = (text or "").split()
        if len(words) != 1:
            raise ValueError(f"not a {self._enum_name} name: {(text or '')[:40]!r}")
        return self._members.get(words[0], words[0])  # type: ignore[no-any-return]


# -- collections -------------------------------------------------------------------


class FrozenDict(dict[str, "str | None"]):
    """A dict that refuses changes: what was checked is what will be sent.

    Unlike a ``MappingProxyType`` it pickles, copies and serializes to JSON like the
    dict it is.
    """

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError(f"{type(self).__name__} cannot be changed; make a dict of it")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[type[FrozenDict], tuple[dict[str, str | None]]]:
        return (type(self), (dict(self),))


class StringDictCodec(Codec["Mapping[str, str | None] | None"]):
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
            return FrozenDict(value)
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
        self, element: etree._Element, value: Mapping[str, str | None] | None, protos: Prototypes
    ) -> None:
        assert value is not None  # fill_fields removes the element of a None instead
        make_pair = protos.maker((self._item,), self._pair_prototype(protos, nil=False))
        make_nil_pair = protos.maker((self._item, "nil"), self._pair_prototype(protos, nil=True))
        for key, item in value.items():
            pair = make_pair() if item is not None else make_nil_pair()
            key_element, value_element = pair
            key_element.text = str.__str__(key)
            if item is not None:
                value_element.text = str.__str__(item)
            element.append(pair)

    def _pair_prototype(self, protos: Prototypes, *, nil: bool) -> Callable[[etree._Element], None]:
        """``<Item><Key xsi:type/><Value xsi:type/></Item>``, or with ``<Value xsi:nil/>``."""

        def build(holder: etree._Element) -> None:
            pair = etree.SubElement(holder, self._item)
            etree.SubElement(pair, self._key, protos.attributes(_XSD_STRING))
            etree.SubElement(
                pair, self._value, {XSI_NIL: "true"} if nil else protos.attributes(_XSD_STRING)
            )

        return build

    def read(self, element: etree._Element) -> Mapping[str, str | None] | None:
        """The pairs as a read-only mapping, like a model's dictionary field holds them."""
        if is_nil(element):
            return None
        result: dict[str, str | None] = {}
        item_tag, key_tag, value_tag = self._item, self._key, self._value
        for pair in element:
            if pair.tag != item_tag:
                continue
            key: str | None = None
            item: str | None = None
            for part in pair:
                tag = part.tag
                if tag == key_tag:
                    key = part.text or ""
                elif tag == value_tag:
                    item = None if is_nil(part) else part.text or ""
            if key is None:
                raise ValueError(f"{etree.QName(pair).localname} without a Key")
            result[key] = item
        return FrozenDict(result)


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
        self, element: etree._Element, value: tuple[int, ...] | None, protos: Prototypes
    ) -> None:
        assert value is not None  # fill_fields removes the element of a None instead
        make_item = protos.maker((self._item,), self._item_prototype(protos))
        for number in value:
            item = make_item()
            item.text = int.__repr__(number)
            element.append(item)

    def _item_prototype(self, protos: Prototypes) -> Callable[[etree._Element], None]:
        def build(holder: etree._Element) -> None:
            etree.SubElement(holder, self._item, protos.attributes((XSD, "int")))

        return build

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


class FieldPlan(NamedTuple):
    """What :func:`fill_fields` needs of a model's fields, worked out once."""

    values: Callable[[object], tuple[Any, ...]]
    """The owner's field values, in wire order, in one call."""
    writers: tuple[tuple[Callable[[Any], str] | None, Codec[Any]], ...]
    """Per field: the scalar text function (None for other codecs), and the codec."""


def field_plan(fields: tuple[WireField, ...]) -> FieldPlan:
    """The :class:`FieldPlan` of ``fields``."""
    writers = tuple(
        (field.codec.to_text if isinstance(field.codec, Scalar) else None, field.codec)
        for field in fields
    )
    return FieldPlan(_values_getter(tuple(field.attr for field in fields)), writers)


def _values_getter(names: tuple[str, ...]) -> Callable[[object], tuple[Any, ...]]:
    # attrgetter of several names answers a tuple in one call; of one name, the value.
    if len(names) > 1:
        return operator.attrgetter(*names)
    return lambda owner: tuple(getattr(owner, name) for name in names)


def append_prototypes(
    parent: etree._Element, fields: tuple[WireField, ...], protos: Prototypes
) -> None:
    """Append the prototype of each field's element to ``parent``, in wire order."""
    for field in fields:
        element = etree.SubElement(parent, field.tag, protos.attributes(field.codec.type_name))
        field.codec.prototype(element, protos)


def fill_fields(
    element: etree._Element, plan: FieldPlan, owner: object, protos: Prototypes
) -> None:
    """Write the fields of ``owner`` into the copied prototypes that are ``element``'s
    children; remove those whose value is None."""
    values = plan.values(owner)
    for child, value, (to_text, codec) in zip(list(element), values, plan.writers, strict=True):
        if value is None:
            element.remove(child)
        elif to_text is not None:
            child.text = to_text(value)
        else:
            codec.write(child, value, protos)


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

    Equality, hashing and ``repr()`` are written here once, from the attrs fields and
    their ``hash``/``repr`` options, and the classes are declared with ``eq=False,
    repr=False``: attrs would compile those methods for each of some thirty classes at
    import, which was a third of ``import superoffice_batch``.
    """

    __slots__ = ()

    def __attrs_post_init__(self) -> None:
        for field in checked_fields(type(self)):
            field.check(getattr(self, field.attr))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        values = _shape(type(self)).values
        return values(self) == values(other)

    def __hash__(self) -> int:
        return hash((type(self), _shape(type(self)).hashed(self)))

    def __repr__(self) -> str:
        shown = _shape(type(self)).shown
        parts = ", ".join(f"{name}={show(getattr(self, name))}" for name, show in shown)
        return f"{type(self).__qualname__}({parts})"


class _Shape(NamedTuple):
    values: Callable[[object], tuple[Any, ...]]
    hashed: Callable[[object], tuple[Any, ...]]
    shown: tuple[tuple[str, Callable[[Any], str]], ...]


_SHAPES: dict[type[Any], _Shape] = {}


def _shape(cls: type[Any]) -> _Shape:
    """What equality, hash and repr of a :class:`Checked` class look at, worked out once."""
    shape = _SHAPES.get(cls)
    if shape is None:
        shape = _SHAPES[cls] = _new_shape(cls)
    return shape


def _new_shape(cls: type[Any]) -> _Shape:
    fields = attrs.fields(cls)
    return _Shape(
        _values_getter(tuple(field.name for field in fields)),
        _values_getter(tuple(field.name for field in fields if field.hash is not False)),
        tuple(
            (field.name, field.repr if callable(field.repr) else repr)
            for field in fields
            if field.repr is not False
        ),
    )


class ModelCodec(Codec["M | None"]):
    """A complex type modelled by an attrs class declared with :func:`wire` fields.

    Reading keeps direct children only, skips elements it does not know (the inherited
    ``TableRight``/``FieldProperties``, fields of newer servers) and lets missing ones
    take their defaults. Each value is checked by its codec as it is read, so the model
    is built without its constructor: checking it again would double the cost of
    reading a long task list.
    """

    def __init__(self, model: type[M], type_name: TypeName, *, nullable: bool = True) -> None:
        self.type_name = type_name
        self.nullable = nullable
        self.model = model
        self.fields = wire_fields(model)
        if len(self.fields) != len(attrs.fields(model)):  # type: ignore[arg-type]
            raise TypeError(f"{model.__name__}: every field must be declared with wire()")
        self._readers = {field.tag: (field.attr, field.codec.read) for field in self.fields}
        self._labels = {field.attr: field.label for field in self.fields}
        self._defaults = {field.attr: field.codec.default for field in self.fields}
        self._plan = field_plan(self.fields)

    def check(self, field: str, value: object) -> None:
        if value is None and self.nullable:
            return
        if not isinstance(value, self.model):
            raise TypeError(f"{field} must be a {self.model.__name__}, not {type(value).__name__}")

    def prototype(self, element: etree._Element, protos: Prototypes) -> None:
        append_prototypes(element, self.fields, protos)

    def write(self, element: etree._Element, value: M | None, protos: Prototypes) -> None:
        fill_fields(element, self._plan, value, protos)

    def read(self, element: etree._Element) -> M | None:
        if is_nil(element):
            return None
        values = self._defaults.copy()
        readers = self._readers
        attr = ""
        try:
            for child in element:
                reader = readers.get(child.tag)
                if reader is not None:
                    attr, read = reader
                    values[attr] = read(child)
        except Exception as error:  # a reader's OverflowError too: name the field
            kind = "" if type(error) is ValueError else f"{type(error).__name__}: "
            raise ValueError(f"{self._labels[attr]}: {kind}{error}") from None
        return self.trusted(values)

    def trusted(self, values: dict[str, Any]) -> M:
        """The model holding ``values``, which the field codecs have already checked."""
        instance: M = object.__new__(self.model)
        for attr, value in values.items():
            _set_field(instance, attr, value)
        return instance


# Frozen attrs classes refuse attribute assignment; attrs' own __init__ sets fields so.
_set_field = object.__setattr__


class ListCodec(Codec["list[M]"]):
    """``ArrayOf<Type>``: nil or empty reads as ``[]``; nil items are skipped.

    Only ever read: no request carries a list of models.
    """

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

    def absent(self) -> list[M]:
        # A new list each time: the caller may change what it gets.
        return []

    def read(self, element: etree._Element) -> list[M]:
        if is_nil(element):
            return []
        tag = self._item_tag
        read = self._item.read
        items = []
        for child in element:
            if child.tag == tag:
                item = read(child)
                if item is not None:
                    items.append(item)
        return items


class EmptyCodec(Codec[None]):
    """A complex type with an empty sequence (``DeleteBatchTaskResponse``): reads as None.

    A ``Response`` element inside is an error: a reply that claims a result where the
    operation has none is not this operation's reply. Anything else a newer server
    might put inside is ignored, like any unknown element.
    """

    nullable = True

    def read(self, element: etree._Element) -> None:
        for child in element:
            if child.tag == _RESPONSE:
                raise ValueError("a Response element where the operation returns nothing")
        return


_RESPONSE = tns("Response")


EMPTY = EmptyCodec()
