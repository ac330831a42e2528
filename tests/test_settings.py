"""Every setting is checked before anything is sent: out of its documented range, or of a
shape that would fail raw at the first call, it is a ValueError or TypeError naming it;
retries and their back-off sleeps have a ceiling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from conftest import BASE_URL
from flavors import SyncFlavor
from superoffice_batch import BatchClient, SoapVersion, TransportError

MAX_RETRIES = 10  # documented in quickstart.md and errors.md
MAX_WAIT_TIMEOUT = 366 * 86400.0

HUGE = 10**400
BEYOND_DIGIT_LIMIT = 10**5000  # str() of it raises Python's digit-limit ValueError
URL = "https://crm.example.com/Cust1"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"timeout": HUGE}, "timeout must be at most"),
        ({"timeout": 1e10}, "timeout must be at most 86400 seconds"),
        ({"timeout": 86400.5}, "timeout must be at most"),
        ({"timeout": httpx.Timeout(5.0, read=HUGE)}, "timeout.read must be at most"),
        ({"timeout": httpx.Timeout(5.0, read=1e10)}, "timeout.read must be at most"),
        ({"timeout": httpx.Timeout(5.0, pool=None)}, "timeout.pool must be set"),
        ({"timeout": -BEYOND_DIGIT_LIMIT}, "timeout must be finite and positive"),
        ({"connect_retries": BEYOND_DIGIT_LIMIT}, "connect_retries must be from 0 to 10"),
        ({"read_retries": MAX_RETRIES + 1}, "read_retries must be from 0 to 10"),
        ({"connect_retries": 1024}, "connect_retries must be from 0 to 10"),
        ({"max_response_bytes": BEYOND_DIGIT_LIMIT}, "max_response_bytes must be from 1 to"),
        ({"max_response_bytes": -BEYOND_DIGIT_LIMIT}, "max_response_bytes must be from 1 to"),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else value[:30],
)
def test_a_setting_out_of_range_is_a_value_error_naming_it(
    options: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValueError, match=named) as caught:
        BatchClient(URL, ticket="7T:abcdef", **options)

    assert len(str(caught.value)) < 200  # the huge number itself is not spelled out


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:99999/Cust1", "http://127.0.0.1:65536/", "http://127.0.0.1:0/"],
)
def test_a_port_outside_1_to_65535_is_refused(base_url: str) -> None:
    with pytest.raises(ValueError, match=r"base_url has port .*: a port is 1 to 65535"):
        BatchClient(base_url, ticket="7T:abcdef")


def test_a_surrogate_in_base_url_is_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match="base_url contains a lone surrogate"):
        BatchClient("https://crm.example.com/\ud800/", ticket="7T:abcdef")


def test_the_highest_port_is_accepted() -> None:
    with BatchClient("http://127.0.0.1:65535/", ticket="7T:abcdef") as client:
        assert client.base_url == "http://127.0.0.1:65535/"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"timeout": HUGE}, "timeout must be at most"),
        ({"timeout": MAX_WAIT_TIMEOUT * 2}, "timeout must be at most"),
        ({"poll_interval": HUGE}, "poll_interval must be at most"),
        ({"poll_interval": 1e10}, "poll_interval must be at most"),
        ({"poll_interval": -BEYOND_DIGIT_LIMIT}, "poll_interval must be finite and positive"),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else value[:30],
)
def test_wait_settings_out_of_range_are_refused_before_sending(
    batch: respx.Route,
    make: Callable[..., Any],
    flavor: SyncFlavor,
    options: dict[str, Any],
    named: str,
) -> None:
    with pytest.raises(ValueError, match=named):
        flavor.run(make(ticket="7T:abcdef").wait_for_batch_task(5, **options))

    assert batch.call_count == 0


@pytest.mark.parametrize("job_id", [BEYOND_DIGIT_LIMIT, -BEYOND_DIGIT_LIMIT], ids=["big", "low"])
def test_a_huge_job_id_is_a_value_error_naming_it(
    batch: respx.Route, make: Callable[..., Any], flavor: SyncFlavor, job_id: int
) -> None:
    with pytest.raises(ValueError, match=r"(job_id|\.id) must be"):
        flavor.run(make(ticket="7T:abcdef").wait_for_batch_task(job_id))

    assert batch.call_count == 0


def test_back_off_sleeps_are_capped(
    batch: respx.Route, make: Callable[..., Any], flavor: SyncFlavor, sleeps: list[float]
) -> None:
    batch.mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(TransportError):
        flavor.start(make(ticket="7T:abcdef", connect_retries=MAX_RETRIES))

    assert len(sleeps) == MAX_RETRIES
    assert max(sleeps) <= 30.0
    assert sleeps == sorted(sleeps)


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


# -- the base URL: the services' folder stands for its root (issue 18, friction 2) -------


@pytest.mark.parametrize(
    "suffix",
    ["/Remote/Services88", "/Remote/Services88/", "/remote/SERVICES88/", "/Remote/Services88" * 2],
)
def test_a_base_url_of_the_services_folder_means_its_root(
    batch: respx.Route, make: Callable[..., Any], flavor: SyncFlavor, suffix: str
) -> None:
    # The form SuperOffice's netserver_url claim gives; no request goes to a doubled path.
    batch.mock(side_effect=httpx.ConnectError("refused"))
    client = make(BASE_URL + suffix, ticket="7T:abcdef", connect_retries=0)

    with pytest.raises(TransportError):
        flavor.start(client)

    assert client.base_url == BASE_URL + "/"
    assert batch.call_count == 1


def test_a_service_url_is_refused_naming_the_root() -> None:
    with pytest.raises(ValueError, match=f"not a service URL: use '{BASE_URL}'"):
        BatchClient(BASE_URL + "/Remote/Services88/Batch.svc", ticket="7T:abcdef")
