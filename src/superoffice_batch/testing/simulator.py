"""A local NetServer stand-in: ``Batch.svc`` and ``SoPrincipal.svc`` over real HTTP.

:class:`NetServerSimulator` serves both services on loopback under any tenant prefix
(``/<prefix>/Remote/Services88/Batch.svc``, the path's case ignored, the prefix not
itself holding ``/Remote/Services88/``), as NetServer
behind WCF's ``BasicHttpBinding`` does (PROTOCOL.md sections 1-8):

* SOAP version by Content-Type (:class:`SoapMode`): the other one gets HTTP 415 with an
  empty body; an envelope of the other version a ``VersionMismatch`` fault.
* The action from ``SOAPAction`` (SOAP 1.1; quoted or not, as WCF takes it) or the
  Content-Type's ``action`` parameter (SOAP 1.2). An action the service does not have
  gets WCF's ``ActionNotSupported`` fault (HTTP 500); a request that is not a readable
  envelope (not XML, a DOCTYPE, another root element) a ``DeserializationFailed`` fault
  (HTTP 400), as does a body the operation cannot read (HTTP 500).
* Batch calls need a valid ticket in ``Credentials/Ticket`` (or an ``8A:`` access
  token); online, every call needs the ``ApplicationToken``. Refusals, unknown task ids
  and bad arguments are NetServer business errors: HTTP 200, the reply header
  ``Succeeded`` false and an ``ExceptionInfo``. A missing, expired or unknown ticket is
  refused as NetServer refuses credentials it cannot validate: a ``SoSessionException``
  whose message starts "Failed to validate tokens: " (both documented by SuperOffice,
  PROTOCOL.md section 7). The rest is the simulator's own: the namespace
  ``SuperOffice.CRM.Security`` and the words after the colon; so are the types and texts
  of the other refusals (PROTOCOL.md section 10: the real ones are unknown).
* ``GET …/<Service>.svc?wsdl`` answers the published WSDL, its address pointing here;
  anything else answers an HTML 404 page.

It serves through :mod:`~superoffice_batch.testing.server` (the bounded HTTP server, shared
with the Online simulator) and answers what WCF answers before dispatch with
:mod:`~superoffice_batch.testing.wcf`; :class:`NetServerProtocol` is the NetServer behind
them, which the Online simulator's tenant hosts reuse.

Tests steer it through :attr:`NetServerSimulator.faults` (see
:mod:`superoffice_batch.testing.faults`), an injectable clock, :meth:`issue_ticket` and
:meth:`expire_tickets`, and read it through :attr:`jobs`, :attr:`logins` and :attr:`calls`.
"""

from __future__ import annotations

import copy
import importlib.resources
import re
import threading
import time
from collections.abc import Callable, Collection, Mapping
from email.message import Message
from functools import cache
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import attrs
from lxml import etree

from ..envelope import BATCH, SOPRINCIPAL, Service, SoapVersion, hardened_parser
from ..models import BatchTaskInfo
from ..operations import Operation
from ..soprincipal import AUTHENTICATE_REPLY
from ..xmlvalues import TNS, Codec, WireField, checked_fields, tns
from . import soap
from .checks import check_options
from .faults import Faults
from .jobs import Clock, JobStore, TaskNotFound
from .server import Answer, Server, page
from .services import BATCH_HANDLERS, SOPRINCIPAL_HANDLERS, Caller
from .sessions import Sessions
from .wcf import (
    MEDIA_TYPES,
    SoapMode,
    action_not_supported,
    action_of,
    formatter_failed,
    internal_fault,
    read_incoming,
    wrong_body,
)

__all__ = ["NetServerSimulator", "SoapMode"]

DEFAULT_APPLICATION_TOKEN = "demo-app-token"
TENANT = "Cust12345"
"""The tenant prefix of :attr:`NetServerSimulator.base_url` (any other is served too)."""
_ROUTE = re.compile(
    r"(?P<prefix>/(?:.*/)?)remote/services88/(?P<service>batch|soprincipal)\.svc", re.IGNORECASE
)
SERVICES_DIR = "/remote/services88/"
"""Where NetServer's services are under a tenant's root (compare the path lowercased)."""
_WSDL_QUERIES = ("wsdl", "singlewsdl")


# -- what is served ------------------------------------------------------------------------


