"""The operator's rules: wait=False, on_kill, the retry rule, checked task_info."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from conftest import xcoms
from superoffice_batch.testing import NetServerSimulator
from superoffice_batch_airflow.operators import SuperOfficeBatchJobOperator

pytestmark = pytest.mark.usefixtures("fresh_logins")

NO_WAIT = """
import datetime
from airflow.sdk import DAG
from superoffice_batch_airflow.operators import SuperOfficeBatchJobOperator

with DAG("no_wait", schedule=None, start_date=datetime.datetime(2025, 1, 1)):
    SuperOfficeBatchJobOperator(
        task_id="start", superoffice_conn_id="so_on_site", task_name="{{ 'Export' + 'Task' }}",
        task_info={"description": "nightly"}, wait=False,
    )
"""


def test_without_wait_the_task_ends_once_the_job_started(
    on_site: NetServerSimulator, run_dag: Any
) -> None:
    run = run_dag("no_wait", NO_WAIT)

    assert run.state == "success"
    [job] = on_site.jobs
    [result] = xcoms(run, "start")
    assert result["id"] == job.id
    assert result["name"] == "ExportTask"  # task_name is templated
    assert result["state"] in ("New", "Started")
    assert job.description == f"nightly [airflow:no_wait/{run.run_id}/start/-1]"


RETRY = """
import datetime
import time
from airflow.sdk import DAG
from superoffice_batch_airflow.operators import SuperOfficeBatchJobOperator


class DiesAfterStarting(SuperOfficeBatchJobOperator):
    \"\"\"Its first try starts the job, then its worker "dies" before the job ends.\"\"\"

    def execute(self, context):
        if context["ti"].try_number == 1:
            self.wait = False
            super().execute(context)
            time.sleep({dies_after})
            raise RuntimeError("the worker died")
        return super().execute(context)


with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2025, 1, 1)):
    DiesAfterStarting(
        task_id="export", superoffice_conn_id="so_on_site", task_name="{task_name}",
        retries=1, retry_delay=datetime.timedelta(0), poll_interval=0.1, timeout=30,
        deferrable={deferrable},
    )
"""


@pytest.mark.parametrize("deferrable", [False, True], ids=["blocking", "deferred"])
def test_a_retry_waits_on_the_earlier_tries_job_instead_of_starting_another(
    on_site: NetServerSimulator, run_dag: Any, deferrable: bool
) -> None:
    dag_id = f"retry_running_{'deferred' if deferrable else 'blocking'}"
    run = run_dag(
        dag_id,
        RETRY.format(dag_id=dag_id, task_name="ExportTask", deferrable=deferrable, dies_after=0),
    )

    assert run.state == "success"
    assert run.get_task_instance("export").try_number == 2
    [job] = on_site.jobs
    assert [result["id"] for result in xcoms(run, "export")] == [job.id]
    assert xcoms(run, "export")[0]["state"] == "Succeeded"


def test_a_retry_after_a_failed_job_starts_a_new_one(
    on_site: NetServerSimulator, run_dag: Any
) -> None:
    # The first job has failed by the time the worker dies.
    source = RETRY.format(
        dag_id="retry_failed", task_name="FailingTask", deferrable=False, dies_after=1.0
    )
    run = run_dag("retry_failed", source)

    assert run.state == "failed"  # the second job fails too
    assert [job.state for job in on_site.jobs] == ["Failed", "Failed"]


def _context(try_number: int = 1) -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="d", run_id="r", task_id="t", map_index=-1, try_number=try_number)
    return {"ti": ti}


def test_on_kill_stops_the_job(on_site: NetServerSimulator) -> None:
    operator = SuperOfficeBatchJobOperator(
        task_id="t", superoffice_conn_id="so_on_site", task_name="ExportTask", poll_interval=0.05
    )
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            operator.execute(_context())
        except BaseException as error:  # the thread's result, checked below
            outcome.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 10
    while operator.job_id is None and time.monotonic() < deadline:
        time.sleep(0.01)
    operator.on_kill()
    worker.join(10)

    [job] = on_site.jobs
    assert job.state == "Failed"
    [error] = outcome
    assert f"SuperOffice batch job {job.id} ended Failed: {job.result}" in str(error)


def test_on_kill_before_a_job_started_does_nothing(on_site: NetServerSimulator) -> None:
    operator = SuperOfficeBatchJobOperator(
        task_id="t", superoffice_conn_id="so_on_site", task_name="X"
    )
    operator.on_kill()
    assert on_site.calls == []


def test_unknown_task_info_fields_are_named_before_anything_is_sent(
    on_site: NetServerSimulator,
) -> None:
    operator = SuperOfficeBatchJobOperator(
        task_id="t",
        superoffice_conn_id="so_on_site",
        task_name="ExportTask",
        task_info={"parameters": {"a": "b"}},
    )
    with pytest.raises(ValueError, match=r"unknown BatchTaskInfo field\(s\) parameters; known: "):
        operator.execute(_context())
    assert on_site.jobs == []
