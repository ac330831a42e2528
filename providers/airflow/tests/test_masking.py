"""Secrets never reach task logs, XCom, trigger kwargs or errors; Airflow's own redaction
masks what the hook reads and what the library derives."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk._shared.secrets_masker import redact

from conftest import PASSWORD, job_dag, online_fields, set_connection, xcoms
from superoffice_batch import add_secret_listener, remove_secret_listener
from superoffice_batch.testing import NetServerSimulator
from superoffice_batch.testing.online import OnlineSimulator
from superoffice_batch_airflow.hooks import SuperOfficeBatchHook

pytestmark = pytest.mark.usefixtures("fresh_logins", "debug_logs")


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The library's DEBUG lines (whole envelopes) logged and captured."""
    with caplog.at_level(logging.DEBUG, logger="superoffice_batch"):
        yield


@pytest.fixture
def derived() -> Iterator[list[str]]:
    """Every secret the library derives during the test."""
    heard: list[str] = []
    add_secret_listener(heard.append)
    yield heard
    remove_secret_listener(heard.append)


def shown_by(output: pytest.CaptureResult[str], records: list[logging.LogRecord], run: Any) -> str:
    """What the run showed: its output as Airflow rendered it, every log record as
    logged (DEBUG included), and its XCom.

    Left out: the lines in which dag.test()'s in-process supervisor (a test harness, not
    a deployment's supervisor) logs at DEBUG each secret sent to it to be masked.
    """
    lines = (output.out + output.err).splitlines()
    lines += [f"{record.name} {record.getMessage()}" for record in records]
    kept = [line for line in lines if "MaskSecret(value=" not in line]
    return "\n".join(kept) + repr(xcoms(run, "export"))


def key_lines(pem: str) -> list[str]:
    return [line for line in pem.splitlines() if line and not line.startswith("-----")]


@pytest.fixture
def shown_after(
    run_dag: Any, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> Callable[[str, str], str]:
    """Run a deferred job's DAG on a connection; what the run showed (see shown_by)."""

    def run(dag_id: str, conn_id: str) -> str:
        dag_run = run_dag(dag_id, job_dag(dag_id, conn_id, deferrable=True))
        shown = shown_by(capfd.readouterr(), caplog.records, dag_run)
        assert dag_run.state == "success"
        assert "GetBatchTaskInfo request envelope" in shown, "DEBUG logging was on"
        return shown

    return run


def test_an_online_run_shows_no_secret_in_logs_or_xcom(
    online: OnlineSimulator, shown_after: Callable[[str, str], str], derived: list[str]
) -> None:
    shown = shown_after("masked_online", "so_cust10001")

    # Each client registers what it uses: the worker's and the trigger's, the same ticket.
    signed, jwt, ticket = dict.fromkeys(derived)
    secrets = {
        "client secret": online.application_token,
        "system-user token": online.system_user_tokens["Cust10001"],
        "signed token": signed,
        "JWT": jwt,
        "ticket": ticket,
    }
    secrets.update(
        {f"key line {n}": line for n, line in enumerate(key_lines(online.private_key_pem))}
    )
    assert [name for name, secret in secrets.items() if secret in shown] == []


def test_an_on_site_run_shows_no_password_or_ticket(
    on_site: NetServerSimulator, shown_after: Callable[[str, str], str], derived: list[str]
) -> None:
    shown = shown_after("masked_on_site", "so_on_site")

    [ticket] = set(derived)  # one login, shared by the worker and the trigger
    assert on_site.logins == 1
    assert PASSWORD not in shown
    assert ticket not in shown


def test_airflow_redacts_what_the_hook_reads_and_the_library_derives(
    online: OnlineSimulator, derived: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_text(online.private_key_pem, encoding="utf-8")
    fields = online_fields(online, "Cust10002")
    del fields["extra"]["private_key"]
    fields["extra"]["private_key_file"] = str(key_file)
    set_connection(monkeypatch, "so_key_file", fields)

    with SuperOfficeBatchHook("so_key_file").get_conn() as client:
        client.get_batch_task_infos_by_associates([])

    assert len(set(derived)) == 3  # the signed token, the JWT, the ticket
    for secret in [*derived, *key_lines(online.private_key_pem), online.private_key_pem]:
        shown = redact(f"before {secret} after")
        assert shown.startswith("before ***")
        assert shown.endswith(" after")
        assert [part for part in secret.split(".") if len(part) >= 16 and part in shown] == []


def test_an_on_site_ticket_in_the_connection_is_redacted(
    on_site: NetServerSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = on_site.issue_ticket("batchuser")
    # "ticket" is no name Airflow deems sensitive: the hook masks it.
    set_connection(
        monkeypatch,
        "so_ticket",
        {"conn_type": "superoffice_batch", "host": on_site.base_url, "extra": {"ticket": ticket}},
    )
    assert redact(ticket) == ticket, "not known before the connection is read"
    ok, message = SuperOfficeBatchHook("so_ticket").test_connection()
    assert ok, message
    assert redact(f"ticket={ticket}") == "ticket=***"


def test_a_failed_connection_test_shows_no_secret(
    on_site: NetServerSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "Wr0ng-pa55word-7c1d0e"
    set_connection(
        monkeypatch,
        "so_wrong",
        {
            "conn_type": "superoffice_batch",
            "host": on_site.base_url,
            "login": "batchuser",
            "password": wrong,
        },
    )
    ok, message = SuperOfficeBatchHook("so_wrong").test_connection()
    assert not ok
    assert message.startswith("AuthenticationError")
    assert wrong not in message


def test_trigger_kwargs_hold_no_secret(online: OnlineSimulator) -> None:
    from superoffice_batch_airflow.triggers import SuperOfficeBatchJobTrigger

    _, kwargs = SuperOfficeBatchJobTrigger(
        superoffice_conn_id="so_cust10001", job_id=1, poll_interval=1.0
    ).serialize()
    values = repr(kwargs)
    for secret in (online.application_token, online.system_user_tokens["Cust10001"]):
        assert secret not in values
    assert set(kwargs) == {"superoffice_conn_id", "job_id", "poll_interval", "end_time"}