@attrs.frozen
class _Endpoint:
    """One operation as served: how to read its arguments and write its result."""

    name: str
    operation: type[Operation[Any]]
    fields: tuple[WireField, ...]
    response: str
    result_member: str | None
    """The member of ``response`` holding the result; None: the members are the result's."""
    result_codec: Codec[Any]

    @classmethod
    def of(cls, operation: type[Operation[Any]]) -> _Endpoint:
        name = operation.__name__
        response = operation.RESPONSE_ELEMENT or f"{name}Response"
        returns = operation.RETURNS
        # The library reads AuthenticateResponse into an Authentication; its wire form is
        # the AuthenticateReply model.
        codec = AUTHENTICATE_REPLY if response == "AuthenticateResponse" else returns.codec
        fields = checked_fields(operation)
        member = None if returns.tag is None else returns.tag.partition("}")[2]
        return cls(name, operation, fields, response, member, codec)

    def default_result(self) -> object:
        """What a failed call carries in its body: null, or a value type's default."""
        if self.result_member is None or self.result_codec.nullable:
            return None
        return self.result_codec.default


@attrs.frozen
class _Service:
    """One ``.svc`` endpoint: the library's description of it, and its operations."""

    service: Service
    endpoints: Mapping[str, _Endpoint]
    """By action URI."""

    @classmethod
    def of(cls, service: Service, operations: Collection[type[Operation[Any]]]) -> _Service:
        return cls(service, {service.action(op.__name__): _Endpoint.of(op) for op in operations})


_SERVICES = {
    "batch": _Service.of(BATCH, BATCH_HANDLERS),
    "soprincipal": _Service.of(SOPRINCIPAL, SOPRINCIPAL_HANDLERS),
}


_SOAP_ADDRESS = "{http://schemas.xmlsoap.org/wsdl/soap/}address"


@cache
def _wsdl_tree(service: str) -> etree._Element:
    resource = importlib.resources.files(__package__) / "wsdl" / f"Services88-{service}.wsdl"
    return etree.fromstring(resource.read_bytes(), hardened_parser())


def _wsdl(service: str, address: str) -> bytes:
    """The published WSDL with ``soap:address`` pointing at ``address``."""
    wsdl = copy.deepcopy(_wsdl_tree(service))
    for element in wsdl.iter(_SOAP_ADDRESS):
        element.set("location", address)
    return etree.tostring(wsdl, xml_declaration=True, encoding="utf-8")


class _BusinessError(Exception):
    """A NetServer business error: answered with HTTP 200, ``Succeeded`` false and this
    ``ExceptionInfo``."""

    def __init__(self, exception_type: str, message: str, **parameters: str) -> None:
        super().__init__(message)
        self.info = soap.ExceptionInfo(
            message=message,
            friendly_text=message,
            exception_type=exception_type,
            source="SuperOffice.Services88",
            parameters=parameters or None,
        )


SESSION_EXCEPTION = "SuperOffice.CRM.Security.SoSessionException"
"""The ``ExceptionType`` of a refused ticket: the class name is NetServer's (documented),
the namespace the simulator's guess."""


def _invalid_ticket() -> _BusinessError:
    # The documented prefix "Failed to validate tokens: ", then the simulator's own reason.
    return _BusinessError(SESSION_EXCEPTION, "Failed to validate tokens: ticket expired or invalid")


def _bad_application_token() -> _BusinessError:
    return _BusinessError(
        "SuperOffice.Exceptions.ApplicationTokenException",
        "Application token is missing or invalid",
    )


# -- the protocol --------------------------------------------------------------------------


