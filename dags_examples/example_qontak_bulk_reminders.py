"""
Send a payment reminder to every customer of a CSV file, exactly once, with a per-row result table.

The file is streamed (it could be ``s3://...`` through an ``ObjectStoragePath``); each row fills the
``payment_reminder`` template's three placeholders; invalid numbers are reported and skipped; progress is
journalled in ``task_state_store`` so a retry never sends a reminder twice. The second task prints the
counts an upstream XCom carries (e.g. to feed a delivery sensor with ``broadcast_ids``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow.sdk import DAG, ObjectStoragePath, task

from qontak_provider.operators.bulk import QontakBulkSendOperator

DATA = Path(__file__).resolve().parent / "data"

with DAG(
    dag_id="example_qontak_bulk_reminders",
    schedule=None,
    catchup=False,
    tags=["qontak", "example"],
    # One pool slot per Qontak account keeps several DAGs from sharing (and exceeding) one rate limit.
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
) as dag:
    # [START howto_operator_qontak_bulk_send]
    send = QontakBulkSendOperator(
        task_id="send_reminders",
        recipients=ObjectStoragePath(f"file://{DATA / 'payment_reminders.csv'}"),
        template_name="payment_reminder",
        language="id",
        key_column="customer_id",
        body={"1": "{{ row.name }}", "2": "{{ row.amount }}", "3": "{{ row.due_date }}"},
        results_path="/tmp/qontak_bulk_reminders_{{ run_id | replace(':', '_') | replace('+', '_') }}.csv",  # noqa: S108 - a demo
        max_invalid_ratio=0.05,
    )
    # [END howto_operator_qontak_bulk_send]

    @task
    def summarize(result: dict) -> dict:
        print(
            f"sent {result['sent']}, invalid {result['invalid']}, failed {result['failed']}, "
            f"in doubt {result['in_doubt']}; table: {result['results_path']}"
        )
        return {k: result[k] for k in ("sent", "invalid", "failed", "in_doubt")}

    summarize(send.output)
