"""The provider as Airflow itself sees it: discovery, CLI, and a hook call inside a real task."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.airflow.conftest import AIRFLOW, TEST_DAGS, airflow_env, assert_dag_ok

pytestmark = pytest.mark.airflow


def _airflow_json(airflow_home, *args):
    """Run an ``airflow`` CLI command with ``--output json`` and return its parsed output."""
    result = subprocess.run(
        [AIRFLOW, *args, "--output", "json"],
        env=airflow_env(airflow_home),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_airflow_providers_list_shows_the_provider(airflow_home):
    names = {p["package_name"] for p in _airflow_json(airflow_home, "providers", "list")}
    assert "airflow-provider-qontak" in names


def test_airflow_providers_hooks_imports_the_hook(airflow_home):
    hooks = {h["connection_type"]: h for h in _airflow_json(airflow_home, "providers", "hooks")}
    assert hooks["qontak"]["class"] == "qontak_provider.hooks.qontak.QontakHook"
    assert hooks["qontak"]["conn_id_attribute_name"] == "qontak_conn_id"


def test_hook_inside_a_real_task(qontak_sandbox, run_dag):
    result = run_dag("smoke_hook_dag", dags_folder=TEST_DAGS)
    assert_dag_ok(result)
    assert "SMOKE channels=" in result.stdout + result.stderr
    stats = qontak_sandbox.stats()
    assert stats, "the sandbox saw no request from the task"
