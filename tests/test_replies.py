"""Reply classification: every reply to StartBatchJob is an int or exactly one error.

Replies are literal XML in either SOAP version and go through the public
``StartBatchJob.parse_response``. The specification is PROTOCOL.md §2 (replies), §6
(errors) and §9 (parsing security).
"""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import fixture_bytes
from superoffice_batch import (
    BatchTaskInfo,
    HttpError,
    ProtocolError,
    ServiceError,
    SoapFault,
    SuperOfficeError,
)
from superoffice_batch.operations import StartBatchJob

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENCODING = "http://www.w3.org/2003/05/soap-encoding"
SOAP11_ENCODING = "http://schemas.xmlsoap.org/soap/encoding/"
TNS = "http://www.superoffice.net/ws/crm/NetServer/Services88"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
WCF_ADDRESSING = "http://schemas.microsoft.com/ws/2005/05/addressing/none"

VERSIONS = {"soap12": SOAP12, "soap11": SOAP11}
both_versions = pytest.mark.parametrize("soap", list(VERSIONS.values()), ids=list(VERSIONS))

TICKET = "7T:supersecretTicket=="
APP_TOKEN = "app-token-secret-xyz"
SECRETS = (TICKET, APP_TOKEN)
UNKNOWN_TICKET = "7T:otherTicketValue123"
EXCERPT_LIMIT = 2048  # PROTOCOL.md §9: "Truncate reply snippets in errors (~2 KB)"


# -- building replies ------------------------------------------------------------------


def envelope(soap: str, body: str, header: str | None = None) -> bytes:
    """A reply envelope: ``s`` is the SOAP namespace ``soap``, ``b`` is tns."""
    header_xml = "" if header is None else f"\n  <s:Header>{header}</s:Header>"
    return f"""<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="{soap}" xmlns:b="{TNS}" xmlns:xsi="{XSI}">{header_xml}
  <s:Body>{body}</s:Body>
</s:Envelope>""".encode()


def with_doctype(content: bytes, doctype: str) -> bytes:
    """``content`` with ``doctype`` right after its XML declaration."""
    return content.replace(b"?>", f"?>\n{doctype}".encode(), 1)


def start_response(value: str = "12345") -> str:
    return f"<b:StartBatchJobResponse><b:Response>{value}</b:Response></b:StartBatchJobResponse>"


def success(soap: str, header: str | None = None) -> bytes:
    return envelope(soap, start_response(), header)


def documented(soap: str) -> bytes:
    """The documented StartBatchJob reply (SOAP 1.2), moved to ``soap``'s version if needed."""
    content = fixture_bytes("documented/seed-StartBatchJob-response.xml")
    if soap == SOAP11:
        content = content.replace(SOAP12.encode(), SOAP11.encode())
        content = content.replace(SOAP12_ENCODING.encode(), SOAP11_ENCODING.encode())
    return content


def parse(content: bytes, status: int = 200, **options: Any) -> int:
    return StartBatchJob(BatchTaskInfo()).parse_response(content, status_code=status, **options)


def failure(content: bytes, status: int = 200, **options: Any) -> SuperOfficeError:
    """The error a reply raises; anything that is not a SuperOfficeError fails the test."""
    with pytest.raises(SuperOfficeError) as info:
        parse(content, status, **options)
    return info.value


def exposed_text(error: BaseException) -> str:
    """All an error shows: str(), repr() and every attribute, inner errors included."""
    parts: list[str] = []

    def collect(value: object) -> None:
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, BaseException):
            parts.extend((str(value), repr(value)))
            collect(vars(value))
            collect(value.args)
        elif isinstance(value, dict):
            for key, item in value.items():
                collect(key)
                collect(item)
        elif isinstance(value, (tuple, list)):
            for item in value:
                collect(item)

    collect(error)
    return "\n".join(parts)


def fault11(code: str, reason: str, detail: str = "", code_xmlns: str = "") -> str:
    return f"""
    <s:Fault>
      <faultcode{code_xmlns}>{code}</faultcode>
      <faultstring xml:lang="en-US">{reason}</faultstring>{detail}
    </s:Fault>"""


def fault12(code: str, reason: str, detail: str = "") -> str:
    return f"""
    <s:Fault>
      <s:Code><s:Value>{code}</s:Value></s:Code>
      <s:Reason><s:Text xml:lang="en-US">{reason}</s:Text></s:Reason>{detail}
    </s:Fault>"""


def fault(soap: str, reason: str = "The server was unable to process the request.") -> bytes:
    """A plain server-side fault in ``soap``'s own version."""
    if soap == SOAP11:
        return envelope(soap, fault11("s:Server", reason))
    return envelope(soap, fault12("s:Receiver", reason))


def version_mismatch(soap: str) -> bytes:
    reason = "The envelope version of the incoming message does not match the endpoint."
    if soap == SOAP11:
        return envelope(soap, fault11("s:VersionMismatch", reason))
    return envelope(soap, fault12("s:VersionMismatch", reason))


NETSERVER_HEADERS = """
    <b:ExceptionInfo xsi:nil="true"/>
    <b:ExtraInfo>
      <b:ExtraInfoNameValuePair>
        <b:Key>RequestId</b:Key>
        <b:Value>c0ffee-42</b:Value>
      </b:ExtraInfoNameValuePair>
    </b:ExtraInfo>
    <b:Succeeded>true</b:Succeeded>
    <b:TimeZone>
      <b:SoTimeZoneId>1</b:SoTimeZoneId>
      <b:SoTimeZoneLocationCode>NO</b:SoTimeZoneLocationCode>
    </b:TimeZone>
  """
SUCCEEDED_TRUE = "<b:Succeeded>true</b:Succeeded>"
SUCCEEDED_FALSE = "<b:Succeeded>false</b:Succeeded>"

STACK_TRACE = (
    "   at SuperOffice.CRM.Services.Implementation.BatchAgentImplementation.StartBatchJob()\n"
    "   at SyncInvokeStartBatchJob(Object , Object[] , Object[] )"
)
INNER_STACK_TRACE = "   at SuperOffice.CRM.Batch.BatchTaskDefinitions.Find(String name)"
EXCEPTION_INFO = f"""
    <b:ExceptionInfo>
      <b:Message>Batch task could not be started</b:Message>
      <b:StackTrace>{STACK_TRACE}</b:StackTrace>
      <b:FriendlyText>The export could not start.</b:FriendlyText>
      <b:ExceptionType>SuperOffice.Exceptions.SoException</b:ExceptionType>
      <b:Source>SoCore</b:Source>
      <b:InnerException>
        <b:Message>No batch task definition named 'Nope'</b:Message>
        <b:StackTrace>{INNER_STACK_TRACE}</b:StackTrace>
        <b:FriendlyText xsi:nil="true"/>
        <b:ExceptionType>System.ArgumentException</b:ExceptionType>
        <b:Source xsi:nil="true"/>
        <b:InnerException xsi:nil="true"/>
        <b:Parameters xsi:nil="true"/>
      </b:InnerException>
      <b:Parameters>
        <b:SoExceptionInfoParametersKeyValuePair>
          <b:Key>TaskName</b:Key>
          <b:Value>Nope</b:Value>
        </b:SoExceptionInfoParametersKeyValuePair>
        <b:SoExceptionInfoParametersKeyValuePair>
          <b:Key>AssociateId</b:Key>
          <b:Value xsi:nil="true"/>
        </b:SoExceptionInfoParametersKeyValuePair>
      </b:Parameters>
    </b:ExceptionInfo>
    <b:Succeeded>false</b:Succeeded>
  """


