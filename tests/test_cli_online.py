"""The command line with SuperOffice CRM Online's system user, against the OnlineSimulator.

The system-user settings come from the environment (SUPEROFFICE_CONTEXT_ID,
SUPEROFFICE_ENVIRONMENT, SUPEROFFICE_SYSTEM_USER_TOKEN, SUPEROFFICE_PRIVATE_KEY_FILE and
SUPEROFFICE_APP_TOKEN); ``tenant`` shows the tenant's state; ``demo --online`` runs the
whole flow on loopback. Most tests run ``main`` in-process with ``test_cli``'s fixtures;
the subprocess ones are marked ``slow``. Every simulator is made per test: several tests
change its tenant's state.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path

import pytest

import test_cli
from superoffice_batch import TenantState
from superoffice_batch.cli import _simulator as cli_simulator
from superoffice_batch.cli import main
from superoffice_batch.cli._output import Output
from superoffice_batch.secrets import Secrets
from superoffice_batch.testing.online import OnlineSimulator, RsaKey, generate_app_key
from superoffice_batch.testing.sessions import Sessions
from test_cli import JOB_SECONDS, POLL, Run, error_lines, run_process

# test_cli.py's fixtures, shared by name: ``cli`` runs main() in-process, ``clean_env``
# clears every SUPEROFFICE_* variable (the system-user ones included) for the test.
cli = test_cli.cli
clean_env = test_cli.clean_env

SYSTEM_USER_VARIABLES = (
    "SUPEROFFICE_CONTEXT_ID",
    "SUPEROFFICE_ENVIRONMENT",
    "SUPEROFFICE_SYSTEM_USER_TOKEN",
    "SUPEROFFICE_PRIVATE_KEY_FILE",
    "SUPEROFFICE_APP_TOKEN",
)
# Distinctive, so that a leak cannot hide.
SYSTEM_USER_TOKEN = "SystemUser-Token-S3cret-4711"
APP_TOKEN = "client-Secret-S3cret-0815"
OTHER_TICKET = "7T:T3RoZXJUaWNrZXRTM2NyZXQ="
WAIT = ("start", "ExportTask", "-p", "format=csv", "--wait", "--poll-interval", POLL)


@pytest.fixture(scope="module")
def keys() -> tuple[RsaKey, RsaKey]:
    """The app's key pair and SuperOffice's signing key, made once: making keys is slow."""
    return generate_app_key(), generate_app_key()


@pytest.fixture
def online(keys: tuple[RsaKey, RsaKey]) -> Iterator[OnlineSimulator]:
    """An Online of one tenant, Cust12345, on the first of two hosts; short jobs."""
    app_key, signing_key = keys
    with OnlineSimulator(
        job_duration=JOB_SECONDS,
        application_token=APP_TOKEN,
        system_user_tokens={"Cust12345": SYSTEM_USER_TOKEN},
        app_key=app_key,
        signing_key=signing_key,
    ) as simulator:
        yield simulator


@pytest.fixture
def key_file(tmp_path: Path, online: OnlineSimulator) -> Path:
    """The app's private key as a PEM file, readable by its owner only."""
    path = tmp_path / "app-key.pem"
    path.write_text(online.private_key_pem, encoding="ascii")
    path.chmod(0o600)
    return path


@pytest.fixture
def other_key_file(tmp_path: Path) -> Path:
    """A well-formed key, but not the one SuperOffice holds the public half of."""
    path = tmp_path / "other-key.pem"
    path.write_text(generate_app_key().pem, encoding="ascii")
    return path


def system_user_settings(online: OnlineSimulator, key_file: Path) -> dict[str, str]:
    """The five system-user settings for ``online``'s tenant."""
    return {
        "SUPEROFFICE_CONTEXT_ID": online.context_identifier,
        "SUPEROFFICE_ENVIRONMENT": online.environment,
        "SUPEROFFICE_SYSTEM_USER_TOKEN": online.system_user_token,
        "SUPEROFFICE_PRIVATE_KEY_FILE": str(key_file),
        "SUPEROFFICE_APP_TOKEN": online.application_token,
    }


@pytest.fixture
def settings(
    clean_env: pytest.MonkeyPatch, online: OnlineSimulator, key_file: Path
) -> dict[str, str]:
    """The environment holds the system-user settings (and no SUPEROFFICE_URL)."""
    values = system_user_settings(online, key_file)
    for name, value in values.items():
        clean_env.setenv(name, value)
    return values


