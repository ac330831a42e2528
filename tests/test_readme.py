"""The README's two commands: CI runs the test command verbatim, and the main job works."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(), re.DOTALL)[:2]


def test_ci_runs_the_readme_test_command_verbatim():
    _, test_command = readme_commands()
    assert "pytest" in test_command
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_the_main_job_starts_a_batch_job_over_loopback():
    main_command, _ = readme_commands()
    script = main_command.rsplit(" ", 1)[-1]
    assert script == "examples/start_job_locally.py"
    result = subprocess.run(
        [sys.executable, str(ROOT / script)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    # The stand-in refuses SOAP 1.2 with 415 and numbers jobs from 1001.
    assert result.stdout.strip() == "started batch job 1001 (SOAP 1.1)"
    assert "endpoint refused SOAP 1.2" in result.stderr
