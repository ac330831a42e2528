"""A WSDL-driven client, zeep, against the simulator: the simulator is no private dialect.

zeep reads the published WSDL (served by the simulator, or the packaged file with the
simulator's address), which binds SOAP 1.1 only, and validates replies against its
schema. Only the tests import zeep; the library never does.
"""

from __future__ import annotations

import importlib.resources
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import zeep
import zeep.transports

from superoffice_batch.testing import NetServerSimulator

pytest_plugins = ["superoffice_batch.testing"]

TNS = "http://www.superoffice.net/ws/crm/NetServer/Services88"
TIMEOUT = 5.0


@pytest.fixture
def transport() -> Iterator[zeep.transports.Transport]:
    """A zeep transport whose requests session is closed after the test."""
    with requests.Session() as session:
        yield zeep.transports.Transport(session=session, timeout=TIMEOUT, operation_timeout=TIMEOUT)


@pytest.fixture
def simulator(
    netserver_factory: Callable[..., NetServerSimulator],
) -> Iterator[NetServerSimulator]:
    simulator = netserver_factory(job_duration=0.3)
    yield simulator
    assert simulator.errors == []


def login(simulator: NetServerSimulator, transport: zeep.transports.Transport) -> str:
    """AuthenticateUsernamePassword through zeep, reading SoPrincipal's served WSDL."""
    principal = zeep.Client(simulator.service_url("SoPrincipal") + "?wsdl", transport=transport)
    reply = principal.service.AuthenticateUsernamePassword(UserName="demo", Password="demo")
    assert reply.header.Succeeded is True
    # zeep reads the nil ExceptionInfo as an empty one.
    assert reply.header.ExceptionInfo.ExceptionType is None
    assert reply.body.AuthenticationSucceeded is True
    assert reply.body.Response.AssociateId == simulator.associate_id("demo")
    ticket = reply.body.Credentials.Ticket
    assert isinstance(ticket, str)
    assert ticket.startswith("7T:")
    return ticket


def credentials(ticket: str) -> dict[str, Any]:
    return {"Credentials": {"Ticket": ticket}}


def test_zeep_logs_in_starts_a_job_and_reads_it_back(
    simulator: NetServerSimulator, transport: zeep.transports.Transport
) -> None:
    ticket = login(simulator, transport)
    batch = zeep.Client(simulator.service_url("Batch") + "?wsdl", transport=transport)
    task_type = batch.get_type("ns0:BatchTaskInfo")
    task = task_type(Name="ExportTask", ParameterObject={"StringKeyValuePair": []})

    started = batch.service.StartBatchJob(BatchTaskInfo=task, _soapheaders=credentials(ticket))
    job_id = started.body.Response
    assert started.header.Succeeded is True
    assert isinstance(job_id, int)
    assert job_id > 0

    read = batch.service.GetBatchTaskInfo(Id=job_id, _soapheaders=credentials(ticket))
    info = read.body.Response
    assert (info.Id, info.Name) == (job_id, "ExportTask")
    assert info.AssociateId == simulator.associate_id("demo")
    assert info.State in ("New", "Aquired", "Started")
    assert simulator.calls == ["AuthenticateUsernamePassword", "StartBatchJob", "GetBatchTaskInfo"]


def test_zeep_with_the_packaged_wsdl_and_the_simulators_address(
    simulator: NetServerSimulator, transport: zeep.transports.Transport
) -> None:
    ticket = simulator.issue_ticket()
    wsdl = importlib.resources.files("superoffice_batch.testing") / "wsdl" / "Services88-Batch.wsdl"
    with importlib.resources.as_file(wsdl) as path:
        client = zeep.Client(str(path), transport=transport)
    service = client.create_service(f"{{{TNS}}}BasicHttpBinding_Batch", simulator.service_url())
    task = client.get_type("ns0:BatchTaskInfo")(Name="ImportTask")
    job_id = service.StartBatchJob(
        BatchTaskInfo=task, _soapheaders=credentials(ticket)
    ).body.Response
    assert job_id == 1

    listed = service.GetAllBatchTaskInfosByName(TaskName="", _soapheaders=credentials(ticket))
    assert [info.Name for info in listed.body.Response.BatchTaskInfo] == ["ImportTask"]

    # A refused ticket is a business error in the reply headers, which zeep hands over.
    refused = service.GetBatchTaskInfo(Id=job_id, _soapheaders=credentials("7T:bm9wZQ=="))
    assert refused.header.Succeeded is False
    assert refused.header.ExceptionInfo.Message.startswith("Failed to validate tokens: ")
    assert refused.header.ExceptionInfo.ExceptionType.endswith(".SoSessionException")


def test_zeep_reads_system_info(
    simulator: NetServerSimulator, transport: zeep.transports.Transport
) -> None:
    principal = zeep.Client(simulator.service_url("SoPrincipal") + "?wsdl", transport=transport)
    reply = principal.service.GetSystemInfo()
    assert "simulator" in reply.body.SystemInfo.Description
    assert reply.body.SystemInfo.IsUnicode is True


@pytest.mark.slow
def test_the_library_never_imports_zeep() -> None:
    script = (
        "import sys, superoffice_batch, superoffice_batch.testing, superoffice_batch.operations\n"
        "assert 'zeep' not in sys.modules, 'zeep was imported'\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
