"""The README's two commands: CI runs the test command verbatim, and the main job works."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(), re.DOTALL)[:2]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, test_command = readme_commands()
    assert "pytest" in test_command
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_the_main_job_is_the_demo_and_it_runs_a_job_to_success() -> None:
    main_command, _ = readme_commands()
    assert main_command.endswith(".venv/bin/superoffice-batch demo")
    # The console script is `python -m superoffice_batch` by another name.
    result = subprocess.run(
        [sys.executable, "-m", "superoffice_batch", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"Batch job \d+ finished: Succeeded", result.stdout)
