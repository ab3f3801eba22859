"""
Send a template with an IMAGE header.

The header format comes from the template; only the public ``https://`` URL (and optionally a file name)
is given. A dry run first renders and validates the message without sending it.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from qontak_provider.operators.qontak import QontakSendDirectOperator

IMAGE_URL = "https://cdn.qontak.com/uploads/direct/images/d0295a8b-4164-490e-b250-67222f7e6884/Gojo_copy.jpeg"

with DAG(
    dag_id="example_qontak_image",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "qontak"],
):
    # [START howto_operator_qontak_send_image]
    common = {
        "to_number": "6281234567890",
        "to_name": "Test User",
        "template_name": "promo_image",
        "header_url": IMAGE_URL,
        "header_filename": "Gojo_copy.jpeg",
    }
    check = QontakSendDirectOperator(task_id="check_promo", dry_run=True, **common)
    send = QontakSendDirectOperator(task_id="send_promo", **common)
    check >> send
    # [END howto_operator_qontak_send_image]