def exception_info(message: str) -> str:
    return f"<b:ExceptionInfo><b:Message>{message}</b:Message></b:ExceptionInfo>"


HTML_502 = (
    """<!DOCTYPE html>
<html>
<head><title>502 Bad Gateway</title></head>
<body>
<h1>502 Bad Gateway</h1>
<p>The proxy server received an invalid response from an upstream server.<br>
&nbsp;Please try again later.
"""
    + "<p>padding</p>\n" * 400  # make the page far longer than an excerpt
    + "</body>\n</html>\n"
).encode()

XHTML_404 = b"""<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml">
  <head><title>404 - File or directory not found.</title></head>
  <body><h2>The resource you are looking for might have been removed.</h2></body>
</html>"""

TEXT_415 = (
    b"Cannot process the message because the content type "
    b"'application/soap+xml; charset=utf-8' was not the expected type 'text/xml; charset=utf-8'."
)

JSON_503 = b'{"error": "Service Unavailable", "retryAfterSeconds": 30}'


# -- 1. success --------------------------------------------------------------------------


@both_versions
def test_the_documented_reply_returns_its_id(soap: str) -> None:
    result = parse(documented(soap))

    assert type(result) is int
    assert result == 0


@both_versions
def test_a_reply_returns_the_new_task_id_as_int(soap: str) -> None:
    result = parse(success(soap))

    assert type(result) is int
    assert result == 12345


SUCCESS_REPLIES = {
    "documented prefixes": """<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="{soap}" xmlns:xsi="{xsi}"
  xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:Batch="{tns}">
<SOAP-ENV:Body>
<Batch:StartBatchJobResponse>
<Batch:Response xsi:type="xsd:int">12345</Batch:Response>
</Batch:StartBatchJobResponse>
</SOAP-ENV:Body>
</SOAP-ENV:Envelope>""",
    "other prefixes": """<env:Envelope xmlns:env="{soap}" xmlns:ns1="{tns}">
  <env:Body>
    <ns1:StartBatchJobResponse><ns1:Response>12345</ns1:Response></ns1:StartBatchJobResponse>
  </env:Body>
</env:Envelope>""",
    "default namespaces": """<?xml version="1.0"?>
<Envelope xmlns="{soap}">
  <Body>
    <StartBatchJobResponse xmlns="{tns}"><Response>12345</Response></StartBatchJobResponse>
  </Body>
</Envelope>""",
    "no declaration, one line": (
        '<s:Envelope xmlns:s="{soap}"><s:Body><StartBatchJobResponse xmlns="{tns}">'
        "<Response>12345</Response></StartBatchJobResponse></s:Body></s:Envelope>"
    ),
    "whitespace and newlines everywhere": """

<s:Envelope   xmlns:s="{soap}"
              xmlns:b="{tns}"  >
    <s:Body  >

        <b:StartBatchJobResponse
        >
            <b:Response>
                12345
            </b:Response>
        </b:StartBatchJobResponse>

    </s:Body>
</s:Envelope   >

""",
    "xsi:type absent": """<s:Envelope xmlns:s="{soap}" xmlns:b="{tns}">
  <s:Body><b:StartBatchJobResponse><b:Response>12345</b:Response></b:StartBatchJobResponse></s:Body>
</s:Envelope>""",
    # §9: xsi:type in replies is ignored, so even a wrong one does not matter.
    "xsi:type of another type": """<s:Envelope xmlns:s="{soap}" xmlns:b="{tns}" xmlns:xsi="{xsi}"
  xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <s:Body><b:StartBatchJobResponse>
    <b:Response xsi:type="xsd:string">12345</b:Response>
  </b:StartBatchJobResponse></s:Body>
</s:Envelope>""",
    "comment and processing instruction before the response": """<s:Envelope
  xmlns:s="{soap}" xmlns:b="{tns}">
  <s:Body>
    <!-- served by app01 --><?trace id="1"?>
    <b:StartBatchJobResponse><b:Response>12345</b:Response></b:StartBatchJobResponse>
  </s:Body>
</s:Envelope>""",
    # §5: unknown reply elements are skipped.
    "unknown elements around Response": """<s:Envelope xmlns:s="{soap}" xmlns:b="{tns}">
  <s:Body><b:StartBatchJobResponse>
    <b:Note>added in a later version</b:Note>
    <b:Response>12345</b:Response>
    <b:Trailer/>
  </b:StartBatchJobResponse></s:Body>
</s:Envelope>""",
    "empty Header": """<s:Envelope xmlns:s="{soap}" xmlns:b="{tns}">
  <s:Header/>
  <s:Body><b:StartBatchJobResponse><b:Response>12345</b:Response></b:StartBatchJobResponse></s:Body>
</s:Envelope>""",
}


@both_versions
@pytest.mark.parametrize("template", SUCCESS_REPLIES.values(), ids=SUCCESS_REPLIES)
def test_a_success_reply_parses_whatever_its_spelling(soap: str, template: str) -> None:
    content = template.format(soap=soap, tns=TNS, xsi=XSI).encode()

    assert parse(content) == 12345


def test_elements_after_the_body_are_soap_1_1s_alone() -> None:
    # SOAP 1.1 §4: the Body may be followed by further child elements of the Envelope.
    # SOAP 1.2 §5: the Body is the Envelope's last child.
    content = f"""<s:Envelope xmlns:s="{SOAP11}" xmlns:b="{TNS}">
  <s:Header><b:Succeeded>true</b:Succeeded></s:Header>
  <s:Body>{start_response()}</s:Body>
  <x:Trailer xmlns:x="urn:example:trailer"/>
</s:Envelope>""".encode()

    assert parse(content) == 12345
    with pytest.raises(ProtocolError, match="unexpected Trailer"):
        parse(content.replace(SOAP11.encode(), SOAP12.encode()))


def test_a_soap11_business_error_is_found_with_elements_after_the_body() -> None:
    content = f"""<s:Envelope xmlns:s="{SOAP11}" xmlns:b="{TNS}">
  <s:Header>{SUCCEEDED_FALSE}</s:Header>
  <s:Body>{start_response()}</s:Body>
  <x:Trailer xmlns:x="urn:example:trailer"/>
</s:Envelope>""".encode()

    assert type(failure(content)) is ServiceError


