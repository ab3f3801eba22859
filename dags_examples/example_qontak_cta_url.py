"""
Send a template with a call-to-action URL button; the button's dynamic URL suffix is given by index.

The channels and templates are looked up first, as a DAG author would when exploring an account.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from qontak_provider.operators.qontak import (
    QontakListChannelsOperator,
    QontakListTemplatesOperator,
    QontakSendDirectOperator,
)

with DAG(
    dag_id="example_qontak_cta_url",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "qontak"],
):
    # [START howto_operator_qontak_send_cta_url]
    channels = QontakListChannelsOperator(task_id="list_whatsapp_channels", target_channel="wa_cloud")
    templates = QontakListTemplatesOperator(task_id="list_feature_templates", name="feature_link")

    @task
    def pick(channels: list[dict], templates: list[dict]) -> dict[str, str]:
        """Send from the first active WhatsApp Cloud channel, with the approved feature_link template."""
        return {"channel_integration_id": channels[0]["id"], "template_id": templates[0]["id"]}

    choice = pick(channels.output, templates.output)

    QontakSendDirectOperator(
        task_id="send_feature_link",
        to_number="6281234567890",
        to_name="Test User",
        template_id="{{ ti.xcom_pull(task_ids='pick')['template_id'] }}",
        channel_integration_id="{{ ti.xcom_pull(task_ids='pick')['channel_integration_id'] }}",
        buttons={"0": "fitur/personalisasi-report-sales"},  # https://www.qontak.com/{{1}}
    ).set_upstream(choice)
    # [END howto_operator_qontak_send_cta_url]
