"""Replies XSD or the content coding forbids are refused, not read leniently."""

from __future__ import annotations

import gzip
import zlib

import httpx
import pytest
import respx

from flavors import SyncFlavor
from superoffice_batch import ProtocolError, SoapVersion
from superoffice_batch.decoding import CappedBody
from superoffice_batch.models import BatchTaskInfo
from superoffice_batch.operations import GetBatchTaskInfo, StartBatchJob

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
TNS = "http://www.superoffice.net/ws/crm/NetServer/Services88"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def reply(body: str, header: str = "") -> bytes:
    head = f"<s:Header>{header}</s:Header>" if header else ""
    return (
        f'<s:Envelope xmlns:s="{SOAP12}" xmlns:b="{TNS}" xmlns:xsi="{XSI}">{head}'
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def start(response: str) -> bytes:
    return reply(f"<b:StartBatchJobResponse>{response}</b:StartBatchJobResponse>")


def parse_start(content: bytes) -> int:
    return StartBatchJob(BatchTaskInfo(name="ExportTask")).parse_response(content)


def test_a_nil_value_with_content_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="marked nil has content"):
        parse_start(start('<b:Response xsi:nil="true">42</b:Response>'))


@pytest.mark.parametrize("nil", [" true ", "\ttrue\n", " 1"])
def test_nil_is_read_as_an_xs_boolean_with_its_spaces_collapsed(nil: str) -> None:
    with pytest.raises(ProtocolError, match="nil where a value is required"):
        parse_start(start(f'<b:Response xsi:nil="{nil}"/>'))


def test_a_nil_task_with_content_is_a_protocol_error() -> None:
    content = reply(
        '<b:GetBatchTaskInfoResponse><b:Response xsi:nil="true"><b:Id>5</b:Id>'
        "</b:Response></b:GetBatchTaskInfoResponse>"
    )
    with pytest.raises(ProtocolError, match="marked nil has content"):
        GetBatchTaskInfo(5).parse_response(content)


def test_a_nil_exception_info_holding_an_error_is_not_success() -> None:
    content = reply(
        "<b:StartBatchJobResponse><b:Response>42</b:Response></b:StartBatchJobResponse>",
        '<b:ExceptionInfo xsi:nil="true"><b:Message>Boom</b:Message></b:ExceptionInfo>',
    )
    with pytest.raises(ProtocolError, match="marked nil has content"):
        parse_start(content)


def test_a_nil_exception_info_without_content_is_still_success() -> None:
    content = reply(
        "<b:StartBatchJobResponse><b:Response>42</b:Response></b:StartBatchJobResponse>",
        '<b:ExceptionInfo xsi:nil=" true "/>',
    )
    assert parse_start(content) == 42


BODY = start("<b:Response>42</b:Response>")


def _fed(raw: bytes, coding: str = "gzip") -> bytes:
    body = CappedBody(200, {"content-encoding": coding}, 1 << 20)
    for offset in range(0, len(raw), 7):
        body.feed(raw[offset : offset + 7])
    body.finish()
    return body.content()


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (gzip.compress(BODY) + b"garbage", "bytes follow the end"),
        (gzip.compress(BODY) + gzip.compress(b"more"), "bytes follow the end"),
        (gzip.compress(BODY)[:-8], "ends early"),
        (gzip.compress(BODY)[:-3], "ends early"),
    ],
    ids=["trailing garbage", "second member", "no trailer", "cut trailer"],
)
def test_gzip_that_does_not_end_with_the_body_is_refused(raw: bytes, problem: str) -> None:
    with pytest.raises(ProtocolError, match=f"not valid gzip: .*{problem}"):
        _fed(raw)


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_with_trailing_garbage_is_refused(wbits: int) -> None:
    compressor = zlib.compressobj(wbits=wbits)
    raw = compressor.compress(BODY) + compressor.flush() + b"tail"
    with pytest.raises(ProtocolError, match="bytes follow the end"):
        _fed(raw, "deflate")


@pytest.mark.parametrize("coding", ["gzip", "deflate", "gzip, gzip"])
def test_a_whole_compressed_body_and_an_empty_one_are_read(coding: str) -> None:
    raw = BODY
    for layer in coding.split(", "):
        raw = gzip.compress(raw) if layer == "gzip" else zlib.compress(raw)
    assert _fed(raw, coding) == BODY
    assert _fed(b"", coding) == b""


def test_the_client_refuses_a_gzip_reply_with_trailing_garbage(
    batch: respx.Route, make: object, flavor: SyncFlavor
) -> None:
    raw = gzip.compress(BODY) + b"garbage"
    batch.mock(
        return_value=httpx.Response(
            200,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/soap+xml"},
            stream=httpx.ByteStream(raw),
        )
    )
    with pytest.raises(ProtocolError, match="bytes follow the end"):
        flavor.start(make(ticket="7T:abcdef", soap_version=SoapVersion.SOAP12))  # type: ignore[operator]


def test_a_nil_value_with_content_is_refused_in_utf_16_too() -> None:
    content = start('<b:Response xsi:nil="true">42</b:Response>').decode()
    content = '<?xml version="1.0" encoding="utf-16"?>' + content
    with pytest.raises(ProtocolError, match="marked nil has content"):
        parse_start(content.encode("utf-16"))


def test_a_nil_dictionary_value_with_content_is_a_protocol_error() -> None:
    content = reply(
        "<b:GetBatchTaskInfoResponse><b:Response><b:Id>5</b:Id><b:ParameterObject>"
        "<b:StringKeyValuePair><b:Key>k</b:Key>"
        '<b:Value xsi:nil="true">leaked</b:Value></b:StringKeyValuePair>'
        "</b:ParameterObject></b:Response></b:GetBatchTaskInfoResponse>"
    )
    with pytest.raises(ProtocolError, match="marked nil has content"):
        GetBatchTaskInfo(5).parse_response(content)
