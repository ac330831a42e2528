"""The public surface as tools read it at run time: help(), inspect, Sphinx, frameworks.

Both clients are walked: every public method is a plain function with a real signature
(named, annotated parameters) and a docstring; the async client's are coroutine
functions; and both clients offer the same methods with the same parameters.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import pydoc
import re
from collections.abc import Callable
from typing import Any

import attrs
import httpx
import pytest
import respx

import superoffice_batch
from conftest import BASE_URL, BATCH_URL
from replies import started, task
from superoffice_batch import (
    AsyncBatchClient,
    BatchClient,
    BatchTaskInfo,
    BatchTaskState,
    SoapVersion,
)
from superoffice_batch import operations as ops
from superoffice_batch.client import USER_AGENT

TICKET = "7T:cHVibGljLWFwaS10aWNrZXQ="
JOB = 4711

BATCH_OPERATIONS = {
    "start_batch_job": ops.StartBatchJob,
    "get_batch_task_info": ops.GetBatchTaskInfo,
    "update_batch_task": ops.UpdateBatchTask,
    "stop_batch_job": ops.StopBatchJob,
    "delete_batch_task": ops.DeleteBatchTask,
    "delete_batch_tasks": ops.DeleteBatchTasks,
    "get_batch_task_infos_by_associates": ops.GetBatchTaskInfosByAssociates,
    "get_batch_task_infos_by_state": ops.GetBatchTaskInfosByState,
    "get_batch_task_infos_by_name_and_state": ops.GetBatchTaskInfosByNameAndState,
    "get_batch_task_infos_by_name_and_associates": ops.GetBatchTaskInfosByNameAndAssociates,
    "get_batch_task_infos_by_associates_and_state": ops.GetBatchTaskInfosByAssociatesAndState,
    "get_all_batch_task_infos_by_name": ops.GetAllBatchTaskInfosByName,
    "get_all_batch_task_infos_by_name_and_state": ops.GetAllBatchTaskInfosByNameAndState,
    "get_system_batch_task_infos_by_name": ops.GetSystemBatchTaskInfosByName,
    "get_system_batch_task_infos_by_name_and_state": ops.GetSystemBatchTaskInfosByNameAndState,
}
HELPERS = ("wait_for_batch_task", "run_batch_job", "tenant_state")
# The one method whose name differs: closing is awaited in the async client.
CLOSE = {BatchClient: "close", AsyncBatchClient: "aclose"}
CLIENTS = [BatchClient, AsyncBatchClient]


def public_methods(cls: type[Any]) -> dict[str, Callable[..., Any]]:
    """The public functions of a client class, as its class dictionary chain holds them."""
    return {
        name: member
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_every_batch_operation_of_the_wsdl_has_a_method() -> None:
    batch_operations = {
        cls
        for name in ops.__all__
        if isinstance(cls := getattr(ops, name), type)
        and issubclass(cls, ops.Operation)
        and getattr(cls, "SERVICE", None) is not None
        and cls.SERVICE.name == "Batch"
        and attrs.has(cls)
    }
    assert batch_operations == set(BATCH_OPERATIONS.values())


@pytest.mark.parametrize("cls", CLIENTS, ids=lambda cls: cls.__name__)
def test_clients_expose_the_batch_methods_and_helpers(cls: type[Any]) -> None:
    expected = {*BATCH_OPERATIONS, *HELPERS, "call", "call_reply", CLOSE[cls]}
    assert set(public_methods(cls)) == expected


@pytest.mark.parametrize("cls", CLIENTS, ids=lambda cls: cls.__name__)
def test_methods_have_names_signatures_annotations_and_docstrings(cls: type[Any]) -> None:
    for name, method in public_methods(cls).items():
        assert method.__name__ == name
        assert method.__qualname__ == f"{cls.__name__}.{name}"
        assert (method.__doc__ or "").strip(), f"{name} has no docstring"
        signature = inspect.signature(method)
        [first, *parameters] = signature.parameters.values()
        assert first.name == "self"
        for parameter in parameters:
            assert parameter.kind is not parameter.VAR_POSITIONAL, name
            assert parameter.kind is not parameter.VAR_KEYWORD, name
            assert parameter.annotation is not parameter.empty, f"{name}({parameter.name})"
        assert signature.return_annotation is not signature.empty, name
        # On an instance too: a bound method, not something a descriptor made up.
        bound = inspect.signature(getattr(cls.__new__(cls), name))
        assert list(bound.parameters.values()) == parameters


def test_async_methods_are_coroutine_functions_and_sync_ones_are_not() -> None:
    for name, method in public_methods(AsyncBatchClient).items():
        assert inspect.iscoroutinefunction(method), name
    for method_name in ("__aenter__", "__aexit__"):
        assert inspect.iscoroutinefunction(getattr(AsyncBatchClient, method_name))
    for name, method in public_methods(BatchClient).items():
        assert not inspect.iscoroutinefunction(method), name


def test_both_clients_take_the_same_parameters_and_describe_methods_alike() -> None:
    sync, asynchronous = public_methods(BatchClient), public_methods(AsyncBatchClient)
    sync.pop(CLOSE[BatchClient])
    asynchronous.pop(CLOSE[AsyncBatchClient])
    assert set(sync) == set(asynchronous)
    for name, method in sync.items():
        twin = asynchronous[name]
        mine, theirs = inspect.signature(method), inspect.signature(twin)
        assert mine.return_annotation == theirs.return_annotation, name
        for parameter, other in zip(
            mine.parameters.values(), theirs.parameters.values(), strict=True
        ):
            if parameter.name == "on_progress":
                # The async client also accepts (and awaits) a coroutine function.
                assert (parameter.annotation, other.annotation) == (
                    "ProgressCallback | None",
                    "AsyncProgressCallback | None",
                )
                other = other.replace(annotation=parameter.annotation)
            assert parameter == other, f"{name}({parameter.name})"
        assert _summary(method) == _summary(twin), name
    assert inspect.signature(BatchClient) == inspect.signature(AsyncBatchClient)


def _summary(function: Callable[..., Any]) -> str:
    return (function.__doc__ or "").strip().splitlines()[0]


@pytest.mark.parametrize("name", list(BATCH_OPERATIONS))
def test_batch_method_takes_its_operations_arguments(name: str) -> None:
    """Names, order, kinds and types are the operation's constructor's, without defaults."""
    operation = inspect.signature(BATCH_OPERATIONS[name])
    for cls in CLIENTS:
        [_self, *parameters] = inspect.signature(getattr(cls, name)).parameters.values()
        assert [(p.name, p.kind, p.annotation) for p in parameters] == [
            (p.name, p.kind, p.annotation) for p in operation.parameters.values()
        ]
        assert all(p.default is p.empty for p in parameters)


@pytest.mark.parametrize("cls", CLIENTS, ids=lambda cls: cls.__name__)
def test_help_shows_real_signatures(cls: type[Any]) -> None:
    text = pydoc.render_doc(cls, renderer=pydoc.plaintext)
    assert "PlanMethod" not in text
    assert "Start a batch job from a task description" in text
    # Python 3.13 wraps long signatures over several lines: compare without layout.
    squeezed = _squeeze(text)
    for signature in (
        "start_batch_job(self, batch_task_info: 'BatchTaskInfo') -> 'int'",
        "wait_for_batch_task(self, job_id: 'int', *, poll_interval: 'float' = 1.0,",
    ):
        assert _squeeze(signature) in squeezed


def _squeeze(text: str) -> str:
    """``text`` without white space and pydoc's ``|`` margins."""
    return re.sub(r"[\s|]+", "", text)


