"""The hook: connection fields of both kinds, one login per connection per process,
edits taking effect, the async connection read."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from conftest import PASSWORD, USER, on_site_fields, online_fields, set_connection
from superoffice_batch import AsyncBatchClient, BatchClient, SoapVersion
from superoffice_batch.testing import NetServerSimulator
from superoffice_batch.testing.online import OnlineSimulator
from superoffice_batch_airflow.connection import read_connection
from superoffice_batch_airflow.hooks import SuperOfficeBatchHook

pytestmark = pytest.mark.usefixtures("fresh_logins")

KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"


def connection(**fields: Any) -> Any:
    extra = fields.pop("extra", {})
    base = {"conn_id": "so_test", "host": None, "login": None, "password": None}
    return SimpleNamespace(**{**base, **fields}, extra_dejson=extra)


ONLINE_EXTRA = {
    "context_identifier": "Cust12345",
    "environment": "sod",
    "system_user_token": "MyApp-s3cr3t-system-user-token",
    "private_key": KEY,
}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {
                "host": "https://crm.example.com/SuperOffice",
                "password": "app-secret-123456",
                "extra": ONLINE_EXTRA,
            },
            "mixes the two kinds: host .on-site. with extra.context_identifier, "
            "extra.environment, extra.system_user_token, extra.private_key .Online.",
        ),
        ({"login": USER, "password": PASSWORD}, r"\(on-site\) lacks host"),
        ({"host": "https://crm.example.com/SuperOffice", "login": USER}, "lacks password"),
        (
            {"host": "https://crm.example.com/SuperOffice"},
            "lacks login and password, or extra.ticket",
        ),
        (
            {
                "host": "https://crm.example.com/SuperOffice",
                "login": USER,
                "password": PASSWORD,
                "extra": {"ticket": "7T:abcdefghijkl"},
            },
            "has both login/password and extra.ticket",
        ),
        (
            {"extra": {"context_identifier": "Cust12345"}},
            r"\(Online\) lacks extra.environment, extra.system_user_token, extra.private_key "
            r"or extra.private_key_file, password \(the application token",
        ),
        (
            {
                "password": "app-secret-123456",
                "extra": {**ONLINE_EXTRA, "private_key_file": "/keys/app.pem"},
            },
            "has both extra.private_key and extra.private_key_file",
        ),
        (
            {
                "host": "https://crm.example.com/SuperOffice",
                "login": USER,
                "password": PASSWORD,
                "extra": {"soap": "1.2"},
            },
            "unknown extra field.s. soap; known: call_deadline, context_identifier",
        ),
        (
            {
                "host": "https://crm.example.com/SuperOffice",
                "login": USER,
                "password": PASSWORD,
                "extra": {"soap_version": "2"},
            },
            "extra.soap_version must be one of 1.1, 1.2",
        ),
        (
            {
                "host": "https://crm.example.com/SuperOffice",
                "login": USER,
                "password": PASSWORD,
                "extra": {"timeout": "soon"},
            },
            "extra.timeout must be a number of seconds",
        ),
    ],
    ids=[
        "mixed",
        "no-host",
        "no-password",
        "no-login",
        "login-and-ticket",
        "online-missing",
        "two-keys",
        "unknown-extra",
        "bad-soap-version",
        "bad-timeout",
    ],
)
def test_bad_connections_name_their_fields_never_their_values(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        read_connection(connection(**fields))
    for secret in (PASSWORD, "app-secret-123456", "MyApp-s3cr3t-system-user-token", KEY, "7T:abc"):
        assert secret not in str(caught.value)


def test_an_unreadable_key_file_is_named_not_shown() -> None:
    pasted = KEY  # a key pasted where its path belongs
    with pytest.raises(ValueError, match=r"extra\.private_key_file cannot be read") as caught:
        read_connection(
            connection(
                password="app-secret-123456",
                extra={
                    **{k: v for k, v in ONLINE_EXTRA.items() if k != "private_key"},
                    "private_key_file": pasted,
                },
            )
        )
    assert "MIIE" not in str(caught.value)


def test_the_ui_form_s_prefixed_extras_are_read(online: OnlineSimulator) -> None:
    fields = online_fields(online, "Cust10001")
    extra = {f"extra__superoffice_batch__{name}": value for name, value in fields["extra"].items()}
    settings = read_connection(
        connection(password=fields["password"], extra={**extra, "timeout": 5})
    )
    assert settings.kind == "online"
    assert settings.base_url is None
    assert settings.options == {"timeout": 5.0}


def test_on_site_options_reach_the_client(on_site: NetServerSimulator) -> None:
    with SuperOfficeBatchHook("so_on_site").get_conn() as client:
        assert isinstance(client, BatchClient)
        assert client.soap_version is SoapVersion.SOAP11
        assert client.base_url == on_site.base_url + "/"


def test_one_login_per_connection_for_every_client_of_the_process(
    on_site: NetServerSimulator,
) -> None:
    hook = SuperOfficeBatchHook("so_on_site")
    for _ in range(3):
        with hook.get_conn() as client:
            client.get_batch_task_infos_by_associates([])

    async def from_a_loop() -> None:
        async with hook.async_client() as client:
            await client.get_batch_task_infos_by_associates([])
        client = await hook.aget_conn()
        assert isinstance(client, AsyncBatchClient)
        await client.get_batch_task_infos_by_associates([])
        await client.aclose()

    asyncio.run(from_a_loop())
    asyncio.run(from_a_loop())  # another event loop, as dag.test() makes
    assert on_site.logins == 1


def test_a_rejected_shared_ticket_is_replaced_once(on_site: NetServerSimulator) -> None:
    hook = SuperOfficeBatchHook("so_on_site")
    with hook.get_conn() as first, hook.get_conn() as second:
        first.get_batch_task_infos_by_associates([])
        second.get_batch_task_infos_by_associates([])
        on_site.expire_tickets()
        first.get_batch_task_infos_by_associates([])  # rejected: logs in again
        second.get_batch_task_infos_by_associates([])  # rejected: takes the new ticket
    assert on_site.logins == 2


def test_an_edited_connection_takes_effect(
    on_site: NetServerSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = on_site_fields(on_site)
    set_connection(monkeypatch, "so_edited", {**fields, "password": "Not-the-pa55word-x9"})
    ok, message = SuperOfficeBatchHook("so_edited").test_connection()
    assert not ok
    assert "AuthenticationError" in message

    set_connection(monkeypatch, "so_edited", fields)
    ok, message = SuperOfficeBatchHook("so_edited").test_connection()
    assert ok
    assert message == f"Connected to {on_site.base_url}/: 0 job(s) running"


def test_the_async_client_reads_the_connection_without_the_sync_api(
    online: OnlineSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(cls: Any, conn_id: str) -> None:  # as the triggerer's event loop does
        raise RuntimeError("sync get_connection in the event loop")

    monkeypatch.setattr(SuperOfficeBatchHook, "get_connection", classmethod(refuse))

    async def call() -> int:
        async with SuperOfficeBatchHook("so_cust10002").async_client() as client:
            return len(await client.get_batch_task_infos_by_associates([]))

    assert asyncio.run(call()) == 0
    with pytest.raises(RuntimeError, match="sync get_connection"):
        SuperOfficeBatchHook("so_cust10002").get_conn()


def test_online_connections_share_one_system_user_per_tenant(online: OnlineSimulator) -> None:
    for ctx in ("cust10001", "cust10002", "cust10001", "cust10002"):
        with SuperOfficeBatchHook(f"so_{ctx}").get_conn() as client:
            client.get_batch_task_infos_by_associates([])
    assert online.exchanges == 2


def test_without_airflow_s_async_read_the_sync_one_runs_off_the_loop(
    online: OnlineSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk import BaseHook

    monkeypatch.delattr(BaseHook, "aget_connection")  # as in Airflow 3.0
    loop_threads: list[bool] = []
    read = SuperOfficeBatchHook.get_connection

    def record(cls: Any, conn_id: str) -> Any:
        try:
            asyncio.get_running_loop()
            loop_threads.append(True)
        except RuntimeError:
            loop_threads.append(False)
        return read(conn_id)

    monkeypatch.setattr(SuperOfficeBatchHook, "get_connection", classmethod(record))

    async def call() -> int:
        async with SuperOfficeBatchHook("so_cust10003").async_client() as client:
            return len(await client.get_batch_task_infos_by_associates([]))

    assert asyncio.run(call()) == 0
    assert loop_threads == [False]
