"""The pytest fixtures of the plugin ``superoffice_batch.testing`` (see its docstring).

Imported by that package only when pytest is running; import this module directly to
use the fixtures some other way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

import pytest

from .online import OnlineSimulator
from .simulator import NetServerSimulator

__all__ = ["netserver", "netserver_factory", "netserver_online", "netserver_online_factory"]

ONLINE_JOB_DURATION = 0.5
"""Seconds ``netserver_online``'s jobs take: short, so tests that wait for one are quick."""


class _Simulator(Protocol):
    def start(self) -> Any: ...

    def stop(self) -> None: ...


_S = TypeVar("_S", bound=_Simulator)


def _factory(kind: Callable[..., _S]) -> Iterator[Callable[..., _S]]:
    """Make and start simulators of ``kind`` with the options given; stop them all after."""
    made: list[_S] = []

    def make(**options: Any) -> _S:
        simulator = kind(**options)
        made.append(simulator)
        simulator.start()
        return simulator

    yield make
    for simulator in made:
        simulator.stop()


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
    yield from _factory(NetServerSimulator)


@pytest.fixture
def netserver_online() -> Iterator[OnlineSimulator]:
    """A started :class:`~superoffice_batch.testing.online.OnlineSimulator` (one tenant,
    ``Cust12345``, on the first of two tenant hosts; jobs of half a second), stopped after
    the test. Needs the ``[online]`` extra."""
    with OnlineSimulator(job_duration=ONLINE_JOB_DURATION) as simulator:
        yield simulator


@pytest.fixture
def netserver_online_factory() -> Iterator[Callable[..., OnlineSimulator]]:
    """Build and start Online simulators: ``netserver_online_factory(hosts=3, ...)``.

    Takes :class:`~superoffice_batch.testing.online.OnlineSimulator`'s options; every
    simulator made is stopped after the test. Needs the ``[online]`` extra.
    """
    yield from _factory(OnlineSimulator)
