"""
Quickstart: look around the account, send one WhatsApp message and wait until it is read.

1. ``list_channels`` lists the WhatsApp channel integrations (the numbers you can send from);
2. ``list_templates`` lists the approved message templates;
3. ``send_message`` sends one template message, by default the sandbox's text template
   ``song_recommendation`` (two body variables) to a sandbox number;
4. ``wait_read`` waits in the triggerer until the customer has read it;
5. ``report`` prints ``Broadcast <id> final status: read``.

Against the sandbox (default clock: a status step every 0.2 s) it finishes in seconds::

    qontak-sandbox &            # prints the AIRFLOW_CONN_QONTAK_DEFAULT to export
    airflow dags test example_qontak_quickstart

Against a real Qontak account, pass a number and one of the account's approved templates::

    airflow dags test example_qontak_quickstart --conf '{"to_number": "0812-3456-7890",
        "template_name": "your_template", "body": ["value of {{1}}", "value of {{2}}"]}'
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

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
    params={
        "to_number": Param("6281234567890", type="string", description="Who gets the message."),
        "to_name": Param("Budi Santoso", type="string"),
        "template_name": Param("song_recommendation", type="string", description="An approved template."),
        "body": Param(["Budi", "Bohemian Rhapsody"], type="array", description="{{1}}, {{2}}, ... in order."),
    },
    tags=["example", "qontak"],
):
    # [START howto_operator_qontak_list]
    list_channels = QontakListChannelsOperator(task_id="list_channels", target_channel="wa_cloud")
    list_templates = QontakListTemplatesOperator(task_id="list_templates", status="APPROVED")
    # [END howto_operator_qontak_list]

    # [START howto_sensor_qontak_wait_read]
    send_message = QontakSendDirectOperator(
        task_id="send_message",
        to_number="{{ params.to_number }}",
        to_name="{{ params.to_name }}",
        template_name="{{ params.template_name }}",
        body="{{ params.body | tojson }}",  # the list as JSON text, which the operator reads back
    )

    wait_read = QontakBroadcastSensor(
        task_id="wait_read",
        broadcast_ids=send_message.output,
        target_status="read",
        deferrable=True,
        poke_interval=1,
        timeout=120,
    )
    # [END howto_sensor_qontak_wait_read]

    @task
    def report(summary: dict) -> None:
        for broadcast_id, info in summary["broadcasts"].items():
            print(f"Broadcast {broadcast_id} final status: {info['status']}")

    [list_channels, list_templates] >> send_message
    report(wait_read.output)
