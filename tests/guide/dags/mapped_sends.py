"""One mapped task instance per recipient: ``expand`` over numbers, ``expand_kwargs`` over upstream rows."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, task

from qontak_provider.operators.qontak import QontakSendDirectOperator

with DAG(
    dag_id="mapped_sends",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
):
    # [START howto_operator_qontak_send_expand]
    QontakSendDirectOperator.partial(
        task_id="send",
        template_id="d3e1083c-66ea-410b-b807-1d84182ffa82",  # song_recommendation
        to_name="Pelanggan",
        body=["Pelanggan", "lagu nusantara"],
    ).expand(to_number=["0812-3456-7001", "0812-3456-7002"])
    # [END howto_operator_qontak_send_expand]

    @task
    def customers_due() -> list[dict]:
        """In a real DAG: a query. Each dict holds the arguments of one send."""
        return [
            {"to_number": "0812-3456-7003", "to_name": "Budi", "body": ["Budi", "Rp 250.000", "31 Januari"]},
            {"to_number": "0812-3456-7004", "to_name": "Sari", "body": ["Sari", "Rp 90.000", "31 Januari"]},
        ]

    # [START howto_operator_qontak_send_expand_kwargs]
    QontakSendDirectOperator.partial(
        task_id="send_reminder",
        template_name="payment_reminder",
        language="id",
    ).expand_kwargs(customers_due())  # [{"to_number": ..., "to_name": ..., "body": [...]}, ...]
    # [END howto_operator_qontak_send_expand_kwargs]
