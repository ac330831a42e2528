"""The pytest fixtures of the plugin ``superoffice_batch.testing`` (see its docstring).

Imported by that package only when pytest is running; import this module directly to
use the fixtures some other way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .simulator import NetServerSimulator

__all__ = ["netserver", "netserver_factory"]


@pytest.fixture
def netserver() -> Iterator[NetServerSimulator]:
    """A started :class:`NetServerSimulator` with the default options, stopped after the test."""
    with NetServerSimulator() as simulator:
        yield simulator


@pytest.fixture
def netserver_factory() -> Iterator[Callable[..., NetServerSimulator]]:
    """Build and start simulators: ``netserver_factory(soap=SoapMode.BOTH, ...)``.

    Takes :class:`NetServerSimulator`'s options; every simulator made is stopped after
    the test.
    """
    made: list[NetServerSimulator] = []

    def make(**options: Any) -> NetServerSimulator:
        simulator = NetServerSimulator(**options)
        made.append(simulator)
        return simulator.start()

    yield make
    for simulator in made:
        simulator.stop()
