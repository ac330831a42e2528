"""The ``superoffice-batch`` command line: start, follow, list, stop and delete batch jobs.

Run it as ``superoffice-batch COMMAND …`` (the console script) or
``python -m superoffice_batch COMMAND …``. ``superoffice-batch --help`` lists the
commands, ``superoffice-batch COMMAND --help`` their options.

Commands::

    start NAME [-p KEY=VALUE …] [--wait]   start a job; print its id (or follow it)
    status ID                              one job's state and progress
    wait ID                                follow a job to its end, with progress
    stop ID                                ask a running job to stop
    delete ID [ID …]                       delete jobs
    list [--state S] [--name N]            list jobs (system and user)
    login                                  log in; print the ticket
    tenant                                 an Online tenant's state and endpoint
    simulate                               run the NetServer simulator in the foreground
    demo [--online]                        start a job on a throwaway simulator and follow it

Connection settings come from options or the environment (options win):
``--url``/``SUPEROFFICE_URL``, ``--ticket``/``SUPEROFFICE_TICKET``,
``--username``/``SUPEROFFICE_USERNAME`` with ``--password``/``SUPEROFFICE_PASSWORD``,
``--app-token``/``SUPEROFFICE_APP_TOKEN``; ``--soap 1.1|1.2`` pins the SOAP version and
``--timeout`` sets the HTTP timeout. SuperOffice CRM Online's system user comes from the
environment only: ``SUPEROFFICE_CONTEXT_ID``, ``SUPEROFFICE_ENVIRONMENT``,
``SUPEROFFICE_SYSTEM_USER_TOKEN`` and ``SUPEROFFICE_PRIVATE_KEY_FILE``, with the application
token; then the URL is optional and no other credential may be set. Secrets are never
echoed: not in output, errors, ``--help`` or logs (``login`` prints the ticket it
obtained, which is what it is for).

Exit codes:

* 0: success;
* 1: the job failed (or an unexpected internal error; ``--debug`` shows its traceback);
* 2: usage error (bad arguments, missing URL or credentials, bad system-user settings);
* 3: service or authentication error (NetServer refused or failed the call, or the
  Online tenant is unavailable);
* 4: connection problem or timeout (no reply, or ``--max-wait`` passed);
* 130: interrupted (Ctrl-C); a job being waited for goes on running.

This package is imported only by the command line, never by ``import superoffice_batch``;
the simulators are imported only by ``simulate`` and ``demo``.
"""

from __future__ import annotations

from ._main import main

__all__ = ["main"]