@pytest.fixture
def issued_tickets(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every ticket the simulators issue during the test, to look for in the output."""
    tickets: list[str] = []
    issue = Sessions.issue

    def recording(self: Sessions, user: str, *, login: bool = False) -> str:
        ticket = issue(self, user, login=login)
        tickets.append(ticket)
        return ticket

    monkeypatch.setattr(Sessions, "issue", recording)
    return tickets


def nothing_sent(online: OnlineSimulator) -> bool:
    """Whether no request reached the simulator's exchange, state API or tenant hosts."""
    return (online.exchange_requests, online.state_requests, online.calls) == (0, 0, [])


def key_lines(key_text: str) -> list[str]:
    """The parts of a key's text that are its secret: each base64 line, each RSAXML value."""
    values = re.findall(r">([^<]{16,})<", key_text)
    lines = [line.strip() for line in key_text.splitlines() if len(line.strip()) >= 16]
    found = [text for text in values + lines if not text.startswith(("-----", "<"))]
    assert found, "no key material found to look for"
    return found


def assert_shows_no_secret(shown: str, secrets: list[str]) -> None:
    assert secrets, "nothing to look for"
    for secret in secrets:
        assert secret not in shown
    assert "eyJ" not in shown  # a JWT (its header's base64url): it carries the ticket


# -- the settings ------------------------------------------------------------------------


def test_a_job_runs_with_the_system_user_settings_and_no_url(
    cli: Callable[..., Run], settings: dict[str, str], online: OnlineSimulator
) -> None:
    run = cli(*WAIT, "--json")

    assert run.code == 0, run.err
    assert json.loads(run.out)["state"] == "Succeeded"
    assert online.jobs[0].parameter_object == {"format": "csv"}
    assert online.exchanges == 1  # one ticket for the whole run
    assert online.state_requests == 1  # where the tenant is: asked once
    assert "StartBatchJob" in online.calls


def test_the_key_may_be_rsaxml_and_the_path_may_start_with_a_tilde(
    cli: Callable[..., Run],
    settings: dict[str, str],
    online: OnlineSimulator,
    clean_env: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    (tmp_path / "app-key.xml").write_text(online.private_key_rsaxml, encoding="utf-8")
    clean_env.setenv("HOME", str(tmp_path))
    clean_env.setenv("SUPEROFFICE_PRIVATE_KEY_FILE", "~/app-key.xml")

    run = cli("list", "--json")

    assert run.code == 0, run.err
    assert online.exchanges == 1


def test_a_url_set_too_is_used_as_given(
    cli: Callable[..., Run], settings: dict[str, str], online: OnlineSimulator
) -> None:
    run = cli("--url", online.endpoint(), "list")

    assert run.code == 0, run.err
    assert run.out == "No batch tasks.\n"
    assert online.state_requests == 0  # the URL was not looked up
    assert online.exchanges == 1


def test_the_app_token_option_beats_the_environment(
    cli: Callable[..., Run], settings: dict[str, str], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("SUPEROFFICE_APP_TOKEN", "not-the-client-secret")

    refused = cli("list")
    accepted = cli("list", "--app-token", APP_TOKEN)

    assert refused.code == 3
    assert accepted.code == 0, accepted.err


@pytest.mark.parametrize("unset", SYSTEM_USER_VARIABLES)
def test_partial_settings_exit_2_naming_what_is_missing_and_sending_nothing(
    cli: Callable[..., Run],
    settings: dict[str, str],
    online: OnlineSimulator,
    clean_env: pytest.MonkeyPatch,
    unset: str,
) -> None:
    clean_env.delenv(unset)

    run = cli("list")

    assert run.code == 2
    assert run.out == ""
    [line] = run.err.splitlines()
    missing = f"{unset} (or --app-token)" if unset == "SUPEROFFICE_APP_TOKEN" else unset
    assert line == f"superoffice-batch: error: incomplete system-user settings: set {missing}"
    assert nothing_sent(online)


def test_partial_settings_name_every_missing_variable_and_no_value(
    cli: Callable[..., Run], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("SUPEROFFICE_SYSTEM_USER_TOKEN", SYSTEM_USER_TOKEN)
    clean_env.setenv("SUPEROFFICE_ENVIRONMENT", "")  # empty counts as not set

    run = cli("start", "ExportTask")

    assert run.code == 2
    assert error_lines(run.err) == [
        "superoffice-batch: error: incomplete system-user settings: set SUPEROFFICE_CONTEXT_ID, "
        "SUPEROFFICE_ENVIRONMENT, SUPEROFFICE_PRIVATE_KEY_FILE and SUPEROFFICE_APP_TOKEN "
        "(or --app-token)"
    ]
    assert SYSTEM_USER_TOKEN not in run.err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "SUPEROFFICE_PRIVATE_KEY_FILE: cannot read '{path}': No such file or directory"),
        (
            "Key-Material-S3cret-9999 and more of it",
            "the key in SUPEROFFICE_PRIVATE_KEY_FILE is neither PEM (-----BEGIN …) nor RSAXML "
            "(<RSAKeyValue>)",
        ),
        (
            "-----BEGIN PRIVATE KEY-----\nKey-Material-S3cret-9999\n-----END PRIVATE KEY-----\n",
            "the key in SUPEROFFICE_PRIVATE_KEY_FILE is not a readable, unencrypted PEM "
            "private key (PKCS#1 or PKCS#8)",
        ),
        (
            "<RSAKeyValue><Modulus>Key-Material-S3cret-9999</Modulus></RSAKeyValue>",
            "the key in SUPEROFFICE_PRIVATE_KEY_FILE (RSAXML) lacks Exponent, P, Q, DP, DQ, "
            "InverseQ, D: not a private key",
        ),
    ],
    ids=["missing", "not-a-key", "bad-pem", "public-rsaxml"],
)
def test_a_bad_key_file_exits_2_naming_the_variable_never_the_key(
    cli: Callable[..., Run],
    settings: dict[str, str],
    online: OnlineSimulator,
    clean_env: pytest.MonkeyPatch,
    tmp_path: Path,
    content: str | None,
    message: str,
) -> None:
    path = tmp_path / "bad-key.pem"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    clean_env.setenv("SUPEROFFICE_PRIVATE_KEY_FILE", str(path))

    run = cli("list", "--debug")

    assert run.code == 2
    assert error_lines(run.err) == [f"superoffice-batch: error: {message.format(path=path)}"]
    assert "Key-Material-S3cret-9999" not in run.out + run.err
    assert nothing_sent(online)


@pytest.mark.parametrize("form", ["pem", "rsaxml"])
def test_key_content_in_the_key_file_variable_is_named_never_shown(
    cli: Callable[..., Run],
    settings: dict[str, str],
    online: OnlineSimulator,
    clean_env: pytest.MonkeyPatch,
    form: str,
) -> None:
    # Issue 17, break 9: a container secret's content where its path belongs.
    text = online.private_key_pem if form == "pem" else online.private_key_rsaxml
    clean_env.setenv("SUPEROFFICE_PRIVATE_KEY_FILE", text)

    run = cli("list", "--debug")

    assert run.code == 2
    assert error_lines(run.err) == [
        "superoffice-batch: error: SUPEROFFICE_PRIVATE_KEY_FILE looks like key content, not a "
        "path: set it to the path of the file that holds the key"
    ]
    assert_shows_no_secret(run.out + run.err, key_lines(text))
    assert nothing_sent(online)


def test_a_key_file_with_a_bom_and_crlf_line_ends_works(
    cli: Callable[..., Run],
    settings: dict[str, str],
    online: OnlineSimulator,
    clean_env: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # Issue 18, friction 3: as Windows and .NET tools write it.
    path = tmp_path / "app-key.xml"
    text = online.private_key_rsaxml.replace("><", ">\r\n<")
    path.write_bytes(codecs.BOM_UTF8 + text.encode("utf-8") + b"\r\n")
    clean_env.setenv("SUPEROFFICE_PRIVATE_KEY_FILE", str(path))

    run = cli("list")

    assert run.code == 0, run.err
    assert online.exchanges == 1


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "SUPEROFFICE_ENVIRONMENT",
            "production",
            "SUPEROFFICE_ENVIRONMENT must be an http:// or https:// URL, or one of sod, "
            "qaonline, online",
        ),
        (
            "SUPEROFFICE_ENVIRONMENT",
            "https://sod.superoffice.com/Cust12345",
            "SUPEROFFICE_ENVIRONMENT must be a root URL (http(s)://host[:port]), without a path",
        ),
        (
            "SUPEROFFICE_CONTEXT_ID",
            "12345",
            "SUPEROFFICE_CONTEXT_ID must be Cust followed by digits (e.g. Cust12345), got '12345'",
        ),
    ],
)
def test_a_bad_environment_or_context_identifier_exits_2_naming_the_variable(
    cli: Callable[..., Run],
    settings: dict[str, str],
    online: OnlineSimulator,
    clean_env: pytest.MonkeyPatch,
    name: str,
    value: str,
    message: str,
) -> None:
    clean_env.setenv(name, value)

    run = cli("tenant")

    assert run.code == 2
    assert error_lines(run.err) == [f"superoffice-batch: error: {message}"]
    assert nothing_sent(online)


