"""Every Python example in README.md and docs/*.md runs as written against a simulator.

The rule, per page, in the order the blocks appear:

* A block that defines tests (``def test_``), or that the paragraph before it names as a
  file (``tests/export.py``, ``replies.py``, ``conftest.py``), is saved under that name
  (a test block without one as ``test_<page>_<n>.py``); the page's saved files then run
  with pytest, unchanged: they start their own simulators or mock the endpoint.
* Every other block is a script. The page's scripts run one after the other in one
  namespace, as a reader pasting them into one session would, against one on-site
  simulator, in a fresh working directory that holds ``fixtures/`` (the repository's,
  which examples read by a relative path). Only these things are substituted: the
  documented hosts (``https://sod2.superoffice.com``, ``https://crm.example.com``) become
  the simulator's ``http://127.0.0.1:<port>`` (the path is kept: the simulator serves
  any tenant prefix), and the placeholder ticket ``"7T:..."`` becomes one the simulator
  issued. The documented user ``jdoe``/``secret`` exists there, ``8A:…`` access tokens
  are accepted, and application tokens are not checked (an on-site simulator). Its jobs
  end at once.
* A page whose scripts make a ``SystemUser(`` also gets an ``OnlineSimulator`` (tenant
  ``Cust12345``, the documented one, so context identifiers are kept; jobs end at once),
  and three more substitutions: ``environment="sod"`` becomes the simulator's
  environment root, the placeholders ``"SYSTEM-USER-TOKEN"`` and ``"CLIENT-SECRET"``
  become its system-user token and client secret, and the working directory holds the
  documented key files ``private_key.pem`` (PKCS#8 PEM) and ``private_key.xml`` (RSAXML)
  with its app key.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

# pytester's in-process runs drop the modules first imported inside them; cryptography's
# compiled core keeps the classes of the first import, so a second import of these makes
# its own instances foreign to it ("must be a KeySerializationEncryption instance").
from cryptography.hazmat.primitives import hashes, serialization  # noqa: F401
from cryptography.hazmat.primitives.asymmetric import padding  # noqa: F401

from superoffice_batch.testing import NetServerSimulator
from superoffice_batch.testing.online import OnlineSimulator

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
# docs/airflow.md's examples need Airflow: providers/airflow/tests/test_docs.py runs them.
PROVIDER_PAGES = {"airflow.md"}
PAGES = [
    "README.md",
    *sorted(
        f"docs/{page.name}"
        for page in (ROOT / "docs").glob("*.md")
        if page.name not in PROVIDER_PAGES
    ),
]
DOCUMENTED_HOSTS = ("https://sod2.superoffice.com", "https://crm.example.com")
PLACEHOLDER_TICKET = '"7T:..."'
USERS = {"jdoe": "secret", "demo": "demo"}
DOCUMENTED_TENANT = "Cust12345"
DOCUMENTED_ENVIRONMENT = 'environment="sod"'
SYSTEM_USER_TOKEN = '"SYSTEM-USER-TOKEN"'
CLIENT_SECRET = '"CLIENT-SECRET"'

_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
_FILE_NAME = re.compile(r"`(?:[\w.-]+/)*(\w+\.py)`")


@dataclass(frozen=True)
class Block:
    """One example: where it is, its code, and the file name it is saved as (if any)."""

    page: str
    line: int
    code: str
    file_name: str | None


def blocks(page: str) -> list[Block]:
    """The Python blocks of a page, each with the file name the rule gives it."""
    text = (ROOT / page).read_text(encoding="utf-8")
    found = []
    previous_end = 0
    for number, match in enumerate(_BLOCK.finditer(text), start=1):
        paragraph = text[previous_end : match.start()].rstrip().rpartition("\n\n")[2]
        previous_end = match.end()
        code = match.group(1)
        names = _FILE_NAME.findall(paragraph)
        name = names[-1] if names else None
        if "def test_" in code and not (name or "").startswith("test_"):
            name = f"test_{Path(page).stem.lower()}_{number}.py"
        line = text.count("\n", 0, match.start()) + 2
        found.append(Block(page, line, code, name))
    return found


def substituted(code: str, sim: NetServerSimulator, online: OnlineSimulator | None) -> str:
    """The script with the documented hosts, placeholder ticket and (for a page with a
    ``SystemUser``) the Online placeholders replaced (the rule above)."""
    for host in DOCUMENTED_HOSTS:
        code = code.replace(host, f"http://127.0.0.1:{sim.port}")
    code = code.replace(PLACEHOLDER_TICKET, repr(sim.issue_ticket()))
    if online is not None:
        code = code.replace(DOCUMENTED_ENVIRONMENT, f"environment={online.environment!r}")
        code = code.replace(SYSTEM_USER_TOKEN, repr(online.system_user_token))
        code = code.replace(CLIENT_SECRET, repr(online.application_token))
    return code


def working_directory(path: Path, online: OnlineSimulator | None) -> Path:
    """A fresh directory with the repository's fixtures/ and, for Online, the key files."""
    (path / "fixtures").symlink_to(ROOT / "fixtures", target_is_directory=True)
    if online is not None:
        (path / "private_key.pem").write_text(online.private_key_pem, encoding="utf-8")
        (path / "private_key.xml").write_text(online.private_key_rsaxml, encoding="utf-8")
    return path


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[NetServerSimulator]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with NetServerSimulator(users=USERS, job_duration=0) as simulator:
        yield simulator


