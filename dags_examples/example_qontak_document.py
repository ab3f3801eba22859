"""
Send a template with a DOCUMENT header, passing the documented request body verbatim (``payload=``).

The payload is the one from Qontak's documentation; the operator still validates it against its template
and normalises the number before sending. The channel could be left out of the payload: it then comes
from the connection's ``channel_integration_id`` extra.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from qontak_provider.operators.qontak import QontakSendDirectOperator

# [START howto_operator_qontak_send_payload]
INVOICE_PAYLOAD = {
    "to_name": "Test User",
    "to_number": "6281234567890",
    "message_template_id": "380d1355-0a65-4dc5-be82-308ee7619910",
    "channel_integration_id": "56b60c3c-0123-46af-958b-32f3ad12ee37",
    "language": {"code": "id"},
    "parameters": {
        "header": {
            "format": "DOCUMENT",
            "params": [
                {
                    "key": "url",
                    "value": "https://cdn.qontak.com/uploads/direct/files/"
                    "e20c3f02-8b23-4c2f-ae4b-3b7ec4f569d9/"
                    "akdhasidhasjkdhajsdhakjsdhaskjdhakjsdhakjsdhajkshdkjashdaksjdhakjsdahdsak.pdf",
                },
                {"key": "filename", "value": "sample.pdf"},
            ],
        },
        "body": [],
    },
}
# [END howto_operator_qontak_send_payload]

with DAG(
    dag_id="example_qontak_document",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "qontak"],
):
    # [START howto_operator_qontak_send_document]
    QontakSendDirectOperator(task_id="send_invoice_document", payload=INVOICE_PAYLOAD)
    # [END howto_operator_qontak_send_document]
