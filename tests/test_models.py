"""BatchTaskInfo, its enumerations and Credentials: shape, defaults, validation, round-trip.

The field list, field types and enumeration names are read from the WSDL, so the model is
checked against the contract rather than against a second hand-written copy of it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from types import MappingProxyType

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from conftest import XS, wsdl_enumeration, wsdl_sequence
from superoffice_batch import (
    BatchTaskCancellationBehaviour,
    BatchTaskInfo,
    BatchTaskState,
    Credentials,
    SoapVersion,
)
from superoffice_batch.models import BATCH_TASK_INFO
from superoffice_batch.operations import StartBatchJob
from superoffice_batch.xmlvalues import wire_fields

WSDL = "Services88-Batch.wsdl"
TNS = "http://www.superoffice.net/ws/crm/NetServer/Services88"

# XML Schema Part 2, built-in datatypes int and short.
XS_INT_RANGE = (-(2**31), 2**31 - 1)
XS_SHORT_RANGE = (-(2**15), 2**15 - 1)
INT_RANGES = {(XS, "int"): XS_INT_RANGE, (XS, "short"): XS_SHORT_RANGE}

STRING = (XS, "string")
BOOLEAN = (XS, "boolean")
DATETIME = (XS, "dateTime")
STRING_DICTIONARY = (TNS, "StringDictionary")
ENUMS = {
    (TNS, "BatchTaskState"): BatchTaskState,
    (TNS, "BatchTaskCancellationBehaviour"): BatchTaskCancellationBehaviour,
}

WSDL_FIELDS = wsdl_sequence(WSDL, "BatchTaskInfo")
ATTR_BY_ELEMENT = {field.tag.split("}")[1]: field.attr for field in wire_fields(BatchTaskInfo)}


def attr_of(element: str) -> str:
    return ATTR_BY_ELEMENT[element]


def fields_of_type(*type_names: tuple[str, str]) -> list[str]:
    return [attr_of(name) for name, type_name in WSDL_FIELDS if type_name in type_names]


INT_FIELDS = [
    (attr_of(name), INT_RANGES[type_name])
    for name, type_name in WSDL_FIELDS
    if type_name in INT_RANGES
]
BOOL_FIELDS = fields_of_type(BOOLEAN)
STRING_FIELDS = fields_of_type(STRING)
DATETIME_FIELDS = fields_of_type(DATETIME)
ENUM_FIELDS = fields_of_type(*ENUMS)

# Characters outside the XML 1.0 Char production, one of each kind.
NON_XML_CHARS = ["\x00", "\x08", "\x0b", "\x1f", "\ud800", "\udfff", "\ufffe", "\uffff"]


def label(attr: str) -> str:
    """How error messages name a field."""
    return f"BatchTaskInfo.{attr}"


def named(attr: str) -> str:
    """A ``pytest.raises(match=...)`` pattern for a message naming the field."""
    return re.escape(label(attr))


def task_element_of(envelope: bytes) -> etree._Element:
    """The single BatchTaskInfo element in a StartBatchJob request envelope."""
    elements = etree.fromstring(envelope).findall(f".//{{{TNS}}}BatchTaskInfo")
    assert len(elements) == 1
    return elements[0]


# -- shape ---------------------------------------------------------------------------


def test_batch_task_info_declares_22_fields():
    assert len(wire_fields(BatchTaskInfo)) == 22


def test_fields_follow_wsdl_element_order():
    declared = [etree.QName(field.tag).localname for field in wire_fields(BatchTaskInfo)]
    assert declared == [name for name, _ in WSDL_FIELDS]


def test_fields_are_in_the_services88_namespace():
    assert {etree.QName(field.tag).namespace for field in wire_fields(BatchTaskInfo)} == {TNS}


def test_field_codecs_carry_wsdl_types():
    declared = [
        (etree.QName(field.tag).localname, field.codec.type_name)
        for field in wire_fields(BatchTaskInfo)
    ]
    assert declared == WSDL_FIELDS


def test_inherited_carrier_fields_are_not_part_of_the_model():
    carrier = {name for name, _ in wsdl_sequence(WSDL, "Carrier")}
    assert carrier == {"TableRight", "FieldProperties"}
    declared = {etree.QName(field.tag).localname for field in wire_fields(BatchTaskInfo)}
    assert not carrier & declared


# -- defaults mirror .NET: value types have a value, reference types are None ---------


def expected_default(type_name: tuple[str, str]) -> object:
    if type_name in INT_RANGES:
        return 0
    if type_name == BOOLEAN:
        return False
    if type_name in ENUMS:
        first_name = wsdl_enumeration(WSDL, type_name[1])[0]
        return ENUMS[type_name](first_name)
    assert type_name in (STRING, DATETIME, STRING_DICTIONARY)
    return None


@pytest.mark.parametrize(("element", "type_name"), WSDL_FIELDS, ids=[n for n, _ in WSDL_FIELDS])
def test_default_mirrors_dotnet(element, type_name):
    value = getattr(BatchTaskInfo(), attr_of(element))
    expected = expected_default(type_name)
    # type() as well: False == 0, and a str equal to an enum member is not the member.
    assert (type(value), value) == (type(expected), expected)


def test_enum_defaults_are_the_documented_first_members():
    task = BatchTaskInfo()
    assert task.state is BatchTaskState.UNKNOWN
    assert task.cancellation_behaviour is BatchTaskCancellationBehaviour.CAN_CANCEL


# -- attrs behaviour ------------------------------------------------------------------


@pytest.mark.parametrize("attr", ["id", "name", "parameter_object", "state", "created"])
def test_task_is_frozen(attr):
    task = BatchTaskInfo()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        setattr(task, attr, getattr(task, attr))


def test_task_arguments_are_keyword_only():
    with pytest.raises(TypeError):
        BatchTaskInfo(1)  # type: ignore[misc]


def test_parameter_object_is_copied_from_the_callers_dict():
    parameters = {"format": "csv"}
    task = BatchTaskInfo(parameter_object=parameters)
    parameters["format"] = "xml"
    parameters["extra"] = "1"
    assert task.parameter_object == {"format": "csv"}


def test_parameter_object_cannot_be_changed_and_pickles_like_a_dict():
    import copy
    import json
    import pickle

    task = BatchTaskInfo(parameter_object={"format": "csv", "none": None})
    with pytest.raises(TypeError, match="cannot be changed"):
        task.parameter_object["format"] = "xml"  # type: ignore[index]
    with pytest.raises(TypeError, match="cannot be changed"):
        task.parameter_object.update(extra="1")  # type: ignore[union-attr]
    assert pickle.loads(pickle.dumps(task)) == task
    assert copy.deepcopy(task) == task
    assert json.loads(json.dumps(task.parameter_object)) == {"format": "csv", "none": None}


def test_parameter_object_accepts_any_mapping():
    task = BatchTaskInfo(parameter_object=MappingProxyType({"a": "1", "b": None}))
    assert task.parameter_object == {"a": "1", "b": None}


def test_task_with_parameter_object_is_hashable():
    first = BatchTaskInfo(name="x", parameter_object={"a": "1"})
    second = BatchTaskInfo(name="x", parameter_object={"a": "1"})
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second}) == 1


def test_tasks_differing_only_in_parameter_object_are_unequal():
    assert BatchTaskInfo(parameter_object={"a": "1"}) != BatchTaskInfo(parameter_object={"a": "2"})


# -- validation before sending ----------------------------------------------------------


def int_boundary_cases(outside: bool) -> list[object]:
    cases = []
    for attr, (low, high) in INT_FIELDS:
        values = (low - 1, high + 1) if outside else (low, high)
        cases += [pytest.param(attr, value, id=f"{attr}={value}") for value in values]
    return cases


@pytest.mark.parametrize(("attr", "value"), int_boundary_cases(outside=False))
def test_int_field_accepts_its_range_boundaries(attr, value):
    assert getattr(BatchTaskInfo(**{attr: value}), attr) == value


@pytest.mark.parametrize(("attr", "value"), int_boundary_cases(outside=True))
def test_int_field_rejects_values_just_outside_its_range(attr, value):
    with pytest.raises(ValueError, match=named(attr)):
        BatchTaskInfo(**{attr: value})


def test_short_fields_are_details_table_and_progress_percent():
    # Guards the tables above: the two xs:short fields get the narrower range.
    shorts = [attr for attr, bounds in INT_FIELDS if bounds == XS_SHORT_RANGE]
    assert shorts == ["details_table", "progress_percent"]


@pytest.mark.parametrize("value", [True, False, "1", 1.0, None], ids=repr)
@pytest.mark.parametrize("attr", [attr for attr, _ in INT_FIELDS])
def test_int_field_rejects_non_int(attr, value):
    with pytest.raises(TypeError, match=named(attr)):
        BatchTaskInfo(**{attr: value})


@pytest.mark.parametrize("value", [1, 0, "true", None], ids=repr)
@pytest.mark.parametrize("attr", BOOL_FIELDS)
def test_bool_field_rejects_non_bool(attr, value):
    with pytest.raises(TypeError, match=named(attr)):
        BatchTaskInfo(**{attr: value})


@pytest.mark.parametrize("char", NON_XML_CHARS, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("attr", STRING_FIELDS)
def test_string_field_rejects_characters_xml_cannot_carry(attr, char):
    with pytest.raises(ValueError, match=named(attr)):
        BatchTaskInfo(**{attr: f"ok{char}ok"})


@pytest.mark.parametrize("value", [1, b"bytes"], ids=repr)
@pytest.mark.parametrize("attr", STRING_FIELDS)
def test_string_field_rejects_non_str(attr, value):
    with pytest.raises(TypeError, match=named(attr)):
        BatchTaskInfo(**{attr: value})


@pytest.mark.parametrize("attr", STRING_FIELDS)
def test_string_field_accepts_the_edges_of_xml_char(attr):
    text = "\t\n\r \ud7ff\ue000\ufffd\U00010000\U0010ffff"
    assert getattr(BatchTaskInfo(**{attr: text}), attr) == text


@pytest.mark.parametrize("char", NON_XML_CHARS, ids=lambda c: f"U+{ord(c):04X}")
def test_parameter_object_key_rejects_characters_xml_cannot_carry(char):
    with pytest.raises(ValueError, match=named("parameter_object")):
        BatchTaskInfo(parameter_object={f"key{char}": "value"})


@pytest.mark.parametrize("char", NON_XML_CHARS, ids=lambda c: f"U+{ord(c):04X}")
def test_parameter_object_value_rejects_characters_xml_cannot_carry(char):
    with pytest.raises(ValueError, match=named("parameter_object")):
        BatchTaskInfo(parameter_object={"key": f"value{char}"})


@pytest.mark.parametrize(
    "parameters",
    [{1: "value"}, {"key": 1}, {"key": b"value"}, [("key", "value")], "key=value"],
    ids=repr,
)
def test_parameter_object_rejects_non_str_mappings(parameters):
    with pytest.raises(TypeError, match=named("parameter_object")):
        BatchTaskInfo(parameter_object=parameters)


@pytest.mark.parametrize("attr", DATETIME_FIELDS)
def test_datetime_field_rejects_a_date(attr):
    with pytest.raises(TypeError, match=named(attr)):
        BatchTaskInfo(**{attr: date(2025, 5, 7)})


@pytest.mark.parametrize("attr", DATETIME_FIELDS)
def test_datetime_field_rejects_an_iso_string(attr):
    with pytest.raises(TypeError, match=named(attr)):
        BatchTaskInfo(**{attr: "2025-05-07T14:30:10Z"})


@pytest.mark.parametrize(
    "offset",
    [
        timedelta(hours=2, seconds=30),
        timedelta(minutes=-90, seconds=-1),
        timedelta(microseconds=1),
        timedelta(hours=14, minutes=1),
        timedelta(hours=-14, minutes=-1),
    ],
    ids=str,
)
@pytest.mark.parametrize("attr", DATETIME_FIELDS)
def test_datetime_field_rejects_offsets_xs_datetime_cannot_carry(attr, offset):
    # xs:dateTime offsets are whole minutes within ±14:00.
    value = datetime(2025, 5, 7, 14, 30, tzinfo=timezone(offset))
    with pytest.raises(ValueError, match=named(attr)):
        BatchTaskInfo(**{attr: value})


@pytest.mark.parametrize("offset", [timedelta(hours=14), timedelta(hours=-14)], ids=str)
def test_datetime_field_accepts_offsets_of_fourteen_hours(offset):
    value = datetime(2025, 5, 7, 14, 30, tzinfo=timezone(offset))
    assert BatchTaskInfo(created=value).created == value


# -- enumerations ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("enum_type", "simple_type"),
    [
        (BatchTaskState, "BatchTaskState"),
        (BatchTaskCancellationBehaviour, "BatchTaskCancellationBehaviour"),
    ],
)
def test_enum_members_are_the_wsdl_names_in_order(enum_type, simple_type):
    assert [member.value for member in enum_type] == wsdl_enumeration(WSDL, simple_type)


@pytest.mark.parametrize("member", [*BatchTaskState, *BatchTaskCancellationBehaviour], ids=str)
def test_enum_member_is_a_str_equal_to_its_wire_name(member):
    assert isinstance(member, str)
    assert member == member.value
    assert str(member) == member.value


def test_the_misspelt_aquired_state_keeps_the_services_spelling():
    assert BatchTaskState.AQUIRED == "Aquired"


@pytest.mark.parametrize(
    ("state", "terminal"),
    [
        (BatchTaskState.UNKNOWN, False),
        (BatchTaskState.NEW, False),
        (BatchTaskState.AQUIRED, False),
        (BatchTaskState.STARTED, False),
        (BatchTaskState.SUCCEEDED, True),
        (BatchTaskState.FAILED, True),
        (BatchTaskState.SUCCEEDED_MANUAL_CLEANUP, True),
        (BatchTaskState.ALL, False),
    ],
    ids=str,
)
def test_is_terminal_only_for_succeeded_failed_and_manual_cleanup(state, terminal):
    assert state.is_terminal is terminal


@pytest.mark.parametrize(
    ("attr", "name", "member"),
    [
        ("state", "Succeeded", BatchTaskState.SUCCEEDED),
        ("state", "Aquired", BatchTaskState.AQUIRED),
        ("cancellation_behaviour", "CannotCancel", BatchTaskCancellationBehaviour.CANNOT_CANCEL),
    ],
)
def test_known_wire_name_converts_to_the_member(attr, name, member):
    assert getattr(BatchTaskInfo(**{attr: name}), attr) is member


@pytest.mark.parametrize("attr", ENUM_FIELDS)
def test_unknown_wire_name_is_kept_as_a_plain_str(attr):
    value = getattr(BatchTaskInfo(**{attr: "Paused"}), attr)
    assert type(value) is str
    assert value == "Paused"


@pytest.mark.parametrize("name", ["", " x", "x ", "Paused Now", "\tPaused"], ids=repr)
@pytest.mark.parametrize("attr", ENUM_FIELDS)
def test_enum_field_rejects_strings_that_are_not_names(attr, name):
    with pytest.raises(ValueError, match=named(attr)):
        BatchTaskInfo(**{attr: name})


@pytest.mark.parametrize("value", [5, None, b"Started"], ids=repr)
@pytest.mark.parametrize("attr", ENUM_FIELDS)
def test_enum_field_rejects_non_str(attr, value):
    with pytest.raises(TypeError, match=named(attr)):
        BatchTaskInfo(**{attr: value})


def test_enum_field_rejects_a_member_of_the_other_enumeration():
    with pytest.raises(TypeError, match=named("state")):
        BatchTaskInfo(state=BatchTaskCancellationBehaviour.CAN_CANCEL)


def test_enum_field_rejects_name_with_non_xml_character():
    with pytest.raises(ValueError, match=named("state")):
        BatchTaskInfo(state="Paused\x00")


# -- credentials -----------------------------------------------------------------------

TICKET = "7T:c2VjcmV0LXRpY2tldA=="
TOKEN = "app-token-very-secret"


def test_credentials_repr_shows_neither_ticket_nor_token():
    text = repr(Credentials(ticket=TICKET, application_token=TOKEN))
    assert "c2VjcmV0LXRpY2tldA" not in text
    assert "very-secret" not in text


def test_credentials_repr_still_says_which_values_are_set():
    text = repr(Credentials(ticket=TICKET))
    assert "ticket=" in text
    assert "application_token=None" in text


@pytest.mark.parametrize(
    ("credentials", "secrets"),
    [
        (Credentials(), set()),
        (Credentials(ticket=TICKET), {TICKET}),
        (Credentials(application_token=TOKEN), {TOKEN}),
        (Credentials(ticket=TICKET, application_token=TOKEN), {TICKET, TOKEN}),
    ],
)
def test_credentials_secrets_lists_the_set_values(credentials, secrets):
    assert len(credentials.secrets) == len(secrets)
    assert set(credentials.secrets) == secrets


@pytest.mark.parametrize("char", NON_XML_CHARS, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("attr", ["ticket", "application_token"])
def test_credentials_reject_non_xml_characters_without_echoing_the_value(attr, char):
    secret = f"7T:c2VjcmV0{char}LXRpY2tldA=="
    with pytest.raises(ValueError, match=re.escape(f"Credentials.{attr}")) as raised:
        Credentials(**{attr: secret})
    assert "c2VjcmV0" not in str(raised.value)
    assert "LXRpY2tldA" not in str(raised.value)


@pytest.mark.parametrize("value", [1234, b"7T:c2VjcmV0"], ids=repr)
@pytest.mark.parametrize("attr", ["ticket", "application_token"])
def test_credentials_reject_non_str(attr, value):
    with pytest.raises(TypeError, match=re.escape(f"Credentials.{attr}")) as raised:
        Credentials(**{attr: value})
    assert "c2VjcmV0" not in str(raised.value)


# -- property: every valid task survives the wire ------------------------------------

DOTNET_MIN_VALUE = datetime(1, 1, 1)

# The XML 1.0 Char production, spelled out from the specification.
xml_chars = st.one_of(
    st.sampled_from("\t\n\r"),
    st.integers(0x20, 0xD7FF).map(chr),
    st.integers(0xE000, 0xFFFD).map(chr),
    st.integers(0x10000, 0x10FFFF).map(chr),
)
xml_text = st.text(alphabet=xml_chars, max_size=12)
wire_offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
# .NET DateTime.MinValue reads as None by design (tested in test_xmlvalues).
wire_datetimes = st.datetimes(timezones=st.none() | wire_offsets).filter(
    lambda value: value.replace(tzinfo=None) != DOTNET_MIN_VALUE
)


def enum_values(enum_type):
    names = {member.value for member in enum_type}
    unknown = st.from_regex(r"[A-Z][A-Za-z0-9]{0,15}", fullmatch=True).filter(
        lambda name: name not in names
    )
    return st.one_of(
        st.sampled_from(list(enum_type)),
        st.sampled_from(sorted(names)),
        st.just("Paused"),
        unknown,
    )


def valid_values(type_name):
    if type_name in INT_RANGES:
        return st.integers(*INT_RANGES[type_name])
    if type_name in ENUMS:
        return enum_values(ENUMS[type_name])
    return {
        BOOLEAN: st.booleans(),
        STRING: st.none() | xml_text,
        DATETIME: st.none() | wire_datetimes,
        STRING_DICTIONARY: st.none() | st.dictionaries(xml_text, st.none() | xml_text, max_size=4),
    }[type_name]


valid_tasks = st.builds(
    BatchTaskInfo,
    **{attr_of(name): valid_values(type_name) for name, type_name in WSDL_FIELDS},
)


@settings(deadline=None)
@given(task=valid_tasks, version=st.sampled_from(SoapVersion))
def test_any_valid_task_round_trips_through_a_start_batch_job_request(task, version):
    request = StartBatchJob(task).to_request(None, version)
    read = BATCH_TASK_INFO.read(task_element_of(request.content))
    assert read == task
    for field in wire_fields(BatchTaskInfo):
        sent, received = getattr(task, field.attr), getattr(read, field.attr)
        # == alone would equate True with 1, an enum member with its name, and two
        # aware datetimes at the same instant in different zones.
        assert type(received) is type(sent), field.attr
        if isinstance(sent, datetime):
            assert received.utcoffset() == sent.utcoffset(), field.attr


# -- property: every invalid value is refused at construction -------------------------


def with_bad_char(text_strategy=xml_text):
    bad = st.sampled_from(["\x00", "\x01", "\x0b", "\x0c", "\x1f", "\ufffe", "\uffff"]) | (
        st.integers(0xD800, 0xDFFF).map(chr)
    )
    return st.tuples(text_strategy, bad, text_strategy).map("".join)


def bad_offsets():
    sub_minute = st.tuples(st.integers(-14 * 60, 14 * 60), st.integers(1, 59)).map(
        lambda ms: timedelta(minutes=ms[0], seconds=ms[1])
    )
    too_far = st.integers(14 * 60 + 1, 24 * 60 - 1).flatmap(
        lambda m: st.sampled_from([timedelta(minutes=m), timedelta(minutes=-m)])
    )
    return (sub_minute | too_far).map(timezone)


def invalid_values(type_name):
    """(value, the exception it must raise) for a field of WSDL type ``type_name``."""
    wrong_type: st.SearchStrategy[object]
    if type_name in INT_RANGES:
        low, high = INT_RANGES[type_name]
        out_of_range = st.integers(max_value=low - 1) | st.integers(min_value=high + 1)
        wrong_type = st.booleans() | st.text(max_size=3) | st.floats() | st.none()
        bad_value = out_of_range
    elif type_name == BOOLEAN:
        wrong_type = st.integers() | st.sampled_from(["true", "false", ""]) | st.none()
        bad_value = st.nothing()
    elif type_name == STRING:
        wrong_type = st.integers() | st.binary(max_size=3)
        bad_value = with_bad_char()
    elif type_name == DATETIME:
        wrong_type = st.dates() | st.integers() | st.just("2025-05-07T14:30:10Z")
        bad_value = st.datetimes(timezones=bad_offsets())
    elif type_name == STRING_DICTIONARY:
        wrong_type = (
            st.dictionaries(st.integers(), xml_text, min_size=1)
            | st.dictionaries(xml_text, st.integers(), min_size=1)
            | st.lists(st.tuples(xml_text, xml_text), max_size=2)
            | xml_text
        )
        bad_value = st.dictionaries(with_bad_char(), xml_text, min_size=1) | st.dictionaries(
            xml_text, with_bad_char(), min_size=1
        )
    else:
        assert type_name in ENUMS
        wrong_type = st.integers() | st.none()
        bad_value = st.sampled_from(["", " ", " Started", "Started ", "Pau sed"]) | with_bad_char(
            st.just("Paused")
        )
    return st.tuples(wrong_type, st.just(TypeError)) | st.tuples(bad_value, st.just(ValueError))


@st.composite
def invalid_fields(draw):
    name, type_name = draw(st.sampled_from(WSDL_FIELDS))
    value, error = draw(invalid_values(type_name))
    return attr_of(name), value, error


@settings(deadline=None)
@given(invalid=invalid_fields())
def test_any_invalid_value_is_refused_when_the_task_is_built(invalid):
    attr, value, error = invalid
    with pytest.raises(error) as raised:
        BatchTaskInfo(**{attr: value})
    assert label(attr) in str(raised.value)
