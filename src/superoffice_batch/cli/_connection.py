"""Connection settings from options and the environment, and the client built from them.

Each setting comes from its option or, when the option is not given, its environment
variable; empty values count as not set. The secrets among them (ticket, password,
application token, system-user token) are never shown: :func:`register_secrets` registers them
for masking.

The system-user settings of SuperOffice CRM Online (:data:`SYSTEM_USER_ENV`) come from
the environment only: the token is a secret, and the other three only make sense with
it. With them, the URL is optional (the client finds the tenant) and a ticket, username
or password is a usage error: one run has one credential.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..auth import UsernamePassword
from ..client import BatchClient
from ..envelope import SoapVersion
from ..online import (
    ENV_APP_TOKEN,
    ENV_CONTEXT_ID,
    ENV_ENVIRONMENT,
    ENV_PRIVATE_KEY_FILE,
    ENV_SYSTEM_USER_TOKEN,
    TENANT_ENV,
    OnlineTenant,
    SystemUser,
    listed,
)
from ..secrets import Secrets
from ._base import PROG, UsageError

__all__ = [
    "ENV_APP_TOKEN",
    "ENV_CONTEXT_ID",
    "ENV_ENVIRONMENT",
    "ENV_PASSWORD",
    "ENV_PRIVATE_KEY_FILE",
    "ENV_SYSTEM_USER_TOKEN",
    "ENV_TICKET",
    "ENV_URL",
    "ENV_USERNAME",
    "SECRET_ENV",
    "SYSTEM_USER_ENV",
    "Connection",
    "authentication_hint",
    "in_cli_terms",
    "login_settings",
    "online_extra_missing",
    "open_client",
    "register_secrets",
    "resolve",
    "tenant_settings",
]

ENV_URL = "SUPEROFFICE_URL"
ENV_TICKET = "SUPEROFFICE_TICKET"
ENV_USERNAME = "SUPEROFFICE_USERNAME"
ENV_PASSWORD = "SUPEROFFICE_PASSWORD"
# The system-user variables are the library's (SystemUser.from_env): one reader.

SYSTEM_USER_ENV = (ENV_CONTEXT_ID, ENV_ENVIRONMENT, ENV_SYSTEM_USER_TOKEN, ENV_PRIVATE_KEY_FILE)
"""The system-user settings; any one of them set asks for all (and the application token)."""
SYSTEM_USER_SETTINGS = listed((*SYSTEM_USER_ENV, ENV_APP_TOKEN))
"""The system-user settings as a message names them."""

DEFAULT_TIMEOUT = 30.0

# The option destinations and the environment variables whose values are secrets.
_SECRET_DESTS = ("ticket", "password", "app_token")
SECRET_ENV = (ENV_TICKET, ENV_PASSWORD, ENV_APP_TOKEN, ENV_SYSTEM_USER_TOKEN)
"""The environment variables whose values are secrets (masked wherever text is shown)."""
CONNECTION_DESTS = ("url", "ticket", "app_token", "username", "password", "soap", "timeout")
"""The ``argparse`` destinations of the connection options."""

# The library's messages name its arguments; here the same settings are options or
# variables. In order: the 421 hint's advice comes before base_url's general rewrite.
_CLI_TERMS = (
    ("soap_version=SoapVersion.SOAP11", "--soap 1.1"),
    ("soap_version=SoapVersion.SOAP12", "--soap 1.2"),
    ("leave out base_url", f"leave {ENV_URL} unset (and --url out)"),
    ("pass auth=SystemUser(...)", f"set {SYSTEM_USER_SETTINGS}"),
    ("base_url", f"{ENV_URL} (or --url)"),
)


def in_cli_terms(text: str) -> str:
    """A library message or hint with its argument names replaced by the CLI's settings."""
    for library, cli in _CLI_TERMS:
        text = text.replace(library, cli)
    return text


def _settings_error(error: ValueError) -> UsageError:
    """A ``from_env`` error (it names the variables) as the CLI's: the application token
    may be an option too."""
    return UsageError(str(error).replace(ENV_APP_TOKEN, f"{ENV_APP_TOKEN} (or --app-token)"))


def online_extra_missing(error: ImportError) -> UsageError:
    """The usage error for a missing ``[online]`` extra (the library's message names it)."""
    return UsageError(str(error))


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


def register_secrets(secrets: Secrets, args: argparse.Namespace, env: Mapping[str, str]) -> Secrets:
    """Register every secret given as an option or in the environment (what output must
    mask) in ``secrets``; returns it."""
    secrets.register(*(getattr(args, dest, None) for dest in _SECRET_DESTS))
    secrets.register(*(env.get(name) for name in SECRET_ENV))
    return secrets


@dataclass(frozen=True)
class Connection:
    """Everything needed to build a client; ``repr()`` shows no secret.

    ``url`` is None only with a ``system_user``, whose client finds the tenant itself.
    """

    url: str | None
    ticket: str | None = field(default=None, repr=False)
    login: UsernamePassword | None = None  # masks its password itself
    system_user: OnlineTenant | None = None  # a SystemUser (or, for tenant, the tenant alone)
    application_token: str | None = field(default=None, repr=False)
    soap_version: SoapVersion | None = None
    timeout: float = DEFAULT_TIMEOUT

    @property
    def secrets(self) -> tuple[str, ...]:
        """Secrets learnt while resolving the settings (the private key's text)."""
        return self.system_user.secrets if self.system_user is not None else ()


