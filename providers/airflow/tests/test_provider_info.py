"""The package as Airflow discovers it: the entry point, the provider info, the form."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import airflow
import jsonschema

from superoffice_batch_airflow import get_provider_info


def test_the_entry_point_names_get_provider_info() -> None:
    [entry] = [
        entry
        for entry in importlib.metadata.entry_points(group="apache_airflow_provider")
        if entry.value.startswith("superoffice_batch_airflow")
    ]
    assert (entry.name, entry.value) == (
        "provider_info",
        "superoffice_batch_airflow:get_provider_info",
    )
    assert entry.load() is get_provider_info
    assert entry.dist is not None
    assert entry.dist.name == "superoffice-batch-airflow"


def test_the_provider_info_is_valid_for_airflow() -> None:
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    assert info["package-name"] == "superoffice-batch-airflow"
    [kind] = info["connection-types"]
    assert kind["connection-type"] == "superoffice_batch"
    assert kind["hook-class-name"] == "superoffice_batch_airflow.hooks.SuperOfficeBatchHook"
    secret = {
        name
        for name, field in kind["conn-fields"].items()
        if field["schema"].get("format") == "password"
    }
    assert secret == {"system_user_token", "private_key", "ticket"}


def test_the_task_runtime_finds_the_hook() -> None:
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    hook = ProvidersManagerTaskRuntime().hooks["superoffice_batch"]
    assert hook is not None
    assert hook.hook_class_name == "superoffice_batch_airflow.hooks.SuperOfficeBatchHook"
    assert hook.connection_id_attribute_name == "superoffice_conn_id"


def test_the_ui_gets_the_form_from_the_provider_info() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "superoffice-batch-airflow" in manager.providers
    widgets = manager.connection_form_widgets
    prefix = "extra__superoffice_batch__"
    assert widgets[f"{prefix}system_user_token"].is_sensitive
    assert widgets[f"{prefix}private_key"].is_sensitive
    assert not widgets[f"{prefix}context_identifier"].is_sensitive
    behaviour = manager.field_behaviours["superoffice_batch"]
    assert behaviour["hidden_fields"] == ["schema", "port"]
