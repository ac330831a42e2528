"""What a packager or an embedder reads: the wheel's files, its metadata, the license.

The wheel is built with the project's own build backend (a fraction of a second), so what
is checked is what ``pip install .`` installs.
"""

from __future__ import annotations

import re
import zipfile
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

import hatchling.build
import pytest

import superoffice_batch

ROOT = Path(__file__).resolve().parent.parent
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")
DIST_INFO = f"superoffice_batch-{superoffice_batch.__version__}.dist-info"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)  # the backend builds the project in the working directory
        name = hatchling.build.build_wheel(str(out))
    return zipfile.ZipFile(out / name)


@pytest.fixture(scope="module")
def metadata(wheel: zipfile.ZipFile) -> Message:
    return HeaderParser().parsestr(wheel.read(f"{DIST_INFO}/METADATA").decode())


def test_wheel_carries_py_typed_next_to_the_package(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "superoffice_batch/py.typed" in names
    assert "superoffice_batch/client.py" in names


def test_wheel_carries_the_license_and_says_which(
    wheel: zipfile.ZipFile, metadata: Message
) -> None:
    shipped = wheel.read(f"{DIST_INFO}/licenses/LICENSE").decode()
    assert shipped == (ROOT / "LICENSE").read_text()
    assert shipped.startswith("MIT License\n")
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]


def test_classifiers_name_each_supported_python_and_the_status(metadata: Message) -> None:
    classifiers = metadata.get_all("Classifier") or []
    versions = [
        item.rpartition(" :: ")[2]
        for item in classifiers
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", item)
    ]
    assert tuple(versions) == SUPPORTED
    assert metadata["Requires-Python"] == f">={SUPPORTED[0]}"
    assert "Typing :: Typed" in classifiers
    assert any(item.startswith("Development Status :: ") for item in classifiers)


def test_metadata_version_is_the_package_version(metadata: Message) -> None:
    assert metadata["Version"] == superoffice_batch.__version__


def test_changelog_has_a_section_for_the_current_version() -> None:
    headings = re.findall(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert superoffice_batch.__version__ in headings
