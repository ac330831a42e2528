"""The README's two commands: CI runs the test command verbatim, and the main job works."""

from __future__ import annotations

import re
from pathlib import Path

from superoffice_batch.cli._parser import build_parser

ONLINE_EXTRA = "pip install 'superoffice-batch[online]'"

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(), re.DOTALL)[:2]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, test_command = readme_commands()
    assert "pytest" in test_command
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_the_main_job_is_the_demo() -> None:
    # tests/test_cli.py runs `demo` and checks that its job succeeds.
    main_command, _ = readme_commands()
    assert main_command.endswith(".venv/bin/superoffice-batch demo")


def test_ci_runs_the_slow_tests_the_readme_command_leaves_out() -> None:
    _, test_command = readme_commands()
    slow_command = test_command.rpartition(" && ")[2] + " -m slow"
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert slow_command in ci_lines


def test_the_readme_and_the_help_say_alike_what_demo_online_needs() -> None:
    # The README's first command installs no extra; wherever `demo --online` is suggested,
    # the same paragraph says how to get the extra it needs, in the same words.
    for text in ((ROOT / "README.md").read_text(), build_parser().format_help()):
        paragraphs = [part for part in re.split(r"\n\s*\n", text) if "demo --online" in part]
        assert paragraphs
        for paragraph in paragraphs:
            assert ONLINE_EXTRA in " ".join(paragraph.replace("`", "").split())
    assert "pip install -q . " in readme_commands()[0]  # the main job needs no extra
