"""The sensor waits for a job started elsewhere, poking or deferred."""

from __future__ import annotations

from typing import Any

import pytest

from superoffice_batch.testing import NetServerSimulator

pytestmark = pytest.mark.usefixtures("fresh_logins")

SENSED = """
import datetime
from airflow.sdk import DAG
from superoffice_batch_airflow.operators import SuperOfficeBatchJobOperator
from superoffice_batch_airflow.sensors import SuperOfficeBatchJobSensor

with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2025, 1, 1)):
    start = SuperOfficeBatchJobOperator(
        task_id="start", superoffice_conn_id="so_on_site", task_name="{task_name}", wait=False
    )
    sense = SuperOfficeBatchJobSensor(
        task_id="sense", superoffice_conn_id="so_on_site",
        job_id="{{{{ ti.xcom_pull(task_ids='start')['id'] }}}}",
        deferrable={deferrable}, poll_interval=0.1, timeout=30,
    )
    start >> sense
"""


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferred"])
def test_the_sensor_waits_for_the_job(
    on_site: NetServerSimulator, run_dag: Any, deferrable: bool
) -> None:
    dag_id = f"sensed_{'deferred' if deferrable else 'poke'}"
    run = run_dag(
        dag_id, SENSED.format(dag_id=dag_id, task_name="ExportTask", deferrable=deferrable)
    )

    assert run.state == "success"
    [job] = on_site.jobs
    assert job.state == "Succeeded"
    assert run.get_task_instance("sense").state == "success"


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferred"])
def test_a_failed_job_fails_the_sensor_naming_it(
    on_site: NetServerSimulator, run_dag: Any, capfd: pytest.CaptureFixture[str], deferrable: bool
) -> None:
    dag_id = f"sensed_failing_{'deferred' if deferrable else 'poke'}"
    run = run_dag(
        dag_id, SENSED.format(dag_id=dag_id, task_name="FailingTask", deferrable=deferrable)
    )

    assert run.state == "failed"
    assert run.get_task_instance("sense").state == "failed"
    [job] = on_site.jobs
    output = capfd.readouterr()
    assert f"SuperOffice batch job {job.id} ended Failed: {job.result}" in output.out + output.err
