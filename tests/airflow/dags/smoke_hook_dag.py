"""Test-only DAG: the hook works inside a real Airflow task (connection from the environment)."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def smoke_hook_dag() -> None:
    @task
    def list_everything() -> dict[str, int]:
        from qontak_provider.hooks.qontak import QontakHook

        hook = QontakHook()
        ok, message = hook.test_connection()
        assert ok, message
        channels = hook.list_channels(target_channel="wa_cloud")
        templates = hook.list_templates(status="APPROVED")
        print(f"SMOKE channels={len(channels)} templates={len(templates)}")
        return {"channels": len(channels), "templates": len(templates)}

    list_everything()


smoke_hook_dag()
