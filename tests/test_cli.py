"""The ``superoffice-batch`` command line, against the bundled NetServer simulator.

Most tests call ``main(argv)`` in-process and read what it printed with ``capsys``; the
ones about the process itself (the console entry, ``demo``, ``simulate``, Ctrl-C, a real
TTY, secrets in every stream) run ``python -m superoffice_batch`` in a subprocess. Every
wait is bounded: simulated jobs last about a second and subprocesses have timeouts.
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import attrs
import pytest

from superoffice_batch import BatchTaskInfo, BatchTaskState
from superoffice_batch import client as client_module
from superoffice_batch.cli import _simulator as cli_simulator
from superoffice_batch.cli import main
from superoffice_batch.cli._output import (
    BarProgress,
    LineProgress,
    Output,
    render_bar,
    task_json,
    task_table,
)
from superoffice_batch.cli._parser import build_parser
from superoffice_batch.cli._parser import state as parser_state
from superoffice_batch.testing import NetServerSimulator, SoapMode

JOB_SECONDS = 0.5
"""How long a job of the shared simulator runs: long enough to show progress."""
POLL = "0.1"
SUBPROCESS_TIMEOUT = 30.0
TASK_FIELDS = {field.name for field in attrs.fields(BatchTaskInfo)}
ENV_NAMES = (
    "SUPEROFFICE_URL",
    "SUPEROFFICE_TICKET",
    "SUPEROFFICE_APP_TOKEN",
    "SUPEROFFICE_USERNAME",
    "SUPEROFFICE_PASSWORD",
    "SUPEROFFICE_CONTEXT_ID",
    "SUPEROFFICE_ENVIRONMENT",
    "SUPEROFFICE_SYSTEM_USER_TOKEN",
    "SUPEROFFICE_PRIVATE_KEY_FILE",
)

# Secrets of the online simulator: distinctive, so that a leak cannot hide.
ALICE = "alice"
ALICE_PASSWORD = "pw-Alice-S3cret-4711"
APP_TOKEN = "app-Token-S3cret-0815"


# -- running the command line ----------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """What one run of the command line did."""

    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Run ``main(argv)`` in-process; returns its exit code and what it printed."""

    def run(*argv: str) -> Run:
        code = main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def _clean_environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in ENV_NAMES}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra or {})
    return env


def _default_sigint() -> None:
    # A child inherits an ignored SIGINT (a parent started in the background by a
    # non-interactive shell has one); Python then never raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_process(
    *argv: str, env: Mapping[str, str] | None = None, timeout: float = SUBPROCESS_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """``python -m superoffice_batch ARGV`` with only the given SUPEROFFICE_* settings."""
    return subprocess.run(
        [sys.executable, "-m", "superoffice_batch", *argv],
        env=_clean_environ(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=_default_sigint,
    )


def start_process(
    *argv: str, env: Mapping[str, str] | None = None, **kwargs: object
) -> subprocess.Popen[bytes]:
    """``python -m superoffice_batch ARGV`` in the background (pipes unless overridden)."""
    options: dict[str, object] = {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        "preexec_fn": _default_sigint,
    }
    options.update(kwargs)
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "superoffice_batch", *argv], env=_clean_environ(env), **options
    )


def read_until(fd: int, done: Callable[[bytes], bool], timeout: float) -> bytes:
    """Read ``fd`` until ``done(everything read)`` or end of file; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    data = b""
    while not done(data):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out after {timeout} s; read so far: {data!r}")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other end of a pty was closed
            break
        if not chunk:
            break
        data += chunk
    return data


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Make sure a background process is gone (a failed test must not leave it running)."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=SUBPROCESS_TIMEOUT)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


@pytest.fixture
def sigint_ignored() -> Iterator[None]:
    """This process ignores SIGINT, as when started in the background: the helpers above
    must still give their children the default, or Ctrl-C would do nothing there."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# -- simulators and settings ----------------------------------------------------------------


@pytest.fixture(scope="module")
def simulator() -> Iterator[NetServerSimulator]:
    """The simulator most tests use: user demo/demo, SOAP 1.1, one-second jobs."""
    with NetServerSimulator(users={"demo": "demo"}, job_duration=JOB_SECONDS) as sim:
        yield sim


@pytest.fixture(scope="module")
def slow_simulator() -> Iterator[NetServerSimulator]:
    """A simulator whose jobs run for minutes: for stopping, timeouts and Ctrl-C."""
    with NetServerSimulator(users={"demo": "demo"}, job_duration=600.0) as sim:
        yield sim


@pytest.fixture(scope="module")
def online_simulator() -> Iterator[NetServerSimulator]:
    """An Online-like simulator: demands the application token; user alice."""
    with NetServerSimulator(
        users={ALICE: ALICE_PASSWORD},
        soap=SoapMode.BOTH,
        online=True,
        application_token=APP_TOKEN,
        job_duration=JOB_SECONDS,
    ) as sim:
        yield sim


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No SUPEROFFICE_* settings from the developer's shell; no proxy for loopback."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return monkeypatch


def demo_env(sim: NetServerSimulator) -> dict[str, str]:
    """Settings that log in as demo/demo on ``sim``."""
    return {
        "SUPEROFFICE_URL": sim.base_url,
        "SUPEROFFICE_USERNAME": "demo",
        "SUPEROFFICE_PASSWORD": "demo",
    }


