"""The command line against a hostile server and careless input: what reaches the terminal."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator

import httpx
import pytest
import respx

from conftest import BASE_URL, BATCH_URL, PRINCIPAL_URL
from replies import authenticated, service_error, task
from superoffice_batch import BatchClient, SoapVersion
from superoffice_batch.cli import main
from superoffice_batch.testing import NetServerSimulator
from superoffice_batch.testing import server as server_module
from test_cli import ENV_NAMES, Run

SOAP = SoapVersion.SOAP12
# The options of a Batch call to the mocked tenant with a fixed ticket.
TICKETED = ("--url", BASE_URL, "--soap", "1.2", "--ticket", "7T:abcdef")
HOSTILE_TICKET = "7T:abc\u202edef\x9bghi\u2066jkl\u200f"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Run]:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)

    def run(*argv: str, **env: str) -> Run:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        code = main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


# -- server text on the terminal -------------------------------------------------------------


@pytest.mark.parametrize("json_mode", [False, True], ids=["text", "json"])
def test_login_prints_a_ticket_without_control_and_bidi_characters(
    cli: Callable[..., Run], router: respx.MockRouter, json_mode: bool
) -> None:
    router.post(PRINCIPAL_URL).mock(return_value=authenticated(SOAP, HOSTILE_TICKET))
    options = ["--json"] if json_mode else []

    run = cli(
        "login",
        *options,
        "--url",
        BASE_URL,
        "--soap",
        "1.2",
        SUPEROFFICE_USERNAME="jdoe",
        SUPEROFFICE_PASSWORD="Pa55-w0rd!x",
    )

    assert run.code == 0
    assert [ch for ch in run.out if not ch.isprintable() and ch != "\n"] == []
    if json_mode:  # escaped, so the ticket itself is intact
        assert "\\u202e" in run.out
        assert json.loads(run.out)["ticket"] == HOSTILE_TICKET
    else:
        assert run.out.split() == ["7T:abc", "def", "ghi", "jkl"]


# -- masking the server's parts of a line, never the command line's words -----------------------


def test_a_short_password_does_not_mangle_the_error_line(cli: Callable[..., Run]) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/SuperOffice"
    run = cli(
        "status",
        "1",
        "--url",
        url,
        "--soap",
        "1.2",
        "--timeout",
        "5",
        SUPEROFFICE_USERNAME="jdoe",
        SUPEROFFICE_PASSWORD="e",
    )

    assert run.code == 4
    assert "superoffice-batch: error: TransportError: ConnectError on POST" in run.err
    assert "***" not in run.err


def test_a_password_that_is_a_word_of_the_command_line_leaves_its_words_alone(
    cli: Callable[..., Run], router: respx.MockRouter
) -> None:
    router.post(BATCH_URL).mock(
        return_value=service_error(SOAP, "login for error failed", "SoSecurityException")
    )

    run = cli(
        "status",
        "1",
        *TICKETED,
        SUPEROFFICE_APP_TOKEN="error",
    )

    assert run.code == 3
    assert run.err == (
        "superoffice-batch: error: ServiceError: SoSecurityException: login for *** failed\n"
    )


def test_a_secret_the_server_echoes_in_a_failed_job_is_masked(
    cli: Callable[..., Run], router: respx.MockRouter
) -> None:
    secret = "app-Token-S3cret-0815"
    router.post(BATCH_URL).mock(
        return_value=task(SOAP, "Failed", 100, "Failed", result=f"token {secret} refused")
    )

    run = cli(
        "wait",
        "4711",
        *TICKETED,
        SUPEROFFICE_APP_TOKEN=secret,
    )

    assert run.code == 1
    assert secret not in run.out + run.err
    assert "superoffice-batch: error: batch job 4711 failed: token *** refused" in run.err


def test_debug_logging_masks_what_a_record_quotes_not_the_library_words(
    cli: Callable[..., Run], router: respx.MockRouter
) -> None:
    router.post(BATCH_URL).mock(return_value=task(SOAP))

    run = cli(
        "status",
        "4711",
        "--debug",
        *TICKETED,
        SUPEROFFICE_APP_TOKEN="POST",
    )

    assert run.code == 0
    assert f"GetBatchTaskInfo POST {BATCH_URL}: HTTP 200" in run.err
    assert "ApplicationToken>***</Batch:ApplicationToken>" in run.err


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--password", "hunter2 pass"],
        ["demo", "--pass=hunter2 pass"],
        ["--ticket", "hunter2 pass", "status", "1"],
        ["status", "1", "--password", "hunter2 pass", "extra"],
        ["demo", "--app-token", "hunter2 pass"],
        ["demo", "--user", "alice:hunter2 pass"],
    ],
)
def test_secret_option_values_never_reach_a_usage_error(
    cli: Callable[..., Run], argv: list[str]
) -> None:
    run = cli(*argv)

    assert run.code == 2
    assert "superoffice-batch: error:" in run.err
    assert "hunter2" not in run.err


# -- warnings ----------------------------------------------------------------------------------


def test_the_cli_warns_once_on_its_stderr_about_credentials_over_plain_http(
    cli: Callable[..., Run], router: respx.MockRouter
) -> None:
    router.post("http://crm.example.com/SuperOffice/Remote/Services88/Batch.svc").mock(
        return_value=task(SOAP)
    )

    run = cli(
        "status",
        "4711",
        "--url",
        "http://crm.example.com/SuperOffice",
        "--soap",
        "1.2",
        "--ticket",
        "7T:abcdef",
    )

    assert run.code == 0
    assert run.err == (
        "superoffice-batch: warning: credentials will be sent over plain HTTP to "
        "crm.example.com, readable on the way; use https://\n"
    )


@pytest.mark.parametrize(
    ("url", "options", "warned"),
    [
        ("http://crm.example.com/", {"ticket": "7T:abcdef"}, True),
        ("http://10.0.0.8/", {"application_token": "t"}, True),
        ("http://crm.example.com/", {"auth": lambda: "7T:abcdef"}, True),
        ("https://crm.example.com/", {"ticket": "7T:abcdef"}, False),
        ("http://127.0.0.1:8080/", {"ticket": "7T:abcdef"}, False),
        ("http://localhost/", {"ticket": "7T:abcdef"}, False),
        ("http://[::1]/", {"ticket": "7T:abcdef"}, False),
        ("http://crm.example.com/", {}, False),
    ],
)
def test_a_client_warns_when_credentials_would_cross_the_network_in_the_clear(
    caplog: pytest.LogCaptureFixture, url: str, options: dict[str, object], warned: bool
) -> None:
    with caplog.at_level(logging.WARNING, logger="superoffice_batch"):
        BatchClient(url, **options).close()  # type: ignore[arg-type]

    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == (1 if warned else 0)
    if warned:
        assert "plain HTTP" in warnings[0].getMessage()


@pytest.mark.parametrize(("host", "warned"), [("0.0.0.0", True), ("127.0.0.1", False)])
def test_the_simulator_warns_when_it_listens_beyond_loopback(
    caplog: pytest.LogCaptureFixture, host: str, warned: bool
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="superoffice_batch"),
        NetServerSimulator(host=host),
    ):
        pass

    messages = [record.getMessage() for record in caplog.records]
    assert any("beyond loopback" in message for message in messages) is warned


def test_the_simulator_closes_an_idle_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module.Server, "idle_timeout", 0.2)
    with (
        NetServerSimulator() as simulator,
        socket.create_connection(("127.0.0.1", simulator.port), timeout=10) as idle,
    ):
        assert idle.recv(1) == b""  # closed by the server, long before our own timeout


# -- Ctrl-C --------------------------------------------------------------------------------------


def test_ctrl_c_during_start_batch_job_says_the_job_may_have_started(
    cli: Callable[..., Run], router: respx.MockRouter
) -> None:
    def interrupted(request: httpx.Request) -> httpx.Response:
        raise KeyboardInterrupt

    router.post(BATCH_URL).mock(side_effect=interrupted)

    run = cli("start", "Export Task", *TICKETED)

    assert run.code == 130
    assert run.err == (
        "superoffice-batch: interrupted: the batch job may have started; "
        "to find it: superoffice-batch list --name 'Export Task'\n"
    )


# -- round 3: no value in a usage error, nothing raw on the terminal with --debug -------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--tickt", "S3cr3tValue", "status", "5"],
        ["--tickt=S3cr3tValue", "status", "5"],
        ["status", "S3cr3tValue"],
        ["status", "5", "S3cr3tValue"],
        ["list", "--state", "S3cr3tValue"],
        ["list", "--soap", "S3cr3tValue"],
        ["simulate", "--port", "S3cr3tValue"],
        ["start", "ExportTask", "-p", "S3cr3tValue"],
        ["wait", "5", "--poll-interval", "S3cr3tValue"],
        ["S3cr3tValue"],
    ],
)
def test_a_usage_error_never_echoes_a_value(cli: Callable[..., Run], argv: list[str]) -> None:
    run = cli(*argv)

    assert run.code == 2
    assert "error:" in run.err
    assert "S3cr3t" not in run.out + run.err


@pytest.mark.parametrize(
    "argv",
    [
        ["--tickt", "S3cr3tValue", "status", "5"],
        ["--tickt=S3cr3tValue", "status", "5"],
        ["status", "5", "--tickt", "S3cr3tValue"],
        ["--tick", "S3cr3tValue", "status", "5"],  # no abbreviations: a prefix is misspelled
    ],
)
def test_a_misspelled_option_is_named_with_the_nearest_one(
    cli: Callable[..., Run], argv: list[str]
) -> None:
    run = cli(*argv)

    assert run.code == 2
    misspelled = argv[0 if argv[0].startswith("--") else 2].partition("=")[0]
    assert run.err == (
        f"superoffice-batch: error: unrecognized option {misspelled} (did you mean --ticket?) "
        "(see: superoffice-batch --help)\n"
    )


def test_an_unknown_option_without_a_near_one_is_named_alone(cli: Callable[..., Run]) -> None:
    run = cli("list", "--frobnicate", "S3cr3tValue")

    assert run.code == 2
    assert run.err == (
        "superoffice-batch: error: unrecognized option --frobnicate "
        "(see: superoffice-batch --help)\n"
    )


def test_a_usage_error_still_names_the_options_and_commands(cli: Callable[..., Run]) -> None:
    run = cli("--ticket", "S3cr3tValue", "statuss", "5")

    assert "choose from" in run.err
    assert "'status'" in run.err
    assert "S3cr3t" not in run.err


def _hostile_fault(text: str) -> httpx.Response:
    body = (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault>'
        "<s:Code><s:Value>s:Receiver</s:Value></s:Code>"
        f'<s:Reason><s:Text xml:lang="en">{text}</s:Text></s:Reason>'
        "</s:Fault></s:Body></s:Envelope>"
    )
    return httpx.Response(
        500, content=body.encode(), headers={"Content-Type": "application/soap+xml"}
    )


TERMINAL_ATTACK = "boom&#x1b;]0;pwned&#x7;&#x1b;[2J\u202eevil\x9b31m &#55;T:abcdefgh"


def test_debug_output_reaches_the_terminal_without_escapes_or_secrets(
    cli: Callable[..., Run], router: respx.MockRouter
) -> None:
    router.post(BATCH_URL).mock(return_value=_hostile_fault(TERMINAL_ATTACK))

    run = cli("status", "4711", "--debug", *TICKETED)

    assert run.code != 0
    assert "Traceback" in run.err or "envelope" in run.err
    unsafe = [ch for ch in run.err if not ch.isprintable() and ch not in "\n\t"]
    assert unsafe == []
    assert "abcdefgh" not in run.err  # &#55;T:… is a ticket, escaped


def test_debug_traceback_of_an_unexpected_error_is_cleaned(
    cli: Callable[..., Run], router: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("server said \x1b[31mred\x07 \u202e")

    monkeypatch.setattr(BatchClient, "get_batch_task_info", explode)

    run = cli("status", "4711", "--debug", *TICKETED)

    assert "RuntimeError" in run.err
    assert [ch for ch in run.err if not ch.isprintable() and ch not in "\n\t"] == []


def test_a_reply_no_reader_can_hold_is_a_service_error_not_an_unexpected_one(
    cli: Callable[..., Run], router: respx.MockRouter
) -> None:
    reply = task(SOAP)
    content = reply.content.replace(b"2025-05-07T14:29:58", b"12345678901234567890-05-07T14:29:58")
    router.post(BATCH_URL).mock(
        return_value=httpx.Response(200, content=content, headers=reply.headers)
    )

    run = cli("status", "4711", *TICKETED)

    assert run.code == 3  # a service error, not an internal one
    assert "unexpected error" not in run.err
    assert "ProtocolError" in run.err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["wait", "5", "--poll-interval", "1e6"], "--poll-interval: seconds must be at most 86400"),
        (["wait", "5", "--max-wait", "1e10"], "--max-wait: seconds must be at most 31622400"),
        (["list", "--timeout", "1e400"], "--timeout: seconds must be finite"),
    ],
)
def test_seconds_out_of_range_are_a_usage_error_naming_the_option(
    cli: Callable[..., Run], argv: list[str], named: str
) -> None:
    run = cli(*argv, *TICKETED[:2], "--ticket", "7T:abcdef")

    assert run.code == 2
    assert named in run.err
    assert "unexpected" not in run.err
