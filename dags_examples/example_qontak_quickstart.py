"""
Quickstart: look around the account, send one WhatsApp message and wait until it is read.

1. ``list_channels`` lists the WhatsApp channel integrations (the numbers you can send from);
2. ``list_templates`` lists the approved message templates;
3. ``send_message`` sends the text template ``song_recommendation`` (two body variables);
4. ``wait_read`` waits in the triggerer until the customer has read it;
5. ``report`` prints ``Broadcast <id> final status: read``.

Against the sandbox (default clock: a status step every 0.2 s) it finishes in seconds::

    qontak-sandbox &            # prints the AIRFLOW_CONN_QONTAK_DEFAULT to export
    airflow dags test example_qontak_quickstart
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from qontak_provider.operators.qontak import (
    QontakListChannelsOperator,
    QontakListTemplatesOperator,
    QontakSendDirectOperator,
)
from qontak_provider.sensors.qontak import QontakBroadcastSensor

with DAG(
    dag_id="example_qontak_quickstart",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "qontak"],
):
    list_channels = QontakListChannelsOperator(task_id="list_channels", target_channel="wa_cloud")
    list_templates = QontakListTemplatesOperator(task_id="list_templates", status="APPROVED")

    send_message = QontakSendDirectOperator(
        task_id="send_message",
        to_number="6281234567890",
        to_name="Budi Santoso",
        template_id="d3e1083c-66ea-410b-b807-1d84182ffa82",  # song_recommendation
        body={"1": "Budi", "2": "Bohemian Rhapsody"},
    )

    wait_read = QontakBroadcastSensor(
        task_id="wait_read",
        broadcast_ids=send_message.output,
        target_status="read",
        deferrable=True,
        poke_interval=1,
        timeout=120,
    )

    @task
    def report(summary: dict) -> None:
        for broadcast_id, info in summary["broadcasts"].items():
            print(f"Broadcast {broadcast_id} final status: {info['status']}")

    [list_channels, list_templates] >> send_message
    report(wait_read.output)
