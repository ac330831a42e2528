"""The trigger driven directly with asyncio, as the triggerer drives it."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from conftest import PASSWORD, USER, on_site_fields, set_connection
from superoffice_batch import BatchClient, BatchTaskInfo, UsernamePassword
from superoffice_batch.testing import NetServerSimulator
from superoffice_batch.testing.online import OnlineSimulator
from superoffice_batch_airflow import hooks
from superoffice_batch_airflow.triggers import SuperOfficeBatchJobTrigger

pytestmark = pytest.mark.usefixtures("fresh_logins")

FIELDS = {"status", "job_id", "state", "result", "message"}


def start(sim: NetServerSimulator, task: str = "ExportTask") -> int:
    with BatchClient(sim.base_url, auth=UsernamePassword(USER, PASSWORD)) as client:
        return client.start_batch_job(BatchTaskInfo(name=task))


def events(trigger: SuperOfficeBatchJobTrigger) -> list[dict[str, Any]]:
    """The trigger's events; its client is closed by the time the event is yielded."""

    async def collect() -> list[dict[str, Any]]:
        payloads = []
        async for event in trigger.run():
            assert not hooks._async_clients.get(asyncio.get_running_loop())
            payloads.append(event.payload)
        return payloads

    return asyncio.run(collect())


def trigger(job_id: int, conn_id: str = "so_on_site", **changes: Any) -> SuperOfficeBatchJobTrigger:
    kwargs: dict[str, Any] = {
        "superoffice_conn_id": conn_id,
        "job_id": job_id,
        "poll_interval": 0.05,
    }
    return SuperOfficeBatchJobTrigger(**{**kwargs, **changes})


def test_success(on_site: NetServerSimulator) -> None:
    job_id = start(on_site)
    [event] = events(trigger(job_id))
    assert set(event) >= FIELDS
    assert event["status"] == "success"
    assert (event["job_id"], event["state"], event["result"]) == (job_id, "Succeeded", "Completed")


def test_failed(on_site: NetServerSimulator) -> None:
    job_id = start(on_site, "FailingTask")
    [event] = events(trigger(job_id))
    assert (event["status"], event["job_id"], event["state"]) == ("failed", job_id, "Failed")
    [job] = on_site.jobs
    assert event["result"] == job.result


@pytest.fixture
def slow(netserver_factory: Any, monkeypatch: pytest.MonkeyPatch) -> NetServerSimulator:
    """An on-site simulator whose jobs take a minute, behind connection ``so_slow``."""
    sim = netserver_factory(users={USER: PASSWORD}, job_duration=60)
    set_connection(monkeypatch, "so_slow", on_site_fields(sim))
    return sim


def test_timeout(slow: NetServerSimulator) -> None:
    job_id = start(slow)
    [event] = events(trigger(job_id, "so_slow", end_time=time.time() + 2))
    assert (event["status"], event["job_id"]) == ("timeout", job_id)
    assert event["state"] in ("New", "Started")
    assert f"SuperOffice batch job {job_id} did not finish" in event["message"]


def test_an_end_time_already_past_times_out_after_one_poll(slow: NetServerSimulator) -> None:
    job_id = start(slow)
    [event] = events(trigger(job_id, "so_slow", end_time=time.time() - 5))
    assert event["status"] == "timeout"


def test_error_when_the_connection_is_incomplete(
    on_site: NetServerSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_connection(
        monkeypatch, "so_broken", {"conn_type": "superoffice_batch", "login": "batchuser"}
    )
    [event] = events(trigger(7, "so_broken"))
    assert event["status"] == "error"
    assert event["job_id"] == 7
    assert "lacks host" in event["message"]


def test_error_when_the_server_is_gone(on_site: NetServerSimulator) -> None:
    job_id = start(on_site)
    on_site.stop()
    [event] = events(trigger(job_id))
    assert event["status"] == "error"
    assert "TransportError" in event["message"]


def test_serialize_round_trip_through_airflow_serde(on_site: NetServerSimulator) -> None:
    from airflow.sdk import serde

    original = trigger(42, end_time=1_900_000_000.5)
    classpath, kwargs = original.serialize()
    assert classpath == "superoffice_batch_airflow.triggers.SuperOfficeBatchJobTrigger"
    assert kwargs == {
        "superoffice_conn_id": "so_on_site",
        "job_id": 42,
        "poll_interval": 0.05,
        "end_time": 1_900_000_000.5,
    }
    stored = json.loads(json.dumps(serde.serialize(kwargs)))  # as the database keeps it
    again = SuperOfficeBatchJobTrigger(**serde.deserialize(stored))
    assert again.serialize() == (classpath, kwargs)


def test_twenty_triggers_in_one_loop_share_one_exchange(online: OnlineSimulator) -> None:
    with hooks.SuperOfficeBatchHook("so_cust10001").get_conn() as client:
        job_ids = [client.start_batch_job(BatchTaskInfo(name="ExportTask")) for _ in range(20)]

    async def run_all() -> list[list[dict[str, Any]]]:
        async def one(job_id: int) -> list[dict[str, Any]]:
            return [event.payload async for event in trigger(job_id, "so_cust10001").run()]

        return await asyncio.gather(*(one(job_id) for job_id in job_ids))

    results = asyncio.run(run_all())
    assert [event["status"] for [event] in results] == ["success"] * 20
    assert online.exchanges == 1, "the worker's login, reused by every trigger"


def test_twenty_triggers_starting_cold_make_one_exchange(online: OnlineSimulator) -> None:
    with BatchClient(auth=online.system_user("Cust10001")) as client:  # not the hook's login
        job_ids = [client.start_batch_job(BatchTaskInfo(name="ExportTask")) for _ in range(20)]
    before = online.exchanges

    async def run_all() -> list[list[dict[str, Any]]]:
        async def one(job_id: int) -> list[dict[str, Any]]:
            return [event.payload async for event in trigger(job_id, "so_cust10001").run()]

        return await asyncio.gather(*(one(job_id) for job_id in job_ids))

    results = asyncio.run(run_all())
    assert [event["status"] for [event] in results] == ["success"] * 20
    assert online.exchanges - before == 1, "twenty triggers at once, one shared client"
