"""Airflow in a temporary home, the simulators, and connections to them.

Airflow reads its settings when it is first imported, so the environment is set here,
before any test module imports it. ``airflow db migrate`` runs once per session.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="superoffice-airflow-home-"))
DAGS = _HOME / "dags"
DAGS.mkdir()
os.environ.update(
    {
        "AIRFLOW_HOME": str(_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
    }
)

from superoffice_batch.testing import NetServerSimulator  # noqa: E402
from superoffice_batch.testing.online import OnlineSimulator  # noqa: E402

pytest_plugins = ["superoffice_batch.testing"]

USER = "batchuser"
PASSWORD = "Pa55word-2f8e91c4-on-site"
TENANTS = ("Cust10001", "Cust10002", "Cust10003")


def pytest_sessionfinish(session: pytest.Session) -> None:
    import sys

    if "airflow.settings" in sys.modules:  # now, while pytest still captures its logging
        sys.modules["airflow.settings"].dispose_orm()
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata database: ``airflow db migrate`` in the temporary home."""
    from airflow.utils import db

    db.resetdb()


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, fields: dict[str, Any]) -> None:
    """Define an Airflow connection as JSON in AIRFLOW_CONN_<ID>, as a deployment would."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


def on_site_fields(sim: NetServerSimulator) -> dict[str, Any]:
    return {
        "conn_type": "superoffice_batch",
        "host": sim.base_url,
        "login": USER,
        "password": PASSWORD,
        "extra": {"soap_version": "1.1", "timeout": 10},
    }


def online_fields(online: OnlineSimulator, ctx: str) -> dict[str, Any]:
    return {
        "conn_type": "superoffice_batch",
        "password": online.application_token,
        "extra": {
            "context_identifier": ctx,
            "environment": online.environment,
            "system_user_token": online.system_user_tokens[ctx],
            "private_key": online.private_key_pem,
        },
    }


@pytest.fixture
def on_site(
    netserver_factory: Callable[..., NetServerSimulator], monkeypatch: pytest.MonkeyPatch
) -> NetServerSimulator:
    """An on-site simulator (jobs of 0.6 s) behind connection ``so_on_site``."""
    sim = netserver_factory(users={USER: PASSWORD}, job_duration=0.6)
    set_connection(monkeypatch, "so_on_site", on_site_fields(sim))
    return sim


@pytest.fixture
def online(
    netserver_online_factory: Callable[..., OnlineSimulator], monkeypatch: pytest.MonkeyPatch
) -> OnlineSimulator:
    """An Online simulator with three tenants on two hosts (jobs of 0.6 s), behind
    connections ``so_cust10001`` … ``so_cust10003``."""
    sim = netserver_online_factory(tenants=TENANTS, hosts=2, job_duration=0.6)
    for ctx in TENANTS:
        set_connection(monkeypatch, f"so_{ctx.lower()}", online_fields(sim, ctx))
    return sim


@pytest.fixture
def run_dag(airflow_db: None) -> Callable[[str, str], Any]:
    """Write a DAG file into the dags folder and run it with ``dag.test()``; the DagRun."""
    from airflow.dag_processing.dagbag import DagBag

    def run(dag_id: str, source: str) -> Any:
        path = DAGS / f"{dag_id}.py"
        path.write_text(source, encoding="utf-8")
        bag = DagBag(str(path))
        assert not bag.import_errors, bag.import_errors
        return bag.get_dag(dag_id).test()

    return run


JOB_DAG = """
import datetime
from airflow.sdk import DAG
from superoffice_batch_airflow.operators import SuperOfficeBatchJobOperator

with DAG("{dag_id}", schedule=None, start_date=datetime.datetime(2025, 1, 1)):
    SuperOfficeBatchJobOperator(
        task_id="export",
        superoffice_conn_id="{conn_id}",
        task_name="{task_name}",
        task_info={{"parameter_object": {{"format": "csv", "day": "{{{{ ds }}}}"}}}},
        deferrable={deferrable},
        poll_interval=0.1,
        timeout=30,
    )
"""


def job_dag(dag_id: str, conn_id: str, *, deferrable: bool, task_name: str = "ExportTask") -> str:
    """A DAG file: one job (``task_id="export"``) on ``conn_id``, templated task_info."""
    return JOB_DAG.format(
        dag_id=dag_id, conn_id=conn_id, deferrable=deferrable, task_name=task_name
    )


def xcoms(dag_run: Any, task_id: str) -> list[Any]:
    """The XCom return values of a task in a run, by map index."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(
                run_id=dag_run.run_id, dag_ids=dag_run.dag_id, task_ids=task_id, key="return_value"
            )
        ).all()
        return [XComModel.deserialize_value(row) for row in sorted(rows, key=lambda r: r.map_index)]


@pytest.fixture
def fresh_logins() -> Iterator[None]:
    """Forget the logins this process shares, so a test counts its own exchanges."""
    from superoffice_batch_airflow import hooks

    hooks._settings.clear()
    yield
    hooks._settings.clear()
