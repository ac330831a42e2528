"""Codecs: XML text checks, dates, and reading BatchTaskInfo elements as servers send them.

Expected values come from PROTOCOL.md sections 4 and 5 and from XML Schema Part 2; the
reply XML is written here by hand (or taken from the documented reply) so the reader is
exercised on input the writer never produced.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from conftest import documented_task, fixture_bytes
from superoffice_batch import (
    BatchTaskCancellationBehaviour,
    BatchTaskInfo,
    BatchTaskState,
    SoapVersion,
)
from superoffice_batch.models import BATCH_TASK_INFO, BATCH_TASK_INFO_LIST
from superoffice_batch.operations import StartBatchJob
from superoffice_batch.xmlvalues import (
    IntArrayCodec,
    check_text,
    datetime_text,
    parse_datetime,
)

TNS = "http://www.superoffice.net/ws/crm/NetServer/Services88"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ARRAYS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
UTC = timezone.utc


def offset(hours: int = 0, minutes: int = 0) -> timezone:
    return timezone(timedelta(hours=hours, minutes=minutes))


def exactly(message: str) -> str:
    """A ``pytest.raises(match=...)`` pattern for exactly this message."""
    return f"^{re.escape(message)}$"


def named(field: str) -> str:
    """A ``pytest.raises(match=...)`` pattern for a message naming the field."""
    return re.escape(field)


def read_task(children: str, *, prefix: str = "b", xsi: str = "xsi") -> BatchTaskInfo | None:
    """Read a BatchTaskInfo element whose children are given as XML text.

    ``{p}`` in ``children`` stands for the Services88 prefix, ``{xsi}`` for the
    XMLSchema-instance prefix; an empty ``prefix`` makes Services88 the default namespace.
    """
    p = f"{prefix}:" if prefix else ""
    declaration = f'xmlns:{prefix}="{TNS}"' if prefix else f'xmlns="{TNS}"'
    xml = (
        f'<{p}BatchTaskInfo {declaration} xmlns:{xsi}="{XSI}">'
        + children.format(p=p, xsi=xsi)
        + f"</{p}BatchTaskInfo>"
    )
    return BATCH_TASK_INFO.read(etree.fromstring(xml))


def element_text(task: BatchTaskInfo, local: str) -> str | None:
    """The text of one field as sent in a StartBatchJob request."""
    root = etree.fromstring(StartBatchJob(task).to_request(None, SoapVersion.SOAP12).content)
    return root.find(f".//{{{TNS}}}BatchTaskInfo/{{{TNS}}}{local}").text


# -- check_text ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "plain", "\t\n\r", " ", "\ud7ff", "\ue000", "\ufffd", "\U00010000", "\U0010ffff"],
    ids=repr,
)
def test_check_text_returns_xml_text_unchanged(text):
    assert check_text("Model.field", text) is text


@pytest.mark.parametrize(
    ("text", "code_point"),
    [
        ("\x00", "U+0000"),
        ("a\x08", "U+0008"),
        ("a\x0bb", "U+000B"),
        ("\x1f", "U+001F"),
        ("x\ud800", "U+D800"),
        ("\udfff", "U+DFFF"),
        ("\ufffe", "U+FFFE"),
        ("\uffff", "U+FFFF"),
    ],
    ids=repr,
)
def test_check_text_names_the_field_and_the_code_point(text, code_point):
    with pytest.raises(ValueError, match=named("Model.field")) as raised:
        check_text("Model.field", text)
    assert code_point in str(raised.value)


def test_check_text_for_a_secret_shows_neither_value_nor_code_point():
    with pytest.raises(ValueError, match=named("Credentials.ticket")) as raised:
        check_text("Credentials.ticket", "7T:hidden\x01value", secret=True)
    assert "hidden" not in str(raised.value)
    assert "U+0001" not in str(raised.value)


@pytest.mark.parametrize("value", [None, 1, b"text"], ids=repr)
def test_check_text_rejects_non_str(value):
    with pytest.raises(TypeError, match=named("Model.field")):
        check_text("Model.field", value)


# -- datetime_text ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2025, 5, 7, 14, 30, 10), "2025-05-07T14:30:10"),
        (datetime(2025, 5, 7, 14, 30, 10, tzinfo=UTC), "2025-05-07T14:30:10Z"),
        (datetime(2025, 5, 7, 14, 30, 10, tzinfo=offset()), "2025-05-07T14:30:10Z"),
        (datetime(2025, 5, 7, 14, 30, 10, tzinfo=offset(2)), "2025-05-07T14:30:10+02:00"),
        (datetime(2025, 5, 7, 14, 30, 10, tzinfo=offset(-5, -30)), "2025-05-07T14:30:10-05:30"),
        (datetime(2025, 5, 7, 14, 30, 10, tzinfo=offset(0, -30)), "2025-05-07T14:30:10-00:30"),
        (datetime(2025, 5, 7, 14, 30, 10, tzinfo=offset(14)), "2025-05-07T14:30:10+14:00"),
        (datetime(2025, 5, 7, 14, 30, 10, tzinfo=offset(-14)), "2025-05-07T14:30:10-14:00"),
        (datetime(2025, 5, 7, 14, 30, 10, 123400), "2025-05-07T14:30:10.123400"),
        (datetime(2025, 5, 7, 14, 30, 10, 500000, tzinfo=UTC), "2025-05-07T14:30:10.500000Z"),
        (datetime(2025, 5, 7, 14, 30, 10, 1), "2025-05-07T14:30:10.000001"),
        (datetime(2025, 5, 7, 14, 30, 10, 999999), "2025-05-07T14:30:10.999999"),
        (datetime(987, 1, 2, 3, 4, 5), "0987-01-02T03:04:05"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_datetime_text(value, text):
    assert datetime_text(value) == text


# -- parse_datetime ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2025-05-07T14:30:10", datetime(2025, 5, 7, 14, 30, 10)),
        ("2025-05-07T14:30:10Z", datetime(2025, 5, 7, 14, 30, 10, tzinfo=UTC)),
        ("2025-05-07T14:30:10+02:00", datetime(2025, 5, 7, 14, 30, 10, tzinfo=offset(2))),
        ("2025-05-07T14:30:10-05:30", datetime(2025, 5, 7, 14, 30, 10, tzinfo=offset(-5, -30))),
        ("2025-05-07T14:30:10-00:30", datetime(2025, 5, 7, 14, 30, 10, tzinfo=offset(0, -30))),
        ("2025-05-07T14:30:10+14:00", datetime(2025, 5, 7, 14, 30, 10, tzinfo=offset(14))),
        ("2025-05-07T14:30:10-14:00", datetime(2025, 5, 7, 14, 30, 10, tzinfo=offset(-14))),
        ("2025-05-07T14:30:10.1", datetime(2025, 5, 7, 14, 30, 10, 100000)),
        ("2025-05-07T14:30:10.12", datetime(2025, 5, 7, 14, 30, 10, 120000)),
        ("2025-05-07T14:30:10.000001", datetime(2025, 5, 7, 14, 30, 10, 1)),
        ("2025-05-07T14:30:10.123456Z", datetime(2025, 5, 7, 14, 30, 10, 123456, tzinfo=UTC)),
        # Seven digits (.NET ticks): the seventh is dropped, not rounded.
        ("2025-05-07T14:30:10.1234567", datetime(2025, 5, 7, 14, 30, 10, 123456)),
        ("2025-05-07T14:30:10.9999999Z", datetime(2025, 5, 7, 14, 30, 10, 999999, tzinfo=UTC)),
        ("2025-05-07T14:30:10.0000000", datetime(2025, 5, 7, 14, 30, 10)),
        (" 2025-05-07T14:30:10Z\n", datetime(2025, 5, 7, 14, 30, 10, tzinfo=UTC)),
        ("0987-01-02T03:04:05", datetime(987, 1, 2, 3, 4, 5)),
    ],
    ids=repr,
)
def test_parse_datetime(text, value):
    parsed = parse_datetime(text)
    assert parsed == value
    # Aware datetimes compare by instant: check the zone itself survived.
    assert parsed.utcoffset() == value.utcoffset()


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00",
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00.0",
        "0001-01-01T00:00:00.0000000",
        "0001-01-01T00:00:00.0000000Z",
    ],
)
def test_parse_datetime_reads_dotnet_min_value_as_none(text):
    assert parse_datetime(text) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0001-01-01T00:00:01", datetime(1, 1, 1, 0, 0, 1)),
        ("0001-01-01T00:00:00.000001", datetime(1, 1, 1, 0, 0, 0, 1)),
        ("0001-01-02T00:00:00Z", datetime(1, 1, 2, tzinfo=UTC)),
    ],
)
def test_parse_datetime_keeps_instants_just_after_min_value(text, value):
    assert parse_datetime(text) == value


NOT_A_DATETIME = "not a valid xs:dateTime: "


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2025-05-07",
        "2025-05-07 14:30:10",
        "2025-05-07T14:30",
        "2025-05-07T14:30:10.",
        "2025-05-07T14:30:10z",
        "2025-05-07T14:30:10+0200",
        "2025-05-07T14:30:10+02",
        "2025-05-07T14:30:10 +02:00",
        "25-05-07T14:30:10",
        "2025-5-7T14:30:10",
        "\u0662\u0660\u0662\u0665-05-07T14:30:10",
        "2025-05-07T14:30:10Z garbage",
    ],
    ids=repr,
)
def test_a_text_of_another_form_is_not_a_valid_datetime(text):
    with pytest.raises(ValueError, match=re.escape(NOT_A_DATETIME + repr(text))):
        parse_datetime(text)


# Issue 18: each says the rule the value breaks, never datetime()'s own text ("year 0 is
# out of range", "day is out of range for month") nor an OverflowError's.
@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("0000-01-01T00:00:00", "year 0 out of range 1-9999"),
        ("-0001-01-01T00:00:00", "year -1 out of range 1-9999"),
        ("10000-01-01T00:00:00", "year 10000 out of range 1-9999"),
        ("99999-01-01T00:00:00", "year 99999 out of range 1-9999"),
        (
            "12345678901234567890-05-07T14:29:58",
            "year 12345678901234567890 out of range 1-9999",
        ),
        ("2025-00-01T00:00:00", "month 0 out of range 1-12"),
        ("2025-13-01T00:00:00", "month 13 out of range 1-12"),
        ("2025-05-00T00:00:00", "day 0 out of range 1-31"),
        ("2025-05-32T00:00:00", "day 32 out of range 1-31"),
        ("2025-02-29T00:00:00", "day 29 out of range 1-28 for 2025-02"),
        ("1900-02-29T00:00:00", "day 29 out of range 1-28 for 1900-02"),
        ("2025-04-31T00:00:00", "day 31 out of range 1-30 for 2025-04"),
        ("2025-05-07T24:00:00", "hour 24 out of range 0-23"),
        ("2025-05-07T14:60:00", "minute 60 out of range 0-59"),
        ("2025-05-07T14:30:61", "second 61 out of range 0-59"),
        ("2025-05-07T14:30:10+14:01", "time zone offset +14:01 out of range -14:00 to +14:00"),
        ("2025-05-07T14:30:10-14:01", "time zone offset -14:01 out of range -14:00 to +14:00"),
        ("2025-05-07T14:30:10+15:00", "time zone offset +15:00 out of range -14:00 to +14:00"),
        ("2025-05-07T14:30:10-23:59", "time zone offset -23:59 out of range -14:00 to +14:00"),
        ("2025-05-07T14:30:10+99:00", "time zone offset +99:00 out of range -14:00 to +14:00"),
        # XML Schema Part 2, 3.2.7: the timezone's mm is 00-59.
        ("2025-05-07T14:30:10+05:60", "time zone minutes 60 out of range 00-59 in +05:60"),
        ("2025-05-07T14:30:10-00:75", "time zone minutes 75 out of range 00-59 in -00:75"),
    ],
    ids=repr,
)
def test_a_datetime_out_of_range_says_which_part_and_its_range(text, rule):
    with pytest.raises(ValueError, match=exactly(f"{rule} (xs:dateTime {text!r})")):
        parse_datetime(text)


@pytest.mark.parametrize("text", ["2024-02-29T00:00:00", "2000-02-29T00:00:00"])
def test_february_29_of_a_leap_year_is_read(text):
    assert parse_datetime(text).day == 29


# Wire form from PROTOCOL.md section 5, without fraction digits ending in 0.
WIRE_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(\.[0-9]{6})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)
minute_offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: offset(0, m))


@given(st.datetimes(min_value=datetime(1, 1, 2), timezones=st.none() | minute_offsets))
def test_formatted_datetimes_have_the_wire_form_and_parse_back(value):
    text = datetime_text(value)
    assert WIRE_DATETIME.fullmatch(text)
    assert text.endswith("Z") == (value.utcoffset() == timedelta(0))
    parsed = parse_datetime(text)
    assert parsed == value
    assert parsed.utcoffset() == value.utcoffset()


# -- reading BatchTaskInfo: forward and backward compatibility ----------------------


def test_empty_element_reads_as_default_task():
    assert read_task("") == BatchTaskInfo()


def test_nil_task_reads_as_none():
    xml = f'<b:BatchTaskInfo xmlns:b="{TNS}" xmlns:xsi="{XSI}" xsi:nil="true"/>'
    assert BATCH_TASK_INFO.read(etree.fromstring(xml)) is None


def test_missing_elements_take_defaults():
    task = read_task("<{p}Id>5</{p}Id><{p}Description>text</{p}Description>")
    assert task == BatchTaskInfo(id=5, description="text")


def test_inherited_carrier_elements_are_ignored():
    task = read_task(
        "<{p}TableRight><{p}Mask>Select Update Delete</{p}Mask><{p}Reason>no</{p}Reason>"
        "</{p}TableRight>"
        "<{p}FieldProperties><{p}FieldPropertyDictionaryKeyValuePair><{p}Key>Id</{p}Key>"
        "<{p}Value><{p}FieldRight><{p}Mask>Read</{p}Mask></{p}FieldRight>"
        "<{p}FieldType>System.Int32</{p}FieldType><{p}FieldLength>4</{p}FieldLength>"
        "</{p}Value></{p}FieldPropertyDictionaryKeyValuePair></{p}FieldProperties>"
        "<{p}Id>5</{p}Id><{p}Name>Export</{p}Name>"
    )
    assert task == BatchTaskInfo(id=5, name="Export")


def test_unknown_elements_are_ignored():
    task = read_task(
        "<{p}Id>5</{p}Id>"
        "<{p}Priority>High</{p}Priority>"
        '<x:Name xmlns:x="urn:other">not the name</x:Name>'
        "<{p}Name>Export</{p}Name>"
        "<{p}FutureField><{p}Nested>1</{p}Nested></{p}FutureField>"
    )
    assert task == BatchTaskInfo(id=5, name="Export")


def test_only_direct_children_are_read():
    task = read_task("<{p}Id>5</{p}Id><{p}Wrapper><{p}Id>99</{p}Id></{p}Wrapper>")
    assert task.id == 5


def test_nil_string_reads_as_none_and_empty_string_as_empty():
    task = read_task('<{p}Name {xsi}:nil="true"/><{p}Description/><{p}Result></{p}Result>')
    assert task.name is None
    assert task.description == ""
    assert task.result == ""


def test_string_whitespace_is_kept():
    assert read_task("<{p}Description>  two\n lines  </{p}Description>").description == (
        "  two\n lines  "
    )


@pytest.mark.parametrize(
    ("element", "attr", "default"),
    [
        ("Id", "id", 0),
        ("DetailsTable", "details_table", 0),
        ("IsSystemTask", "is_system_task", False),
        ("State", "state", BatchTaskState.UNKNOWN),
        (
            "CancellationBehaviour",
            "cancellation_behaviour",
            BatchTaskCancellationBehaviour.CAN_CANCEL,
        ),
    ],
)
def test_nil_on_a_value_type_keeps_the_default(element, attr, default):
    value = getattr(read_task(f'<{{p}}{element} {{xsi}}:nil="true"/>'), attr)
    assert (type(value), value) == (type(default), default)


@pytest.mark.parametrize(
    ("element", "attr"), [("ParameterObject", "parameter_object"), ("Created", "created")]
)
def test_nil_on_a_nullable_reference_reads_as_none(element, attr):
    assert getattr(read_task(f'<{{p}}{element} {{xsi}}:nil="true"/>'), attr) is None


def test_known_enum_name_reads_as_the_member():
    task = read_task(
        "<{p}State>Succeeded</{p}State><{p}CancellationBehaviour>CannotCancel"
        "</{p}CancellationBehaviour>"
    )
    assert task.state is BatchTaskState.SUCCEEDED
    assert task.cancellation_behaviour is BatchTaskCancellationBehaviour.CANNOT_CANCEL


def test_unknown_enum_name_reads_as_plain_str():
    task = read_task("<{p}State>Paused</{p}State>")
    assert type(task.state) is str
    assert task.state == "Paused"


def test_unknown_enum_name_is_sent_back_verbatim():
    task = read_task(
        "<{p}State>Paused</{p}State><{p}CancellationBehaviour>AskFirst</{p}CancellationBehaviour>"
    )
    assert element_text(task, "State") == "Paused"
    assert element_text(task, "CancellationBehaviour") == "AskFirst"


def test_empty_enum_is_malformed():
    with pytest.raises(ValueError, match=named("BatchTaskInfo.state")):
        read_task("<{p}State></{p}State>")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2147483647", 2147483647),
        ("-2147483648", -2147483648),
        ("+12", 12),
        ("007", 7),
        (" 12 ", 12),
        ("\n\t-3\r\n", -3),
    ],
    ids=repr,
)
def test_int_text_is_read(text, value):
    assert read_task(f"<{{p}}Id>{text}</{{p}}Id>").id == value


@pytest.mark.parametrize(
    "text",
    ["12a", "1_000", "\u0661\u0662", "", " ", "1.0", "1e3", "0x10", "--1", "1 2"],
    ids=repr,
)
def test_malformed_int_is_an_error_naming_the_field(text):
    with pytest.raises(ValueError, match=named("BatchTaskInfo.start_count")):
        read_task(f"<{{p}}StartCount>{text}</{{p}}StartCount>")


@pytest.mark.parametrize(
    ("element", "attr", "text"),
    [
        ("Id", "id", "2147483648"),
        ("Id", "id", "-2147483649"),
        ("DetailsTable", "details_table", "32768"),
        ("DetailsTable", "details_table", "-32769"),
        ("ProgressPercent", "progress_percent", "32768"),
        ("ProgressPercent", "progress_percent", "-32769"),
    ],
)
def test_out_of_range_int_is_an_error_naming_the_field(element, attr, text):
    with pytest.raises(ValueError, match=named(f"BatchTaskInfo.{attr}")):
        read_task(f"<{{p}}{element}>{text}</{{p}}{element}>")


@pytest.mark.parametrize(
    ("element", "text", "message"),
    [
        (
            "Id",
            "2147483648",
            "BatchTaskInfo.id: 2147483648 out of range -2147483648..2147483647 (xs:int)",
        ),
        (
            "Id",
            "-0002147483649",
            "BatchTaskInfo.id: -2147483649 out of range -2147483648..2147483647 (xs:int)",
        ),
        (
            "DetailsTable",
            "32768",
            "BatchTaskInfo.details_table: 32768 out of range -32768..32767 (xs:short)",
        ),
        # Beyond int()'s 4300 digits: still the range, never "Exceeds the limit".
        (
            "Id",
            "9" * 5000,
            "BatchTaskInfo.id: an integer of 5000 digits out of range "
            "-2147483648..2147483647 (xs:int)",
        ),
        ("StartCount", "12a", "BatchTaskInfo.start_count: not an xs:int: '12a'"),
        ("StartCount", " 1e3 ", "BatchTaskInfo.start_count: not an xs:int: '1e3'"),
        ("DetailsTable", "1_000", "BatchTaskInfo.details_table: not an xs:short: '1_000'"),
    ],
    ids=["int over", "int under", "short over", "5000 digits", "letters", "exponent", "underscore"],
)
def test_an_unreadable_int_says_the_rule_it_breaks(element, text, message):
    with pytest.raises(ValueError, match=exactly(message)):
        read_task(f"<{{p}}{element}>{text}</{{p}}{element}>")


def test_leading_zeros_do_not_count_as_digits():
    assert read_task("<{p}Id>" + "0" * 5000 + "42</{p}Id>").id == 42


@pytest.mark.parametrize(
    ("element", "attr", "text", "value"),
    [
        ("DetailsTable", "details_table", "32767", 32767),
        ("ProgressPercent", "progress_percent", "-32768", -32768),
    ],
)
def test_short_boundaries_are_read(element, attr, text, value):
    assert getattr(read_task(f"<{{p}}{element}>{text}</{{p}}{element}>"), attr) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("false", False),
        ("1", True),
        ("0", False),
        (" true ", True),
        ("\n\tfalse\n", False),
        (" 1", True),
        ("0 ", False),
    ],
    ids=repr,
)
def test_boolean_text_is_read(text, value):
    assert read_task(f"<{{p}}IsSystemTask>{text}</{{p}}IsSystemTask>").is_system_task is value


@pytest.mark.parametrize("text", ["True", "FALSE", "yes", "2", "", "t"], ids=repr)
def test_malformed_boolean_is_an_error_naming_the_field(text):
    rule = "not a boolean (xs:boolean is true, false, 1 or 0)"
    message = f"BatchTaskInfo.is_internal_task: {rule}: {text.strip()!r}"
    with pytest.raises(ValueError, match=exactly(message)):
        read_task(f"<{{p}}IsInternalTask>{text}</{{p}}IsInternalTask>")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", "not a valid xs:dateTime: 'yesterday'"),
        (
            "12345678901234567890-05-07T14:29:58",
            "year 12345678901234567890 out of range 1-9999 "
            "(xs:dateTime '12345678901234567890-05-07T14:29:58')",
        ),
    ],
    ids=["not a date", "a year too large for datetime"],
)
def test_malformed_datetime_is_an_error_naming_the_field_and_the_rule(text, message):
    with pytest.raises(ValueError, match=exactly(f"BatchTaskInfo.last_started: {message}")):
        read_task(f"<{{p}}LastStarted>{text}</{{p}}LastStarted>")


def test_dotnet_min_value_date_reads_as_none():
    task = read_task("<{p}Created>0001-01-01T00:00:00</{p}Created>")
    assert task.created is None


# -- ParameterObject on the wire ----------------------------------------------------


def test_parameter_object_is_read_in_order_with_nil_and_empty_values():
    task = read_task(
        "<{p}ParameterObject>"
        "<{p}StringKeyValuePair><{p}Key>b</{p}Key><{p}Value>2</{p}Value></{p}StringKeyValuePair>"
        '<{p}StringKeyValuePair><{p}Key>a</{p}Key><{p}Value {xsi}:nil="true"/>'
        "</{p}StringKeyValuePair>"
        "<{p}StringKeyValuePair><{p}Key>c</{p}Key><{p}Value/></{p}StringKeyValuePair>"
        "</{p}ParameterObject>"
    )
    assert list(task.parameter_object.items()) == [("b", "2"), ("a", None), ("c", "")]


def test_empty_parameter_object_reads_as_empty_dict():
    assert read_task("<{p}ParameterObject/>").parameter_object == {}


def test_pair_without_key_is_an_error_naming_the_field():
    with pytest.raises(ValueError, match=named("BatchTaskInfo.parameter_object")):
        read_task(
            "<{p}ParameterObject><{p}StringKeyValuePair><{p}Value>2</{p}Value>"
            "</{p}StringKeyValuePair></{p}ParameterObject>"
        )


def parameter_object_element(parameters: dict[str, str | None] | None) -> etree._Element | None:
    root = etree.fromstring(
        StartBatchJob(BatchTaskInfo(parameter_object=parameters)).to_request().content
    )
    return root.find(f".//{{{TNS}}}ParameterObject")


def test_none_parameter_object_is_omitted():
    assert parameter_object_element(None) is None


def test_empty_parameter_object_is_an_empty_element():
    element = parameter_object_element({})
    assert element is not None
    assert len(element) == 0


def test_none_value_is_sent_as_nil_and_empty_value_as_empty_element():
    pairs = parameter_object_element({"gone": None, "blank": ""})
    (gone_key, gone_value), (blank_key, blank_value) = pairs
    assert (gone_key.text, blank_key.text) == ("gone", "blank")
    assert gone_value.tag == blank_value.tag == f"{{{TNS}}}Value"
    assert gone_value.get(f"{{{XSI}}}nil") == "true"
    assert gone_value.text is None
    assert blank_value.get(f"{{{XSI}}}nil") is None
    assert blank_value.text in (None, "")


# -- prefixes and documented replies ------------------------------------------------

EXPORT_TASK_XML = (
    "<{p}Id>7</{p}Id><{p}Name>Export</{p}Name>"
    '<{p}Context {xsi}:nil="true"/><{p}State>Started</{p}State>'
)
EXPORT_TASK = BatchTaskInfo(id=7, name="Export", state=BatchTaskState.STARTED)


@pytest.mark.parametrize(
    ("prefix", "xsi"),
    [("Batch", "xsi"), ("b", "xsi"), ("ns0", "i"), ("", "i")],
    ids=["Batch", "b", "ns0-and-i", "default-namespace"],
)
def test_prefixes_do_not_matter(prefix, xsi):
    assert read_task(EXPORT_TASK_XML, prefix=prefix, xsi=xsi) == EXPORT_TASK


def documented_reply_task(*, without: tuple[str, ...] = ()) -> BatchTaskInfo | None:
    root = etree.fromstring(fixture_bytes("documented/GetBatchTaskInfo-response.xml"))
    (response,) = root.iterfind(f".//{{{TNS}}}GetBatchTaskInfoResponse/{{{TNS}}}Response")
    for local in without:
        (element,) = response.iterfind(f"{{{TNS}}}{local}")
        response.remove(element)
    return BATCH_TASK_INFO.read(response)


DOCUMENTED_TASK = documented_task(datetime(2025, 4, 1, 12, 25, 57, tzinfo=UTC))


def test_documented_reply_is_read():
    assert documented_reply_task() == DOCUMENTED_TASK


def test_reply_from_a_2020_server_without_the_newer_fields_is_read():
    # The 2020 WSDL's BatchTaskInfo ends at ProgressPercent.
    task = documented_reply_task(without=("FileName", "CancellationBehaviour"))
    assert task == attrs.evolve(DOCUMENTED_TASK, file_name=None)
    assert task.cancellation_behaviour is BatchTaskCancellationBehaviour.CAN_CANCEL


# -- lists and int arrays -----------------------------------------------------------


def test_task_list_skips_nil_items_and_ignores_other_elements():
    xml = (
        f'<b:Response xmlns:b="{TNS}" xmlns:xsi="{XSI}">'
        "<b:BatchTaskInfo><b:Id>1</b:Id></b:BatchTaskInfo>"
        '<b:BatchTaskInfo xsi:nil="true"/>'
        "<b:Other><b:Id>3</b:Id></b:Other>"
        "<b:BatchTaskInfo><b:Id>2</b:Id></b:BatchTaskInfo>"
        "</b:Response>"
    )
    tasks = BATCH_TASK_INFO_LIST.read(etree.fromstring(xml))
    assert tasks == [BatchTaskInfo(id=1), BatchTaskInfo(id=2)]


def test_nil_task_list_reads_as_empty():
    xml = f'<b:Response xmlns:b="{TNS}" xmlns:xsi="{XSI}" xsi:nil="true"/>'
    assert BATCH_TASK_INFO_LIST.read(etree.fromstring(xml)) == []


def test_int_array_accepts_any_iterable_as_a_tuple_and_checks_each_item():
    codec = IntArrayCodec()
    assert codec.convert([1, 2]) == (1, 2)
    assert codec.convert(x for x in (3,)) == (3,)
    assert codec.convert("12") == "12"  # a str is not a sequence of ints: left for check()
    with pytest.raises(TypeError, match=named("Op.ids")):
        codec.check("Op.ids", "12")
    with pytest.raises(TypeError, match=named("Op.ids[1]")):
        codec.check("Op.ids", (1, True))
    with pytest.raises(ValueError, match=named("Op.ids[0]")):
        codec.check("Op.ids", (2**31,))


def test_int_array_reads_arrays_namespace_int_items():
    xml = (
        f'<b:AssociateIds xmlns:b="{TNS}" xmlns:a="{ARRAYS}">'
        "<a:int>5</a:int><b:int>9</b:int><a:int> -1 </a:int></b:AssociateIds>"
    )
    assert IntArrayCodec().read(etree.fromstring(xml)) == (5, -1)