@pytest.mark.parametrize(
    ("environment", "argv", "given"),
    [
        ({"SUPEROFFICE_TICKET": OTHER_TICKET}, ["list"], "--ticket/SUPEROFFICE_TICKET"),
        ({}, ["--ticket", OTHER_TICKET, "list"], "--ticket/SUPEROFFICE_TICKET"),
        (
            {"SUPEROFFICE_USERNAME": "jdoe", "SUPEROFFICE_PASSWORD": "pw-Jdoe-S3cret-77"},
            ["list"],
            "--username/SUPEROFFICE_USERNAME and --password/SUPEROFFICE_PASSWORD",
        ),
        ({}, ["list", "--password", "pw-Jdoe-S3cret-77"], "--password/SUPEROFFICE_PASSWORD"),
        (
            {"SUPEROFFICE_USERNAME": "jdoe", "SUPEROFFICE_PASSWORD": "pw-Jdoe-S3cret-77"},
            ["login"],
            "--username/SUPEROFFICE_USERNAME and --password/SUPEROFFICE_PASSWORD",
        ),
        ({"SUPEROFFICE_TICKET": OTHER_TICKET}, ["tenant"], "--ticket/SUPEROFFICE_TICKET"),
    ],
)
def test_the_system_user_and_another_credential_are_a_usage_error(
    cli: Callable[..., Run],
    settings: dict[str, str],
    online: OnlineSimulator,
    clean_env: pytest.MonkeyPatch,
    environment: dict[str, str],
    argv: list[str],
    given: str,
) -> None:
    for name, value in environment.items():
        clean_env.setenv(name, value)

    run = cli(*argv)

    assert run.code == 2
    assert error_lines(run.err) == [
        f"superoffice-batch: error: both the system-user settings and {given} are set; use "
        "one credential (the system user logs in by itself)"
    ]
    assert OTHER_TICKET not in run.err
    assert "pw-Jdoe-S3cret-77" not in run.err
    assert nothing_sent(online)


