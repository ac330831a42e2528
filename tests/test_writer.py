"""The request writer: lxml trees, values by their lexical form, every operation round-trips.

Values reach the wire by their XML lexical form only: never through a ``__str__``,
``isoformat`` or property that a subclass may override (which once let an int subclass
inject markup), and an ``IntEnum`` member is its number on every Python (on 3.10 its
``str()`` is ``Cls.NAME``).
"""

from __future__ import annotations

import enum
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from conftest import canonical
from superoffice_batch import (
    BatchTaskInfo,
    BatchTaskState,
    Credentials,
    SoapVersion,
    TimeZone,
    soprincipal,
)
from superoffice_batch import operations as ops
from superoffice_batch.envelope import hardened_parser
from superoffice_batch.xmlvalues import (
    EnumCodec,
    IntArrayCodec,
    ModelCodec,
    Scalar,
    StringDictCodec,
    wire_fields,
)
from test_models import enum_values, valid_tasks, xml_text

TNS = "http://www.superoffice.net/ws/crm/NetServer/Services88"
ARRAYS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
BODY = {version: f"{{{version.namespace}}}Body" for version in SoapVersion}

VERSIONS = pytest.mark.parametrize("version", list(SoapVersion), ids=lambda v: v.name)


# -- values whose own str()/isoformat() lie -------------------------------------------


class Sneaky(int):
    """An int whose str() is markup."""

    def __str__(self) -> str:
        return "<boom/>"


class Owner(enum.IntEnum):
    """An IntEnum whose str() is what Python 3.10 gives (``Owner.ALICE``) on any Python."""

    ALICE = 7

    def __str__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


class Text(str):
    """A str whose str() is markup."""

    def __str__(self) -> str:
        return "<boom/>"


class Moment(datetime):
    """A datetime whose own formatting methods lie."""

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return "<boom/>"

    def __str__(self) -> str:
        return "<boom/>"

    def utcoffset(self) -> timedelta | None:
        return timedelta(hours=5)


WHEN = datetime(2024, 2, 29, 23, 59, 58, 120000, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))


def envelope(operation: ops.Operation[Any], version: SoapVersion) -> bytes:
    return operation.to_request(None, version).content


def same_wire(lying: ops.Operation[Any], plain: ops.Operation[Any], version: SoapVersion) -> None:
    """``lying`` (values of subclasses) goes on the wire exactly as ``plain`` does."""
    sent = envelope(lying, version)
    assert b"boom" not in sent
    assert canonical(sent) == canonical(envelope(plain, version))


@VERSIONS
def test_an_int_subclass_is_written_as_its_digits_not_its_str(version):
    sent = envelope(
        ops.StartBatchJob(BatchTaskInfo(id=Sneaky(42), details_table=Sneaky(3))), version
    )
    task = etree.fromstring(sent, hardened_parser()).find(f".//{{{TNS}}}BatchTaskInfo")
    assert task.findtext(f"{{{TNS}}}Id") == "42"
    assert len(task.find(f"{{{TNS}}}Id")) == 0  # no injected element
    same_wire(
        ops.StartBatchJob(BatchTaskInfo(id=Sneaky(42), details_table=Sneaky(3))),
        ops.StartBatchJob(BatchTaskInfo(id=42, details_table=3)),
        version,
    )


@VERSIONS
def test_an_int_enum_member_is_written_as_its_number(version):
    sent = envelope(ops.StartBatchJob(BatchTaskInfo(associate_id=Owner.ALICE)), version)
    assert etree.fromstring(sent).findtext(f".//{{{TNS}}}AssociateId") == "7"
    same_wire(
        ops.StartBatchJob(BatchTaskInfo(associate_id=Owner.ALICE)),
        ops.StartBatchJob(BatchTaskInfo(associate_id=7)),
        version,
    )


@VERSIONS
def test_int_subclasses_in_arrays_and_arguments(version):
    same_wire(ops.DeleteBatchTasks([Sneaky(5), Owner.ALICE]), ops.DeleteBatchTasks([5, 7]), version)
    same_wire(ops.GetBatchTaskInfo(Sneaky(9)), ops.GetBatchTaskInfo(9), version)
    items = etree.fromstring(envelope(ops.DeleteBatchTasks([Owner.ALICE]), version))
    assert [item.text for item in items.iter(f"{{{ARRAYS}}}int")] == ["7"]


