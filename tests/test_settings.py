"""Settings that would pass construction and fail raw at the first call are refused up front."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from flavors import SyncFlavor
from superoffice_batch import BatchClient, SoapVersion, TransportError


@pytest.mark.parametrize(
    ("timeout", "named"),
    [
        (1e10, "timeout must be at most 86400 seconds"),
        (86400.5, "timeout must be at most"),
        (httpx.Timeout(5.0, read=1e10), "timeout.read must be at most"),
        (httpx.Timeout(5.0, pool=None), "timeout.pool must be set"),
    ],
)
def test_a_timeout_above_a_day_is_a_value_error_naming_it(timeout: object, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        BatchClient("https://crm.example.com/", timeout=timeout)  # type: ignore[arg-type]


def test_a_timeout_of_exactly_a_day_is_accepted() -> None:
    with BatchClient("https://crm.example.com/", timeout=86400) as client:
        assert client.soap_version is None


@pytest.mark.parametrize(
    "host",
    ["a" * 64 + ".example.com", ".".join(["abcdefgh"] * 30), "crm..example.com"],
    ids=["label of 64", "name of 269", "empty label"],
)
def test_a_host_that_cannot_be_encoded_is_a_value_error_naming_base_url(host: str) -> None:
    with pytest.raises(ValueError, match="base_url has a host name that cannot be encoded"):
        BatchClient(f"https://{host}/SuperOffice")


@pytest.mark.parametrize(
    "host", ["a" * 63 + ".example.com", "bücher.example", "127.0.0.1", "[::1]"]
)
def test_hosts_that_can_be_encoded_are_accepted(host: str) -> None:
    BatchClient(f"https://{host}/").close()


def test_a_poll_interval_above_a_day_is_a_value_error_before_anything_is_sent(
    make: Callable[..., Any], flavor: SyncFlavor, batch: respx.Route
) -> None:
    client = make(soap_version=SoapVersion.SOAP12, ticket="7T:abcdef")

    with pytest.raises(ValueError, match="poll_interval must be at most"):
        flavor.run(client.wait_for_batch_task(4711, poll_interval=1e10))

    assert batch.call_count == 0


@pytest.mark.parametrize(
    "raised",
    [UnicodeError("label too long"), OverflowError("timeout too large"), httpx.InvalidURL("bad")],
)
def test_anything_raised_while_sending_is_a_superoffice_error(
    make: Callable[..., Any], flavor: SyncFlavor, batch: respx.Route, raised: Exception
) -> None:
    batch.mock(side_effect=raised)
    client = make(soap_version=SoapVersion.SOAP12, ticket="7T:abcdef")

    with pytest.raises(TransportError, match=type(raised).__name__) as caught:
        flavor.start(client)

    assert caught.value.request_sent  # when it struck is unknown: StartBatchJob is not re-sent
    assert caught.value.__cause__ is raised
    assert batch.call_count == 1
