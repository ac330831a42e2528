"""Shared test helpers: fixture files, canonical XML, sample tasks, and the fixtures that
run client tests: the client flavor, the SOAP version, a respx router and a client maker.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import respx
from lxml import etree

from flavors import FLAVORS, SyncFlavor, share_default_tls_contexts
from superoffice_batch import (
    BatchTaskCancellationBehaviour,
    BatchTaskInfo,
    BatchTaskState,
    SoapVersion,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

XS = "http://www.w3.org/2001/XMLSchema"

DOC_TICKET = "7T:1234abcxyzExample=="
DOC_APP_TOKEN = "1234567-1234-9876"

# Where the respx-mocked clients send.
BASE_URL = "https://sod2.superoffice.com/Cust12345"
BATCH_URL = f"{BASE_URL}/Remote/Services88/Batch.svc"
PRINCIPAL_URL = f"{BASE_URL}/Remote/Services88/SoPrincipal.svc"
APP_TOKEN = "app-secret-d41d8cd98f00"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (pyproject's addopts): one worker more than there are cores. Much of
    the suite waits on loopback sockets and job clocks, and a spare worker fills those
    waits: on 2 cores, 3 workers took 36 s where 2 took 46 s."""
    return (os.cpu_count() or 1) + 1


def fixture_bytes(relative: str) -> bytes:
    """The bytes of a file under fixtures/."""
    return (FIXTURES / relative).read_bytes()


@cache
def _wsdl(name: str) -> etree._ElementTree:
    return etree.parse(str(FIXTURES / "wsdl" / name))


def _schema_definition(wsdl: str, kind: str, name: str) -> etree._Element:
    for definition in _wsdl(wsdl).iter(f"{{{XS}}}{kind}"):
        if definition.get("name") == name:
            return definition
    raise LookupError(f"{kind} {name} not in {wsdl}")


def wsdl_sequence(wsdl: str, complex_type: str) -> list[tuple[str, tuple[str, str]]]:
    """The elements a WSDL complexType declares itself, in order, as (name, (type ns, type)).

    Inherited elements (the base type's) are not included; the type is resolved to its
    namespace URI, the form codecs use for ``type_name``.
    """
    definition = _schema_definition(wsdl, "complexType", complex_type)
    elements = []
    for element in definition.iterfind(f".//{{{XS}}}sequence/{{{XS}}}element"):
        prefix, local = element.get("type").split(":")
        elements.append((element.get("name"), (element.nsmap[prefix], local)))
    return elements


def wsdl_enumeration(wsdl: str, simple_type: str) -> list[str]:
    """The values of a WSDL simpleType enumeration, in declaration order."""
    definition = _schema_definition(wsdl, "simpleType", simple_type)
    return [value.get("value") for value in definition.iter(f"{{{XS}}}enumeration")]


def canonical(xml: bytes | etree._Element) -> bytes:
    """Inclusive C14N of a document with whitespace-only text dropped.

    Inclusive (not exclusive) C14N keeps unused namespace declarations, which are part of
    the documented envelope.
    """
    if isinstance(xml, bytes):
        xml = etree.fromstring(xml, etree.XMLParser(remove_blank_text=True))
    return etree.tostring(xml, method="c14n")


def documented_task(timestamp: datetime) -> BatchTaskInfo:
    """The values SuperOffice's example pages carry: empty strings, one empty pair."""
    return BatchTaskInfo(
        name="",
        parameter_object={"": ""},
        last_started=timestamp,
        created=timestamp,
        database_serial_number="",
        context="",
        result="",
        description="",
        response="",
        request="",
        progress_description="",
        file_name="",
    )


def fully_populated_task() -> BatchTaskInfo:
    """A task with every field set to a non-default value."""
    return BatchTaskInfo(
        id=4711,
        name="ExportTask",
        associate_id=-1,
        details_table=32767,
        details_record=2147483647,
        is_system_task=True,
        is_internal_task=True,
        parameter_object={"format": "csv", "delimiter": ";", "empty": "", "nothing": None},
        last_started=datetime(2025, 5, 7, 14, 30, 10, 123400, tzinfo=timezone.utc),
        created=datetime(
            2024, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5, minutes=-30))
        ),
        start_count=3,
        database_serial_number="SO-1234",
        context="nightly",
        result="",
        state=BatchTaskState.STARTED,
        description='Export <all> & "everything" — ø æ å',
        response="resp",
        request="req",
        progress_description="Step 2 of 3",
        progress_percent=66,
        file_name="export.csv",
        cancellation_behaviour=BatchTaskCancellationBehaviour.CANCEL_WITH_WARNING,
    )


