"""An Airflow connection's fields read as superoffice-batch settings (no Airflow import).

Two kinds: on-site (``host`` is the site's root URL, with ``login``/``password`` or
``extra.ticket``) and SuperOffice CRM Online (``extra.context_identifier``,
``extra.environment``, ``extra.system_user_token``, ``extra.private_key`` or
``extra.private_key_file``, and the client secret in ``password``). Every rule about
which field belongs to which kind lives in the tables below.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from superoffice_batch import SoapVersion, SystemUser, UsernamePassword

from .logins import SharedLogin

__all__ = ["CONN_TYPE", "ConnectionSettings", "connection_fingerprint", "read_connection"]

CONN_TYPE = "superoffice_batch"
# The UI of some Airflow versions stores a form field as extra__<conn type>__<name>.
_PREFIX = f"extra__{CONN_TYPE}__"

ONLINE_EXTRAS = ("context_identifier", "environment", "system_user_token")
ONLINE_KEY_EXTRAS = ("private_key", "private_key_file")
ON_SITE_EXTRAS = ("ticket",)
OPTION_EXTRAS = ("soap_version", "timeout", "call_deadline")
KNOWN_EXTRAS = frozenset(ONLINE_EXTRAS + ONLINE_KEY_EXTRAS + ON_SITE_EXTRAS + OPTION_EXTRAS)
_SOAP_VERSIONS = {version.value: version for version in SoapVersion}


class AirflowConnection(Protocol):
    """What is read of ``airflow.sdk.Connection``."""

    @property
    def conn_id(self) -> str: ...
    @property
    def host(self) -> str | None: ...
    @property
    def login(self) -> str | None: ...
    @property
    def password(self) -> str | None: ...
    @property
    def extra_dejson(self) -> dict[str, Any]: ...


class ConnectionSettings:
    """What a hook needs to build clients for one connection."""

    def __init__(
        self,
        *,
        kind: str,
        base_url: str | None,
        auth: object,
        options: Mapping[str, Any],
        secrets: tuple[str, ...],
        fingerprint: str,
    ) -> None:
        self.kind = kind
        """``"on-site"`` or ``"online"``."""
        self.base_url = base_url
        self.options = dict(options)
        """Further client options: ``soap_version``, ``timeout``, ``call_deadline``."""
        self.secrets = secrets
        """Every secret read from the connection (and the key file), to mask in logs."""
        self.fingerprint = fingerprint
        """A digest of every field: it changes when the connection is edited."""
        self._auth = auth

    def __repr__(self) -> str:
        return f"<ConnectionSettings {self.kind} {self.base_url or '(tenant from state API)'}>"

    def client_auth(self) -> Any:
        """The ``auth=`` for one new client: the connection's ticket, its ``SystemUser``
        (which keeps the ticket for all its clients), or a view of its shared login."""
        if isinstance(self._auth, SharedLogin):
            return self._auth.for_client()
        return self._auth


def read_connection(conn: AirflowConnection) -> ConnectionSettings:
    """Check the connection's fields and turn them into settings.

    Raises ``ValueError`` naming the fields that are missing, mixed or unknown, never a
    field's value.
    """
    extra = _extras(conn)
    unknown = sorted(set(extra) - KNOWN_EXTRAS)
    if unknown:
        raise ValueError(
            f"connection {conn.conn_id!r}: unknown extra field(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(KNOWN_EXTRAS))}"
        )
    online = [name for name in ONLINE_EXTRAS + ONLINE_KEY_EXTRAS if extra.get(name)]
    on_site = [name for name in ("host", "login") if getattr(conn, name)]
    on_site += [f"extra.{name}" for name in ON_SITE_EXTRAS if extra.get(name)]
    if online and on_site:
        raise ValueError(
            f"connection {conn.conn_id!r} mixes the two kinds: "
            f"{', '.join(on_site)} (on-site) with "
            f"{', '.join('extra.' + name for name in online)} (Online); "
            "keep the fields of one kind"
        )
    options = _options(conn.conn_id, extra)
    fingerprint = connection_fingerprint(conn)
    if online:
        return _online(conn, extra, options, fingerprint)
    return _on_site(conn, extra, options, fingerprint)


def _extras(conn: AirflowConnection) -> dict[str, Any]:
    extra = conn.extra_dejson or {}
    if not isinstance(extra, dict):
        raise ValueError(f"connection {conn.conn_id!r}: extra must be a JSON object")
    return {
        (key[len(_PREFIX) :] if key.startswith(_PREFIX) else key): value
        for key, value in extra.items()
        if value not in (None, "")
    }


def _missing(conn_id: str, names: list[str], kind: str) -> ValueError:
    return ValueError(f"connection {conn_id!r} ({kind}) lacks {', '.join(names)}")


def _on_site(
    conn: AirflowConnection,
    extra: dict[str, Any],
    options: dict[str, Any],
    fingerprint: str,
) -> ConnectionSettings:
    ticket = extra.get("ticket")
    missing = [] if conn.host else ["host (the site's root URL, with its scheme)"]
    if ticket is None and not conn.login:
        missing.append("login and password, or extra.ticket")
    elif ticket is None and not conn.password:
        missing.append("password")
    if missing:
        raise _missing(conn.conn_id, missing, "on-site")
    if ticket is not None and (conn.login or conn.password):
        raise ValueError(
            f"connection {conn.conn_id!r} (on-site) has both login/password and "
            "extra.ticket; keep one"
        )
    auth: object
    if ticket is not None:
        if not isinstance(ticket, str):
            raise ValueError(f"connection {conn.conn_id!r}: extra.ticket must be a string")
        auth, secrets = ticket, (ticket,)
    else:
        auth = SharedLogin(UsernamePassword(str(conn.login), str(conn.password)))
        secrets = (str(conn.password),)
    return ConnectionSettings(
        kind="on-site",
        base_url=conn.host,
        auth=auth,
        options=options,
        secrets=secrets,
        fingerprint=fingerprint,
    )


def _online(
    conn: AirflowConnection,
    extra: dict[str, Any],
    options: dict[str, Any],
    fingerprint: str,
) -> ConnectionSettings:
    missing = [f"extra.{name}" for name in ONLINE_EXTRAS if not extra.get(name)]
    keys = [name for name in ONLINE_KEY_EXTRAS if extra.get(name)]
    if not keys:
        missing.append("extra.private_key or extra.private_key_file")
    if not conn.password:
        missing.append("password (the application token, i.e. the client secret)")
    if missing:
        raise _missing(conn.conn_id, missing, "Online")
    if len(keys) > 1:
        raise ValueError(
            f"connection {conn.conn_id!r} (Online) has both extra.private_key and "
            "extra.private_key_file; keep one"
        )
    for name in ONLINE_EXTRAS + tuple(keys):
        if not isinstance(extra[name], str):
            raise ValueError(f"connection {conn.conn_id!r}: extra.{name} must be a string")
    key_text = extra["private_key"] if keys == ["private_key"] else _read_key(conn.conn_id, extra)
    auth = SystemUser(
        system_user_token=extra["system_user_token"],
        private_key=key_text,
        application_token=str(conn.password),
        context_identifier=extra["context_identifier"],
        environment=extra["environment"],
    )
    secrets = (str(conn.password), extra["system_user_token"], key_text)
    return ConnectionSettings(
        kind="online",
        base_url=None,
        auth=auth,
        options=options,
        secrets=secrets,
        fingerprint=fingerprint,
    )


def _read_key(conn_id: str, extra: dict[str, Any]) -> str:
    try:
        return Path(extra["private_key_file"]).read_text(encoding="utf-8")
    except (OSError, UnicodeError) as error:
        # Not the path: a key pasted where the path belongs would be shown.
        raise ValueError(
            f"connection {conn_id!r}: extra.private_key_file cannot be read as a key file "
            f"({type(error).__name__})"
        ) from None


def _options(conn_id: str, extra: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if "soap_version" in extra:
        version = _SOAP_VERSIONS.get(str(extra["soap_version"]))
        if version is None:
            raise ValueError(
                f"connection {conn_id!r}: extra.soap_version must be one of "
                f"{', '.join(sorted(_SOAP_VERSIONS))}"
            )
        options["soap_version"] = version
    for name in ("timeout", "call_deadline"):
        if name in extra:
            try:
                options[name] = float(extra[name])
            except (TypeError, ValueError):
                raise ValueError(
                    f"connection {conn_id!r}: extra.{name} must be a number of seconds"
                ) from None
    return options


def connection_fingerprint(conn: AirflowConnection) -> str:
    """A digest of the connection's fields: it changes when the connection is edited."""
    fields = [conn.host, conn.login, conn.password, sorted(_extras(conn).items())]
    text = json.dumps(fields, default=str, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
