"""The provider metadata validates against the schemas inside the installed Airflow, and renders."""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path

import airflow
import jsonschema
import pytest

from qontak_provider.get_provider_info import get_provider_info

AIRFLOW_DIR = Path(airflow.__file__).parent


def _connection_type() -> dict:
    (conn_type,) = get_provider_info()["connection-types"]
    return conn_type


def test_validates_against_runtime_schema():
    schema = json.loads((AIRFLOW_DIR / "provider_info.schema.json").read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(get_provider_info())


def test_connection_type_validates_against_development_schema():
    schema = json.loads((AIRFLOW_DIR / "provider.yaml.schema.json").read_text())
    conn_schema = schema["properties"]["connection-types"]
    jsonschema.validate(get_provider_info()["connection-types"], conn_schema)


def test_package_name_matches_distribution_and_entry_point_is_registered():
    (ep,) = [
        e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("qontak_provider")
    ]
    assert ep.load() is get_provider_info
    assert ep.dist is not None
    assert ep.dist.metadata["Name"] == get_provider_info()["package-name"] == "airflow-provider-qontak"


def test_form_labels_defaults_and_hidden_fields():
    conn_type = _connection_type()
    assert conn_type["connection-type"] == "qontak"
    assert conn_type["hook-name"] == "Qontak"
    behaviour = conn_type["ui-field-behaviour"]
    assert behaviour["relabeling"] == {"host": "Base URL", "login": "Client ID", "password": "Client Secret"}
    assert "https://api.mekari.com" in behaviour["placeholders"]["host"]
    assert {"port", "schema"} <= set(behaviour["hidden-fields"])
    fields = conn_type["conn-fields"]
    assert fields["rate_per_minute"]["schema"]["default"] == 60
    assert fields["timeout"]["schema"]["default"] == 30
    # no default, so that a connection made in the UI carries no short extra value (masker warning)
    assert "default" not in fields["default_region"]["schema"]
    assert "empty means ID" in fields["default_region"]["description"]
    assert "channel_integration_id" in fields
    for field in fields.values():
        assert field["label"] and field["description"]


def test_providers_manager_lists_provider_and_imports_hook():
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    assert "airflow-provider-qontak" in ProvidersManager().providers
    pm = ProvidersManagerTaskRuntime()
    hook_info = pm.hooks["qontak"]
    assert hook_info is not None
    assert hook_info.hook_class_name == "qontak_provider.hooks.qontak.QontakHook"
    assert hook_info.connection_id_attribute_name == "qontak_conn_id"
    assert hook_info.hook_name == "Qontak"
    assert pm.hooks["qontak"].connection_testable


def test_ui_hook_meta_renders_labels_and_extra_fields():
    """What ``GET /ui/connections/hook_meta`` serves to the React form (no hook import needed there)."""
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    (meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "qontak"]
    assert meta.hook_name == "Qontak"
    standard = meta.standard_fields
    assert standard is not None
    assert standard.login.title == "Client ID"
    assert standard.password.title == "Client Secret"
    assert standard.host.title == "Base URL"
    assert standard.port.hidden
    extra = meta.extra_fields
    assert extra is not None
    assert extra["rate_per_minute"]["value"] == 60
    assert extra["rate_per_minute"]["schema"]["title"] == "Direct-send rate per minute"
    assert extra["default_region"]["value"] is None


@pytest.mark.parametrize(
    "module",
    [
        "qontak_provider",
        "qontak_provider.get_provider_info",
    ],
)
def test_metadata_modules_import_without_heavy_dependencies(module):
    import subprocess
    import sys

    code = (
        f"import sys; import {module}; "
        "heavy = [m for m in ('airflow', 'requests', 'httpx', 'pydantic', 'fastapi') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
