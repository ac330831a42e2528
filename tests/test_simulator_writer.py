"""The simulator writes its replies with its own lxml code, not the library's writer.

Its element names come from the models' attribute names, spelt as WCF spells the .NET
members; these tests hold that spelling to the names the library declares (and the
library's tests hold those to the WSDL), and read the simulator's replies back with the
library.
"""

from __future__ import annotations

import pytest

from conftest import fully_populated_task
from superoffice_batch import BatchTaskInfo, ServiceError, SoapVersion
from superoffice_batch.operations import GetBatchTaskInfo, GetBatchTaskInfosByState, StopBatchJob
from superoffice_batch.soprincipal import AuthenticateReply, Principal, SoCredentials, SystemInfo
from superoffice_batch.testing import soap
from superoffice_batch.xmlvalues import wire_fields


@pytest.mark.parametrize(
    "model",
    [BatchTaskInfo, Principal, SystemInfo, AuthenticateReply, SoCredentials, soap.ExceptionInfo],
)
def test_member_names_spell_the_declared_element_names(model):
    for field in wire_fields(model):
        assert soap.member_name(field.attr) == field.tag.partition("}")[2]


@pytest.mark.parametrize("version", list(SoapVersion), ids=lambda v: v.name)
def test_a_task_written_by_the_simulator_reads_back_as_the_same_task(version):
    task = fully_populated_task()
    payload = soap.result("GetBatchTaskInfoResponse", "Response", task)
    assert GetBatchTaskInfo(1).parse_response(soap.reply(version, payload)) == task


@pytest.mark.parametrize("version", list(SoapVersion), ids=lambda v: v.name)
def test_a_null_date_is_written_as_dotnet_min_value_and_reads_as_none(version):
    task = BatchTaskInfo(name="x")
    reply = soap.reply(version, soap.result("GetBatchTaskInfosByStateResponse", "Response", [task]))
    assert b"<LastStarted>0001-01-01T00:00:00</LastStarted>" in reply
    assert GetBatchTaskInfosByState("All").parse_response(reply) == [task]


def test_values_and_errors_travel_in_wcf_style():
    error = soap.ExceptionInfo(message="No such task", exception_type="SoDataNotFoundException")
    reply = soap.reply(
        SoapVersion.SOAP11, soap.result("StopBatchJobResponse", "Response", False), error
    )
    assert (
        b'<Succeeded xmlns="http://www.superoffice.net/ws/crm/NetServer/Services88">false' in reply
    )
    with pytest.raises(ServiceError, match="No such task") as raised:
        StopBatchJob(1).parse_response(reply)
    assert raised.value.exception_type == "SoDataNotFoundException"