# -- arguments are checked when the coroutine runs ----------------------------------------


BAD_CALLS = [
    ("start_batch_job", ("not a task",), {}, "batch_task_info"),
    ("get_batch_task_info", ("5",), {}, "id"),
    ("delete_batch_tasks", ([1, "2"],), {}, "batch_task_ids"),
    ("get_batch_task_infos_by_state", (42,), {}, "state"),
    ("wait_for_batch_task", (JOB,), {"poll_interval": 0}, "poll_interval"),
    ("wait_for_batch_task", (0,), {}, "job_id"),
    ("run_batch_job", (BatchTaskInfo(name="ExportTask"),), {"on_progress": 5}, "on_progress"),
]


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "field"), BAD_CALLS, ids=[call[3] for call in BAD_CALLS]
)
def test_async_bad_arguments_raise_at_await_not_at_call(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any], field: str
) -> None:
    async def main() -> None:
        async with AsyncBatchClient(BASE_URL, ticket=TICKET) as client:
            pending = getattr(client, name)(*args, **kwargs)  # nothing raised yet
            assert inspect.iscoroutine(pending)
            with pytest.raises((TypeError, ValueError), match=field):
                await pending

    with respx.mock(assert_all_called=False) as router:
        route = router.post(BATCH_URL)
        asyncio.run(main())
    assert not route.called


