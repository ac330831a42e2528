"""DAGs run end to end with dag.test() against the on-site and Online simulators."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from conftest import TENANTS, job_dag, xcoms
from superoffice_batch.testing import NetServerSimulator
from superoffice_batch.testing.online import OnlineSimulator

pytestmark = pytest.mark.usefixtures("fresh_logins")


def started_ids(output: str) -> list[int]:
    return [int(n) for n in re.findall(r"Started SuperOffice batch job (\d+)", output)]


@pytest.mark.parametrize("deferrable", [False, True], ids=["blocking", "deferred"])
def test_on_site_job_runs_to_success(
    on_site: NetServerSimulator, run_dag: Any, capfd: pytest.CaptureFixture[str], deferrable: bool
) -> None:
    dag_id = f"on_site_{'deferred' if deferrable else 'blocking'}"
    run = run_dag(dag_id, job_dag(dag_id, "so_on_site", deferrable=deferrable))

    assert run.state == "success"
    [job] = on_site.jobs
    assert xcoms(run, "export") == [
        {
            "id": job.id,
            "name": "ExportTask",
            "state": "Succeeded",
            "result": job.result,
            "progress_percent": 100,
        }
    ]
    assert started_ids(capfd.readouterr().out + capfd.readouterr().err) == [job.id]
    # task_info is templated: {{ ds }} was rendered.
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", job.parameter_object["day"])
    assert on_site.logins == 1


@pytest.mark.parametrize("deferrable", [False, True], ids=["blocking", "deferred"])
def test_a_failed_job_fails_the_task_naming_the_job_and_its_result(
    on_site: NetServerSimulator, run_dag: Any, capfd: pytest.CaptureFixture[str], deferrable: bool
) -> None:
    dag_id = f"on_site_failing_{'deferred' if deferrable else 'blocking'}"
    run = run_dag(
        dag_id, job_dag(dag_id, "so_on_site", deferrable=deferrable, task_name="FailingTask")
    )

    assert run.state == "failed"
    [job] = on_site.jobs
    assert job.state == "Failed"
    output = capfd.readouterr()
    assert f"SuperOffice batch job {job.id} ended Failed: {job.result}" in output.out + output.err


MAPPED = """
import datetime
from airflow.sdk import DAG
from superoffice_batch_airflow.operators import SuperOfficeBatchJobOperator

with DAG("online_mapped", schedule=None, start_date=datetime.datetime(2025, 1, 1)):
    SuperOfficeBatchJobOperator.partial(
        task_id="export", task_name="ExportTask", deferrable=True, poll_interval=0.1, timeout=30
    ).expand(superoffice_conn_id=["so_cust10001", "so_cust10002", "so_cust10003"])
"""


def test_mapped_over_three_tenants_one_exchange_each(online: OnlineSimulator, run_dag: Any) -> None:
    run = run_dag("online_mapped", MAPPED)

    assert run.state == "success"
    results = xcoms(run, "export")
    assert [result["state"] for result in results] == ["Succeeded"] * 3
    assert sorted(result["id"] for result in results) == sorted(job.id for job in online.jobs)
    assert online.exchanges == len(TENANTS) == 3


def _when_a_job_runs(online: OnlineSimulator, action: Any) -> threading.Thread:
    def watch() -> None:
        deadline = time.monotonic() + 20
        while not online.jobs and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.15)  # a poll or two on the first host
        action()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("deferrable", [False, True], ids=["blocking", "deferred"])
def test_a_tenant_moving_mid_wait_is_followed(
    online: OnlineSimulator, run_dag: Any, deferrable: bool
) -> None:
    watcher = _when_a_job_runs(online, lambda: online.move("Cust10001", host=1))
    dag_id = f"online_move_{'deferred' if deferrable else 'blocking'}"
    run = run_dag(dag_id, job_dag(dag_id, "so_cust10001", deferrable=deferrable))
    watcher.join()

    assert run.state == "success"
    assert online.misdirected >= 1
    assert online.exchanges == 1
    assert len(online.jobs) == 1


@pytest.mark.parametrize("deferrable", [False, True], ids=["blocking", "deferred"])
def test_a_ticket_expiring_mid_wait_is_replaced(
    online: OnlineSimulator, run_dag: Any, deferrable: bool
) -> None:
    watcher = _when_a_job_runs(online, online.expire_tickets)
    dag_id = f"online_expiry_{'deferred' if deferrable else 'blocking'}"
    run = run_dag(dag_id, job_dag(dag_id, "so_cust10001", deferrable=deferrable))
    watcher.join()

    assert run.state == "success"
    assert online.exchanges == 2
    assert len(online.jobs) == 1


def test_a_deferred_job_s_end_reaches_the_task_within_a_poll(
    on_site: NetServerSimulator, run_dag: Any, record_property: Callable[[str, object], None]
) -> None:
    """From the moment the job ends on the server to the end of the resumed task (recorded
    as the property ``latency_s``: ``pytest --junitxml=report.xml`` shows it)."""
    ended: list[float] = []

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if [job.state for job in on_site.jobs] == ["Succeeded"]:
                ended.append(time.time())
                return
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    run = run_dag("latency", job_dag("latency", "so_on_site", deferrable=True))
    watcher.join()

    assert run.state == "success"
    latency = run.get_task_instance("export").end_date.timestamp() - ended[0]
    record_property("latency_s", round(latency, 3))
    assert 0 < latency < 5  # a poll interval (0.1 s) and resuming the task, on a busy machine