class NetServerProtocol:
    """Every decision about a request: which service, version, action, caller, result.

    ``jobs_of`` gives the job store of a tenant (the first segment of the path, or None):
    one store for all on-site, one per tenant Online.
    """

    def __init__(
        self,
        *,
        soap_mode: SoapMode,
        application_token: str | None,
        sessions: Sessions,
        jobs_of: Callable[[str | None], JobStore],
    ) -> None:
        self.soap_mode = soap_mode
        self.application_token = application_token
        self.sessions = sessions
        self.jobs_of = jobs_of
        self.calls: list[str] = []
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()

    def answer(self, method: str, target: str, headers: Message, body: bytes, host: str) -> Answer:
        """The answer to one HTTP request (faults aside); ``host`` is ``host:port`` here."""
        url = urlsplit(target)
        route = _ROUTE.fullmatch(url.path)
        # A prefix holding the service path too is a base URL that already ended in
        # .../Batch.svc, with the service path appended again: IIS has no such file.
        if route is None or SERVICES_DIR in route["prefix"].lower():
            return page(404)
        service = _SERVICES[route["service"].lower()]
        if method == "GET" and url.query.lower() in _WSDL_QUERIES:
            wsdl = _wsdl(service.service.name, f"http://{host}{url.path}")
            return Answer(200, wsdl, "text/xml; charset=UTF-8")
        if method != "POST":
            return page(404)
        version = MEDIA_TYPES.get(headers.get_content_type())
        if version is None or not self.soap_mode.accepts(version):
            return Answer(415)
        tenant = tenant_of(route["prefix"])
        try:
            call = _dispatch(service, version, headers, body, tenant)
            return call if isinstance(call, Answer) else self._answer_call(call)
        except Exception as error:  # a simulator bug: answer as WCF does, keep it for tests
            with self.lock:
                self.errors.append(error)
            return internal_fault(version)

    def _answer_call(self, call: _Call) -> Answer:
        with self.lock:
            self.calls.append(call.endpoint.name)
        error = None
        try:
            result = self._perform(call)
        except _BusinessError as refused:
            error, result = refused.info, call.endpoint.default_result()
        endpoint, version = call.endpoint, call.incoming.version
        payload = soap.result(endpoint.response, endpoint.result_member, result)
        return Answer(200, soap.reply(version, payload, error), soap.CONTENT_TYPES[version])

    def _perform(self, call: _Call) -> object:
        """Run the operation for its caller; ``_BusinessError`` when NetServer would refuse."""
        if self.application_token is not None and (
            call.incoming.header_text("ApplicationToken") != self.application_token
        ):
            raise _bad_application_token()
        operation = call.endpoint.operation
        if not call.service.service.takes_ticket:
            return SOPRINCIPAL_HANDLERS[operation](self.sessions, call.caller(None, 0), call.args)
        ticket = call.incoming.header_text("Credentials", "Ticket")
        user = self.sessions.user_of(ticket, call.tenant)
        if user is None:
            raise _invalid_ticket()
        caller = call.caller(user, self.sessions.associate_id(user))
        try:
            return BATCH_HANDLERS[operation](self.jobs_of(call.tenant), caller, call.args)
        except TaskNotFound as missing:
            raise _BusinessError(
                "SuperOffice.Exceptions.SoDataNotFoundException",
                f"Batch task {missing.task_id} does not exist",
                Id=str(missing.task_id),
            ) from None
        except ValueError as invalid:
            raise _BusinessError("System.ArgumentException", str(invalid)) from None


def tenant_of(prefix: str) -> str | None:
    """The tenant a path prefix names: its first segment (``/Cust12345/`` -> ``Cust12345``)."""
    return prefix.strip("/").partition("/")[0] or None


@attrs.frozen
class _Call:
    """A request that reached an operation: what its answer depends on."""

    service: _Service
    endpoint: _Endpoint
    incoming: soap.Incoming
    args: dict[str, Any]
    tenant: str | None

    def caller(self, user: str | None, associate_id: int) -> Caller:
        return Caller(user, associate_id, self.tenant)


def _dispatch(
    service: _Service, version: SoapVersion, headers: Message, body: bytes, tenant: str | None
) -> _Call | Answer:
    """The operation a request calls, with its arguments; or the fault WCF answers before
    any operation runs (unreadable envelope, wrong version, unknown action, bad body)."""
    incoming = read_incoming(body, version)
    if isinstance(incoming, Answer):
        return incoming
    action = action_of(headers, version)
    endpoint = service.endpoints.get(action)
    if endpoint is None:
        return action_not_supported(version, action)
    payload = incoming.payload
    if payload is None or payload.tag != tns(endpoint.name):
        return wrong_body(version, endpoint.name, tns(endpoint.name), payload)
    try:
        args = soap.read_arguments(payload, endpoint.fields)
    except ValueError as error:
        return formatter_failed(
            version,
            f"There was an error while trying to deserialize parameter "
            f"{TNS}:{endpoint.name}. {error}",
        )
    return _Call(service, endpoint, incoming, args, tenant)


# -- the public class ----------------------------------------------------------------------