@pytest.fixture
def env(clean_env: pytest.MonkeyPatch, simulator: NetServerSimulator) -> pytest.MonkeyPatch:
    """The environment points at the shared simulator as demo/demo."""
    for name, value in demo_env(simulator).items():
        clean_env.setenv(name, value)
    return clean_env


@pytest.fixture
def slow_env(
    clean_env: pytest.MonkeyPatch, slow_simulator: NetServerSimulator
) -> pytest.MonkeyPatch:
    """The environment points at the slow simulator as demo/demo."""
    for name, value in demo_env(slow_simulator).items():
        clean_env.setenv(name, value)
    return clean_env


def closed_port_url() -> str:
    """A loopback URL on which nothing listens (the port was just free)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/Cust12345"


def started_id(cli: Callable[..., Run], *argv: str) -> int:
    """Start a job with ``start ARGV --json`` and return its id."""
    run = cli("start", *argv, "--json")
    assert run.code == 0, run.err
    return int(json.loads(run.out)["id"])


def json_lines(text: str) -> list[dict[str, object]]:
    """Each line of ``text`` as a JSON object."""
    return [json.loads(line) for line in text.splitlines()]


def error_lines(err: str) -> list[str]:
    """The ``superoffice-batch: error: …`` lines of stderr."""
    return [line for line in err.splitlines() if line.startswith("superoffice-batch: error: ")]


# -- help, usage errors, imports ---------------------------------------------------------------


COMMANDS = (
    "start",
    "status",
    "wait",
    "stop",
    "delete",
    "list",
    "login",
    "tenant",
    "simulate",
    "demo",
)


def test_help_lists_every_command_and_the_exit_codes(cli: Callable[..., Run]) -> None:
    run = cli("--help")

    assert run.code == 0
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", run.out, re.MULTILINE), command
    assert "exit codes:" in run.out
    for code in ("0", "1", "2", "3", "4", "130"):
        assert re.search(rf"^  {code}\s+\S", run.out, re.MULTILINE), code
    for name in ENV_NAMES:
        assert name in run.out


CONNECTING = ("start", "status", "wait", "stop", "delete", "list", "login", "tenant")


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help_of_its_own(cli: Callable[..., Run], command: str) -> None:
    run = cli(command, "--help")

    assert run.code == 0
    assert run.out.startswith(f"usage: superoffice-batch {command}")
    # The shared environment and exit-code text is in the top-level help only.
    assert "\nexit codes:\n" not in run.out
    assert "SUPEROFFICE_USERNAME   --username" not in run.out
    assert run.out.endswith("environment variables and exit codes: superoffice-batch --help\n")
    assert ("--url URL" in run.out) is (command in CONNECTING)
    assert ("--ticket TICKET" in run.out) is (command in CONNECTING)


def test_every_argument_of_every_command_has_help() -> None:
    parser = build_parser()
    [commands] = [
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    ]
    assert set(commands.choices) == set(COMMANDS)
    for name, command in commands.choices.items():
        for action in command._actions:
            assert action.help, (name, action.dest)


def test_module_docstring_documents_the_exit_codes() -> None:
    import superoffice_batch.cli as cli_package

    doc = cli_package.__doc__ or ""
    for line in ("* 0: success", "* 1: the job failed", "* 2: usage error", "* 3: service"):
        assert line in doc
    assert "* 4: connection problem or timeout" in doc


def test_help_shows_no_secret_from_the_environment(
    cli: Callable[..., Run], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("SUPEROFFICE_PASSWORD", ALICE_PASSWORD)
    clean_env.setenv("SUPEROFFICE_APP_TOKEN", APP_TOKEN)
    clean_env.setenv("SUPEROFFICE_TICKET", "7T:TicketFromTheEnvironment==")

    for argv in (["--help"], ["start", "--help"], ["simulate", "--help"], ["login", "--help"]):
        run = cli(*argv)
        for secret in (ALICE_PASSWORD, APP_TOKEN, "TicketFromTheEnvironment"):
            assert secret not in run.out + run.err


def test_version(cli: Callable[..., Run]) -> None:
    run = cli("--version")

    assert run.code == 0
    assert re.fullmatch(r"superoffice-batch \d+\.\d+\.\d+\n", run.out)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required"),
        (["frobnicate"], "invalid choice"),
        (["status"], "required"),
        (["status", "abc"], "not a job id"),
        (["status", "0"], "from 1 to 2147483647"),
        (["delete"], "required"),
        (["start", "ExportTask", "-p", "novalue"], "expected KEY=VALUE"),
        (["start", "ExportTask", "-p", "=x"], "expected KEY=VALUE"),
        (["wait", "5", "--poll-interval", "0"], "finite and positive"),
        (["list", "--state", "Sleeping"], "unknown state (choose from"),
        (["list", "--timeout", "nan"], "finite and positive"),
        (["list", "--soap", "2.0"], "invalid choice"),
        (["simulate", "--port", "70000"], "from 0 to 65535"),
        (["simulate", "--user", "nobody"], "expected NAME:PASSWORD"),
        (["simulate", "--soap", "1.3"], "invalid choice"),
    ],
)
def test_argument_errors_exit_2(
    cli: Callable[..., Run], clean_env: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    run = cli(*argv)

    assert run.code == 2
    assert run.out == ""
    [line] = run.err.splitlines()
    assert line.startswith("superoffice-batch: error: ")
    assert message in line
    assert line.endswith(" --help)")


@pytest.mark.parametrize(
    ("settings", "argv", "message"),
    [
        ({}, ["list"], "no NetServer URL: pass --url or set SUPEROFFICE_URL"),
        ({"SUPEROFFICE_URL": "http://127.0.0.1:9/x"}, ["list"], "no credentials"),
        (
            {"SUPEROFFICE_URL": "http://127.0.0.1:9/x", "SUPEROFFICE_USERNAME": "demo"},
            ["list"],
            "a username needs a password",
        ),
        (
            {"SUPEROFFICE_URL": "http://127.0.0.1:9/x", "SUPEROFFICE_PASSWORD": "demo"},
            ["list"],
            "a password needs a username",
        ),
        (
            {
                "SUPEROFFICE_URL": "http://127.0.0.1:9/x",
                "SUPEROFFICE_TICKET": "7T:abcdefgh",
                "SUPEROFFICE_USERNAME": "demo",
                "SUPEROFFICE_PASSWORD": "demo",
            },
            ["list"],
            "both a ticket and a username are set",
        ),
        (
            {"SUPEROFFICE_URL": "http://127.0.0.1:9/x", "SUPEROFFICE_TICKET": "7T:abcdefgh"},
            ["login"],
            "login needs a username and password",
        ),
        ({}, ["--url", "ftp://example.com/x", "--ticket", "7T:abcdefgh", "list"], "http"),
        (
            {},
            [
                "--url",
                "http://127.0.0.1:9/x",
                "--ticket",
                "7T:abcdefgh",
                "start",
                "T",
                "-p",
                "a=1",
                "-p",
                "a=2",
            ],
            "parameter 'a' is given twice",
        ),
        ({}, ["--url", "http://127.0.0.1:9/x", "demo"], "connects to nothing; drop --url"),
        ({}, ["simulate", "--user", "a:1", "--user", "a:2"], "--user a is given twice"),
    ],
)
def test_missing_or_contradictory_settings_exit_2_with_one_clear_line(
    cli: Callable[..., Run],
    clean_env: pytest.MonkeyPatch,
    settings: dict[str, str],
    argv: list[str],
    message: str,
) -> None:
    for name, value in settings.items():
        clean_env.setenv(name, value)

    run = cli(*argv)

    assert run.code == 2
    assert run.out == ""
    assert run.err.count("\n") == 1
    assert len(error_lines(run.err)) == 1
    assert message in run.err


@pytest.mark.slow
def test_import_of_the_library_loads_neither_the_cli_nor_the_simulator() -> None:
    code = (
        "import sys, superoffice_batch; "
        "print(sorted(m for m in sys.modules if m.split('.')[:2] in "
        "(['superoffice_batch', 'cli'], ['superoffice_batch', 'testing'], ['argparse'])))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
def test_the_cli_loads_the_simulator_only_for_simulate_and_demo() -> None:
    code = (
        "import sys; from superoffice_batch.cli import main; "
        "main(['--url', 'http://127.0.0.1:9/x', 'list']); "
        "print('superoffice_batch.testing' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        env=_clean_environ(),
    )

    assert result.stdout.strip() == "False"


@pytest.mark.slow
def test_console_module_runs_help() -> None:
    result = run_process("--help")

    assert result.returncode == 0
    assert result.stdout.startswith("usage: superoffice-batch")


# -- start, status, wait ------------------------------------------------------------------


def test_start_prints_the_id_and_sends_the_parameters(
    cli: Callable[..., Run], env: pytest.MonkeyPatch
) -> None:
    run = cli("start", "ExportTask", "-p", "format=csv", "-p", "since=2025-01-01", "-p", "q=a=b")

    assert run.code == 0, run.err
    assert re.fullmatch(r"\d+\n", run.out)
    status = cli("status", run.out.strip(), "--json")
    task = json.loads(status.out)
    assert task["name"] == "ExportTask"
    assert task["parameter_object"] == {"format": "csv", "since": "2025-01-01", "q": "a=b"}


def test_start_json_is_an_id_object(cli: Callable[..., Run], env: pytest.MonkeyPatch) -> None:
    run = cli("--json", "start", "ExportTask")

    assert run.code == 0, run.err
    assert json_lines(run.out) == [{"id": json.loads(run.out)["id"]}]
    assert isinstance(json.loads(run.out)["id"], int)
    assert json.loads(run.out)["id"] > 0


def test_status_json_is_the_whole_task_with_wire_names_and_iso_dates(
    cli: Callable[..., Run], env: pytest.MonkeyPatch
) -> None:
    job_id = started_id(cli, "ExportTask", "-p", "format=csv")

    run = cli("status", str(job_id), "--json")

    assert run.code == 0, run.err
    [task] = json_lines(run.out)
    assert set(task) == TASK_FIELDS
    assert task["id"] == job_id
    assert task["state"] in {state.value for state in BatchTaskState}
    assert task["cancellation_behaviour"] in {"CanCancel", "CancelWithWarning", "CannotCancel"}
    assert isinstance(task["created"], str)
    datetime.fromisoformat(task["created"])
    assert isinstance(task["progress_percent"], int)
    assert isinstance(task["is_system_task"], bool)


def test_status_table(cli: Callable[..., Run], env: pytest.MonkeyPatch) -> None:
    job_id = started_id(cli, "ExportTask", "-p", "format=csv")

    run = cli("status", str(job_id))

    assert run.code == 0, run.err
    assert re.search(rf"^Id:\s+{job_id}$", run.out, re.MULTILINE)
    assert re.search(r"^Name:\s+ExportTask$", run.out, re.MULTILINE)
    assert re.search(r"^State:\s+\w+$", run.out, re.MULTILINE)
    assert re.search(r"^Progress:\s+\d+%", run.out, re.MULTILINE)
    assert re.search(r"^Parameters:\s+format=csv$", run.out, re.MULTILINE)


def test_status_of_a_job_that_does_not_exist_exits_3(
    cli: Callable[..., Run], env: pytest.MonkeyPatch
) -> None:
    run = cli("status", "987654")

    assert run.code == 3
    assert len(error_lines(run.err)) == 1


def test_start_wait_without_a_tty_prints_one_progress_line_per_change(
    cli: Callable[..., Run], env: pytest.MonkeyPatch
) -> None:
    run = cli("start", "ExportTask", "-p", "format=csv", "--wait", "--poll-interval", POLL)

    assert run.code == 0, run.err
    started = re.match(r"Started batch job (\d+)\n", run.out)
    assert started is not None
    job_id = int(started.group(1))
    lines = run.err.splitlines()
    assert len(lines) >= 3  # several snapshots of a one-second job
    assert all(re.fullmatch(rf"batch job {job_id}: \w+ \d+%.*", line) for line in lines), lines
    assert all(a != b for a, b in itertools.pairwise(lines))  # only changes
    assert "\r" not in run.err
    assert lines[-1].startswith(f"batch job {job_id}: Succeeded 100%")
    assert re.search(r"^State:\s+Succeeded$", run.out, re.MULTILINE)
    assert run.out.endswith(f"\nBatch job {job_id} finished: Succeeded\n")


def test_start_wait_json_prints_only_the_final_task(
    cli: Callable[..., Run], env: pytest.MonkeyPatch
) -> None:
    run = cli("start", "ExportTask", "--wait", "--json", "--poll-interval", POLL)

    assert run.code == 0, run.err
    [task] = json_lines(run.out)
    assert set(task) == TASK_FIELDS
    assert task["state"] == "Succeeded"
    assert task["progress_percent"] == 100


def test_wait_follows_a_started_job(cli: Callable[..., Run], env: pytest.MonkeyPatch) -> None:
    job_id = started_id(cli, "ExportTask")

    run = cli("wait", str(job_id), "--poll-interval", POLL, "--json")

    assert run.code == 0, run.err
    assert json.loads(run.out)["state"] == "Succeeded"
    assert f"batch job {job_id}: Succeeded 100%" in run.err


def test_a_failing_job_exits_1(cli: Callable[..., Run], env: pytest.MonkeyPatch) -> None:
    run = cli("start", "FailingTask", "--wait", "--poll-interval", POLL)

    assert run.code == 1
    assert re.search(r"^State:\s+Failed$", run.out, re.MULTILINE)
    assert run.out.endswith(" finished: Failed\n")
    [line] = error_lines(run.err)
    assert "failed" in line


def test_waiting_longer_than_max_wait_exits_4_and_says_how_to_stop(
    cli: Callable[..., Run], slow_env: pytest.MonkeyPatch
) -> None:
    job_id = started_id(cli, "ExportTask")

    run = cli("wait", str(job_id), "--max-wait", "0.5", "--poll-interval", POLL)

    assert run.code == 4
    [line] = error_lines(run.err)
    assert f"superoffice-batch stop {job_id}" in line
    assert cli("stop", str(job_id)).code == 0


# -- stop, delete, list ------------------------------------------------------------------------


def test_stop_a_running_job(cli: Callable[..., Run], slow_env: pytest.MonkeyPatch) -> None:
    job_id = started_id(cli, "ExportTask")

    run = cli("stop", str(job_id))

    assert run.code == 0, run.err
    assert run.out == f"Stopped batch job {job_id}\n"
    assert json.loads(cli("status", str(job_id), "--json").out)["state"] == "Failed"


def test_stop_json_and_a_refused_stop_exits_3(
    cli: Callable[..., Run], slow_env: pytest.MonkeyPatch
) -> None:
    job_id = started_id(cli, "ExportTask")
    assert json_lines(cli("stop", str(job_id), "--json").out) == [{"id": job_id, "stopped": True}]

    again = cli("stop", str(job_id), "--json")  # it has ended: nothing to stop

    assert again.code == 3
    assert json_lines(again.out) == [{"id": job_id, "stopped": False}]
    assert len(error_lines(again.err)) == 1


def test_delete_one_and_several(cli: Callable[..., Run], env: pytest.MonkeyPatch) -> None:
    first, second, third = (started_id(cli, "DeleteMe") for _ in range(3))

    one = cli("delete", str(first))
    several = cli("delete", str(second), str(third), str(second), "--json")

    assert (one.code, one.out) == (0, f"Deleted batch job {first}\n")
    assert several.code == 0, several.err
    assert json_lines(several.out) == [{"requested": [second, third]}]
    for job_id in (first, second, third):
        assert cli("status", str(job_id)).code == 3


def test_delete_of_several_says_what_netserver_was_asked_not_that_they_went(
    cli: Callable[..., Run], env: pytest.MonkeyPatch
) -> None:
    run = cli("delete", "998", "999")

    assert run.code == 0, run.err
    assert run.out == (
        "Asked NetServer to delete batch jobs 998, 999 (it does not say which existed)\n"
    )


def test_delete_of_one_unknown_id_exits_3(cli: Callable[..., Run], env: pytest.MonkeyPatch) -> None:
    run = cli("delete", "998")

    assert run.code == 3
    assert run.out == ""
    assert len(error_lines(run.err)) == 1


def test_list_table_and_json(cli: Callable[..., Run], env: pytest.MonkeyPatch) -> None:
    job_id = started_id(cli, "ListedTask")

    table = cli("list", "--name", "ListedTask")
    lines = cli("list", "--name", "ListedTask", "--json")

    assert table.code == 0, table.err
    header, *rows = table.out.splitlines()
    assert header.split() == ["ID", "NAME", "STATE", "PROGRESS", "LAST", "STARTED", "DESCRIPTION"]
    assert any(row.split()[:2] == [str(job_id), "ListedTask"] for row in rows)
    tasks = json_lines(lines.out)
    assert job_id in {task["id"] for task in tasks}
    assert all(set(task) == TASK_FIELDS and task["name"] == "ListedTask" for task in tasks)


def test_list_by_state_accepts_any_letter_case(
    cli: Callable[..., Run], env: pytest.MonkeyPatch
) -> None:
    done = cli("start", "StateTask", "--wait", "--json", "--poll-interval", POLL)
    assert done.code == 0, done.err
    done_id = json.loads(done.out)["id"]
    stopped_id = started_id(cli, "StateTask")
    assert cli("stop", str(stopped_id)).code == 0  # a stopped job ends Failed

    def listed(state: str) -> list[dict[str, object]]:
        run = cli("list", "--state", state, "--name", "StateTask", "--json")
        assert run.code == 0, run.err
        return json_lines(run.out)

    succeeded, failed, everything = listed("SUCCEEDED"), listed("failed"), listed("All")

    assert [task["id"] for task in succeeded] == [done_id]
    assert [task["state"] for task in succeeded] == ["Succeeded"]
    assert [task["id"] for task in failed] == [stopped_id]
    assert {task["id"] for task in everything} == {done_id, stopped_id}


@pytest.mark.parametrize("spelling", ["Aquired", "Acquired", "acquired", "AQUIRED"])
def test_state_acquired_is_an_alias_of_netservers_aquired(spelling: str) -> None:
    assert parser_state(spelling) is BatchTaskState.AQUIRED


def test_list_by_state_acquired_lists_the_aquired_jobs(
    cli: Callable[..., Run], clean_env: pytest.MonkeyPatch
) -> None:
    now = [0.0]
    with NetServerSimulator(job_duration=100.0, clock=lambda: now[0]) as sim:
        for name, value in demo_env(sim).items():
            clean_env.setenv(name, value)
        job_id = started_id(cli, "AcquiredTask")
        now[0] = 7.0  # New until 5 %, Aquired until 10 % of the job's duration

        run = cli("list", "--state", "Acquired", "--json")

    assert run.code == 0, run.err
    assert [(task["id"], task["state"]) for task in json_lines(run.out)] == [(job_id, "Aquired")]


def test_list_with_nothing_to_show(cli: Callable[..., Run], env: pytest.MonkeyPatch) -> None:
    table = cli("list", "--name", "NoSuchTaskAnywhere")
    lines = cli("list", "--name", "NoSuchTaskAnywhere", "--json")

    assert (table.code, table.out) == (0, "No batch tasks.\n")
    assert (lines.code, lines.out) == (0, "")


# -- login and credentials ------------------------------------------------------------------


def test_login_prints_a_ticket_that_works(cli: Callable[..., Run], env: pytest.MonkeyPatch) -> None:
    run = cli("login")
    as_json = cli("login", "--json")

    assert run.code == 0, run.err
    ticket = run.out.strip()
    assert re.fullmatch(r"7T:\S+", ticket)
    details = json.loads(as_json.out)
    assert details["ticket"].startswith("7T:")
    assert details["associate_id"] > 0
    env.delenv("SUPEROFFICE_USERNAME")
    env.delenv("SUPEROFFICE_PASSWORD")
    env.setenv("SUPEROFFICE_TICKET", ticket)
    assert cli("list").code == 0


def test_an_option_beats_the_environment(cli: Callable[..., Run], env: pytest.MonkeyPatch) -> None:
    ticket = cli("login").out.strip()
    env.setenv("SUPEROFFICE_PASSWORD", "wrong-password")  # the username stays set

    assert cli("list", "--ticket", ticket).code == 0
    assert cli("list", "--password", "demo").code == 0
    assert cli("list").code == 3


def test_a_wrong_password_exits_3(cli: Callable[..., Run], env: pytest.MonkeyPatch) -> None:
    env.setenv("SUPEROFFICE_PASSWORD", "not-the-Password-42")

    for argv in (["list"], ["login"], ["start", "ExportTask"]):
        run = cli(*argv)
        assert run.code == 3, argv
        assert len(error_lines(run.err)) == 1
        assert "not-the-Password-42" not in run.out + run.err


def test_a_rejected_ticket_exits_3(cli: Callable[..., Run], env: pytest.MonkeyPatch) -> None:
    run = cli("--ticket", "7T:Tm90QVJlYWxUaWNrZXQ=", "status", "1")

    assert run.code == 3
    assert len(error_lines(run.err)) == 1
    assert "Tm90QVJlYWxUaWNrZXQ" not in run.err


def test_online_needs_the_application_token(
    cli: Callable[..., Run], clean_env: pytest.MonkeyPatch, online_simulator: NetServerSimulator
) -> None:
    clean_env.setenv("SUPEROFFICE_URL", online_simulator.base_url)
    clean_env.setenv("SUPEROFFICE_USERNAME", ALICE)
    clean_env.setenv("SUPEROFFICE_PASSWORD", ALICE_PASSWORD)

    refused = cli("list")
    clean_env.setenv("SUPEROFFICE_APP_TOKEN", APP_TOKEN)
    accepted = cli("list", "--soap", "1.2")

    assert refused.code == 3
    assert len(error_lines(refused.err)) == 1
    assert accepted.code == 0, accepted.err


def test_a_url_that_is_not_the_root_exits_3_naming_the_url_setting(
    cli: Callable[..., Run], env: pytest.MonkeyPatch, simulator: NetServerSimulator
) -> None:
    # Not a service URL (refused before sending) nor the services' folder (taken as its
    # root), yet not the root either: a folder below the services' folder.
    wrong = f"{simulator.base_url}/Remote/Services88/Old/"
    env.setenv("SUPEROFFICE_URL", wrong)

    run = cli("list")

    assert run.code == 3
    [line] = error_lines(run.err)
    assert line.startswith("superoffice-batch: error: HttpError: HTTP 404 (text/html")
    assert f"(POST {wrong}Remote/Services88/SoPrincipal.svc)" in line
    assert line.endswith(
        "; SUPEROFFICE_URL (or --url) must be the installation root, the part before "
        "/Remote/Services88/ (e.g. https://crm.example.com/SuperOffice, or an Online tenant's "
        "endpoint such as https://sod2.superoffice.com/Cust12345)"
    )


def test_a_service_url_as_the_url_is_a_usage_error_showing_the_root(
    cli: Callable[..., Run], env: pytest.MonkeyPatch, simulator: NetServerSimulator
) -> None:
    env.setenv("SUPEROFFICE_URL", simulator.service_url("Batch"))

    run = cli("list")

    assert run.code == 2
    assert error_lines(run.err) == [
        "superoffice-batch: error: SUPEROFFICE_URL (or --url) must be the installation root, "
        f"not a service URL: use {simulator.base_url!r}"
    ]


def test_a_refused_pinned_soap_version_suggests_the_other_option(
    cli: Callable[..., Run], env: pytest.MonkeyPatch
) -> None:
    run = cli("list", "--soap", "1.2")  # the shared simulator speaks SOAP 1.1 only

    assert run.code == 3
    [line] = error_lines(run.err)
    assert line.startswith("superoffice-batch: error: HttpError: HTTP 415 with an empty body")
    assert line.endswith("; the endpoint refused SOAP 1.2: try --soap 1.1")


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The client's back-off delays before re-sending; nothing actually sleeps."""
    delays: list[float] = []
    monkeypatch.setattr(client_module.time, "sleep", delays.append)
    return delays


