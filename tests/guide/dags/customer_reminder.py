"""A DAG as a user writes it: remind each customer with an unpaid invoice, then wait until they read it."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from qontak_provider.operators.bulk import QontakBulkSendOperator
from qontak_provider.sensors.qontak import QontakBroadcastSensor

CUSTOMERS = [
    {"id": "C001", "phone": "0812-3456-7001", "name": "Budi", "amount": "Rp 250.000"},
    {"id": "C002", "phone": "+62 812 3456 7002", "name": "Sari", "amount": "Rp 90.000"},
]

with DAG(
    dag_id="customer_reminder",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"customers": CUSTOMERS},  # a test (or a manual run) can pass other customers
    render_template_as_native_obj=True,  # so that the rendered params stay a list of dicts
):
    remind = QontakBulkSendOperator(
        task_id="remind",
        recipients="{{ params.customers }}",
        key_column="id",
        template_name="payment_reminder",
        body={"1": "{{ row.name }}", "2": "{{ row.amount }}", "3": "31 Januari 2026"},
    )
    QontakBroadcastSensor(
        task_id="wait_read",
        broadcast_ids=remind.output,
        target_status="read",
        deferrable=True,
        poke_interval=1,
        timeout=120,
    )
