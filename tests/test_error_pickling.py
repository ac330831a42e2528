"""Every library exception survives pickling (process pools, multiprocessing, task queues).

Each sample sets every constructor argument to something other than its default, so a
restored attribute that fell back to a default shows. The comparison covers whatever the
instance's ``__dict__`` holds: an attribute added later is checked without a change here.
"""

from __future__ import annotations

import copy
import pickle
from datetime import datetime, timezone
from typing import Any

import attrs
import pytest

from superoffice_batch import (
    AuthenticationError,
    BatchTaskFailed,
    BatchTaskInfo,
    BatchTaskState,
    BatchTaskTimeout,
    HttpError,
    Principal,
    ProtocolError,
    ServiceError,
    SoapFault,
    SuperOfficeError,
    TenantUnavailable,
    TransportError,
    errors,
)
from superoffice_batch.secrets import NO_SECRETS
from superoffice_batch.servertext import ServerText

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"


def said(text: str) -> ServerText:
    """``text`` as the server's words (no secret to mask)."""
    return ServerText(text, NO_SECRETS)


TASK = BatchTaskInfo(
    id=42,
    name="ExportTask",
    created=datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc),
    state=BatchTaskState.FAILED,
    result="disk full",
)

SAMPLES: dict[type[SuperOfficeError], SuperOfficeError] = {
    SuperOfficeError: SuperOfficeError("something went wrong"),
    TransportError: TransportError("ConnectError on POST https://x/: refused", request_sent=False),
    HttpError: HttpError(502, said("<html>Bad Gateway</html>"), said("text/html")),
    ProtocolError: ProtocolError("not XML", quoting=said("x"), status_code=200, body=said("<html")),
    SoapFault: SoapFault(
        said(f"{{{SOAP12}}}Sender"),
        said("The action is not supported"),
        subcodes=(said("{urn:a}ActionNotSupported"), said("{urn:b}Deeper")),
        detail=said("<Detail>why</Detail>"),
        status_code=500,
    ),
    ServiceError: ServiceError(
        exception_type=said("SoException"),
        message=said("No such task"),
        friendly_text=said("The task is gone"),
        source=said("NetServer.Batch"),
        parameters={said("Id"): said("42"), said("Empty"): None},
        stack_trace=said("at Batch.Get()"),
        inner_exception=ServiceError(exception_type=said("SqlException"), message=said("timeout")),
        status_code=500,
    ),
    AuthenticationError: AuthenticationError(
        "authentication failed", principal=Principal(associate="demo", associate_id=7)
    ),
    TenantUnavailable: TenantUnavailable("Cust12345", said("OfflineMaintenance")),
    BatchTaskFailed: BatchTaskFailed("batch task 42 failed", TASK, quoting=said("disk full")),
    BatchTaskTimeout: BatchTaskTimeout(
        "batch task 42 had not finished after 5 s; its state", TASK, quoting=said("InProgress")
    ),
}


def state(error: BaseException) -> tuple[Any, ...]:
    """What makes an error this error: type, args, message and every attribute, nested
    errors by their own state (exceptions compare by identity)."""
    attributes = {
        name: state(value) if isinstance(value, BaseException) else value
        for name, value in vars(error).items()
    }
    return type(error), error.args, str(error), attributes


def exception_classes() -> list[type[SuperOfficeError]]:
    exported = (getattr(errors, name) for name in errors.__all__)
    return [item for item in exported if isinstance(item, type) and issubclass(item, Exception)]


def test_every_exported_exception_class_has_a_sample() -> None:
    assert set(exception_classes()) == set(SAMPLES)


@pytest.mark.parametrize("protocol", [0, pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL])
@pytest.mark.parametrize("cls", list(SAMPLES), ids=lambda cls: cls.__name__)
def test_exception_round_trips_through_pickle(cls: type[SuperOfficeError], protocol: int) -> None:
    error = SAMPLES[cls]
    assert type(error) is cls

    restored = pickle.loads(pickle.dumps(error, protocol=protocol))

    assert restored is not error
    assert state(restored) == state(error)


def test_every_constructor_argument_is_kept_as_an_attribute() -> None:
    # The round trip compares __dict__: these are the attributes it must at least carry.
    expected = {
        TransportError: {"request_sent"},
        HttpError: {"status_code", "excerpt", "content_type"},
        ProtocolError: {"reason", "status_code", "excerpt"},
        SoapFault: {"code", "subcodes", "reason", "detail", "status_code"},
        ServiceError: {
            "exception_type",
            "message",
            "friendly_text",
            "source",
            "parameters",
            "stack_trace",
            "inner_exception",
            "status_code",
        },
        AuthenticationError: {"principal"},
        TenantUnavailable: {"context_identifier", "state"},
        BatchTaskFailed: {"info"},
        BatchTaskTimeout: {"info"},
    }
    for cls, names in expected.items():
        restored = pickle.loads(pickle.dumps(SAMPLES[cls]))
        assert names <= set(vars(restored)), cls.__name__


def test_nested_service_error_is_restored_as_a_service_error() -> None:
    restored = pickle.loads(pickle.dumps(SAMPLES[ServiceError]))
    assert isinstance(restored, ServiceError)
    inner = restored.inner_exception
    assert isinstance(inner, ServiceError)
    assert (inner.exception_type, inner.message) == ("SqlException", "timeout")


def test_properties_work_on_a_restored_error() -> None:
    restored = pickle.loads(pickle.dumps(SAMPLES[SoapFault]))
    assert restored.code_name == "Sender"
    assert "may not exist on this NetServer version" in str(restored)


def test_attributes_set_after_construction_and_notes_are_kept() -> None:
    error = HttpError(503, said("busy"))
    error.retry_after = 30  # type: ignore[attr-defined]
    error.__notes__ = ["while polling job 42"]
    restored = pickle.loads(pickle.dumps(error))
    assert restored.retry_after == 30  # type: ignore[attr-defined]
    assert restored.__notes__ == ["while polling job 42"]


def test_subclass_of_a_library_error_pickles_too() -> None:
    class_ = type("RetryableHttpError", (HttpError,), {"__module__": __name__})
    globals()["RetryableHttpError"] = class_  # pickle finds classes by module and name
    try:
        error = class_(429, said("slow down"), said("text/plain"))
        assert state(pickle.loads(pickle.dumps(error))) == state(error)
    finally:
        del globals()["RetryableHttpError"]


def test_job_outcome_with_parameters_round_trips_through_pickle() -> None:
    task = attrs.evolve(TASK, parameter_object={"Format": "csv"})
    error = BatchTaskFailed("batch task 42 failed: disk full", task)
    assert state(pickle.loads(pickle.dumps(error))) == state(error)


def test_copy_and_deepcopy_keep_every_attribute() -> None:
    error = SAMPLES[ServiceError]
    assert state(copy.copy(error)) == state(error)
    assert state(copy.deepcopy(error)) == state(error)
