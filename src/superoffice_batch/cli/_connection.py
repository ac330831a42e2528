"""Connection settings from options and the environment, and the client built from them.

Each setting comes from its option or, when the option is not given, its environment
variable; empty values count as not set. The secrets among them (ticket, password,
application token) are never shown: :func:`known_secrets` lists them for masking.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..auth import UsernamePassword
from ..client import BatchClient
from ..envelope import SoapVersion
from ._base import UsageError

__all__ = [
    "ENV_APP_TOKEN",
    "ENV_PASSWORD",
    "ENV_TICKET",
    "ENV_URL",
    "ENV_USERNAME",
    "Connection",
    "in_cli_terms",
    "known_secrets",
    "login_settings",
    "open_client",
    "resolve",
]

ENV_URL = "SUPEROFFICE_URL"
ENV_TICKET = "SUPEROFFICE_TICKET"
ENV_APP_TOKEN = "SUPEROFFICE_APP_TOKEN"
ENV_USERNAME = "SUPEROFFICE_USERNAME"
ENV_PASSWORD = "SUPEROFFICE_PASSWORD"

DEFAULT_TIMEOUT = 30.0

# (option dest, environment variable) of every setting that is a secret.
_SECRET_SETTINGS = (
    ("ticket", ENV_TICKET),
    ("password", ENV_PASSWORD),
    ("app_token", ENV_APP_TOKEN),
)
CONNECTION_DESTS = ("url", "ticket", "app_token", "username", "password", "soap", "timeout")
"""The ``argparse`` destinations of the connection options."""

# The library's messages name its arguments; here the same settings are options.
_CLI_TERMS = (
    ("soap_version=SoapVersion.SOAP11", "--soap 1.1"),
    ("soap_version=SoapVersion.SOAP12", "--soap 1.2"),
    ("base_url", f"{ENV_URL} (or --url)"),
)


def in_cli_terms(text: str) -> str:
    """A library message or hint with its argument names replaced by the CLI's settings."""
    for library, cli in _CLI_TERMS:
        text = text.replace(library, cli)
    return text


@dataclass(frozen=True)
class _Setting:
    """A setting's value and whether it came from an option (else the environment)."""

    value: str | None
    from_option: bool


def _setting(args: argparse.Namespace, dest: str, env: Mapping[str, str], name: str) -> _Setting:
    option = getattr(args, dest, None)
    if option:
        return _Setting(str(option), True)
    return _Setting(env.get(name) or None, False)


def known_secrets(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[str, ...]:
    """Every secret given as an option or in the environment: what output must mask."""
    values = [getattr(args, dest, None) for dest, _ in _SECRET_SETTINGS]
    values += [env.get(name) for _, name in _SECRET_SETTINGS]
    return tuple(value for value in values if value)


@dataclass(frozen=True)
class Connection:
    """Everything needed to build a client; ``repr()`` shows no secret."""

    url: str
    ticket: str | None = field(default=None, repr=False)
    login: UsernamePassword | None = None  # masks its password itself
    application_token: str | None = field(default=None, repr=False)
    soap_version: SoapVersion | None = None
    timeout: float = DEFAULT_TIMEOUT


def _url(args: argparse.Namespace, env: Mapping[str, str]) -> str:
    url = _setting(args, "url", env, ENV_URL).value
    if url is None:
        raise UsageError(
            f"no NetServer URL: pass --url or set {ENV_URL} "
            "(the installation root, e.g. https://sod2.superoffice.com/Cust12345)"
        )
    return url


def _username_password(username: str, password: str) -> UsernamePassword:
    try:
        return UsernamePassword(username, password)
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None


def _login(args: argparse.Namespace, env: Mapping[str, str]) -> UsernamePassword | None:
    """The username and password, if a username is set; a password alone is an error."""
    username = _setting(args, "username", env, ENV_USERNAME).value
    password = _setting(args, "password", env, ENV_PASSWORD).value
    if username is None:
        return None
    if password is None:
        raise UsageError(f"a username needs a password: set {ENV_PASSWORD} (or pass --password)")
    return _username_password(username, password)


def _connection(
    args: argparse.Namespace,
    env: Mapping[str, str],
    *,
    ticket: str | None = None,
    login: UsernamePassword | None = None,
) -> Connection:
    """A :class:`Connection` with the settings every command shares, and a credential."""
    soap = getattr(args, "soap", None)
    return Connection(
        url=_url(args, env),
        ticket=ticket,
        login=login,
        application_token=_setting(args, "app_token", env, ENV_APP_TOKEN).value,
        soap_version=SoapVersion(soap) if soap else None,
        timeout=getattr(args, "timeout", None) or DEFAULT_TIMEOUT,
    )


def resolve(args: argparse.Namespace, env: Mapping[str, str]) -> Connection:
    """The settings of a Batch call: a URL and either a ticket or a username and password.

    When both a ticket and a username are set, the one given as an option wins; if both
    or neither came from options, that is a usage error.
    """
    _url(args, env)  # a missing URL is reported first
    ticket = _setting(args, "ticket", env, ENV_TICKET)
    username = _setting(args, "username", env, ENV_USERNAME)
    if ticket.value is not None and username.value is not None:
        if ticket.from_option == username.from_option:
            raise UsageError(
                "both a ticket and a username are set; use one: "
                f"--ticket/{ENV_TICKET} or --username/{ENV_USERNAME} with a password"
            )
        if ticket.from_option:
            return _connection(args, env, ticket=ticket.value)
    login = _login(args, env)
    if login is not None:
        return _connection(args, env, login=login)
    if ticket.value is not None:
        return _connection(args, env, ticket=ticket.value)
    if _setting(args, "password", env, ENV_PASSWORD).value is not None:
        raise UsageError(f"a password needs a username: pass --username or set {ENV_USERNAME}")
    raise UsageError(
        f"no credentials: set {ENV_TICKET} (or pass --ticket), or {ENV_USERNAME} and "
        f"{ENV_PASSWORD} (or pass --username and --password)"
    )


def login_settings(args: argparse.Namespace, env: Mapping[str, str]) -> Connection:
    """The settings of ``login``: a URL, a username and a password (a ticket is ignored)."""
    _url(args, env)
    login = _login(args, env)
    if login is None:
        raise UsageError(
            f"login needs a username and password: set {ENV_USERNAME} and {ENV_PASSWORD} "
            "(or pass --username and --password)"
        )
    return _connection(args, env, login=login)


def open_client(connection: Connection, *, log_in: bool = True) -> BatchClient:
    """A client for ``connection``; bad settings (a malformed URL…) are usage errors.

    With ``log_in`` false the username and password are not used as a ticket source
    (``login`` sends its own SoPrincipal call).
    """
    try:
        return BatchClient(
            connection.url,
            ticket=connection.ticket,
            auth=connection.login if log_in else None,
            application_token=connection.application_token,
            soap_version=connection.soap_version,
            timeout=connection.timeout,
        )
    except (TypeError, ValueError) as error:
        raise UsageError(in_cli_terms(str(error))) from None