@VERSIONS
def test_a_datetime_subclass_is_written_from_its_fields(version):
    lying = Moment(2024, 2, 29, 23, 59, 58, 120000, tzinfo=WHEN.tzinfo)
    sent = envelope(ops.StartBatchJob(BatchTaskInfo(created=lying)), version)
    assert etree.fromstring(sent).findtext(f".//{{{TNS}}}Created") == (
        "2024-02-29T23:59:58.120000-03:30"
    )
    same_wire(
        ops.StartBatchJob(BatchTaskInfo(created=lying)),
        ops.StartBatchJob(BatchTaskInfo(created=WHEN)),
        version,
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(1, 1, 2), "0001-01-02T00:00:00"),
        (datetime(2025, 5, 7, 14, 30, 10, tzinfo=timezone.utc), "2025-05-07T14:30:10Z"),
        (datetime(2025, 5, 7, 14, 30, 10, 5), "2025-05-07T14:30:10.000005"),
        (datetime(2025, 5, 7, tzinfo=timezone(timedelta(hours=14))), "2025-05-07T00:00:00+14:00"),
        (datetime(2025, 5, 7, tzinfo=timezone(-timedelta(minutes=1))), "2025-05-07T00:00:00-00:01"),
    ],
)
def test_dates_are_written_in_the_documented_form(value, text):
    sent = envelope(ops.StartBatchJob(BatchTaskInfo(last_started=value)), SoapVersion.SOAP11)
    assert etree.fromstring(sent).findtext(f".//{{{TNS}}}LastStarted") == text


@VERSIONS
def test_a_str_subclass_is_written_by_its_characters(version):
    same_wire(
        ops.StartBatchJob(
            BatchTaskInfo(name=Text("Export"), parameter_object={Text("k"): Text("v")})
        ),
        ops.StartBatchJob(BatchTaskInfo(name="Export", parameter_object={"k": "v"})),
        version,
    )
    same_wire(
        ops.AuthenticateUsernamePassword(Text("jdoe"), Text("secret")),
        ops.AuthenticateUsernamePassword("jdoe", "secret"),
        version,
    )


@VERSIONS
def test_header_values_are_written_by_their_lexical_form_too(version):
    operation = ops.GetBatchTaskInfo(1)
    lying = operation.to_request(
        Credentials(ticket=Text("7T:abc"), application_token=Text("token")),
        version,
        time_zone=TimeZone(id=Owner.ALICE, location_code=Text("NO")),
    ).content
    plain = operation.to_request(
        Credentials(ticket="7T:abc", application_token="token"),
        version,
        time_zone=TimeZone(id=7, location_code="NO"),
    ).content
    assert b"boom" not in lying
    assert b"Owner" not in lying
    assert canonical(lying) == canonical(plain)


@VERSIONS
def test_booleans_are_true_and_false(version):
    sent = envelope(ops.StartBatchJob(BatchTaskInfo(is_system_task=True)), version)
    root = etree.fromstring(sent)
    assert root.findtext(f".//{{{TNS}}}IsSystemTask") == "true"
    assert root.findtext(f".//{{{TNS}}}IsInternalTask") == "false"


@VERSIONS
def test_markup_characters_in_values_are_escaped_by_lxml(version):
    tricky = "a<b>&c]]>\r\n\t\"'"
    sent = envelope(ops.StartBatchJob(BatchTaskInfo(name=tricky)), version)
    assert etree.fromstring(sent, hardened_parser()).findtext(f".//{{{TNS}}}Name") == tricky


def test_the_envelope_is_serialized_by_lxml_with_an_xml_declaration():
    sent = envelope(ops.GetBatchTaskInfo(1), SoapVersion.SOAP12)
    assert sent.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<SOAP-ENV:Envelope ")
    # Exactly the documented declarations, once, on the Envelope.
    assert sent.count(b"xmlns:") == 7


def test_requests_built_in_many_threads_are_the_same_as_built_in_one():
    operation = ops.StartBatchJob(BatchTaskInfo(name="x", parameter_object={"a": "b", "c": None}))
    credentials = Credentials(ticket="7T:abc", application_token="token")
    expected = {v: operation.to_request(credentials, v).content for v in SoapVersion}
    failures: list[object] = []

    def build() -> None:
        for _ in range(200):
            for version in SoapVersion:
                if operation.to_request(credentials, version).content != expected[version]:
                    failures.append(version)

    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