@both_versions
@pytest.mark.parametrize("declared", [True, False], ids=["with declaration", "no declaration"])
def test_a_reply_with_a_utf8_bom_parses(soap: str, declared: bool) -> None:
    content = success(soap)
    if not declared:
        content = content.split(b"?>", 1)[1].lstrip()

    assert parse(b"\xef\xbb\xbf" + content) == 12345


@both_versions
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("-1", -1),
        ("+7", 7),
        ("007", 7),
        ("2147483647", 2147483647),
        ("-2147483648", -2147483648),
    ],
)
def test_response_reads_the_whole_xs_int_range(soap: str, text: str, expected: int) -> None:
    assert parse(envelope(soap, start_response(text))) == expected


SUCCESS_HEADERS = {
    "Succeeded true": "<b:Succeeded>true</b:Succeeded>",
    "Succeeded 1": "<b:Succeeded>1</b:Succeeded>",
    "Succeeded with whitespace": "<b:Succeeded>\n  true\n</b:Succeeded>",
    "ExceptionInfo nil": '<b:ExceptionInfo xsi:nil="true"/>',
    "ExceptionInfo nil as 1": '<b:ExceptionInfo xsi:nil="1"/>',
    "ExceptionInfo nil, spaced": '<b:ExceptionInfo xsi:nil=" true "/>',
    "ExtraInfo with a pair": """<b:ExtraInfo><b:ExtraInfoNameValuePair>
      <b:Key>RequestId</b:Key><b:Value>c0ffee-42</b:Value>
    </b:ExtraInfoNameValuePair></b:ExtraInfo>""",
    "TimeZone": """<b:TimeZone>
      <b:SoTimeZoneId>1</b:SoTimeZoneId><b:SoTimeZoneLocationCode>NO</b:SoTimeZoneLocationCode>
    </b:TimeZone>""",
    "all NetServer headers": NETSERVER_HEADERS,
    "an unknown header block": '<x:Trace xmlns:x="urn:example:trace">abc</x:Trace>',
}


@both_versions
@pytest.mark.parametrize("header", SUCCESS_HEADERS.values(), ids=SUCCESS_HEADERS)
def test_netserver_headers_of_a_successful_call_do_not_change_the_result(
    soap: str, header: str
) -> None:
    result = parse(success(soap, header))

    assert type(result) is int
    assert result == 12345


# -- 2. business errors --------------------------------------------------------------------


@both_versions
@pytest.mark.parametrize("succeeded", ["false", "0", " false "])
def test_succeeded_false_alone_is_a_service_error(soap: str, succeeded: str) -> None:
    error = failure(success(soap, f"<b:Succeeded>{succeeded}</b:Succeeded>"))

    assert type(error) is ServiceError
    assert error.status_code == 200
    assert error.exception_type is None
    assert error.message is None
    assert error.parameters == {}
    assert error.inner_exception is None


@both_versions
def test_exception_info_carries_every_field(soap: str) -> None:
    error = failure(success(soap, EXCEPTION_INFO))

    assert type(error) is ServiceError
    assert error.exception_type == "SuperOffice.Exceptions.SoException"
    assert error.message == "Batch task could not be started"
    assert error.friendly_text == "The export could not start."
    assert error.source == "SoCore"
    assert error.stack_trace == STACK_TRACE
    assert error.parameters == {"TaskName": "Nope", "AssociateId": None}
    assert error.status_code == 200


@both_versions
def test_exception_info_inner_exception_is_a_service_error(soap: str) -> None:
    inner = failure(success(soap, EXCEPTION_INFO)).inner_exception

    assert type(inner) is ServiceError
    assert inner.exception_type == "System.ArgumentException"
    assert inner.message == "No batch task definition named 'Nope'"
    assert inner.stack_trace == INNER_STACK_TRACE
    assert inner.friendly_text is None
    assert inner.source is None
    assert inner.parameters == {}
    assert inner.inner_exception is None
    assert inner.status_code == 200


@both_versions
def test_the_whole_inner_exception_chain_is_followed(soap: str) -> None:
    header = """<b:ExceptionInfo>
      <b:Message>outer</b:Message><b:ExceptionType>A</b:ExceptionType>
      <b:InnerException>
        <b:Message>middle</b:Message><b:ExceptionType>B</b:ExceptionType>
        <b:InnerException>
          <b:Message>innermost</b:Message><b:ExceptionType>C</b:ExceptionType>
        </b:InnerException>
      </b:InnerException>
    </b:ExceptionInfo>"""
    error: ServiceError | None = failure(success(soap, header))

    chain = []
    while error is not None:
        chain.append((error.exception_type, error.message))
        error = error.inner_exception
    assert chain == [("A", "outer"), ("B", "middle"), ("C", "innermost")]


@both_versions
def test_the_stack_trace_is_kept_out_of_str_and_repr(soap: str) -> None:
    error = failure(success(soap, EXCEPTION_INFO))

    assert error.stack_trace == STACK_TRACE  # kept, just not shown
    for shown in (str(error), repr(error), str(error.inner_exception)):
        assert "SyncInvokeStartBatchJob" not in shown
        assert "BatchTaskDefinitions.Find" not in shown
    assert "Batch task could not be started" in str(error)


@both_versions
@pytest.mark.parametrize(
    "header",
    [
        exception_info("Boom"),
        "<b:Succeeded>true</b:Succeeded>" + exception_info("Boom"),
        SUCCEEDED_FALSE + exception_info("Boom"),
    ],
    ids=["ExceptionInfo alone", "ExceptionInfo with Succeeded true", "with Succeeded false"],
)
def test_a_non_nil_exception_info_is_a_service_error(soap: str, header: str) -> None:
    error = failure(success(soap, header))

    assert type(error) is ServiceError
    assert error.message == "Boom"


@both_versions
@pytest.mark.parametrize("status", [500, 400, 403])
@pytest.mark.parametrize("header", [SUCCEEDED_FALSE, EXCEPTION_INFO], ids=["Succeeded", "info"])
def test_content_not_status_decides_a_service_error(soap: str, status: int, header: str) -> None:
    error = failure(success(soap, header), status)

    assert type(error) is ServiceError
    assert error.status_code == status


@both_versions
def test_a_parameter_without_key_is_still_a_superoffice_error(soap: str) -> None:
    # The WSDL makes Key required; a pair without one must not escape as a bare ValueError.
    header = """<b:ExceptionInfo>
      <b:Message>Boom</b:Message>
      <b:Parameters>
        <b:SoExceptionInfoParametersKeyValuePair><b:Value>v</b:Value>
        </b:SoExceptionInfoParametersKeyValuePair>
      </b:Parameters>
    </b:ExceptionInfo>"""

    error = failure(success(soap, header))

    assert type(error) in (ServiceError, ProtocolError)


