"""A local NetServer simulator for tests: real HTTP on loopback, no tenant needed.

::

    from superoffice_batch import BatchClient, BatchTaskInfo, UsernamePassword
    from superoffice_batch.testing import NetServerSimulator, SoapMode

    with NetServerSimulator(job_duration=0.5) as sim:
        with BatchClient(sim.base_url, auth=UsernamePassword("demo", "demo")) as client:
            info = client.run_batch_job(BatchTaskInfo(name="ExportTask"), poll_interval=0.1)

See :class:`NetServerSimulator` for the options and what it serves, and
:mod:`superoffice_batch.testing.faults` for fault injection (``sim.faults``). Standard
library, lxml and attrs only; ``import superoffice_batch`` does not import this package.
:mod:`superoffice_batch.testing.online` simulates SuperOffice CRM Online (login host,
tenant state, numbered tenant hosts); it needs ``cryptography`` (the ``[online]`` extra)
once a simulator is made.

**Pytest plugin** (opt-in). In a ``conftest.py``::

    pytest_plugins = ["superoffice_batch.testing"]

This provides four fixtures:

* ``netserver``: a started simulator with the defaults, stopped after the test;
* ``netserver_factory``: ``netserver_factory(**options)`` builds and starts a simulator
  with :class:`NetServerSimulator`'s options; all of them are stopped after the test;
* ``netserver_online`` and ``netserver_online_factory``: the same for
  :class:`superoffice_batch.testing.online.OnlineSimulator`, SuperOffice CRM Online's
  login host, state API and tenant hosts (it needs the ``[online]`` extra,
  ``cryptography``, which is imported only when one is made).

The fixtures are defined only when pytest is already running (it is, when it loads the
plugin), so that importing this package never imports pytest. The marker
PYTEST_DONT_REWRITE tells pytest not to rewrite this module's assertions (it has none):
without it, a conftest that imports from this package before registering it as a plugin
gets a warning, an error under ``-W error``.
"""

from __future__ import annotations

import sys

from .faults import Faults
from .simulator import NetServerSimulator, SoapMode

__all__ = ["Faults", "NetServerSimulator", "SoapMode"]

if "pytest" in sys.modules:
    from .fixtures import (
        netserver,
        netserver_factory,
        netserver_online,
        netserver_online_factory,
    )

    __all__ += ["netserver", "netserver_factory", "netserver_online", "netserver_online_factory"]
