"""Whole-envelope golden tests: the documented request, and the library's own goldens."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from lxml import etree

from conftest import (
    DOC_APP_TOKEN,
    DOC_TICKET,
    canonical,
    documented_task,
    fixture_bytes,
    fully_populated_task,
)
from superoffice_batch import BatchTaskInfo, Credentials, SoapVersion
from superoffice_batch.operations import StartBatchJob

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "http://www.superoffice.net/ws/crm/NetServer/Services88"
ACTION = "http://www.superoffice.net/ws/crm/NetServer/Services88/Batch/StartBatchJob"


def documented_with_header_fixed(relative: str) -> bytes:
    """The documented request, with its header blocks moved into SOAP-ENV:Header.

    That move is the library's one deliberate deviation from the documentation: the
    documentation puts them directly under the Envelope, which is not valid SOAP.
    """
    root = etree.fromstring(fixture_bytes(relative), etree.XMLParser(remove_blank_text=True))
    blocks = [
        child
        for child in root
        if child.tag in (f"{{{TNS}}}ApplicationToken", f"{{{TNS}}}Credentials")
    ]
    assert len(blocks) == 2
    header = etree.Element(f"{{{SOAP12}}}Header")
    for block in blocks:
        header.append(block)
    root.insert(0, header)
    return canonical(root)


@pytest.mark.parametrize(
    ("relative", "timestamp"),
    [
        (
            "documented/seed-StartBatchJob-request.xml",
            datetime(2025, 5, 7, 14, 30, 10, tzinfo=timezone.utc),
        ),
        (
            "documented/StartBatchJob-request.xml",
            datetime(2023, 9, 19, 1, 22, 24, tzinfo=timezone.utc),
        ),
    ],
)
def test_soap12_request_equals_documented_request_except_header_placement(relative, timestamp):
    credentials = Credentials(ticket=DOC_TICKET, application_token=DOC_APP_TOKEN)
    request = StartBatchJob(documented_task(timestamp)).to_request(credentials, SoapVersion.SOAP12)
    assert canonical(request.content) == documented_with_header_fixed(relative)


def test_documented_request_differs_without_the_header_fix():
    # Guards the helper above: the raw documented envelope is not what we send.
    credentials = Credentials(ticket=DOC_TICKET, application_token=DOC_APP_TOKEN)
    timestamp = datetime(2025, 5, 7, 14, 30, 10, tzinfo=timezone.utc)
    request = StartBatchJob(documented_task(timestamp)).to_request(credentials, SoapVersion.SOAP12)
    assert canonical(request.content) != canonical(
        fixture_bytes("documented/seed-StartBatchJob-request.xml")
    )


def test_soap12_raw_bytes_keep_documented_declarations_in_order():
    request = StartBatchJob(BatchTaskInfo()).to_request(None, SoapVersion.SOAP12)
    assert request.content.startswith(
        b"<?xml version='1.0' encoding='UTF-8'?>\n"
        b'<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope"'
        b' xmlns:SOAP-ENC="http://www.w3.org/2003/05/soap-encoding"'
        b' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        b' xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
        b' xmlns:NetServerServices882="http://schemas.microsoft.com/2003/10/Serialization/Arrays"'
        b' xmlns:NetServerServices881="http://schemas.microsoft.com/2003/10/Serialization/"'
        b' xmlns:Batch="http://www.superoffice.net/ws/crm/NetServer/Services88">'
        b"<SOAP-ENV:Body>"
    )


@pytest.mark.parametrize(
    ("version", "golden"),
    [
        (SoapVersion.SOAP12, "golden/StartBatchJob-full-soap12.xml"),
        (SoapVersion.SOAP11, "golden/StartBatchJob-full-soap11.xml"),
    ],
)
def test_fully_populated_task_matches_golden(version, golden):
    credentials = Credentials(ticket=DOC_TICKET, application_token=DOC_APP_TOKEN)
    request = StartBatchJob(fully_populated_task()).to_request(credentials, version)
    assert canonical(request.content) == canonical(fixture_bytes(golden))


def test_soap11_golden_is_soap12_golden_with_other_envelope_namespaces():
    soap12 = fixture_bytes("golden/StartBatchJob-full-soap12.xml")
    soap11 = fixture_bytes("golden/StartBatchJob-full-soap11.xml")
    converted = soap12.replace(SOAP12.encode(), SOAP11.encode()).replace(
        b"http://www.w3.org/2003/05/soap-encoding", b"http://schemas.xmlsoap.org/soap/encoding/"
    )
    assert canonical(converted) == canonical(soap11)


def test_http_headers_per_version():
    request12 = StartBatchJob(BatchTaskInfo()).to_request(None, SoapVersion.SOAP12)
    request11 = StartBatchJob(BatchTaskInfo()).to_request(None, SoapVersion.SOAP11)
    assert request12.path == "Remote/Services88/Batch.svc"
    assert request12.headers == {
        "Content-Type": f'application/soap+xml; charset=utf-8; action="{ACTION}"'
    }
    assert request11.headers == {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": f'"{ACTION}"',
    }
    assert request11.path == request12.path


@pytest.mark.parametrize(
    ("credentials", "blocks"),
    [
        (None, None),
        (Credentials(), None),
        (Credentials(ticket="7T:abc"), ["Credentials"]),
        (Credentials(application_token="app"), ["ApplicationToken"]),
        (
            Credentials(ticket="7T:abc", application_token="app"),
            ["ApplicationToken", "Credentials"],
        ),
    ],
)
def test_header_blocks_only_when_given(credentials, blocks):
    root = etree.fromstring(StartBatchJob(BatchTaskInfo()).to_request(credentials).content)
    header = root.find(f"{{{SOAP12}}}Header")
    if blocks is None:
        assert header is None
        assert [etree.QName(child).localname for child in root] == ["Body"]
    else:
        assert [etree.QName(child).localname for child in root] == ["Header", "Body"]
        assert [etree.QName(child).localname for child in header] == blocks


def test_request_repr_hides_the_envelope_and_its_secrets():
    credentials = Credentials(ticket="7T:supersecretticket", application_token="app-secret-token")
    request = StartBatchJob(BatchTaskInfo()).to_request(credentials)
    assert b"7T:supersecretticket" in request.content
    assert "supersecret" not in repr(request)
    assert "app-secret" not in repr(request)