@both_versions
@pytest.mark.parametrize("value", ["maybe", "False", "yes", ""])
def test_an_unreadable_succeeded_header_is_a_protocol_error(soap: str, value: str) -> None:
    # §5: an unparsable value in a known value-type element is a malformed reply; reading
    # it as "true" would turn a failed call into a success.
    error = failure(success(soap, f"<b:Succeeded>{value}</b:Succeeded>"))

    assert type(error) is ProtocolError


# -- 3. SOAP faults ----------------------------------------------------------------------

ACTION_NOT_SUPPORTED_REASON = (
    "The message with Action 'http://www.superoffice.net/ws/crm/NetServer/Services88/Batch/Nope'"
    " cannot be processed at the receiver, due to a ContractFilter mismatch at the"
    " EndpointDispatcher."
)
FAULT11_DETAIL = """
      <detail><b:Explanation>Contract mismatch on Batch</b:Explanation></detail>"""


@pytest.mark.parametrize(
    ("faultcode_xmlns", "envelope_xmlns"),
    [
        (f' xmlns:a="{WCF_ADDRESSING}"', ""),  # where WCF declares it
        ("", f' xmlns:a="{WCF_ADDRESSING}"'),
    ],
    ids=["prefix declared on faultcode", "prefix declared on Envelope"],
)
def test_a_soap11_fault_resolves_its_code_and_keeps_reason_and_detail(
    faultcode_xmlns: str, envelope_xmlns: str
) -> None:
    body = fault11(
        "a:ActionNotSupported", ACTION_NOT_SUPPORTED_REASON, FAULT11_DETAIL, faultcode_xmlns
    )
    content = envelope(SOAP11, body).replace(
        b"<s:Envelope ", f"<s:Envelope{envelope_xmlns} ".encode()
    )

    error = failure(content, 500)

    assert type(error) is SoapFault
    assert error.code == f"{{{WCF_ADDRESSING}}}ActionNotSupported"
    assert error.code_name == "ActionNotSupported"
    assert error.subcodes == ()
    assert error.reason == ACTION_NOT_SUPPORTED_REASON
    assert error.detail is not None
    assert error.detail.startswith("<detail")
    assert "<b:Explanation>Contract mismatch on Batch</b:Explanation>" in error.detail
    assert error.status_code == 500


SOAP12_FAULT = f"""
    <s:Fault>
      <s:Code>
        <s:Value>s:Sender</s:Value>
        <s:Subcode>
          <s:Value xmlns:a="{WCF_ADDRESSING}">a:DeserializationFailed</s:Value>
          <s:Subcode>
            <s:Value xmlns:x="urn:example:faults">x:BadInteger</s:Value>
          </s:Subcode>
        </s:Subcode>
      </s:Code>
      <s:Reason>
        <s:Text xml:lang="en-US">The formatter threw an exception while deserializing.</s:Text>
        <s:Text xml:lang="nb-NO">Formatereren kastet et unntak.</s:Text>
      </s:Reason>
      <s:Detail><b:Explanation>Element Id: 'abc' is not an int</b:Explanation></s:Detail>
    </s:Fault>"""


def test_a_soap12_fault_keeps_code_subcodes_in_order_first_reason_and_detail() -> None:
    error = failure(envelope(SOAP12, SOAP12_FAULT), 400)

    assert type(error) is SoapFault
    assert error.code == f"{{{SOAP12}}}Sender"
    assert error.code_name == "Sender"
    assert error.subcodes == (
        f"{{{WCF_ADDRESSING}}}DeserializationFailed",
        "{urn:example:faults}BadInteger",
    )
    assert error.reason == "The formatter threw an exception while deserializing."
    assert error.detail is not None
    assert "Element Id: 'abc' is not an int" in error.detail
    assert "Formatereren" not in str(error)
    assert error.status_code == 400


@both_versions
def test_version_mismatch_faults_are_recognised_in_both_versions(soap: str) -> None:
    error = failure(version_mismatch(soap), 500)

    assert type(error) is SoapFault
    assert error.code == f"{{{soap}}}VersionMismatch"
    assert error.code_name == "VersionMismatch"


@both_versions
@pytest.mark.parametrize("status", [200, 202, 400, 500])
def test_a_fault_is_a_soap_fault_whatever_the_status(soap: str, status: int) -> None:
    error = failure(fault(soap), status)

    assert type(error) is SoapFault
    assert error.reason == "The server was unable to process the request."
    assert error.detail is None
    assert error.status_code == status


@both_versions
def test_a_fault_wins_over_business_error_headers(soap: str) -> None:
    content = fault(soap).replace(
        b"<s:Body>", f"<s:Header>{EXCEPTION_INFO}</s:Header><s:Body>".encode()
    )

    assert type(failure(content, 500)) is SoapFault


# -- 4. HTTP errors ----------------------------------------------------------------------

HTTP_ERRORS = [
    pytest.param(502, HTML_502, "text/html", "502 Bad Gateway", id="HTML 502, not well-formed"),
    pytest.param(404, XHTML_404, "text/html", "File or directory not found", id="XHTML 404"),
    pytest.param(401, b"", None, "", id="401 empty"),
    pytest.param(415, TEXT_415, "text/plain; charset=utf-8", "not the expected type", id="415"),
    pytest.param(503, JSON_503, "application/json", '"retryAfterSeconds": 30', id="503 JSON"),
    pytest.param(302, b"", "text/html", "", id="302 empty"),
]


@pytest.mark.parametrize(("status", "body", "content_type", "shown"), HTTP_ERRORS)
def test_a_non_soap_error_status_is_an_http_error(
    status: int, body: bytes, content_type: str | None, shown: str
) -> None:
    error = failure(body, status, content_type=content_type)

    assert type(error) is HttpError
    assert error.status_code == status
    assert error.content_type == content_type
    assert shown in error.excerpt
    assert len(error.excerpt) <= EXCERPT_LIMIT
    assert str(status) in str(error)


def test_an_http_error_excerpt_is_the_start_of_the_body_cut_short() -> None:
    error = failure(HTML_502, 502)

    assert len(HTML_502) > 3 * EXCERPT_LIMIT
    assert error.excerpt.startswith("<!DOCTYPE html> <html> <head><title>502 Bad Gateway")
    assert len(error.excerpt) <= EXCERPT_LIMIT


@both_versions
@pytest.mark.parametrize("status", [404, 500, 502])
@pytest.mark.parametrize(
    "build",
    [success, lambda soap: success(soap, NETSERVER_HEADERS), lambda soap: envelope(soap, "")],
    ids=["success envelope", "success envelope with headers", "empty Body"],
)
def test_an_error_status_with_a_non_fault_envelope_is_an_http_error(
    soap: str, status: int, build: Any
) -> None:
    error = failure(build(soap), status, content_type="text/xml")

    assert type(error) is HttpError
    assert error.status_code == status
    assert error.content_type == "text/xml"
    assert "Envelope" in error.excerpt