def _url(args: argparse.Namespace, env: Mapping[str, str]) -> str:
    url = _setting(args, "url", env, ENV_URL).value
    if url is None:
        raise UsageError(
            f"no NetServer URL: pass --url or set {ENV_URL} "
            "(the installation root, e.g. https://sod2.superoffice.com/Cust12345), "
            f"or set the system-user settings ({SYSTEM_USER_SETTINGS}) for an Online tenant"
        )
    return url


def _system_user_env(env: Mapping[str, str]) -> dict[str, str]:
    """The system-user settings that are set (empty values count as not set)."""
    return {name: env[name] for name in SYSTEM_USER_ENV if env.get(name)}


def authentication_hint(env: Mapping[str, str]) -> str:
    """What to check after an ``AuthenticationError``: the credential this run used."""
    if _system_user_env(env):
        return f"check {ENV_SYSTEM_USER_TOKEN}, {ENV_PRIVATE_KEY_FILE} and {ENV_APP_TOKEN}"
    return "check the username and password"


def _refuse_other_credentials(args: argparse.Namespace, env: Mapping[str, str]) -> None:
    """With the system-user settings, a ticket, username or password is a contradiction."""
    others = (
        ("ticket", ENV_TICKET),
        ("username", ENV_USERNAME),
        ("password", ENV_PASSWORD),
    )
    given = [f"--{dest}/{name}" for dest, name in others if _setting(args, dest, env, name).value]
    if given:
        raise UsageError(
            f"both the system-user settings and {listed(given)} are set; use one "
            "credential (the system user logs in by itself)"
        )


def _system_user(args: argparse.Namespace, env: Mapping[str, str]) -> SystemUser | None:
    """The system user the environment describes; None when no system-user setting is set.

    Partial settings, another credential alongside, or a value ``SystemUser`` refuses (an
    unreadable key file…) are usage errors that name the settings, never their values.
    """
    if not _system_user_env(env):
        return None
    app_token = getattr(args, "app_token", None)
    try:
        system_user = SystemUser.from_env({**env, ENV_APP_TOKEN: app_token} if app_token else env)
    except ValueError as error:
        raise _settings_error(error) from None
    except ImportError as error:
        raise online_extra_missing(error) from None
    _refuse_other_credentials(args, env)
    return system_user


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
    system_user: OnlineTenant | None = None,
) -> Connection:
    """A :class:`Connection` with the settings every command shares, and a credential.

    The URL is required, except with a system user (then it is used as given, if set).
    """
    soap = getattr(args, "soap", None)
    if system_user is None:
        url: str | None = _url(args, env)
    else:
        url = _setting(args, "url", env, ENV_URL).value
    return Connection(
        url=url,
        ticket=ticket,
        login=login,
        system_user=system_user,
        application_token=_setting(args, "app_token", env, ENV_APP_TOKEN).value,
        soap_version=SoapVersion(soap) if soap else None,
        timeout=getattr(args, "timeout", None) or DEFAULT_TIMEOUT,
    )


def resolve(args: argparse.Namespace, env: Mapping[str, str]) -> Connection:
    """The settings of a Batch call: a URL and either a ticket or a username and password.

    When both a ticket and a username are set, the one given as an option wins; if both
    or neither came from options, that is a usage error. The system-user settings, when
    set, are the credential (see :func:`_system_user`).
    """
    system_user = _system_user(args, env)
    if system_user is not None:
        return _connection(args, env, system_user=system_user)
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
        f"{ENV_PASSWORD} (or pass --username and --password), or the system-user "
        f"settings ({SYSTEM_USER_SETTINGS})"
    )


def tenant_settings(args: argparse.Namespace, env: Mapping[str, str]) -> Connection:
    """The settings of ``tenant``: the tenant's context identifier and environment (the
    state API needs nothing else; only Online has tenants)."""
    if not any(env.get(name) for name in TENANT_ENV):
        raise UsageError(f"{PROG} tenant needs the tenant: set {listed(TENANT_ENV)}")
    if _system_user_env(env):
        _refuse_other_credentials(args, env)
    try:
        tenant = OnlineTenant.from_env(env)
    except ValueError as error:
        raise _settings_error(error) from None
    return _connection(args, env, system_user=tenant)


def login_settings(args: argparse.Namespace, env: Mapping[str, str]) -> Connection:
    """The settings of ``login``: a URL, a username and a password (a ticket is ignored).

    The system-user settings alongside are refused, as for every command: a system user
    gets its ticket by itself on each run.
    """
    if _system_user_env(env):
        _refuse_other_credentials(args, env)
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
    auth = connection.system_user or (connection.login if log_in else None)
    try:
        return BatchClient(
            connection.url,
            ticket=connection.ticket,
            auth=auth,
            application_token=connection.application_token,
            soap_version=connection.soap_version,
            timeout=connection.timeout,
        )
    except (TypeError, ValueError) as error:
        raise UsageError(in_cli_terms(str(error))) from None
