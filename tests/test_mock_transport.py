"""Replies that httpx has already read (an ``httpx.MockTransport`` answering with bytes,
an event hook reading the body) are taken as they are, still within the size limit."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from superoffice_batch import (
    AsyncBatchClient,
    BatchClient,
    BatchTaskInfo,
    ProtocolError,
    SoapVersion,
)
from superoffice_batch.testing import soap

REPLY = soap.reply(SoapVersion.SOAP11, soap.result("StartBatchJobResponse", "Response", 7))
BASE_URL = "https://crm.example.com/SuperOffice"


def answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=REPLY, headers={"Content-Type": "text/xml"})


def test_the_sync_client_reads_a_reply_a_mock_transport_made():
    with (
        httpx.Client(transport=httpx.MockTransport(answer)) as http,
        BatchClient(BASE_URL, ticket="7T:test", http_client=http) as client,
    ):
        assert client.start_batch_job(BatchTaskInfo(name="ExportTask")) == 7


def test_the_async_client_reads_a_reply_a_mock_transport_made():
    async def run() -> int:
        async with (
            httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http,
            AsyncBatchClient(BASE_URL, ticket="7T:test", http_client=http) as client,
        ):
            return await client.start_batch_job(BatchTaskInfo(name="ExportTask"))

    assert asyncio.run(run()) == 7


def test_a_reply_already_read_still_counts_against_the_limit():
    with (
        httpx.Client(transport=httpx.MockTransport(answer)) as http,
        BatchClient(
            BASE_URL, ticket="7T:test", http_client=http, max_response_bytes=len(REPLY) - 1
        ) as client,
        pytest.raises(ProtocolError, match="exceeds the limit"),
    ):
        client.start_batch_job(BatchTaskInfo(name="ExportTask"))
