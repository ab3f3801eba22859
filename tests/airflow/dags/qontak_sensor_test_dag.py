"""Test-only DAG: three messages, three sensors, one outcome each (delivered, failed, never read).

Each recipient gets its own send task and sensor, so one ``airflow dags test`` run covers the three
outcomes of one sensor mode. The mode comes from environment variables read at parse time (no I/O):
``QONTAK_SENSOR_DEFERRABLE`` (1/0) and ``QONTAK_SENSOR_MODE`` (poke/reschedule).
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import dag, task

from qontak_provider.sandbox import magic
from qontak_provider.sensors.qontak import QontakBroadcastSensor

DEFERRABLE = os.environ.get("QONTAK_SENSOR_DEFERRABLE", "0") == "1"
MODE = os.environ.get("QONTAK_SENSOR_MODE", "poke")
CASES = {
    # name: (recipient, target status, timeout)
    "delivered": ("6281234567890", "delivered", 30.0),
    "undeliverable": (magic.FAILS_UNDELIVERABLE, "delivered", 30.0),
    "never_read": (magic.NEVER_READ, "read", 3.0),
}


@task
def send(to_number: str) -> dict[str, str]:
    from qontak_provider.hooks.qontak import QontakHook

    hook = QontakHook()
    broadcast = hook.send_direct(
        {
            "to_number": to_number,
            "to_name": "Sensor Test",
            "message_template_id": "d3e1083c-66ea-410b-b807-1d84182ffa82",
            "channel_integration_id": hook.default_channel_integration_id,
            "language": {"code": "id"},
            "parameters": {
                "body": [
                    {"key": "1", "value_text": "Sensor", "value": "name"},
                    {"key": "2", "value_text": "Test", "value": "song"},
                ]
            },
        }
    )
    return {"broadcast_id": broadcast.id}


@task
def report(summary: dict) -> None:
    for broadcast_id, info in summary["broadcasts"].items():
        print(f"SENSOR RESULT {broadcast_id} {info['status']}")


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def qontak_sensor_test_dag() -> None:
    for name, (number, target, timeout) in CASES.items():
        sent = send.override(task_id=f"send_{name}")(number)
        wait = QontakBroadcastSensor(
            task_id=f"wait_{name}",
            broadcast_ids=sent,
            target_status=target,
            deferrable=DEFERRABLE,
            mode=MODE,
            poke_interval=0.2,
            timeout=timeout,
        )
        report.override(task_id=f"report_{name}")(wait.output)


qontak_sensor_test_dag()
