"""Test-only DAG for ``test_bulk_sigkill.py``: a plain bulk send that the test kills with SIGKILL.

Nothing here simulates a crash: the operator is the shipped :class:`QontakBulkSendOperator`, and the test
kills its OS process (and, in one case, its supervisor) under a real scheduler, then lets Airflow retry it.

300 distinct, valid Indonesian mobile numbers (``62812`` + 8 digits), template ``payment_reminder``
(three body placeholders), 8 requests in flight at most, one retry after 1 s. ``params.results_dir``
names a directory for the per-try result tables (``<run_id>.<try>.csv``); empty means none.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from qontak_provider.operators.bulk import QontakBulkSendOperator

DAG_ID = "bulk_sigkill"
TASK_ID = "bulk"
PAYMENT_REMINDER_ID = "f18e84b3-8bcb-536d-81e9-e2d5ab7f7fd8"
MAX_CONCURRENCY = 8
N_RECIPIENTS = 300

#: ``customer_id`` -> ``phone``; the test maps sandbox counts and result rows back to recipients with it.
RECIPIENTS = [
    {
        "customer_id": f"C{i:03d}",
        "name": f"Customer {i}",
        "phone": f"62812{10_000_000 + 7_919 * i:08d}",
        "amount": f"Rp {(i + 1) * 1_000}",
    }
    for i in range(N_RECIPIENTS)
]

with DAG(DAG_ID, schedule=None, catchup=False, params={"results_dir": ""}) as dag:
    QontakBulkSendOperator(
        task_id=TASK_ID,
        recipients=RECIPIENTS,
        template_id=PAYMENT_REMINDER_ID,
        body={"1": "{{ row.name }}", "2": "{{ row.amount }}", "3": "2025-01-31"},
        key_column="customer_id",
        max_concurrency=MAX_CONCURRENCY,
        results_path=(
            "{% if params.results_dir %}{{ params.results_dir }}/{{ run_id }}.{{ ti.try_number }}.csv"
            "{% endif %}"
        ),
        retries=1,
        retry_delay=timedelta(seconds=1),
    )
