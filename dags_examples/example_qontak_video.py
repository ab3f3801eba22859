"""
Send a template with a VIDEO header and three body variables, given as a list (``{{1}}``, ``{{2}}``, ...).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from qontak_provider.operators.qontak import QontakSendDirectOperator

VIDEO_URL = (
    "https://cdn.qontak.com/uploads/direct/videos/60564c86-725e-429a-bffb-8168f3daac77/sample_video.mp4"
)

with DAG(
    dag_id="example_qontak_video",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "qontak"],
):
    # [START howto_operator_qontak_send_video]
    QontakSendDirectOperator(
        task_id="send_product_video",
        to_number="6281234567890",
        to_name="Valent",
        template_id="70332b74-e9bd-4829-bb31-c46924e7d3ff",  # product_video
        header_url=VIDEO_URL,  # the file name defaults to the URL's last segment, sample_video.mp4
        body=["Valent", "Qontak", "Qontak"],
    )
    # [END howto_operator_qontak_send_video]
