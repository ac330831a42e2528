"""Everything the command line prints: results (text or JSON), messages and job progress.

Results go to stdout; errors, notices and progress go to stderr, so that stdout can be
piped. Text from the server is masked of known secrets and cleaned for a terminal by the
library's one rule (:func:`~superoffice_batch.servertext.for_terminal`), and put on one
line where the layout needs it; JSON output escapes those same characters.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TextIO, TypeVar

import attrs

from ..models import BatchTaskInfo
from ..online import TenantState
from ..secrets import Secrets
from ..servertext import ServerText, for_terminal, reveal

PROG = "superoffice-batch"

_BAR_WIDTH = 20
_DEFAULT_COLUMNS = 80

_Record = TypeVar("_Record", BatchTaskInfo, TenantState)


def clean(text: object) -> str:
    """``text`` safe for a terminal (:func:`for_terminal`), on one line: a table cell, a
    label's value, a progress line."""
    return " ".join(for_terminal(str(text)).split())


def _json_escape(char: str) -> str:
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON spells characters beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_line(value: Mapping[str, object]) -> str:
    """``value`` as one line of JSON, with every character a terminal could act on escaped.

    ``json.dumps`` escapes only C0 controls; every other character :func:`for_terminal`
    replaces is escaped here (the data stays whole). Outside strings JSON has only
    printable ASCII.
    """
    return for_terminal(json.dumps(value, ensure_ascii=False), replace=_json_escape)


def json_value(value: object) -> object:
    """A task field as JSON: enums by wire name, datetimes in ISO 8601, mappings as objects."""
    if isinstance(value, enum.Enum):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _fields_json(record: BatchTaskInfo | TenantState) -> dict[str, object]:
    return {
        field.name: json_value(getattr(record, field.name)) for field in attrs.fields(type(record))
    }


def task_json(info: BatchTaskInfo) -> dict[str, object]:
    """A task as a JSON object: every ``BatchTaskInfo`` field under its snake_case name."""
    return _fields_json(info)


def tenant_json(tenant: TenantState) -> dict[str, object]:
    """A tenant state as a JSON object: every ``TenantState`` field, and ``api_available``."""
    return {**_fields_json(tenant), "api_available": tenant.api_available}


def _when(value: datetime | None) -> str:
    return "" if value is None else value.isoformat(sep=" ", timespec="seconds")


def _progress_text(info: BatchTaskInfo) -> str:
    text = f"{info.progress_percent}%"
    if info.progress_description:
        text += f" {clean(info.progress_description)}"
    return text


def _parameters_text(info: BatchTaskInfo) -> str:
    if not info.parameter_object:
        return ""
    return ", ".join(f"{key}={value}" for key, value in info.parameter_object.items())


def _details(rows: Sequence[tuple[str, object]]) -> str:
    """``Label: value`` lines, the values aligned, cleaned for a terminal."""
    width = max(len(label) for label, _ in rows) + 1
    return "\n".join(f"{label + ':':<{width}} {clean(value)}" for label, value in rows)


def task_details(info: BatchTaskInfo) -> str:
    """One task as ``Label: value`` lines; optional fields only when they have a value."""
    rows: list[tuple[str, object]] = [
        ("Id", info.id),
        ("Name", info.name or ""),
        ("State", info.state),
        ("Progress", _progress_text(info)),
    ]
    optional: list[tuple[str, object]] = [
        ("Parameters", _parameters_text(info)),
        ("Description", info.description),
        ("Result", info.result),
        ("File name", info.file_name),
        ("Created", _when(info.created)),
        ("Last started", _when(info.last_started)),
        ("Start count", info.start_count or ""),
    ]
    rows += [(label, value) for label, value in optional if value]
    return _details(rows)


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def tenant_details(tenant: TenantState) -> str:
    """A tenant state as ``Label: value`` lines (``Web API`` only when the state names one)."""
    rows: list[tuple[str, object]] = [
        ("Context identifier", tenant.context_identifier),
        ("Endpoint", tenant.endpoint),
        ("State", tenant.state),
        ("Is running", _yes_no(tenant.is_running)),
        ("API available", _yes_no(tenant.api_available)),
        ("Valid until", _when(tenant.valid_until)),
    ]
    if tenant.api:
        rows.append(("Web API", tenant.api))
    return _details(rows)


