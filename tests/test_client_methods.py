"""Each Batch method of both clients sends exactly its operation and returns its result.

The expected request is the operation's own envelope for the same arguments, credentials
and SOAP version (the operations are tested against the WSDL and golden files in
test_operations.py); the expected result is the operation's own reading of the reply.
"""

from __future__ import annotations

import re
from typing import Any

import attrs
import pytest
import respx

import superoffice_batch.client as client_module
from conftest import canonical
from flavors import SyncFlavor
from superoffice_batch import Credentials, SoapVersion
from superoffice_batch.operations import Operation
from test_operations import CASES, reply

BASE_URL = "https://sod2.superoffice.com/Cust12345"
BATCH_URL = f"{BASE_URL}/Remote/Services88/Batch.svc"
TICKET = "7T:bWV0aG9kLXRpY2tldA=="
TOKEN = "method-app-token"

# A reply fixture for each kind of result, as test_operations.py reads them.
REPLY_FOR = {
    "StartBatchJob": ("documented/StartBatchJob-response.xml", False),
    "GetBatchTaskInfo": ("replies/GetBatchTaskInfo-task.xml", False),
    "UpdateBatchTask": ("replies/GetBatchTaskInfo-task.xml", True),
    "StopBatchJob": ("replies/StopBatchJob-true.xml", False),
    "DeleteBatchTask": ("documented/DeleteBatchTask-response.xml", False),
    "DeleteBatchTasks": ("replies/DeleteBatchTasks.xml", False),
}
TASK_LIST = ("replies/task-list-two.xml", True)


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


BATCH_OPERATIONS = [operation for operation in CASES.values() if operation.SERVICE.name == "Batch"]


def test_every_batch_operation_is_a_method_of_both_clients() -> None:
    names = {snake_case(type(operation).__name__) for operation in BATCH_OPERATIONS}
    assert len(names) == 15
    for client_class in (client_module.BatchClient, client_module.AsyncBatchClient):
        assert names <= set(dir(client_class))


@pytest.mark.parametrize("version", list(SoapVersion), ids=lambda v: v.name)
@pytest.mark.parametrize(
    "operation", BATCH_OPERATIONS, ids=lambda operation: type(operation).__name__
)
def test_method_sends_its_operation_and_returns_its_result(
    flavor: SyncFlavor, operation: Operation[Any], version: SoapVersion
) -> None:
    name = type(operation).__name__
    fixture, rename = REPLY_FOR.get(name, TASK_LIST)
    content = reply(fixture, version, f"{name}Response" if rename else None)
    arguments = [getattr(operation, field.name) for field in attrs.fields(type(operation))]
    with respx.mock(assert_all_called=True) as router:
        route = router.post(BATCH_URL).respond(200, content=content)
        client = flavor.make(BASE_URL, ticket=TICKET, application_token=TOKEN, soap_version=version)
        try:
            result = flavor.run(getattr(client, snake_case(name))(*arguments))
        finally:
            flavor.close(client)
    expected_request = operation.to_request(Credentials(TICKET, TOKEN), version)
    sent = route.calls.last.request
    assert route.call_count == 1
    assert canonical(sent.content) == canonical(expected_request.content)
    assert {key: sent.headers[key] for key in expected_request.headers} == expected_request.headers
    assert result == operation.parse_response(content)
