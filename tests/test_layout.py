"""Replies must have SOAP's layout: otherwise which part counts would depend on the reader.

At most one Header, before exactly one Body holding at most one element; at most one of
each NetServer header block; at most one result element (none where the operation
returns nothing). Anything else is a ProtocolError that says what was wrong.
"""

from __future__ import annotations

import pytest

from superoffice_batch import BatchTaskInfo, ProtocolError, SoapVersion
from superoffice_batch.operations import DeleteBatchTask, GetBatchTaskInfo, StartBatchJob

TNS = "http://www.superoffice.net/ws/crm/NetServer/Services88"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

VERSIONS = pytest.mark.parametrize("version", list(SoapVersion), ids=lambda v: v.name)

SUCCEEDED_TRUE = f'<Succeeded xmlns="{TNS}">true</Succeeded>'
SUCCEEDED_FALSE = f'<Succeeded xmlns="{TNS}">false</Succeeded>'
NIL_EXCEPTION = f'<ExceptionInfo xmlns="{TNS}" xmlns:i="{XSI}" i:nil="true"/>'
HEADER = f"<s:Header>{NIL_EXCEPTION}{SUCCEEDED_TRUE}</s:Header>"
START_REPLY = (
    f'<StartBatchJobResponse xmlns="{TNS}"><Response>42</Response></StartBatchJobResponse>'
)
BODY = f"<s:Body>{START_REPLY}</s:Body>"
START = StartBatchJob(BatchTaskInfo(name="ExportTask"))


def envelope(version: SoapVersion, inner: str) -> bytes:
    return f'<s:Envelope xmlns:s="{version.namespace}">{inner}</s:Envelope>'.encode()


def parse_start(version: SoapVersion, inner: str) -> int:
    return START.parse_response(envelope(version, inner))


@VERSIONS
def test_the_well_formed_reply_parses(version):
    assert parse_start(version, HEADER + BODY) == 42


@VERSIONS
@pytest.mark.parametrize(
    ("inner", "problem"),
    [
        (HEADER + BODY + BODY, "two Bodies"),
        (HEADER + HEADER + BODY, "two Headers"),
        (BODY + HEADER, "a Header after the Body"),
        (f"<Extra/>{HEADER}{BODY}", "unexpected Extra in the Envelope"),
        (f"{HEADER}<Extra/>{BODY}", "unexpected Extra in the Envelope"),
        (f"<s:Header>{SUCCEEDED_FALSE}{SUCCEEDED_TRUE}</s:Header>{BODY}", "two Succeeded"),
        (f"<s:Header>{SUCCEEDED_TRUE}{SUCCEEDED_FALSE}</s:Header>{BODY}", "two Succeeded"),
        (f"<s:Header>{NIL_EXCEPTION}{NIL_EXCEPTION}</s:Header>{BODY}", "two ExceptionInfo"),
        (
            f'<s:Header><TimeZone xmlns="{TNS}"/><TimeZone xmlns="{TNS}"/></s:Header>{BODY}',
            "two TimeZone",
        ),
        (f"{HEADER}<s:Body>{START_REPLY}{START_REPLY}</s:Body>", "the Body holds 2 elements"),
        (
            f'{HEADER}<s:Body><StartBatchJobResponse xmlns="{TNS}"><Response>1</Response>'
            "<Response>2</Response></StartBatchJobResponse></s:Body>",
            "two Response elements",
        ),
    ],
    ids=[
        "two-bodies",
        "two-headers",
        "header-after-body",
        "element-before-header",
        "element-between",
        "succeeded-false-then-true",
        "succeeded-true-then-false",
        "two-exception-infos",
        "two-time-zones",
        "two-body-elements",
        "two-results",
    ],
)
def test_a_broken_layout_is_a_protocol_error_naming_the_problem(version, inner, problem):
    with pytest.raises(ProtocolError, match=problem) as raised:
        parse_start(version, inner)
    assert raised.value.status_code == 200


@VERSIONS
def test_the_layout_is_checked_whatever_the_status(version):
    with pytest.raises(ProtocolError, match="two Bodies"):
        START.parse_response(envelope(version, BODY + BODY), status_code=401)


def test_soap11_allows_elements_after_the_body_and_soap12_does_not():
    inner = f"{HEADER}{BODY}<Trailer/>"
    assert parse_start(SoapVersion.SOAP11, inner) == 42
    with pytest.raises(ProtocolError, match="unexpected Trailer"):
        parse_start(SoapVersion.SOAP12, inner)


@VERSIONS
def test_an_operation_that_returns_nothing_refuses_a_result(version):
    reply = envelope(
        version,
        f'{HEADER}<s:Body><DeleteBatchTaskResponse xmlns="{TNS}"><Response>1</Response>'
        "</DeleteBatchTaskResponse></s:Body>",
    )
    with pytest.raises(ProtocolError, match="Response element where the operation returns nothing"):
        DeleteBatchTask(1).parse_response(reply)
    empty = envelope(version, f'{HEADER}<s:Body><DeleteBatchTaskResponse xmlns="{TNS}"/></s:Body>')
    assert DeleteBatchTask(1).parse_response(empty) is None


@VERSIONS
def test_two_tasks_where_one_is_expected_are_refused(version):
    task = "<Response><Id>1</Id></Response>"
    reply = envelope(
        version,
        f'{HEADER}<s:Body><GetBatchTaskInfoResponse xmlns="{TNS}">{task}{task}'
        "</GetBatchTaskInfoResponse></s:Body>",
    )
    with pytest.raises(ProtocolError, match="two Response elements"):
        GetBatchTaskInfo(1).parse_response(reply)
