"""Names a module offers without importing their module until first use (PEP 562)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any


def lazy_names(
    module: str, source: str, names: Iterable[str], *more: tuple[str, Iterable[str]]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``module`` that takes ``names`` from module ``source``
    (and, for each further ``(source, names)`` pair, those names from that source)."""
    sources = dict.fromkeys(names, source)
    for other, other_names in more:
        sources.update(dict.fromkeys(other_names, other))

    def __getattr__(name: str) -> Any:
        found = sources.get(name)
        if found is not None:
            return getattr(importlib.import_module(found), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