_LIST_COLUMNS = ("ID", "NAME", "STATE", "PROGRESS", "LAST STARTED", "DESCRIPTION")


def task_table(infos: Sequence[BatchTaskInfo]) -> str:
    """Tasks as an aligned table, one row per task."""
    rows = [_LIST_COLUMNS] + [
        (
            str(info.id),
            info.name or "",
            str(info.state),
            f"{info.progress_percent}%",
            _when(info.last_started),
            info.progress_description or info.description or "",
        )
        for info in infos
    ]
    cells = [[clean(cell) for cell in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(_LIST_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    )


# -- progress ---------------------------------------------------------------------------


class ProgressDisplay(Protocol):
    """Shows a job's progress while it is being waited for."""

    def update(self, info: BatchTaskInfo) -> None:
        """Show a new snapshot (called only when state, percent or description changed)."""

    def close(self) -> None:
        """Finish the display (end the line of a bar); safe to call more than once."""


def render_bar(job_id: int, info: BatchTaskInfo, columns: int) -> str:
    """The single-line progress bar for a TTY, cut to fit in ``columns`` - 1 characters.

    Keeping the last column free stops the terminal from wrapping, which would break the
    ``\\r`` updates.
    """
    percent = min(max(info.progress_percent, 0), 100)
    filled = round(_BAR_WIDTH * percent / 100)
    bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
    text = f"batch job {job_id} [{bar}] {percent:3d}% {clean(info.state)}"
    if info.progress_description:
        text += f": {clean(info.progress_description)}"
    limit = max(columns - 1, 10)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def progress_line(job_id: int, info: BatchTaskInfo) -> str:
    """One plain progress line, for output that is not a terminal."""
    return f"batch job {job_id}: {clean(info.state)} {_progress_text(info)}"


def _as_is(info: BatchTaskInfo) -> BatchTaskInfo:
    return info


class BarProgress:
    """A live single-line bar, redrawn in place with ``\\r``."""

    def __init__(
        self,
        stream: TextIO,
        job_id: int,
        columns: int | None = None,
        *,
        mask: Callable[[BatchTaskInfo], BatchTaskInfo] = _as_is,
    ) -> None:
        self._stream = stream
        self._job_id = job_id
        self._mask = mask
        self._columns = columns if columns is not None else terminal_columns(stream)
        self._shown = 0
        self._open = False

    def update(self, info: BatchTaskInfo) -> None:
        """Redraw the bar for ``info``."""
        text = render_bar(self._job_id, self._mask(info), self._columns)
        padding = " " * max(self._shown - len(text), 0)  # wipe the rest of a longer line
        self._stream.write(f"\r{text}{padding}")
        self._stream.flush()
        self._shown = len(text)
        self._open = True

    def close(self) -> None:
        """End the bar's line, so that what follows starts on a line of its own."""
        if self._open:
            self._stream.write("\n")
            self._stream.flush()
            self._open = False


class LineProgress:
    """One line per change, for logs and pipes."""

    def __init__(
        self,
        stream: TextIO,
        job_id: int,
        *,
        mask: Callable[[BatchTaskInfo], BatchTaskInfo] = _as_is,
    ) -> None:
        self._stream = stream
        self._job_id = job_id
        self._mask = mask

    def update(self, info: BatchTaskInfo) -> None:
        """Write a line for ``info``."""
        print(progress_line(self._job_id, self._mask(info)), file=self._stream, flush=True)

    def close(self) -> None:
        """Nothing to finish."""


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is an interactive terminal that can redraw a line."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False
    return tty and os.environ.get("TERM") != "dumb"


def terminal_columns(stream: TextIO) -> int:
    """The width of the terminal behind ``stream`` (80 when it cannot be told)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns or _DEFAULT_COLUMNS
    except (AttributeError, ValueError, OSError):
        return _DEFAULT_COLUMNS


# -- the output of one run -----------------------------------------------------------------


class Output:
    """Where a run's results and messages go, and in which form.

    ``secrets`` is the run's registry: what :meth:`mask` masks.
    """

    def __init__(
        self, *, json_mode: bool, stdout: TextIO, stderr: TextIO, secrets: Secrets | None = None
    ) -> None:
        self.json_mode = json_mode
        self.stdout = stdout
        self.stderr = stderr
        self.secrets = secrets if secrets is not None else Secrets()

    def line(self, text: str) -> None:
        """A line of human-readable output (stdout)."""
        print(text, file=self.stdout, flush=True)

    def json(self, value: Mapping[str, object]) -> None:
        """One JSON object on a line of its own (stdout)."""
        print(json_line(value), file=self.stdout, flush=True)

    def result(self, value: Mapping[str, object], text: str) -> None:
        """A result: ``value`` as JSON with ``--json``, else ``text``."""
        if self.json_mode:
            self.json(value)
        else:
            self.line(text)

    def add_secrets(self, secrets: Iterable[str]) -> None:
        """Mask these too from now on (secrets a command learns while it runs)."""
        self.secrets.register(*secrets)

    def masked(self, record: _Record) -> _Record:
        """``record`` with every known secret masked in its texts: the server wrote them."""
        if not self.secrets.view.values:
            return record
        changes: dict[str, Any] = {}
        for field in attrs.fields(type(record)):
            value = getattr(record, field.name)
            if isinstance(value, str) and not isinstance(value, enum.Enum):
                changes[field.alias or field.name] = self.mask(value)
            elif isinstance(value, Mapping):
                changes[field.alias or field.name] = {
                    self.mask(key): None if item is None else self.mask(item)
                    for key, item in value.items()
                }
        return attrs.evolve(record, **changes)

    def task(self, info: BatchTaskInfo) -> None:
        """One task: a JSON object, or ``Label: value`` lines."""
        info = self.masked(info)
        self.result(task_json(info), task_details(info))

    def tenant(self, tenant: TenantState) -> None:
        """A tenant state: a JSON object, or ``Label: value`` lines."""
        tenant = self.masked(tenant)
        self.result(tenant_json(tenant), tenant_details(tenant))

    def tasks(self, infos: Sequence[BatchTaskInfo]) -> None:
        """Several tasks: one JSON object per task, or a table."""
        infos = [self.masked(info) for info in infos]
        if self.json_mode:
            for info in infos:
                self.json(task_json(info))
        elif infos:
            self.line(task_table(infos))
        else:
            self.line("No batch tasks.")

    def mask(self, text: object) -> str:
        """``text`` from the server or an exception, with every known secret masked.

        Only such parts of a line are masked, never the command line's own words: a short
        password would otherwise mangle them (and show itself by what it mangled).
        """
        return reveal(ServerText(str(text), self.secrets.view))

    def error(self, message: str) -> None:
        """``superoffice-batch: error: …`` on stderr, on one line, cleaned for a terminal.

        Callers pass text that came from elsewhere through :meth:`mask` first.
        """
        self.notice(f"error: {message}")

    def notice(self, message: str) -> None:
        """``superoffice-batch: …`` on stderr, on one line, cleaned for a terminal."""
        text = " ".join(clean(message).split())
        print(f"{PROG}: {text}", file=self.stderr, flush=True)

    def progress(self, job_id: int) -> ProgressDisplay:
        """A progress display on stderr: a live bar on a terminal, else plain lines."""
        if is_terminal(self.stderr):
            return BarProgress(self.stderr, job_id, mask=self.masked)
        return LineProgress(self.stderr, job_id, mask=self.masked)