# -- 5. replies the library cannot read ----------------------------------------------------

NOT_SOAP = {
    "empty body": b"",
    "not XML": b"hello",
    "XML that is not an envelope": (
        f'<b:StartBatchJobResponse xmlns:b="{TNS}"><b:Response>1</b:Response>'
        "</b:StartBatchJobResponse>"
    ).encode(),
    "envelope of an unknown namespace": b'<s:Envelope xmlns:s="urn:x"><s:Body/></s:Envelope>',
    "unqualified envelope": b"<Envelope><Body/></Envelope>",
    "too deeply nested": b"<a>" * 300 + b"</a>" * 300,  # huge_tree=False caps the depth
}


@pytest.mark.parametrize("status", [200, 204])
@pytest.mark.parametrize("body", NOT_SOAP.values(), ids=NOT_SOAP)
def test_a_2xx_reply_that_is_not_soap_is_a_protocol_error(status: int, body: bytes) -> None:
    error = failure(body, status)

    assert type(error) is ProtocolError
    assert error.status_code == status


@both_versions
def test_a_truncated_envelope_is_a_protocol_error(soap: str) -> None:
    content = documented(soap)

    error = failure(content[: len(content) // 2])

    assert type(error) is ProtocolError
    assert error.status_code == 200


def raw_envelope(soap: str, inner: str) -> bytes:
    """An envelope holding ``inner`` as is (``s``, ``b`` and ``xsi`` declared): for
    layouts :func:`envelope` cannot write."""
    namespaces = f'xmlns:s="{soap}" xmlns:b="{TNS}" xmlns:xsi="{XSI}"'
    return f"<s:Envelope {namespaces}>{inner}</s:Envelope>".encode()


def malformed_replies(soap: str) -> dict[str, tuple[bytes, str]]:
    """Replies no reader may read one way or another, each with what the error must say.

    SOAP's layout comes first: at most one Header, before exactly one Body holding at most
    one element, at most one of each NetServer header block, at most one result; otherwise
    which part counts would depend on the reader. Then the result itself, by XSD.
    """
    header = f"<s:Header>{SUCCEEDED_TRUE}</s:Header>"
    body = f"<s:Body>{start_response()}</s:Body>"
    nil_info = '<b:ExceptionInfo xsi:nil="true"/>'

    def start(response: str) -> bytes:
        return envelope(soap, f"<b:StartBatchJobResponse>{response}</b:StartBatchJobResponse>")

    return {
        "envelope without Body": (
            f'<s:Envelope xmlns:s="{soap}"><s:Header/></s:Envelope>'.encode(),
            "SOAP envelope without a Body",
        ),
        "Body of the other SOAP version": (
            f'<s:Envelope xmlns:s="{soap}" xmlns:o="{SOAP11 if soap == SOAP12 else SOAP12}"'
            f' xmlns:b="{TNS}"><o:Body>{start_response()}</o:Body></s:Envelope>'.encode(),
            "unexpected Body in the Envelope",
        ),
        "two Bodies": (raw_envelope(soap, header + body + body), "two Bodies"),
        "two Headers": (raw_envelope(soap, header + header + body), "two Headers"),
        "a Header after the Body": (raw_envelope(soap, body + header), "a Header after the Body"),
        "an element before the Header": (
            raw_envelope(soap, f"<Extra/>{header}{body}"),
            "unexpected Extra in the Envelope",
        ),
        "an element between Header and Body": (
            raw_envelope(soap, f"{header}<Extra/>{body}"),
            "unexpected Extra in the Envelope",
        ),
        "Succeeded false, then true": (
            success(soap, SUCCEEDED_FALSE + SUCCEEDED_TRUE),
            "two Succeeded",
        ),
        "Succeeded true, then false": (
            success(soap, SUCCEEDED_TRUE + SUCCEEDED_FALSE),
            "two Succeeded",
        ),
        "two ExceptionInfo": (success(soap, nil_info + nil_info), "two ExceptionInfo"),
        "two TimeZone": (success(soap, "<b:TimeZone/><b:TimeZone/>"), "two TimeZone"),
        "ExceptionInfo nil, holding an error": (
            success(
                soap,
                '<b:ExceptionInfo xsi:nil="true"><b:Message>Boom</b:Message></b:ExceptionInfo>',
            ),
            "marked nil has content",
        ),
        "empty Body": (envelope(soap, ""), "SOAP Body is empty"),
        "two elements in the Body": (
            envelope(soap, start_response() + start_response()),
            "the Body holds 2 elements",
        ),
        "another response element": (
            envelope(
                soap,
                "<b:StopBatchJobResponse><b:Response>true</b:Response></b:StopBatchJobResponse>",
            ),
            "expected StartBatchJobResponse in the SOAP Body, found: .*StopBatchJobResponse",
        ),
        "the request element": (
            envelope(soap, "<b:StartBatchJob/>"),
            "expected StartBatchJobResponse in the SOAP Body, found: .*StartBatchJob$",
        ),
        "StartBatchJobResponse without Response": (start(""), "Response element is missing"),
        "Response of another namespace": (
            start("<Response>1</Response>"),
            "Response element is missing",
        ),
        "two Response elements": (
            start("<b:Response>1</b:Response><b:Response>2</b:Response>"),
            "two Response elements",
        ),
        "Response nil": (start('<b:Response xsi:nil="true"/>'), "nil where a value is required"),
        "Response nil as 1": (start('<b:Response xsi:nil="1"/>'), "nil where a value is required"),
        # xsi:nil is an xs:boolean: its spaces collapse.
        "Response nil, spaced": (
            start('<b:Response xsi:nil=" true "/>'),
            "nil where a value is required",
        ),
        "Response nil, tab and newline": (
            start('<b:Response xsi:nil="\ttrue\n"/>'),
            "nil where a value is required",
        ),
        "Response nil as 1, spaced": (
            start('<b:Response xsi:nil=" 1"/>'),
            "nil where a value is required",
        ),
        "Response nil with content": (
            start('<b:Response xsi:nil="true">42</b:Response>'),
            "an element marked nil has content",
        ),
        "Response abc": (start("<b:Response>abc</b:Response>"), "not an xs:int: 'abc'"),
        "Response 1.5": (start("<b:Response>1.5</b:Response>"), "not an xs:int: '1.5'"),
        "Response empty": (start("<b:Response></b:Response>"), "not an xs:int: ''"),
        "Response 1e3": (start("<b:Response>1e3</b:Response>"), "not an xs:int: '1e3'"),
        "Response 1_000": (start("<b:Response>1_000</b:Response>"), "not an xs:int: '1_000'"),
        "Response of Arabic-Indic digits": (
            start("<b:Response>\u0661\u0662</b:Response>"),
            "not an xs:int",
        ),
        "Response 99999999999": (
            start("<b:Response>99999999999</b:Response>"),
            r"99999999999 out of range -2147483648\.\.2147483647 \(xs:int\)",
        ),
        "Response 2147483648": (
            start("<b:Response>2147483648</b:Response>"),
            r"2147483648 out of range -2147483648\.\.2147483647",
        ),
        "Response -2147483649": (
            start("<b:Response>-2147483649</b:Response>"),
            r"-2147483649 out of range -2147483648\.\.2147483647",
        ),
    }


MALFORMED_IDS = list(malformed_replies(SOAP12))


@both_versions
@pytest.mark.parametrize("case", MALFORMED_IDS)
def test_a_malformed_2xx_envelope_is_a_protocol_error_saying_what_is_wrong(
    soap: str, case: str
) -> None:
    content, problem = malformed_replies(soap)[case]

    error = failure(content)

    assert type(error) is ProtocolError
    assert error.status_code == 200
    assert re.search(problem, str(error).partition(" (HTTP 200)")[0]), str(error)


@both_versions
def test_the_layout_is_checked_whatever_the_status(soap: str) -> None:
    content, _ = malformed_replies(soap)["two Bodies"]

    with pytest.raises(ProtocolError, match="two Bodies"):
        parse(content, 401)


def test_a_nil_value_with_content_is_refused_in_utf_16_too() -> None:
    content, _ = malformed_replies(SOAP12)["Response nil with content"]
    content = content.replace(b'encoding="utf-8"', b'encoding="utf-16"').decode().encode("utf-16")

    with pytest.raises(ProtocolError, match="marked nil has content"):
        parse(content)


@both_versions
def test_a_reply_over_the_size_limit_is_a_protocol_error(soap: str) -> None:
    content = success(soap)

    error = failure(content, max_response_bytes=len(content) - 1)

    assert type(error) is ProtocolError
    assert error.status_code == 200


@both_versions
def test_a_reply_exactly_at_the_size_limit_is_read(soap: str) -> None:
    content = success(soap)

    assert parse(content, max_response_bytes=len(content)) == 12345


def test_an_oversized_error_page_is_an_http_error() -> None:
    # envelope.open_reply's docstring: "too large or unreadable as XML or SOAP -> HttpError
    # for a non-2xx status, ProtocolError for a 2xx one".
    error = failure(HTML_502, 502, content_type="text/html", max_response_bytes=1024)

    assert type(error) is HttpError
    assert error.status_code == 502


@both_versions
def test_an_envelope_without_body_on_an_error_status_is_an_http_error(soap: str) -> None:
    # Same docstring: a reply unreadable as SOAP on a non-2xx status is an HttpError.
    content = f'<s:Envelope xmlns:s="{soap}"><s:Header/></s:Envelope>'.encode()

    error = failure(content, 502)

    assert type(error) is HttpError
    assert error.status_code == 502


# -- 6. hardening --------------------------------------------------------------------------


@pytest.fixture
def canary_file(tmp_path: Path) -> tuple[str, str]:
    """A local file with a unique text: ``(file URI, text)``."""
    canary = f"CANARY-{uuid.uuid4().hex}"
    path = tmp_path / "canary.txt"
    path.write_text(canary, encoding="utf-8")
    return path.as_uri(), canary


def xxe_replies(soap: str, uri: str) -> dict[str, bytes]:
    # Each entity sits where, were it expanded, an error would show the file's text.
    entity = f'<!DOCTYPE r [<!ENTITY x SYSTEM "{uri}">]>'
    return {
        "entity in Response": with_doctype(envelope(soap, start_response("&x;")), entity),
        "entity in ExceptionInfo": with_doctype(success(soap, exception_info("&x;")), entity),
        "entity in fault reason": with_doctype(fault(soap, "&x;"), entity),
        "parameter entity": with_doctype(
            success(soap), f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{uri}"> %p;]>'
        ),
        "external DTD": with_doctype(success(soap), f'<!DOCTYPE r SYSTEM "{uri}">'),
    }


XXE_IDS = list(xxe_replies(SOAP12, "file:///x"))


@both_versions
@pytest.mark.parametrize("case", XXE_IDS)
@pytest.mark.parametrize(("status", "expected"), [(200, ProtocolError), (500, HttpError)])
def test_an_xxe_reply_is_rejected_without_reading_the_file(
    soap: str, case: str, status: int, expected: type, canary_file: tuple[str, str]
) -> None:
    uri, canary = canary_file
    content = xxe_replies(soap, uri)[case]

    error = failure(content, status)

    assert type(error) is expected
    assert canary not in exposed_text(error)
    assert canary not in error.excerpt


def billion_laughs(soap: str) -> bytes:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">' for level in range(1, 11)
    ]
    doctype = "<!DOCTYPE s:Envelope [\n" + "\n".join(levels) + "\n]>"
    return with_doctype(envelope(soap, start_response("&lol10;")), doctype)


@both_versions
def test_a_billion_laughs_reply_is_rejected_fast(soap: str) -> None:
    content = billion_laughs(soap)

    started = time.perf_counter()
    error = failure(content)
    elapsed = time.perf_counter() - started

    assert type(error) is ProtocolError
    assert elapsed < 1.0
    assert "lollollol" not in exposed_text(error)  # nothing was expanded into the error


@both_versions
def test_an_external_dtd_on_the_discard_port_is_a_protocol_error(soap: str) -> None:
    content = with_doctype(success(soap), '<!DOCTYPE r SYSTEM "http://127.0.0.1:9/x.dtd">')

    assert type(failure(content)) is ProtocolError


class Listener:
    """A local TCP server that records every request it gets and answers none."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.02)
        self.port: int = self._server.getsockname()[1]
        self._received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(1)
                self._received.append(connection.recv(4096))

    def close(self) -> list[bytes]:
        """Stop serving; return what was received, unaccepted connections included."""
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()
            self._server.setblocking(False)
            try:
                connection, _ = self._server.accept()
            except BlockingIOError:
                pass
            else:
                connection.close()
                self._received.append(b"(a connection waiting in the backlog)")
            self._server.close()
        return self._received


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@both_versions
def test_a_reply_referring_to_network_resources_makes_no_connection(
    soap: str, listener: Listener
) -> None:
    base = f"http://127.0.0.1:{listener.port}"
    content = with_doctype(
        envelope(soap, start_response("&x;")),
        f'<!DOCTYPE s:Envelope SYSTEM "{base}/x.dtd" [<!ENTITY x SYSTEM "{base}/x.xml">]>',
    )

    error = failure(content)

    assert type(error) is ProtocolError
    assert listener.close() == []


DOCTYPES = {
    "bare": "<!DOCTYPE s:Envelope>",
    "empty internal subset": "<!DOCTYPE s:Envelope []>",
    "unused entity": '<!DOCTYPE s:Envelope [<!ENTITY unused "x">]>',
    "public id": '<!DOCTYPE s:Envelope PUBLIC "-//Example//DTD SOAP//EN" "soap.dtd">',
}


@both_versions
@pytest.mark.parametrize("doctype", DOCTYPES.values(), ids=DOCTYPES)
@pytest.mark.parametrize(
    ("status", "expected"),
    [(200, ProtocolError), (202, ProtocolError), (500, HttpError), (404, HttpError)],
)
def test_any_doctype_rejects_an_otherwise_valid_reply(
    soap: str, doctype: str, status: int, expected: type
) -> None:
    content = with_doctype(success(soap), doctype)

    error = failure(content, status)

    assert type(error) is expected
    assert error.status_code == status


@both_versions
def test_a_doctype_also_rejects_a_fault(soap: str) -> None:
    content = with_doctype(fault(soap), "<!DOCTYPE s:Envelope>")

    assert type(failure(content, 500)) is HttpError
    assert type(failure(content, 200)) is ProtocolError


# -- 7. secrets ----------------------------------------------------------------------------

ECHO = f"ticket {TICKET}, token {APP_TOKEN}, and {UNKNOWN_TICKET}"
CREDENTIALS_ECHO = (
    f"<b:ApplicationToken>{APP_TOKEN}</b:ApplicationToken>"
    f"<b:Credentials><b:Ticket>{TICKET}</b:Ticket></b:Credentials>"
)


def secret_echoes(soap: str) -> dict[str, tuple[int, bytes, type]]:
    """Replies repeating the secrets: ``(status, body, expected error)``."""
    exception = f"""<b:ExceptionInfo>
      <b:Message>Ticket {TICKET} is not valid</b:Message>
      <b:StackTrace>   at Validate("{TICKET}", "{APP_TOKEN}")</b:StackTrace>
      <b:FriendlyText>Token {APP_TOKEN} rejected; try {UNKNOWN_TICKET}</b:FriendlyText>
      <b:ExceptionType>InvalidTicket {TICKET}</b:ExceptionType>
      <b:Source>{APP_TOKEN}</b:Source>
      <b:InnerException><b:Message>{ECHO}</b:Message></b:InnerException>
      <b:Parameters>
        <b:SoExceptionInfoParametersKeyValuePair>
          <b:Key>Ticket</b:Key><b:Value>{TICKET}</b:Value>
        </b:SoExceptionInfoParametersKeyValuePair>
        <b:SoExceptionInfoParametersKeyValuePair>
          <b:Key>{APP_TOKEN}</b:Key><b:Value>{UNKNOWN_TICKET}</b:Value>
        </b:SoExceptionInfoParametersKeyValuePair>
      </b:Parameters>
    </b:ExceptionInfo>"""
    if soap == SOAP11:
        fault_body = fault11("s:Client", ECHO, f"<detail>{ECHO}{CREDENTIALS_ECHO}</detail>")
    else:
        fault_body = fault12("s:Sender", ECHO, f"<s:Detail>{ECHO}{CREDENTIALS_ECHO}</s:Detail>")
    return {
        "HTML 500 page": (500, f"<html><body><p>{ECHO}</p></body></html>".encode(), HttpError),
        "XML error page": (404, f"<error>{ECHO}{CREDENTIALS_ECHO}</error>".encode(), HttpError),
        "success envelope on 500": (
            500,
            success(soap, f"{CREDENTIALS_ECHO}<b:Note>{ECHO}</b:Note>"),
            HttpError,
        ),
        "fault": (500, envelope(soap, fault_body), SoapFault),
        "fault on 200": (200, envelope(soap, fault_body), SoapFault),
        "ExceptionInfo": (200, success(soap, exception), ServiceError),
        "not XML on 200": (200, f"oops: {ECHO}".encode(), ProtocolError),
        "another response element": (
            200,
            envelope(soap, f"<b:StopBatchJobResponse>{ECHO}</b:StopBatchJobResponse>"),
            ProtocolError,
        ),
        "headers echoing the credentials": (
            200,
            envelope(soap, "<b:StopBatchJobResponse/>", CREDENTIALS_ECHO),
            ProtocolError,
        ),
        "DOCTYPE on 200": (200, with_doctype(envelope(soap, ECHO), "<!DOCTYPE r>"), ProtocolError),
        "Response is the ticket": (200, envelope(soap, start_response(TICKET)), ProtocolError),
        "Response is the token": (200, envelope(soap, start_response(APP_TOKEN)), ProtocolError),
        "Response is an unknown ticket": (
            200,
            envelope(soap, start_response(UNKNOWN_TICKET)),
            ProtocolError,
        ),
    }


SECRET_ECHO_IDS = list(secret_echoes(SOAP12))


@both_versions
@pytest.mark.parametrize("case", SECRET_ECHO_IDS)
def test_no_error_shows_a_secret_or_anything_shaped_like_a_ticket(soap: str, case: str) -> None:
    status, body, expected = secret_echoes(soap)[case]

    error = failure(body, status, secrets=SECRETS)

    assert type(error) is expected
    shown = exposed_text(error)
    assert any(secret.encode() in body for secret in (*SECRETS, UNKNOWN_TICKET))
    for secret in (*SECRETS, UNKNOWN_TICKET):
        assert secret not in shown
    assert "otherTicketValue123" not in shown
    assert "***" in shown  # the echo was kept, masked


SECRET_ELEMENTS = ["Ticket", "ApplicationToken", "Password", "AccessToken"]


def unknown_secret_echoes(soap: str, element: str) -> dict[str, tuple[int, bytes, type]]:
    """Replies echoing a secret element the client was not told about."""
    echo = f"<b:{element}>hunter2-unguessable</b:{element}>"
    if soap == SOAP11:
        fault_body = fault11("s:Client", "Bad credentials", f"<detail>{echo}</detail>")
    else:
        fault_body = fault12("s:Sender", "Bad credentials", f"<s:Detail>{echo}</s:Detail>")
    return {
        "XML error page": (500, f"<error>{echo}</error>".encode(), HttpError),
        "fault detail": (500, envelope(soap, fault_body), SoapFault),
        "header of an unexpected reply": (
            200,
            envelope(soap, "<b:StopBatchJobResponse/>", echo),
            ProtocolError,
        ),
        "unexpected response element": (
            200,
            envelope(soap, f"<b:AuthenticateResponse>{echo}</b:AuthenticateResponse>"),
            ProtocolError,
        ),
        "element with attributes": (
            500,
            f'<error><{element} xmlns="{TNS}" xmlns:xsi="{XSI}" xsi:type="xsd:string">'
            f"hunter2-unguessable</{element}></error>".encode(),
            HttpError,
        ),
        "CDATA content": (
            500,
            f"<error><{element}><![CDATA[hunter2-unguessable]]></{element}></error>".encode(),
            HttpError,
        ),
    }


UNKNOWN_SECRET_IDS = list(unknown_secret_echoes(SOAP12, "Ticket"))


@both_versions
@pytest.mark.parametrize("element", SECRET_ELEMENTS)
@pytest.mark.parametrize("case", UNKNOWN_SECRET_IDS)
def test_the_content_of_secret_elements_is_masked(soap: str, element: str, case: str) -> None:
    status, body, expected = unknown_secret_echoes(soap, element)[case]

    error = failure(body, status, secrets=SECRETS)

    assert type(error) is expected
    shown = exposed_text(error)
    assert "hunter2-unguessable" not in shown
    assert element in shown  # the element was kept, only its content masked


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("before_cut", [4, 9, 15])  # characters of the secret before the cut
@pytest.mark.parametrize(("status", "expected"), [(500, HttpError), (200, ProtocolError)])
def test_a_secret_straddling_the_excerpt_cut_leaks_no_fragment(
    secret: str, before_cut: int, status: int, expected: type
) -> None:
    # The excerpt keeps EXCERPT_LIMIT - 1 characters and an ellipsis.
    start = EXCERPT_LIMIT - 1 - before_cut
    body = ("x" * start + secret + " and the page goes on" * 20).encode()

    error = failure(body, status, content_type="text/plain", secrets=SECRETS)

    assert type(error) is expected
    excerpt: str = error.excerpt
    assert len(excerpt) <= EXCERPT_LIMIT
    assert excerpt.startswith("x" * start)
    assert secret[:4] not in exposed_text(error)


@both_versions
@pytest.mark.parametrize("before_cut", [4, 12])
def test_a_secret_straddling_the_message_cut_in_str_leaks_no_fragment(
    soap: str, before_cut: int
) -> None:
    message = "y" * (199 - before_cut) + APP_TOKEN + " and more" * 30
    error = failure(success(soap, exception_info(message)), secrets=SECRETS)

    assert type(error) is ServiceError
    assert str(error).count("y") >= 150  # the message is shown, cut short
    assert APP_TOKEN[:4] not in exposed_text(error)


# -- 8. exactly one outcome ----------------------------------------------------------------


def versioned_outcomes(soap: str) -> dict[str, tuple[int, bytes, int | type]]:
    outcomes: dict[str, tuple[int, bytes, int | type]] = {
        "documented": (200, documented(soap), 0),
        "12345": (200, success(soap), 12345),
        "12345 with all headers": (200, success(soap, NETSERVER_HEADERS), 12345),
        "12345 on 201": (201, success(soap), 12345),
        "Succeeded false": (200, success(soap, SUCCEEDED_FALSE), ServiceError),
        "Succeeded false on 500": (500, success(soap, SUCCEEDED_FALSE), ServiceError),
        "ExceptionInfo": (200, success(soap, EXCEPTION_INFO), ServiceError),
        "ExceptionInfo on 500": (500, success(soap, EXCEPTION_INFO), ServiceError),
        "fault": (500, fault(soap), SoapFault),
        "fault on 200": (200, fault(soap), SoapFault),
        "VersionMismatch": (500, version_mismatch(soap), SoapFault),
        "success envelope on 502": (502, success(soap), HttpError),
        "empty Body on 404": (404, envelope(soap, ""), HttpError),
        "DOCTYPE on 200": (
            200,
            with_doctype(success(soap), "<!DOCTYPE s:Envelope>"),
            ProtocolError,
        ),
        "DOCTYPE on 500": (500, with_doctype(success(soap), "<!DOCTYPE s:Envelope>"), HttpError),
        "billion laughs": (200, billion_laughs(soap), ProtocolError),
        "truncated": (200, documented(soap)[:200], ProtocolError),
        "truncated on 500": (500, documented(soap)[:200], HttpError),
    }
    return outcomes


UNVERSIONED_OUTCOMES: dict[str, tuple[int, bytes, int | type]] = {
    "HTML 502": (502, HTML_502, HttpError),
    "XHTML 404": (404, XHTML_404, HttpError),
    "401 empty": (401, b"", HttpError),
    "415 text": (415, TEXT_415, HttpError),
    "503 JSON": (503, JSON_503, HttpError),
    "empty on 200": (200, b"", ProtocolError),
    "hello on 200": (200, b"hello", ProtocolError),
    "HTML on 200": (200, HTML_502, ProtocolError),
    "XHTML on 200": (200, XHTML_404, ProtocolError),
}


def outcome_table() -> list[Any]:
    """``(status, body, expected)``: an int result, or exactly one exception class."""
    table = [
        pytest.param(status, body, expected, id=f"{version}-{name}")
        for version, soap in VERSIONS.items()
        for name, (status, body, expected) in versioned_outcomes(soap).items()
    ]
    table += [
        pytest.param(status, body, expected, id=name)
        for name, (status, body, expected) in UNVERSIONED_OUTCOMES.items()
    ]
    return table


@pytest.mark.parametrize(("status", "body", "expected"), outcome_table())
def test_every_reply_has_exactly_one_outcome(status: int, body: bytes, expected: Any) -> None:
    try:
        result: object = parse(body, status)
    except SuperOfficeError as error:
        result = error

    if isinstance(expected, int):
        assert type(result) is int
        assert result == expected
    else:
        assert type(result) is expected
        assert result.status_code == status


def action_not_supported(soap: str) -> bytes:
    """WCF's answer to an action it does not know, in ``soap``'s own version."""
    reason = "The message with Action '' cannot be processed at the receiver."
    if soap == SOAP11:
        fault_xml = fault11(
            "a:ActionNotSupported", reason, code_xmlns=f' xmlns:a="{WCF_ADDRESSING}"'
        )
        return envelope(soap, fault_xml)
    subcode = (
        f'<s:Subcode><s:Value xmlns:a="{WCF_ADDRESSING}">a:ActionNotSupported</s:Value></s:Subcode>'
    )
    fault_xml = fault12("s:Sender", reason).replace(
        "</s:Value></s:Code>", f"</s:Value>{subcode}</s:Code>"
    )
    return envelope(soap, fault_xml)


@pytest.mark.parametrize("soap", [SOAP11, SOAP12], ids=["soap11", "soap12"])
def test_an_unknown_action_says_the_operation_may_not_exist_on_that_server(soap: str) -> None:
    error = failure(action_not_supported(soap), status=500)
    assert isinstance(error, SoapFault)
    assert "ActionNotSupported" in {
        error.code_name,
        *(code.rpartition("}")[2] for code in error.subcodes),
    }
    assert "may not exist on this NetServer version" in str(error)


@pytest.mark.parametrize("soap", [SOAP11, SOAP12], ids=["soap11", "soap12"])
def test_other_faults_do_not_blame_the_server_version(soap: str) -> None:
    error = failure(fault(soap), status=500)
    assert isinstance(error, SoapFault)
    assert "may not exist" not in str(error)