@pytest.fixture
def _logging_restored() -> Iterator[None]:
    """An example may configure logging; the rest of the suite must not see it."""
    root = logging.getLogger()
    library = logging.getLogger("superoffice_batch")
    handlers, level, library_level = root.handlers[:], root.level, library.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    library.setLevel(library_level)


def test_the_rule_finds_the_examples_and_their_files() -> None:
    every = [block for page in PAGES for block in blocks(page)]
    named = {block.file_name for block in every if block.page == "docs/testing.md"}

    assert len(every) >= 40
    assert {"conftest.py", "export.py", "test_export.py", "replies.py"} <= named
    assert blocks("README.md")[-1].file_name == "test_readme_5.py"
    online = [block for block in every if "SystemUser(" in block.code and not block.file_name]
    assert {block.page for block in online} >= {"README.md", "docs/online.md"}
    assert "test_export_online.py" in {block.file_name for block in blocks("docs/online.md")}
    assert [block.file_name for block in blocks("docs/fleet.md")] == ["fleet.py", "test_fleet.py"]


def test_the_online_substitutions_leave_no_placeholder(tmp_path: Path) -> None:
    with NetServerSimulator() as sim, OnlineSimulator(tenants=(DOCUMENTED_TENANT,)) as online:
        for page in PAGES:
            for block in blocks(page):
                if block.file_name is None and "SystemUser(" in block.code:
                    code = substituted(block.code, sim, online)
                    for placeholder in (DOCUMENTED_ENVIRONMENT, SYSTEM_USER_TOKEN, CLIENT_SECRET):
                        assert placeholder not in code, f"{page}, line {block.line}"


@pytest.mark.usefixtures("_logging_restored")
@pytest.mark.parametrize("page", PAGES)
def test_the_examples_of_a_page_run_as_written(
    page: str,
    sim: NetServerSimulator,
    pytester: pytest.Pytester,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    scripts = [block for block in blocks(page) if block.file_name is None]
    files = {block.file_name: block.code for block in blocks(page) if block.file_name}

    namespace: dict[str, object] = {"__name__": "__main__"}
    with ExitStack() as stack, monkeypatch.context() as here:
        online = None
        if any("SystemUser(" in block.code for block in scripts):
            online = stack.enter_context(
                OnlineSimulator(tenants=(DOCUMENTED_TENANT,), job_duration=0)
            )
        here.chdir(working_directory(tmp_path, online))
        for block in scripts:
            where = f"{block.page}, line {block.line}"
            # An example that raises fails this test; the traceback names its line.
            exec(compile(substituted(block.code, sim, online), where, "exec"), namespace)
        assert online is None or online.errors == []
    capsys.readouterr()  # what the examples printed is theirs to show

    assert sim.errors == []
    if any(name.startswith("test_") for name in files):
        for name, code in files.items():
            pytester.makepyfile(**{Path(name).stem: code})
            # The suite's own tests/replies.py must not stand in for the page's replies.py.
            monkeypatch.delitem(sys.modules, Path(name).stem, raising=False)
        tests = sum(
            code.count("\ndef test_") for name, code in files.items() if name.startswith("test_")
        )
        result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
        assert result.parseoutcomes() == {"passed": tests}, result.stdout.str()
