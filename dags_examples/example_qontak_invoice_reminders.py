"""
Every morning at 08:00 Jakarta time, remind each customer whose invoice is due within three days.

The customers come from ``data/customers_due.csv`` (in a real deployment: a database query), read inside a
task at run time, never while the DAG file is parsed. Each reminder is its own mapped task instance of
:class:`~qontak_provider.operators.qontak.QontakSendDirectOperator`, so one bad row fails only its own
instance, a retry never sends a reminder twice, and the report lists what went out.

The ``payment_reminder`` template (seeded in the sandbox) reads
"Halo {{1}}, tagihan Anda sebesar {{2}} jatuh tempo pada {{3}}. ...".
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from qontak_provider.operators.qontak import QontakSendDirectOperator

CUSTOMERS_FILE = Path(__file__).parent / "data" / "customers_due.csv"
REMIND_DAYS_AHEAD = 3

with DAG(
    dag_id="example_qontak_invoice_reminders",
    schedule="0 8 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Jakarta"),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["example", "qontak"],
):

    @task
    def customers_due(data_interval_end: pendulum.DateTime | None = None) -> list[dict[str, Any]]:
        """Unpaid invoices due on or before the run day + 3 days (overdue ones included)."""
        import csv

        today = (data_interval_end or pendulum.now("Asia/Jakarta")).in_timezone("Asia/Jakarta").date()
        horizon = today + timedelta(days=REMIND_DAYS_AHEAD)
        reminders = []
        with CUSTOMERS_FILE.open(newline="", encoding="utf-8") as rows:
            for row in csv.DictReader(rows):
                due = pendulum.parse(row["due_date"]).date()
                if row["status"] != "unpaid" or due > horizon:
                    continue
                amount = f"Rp{int(row['amount_idr']):,}".replace(",", ".")
                reminders.append(
                    {
                        "to_number": row["phone"],
                        "to_name": row["customer_name"],
                        "body": {"1": row["customer_name"], "2": amount, "3": due.strftime("%d-%m-%Y")},
                    }
                )
        print(f"{len(reminders)} invoice reminder(s) to send for {today}")
        return reminders

    sent = QontakSendDirectOperator.partial(
        task_id="send_reminder",
        template_name="payment_reminder",
        language="id",
        # A timeout after Qontak received the request: look the broadcast up instead of guessing.
        on_send_in_doubt="reconcile",
        map_index_template="{{ task.to_name }}",
    ).expand_kwargs(customers_due())

    @task(trigger_rule="all_done")
    def report(results: list[dict[str, Any]]) -> dict[str, int]:
        """Summarise what went out (a failed row is missing here and visible as a failed map index)."""
        results = [r for r in results if r]
        summary = {
            "sent": sum(1 for r in results if not r["reused"]),
            "already_sent_by_an_earlier_try": sum(1 for r in results if r["reused"]),
        }
        for result in results:
            print(f"reminder broadcast {result['broadcast_id']} created_at {result['created_at']}")
        print(f"REMINDER REPORT {summary}")
        return summary

    report(sent.output)
