"""Test-only DAG: one task that always fails, with a task-level QontakNotifier."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from qontak_provider.notifications.qontak import TASK_FAILURE_BODY, QontakNotifier

with DAG(
    dag_id="test_notifier_task_failure",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
):

    @task(
        retries=0,
        on_failure_callback=QontakNotifier(
            to_numbers="+62 812-3456-7890, 081234567890",  # the same person twice: one message
            template_name="airflow_task_alert",
            language="en_US",
            body=TASK_FAILURE_BODY,
        ),
    )
    def explode() -> None:
        raise RuntimeError("kaboom on purpose\n  - second line")

    explode()
