"""Names a module offers without importing their module until first use (PEP 562)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any


def lazy_names(module: str, source: str, names: Iterable[str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``module`` that takes ``names`` from module ``source``."""
    offered = frozenset(names)

    def __getattr__(name: str) -> Any:
        if name in offered:
            return getattr(importlib.import_module(source), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