def test_without_the_online_extra_the_settings_are_a_usage_error_naming_it(
    cli: Callable[..., Run],
    settings: dict[str, str],
    online: OnlineSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "jwt", None)  # PyJWT cannot be imported

    run = cli("list")

    assert run.code == 2
    [line] = error_lines(run.err)
    assert "pip install 'superoffice-batch[online]'" in line
    assert nothing_sent(online)


def test_an_argument_error_masks_the_system_user_token_from_the_environment(
    cli: Callable[..., Run], settings: dict[str, str]
) -> None:
    run = cli("status", SYSTEM_USER_TOKEN)  # pasted into the wrong place

    assert run.code == 2
    assert "argument ID: not a job id" in run.err
    assert SYSTEM_USER_TOKEN not in run.err


def test_help_names_the_system_user_variables(cli: Callable[..., Run]) -> None:
    run = cli("--help")

    assert run.code == 0
    for name in SYSTEM_USER_VARIABLES:
        assert name in run.out
    assert "tenant" in run.out


# -- tenant ------------------------------------------------------------------------------


def test_tenant_prints_the_state_and_endpoint(
    cli: Callable[..., Run], settings: dict[str, str], online: OnlineSimulator
) -> None:
    run = cli("tenant")

    assert run.code == 0, run.err
    assert run.err == ""
    endpoint = online.endpoint()
    lines = run.out.splitlines()
    assert lines[:5] == [
        "Context identifier: Cust12345",
        f"Endpoint:           {endpoint}",
        "State:              Running",
        "Is running:         yes",
        "API available:      yes",
    ]
    assert re.fullmatch(r"Valid until: {8}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00", lines[5])
    assert lines[6:] == [f"Web API:            {endpoint}/api"]
    # Reading the state logs nothing in: no credentials record is made on the tenant.
    assert (online.state_requests, online.exchange_requests, online.calls) == (1, 0, [])


def test_tenant_json(
    cli: Callable[..., Run], settings: dict[str, str], online: OnlineSimulator
) -> None:
    online.move(host=1)

    run = cli("tenant", "--json")

    assert run.code == 0, run.err
    tenant = json.loads(run.out)
    valid_until = datetime.fromisoformat(str(tenant.pop("valid_until")))
    assert tenant == {
        "context_identifier": "Cust12345",
        "endpoint": f"{online.host_urls[1]}/Cust12345",
        "state": "Running",
        "is_running": True,
        "api": f"{online.host_urls[1]}/Cust12345/api",
        "api_available": True,
    }
    assert valid_until > datetime.now(timezone.utc)


