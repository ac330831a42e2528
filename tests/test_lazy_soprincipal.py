"""SoPrincipal's models and operations load on first use, wherever they are named from."""

from __future__ import annotations

import subprocess
import sys

import pytest

import superoffice_batch
from superoffice_batch import models, operations, soprincipal


def test_importing_the_package_does_not_load_soprincipal():
    code = (
        "import sys, superoffice_batch; "
        "from superoffice_batch import BatchClient, BatchTaskInfo; "
        "print('superoffice_batch.soprincipal' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("module", "name"),
    [
        (superoffice_batch, "Principal"),
        (superoffice_batch, "Authentication"),
        (superoffice_batch, "SystemInfo"),
        (superoffice_batch, "UserType"),
        (models, "Principal"),
        (models, "NetServerBuildType"),
        (operations, "AuthenticateUsernamePassword"),
        (operations, "GetSystemInfo"),
    ],
)
def test_soprincipal_names_are_offered_where_they_used_to_be(module, name):
    assert getattr(module, name) is getattr(soprincipal, name)


@pytest.mark.parametrize("module", [superoffice_batch, models, operations])
def test_other_names_are_still_missing(module):
    with pytest.raises(AttributeError, match="no attribute 'Nonexistent'"):
        _ = module.Nonexistent
