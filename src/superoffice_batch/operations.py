"""Service operations as values: each builds its request and reads its reply, without I/O.

An operation is a small frozen attrs class named exactly as in the WSDL. Its fields are
the request's children in WSDL order (declared with :func:`arg`), and two class
attributes say the rest: ``SERVICE`` (which endpoint) and ``RETURNS`` (how the
``<Op>Response`` element becomes a Python value). The shared machinery below does the
building and parsing for all of them, so adding an operation is a declaration::

    @attrs.frozen
    class StopBatchJob(Operation[bool]):
        SERVICE = BATCH
        RETURNS = Returns(XSD_BOOLEAN)
        id: int = attrs.field(metadata=arg("Id", XSD_INT))

Use them directly for your own I/O (the clients do exactly this)::

    op = StartBatchJob(BatchTaskInfo(name="ExportTask"))
    request = op.to_request(Credentials(ticket="7T:..."), SoapVersion.SOAP12)
    ...  # POST request.content with request.headers to <base url>/<request.path>
    job_id = op.parse_response(body, status_code=200, content_type="...")
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Generic, TypeVar

import attrs
from lxml import etree

from .envelope import BATCH, DEFAULT_MAX_RESPONSE_BYTES, Service, SoapVersion, open_reply
from .errors import ProtocolError, excerpt, redact
from .models import BatchTaskInfo, Credentials
from .xmlvalues import (
    TNS,
    XSD_INT,
    Codec,
    ModelCodec,
    WireField,
    compile_fields,
    tns,
    wire_fields,
    wire_metadata,
    write_fields,
)

__all__ = ["Operation", "Request", "Returns", "StartBatchJob", "arg"]

T = TypeVar("T")


@attrs.frozen
class Request:
    """Everything needed to send one call over HTTP: POST ``content`` to ``base/path``.

    ``content`` holds the ticket and application token, so it is left out of ``repr()``.
    """

    operation: str
    path: str
    headers: dict[str, str]
    content: bytes = attrs.field(repr=False)
    soap_version: SoapVersion


class Returns(Generic[T]):
    """How an operation's reply becomes its result: the codec of one child of ``<Op>Response``.

    A result of a value type (int, bool) must be present and not nil; a nullable one
    (a task, a list) reads as the codec's default when absent.
    """

    def __init__(self, codec: Codec[T], local: str = "Response") -> None:
        self.codec = codec
        self.tag = tns(local)

    def read(self, payload: etree._Element) -> T:
        """Decode the result from the ``<Op>Response`` element; ``ValueError`` if malformed."""
        tag = self.tag
        for child in payload:
            if child.tag == tag:
                if self.codec.nullable:
                    return self.codec.read(child)
                return self.codec.read_required(child)
        if not self.codec.nullable:
            raise ValueError(f"{etree.QName(tag).localname} element is missing")
        return self.codec.default  # type: ignore[no-any-return]


arg = wire_metadata
"""``attrs.field(metadata=arg("Id", XSD_INT))``: an argument sent as element ``Id``."""


class _Spec:
    """What an operation class declares, compiled once: tags, action, HTTP headers."""

    def __init__(self, cls: type[Operation[Any]]) -> None:
        self.name = cls.__name__
        self.service: Service = cls.SERVICE
        self.returns: Returns[Any] = cls.RETURNS
        self.start_tag, self.end_tag = self.service.markup.tags(tns(self.name))
        self.response_tag = tns(cls.RESPONSE_ELEMENT or f"{self.name}Response")
        self.args: tuple[WireField, ...] = wire_fields(cls)
        self.plan = compile_fields(self.args, self.service.markup)
        action = self.service.action(self.name)
        self.headers = {version: version.http_headers(action) for version in SoapVersion}


_SPECS: dict[type[Any], _Spec] = {}


def _spec_of(cls: type[Operation[Any]]) -> _Spec:
    spec = _SPECS.get(cls)
    if spec is None:
        spec = _SPECS[cls] = _Spec(cls)
    return spec


class Operation(Generic[T]):
    """Base of all operations: builds the request envelope and reads the reply.

    Subclasses are frozen attrs classes that set ``SERVICE`` and ``RETURNS`` and declare
    their arguments with :func:`arg`. Arguments are checked when the operation is
    created, so a bad value raises ``TypeError``/``ValueError`` before anything is sent.
    """

    SERVICE: ClassVar[Service]
    RETURNS: ClassVar[Returns[Any]]
    RESPONSE_ELEMENT: ClassVar[str | None] = None
    """The Body element of a successful reply, when it is not ``<Op>Response``."""

    __slots__ = ()

    def __attrs_post_init__(self) -> None:
        for field in _spec_of(type(self)).args:
            field.check(getattr(self, field.attr))

    def to_request(
        self,
        credentials: Credentials | None = None,
        soap_version: SoapVersion = SoapVersion.SOAP12,
    ) -> Request:
        """Build the HTTP request for this call: path, headers and the whole envelope."""
        if credentials is not None and not isinstance(credentials, Credentials):
            raise TypeError(f"credentials must be Credentials, not {type(credentials).__name__}")
        if not isinstance(soap_version, SoapVersion):
            raise TypeError(f"soap_version must be a SoapVersion, not {soap_version!r}")
        spec = _spec_of(type(self))
        service = spec.service
        markup = service.markup
        out: list[str] = []
        service.open_envelope(out, soap_version, credentials)
        out.append(spec.start_tag)
        write_fields(out, spec.plan, self, markup)
        out.append(spec.end_tag)
        content = service.close_envelope(out)
        return Request(
            spec.name, service.path, dict(spec.headers[soap_version]), content, soap_version
        )

    def parse_response(
        self,
        content: bytes,
        *,
        status_code: int = 200,
        content_type: str | None = None,
        secrets: Iterable[str] = (),
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> T:
        """Turn a reply into this operation's result, or raise a ``SuperOfficeError``.

        ``secrets`` (a ticket, a token…) are masked in any reply text an error keeps;
        text shaped like a ticket is masked regardless.
        """
        spec = _spec_of(type(self))
        secrets = tuple(secrets)
        payload, _header = open_reply(
            content,
            status_code=status_code,
            content_type=content_type,
            max_bytes=max_response_bytes,
            secrets=secrets,
        )
        if payload.tag != spec.response_tag:
            raise ProtocolError(
                f"{spec.name}: expected {etree.QName(spec.response_tag).localname} in the "
                f"SOAP Body, found {etree.QName(payload).text}",
                status_code=status_code,
                excerpt=excerpt(content, secrets),
            )
        try:
            return spec.returns.read(payload)  # type: ignore[no-any-return]
        except (ValueError, TypeError) as error:
            problem = redact(str(error), secrets)
        # Raised outside the except block: the original error quotes reply text unmasked.
        raise ProtocolError(
            f"{spec.name}: malformed reply: {problem}",
            status_code=status_code,
            excerpt=excerpt(content, secrets),
        )


# -- Batch.svc ------------------------------------------------------------------------

# Nillable in the WSDL, but a job needs a task to run.
_TASK_TO_RUN = ModelCodec(BatchTaskInfo, (TNS, "BatchTaskInfo"), nullable=False)


@attrs.frozen
class StartBatchJob(Operation[int]):
    """Start a batch job from a task description; returns the id of the new task."""

    SERVICE = BATCH
    RETURNS = Returns(XSD_INT)

    batch_task_info: BatchTaskInfo = attrs.field(metadata=arg("BatchTaskInfo", _TASK_TO_RUN))