class NetServerSimulator:
    """A NetServer (Batch.svc and SoPrincipal.svc) on a local port, in background threads.

    ::

        with NetServerSimulator(job_duration=0.5) as sim:
            with BatchClient(sim.base_url, auth=UsernamePassword("demo", "demo")) as client:
                info = client.run_batch_job(BatchTaskInfo(name="ExportTask"), poll_interval=0.1)

    Options: ``host``/``port`` (0 picks a free port); ``users`` (user name to password,
    for ``AuthenticateUsernamePassword``; default ``{"demo": "demo"}``); ``soap``
    (:class:`SoapMode`); ``online`` (then every call must carry the ``ApplicationToken``
    ``application_token``, default ``"demo-app-token"``); ``ticket_lifetime`` (seconds a
    ticket may go unused); ``job_duration`` (seconds from start to the end of a job);
    ``failing_tasks`` (task names that end ``Failed``); ``clock`` (a monotonic clock in
    seconds: inject one to control job progress and ticket expiry).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        users: Mapping[str, str] | None = None,
        soap: SoapMode = SoapMode.SOAP11,
        online: bool = False,
        application_token: str | None = None,
        ticket_lifetime: float = 6 * 3600.0,
        job_duration: float = 3.0,
        failing_tasks: Collection[str] = ("FailingTask",),
        clock: Clock = time.monotonic,
    ) -> None:
        check_options(
            soap=soap,
            clock=clock,
            failing_tasks=failing_tasks,
            ticket_lifetime=ticket_lifetime,
            job_duration=job_duration,
        )
        users = {"demo": "demo"} if users is None else users
        if not all(isinstance(item, str) for pair in users.items() for item in pair):
            raise TypeError("users must map user names (str) to passwords (str)")
        self.host = host
        self._port = port
        self.soap = soap
        self.online = online
        self.application_token = (
            (application_token or DEFAULT_APPLICATION_TOKEN) if online else None
        )
        self.faults = Faults()
        """Fault injection for the next requests: see :mod:`superoffice_batch.testing.faults`."""
        self._sessions = Sessions(users, lifetime=ticket_lifetime, clock=clock)
        self._jobs = JobStore(clock=clock, job_duration=job_duration, failing_tasks=failing_tasks)
        self._protocol = NetServerProtocol(
            soap_mode=soap,
            application_token=self.application_token,
            sessions=self._sessions,
            jobs_of=lambda tenant: self._jobs,
        )
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifetime --------------------------------------------------------------------------

    def start(self) -> NetServerSimulator:
        """Listen and serve in a daemon thread; returns the simulator."""
        if self._server is not None:
            raise RuntimeError("the simulator was already started")
        self._server = Server(self.host, self._port, self._protocol, self.faults)
        self._thread = self._server.serve_in_thread(
            f"NetServerSimulator:{self.port}", "log in as its users and read their tickets"
        )
        return self

    def stop(self) -> None:
        """Stop serving and close every connection; safe to call more than once."""
        if self._server is not None and self._thread is not None:
            self._server.stop(self._thread)

    def __enter__(self) -> NetServerSimulator:
        return self.start() if self._server is None else self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port listened on (the one picked, once started with port 0)."""
        if self._server is None:
            return self._port
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The tenant URL to give a client, e.g. ``http://127.0.0.1:51234/Cust12345``."""
        if self._server is None:
            raise RuntimeError("start the simulator first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/{TENANT}"

    def service_url(self, service: str = "Batch") -> str:
        """The endpoint of ``"Batch"`` or ``"SoPrincipal"``; add ``?wsdl`` for its WSDL."""
        known = _SERVICES.get(service.lower())
        if known is None:
            raise ValueError(f"no such service: {service!r}")
        return f"{self.base_url}/{known.service.path}"

    # -- steering and reading --------------------------------------------------------------

    def issue_ticket(self, user: str = "demo") -> str:
        """A valid ticket for ``user`` without a SOAP call (not counted as a login)."""
        if not self._sessions.knows(user):
            raise ValueError(f"no such user: {user!r}")
        return self._sessions.issue(user)

    def expire_tickets(self) -> None:
        """Make every ticket issued so far invalid, as if each had outlived its lifetime."""
        self._sessions.expire_all()

    def associate_id(self, user: str) -> int:
        """The associate id of ``user``: the owner of the tasks that user starts."""
        return self._sessions.associate_id(user)

    @property
    def jobs(self) -> list[BatchTaskInfo]:
        """Every task as it is now, by id."""
        return self._jobs.snapshots()

    @property
    def logins(self) -> int:
        """Successful ``Authenticate…`` calls so far."""
        return self._sessions.logins

    @property
    def calls(self) -> list[str]:
        """The operations called so far, in order (requests refused before dispatch, e.g. by
        415 or ``ActionNotSupported``, are not in it)."""
        with self._protocol.lock:
            return list(self._protocol.calls)

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions the simulator itself raised while answering (answered as WCF's
        ``InternalServiceFault``); empty unless the simulator has a bug."""
        with self._protocol.lock:
            return list(self._protocol.errors)

    def __repr__(self) -> str:
        where = self.base_url if self._server is not None else "not started"
        return f"<NetServerSimulator {where} soap={self.soap.value} online={self.online}>"
