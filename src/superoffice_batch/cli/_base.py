"""What every command shares: exit codes, the usage error, and the per-run context."""

from __future__ import annotations

import argparse
import enum
from collections.abc import Mapping
from dataclasses import dataclass

from ._output import PROG, Output

__all__ = ["PROG", "Context", "ExitCode", "UsageError"]


class ExitCode(enum.IntEnum):
    """The process exit codes (also listed in ``--help`` and the package docstring)."""

    OK = 0
    JOB_FAILED = 1
    USAGE = 2
    SERVICE = 3
    CONNECTION = 4
    INTERRUPTED = 130


class UsageError(Exception):
    """The command line or the environment does not say what to do (exit 2)."""


@dataclass(frozen=True)
class Context:
    """One run of the command line: the parsed arguments, the environment, the output."""

    args: argparse.Namespace
    env: Mapping[str, str]
    out: Output

    @property
    def json(self) -> bool:
        """Whether results are printed as JSON."""
        return self.out.json_mode