def test_a_refused_connection_exits_4(
    cli: Callable[..., Run], clean_env: pytest.MonkeyPatch, backoffs: list[float]
) -> None:
    clean_env.setenv("SUPEROFFICE_URL", closed_port_url())
    clean_env.setenv("SUPEROFFICE_TICKET", "7T:U2VjcmV0VGlja2V0VmFsdWU=")

    for argv in (["status", "1"], ["start", "ExportTask"], ["login", "--username", "x"]):
        run = cli(*argv, "--password", "pw-Refused-99") if argv[0] == "login" else cli(*argv)
        assert run.code == 4, (argv, run.err)
        [line] = error_lines(run.err)
        assert "ConnectError" in line
        assert "U2VjcmV0VGlja2V0VmFsdWU" not in run.err
        assert "pw-Refused-99" not in run.err
        assert "Traceback" not in run.err
    assert backoffs  # it tried again before giving up


@pytest.mark.usefixtures("backoffs")
def test_debug_logs_the_calls_and_shows_the_traceback(
    cli: Callable[..., Run], clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("SUPEROFFICE_URL", closed_port_url())
    clean_env.setenv("SUPEROFFICE_TICKET", "7T:RGVidWdUaWNrZXRWYWx1ZQ==")

    run = cli("status", "1", "--debug")

    assert run.code == 4
    assert "GetBatchTaskInfo request envelope" in run.err
    assert "Traceback" in run.err
    assert "RGVidWdUaWNrZXRWYWx1ZQ" not in run.err
    assert run.err.rstrip().splitlines()[-1].startswith("superoffice-batch: error: ")


# -- the progress display ------------------------------------------------------------------


class FakeTTY(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def snapshot(percent: int, description: str | None, state: BatchTaskState) -> BatchTaskInfo:
    return BatchTaskInfo(
        id=7, state=state, progress_percent=percent, progress_description=description
    )


def test_render_bar_shows_percent_state_and_description() -> None:
    line = render_bar(7, snapshot(40, "Exporting rows", BatchTaskState.STARTED), 100)

    assert line == "batch job 7 [########------------]  40% Started: Exporting rows"


def test_render_bar_fits_the_terminal_and_clamps_the_percent() -> None:
    line = render_bar(7, snapshot(150, "x" * 200, BatchTaskState.STARTED), 60)

    assert len(line) == 59
    assert line.endswith("...")
    assert "[####################] 100%" in line


def test_bar_redraws_one_line_in_place() -> None:
    stream = FakeTTY()
    bar = BarProgress(stream, 7, columns=80)

    bar.update(snapshot(10, "A much longer description", BatchTaskState.STARTED))
    bar.update(snapshot(100, None, BatchTaskState.SUCCEEDED))
    bar.close()
    bar.close()

    first, second = stream.getvalue().split("\r")[1:]
    assert first == "batch job 7 [##------------------]  10% Started: A much longer description"
    # The shorter second draw is padded to wipe out the first; close() ends the line once.
    assert second == "batch job 7 [####################] 100% Succeeded".ljust(len(first)) + "\n"


def test_output_picks_a_bar_for_a_terminal_and_lines_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TERM", "xterm")
    tty = Output(json_mode=False, stdout=io.StringIO(), stderr=FakeTTY())
    pipe = Output(json_mode=False, stdout=io.StringIO(), stderr=io.StringIO())

    assert isinstance(tty.progress(1), BarProgress)
    assert isinstance(pipe.progress(1), LineProgress)
    monkeypatch.setenv("TERM", "dumb")
    assert isinstance(tty.progress(1), LineProgress)


def test_server_text_cannot_steer_the_terminal() -> None:
    # XML cannot carry ESC or BEL, but it can carry CR, LF and C1 controls such as CSI.
    info = BatchTaskInfo(id=1, name="Evil\u009b2J", progress_description="\rgone\nnext")
    stream = FakeTTY()

    BarProgress(stream, 1, columns=80).update(info)
    table = task_table([info])

    assert "\u009b" not in table
    assert table.count("\n") == 1  # the header and one row
    assert "\r" not in table
    assert stream.getvalue() == "\rbatch job 1 [--------------------]   0% Unknown: gone next"


def test_task_json_uses_wire_names_and_iso_dates() -> None:
    when = datetime(2025, 5, 7, 14, 30, 10, tzinfo=timezone.utc)
    info = BatchTaskInfo(
        id=3,
        name="ExportTask",
        state="Started",
        parameter_object={"format": "csv", "empty": None},
        last_started=when,
        created=datetime(2025, 5, 7, 14, 0),
    )

    value = task_json(info)

    assert set(value) == TASK_FIELDS
    assert value["state"] == "Started"
    assert value["cancellation_behaviour"] == "CanCancel"
    assert value["last_started"] == "2025-05-07T14:30:10+00:00"
    assert value["created"] == "2025-05-07T14:00:00"
    assert value["parameter_object"] == {"format": "csv", "empty": None}
    json.dumps(value)


# -- subprocesses: a real TTY, Ctrl-C, demo, simulate, secrets ------------------------------------


@pytest.mark.slow
def test_start_wait_on_a_tty_draws_a_live_bar(simulator: NetServerSimulator) -> None:
    controller, terminal = os.openpty()
    env = {**demo_env(simulator), "TERM": "xterm"}
    process = start_process(
        "start", "ExportTask", "--wait", "--poll-interval", POLL, env=env, stderr=terminal
    )
    os.close(terminal)
    try:
        shown = read_until(controller, lambda data: False, SUBPROCESS_TIMEOUT)
        assert process.wait(timeout=SUBPROCESS_TIMEOUT) == 0
        out = process.stdout.read().decode() if process.stdout else ""
    finally:
        os.close(controller)
        stop_process(process)

    text = shown.decode().replace("\r\n", "\n")  # the terminal turns \n into \r\n
    draws = text.split("\r")[1:]
    assert len(draws) >= 3
    assert all(re.match(r"batch job \d+ \[[#-]{20}\] +\d+% \w+", draw) for draw in draws)
    assert "100% Succeeded" in draws[-1]
    assert text.endswith("\n")
    assert text.count("\n") == 1  # one line, ended once
    assert re.search(r"^State:\s+Succeeded$", out, re.MULTILINE)


@pytest.mark.slow
@pytest.mark.usefixtures("sigint_ignored")
def test_ctrl_c_while_waiting_exits_130_and_says_how_to_stop(
    cli: Callable[..., Run], slow_env: pytest.MonkeyPatch, slow_simulator: NetServerSimulator
) -> None:
    job_id = started_id(cli, "ExportTask")
    process = start_process("wait", str(job_id), env=demo_env(slow_simulator))
    try:
        assert process.stderr is not None
        read_until(process.stderr.fileno(), lambda data: b"\n" in data, SUBPROCESS_TIMEOUT)
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=SUBPROCESS_TIMEOUT)
        err = process.stderr.read().decode()
    finally:
        stop_process(process)

    assert code == 130
    assert f"superoffice-batch stop {job_id}" in err
    assert "Traceback" not in err
    # Only the waiting stopped: the job itself is still running.
    state = json.loads(cli("status", str(job_id), "--json").out)["state"]
    assert state in {"New", "Aquired", "Started"}
    assert cli("stop", str(job_id)).code == 0


def test_demo_runs_a_job_to_success_and_ends_like_start_wait(
    cli: Callable[..., Run], clean_env: pytest.MonkeyPatch
) -> None:
    # The README's main job (tests/test_readme.py checks that it is this command), with a
    # shorter job than its 3 s.
    clean_env.setattr(cli_simulator, "DEMO_JOB_SECONDS", JOB_SECONDS)
    run = cli("demo")

    assert run.code == 0, run.err
    job_id = re.search(r"^Started batch job (\d+)$", run.out, re.MULTILINE)
    assert job_id is not None
    assert run.out.endswith(f"\nBatch job {job_id.group(1)} finished: Succeeded\n")
    assert "Traceback" not in run.err


@pytest.mark.slow
@pytest.mark.usefixtures("sigint_ignored")
def test_simulate_serves_until_ctrl_c(
    cli: Callable[..., Run], clean_env: pytest.MonkeyPatch
) -> None:
    process = start_process(
        "simulate", "--job-duration", "0.5", "--user", f"{ALICE}:{ALICE_PASSWORD}"
    )
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        shown = read_until(
            process.stdout.fileno(), lambda data: b"Ctrl-C" in data, SUBPROCESS_TIMEOUT
        ).decode()
        url = re.search(r"running at (http://127\.0\.0\.1:\d+/\S+)", shown)
        assert url is not None, shown
        assert f"export SUPEROFFICE_URL={url.group(1)}" in shown
        assert ALICE_PASSWORD not in shown
        clean_env.setenv("SUPEROFFICE_URL", url.group(1))
        clean_env.setenv("SUPEROFFICE_USERNAME", ALICE)
        clean_env.setenv("SUPEROFFICE_PASSWORD", ALICE_PASSWORD)
        run = cli("start", "ExportTask", "--wait", "--json", "--poll-interval", POLL)
        assert run.code == 0, run.err
        assert json.loads(run.out)["state"] == "Succeeded"

        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=SUBPROCESS_TIMEOUT)
        err = process.stderr.read().decode()
    finally:
        stop_process(process)

    assert code == 0
    assert "simulator stopped" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_simulate_online_runs_as_a_command_and_removes_its_key_file() -> None:
    process = start_process("simulate", "--online", "--json")
    try:
        assert process.stdout is not None
        shown = read_until(process.stdout.fileno(), lambda data: b"\n" in data, SUBPROCESS_TIMEOUT)
        settings = json.loads(shown.decode().splitlines()[0])["settings"]
        tenant = run_process("tenant", "--json", env=settings)
        key_file = Path(settings["SUPEROFFICE_PRIVATE_KEY_FILE"])
        mode = key_file.stat().st_mode & 0o777
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=SUBPROCESS_TIMEOUT)
    finally:
        stop_process(process)

    assert tenant.returncode == 0, tenant.stderr
    assert json.loads(tenant.stdout)["state"] == "Running"
    assert mode == 0o600
    assert code == 0
    assert not key_file.parent.exists()