# -- property: every accepted value of every operation round-trips ---------------------

OPERATIONS = [
    cls
    for module in (ops, soprincipal)
    for cls in vars(module).values()
    if isinstance(cls, type) and issubclass(cls, ops.Operation) and attrs.has(cls)
]


def test_every_operation_is_covered():
    assert len(OPERATIONS) == 20


sneaky_ints = st.sampled_from([Sneaky, int])
strings = xml_text | xml_text.map(Text)


def values_for(codec: Any) -> st.SearchStrategy[Any]:
    """Accepted values of one codec, subclasses with lying str() among them."""
    if isinstance(codec, Scalar):
        kind = codec.type_name[1]
        if kind in ("int", "short"):
            low, high = (-(2**31), 2**31 - 1) if kind == "int" else (-(2**15), 2**15 - 1)
            return st.builds(lambda cls, n: cls(n), sneaky_ints, st.integers(low, high))
        if kind == "boolean":
            return st.booleans()
        return strings if not codec.nullable else st.none() | strings
    if isinstance(codec, EnumCodec):
        return enum_values(BatchTaskState)
    if isinstance(codec, IntArrayCodec):
        return st.lists(st.integers(-(2**31), 2**31 - 1).map(Sneaky), max_size=4)
    if isinstance(codec, StringDictCodec):
        return st.dictionaries(strings, st.none() | strings, max_size=3)
    if isinstance(codec, ModelCodec):
        return valid_tasks
    raise AssertionError(f"no strategy for {codec!r}")


@st.composite
def operations(draw: st.DrawFn) -> ops.Operation[Any]:
    cls = draw(st.sampled_from(OPERATIONS))
    return cls(**{field.attr: draw(values_for(field.codec)) for field in wire_fields(cls)})


@settings(deadline=None, max_examples=300)
@given(operation=operations(), version=st.sampled_from(list(SoapVersion)))
def test_every_accepted_argument_round_trips_through_a_hardened_parse(operation, version):
    root = etree.fromstring(envelope(operation, version), hardened_parser())
    (wrapper,) = root.find(BODY[version])
    assert wrapper.tag == f"{{{TNS}}}{type(operation).__name__}"
    by_tag = {child.tag: child for child in wrapper}
    for field in wire_fields(type(operation)):
        sent = getattr(operation, field.attr)
        element = by_tag.get(field.tag)
        received = field.codec.absent() if element is None else field.codec.read(element)
        if isinstance(sent, tuple):
            received = tuple(received)
        assert received == sent, field.attr
        if isinstance(sent, int) and not isinstance(sent, bool):
            assert element.text == int.__repr__(sent)


# -- reading: values are checked once, as they are read ---------------------------------


def test_tasks_read_from_a_reply_are_not_checked_again_by_the_constructor(monkeypatch):
    from superoffice_batch.testing import soap
    from superoffice_batch.xmlvalues import Checked

    tasks = [BatchTaskInfo(id=n, name=f"task {n}") for n in (1, 2, 3)]
    reply = soap.reply(
        SoapVersion.SOAP11, soap.result("GetBatchTaskInfosByStateResponse", "Response", tasks)
    )
    query = ops.GetBatchTaskInfosByState("All")
    checks: list[object] = []
    monkeypatch.setattr(Checked, "__attrs_post_init__", lambda self: checks.append(self))
    read = query.parse_response(reply)
    assert read == tasks
    assert checks == []


@pytest.mark.parametrize(
    ("element", "text"),
    [("State", "Two Words"), ("CancellationBehaviour", " "), ("Id", "4e1"), ("Created", "x")],
)
def test_the_reader_refuses_what_the_constructor_would(element, text):
    from superoffice_batch import ProtocolError

    reply = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        f'<GetBatchTaskInfoResponse xmlns="{TNS}"><Response><{element}>{text}</{element}>'
        "</Response></GetBatchTaskInfoResponse></s:Body></s:Envelope>"
    ).encode()
    with pytest.raises(ProtocolError, match=r"BatchTaskInfo\.\w+: "):
        ops.GetBatchTaskInfo(1).parse_response(reply)