def test_tenant_shows_an_unavailable_tenant_and_says_what_that_means(
    cli: Callable[..., Run], settings: dict[str, str], online: OnlineSimulator
) -> None:
    online.set_state(state="OfflineMaintenance")

    run = cli("tenant", "--json")

    assert run.code == 0, run.err
    tenant = json.loads(run.out)
    assert (tenant["state"], tenant["is_running"], tenant["api_available"]) == (
        "OfflineMaintenance",
        False,
        False,
    )
    assert re.fullmatch(
        "superoffice-batch: the tenant's API is not available while it is OfflineMaintenance: "
        "the other commands exit 3 without sending anything; try again later, after "
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(the state's ValidUntil\)\n",
        run.err,
    )


def test_tenant_text_shows_each_field_as_sent_cleaned_and_masked() -> None:
    # Running, yet an unlisted state: IsRunning and API available can disagree.
    tenant = TenantState(
        context_identifier="Cust12345",
        endpoint=f"https://sod2.superoffice.com/{APP_TOKEN}",
        state="Upgrading\x1b[2J\u202e",
        is_running=True,
        valid_until=datetime(2026, 12, 4, 6, 0, 30, 123456, tzinfo=timezone.utc),
    )
    out = Output(
        json_mode=False, stdout=io.StringIO(), stderr=io.StringIO(), secrets=Secrets(APP_TOKEN)
    )

    out.tenant(tenant)

    assert out.stdout.getvalue().splitlines() == [
        "Context identifier: Cust12345",
        "Endpoint:           https://sod2.superoffice.com/***",
        "State:              Upgrading [2J",
        "Is running:         yes",
        "API available:      no",
        "Valid until:        2026-12-04 06:00:30+00:00",
    ]


def test_tenant_needs_the_context_identifier_and_the_environment(
    cli: Callable[..., Run], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("SUPEROFFICE_URL", "http://127.0.0.1:9/Cust12345")
    clean_env.setenv("SUPEROFFICE_TICKET", OTHER_TICKET)

    run = cli("tenant")

    assert run.code == 2
    assert error_lines(run.err) == [
        "superoffice-batch: error: superoffice-batch tenant needs the tenant: "
        "set SUPEROFFICE_CONTEXT_ID and SUPEROFFICE_ENVIRONMENT"
    ]


def test_tenant_needs_nothing_but_the_context_identifier_and_the_environment(
    cli: Callable[..., Run], online: OnlineSimulator, clean_env: pytest.MonkeyPatch
) -> None:
    # Friction 4 (issue 18): the state API needs no credentials, nor the online extra.
    clean_env.setenv("SUPEROFFICE_CONTEXT_ID", online.context_identifier)
    clean_env.setenv("SUPEROFFICE_ENVIRONMENT", online.environment)

    run = cli("tenant", "--json")

    assert run.code == 0, run.err
    assert json.loads(run.out)["endpoint"] == online.endpoint()
    assert (online.state_requests, online.exchange_requests) == (1, 0)


def test_tenant_with_half_the_tenant_names_the_missing_variable(
    cli: Callable[..., Run], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("SUPEROFFICE_CONTEXT_ID", "Cust12345")

    run = cli("tenant")

    assert run.code == 2
    assert error_lines(run.err) == [
        "superoffice-batch: error: incomplete system-user settings: set SUPEROFFICE_ENVIRONMENT"
    ]


# -- the service's answers -----------------------------------------------------------------


def test_an_unavailable_tenant_exits_3_with_a_clear_message_and_sends_nothing(
    cli: Callable[..., Run], settings: dict[str, str], online: OnlineSimulator
) -> None:
    online.set_state(state="OfflineMaintenance")

    run = cli("start", "ExportTask")

    assert run.code == 3
    [line] = error_lines(run.err)
    assert re.fullmatch(
        "superoffice-batch: error: TenantUnavailable: tenant Cust12345 is OfflineMaintenance: "
        "its API is not available, so nothing was sent; try again later, after "
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(the state's ValidUntil\) "
        r"\(superoffice-batch tenant shows its state\)",
        line,
    )
    assert online.calls == []
    assert online.exchange_requests == 0
    assert online.jobs == []


def test_a_refused_exchange_exits_3_with_a_hint_about_the_system_user_settings(
    cli: Callable[..., Run],
    settings: dict[str, str],
    online: OnlineSimulator,
    clean_env: pytest.MonkeyPatch,
    other_key_file: Path,
) -> None:
    clean_env.setenv("SUPEROFFICE_PRIVATE_KEY_FILE", str(other_key_file))

    refused = cli("list")

    assert refused.code == 3
    [line] = error_lines(refused.err)
    assert line.startswith(
        "superoffice-batch: error: AuthenticationError: SuperOffice refused the system-user token"
    )
    assert line.endswith(
        "(check SUPEROFFICE_SYSTEM_USER_TOKEN, SUPEROFFICE_PRIVATE_KEY_FILE and "
        "SUPEROFFICE_APP_TOKEN)"
    )
    assert online.exchange_requests == 1
    assert online.exchanges == 0
    assert online.calls == []


def test_a_misdirected_url_exits_3_saying_how_to_let_the_command_find_the_tenant(
    cli: Callable[..., Run], clean_env: pytest.MonkeyPatch, online: OnlineSimulator
) -> None:
    # The login host serves authentication only: it answers NetServer calls with 421.
    ticket = online.issue_ticket()
    clean_env.setenv("SUPEROFFICE_URL", f"{online.environment}/Cust12345")
    clean_env.setenv("SUPEROFFICE_TICKET", ticket)

    run = cli("list", "--debug")

    assert run.code == 3
    [line] = error_lines(run.err)
    assert line.startswith("superoffice-batch: error: HttpError: HTTP 421 ")
    assert "Wrong subdomain used to access tenant" in line
    assert line.endswith(
        "; 421 Misdirected Request: this host does not serve the tenant (SuperOffice CRM "
        "Online moves tenants between hosts, and sod., qaonline. and online.superoffice.com "
        "serve authentication only); leave SUPEROFFICE_URL unset (and --url out) and set "
        "SUPEROFFICE_CONTEXT_ID, SUPEROFFICE_ENVIRONMENT, SUPEROFFICE_SYSTEM_USER_TOKEN, "
        "SUPEROFFICE_PRIVATE_KEY_FILE and SUPEROFFICE_APP_TOKEN to let the client find the "
        "tenant's endpoint"
    )
    assert "base_url" not in run.err
    assert ticket not in run.err
    assert online.misdirected == 1


# -- demo --online -------------------------------------------------------------------------


@pytest.fixture
def demo_simulators(monkeypatch: pytest.MonkeyPatch) -> list[OnlineSimulator]:
    """The simulators ``demo --online`` makes (with short jobs), to check what it did."""
    made: list[OnlineSimulator] = []
    make = cli_simulator._online_simulator

    def recording() -> OnlineSimulator:
        made.append(make())
        return made[-1]

    monkeypatch.setattr(cli_simulator, "DEMO_JOB_SECONDS", JOB_SECONDS)
    monkeypatch.setattr(cli_simulator, "_online_simulator", recording)
    return made


def test_demo_online_runs_the_system_user_flow_to_a_finished_job(
    cli: Callable[..., Run],
    clean_env: pytest.MonkeyPatch,
    demo_simulators: list[OnlineSimulator],
) -> None:
    run = cli("demo", "--online")

    assert run.code == 0, run.err
    [online] = demo_simulators
    lines = run.out.splitlines()
    assert lines[:2] == [
        f"SuperOffice Online simulator running at {online.environment} with tenant Cust12345",
        "Signing the tenant's system-user token with the app's new key and starting "
        "ExportTask with format=csv",
    ]
    assert lines[2] == "Started batch job 1"
    assert "State:        Succeeded" in lines
    assert lines[-3:] == [
        "Batch job 1 finished: Succeeded",
        f"Tenant endpoint (from the tenant state API): {online.host_urls[0]}/Cust12345",
        f"System-user token exchanged for a ticket 1 time, for {len(online.calls)} NetServer calls",
    ]
    assert online.exchanges == 1
    assert [job.state.value for job in online.jobs] == ["Succeeded"]
    assert "Traceback" not in run.err


def test_demo_online_json_prints_only_the_final_task(
    cli: Callable[..., Run],
    clean_env: pytest.MonkeyPatch,
    demo_simulators: list[OnlineSimulator],
) -> None:
    run = cli("demo", "--online", "--json")

    assert run.code == 0, run.err
    [task] = [json.loads(line) for line in run.out.splitlines()]
    assert (task["name"], task["state"]) == ("ExportTask", "Succeeded")


def test_demo_online_without_the_online_extra_exits_2_naming_it(
    cli: Callable[..., Run], clean_env: pytest.MonkeyPatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "jwt", None)

    run = cli("demo", "--online")

    assert run.code == 2
    [line] = error_lines(run.err)
    assert "pip install 'superoffice-batch[online]'" in line


def test_demo_online_shows_no_secret_even_with_debug(
    cli: Callable[..., Run],
    clean_env: pytest.MonkeyPatch,
    demo_simulators: list[OnlineSimulator],
    issued_tickets: list[str],
) -> None:
    run = cli("demo", "--online", "--debug")

    assert run.code == 0, run.err
    [online] = demo_simulators
    assert "Batch.svc" in run.err  # the debug log is there, and masked
    assert issued_tickets
    secrets = [online.system_user_token, online.application_token, *issued_tickets]
    assert_shows_no_secret(run.out + run.err, secrets + key_lines(online.private_key_pem))


# -- simulate --online ------------------------------------------------------------------------


def exported(shown: str) -> dict[str, str]:
    """The settings of the ``export NAME=VALUE`` lines ``simulate`` printed."""
    pairs = re.findall(r"^  export (SUPEROFFICE_\w+)=(\S+)$", shown, re.MULTILINE)
    return {name: shlex.split(value)[0] for name, value in pairs}


@pytest.fixture
def simulating(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str]]:
    """Run ``simulate`` in-process; while it serves, ``during(announcement)`` runs in place
    of waiting, then Ctrl-C is pressed. Returns the code and what was printed after."""

    def run(*argv: str, during: Callable[[str], None]) -> tuple[int, str]:
        def serving() -> None:
            during(capsys.readouterr().out)
            raise KeyboardInterrupt

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(cli_simulator, "_until_interrupted", serving)
            code = main(["simulate", *argv])
        after = capsys.readouterr()
        return code, after.out + after.err

    return run


def test_simulate_online_serves_the_system_user_flow_with_the_settings_it_prints(
    simulating: Callable[..., tuple[int, str]],
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen: dict[str, object] = {}

    def during(shown: str) -> None:
        settings = exported(shown)
        seen["settings"] = settings
        key_file = Path(settings["SUPEROFFICE_PRIVATE_KEY_FILE"])
        seen["modes"] = (key_file.stat().st_mode & 0o777, key_file.parent.stat().st_mode & 0o777)
        with pytest.MonkeyPatch.context() as patch:
            for name, value in settings.items():
                patch.setenv(name, value)
            seen["tenant"] = main(["tenant", "--json"]), capsys.readouterr().out
            seen["job"] = main([*WAIT, "--json"]), capsys.readouterr().out
            tenant = json.loads(str(seen["tenant"][1]))  # type: ignore[index]
            for name in settings:
                patch.delenv(name)
            patch.setenv("SUPEROFFICE_URL", tenant["endpoint"])
            patch.setenv("SUPEROFFICE_APP_TOKEN", settings["SUPEROFFICE_APP_TOKEN"])
            seen["login"] = main(["--username", "demo", "--password", "demo", "list"])
            seen["login_error"] = capsys.readouterr().err

    code, after = simulating("--online", "--job-duration", str(JOB_SECONDS), during=during)

    assert code == 0
    settings = seen["settings"]
    assert isinstance(settings, dict)
    assert sorted(settings) == sorted(SYSTEM_USER_VARIABLES)
    assert settings["SUPEROFFICE_ENVIRONMENT"].startswith("http://127.0.0.1:")
    assert settings["SUPEROFFICE_CONTEXT_ID"] == "Cust12345"
    assert seen["modes"] == (0o600, 0o700)
    tenant_code, tenant_out = seen["tenant"]  # type: ignore[misc]
    assert tenant_code == 0
    tenant = json.loads(tenant_out)
    assert (tenant["context_identifier"], tenant["state"]) == ("Cust12345", "Running")
    job_code, job_out = seen["job"]  # type: ignore[misc]
    assert job_code == 0
    assert json.loads(job_out.splitlines()[-1])["state"] == "Succeeded"
    # Online has no usernames and passwords: the tenant refuses them.
    assert seen["login"] == 3
    assert "AuthenticationError" in str(seen["login_error"])
    assert "simulator stopped" in after
    assert not Path(settings["SUPEROFFICE_PRIVATE_KEY_FILE"]).parent.exists()


def test_simulate_online_json_prints_the_settings_and_keeps_a_given_secret_unshown(
    simulating: Callable[..., tuple[int, str]], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("SUPEROFFICE_APP_TOKEN", APP_TOKEN)
    shown: list[str] = []
    code, _ = simulating("--online", "--json", "--soap", "both", during=shown.append)

    assert code == 0
    [announced] = [json.loads(line) for line in shown[0].splitlines()]
    assert announced["online"] is True
    assert announced["soap"] == "both"
    assert announced["endpoint"].endswith("/Cust12345")
    assert sorted(announced["settings"]) == sorted(
        name for name in SYSTEM_USER_VARIABLES if name != "SUPEROFFICE_APP_TOKEN"
    )
    assert APP_TOKEN not in shown[0]


def test_simulate_online_text_names_a_given_secret_by_where_it_came_from(
    simulating: Callable[..., tuple[int, str]], clean_env: pytest.MonkeyPatch
) -> None:
    shown: list[str] = []
    code, _ = simulating("--online", "--app-token", APP_TOKEN, during=shown.append)

    assert code == 0
    assert APP_TOKEN not in shown[0]
    assert "export SUPEROFFICE_APP_TOKEN='<the client secret given in --app-token>'" in shown[0]
    assert "  unset SUPEROFFICE_URL SUPEROFFICE_TICKET" in shown[0]


def test_simulate_online_refuses_users_as_online_does(
    cli: Callable[..., Run], clean_env: pytest.MonkeyPatch
) -> None:
    run = cli("simulate", "--online", "--user", "demo:demo")

    assert run.code == 2
    [line] = error_lines(run.err)
    assert "refuses usernames and passwords" in line


# -- no secret in any output ----------------------------------------------------------------


def test_no_secret_reaches_the_output_or_the_errors_even_with_debug(
    cli: Callable[..., Run],
    settings: dict[str, str],
    online: OnlineSimulator,
    other_key_file: Path,
    issued_tickets: list[str],
) -> None:
    shown = ""

    def run(*argv: str, expected: int, **environment: str) -> None:
        nonlocal shown
        with pytest.MonkeyPatch.context() as patch:
            for name, value in environment.items():
                patch.setenv(name, value)
            result = cli(*argv)
        assert result.code == expected, (argv, result.err)
        shown += result.out + result.err

    run(*WAIT, "--debug", expected=0)
    run("tenant", "--debug", expected=0)
    run("list", "--json", "--debug", expected=0)
    run("list", "--debug", expected=3, SUPEROFFICE_SYSTEM_USER_TOKEN="SystemUser-Unknown-1")
    run("list", "--debug", expected=3, SUPEROFFICE_PRIVATE_KEY_FILE=str(other_key_file))
    run("list", "--debug", expected=3, SUPEROFFICE_APP_TOKEN="client-Secret-Wrong-0816")
    run("list", "--debug", expected=2, SUPEROFFICE_TICKET=OTHER_TICKET)
    online.set_state(state="OfflineMaintenance")
    run("start", "ExportTask", "--debug", expected=3)
    online.set_state(state="Running")
    online.move(host=1)
    run("list", "--debug", expected=3, SUPEROFFICE_URL=online.host_urls[0] + "/Cust12345")

    assert "Traceback" in shown  # --debug did show the tracebacks, masked
    assert len(issued_tickets) >= 3
    secrets = [SYSTEM_USER_TOKEN, APP_TOKEN, OTHER_TICKET, "client-Secret-Wrong-0816"]
    secrets += ["SystemUser-Unknown-1", *issued_tickets]
    key_texts = online.private_key_pem + other_key_file.read_text(encoding="ascii")
    assert_shows_no_secret(shown, secrets + key_lines(key_texts))


@pytest.mark.slow
def test_demo_online_runs_as_a_command() -> None:
    result = run_process("demo", "--online")

    assert result.returncode == 0, result.stderr
    assert "Tenant endpoint (from the tenant state API): http://127.0.0.1:" in result.stdout
    assert "System-user token exchanged for a ticket 1 time" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_system_user_secrets_never_reach_the_output_of_the_process(
    online: OnlineSimulator, key_file: Path
) -> None:
    settings = system_user_settings(online, key_file)
    runs: list[tuple[Mapping[str, str], tuple[str, ...], int]] = [
        (settings, (*WAIT, "--debug"), 0),
        (settings, ("tenant", "--json", "--debug"), 0),
        (settings, ("--help",), 0),
        ({**settings, "SUPEROFFICE_SYSTEM_USER_TOKEN": "SystemUser-Unknown-1"}, ("list",), 3),
        ({**settings, "SUPEROFFICE_TICKET": OTHER_TICKET}, ("list", "--debug"), 2),
    ]
    shown = ""
    for env, argv, expected in runs:
        result = run_process(*argv, env=env)
        assert result.returncode == expected, (argv, result.stderr)
        shown += result.stdout + result.stderr

    secrets = [SYSTEM_USER_TOKEN, APP_TOKEN, OTHER_TICKET, "SystemUser-Unknown-1"]
    assert_shows_no_secret(shown, secrets + key_lines(online.private_key_pem))