@pytest.mark.slow
def test_simulate_does_not_echo_a_token_from_the_environment() -> None:
    process = start_process("simulate", "--online", env={"SUPEROFFICE_APP_TOKEN": APP_TOKEN})
    try:
        assert process.stdout is not None
        shown = read_until(
            process.stdout.fileno(), lambda data: b"Ctrl-C" in data, SUBPROCESS_TIMEOUT
        ).decode()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=SUBPROCESS_TIMEOUT) == 0
    finally:
        stop_process(process)

    assert APP_TOKEN not in shown
    assert "<the client secret given in $SUPEROFFICE_APP_TOKEN>" in shown


@pytest.mark.slow
def test_secrets_from_the_environment_never_reach_the_output(
    online_simulator: NetServerSimulator,
) -> None:
    settings = {
        "SUPEROFFICE_URL": online_simulator.base_url,
        "SUPEROFFICE_USERNAME": ALICE,
        "SUPEROFFICE_PASSWORD": ALICE_PASSWORD,
        "SUPEROFFICE_APP_TOKEN": APP_TOKEN,
    }
    login = run_process("login", env=settings)
    assert login.returncode == 0, login.stderr
    ticket = login.stdout.strip()
    with_ticket = {**settings, "SUPEROFFICE_TICKET": ticket}
    del with_ticket["SUPEROFFICE_USERNAME"], with_ticket["SUPEROFFICE_PASSWORD"]
    wrong_password = {**settings, "SUPEROFFICE_PASSWORD": "pw-Wrong-S3cret-1234"}
    bad_ticket = {**with_ticket, "SUPEROFFICE_TICKET": "7T:QmFkVGlja2V0UzNjcmV0"}
    wait = ("start", "ExportTask", "-p", "format=csv", "--wait", "--poll-interval", POLL)
    started = run_process("start", "ExportTask", "--json", env=settings)
    assert started.returncode == 0, started.stderr
    job = str(json.loads(started.stdout)["id"])

    runs: Sequence[tuple[Mapping[str, str], tuple[str, ...], int]] = [
        (settings, (*wait, "--debug"), 0),
        (settings, ("list", "--debug"), 0),
        (settings, ("list", "--json"), 0),
        (with_ticket, (*wait, "--json", "--debug"), 0),
        (with_ticket, ("status", job, "--debug"), 0),
        (with_ticket, ("stop", job, "--json"), 3),  # it has finished by now
        (wrong_password, ("list", "--debug"), 3),
        (wrong_password, ("login",), 3),
        (bad_ticket, ("list", "--debug"), 3),
        ({**settings, "SUPEROFFICE_URL": closed_port_url()}, ("list", "--debug"), 4),
        (settings, ("--help",), 0),
    ]
    for env, argv, expected in runs:
        result = run_process(*argv, env=env)
        assert result.returncode == expected, (argv, result.stderr)
        shown = result.stdout + result.stderr
        for secret in (ALICE_PASSWORD, APP_TOKEN, ticket, "pw-Wrong-S3cret-1234"):
            assert secret not in shown, (argv, secret)
        assert "QmFkVGlja2V0UzNjcmV0" not in shown
    # The one place a ticket may be printed: login's own output, and only the ticket.
    assert ALICE_PASSWORD not in login.stdout + login.stderr
    assert APP_TOKEN not in login.stdout + login.stderr
