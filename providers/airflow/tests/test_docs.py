"""docs/airflow.md's examples, run as written: its connections against the simulators and
its DAGs with dag.test().

Substituted, and nothing else: the documented hosts become the simulators', and the
placeholders PASSWORD, CLIENT-SECRET, SYSTEM-USER-TOKEN and the PEM key become the
simulators' secrets. The DAG examples run unchanged.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from conftest import set_connection
from superoffice_batch.testing.online import OnlineSimulator

pytestmark = pytest.mark.usefixtures("fresh_logins")

PAGE = (Path(__file__).resolve().parents[3] / "docs" / "airflow.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```", PAGE, re.DOTALL | re.MULTILINE)
ON_SITE_JSON, ONLINE_JSON = (json.loads(text) for kind, text in BLOCKS if kind == "json")
DAGS = [text for kind, text in BLOCKS if kind == "python" and "with DAG(" in text]
DOCUMENTED_HOST = "https://crm.example.com"


def test_the_page_shows_both_connections_and_two_dags() -> None:
    assert ON_SITE_JSON["host"].startswith(DOCUMENTED_HOST)
    assert ONLINE_JSON["extra"]["context_identifier"] == "Cust12345"
    assert len(DAGS) == 2


def test_the_environment_variable_example_is_the_on_site_json() -> None:
    [line] = [
        line
        for kind, text in BLOCKS
        if kind == "sh"
        for line in text.splitlines()
        if line.startswith("export AIRFLOW_CONN_")
    ]
    name, _, value = shlex.split(line.removeprefix("export "))[0].partition("=")
    assert name == "AIRFLOW_CONN_SUPEROFFICE_ONSITE"
    assert json.loads(value) == ON_SITE_JSON


@pytest.fixture
def documented_connections(
    netserver_factory: Any, netserver_online_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> OnlineSimulator:
    """The page's connection ids, defined by its JSON, pointing at the simulators."""
    on_site = netserver_factory(users={ON_SITE_JSON["login"]: "PASSWORD"}, job_duration=0)
    root = on_site.base_url.rsplit("/", 1)[0]
    set_connection(
        monkeypatch,
        "superoffice_onsite",
        {**ON_SITE_JSON, "host": ON_SITE_JSON["host"].replace(DOCUMENTED_HOST, root)},
    )
    online = netserver_online_factory(tenants=("Cust12345", "Cust67890"), job_duration=0)
    for ctx in ("Cust12345", "Cust67890"):
        extra = {
            **ONLINE_JSON["extra"],
            "context_identifier": ctx,
            "environment": online.environment,
            "system_user_token": online.system_user_tokens[ctx],
            "private_key": online.private_key_pem,
        }
        fields = {**ONLINE_JSON, "password": online.application_token, "extra": extra}
        set_connection(monkeypatch, f"superoffice_{ctx.lower()}", fields)
    return online


@pytest.mark.parametrize("source", DAGS, ids=lambda source: re.search(r'"(\w+)"', source)[1])
def test_the_documented_dag_runs(
    documented_connections: OnlineSimulator, run_dag: Any, source: str
) -> None:
    dag_id = re.search(r'DAG\(\s*"(\w+)"', source)[1]
    run = run_dag(dag_id, source)
    assert run.state == "success"
    if "expand(" in source:  # two tenants, one exchange each, whatever else runs on them
        assert documented_connections.exchanges == 2