# -- User-Agent and base_url ---------------------------------------------------------------


def test_user_agent_names_this_library_and_httpx_with_their_versions() -> None:
    version = importlib.metadata.version("superoffice-batch")
    assert version == superoffice_batch.__version__
    assert f"superoffice-batch/{version} httpx/{httpx.__version__}" == USER_AGENT


def _sent_user_agent(flavor: Any, **options: Any) -> str:
    with respx.mock() as router:
        route = router.post(BATCH_URL).respond(
            200, content=started(SoapVersion.SOAP12).content, headers={"Content-Type": "x"}
        )
        client = flavor.make(BASE_URL, ticket=TICKET, soap_version=SoapVersion.SOAP12, **options)
        try:
            flavor.start(client)
        finally:
            flavor.close(client)
    return str(route.calls.last.request.headers["user-agent"])


def test_default_user_agent_is_sent(flavor: Any) -> None:
    assert _sent_user_agent(flavor) == USER_AGENT


def test_injected_client_with_httpx_default_user_agent_sends_ours(
    flavor: Any, http_client_factory: Callable[..., Any]
) -> None:
    http = http_client_factory()
    assert http.headers["user-agent"].startswith("python-httpx/")
    assert _sent_user_agent(flavor, http_client=http) == USER_AGENT
    assert http.headers["user-agent"].startswith("python-httpx/"), (
        "the injected client is unchanged"
    )


def test_injected_client_keeps_its_own_user_agent(
    flavor: Any, http_client_factory: Callable[..., Any]
) -> None:
    http = http_client_factory(headers={"User-Agent": "acme-sync/2.1"})
    assert _sent_user_agent(flavor, http_client=http) == "acme-sync/2.1"


def test_user_agent_set_on_an_injected_client_later_is_respected(
    flavor: Any, http_client_factory: Callable[..., Any]
) -> None:
    http = http_client_factory()
    with respx.mock() as router:
        route = router.post(BATCH_URL).respond(200, content=started(SoapVersion.SOAP12).content)
        client = flavor.make(
            BASE_URL, ticket=TICKET, soap_version=SoapVersion.SOAP12, http_client=http
        )
        flavor.start(client)
        http.headers["User-Agent"] = "acme-sync/3.0"
        flavor.start(client)
        flavor.close(client)
    assert [call.request.headers["user-agent"] for call in route.calls] == [
        USER_AGENT,
        "acme-sync/3.0",
    ]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://sod2.superoffice.com/Cust12345", "https://sod2.superoffice.com/Cust12345/"),
        ("https://sod2.superoffice.com/Cust12345/", "https://sod2.superoffice.com/Cust12345/"),
        (
            httpx.URL("http://crm.example.com:8080/SuperOffice"),
            "http://crm.example.com:8080/SuperOffice/",
        ),
    ],
)
def test_base_url_is_the_normalised_installation_root(
    flavor: Any, given: object, expected: str
) -> None:
    client = flavor.make(given, ticket=TICKET)
    try:
        assert client.base_url == expected
        assert expected in repr(client)
        with pytest.raises(AttributeError):
            client.base_url = "https://elsewhere.example.com/"
    finally:
        flavor.close(client)


# -- on_progress ----------------------------------------------------------------------------


def _polls(events: list[str]) -> Callable[[httpx.Request], httpx.Response]:
    """A respx side effect: a job at 10 %, 60 %, then done; each poll is recorded."""
    replies = iter(
        [
            task(SoapVersion.SOAP12, BatchTaskState.STARTED, 10, "Step 1", job_id=JOB),
            task(SoapVersion.SOAP12, BatchTaskState.STARTED, 60, "Step 2", job_id=JOB),
            task(SoapVersion.SOAP12, BatchTaskState.SUCCEEDED, 100, "Done", job_id=JOB),
        ]
    )

    def poll(request: httpx.Request) -> httpx.Response:
        events.append("poll")
        return next(replies)

    return poll


