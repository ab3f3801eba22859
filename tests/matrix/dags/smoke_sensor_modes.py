"""The sensor in poke and in reschedule mode, and the notifier as a task callback, after one send."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from qontak_provider.notifications.qontak import TASK_FAILURE_BODY, QontakNotifier
from qontak_provider.operators.qontak import QontakSendDirectOperator
from qontak_provider.sensors.qontak import QontakBroadcastSensor

with DAG(
    dag_id="smoke_sensor_modes",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
):
    send = QontakSendDirectOperator(
        task_id="send",
        to_number="6281234567890",
        to_name="Budi Santoso",
        template_id="d3e1083c-66ea-410b-b807-1d84182ffa82",  # song_recommendation
        body={"1": "Budi", "2": "Bohemian Rhapsody"},
    )
    poke = QontakBroadcastSensor(
        task_id="wait_poke",
        broadcast_ids=send.output,
        target_status="read",
        mode="poke",
        poke_interval=1,
        timeout=120,
    )
    # By now the message is read, so this finds it at its first poke: under `airflow dags test` Airflow 3.0
    # cannot run a second poke of a rescheduled sensor (its own limitation), and this checks the mode's path.
    reschedule = QontakBroadcastSensor(
        task_id="wait_reschedule",
        broadcast_ids=send.output,
        target_status="read",
        mode="reschedule",
        poke_interval=1,
        timeout=120,
        on_success_callback=QontakNotifier(
            to_numbers="+62 812-9876-5432",
            template_name="airflow_task_alert",
            language="en_US",
            body=TASK_FAILURE_BODY,
        ),
    )
    send >> poke >> reschedule