@pytest.fixture
def full_task() -> BatchTaskInfo:
    return fully_populated_task()


@pytest.fixture(params=FLAVORS, ids=lambda flavor: flavor.name)
def flavor(request: pytest.FixtureRequest) -> Iterator[SyncFlavor]:
    """Each client test runs once per client: BatchClient and AsyncBatchClient."""
    driver = request.param()
    yield driver
    driver.finish()


@pytest.fixture
def http_client_factory(flavor: SyncFlavor) -> Iterator[Callable[..., Any]]:
    """Injected httpx clients of the flavor's kind, closed by the test, not by the library."""
    made: list[Any] = []

    def make(**kwargs: Any) -> Any:
        http = flavor.http_client_class(**kwargs)
        made.append(http)
        return http

    yield make
    for http in made:
        flavor.close_http(http)


@pytest.fixture
def sleeps(flavor: SyncFlavor, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The back-off and polling delays a client asked for; nothing actually sleeps."""
    delays: list[float] = []
    flavor.patch_sleep(monkeypatch, delays.append)
    return delays


SOAP_VERSIONS = {"soap11": SoapVersion.SOAP11, "soap12": SoapVersion.SOAP12}


@pytest.fixture(params=list(SOAP_VERSIONS.values()), ids=list(SOAP_VERSIONS))
def soap(request: pytest.FixtureRequest) -> SoapVersion:
    """Each test that takes it runs once per SOAP version: ``make`` pins the client to it,
    and the test answers in it."""
    return request.param  # type: ignore[no-any-return]


def soap_taking_turns(variants: Iterable[object], ids: Callable[[Any], str] = str) -> list[Any]:
    """``(variant, soap)`` parameters: each variant once, the SOAP versions taking turns.

    For a test whose variants differ in nothing the envelope carries (an HTTP status or a
    transport error instead of a reply, a message text, a poll interval): the test still
    runs in both versions, without repeating every variant in each. Use it as
    ``@pytest.mark.parametrize(("failure", "soap"), soap_taking_turns(FAILURES))``.
    """
    versions = itertools.cycle(SOAP_VERSIONS.items())  # endless: zip stops at the variants
    return [
        pytest.param(variant, version, id=f"{ids(variant)}-{name}")
        for variant, (name, version) in zip(variants, versions, strict=False)
    ]


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    # assert_all_mocked (the default) turns a request to any other URL into an error.
    with respx.mock(assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def batch(router: respx.MockRouter) -> respx.Route:
    """The Batch.svc route of ``router``; the test says how it answers."""
    return router.post(BATCH_URL)


@pytest.fixture
def client_defaults() -> dict[str, Any]:
    """Options ``make`` gives every client; a test module overrides this to add its own.

    A default ``ticket`` gives way when the test passes ``auth``.
    """
    return {"application_token": APP_TOKEN}


@pytest.fixture
def make(
    flavor: SyncFlavor,
    client_defaults: dict[str, Any],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., Any]]:
    """``make(base_url=BASE_URL, **options)``: a client of the flavor, closed after the test.

    When the test takes the ``soap`` fixture the client is pinned to that version (pass
    ``soap_version`` to override); otherwise it negotiates, as by default.
    """
    share_default_tls_contexts(monkeypatch)  # respx only: no TLS handshake happens
    defaults = dict(client_defaults)
    if "soap" in request.fixturenames:
        defaults["soap_version"] = request.getfixturevalue("soap")
    made: list[Any] = []

    def build(base_url: object = BASE_URL, **options: Any) -> Any:
        chosen = {**defaults, **options}
        if "auth" in options and "ticket" not in options:
            chosen.pop("ticket", None)
        client = flavor.make(base_url, **chosen)
        made.append(client)
        return client

    yield build
    for client in made:
        flavor.close(client)
