"""add_secret_listener: a host application learns every secret the library derives.

Airflow's provider registers its log masking this way; what it must learn is what the
library made from the settings it was given: tickets, signed system-user tokens, JWTs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from superoffice_batch import (
    AsyncBatchClient,
    BatchClient,
    UsernamePassword,
    add_secret_listener,
    remove_secret_listener,
)
from superoffice_batch.testing import NetServerSimulator
from superoffice_batch.testing.online import OnlineSimulator

pytest_plugins = ["superoffice_batch.testing"]


@pytest.fixture
def heard() -> Iterator[list[str]]:
    secrets: list[str] = []
    add_secret_listener(secrets.append)
    yield secrets
    remove_secret_listener(secrets.append)


def test_an_on_site_ticket_is_announced_once_per_login(
    netserver: NetServerSimulator, heard: list[str]
) -> None:
    with BatchClient(netserver.base_url, auth=UsernamePassword("demo", "demo")) as client:
        client.get_batch_task_infos_by_associates([])
        client.get_batch_task_infos_by_associates([])
        netserver.expire_tickets()
        client.get_batch_task_infos_by_associates([])
    assert netserver.logins == 2
    assert len(heard) == 2
    assert all(ticket.startswith("7T:") for ticket in heard)
    assert heard[0] != heard[1]


def test_online_announces_the_signed_token_the_jwt_and_the_ticket(
    netserver_online: OnlineSimulator, heard: list[str]
) -> None:
    async def call() -> None:
        async with AsyncBatchClient(auth=netserver_online.system_user()) as client:
            await client.get_batch_task_infos_by_associates([])

    asyncio.run(call())
    signed, jwt, ticket = heard
    assert signed.startswith(netserver_online.system_user_token + ".")
    assert jwt.count(".") == 2
    assert ticket.startswith("7T:")
    assert netserver_online.exchanges == 1


def test_a_failing_listener_stops_the_call_before_the_ticket_is_used(
    netserver: NetServerSimulator,
) -> None:
    def refuse(secret: str) -> None:
        raise RuntimeError("the mask is full")

    add_secret_listener(refuse)
    try:
        with (
            BatchClient(netserver.base_url, auth=UsernamePassword("demo", "demo")) as client,
            pytest.raises(RuntimeError, match="the mask is full"),
        ):
            client.get_batch_task_infos_by_associates([])
    finally:
        remove_secret_listener(refuse)
    assert netserver.logins == 1
    assert "GetBatchTaskInfosByAssociates" not in netserver.calls


def test_added_twice_heard_once_and_removed_heard_no_more(netserver: NetServerSimulator) -> None:
    heard: list[str] = []
    add_secret_listener(heard.append)
    add_secret_listener(heard.append)
    with BatchClient(netserver.base_url, auth=UsernamePassword("demo", "demo")) as client:
        client.get_batch_task_infos_by_associates([])
        remove_secret_listener(heard.append)
        netserver.expire_tickets()
        client.get_batch_task_infos_by_associates([])
    assert len(heard) == 1


def test_a_listener_must_be_callable() -> None:
    with pytest.raises(TypeError, match="listener must be callable, not str"):
        add_secret_listener("mask_secret")  # type: ignore[arg-type]
