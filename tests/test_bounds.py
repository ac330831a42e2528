"""Every setting is bounded: out of its documented range it is a ValueError naming it,
before anything is sent; retries and their back-off sleeps have a ceiling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import respx

from flavors import SyncFlavor
from superoffice_batch import BatchClient, TransportError

MAX_RETRIES = 10  # documented in quickstart.md and errors.md
MAX_WAIT_TIMEOUT = 366 * 86400.0

HUGE = 10**400
BEYOND_DIGIT_LIMIT = 10**5000  # str() of it raises Python's digit-limit ValueError
URL = "https://crm.example.com/Cust1"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"timeout": HUGE}, "timeout must be at most"),
        ({"timeout": httpx.Timeout(5.0, read=HUGE)}, "timeout.read must be at most"),
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
