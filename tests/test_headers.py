"""The TimeZone request header and the reply headers (TimeZone, ExtraInfo)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import respx
from lxml import etree

from conftest import BASE_URL, canonical
from flavors import SyncFlavor
from replies import assert_sent_in, soap_reply
from superoffice_batch import Credentials, ProtocolError, Reply, ReplyHeaders, SoapVersion, TimeZone
from superoffice_batch.operations import GetBatchTaskInfo, GetSystemInfo, StopBatchJob

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
TNS = "http://www.superoffice.net/ws/crm/NetServer/Services88"
TICKET = "7T:aGVhZGVyLXRpY2tldA=="

# The documented Batch envelope, with the three session header blocks in WSDL order.
EXPECTED_REQUEST = f"""<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP12}"
 xmlns:SOAP-ENC="http://www.w3.org/2003/05/soap-encoding"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema"
 xmlns:NetServerServices882="http://schemas.microsoft.com/2003/10/Serialization/Arrays"
 xmlns:NetServerServices881="http://schemas.microsoft.com/2003/10/Serialization/"
 xmlns:Batch="{TNS}">
 <SOAP-ENV:Header>
  <Batch:ApplicationToken>app-token</Batch:ApplicationToken>
  <Batch:Credentials><Batch:Ticket>{TICKET}</Batch:Ticket></Batch:Credentials>
  <Batch:TimeZone>
   <Batch:SoTimeZoneId>18</Batch:SoTimeZoneId>
   <Batch:SoTimeZoneLocationCode>NO &amp; SE</Batch:SoTimeZoneLocationCode>
  </Batch:TimeZone>
 </SOAP-ENV:Header>
 <SOAP-ENV:Body>
  <Batch:GetBatchTaskInfo><Batch:Id xsi:type="xsd:int">5</Batch:Id></Batch:GetBatchTaskInfo>
 </SOAP-ENV:Body>
</SOAP-ENV:Envelope>
""".encode()


def reply_with_headers(headers: str, body: str = "<Response>true</Response>") -> bytes:
    return (
        f'<s:Envelope xmlns:s="{SOAP12}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">'
        f'<s:Header>{headers}</s:Header><s:Body><StopBatchJobResponse xmlns="{TNS}">{body}'
        "</StopBatchJobResponse></s:Body></s:Envelope>"
    ).encode()


TIME_ZONE_HEADER = (
    f'<TimeZone xmlns="{TNS}"><SoTimeZoneId>18</SoTimeZoneId>'
    "<SoTimeZoneLocationCode>NO</SoTimeZoneLocationCode></TimeZone>"
)
EXTRA_INFO_HEADER = (
    f'<ExtraInfo xmlns="{TNS}"><ExtraInfoNameValuePair><Key>server</Key><Value>web01</Value>'
    "</ExtraInfoNameValuePair><ExtraInfoNameValuePair><Key>empty</Key><Value i:nil='true'/>"
    "</ExtraInfoNameValuePair></ExtraInfo>"
)


def test_time_zone_header_follows_credentials_in_wsdl_order() -> None:
    credentials = Credentials(ticket=TICKET, application_token="app-token")
    zone = TimeZone(id=18, location_code="NO & SE")
    request = GetBatchTaskInfo(5).to_request(credentials, SoapVersion.SOAP12, time_zone=zone)
    assert canonical(request.content) == canonical(EXPECTED_REQUEST)


def test_time_zone_without_location_code_sends_only_the_id() -> None:
    request = GetBatchTaskInfo(5).to_request(None, time_zone=TimeZone(id=3))
    header = etree.fromstring(request.content).find(f"{{{SOAP12}}}Header")
    assert header is not None
    (block,) = header
    assert [(etree.QName(child).localname, child.text) for child in block] == [
        ("SoTimeZoneId", "3")
    ]


def test_soprincipal_calls_carry_no_time_zone() -> None:
    request = GetSystemInfo().to_request(None, time_zone=TimeZone(id=3))
    assert etree.fromstring(request.content).find(f"{{{SOAP12}}}Header") is None


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"id": 2**31}, ValueError),
        ({"id": "3"}, TypeError),
        ({"location_code": "\x00"}, ValueError),
    ],
)
def test_time_zone_values_are_checked(arguments: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error, match="TimeZone"):
        TimeZone(**arguments)


def test_to_request_rejects_a_time_zone_of_the_wrong_type() -> None:
    with pytest.raises(TypeError, match="time_zone"):
        GetBatchTaskInfo(5).to_request(None, time_zone=18)  # type: ignore[arg-type]


def test_parse_reply_returns_result_and_reply_headers() -> None:
    reply = StopBatchJob(5).parse_reply(reply_with_headers(TIME_ZONE_HEADER + EXTRA_INFO_HEADER))
    assert reply == Reply(
        True,
        ReplyHeaders(TimeZone(id=18, location_code="NO"), {"server": "web01", "empty": None}),
    )


def test_parse_reply_without_headers_has_empty_headers() -> None:
    reply = StopBatchJob(5).parse_reply(reply_with_headers(""))
    assert reply.headers == ReplyHeaders(None, {})
    assert reply.result is True


def test_parse_reply_with_a_malformed_time_zone_is_a_protocol_error() -> None:
    header = f'<TimeZone xmlns="{TNS}"><SoTimeZoneId>{TICKET}</SoTimeZoneId></TimeZone>'
    with pytest.raises(ProtocolError, match="header") as raised:
        StopBatchJob(5).parse_reply(reply_with_headers(header), secrets=(TICKET,))
    assert TICKET not in str(raised.value)


def test_client_sends_its_time_zone_and_returns_reply_headers(
    flavor: SyncFlavor, soap: SoapVersion, make: Callable[..., Any], batch: respx.Route
) -> None:
    content = reply_with_headers(TIME_ZONE_HEADER + EXTRA_INFO_HEADER)
    batch.mock(side_effect=lambda request: soap_reply(soap, content))
    client = make(ticket=TICKET, time_zone=TimeZone(id=18))

    reply = flavor.run(client.call_reply(StopBatchJob(5)))
    plain = flavor.run(client.stop_batch_job(5))

    assert reply.result is True
    assert plain is True
    assert reply.headers.time_zone == TimeZone(id=18, location_code="NO")
    assert reply.headers.extra_info == {"server": "web01", "empty": None}
    assert batch.call_count == 2
    for call in batch.calls:
        sent = etree.fromstring(call.request.content)
        assert sent.findtext(f".//{{{TNS}}}TimeZone/{{{TNS}}}SoTimeZoneId") == "18"
    assert_sent_in(soap, batch.calls)


def test_client_time_zone_option_is_type_checked(flavor: SyncFlavor) -> None:
    with pytest.raises(TypeError, match="time_zone"):
        flavor.make(BASE_URL, ticket=TICKET, time_zone="Europe/Oslo")
