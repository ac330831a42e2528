"""Apache Airflow provider for superoffice-batch: SuperOffice batch jobs as Airflow tasks.

* :class:`~superoffice_batch_airflow.hooks.SuperOfficeBatchHook`: clients for a
  ``superoffice_batch`` connection (on-site or SuperOffice CRM Online);
* :class:`~superoffice_batch_airflow.operators.SuperOfficeBatchJobOperator`: start one
  job and wait for it, in the worker or deferred;
* :class:`~superoffice_batch_airflow.sensors.SuperOfficeBatchJobSensor`: wait for a job
  started elsewhere;
* :class:`~superoffice_batch_airflow.triggers.SuperOfficeBatchJobTrigger`: the wait in
  the triggerer.

See docs/airflow.md in the superoffice-batch repository.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_SECRET = {"type": ["string", "null"], "format": "password"}
_TEXT = {"type": ["string", "null"]}
_SECONDS = {"type": ["number", "null"]}


def get_provider_info() -> dict[str, Any]:
    """What Airflow's providers manager reads (entry point ``apache_airflow_provider``)."""
    return {
        "package-name": "superoffice-batch-airflow",
        "name": "SuperOffice Batch",
        "description": "SuperOffice NetServer and SuperOffice CRM Online batch jobs.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": "superoffice_batch",
                "hook-class-name": "superoffice_batch_airflow.hooks.SuperOfficeBatchHook",
                "hook-name": "SuperOffice Batch",
                "conn-fields": {
                    "context_identifier": {
                        "label": "Context identifier (Online)",
                        "schema": _TEXT,
                        "description": "The tenant, e.g. Cust12345. Online only.",
                    },
                    "environment": {
                        "label": "Environment (Online)",
                        "schema": _TEXT,
                        "description": "sod, qaonline, online, or an http(s) URL. Online only.",
                    },
                    "system_user_token": {
                        "label": "System user token (Online)",
                        "schema": _SECRET,
                    },
                    "private_key": {
                        "label": "Private key, PEM or RSAXML (Online)",
                        "schema": _SECRET,
                    },
                    "private_key_file": {
                        "label": "Private key file (Online)",
                        "schema": _TEXT,
                        "description": "A path on the workers and triggerers, instead of the key.",
                    },
                    "ticket": {
                        "label": "Ticket (on-site)",
                        "schema": _SECRET,
                        "description": "A fixed 7T: ticket instead of login and password.",
                    },
                    "soap_version": {
                        "label": "SOAP version",
                        "schema": {"type": ["string", "null"], "enum": ["1.1", "1.2", None]},
                        "description": "Leave empty to negotiate.",
                    },
                    "timeout": {"label": "Timeout per request (s)", "schema": _SECONDS},
                    "call_deadline": {"label": "Deadline per call (s)", "schema": _SECONDS},
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "host": "Site URL (on-site)",
                        "login": "User name (on-site)",
                        "password": "Password (on-site) or client secret (Online)",
                    },
                    "placeholders": {
                        "host": "https://crm.example.com/SuperOffice (empty for Online)",
                    },
                },
            }
        ],
    }
