"""Service operations as values: each builds its request and reads its reply, without I/O.

An operation is a small frozen attrs class named exactly as in the WSDL. Its fields are
the request's children in WSDL order (declared with :func:`arg`), and class attributes
say the rest: ``SERVICE`` (which endpoint), ``RETURNS`` (how the ``<Op>Response``
element becomes a Python value) and ``READ_ONLY`` (safe to repeat). The shared
machinery below does the building and parsing for all of them, so adding an operation
is a declaration::

    @attrs.frozen
    class StopBatchJob(Operation[bool]):
        SERVICE = BATCH
        RETURNS = Returns(XSD_BOOLEAN)
        id: int = attrs.field(metadata=arg("Id", XSD_INT))

Batch.svc: :class:`StartBatchJob`, :class:`GetBatchTaskInfo`, :class:`StopBatchJob`,
:class:`UpdateBatchTask`, :class:`DeleteBatchTask`, :class:`DeleteBatchTasks` and the
``Get…BatchTaskInfos…`` queries. SoPrincipal.svc (where tickets come from): the four
``Authenticate…`` operations and ``GetSystemInfo``, in :mod:`superoffice_batch.soprincipal`
(loaded on first use; importable from here too).

Use them directly for your own I/O (the clients do exactly this)::

    op = StartBatchJob(BatchTaskInfo(name="ExportTask"))
    request = op.to_request(Credentials(ticket="7T:..."), SoapVersion.SOAP12)
    ...  # POST request.content with request.headers to <base url>/<request.path>
    job_id = op.parse_response(body, status_code=200, content_type="...")
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Generic, TypeVar, cast

import attrs
from lxml import etree

from ._lazy import lazy_names
from .envelope import (
    BATCH,
    DEFAULT_MAX_RESPONSE_BYTES,
    Service,
    SoapVersion,
    open_reply,
    read_reply_headers,
    serialize,
)
from .errors import ProtocolError, SuperOfficeError
from .models import (
    BATCH_TASK_INFO,
    BATCH_TASK_INFO_LIST,
    STATE,
    BatchTaskInfo,
    BatchTaskState,
    Credentials,
    ReplyHeaders,
    TimeZone,
)
from .secrets import NO_SECRETS, SecretView
from .servertext import ServerText
from .xmlvalues import (
    EMPTY,
    TNS,
    XSD_BOOLEAN,
    XSD_INT,
    XSD_STRING,
    Checked,
    Codec,
    IntArrayCodec,
    ModelCodec,
    WireField,
    checked_fields,
    copier,
    field_plan,
    fill_fields,
    tns,
    wire_metadata,
)

__all__ = [
    "NOTHING",
    "DeleteBatchTask",
    "DeleteBatchTasks",
    "GetAllBatchTaskInfosByName",
    "GetAllBatchTaskInfosByNameAndState",
    "GetBatchTaskInfo",
    "GetBatchTaskInfosByAssociates",
    "GetBatchTaskInfosByAssociatesAndState",
    "GetBatchTaskInfosByNameAndAssociates",
    "GetBatchTaskInfosByNameAndState",
    "GetBatchTaskInfosByState",
    "GetSystemBatchTaskInfosByName",
    "GetSystemBatchTaskInfosByNameAndState",
    "Operation",
    "Reply",
    "Request",
    "Returns",
    "StartBatchJob",
    "StopBatchJob",
    "UpdateBatchTask",
    "arg",
    "build_envelope",
]

__getattr__ = lazy_names(
    __name__,
    "superoffice_batch.soprincipal",
    (
        "AuthenticateGeneric",
        "AuthenticateImplicit",
        "AuthenticateUsernamePassword",
        "AuthenticateWithAccessToken",
        "GetSystemInfo",
    ),
)

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


@attrs.frozen
class Reply(Generic[T]):
    """A call's result together with NetServer's reply headers."""

    result: T
    headers: ReplyHeaders


class Returns(Generic[T]):
    """How an operation's reply becomes its result.

    Usually the codec of one child of ``<Op>Response`` (``local``, ``Response`` unless
    the WSDL says otherwise). ``local=None`` decodes the payload element itself: the
    ``AuthenticateResponse`` of SoPrincipal, or an empty response (:data:`NOTHING`).

    A child result of a value type (int, bool) must be present and not nil; a nullable
    one (a task, a list) reads as the codec's default when absent.
    """

    def __init__(self, codec: Codec[T], local: str | None = "Response") -> None:
        self.codec = codec
        self.tag = None if local is None else tns(local)

    def read(self, payload: etree._Element) -> T:
        """Decode the result from the ``<Op>Response`` element; ``ValueError`` if malformed."""
        tag = self.tag
        if tag is None:
            return self.codec.read(payload)
        found = None
        for child in payload:
            if child.tag == tag:
                if found is not None:
                    raise ValueError(f"two {etree.QName(tag).localname} elements")
                found = child
        if found is None:
            if not self.codec.nullable:
                raise ValueError(f"{etree.QName(tag).localname} element is missing")
            return self.codec.absent()
        if self.codec.nullable:
            return self.codec.read(found)
        return self.codec.read_required(found)


NOTHING: Returns[None] = Returns(EMPTY, local=None)
"""The result of an operation whose ``<Op>Response`` is an empty sequence: ``None``."""

arg = wire_metadata
"""``attrs.field(metadata=arg("Id", XSD_INT))``: an argument sent as element ``Id``."""


class _Spec:
    """What an operation class declares, compiled once: tags, action, HTTP headers."""

    def __init__(self, cls: type[Operation[Any]]) -> None:
        self.name = cls.__name__
        self.service: Service = cls.SERVICE
        self.returns: Returns[Any] = cls.RETURNS
        self.response_tag = tns(cls.RESPONSE_ELEMENT or f"{self.name}Response")
        self.args: tuple[WireField, ...] = checked_fields(cls)
        self.plan = field_plan(self.args)
        self.new_request = {
            version: copier(self.service.request_prototype(version, self.name, self.args))
            for version in SoapVersion
        }
        self.secret_args = tuple(field for field in self.args if field.codec.secret)
        action = self.service.action(self.name)
        self.headers = {version: version.http_headers(action) for version in SoapVersion}


_SPECS: dict[type[Any], _Spec] = {}


def _spec_of(cls: type[Operation[Any]]) -> _Spec:
    spec = _SPECS.get(cls)
    if spec is None:
        spec = _SPECS[cls] = _Spec(cls)
    return spec


def build_envelope(
    operation: Operation[Any],
    credentials: Credentials | None,
    soap_version: SoapVersion,
    time_zone: TimeZone | None = None,
) -> bytes:
    """The whole request envelope of ``operation``, as bytes: the one way requests are built.

    A copy of the operation's prototype request gets its header blocks, and the
    arguments' codecs write their values into their elements in the Body.
    """
    spec = _spec_of(type(operation))
    service = spec.service
    envelope = spec.new_request[soap_version]()
    service.fill_header(envelope, credentials, time_zone)
    fill_fields(envelope[-1][0], spec.plan, operation, service.protos)
    return serialize(envelope)


class Operation(Checked, Generic[T]):
    """Base of all operations: builds the request envelope and reads the reply.

    Subclasses are frozen attrs classes that set ``SERVICE`` and ``RETURNS`` and declare
    their arguments with :func:`arg`. Arguments are checked when the operation is
    created, so a bad value raises ``TypeError``/``ValueError`` before anything is sent.
    """

    SERVICE: ClassVar[Service]
    RETURNS: ClassVar[Returns[Any]]
    RESPONSE_ELEMENT: ClassVar[str | None] = None
    """The Body element of a successful reply, when it is not ``<Op>Response``."""
    READ_ONLY: ClassVar[bool] = False
    """True when the call changes nothing on the server, so repeating it is safe."""

    __slots__ = ()

    @property
    def secrets(self) -> tuple[str, ...]:
        """Argument values that are credentials (a password, a token): never shown."""
        return tuple(
            secret
            for field in _spec_of(type(self)).secret_args
            for secret in field.codec.secrets_in(getattr(self, field.attr))
        )

    def to_request(
        self,
        credentials: Credentials | None = None,
        soap_version: SoapVersion = SoapVersion.SOAP12,
        *,
        time_zone: TimeZone | None = None,
    ) -> Request:
        """Build the HTTP request for this call: path, headers and the whole envelope.

        ``time_zone`` adds NetServer's ``TimeZone`` header (Batch calls only), which says
        in which zone naive dates are meant.
        """
        if credentials is not None and not isinstance(credentials, Credentials):
            raise TypeError(f"credentials must be Credentials, not {type(credentials).__name__}")
        if not isinstance(soap_version, SoapVersion):
            raise TypeError(f"soap_version must be a SoapVersion, not {soap_version!r}")
        if time_zone is not None and not isinstance(time_zone, TimeZone):
            raise TypeError(f"time_zone must be a TimeZone, not {type(time_zone).__name__}")
        spec = _spec_of(type(self))
        content = build_envelope(self, credentials, soap_version, time_zone)
        return Request(
            spec.name, spec.service.path, dict(spec.headers[soap_version]), content, soap_version
        )

    def parse_response(
        self,
        content: bytes,
        *,
        status_code: int = 200,
        content_type: str | None = None,
        secrets: SecretView | Iterable[str] = NO_SECRETS,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> T:
        """Turn a reply into this operation's result, or raise a ``SuperOfficeError``.

        ``secrets`` (a ticket, a token…) are masked in any reply text an error keeps;
        text shaped like a ticket is masked regardless.
        """
        secrets = SecretView.of(secrets)
        payload, _blocks = open_reply(
            content,
            status_code=status_code,
            content_type=content_type,
            max_bytes=max_response_bytes,
            secrets=secrets,
        )
        return self._result(payload, content, status_code, secrets)

    def parse_reply(
        self,
        content: bytes,
        *,
        status_code: int = 200,
        content_type: str | None = None,
        secrets: SecretView | Iterable[str] = NO_SECRETS,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> Reply[T]:
        """Like :meth:`parse_response`, with the ``TimeZone`` and ``ExtraInfo`` reply headers."""
        secrets = SecretView.of(secrets)
        payload, blocks = open_reply(
            content,
            status_code=status_code,
            content_type=content_type,
            max_bytes=max_response_bytes,
            secrets=secrets,
        )
        result = self._result(payload, content, status_code, secrets)
        try:
            return Reply(result, read_reply_headers(blocks))
        except Exception as error:  # whatever a reader raises: OverflowError too
            problem = _problem(error, secrets)
        raise ProtocolError(
            f"{type(self).__name__}: malformed reply header",
            quoting=problem,
            status_code=status_code,
            body=ServerText(content, secrets),
        )

    def _result(
        self, payload: etree._Element, content: bytes, status_code: int, secrets: SecretView
    ) -> T:
        spec = _spec_of(type(self))
        if payload.tag != spec.response_tag:
            raise ProtocolError(
                f"{spec.name}: expected {etree.QName(spec.response_tag).localname} in the "
                "SOAP Body, found",
                quoting=ServerText(etree.QName(payload).text, secrets),
                status_code=status_code,
                body=ServerText(content, secrets),
            )
        try:
            return spec.returns.read(payload)  # type: ignore[no-any-return]
        except SuperOfficeError:
            raise  # the codec's own verdict: an AuthenticationError
        except Exception as error:  # whatever a reader raises: OverflowError too
            problem = _problem(error, secrets)
        # Raised outside the except block: the original error quotes reply text unmasked.
        raise ProtocolError(
            f"{spec.name}: malformed reply",
            quoting=problem,
            status_code=status_code,
            body=ServerText(content, secrets),
        )


def _problem(error: Exception, secrets: SecretView) -> ServerText:
    """What a reader's exception says (it quotes the reply); its type when it is no
    ``ValueError``."""
    text = str(error)
    return ServerText(
        text if type(error) is ValueError else f"{type(error).__name__}: {text}", secrets
    )


# -- arguments -------------------------------------------------------------------------
# The converters are typed for the attrs mypy plugin: their parameter is the constructor
# argument's type. What they cannot convert they pass on, for the codec's check to name.

_TASK = ModelCodec(BatchTaskInfo, (TNS, "BatchTaskInfo"), nullable=False)
"""A task argument: nillable in the WSDL, but every operation taking one needs it."""
_IDS = IntArrayCodec(nullable=False)


def _ids(value: Iterable[int]) -> tuple[int, ...]:
    """Any iterable of ints (a list, a set, a generator) as a tuple, which cannot change."""
    return cast("tuple[int, ...]", _IDS.convert(value))


def _state(value: BatchTaskState | str) -> BatchTaskState | str:
    """A known state name as its member; an unknown name stays a ``str``."""
    return cast("BatchTaskState | str", STATE.convert(value))


# -- Batch.svc ------------------------------------------------------------------------


@attrs.frozen(eq=False, repr=False)
class StartBatchJob(Operation[int]):
    """Start a batch job from a task description; returns the id of the new task."""

    SERVICE = BATCH
    RETURNS = Returns(XSD_INT)

    batch_task_info: BatchTaskInfo = attrs.field(metadata=arg("BatchTaskInfo", _TASK))


@attrs.frozen(eq=False, repr=False)
class GetBatchTaskInfo(Operation[BatchTaskInfo | None]):
    """One task by id, or None when the service has none to give."""

    SERVICE = BATCH
    RETURNS = Returns(BATCH_TASK_INFO)
    READ_ONLY = True

    id: int = attrs.field(metadata=arg("Id", XSD_INT))


@attrs.frozen(eq=False, repr=False)
class StopBatchJob(Operation[bool]):
    """Ask a running task to stop; True if it was stopped (False for ``CannotCancel``)."""

    SERVICE = BATCH
    RETURNS = Returns(XSD_BOOLEAN)

    id: int = attrs.field(metadata=arg("Id", XSD_INT))


@attrs.frozen(eq=False, repr=False)
class UpdateBatchTask(Operation[BatchTaskInfo | None]):
    """Store a task's ``State``, ``Description``, ``Response`` and ``Request``.

    Send the whole task, ``id`` included; returns the task as stored, or None.
    """

    SERVICE = BATCH
    RETURNS = Returns(BATCH_TASK_INFO)

    batch_task_info: BatchTaskInfo = attrs.field(metadata=arg("BatchTaskInfo", _TASK))


@attrs.frozen(eq=False, repr=False)
class DeleteBatchTask(Operation[None]):
    """Delete one task by id."""

    SERVICE = BATCH
    RETURNS = NOTHING

    batch_task_id: int = attrs.field(metadata=arg("BatchTaskId", XSD_INT))


@attrs.frozen(eq=False, repr=False)
class DeleteBatchTasks(Operation[None]):
    """Delete several tasks by id."""

    SERVICE = BATCH
    RETURNS = NOTHING

    batch_task_ids: tuple[int, ...] = attrs.field(
        converter=_ids, metadata=arg("BatchTaskIds", _IDS)
    )


class _TaskQuery(Operation[list[BatchTaskInfo]]):
    """The ``Get…BatchTaskInfos…`` queries: read-only, answering an array of tasks.

    A nil or empty array is ``[]``.
    """

    SERVICE = BATCH
    RETURNS = Returns(BATCH_TASK_INFO_LIST)
    READ_ONLY = True

    __slots__ = ()


@attrs.frozen(eq=False, repr=False)
class GetBatchTaskInfosByAssociates(_TaskQuery):
    """Tasks owned by the given associates: ``[]`` all, ``0`` system, ``-1`` all users."""

    associate_ids: tuple[int, ...] = attrs.field(converter=_ids, metadata=arg("AssociateIds", _IDS))


@attrs.frozen(eq=False, repr=False)
class GetBatchTaskInfosByState(_TaskQuery):
    """User tasks in one state (``BatchTaskState.ALL`` for any)."""

    state: BatchTaskState | str = attrs.field(converter=_state, metadata=arg("State", STATE))


@attrs.frozen(eq=False, repr=False)
class GetBatchTaskInfosByNameAndState(_TaskQuery):
    """User tasks with one definition name (blank: any) in one state."""

    name: str | None = attrs.field(metadata=arg("Name", XSD_STRING))
    state: BatchTaskState | str = attrs.field(converter=_state, metadata=arg("State", STATE))


@attrs.frozen(eq=False, repr=False)
class GetBatchTaskInfosByNameAndAssociates(_TaskQuery):
    """Tasks with one definition name owned by the given associates."""

    name: str | None = attrs.field(metadata=arg("Name", XSD_STRING))
    associate_ids: tuple[int, ...] = attrs.field(converter=_ids, metadata=arg("AssociateIds", _IDS))


@attrs.frozen(eq=False, repr=False)
class GetBatchTaskInfosByAssociatesAndState(_TaskQuery):
    """Tasks owned by the given associates, in one state."""

    associate_ids: tuple[int, ...] = attrs.field(converter=_ids, metadata=arg("AssociateIds", _IDS))
    state: BatchTaskState | str = attrs.field(converter=_state, metadata=arg("State", STATE))


@attrs.frozen(eq=False, repr=False)
class GetAllBatchTaskInfosByName(_TaskQuery):
    """System and user tasks with one definition name (None or blank: all tasks)."""

    task_name: str | None = attrs.field(metadata=arg("TaskName", XSD_STRING))


@attrs.frozen(eq=False, repr=False)
class GetAllBatchTaskInfosByNameAndState(_TaskQuery):
    """System and user tasks with one definition name, in one state."""

    task_name: str | None = attrs.field(metadata=arg("TaskName", XSD_STRING))
    state: BatchTaskState | str = attrs.field(converter=_state, metadata=arg("State", STATE))


@attrs.frozen(eq=False, repr=False)
class GetSystemBatchTaskInfosByName(_TaskQuery):
    """System tasks with one definition name."""

    task_name: str | None = attrs.field(metadata=arg("TaskName", XSD_STRING))


@attrs.frozen(eq=False, repr=False)
class GetSystemBatchTaskInfosByNameAndState(_TaskQuery):
    """System tasks with one definition name, in one state."""

    task_name: str | None = attrs.field(metadata=arg("TaskName", XSD_STRING))
    state: BatchTaskState | str = attrs.field(converter=_state, metadata=arg("State", STATE))
