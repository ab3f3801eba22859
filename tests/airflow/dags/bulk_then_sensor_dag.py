"""Test-only DAG: a bulk send to five recipients, then the delivery sensor until every message is read.

Run under each way the broadcast list may behave (the sandbox's ``broadcast_list`` / ``broadcast_detail``
variants). The sensor mode comes from environment variables read at parse time (no I/O):
``QONTAK_SENSOR_DEFERRABLE`` (1/0) and ``QONTAK_SENSOR_MODE`` (poke/reschedule).
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import dag, task

from qontak_provider.operators.bulk import QontakBulkSendOperator
from qontak_provider.sensors.qontak import QontakBroadcastSensor

DEFERRABLE = os.environ.get("QONTAK_SENSOR_DEFERRABLE", "1") == "1"
MODE = os.environ.get("QONTAK_SENSOR_MODE", "poke")
RECIPIENTS = [
    {"id": f"C{i}", "phone": f"0812-3456-70{i:02d}", "name": f"Customer {i}", "amount": "Rp 10.000"}
    for i in range(5)
]


@task
def report(summary: dict) -> None:
    unavailable = summary["list_unavailable"]
    print(f"SENSOR OUTCOME {summary['outcome']} {summary['counts']} list_unavailable={unavailable}")


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def bulk_then_sensor_dag() -> None:
    sent = QontakBulkSendOperator(
        task_id="remind",
        recipients=RECIPIENTS,
        key_column="id",
        template_name="payment_reminder",
        body={"1": "{{ row.name }}", "2": "{{ row.amount }}", "3": "31 Januari"},
    )
    wait = QontakBroadcastSensor(
        task_id="wait_read",
        broadcast_ids=sent.output,
        target_status="read",
        deferrable=DEFERRABLE,
        mode=MODE,
        poke_interval=0.5,
        timeout=90,
    )
    report(wait.output)


bulk_then_sensor_dag()