def _wait_async(on_progress: Any, events: list[str]) -> BatchTaskInfo:
    async def main() -> BatchTaskInfo:
        async with AsyncBatchClient(
            BASE_URL, ticket=TICKET, soap_version=SoapVersion.SOAP12
        ) as client:
            return await client.wait_for_batch_task(
                JOB, poll_interval=0.001, on_progress=on_progress
            )

    with respx.mock() as router:
        router.post(BATCH_URL).mock(side_effect=_polls(events))
        return asyncio.run(main())


def test_async_client_awaits_a_coroutine_function_on_progress() -> None:
    events: list[str] = []

    async def on_progress(info: BatchTaskInfo) -> None:
        events.append(f"start {info.progress_percent}")
        await asyncio.sleep(0.001)  # suspends: polling must wait for the callback to end
        events.append(f"end {info.progress_percent}")

    final = _wait_async(on_progress, events)

    assert final.state is BatchTaskState.SUCCEEDED
    assert events == [
        *("poll", "start 10", "end 10"),
        *("poll", "start 60", "end 60"),
        *("poll", "start 100", "end 100"),
    ]


def test_async_client_awaits_what_a_plain_callable_on_progress_returns() -> None:
    events: list[str] = []

    async def report(info: BatchTaskInfo) -> None:
        events.append(f"reported {info.progress_percent}")

    final = _wait_async(lambda info: report(info), events)  # not a coroutine function

    assert final.progress_percent == 100
    assert events == ["poll", "reported 10", "poll", "reported 60", "poll", "reported 100"]


def test_async_on_progress_errors_propagate_and_stop_polling() -> None:
    events: list[str] = []

    async def on_progress(info: BatchTaskInfo) -> None:
        if info.progress_percent == 60:
            raise RuntimeError("the caller's callback broke")

    with pytest.raises(RuntimeError, match="callback broke"):
        _wait_async(on_progress, events)
    assert events == ["poll", "poll"]


@pytest.mark.parametrize("method", ["wait_for_batch_task", "run_batch_job"])
def test_sync_client_refuses_a_coroutine_function_on_progress(
    method: str, router: respx.MockRouter
) -> None:
    route = router.post(BATCH_URL)

    async def on_progress(info: BatchTaskInfo) -> None:
        raise AssertionError("never called")

    target = JOB if method == "wait_for_batch_task" else BatchTaskInfo(name="ExportTask")
    with BatchClient(BASE_URL, ticket=TICKET) as client, pytest.raises(TypeError) as raised:
        getattr(client, method)(target, on_progress=on_progress)

    assert re.search(r"on_progress .*coroutine function .*AsyncBatchClient", str(raised.value))
    assert not route.called


def test_sync_client_refuses_an_on_progress_that_returns_a_coroutine(
    router: respx.MockRouter,
) -> None:
    events: list[str] = []
    router.post(BATCH_URL).mock(side_effect=_polls(events))

    async def report(info: BatchTaskInfo) -> None:
        raise AssertionError("never run")

    client = BatchClient(BASE_URL, ticket=TICKET, soap_version=SoapVersion.SOAP12)
    with client, pytest.raises(TypeError, match="on_progress returned a coroutine"):
        client.wait_for_batch_task(JOB, on_progress=lambda info: report(info))

    assert events == ["poll"], "the first snapshot's report fails: no more polls"


def test_the_client_module_exports_no_plan_steps() -> None:
    # Issue 17: steps are the policy's (superoffice_batch.policy), not the client's API.
    from superoffice_batch import client, policy

    assert not {"NeedCredentials", "NeedTenant"} & set(client.__all__)
    assert {"NeedCredentials", "NeedTenant"} <= set(policy.__all__)
    for name in client.__all__:
        assert getattr(client, name) is not None
    assert {"BatchClient", "AsyncBatchClient", "DEFAULT_CALL_DEADLINE", "USER_AGENT"} <= set(
        client.__all__
    )
