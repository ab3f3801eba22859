"""
Every morning at 08:00 Jakarta time, remind each customer whose invoice is due within three days.

The customers come from ``data/customers_due.csv`` (in a real deployment: a database query), read inside a
task at run time, never while the DAG file is parsed. The task writes the day's reminders to a file and
passes on only its path: XCom is shown in the Airflow UI, and customers' phone numbers do not belong there.
:class:`~qontak_provider.operators.bulk.QontakBulkSendOperator` streams that file, sends each reminder once
(a retry never sends one twice; the same customer listed twice gets one message), and reports per row.

The ``payment_reminder`` template (seeded in the sandbox) reads
"Halo {{1}}, tagihan Anda sebesar {{2}} jatuh tempo pada {{3}}. ...".
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from qontak_provider.operators.bulk import QontakBulkSendOperator

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
    def due_reminders(run_id: str | None = None, data_interval_end: pendulum.DateTime | None = None) -> str:
        """Write the unpaid invoices due on or before the run day + 3 days to a file; return its path."""
        import csv
        import tempfile

        today = (data_interval_end or pendulum.now("Asia/Jakarta")).in_timezone("Asia/Jakarta").date()
        horizon = today + timedelta(days=REMIND_DAYS_AHEAD)
        # In production: an object store path (s3://...), one file per run. The path is all XCom carries.
        safe_run = "".join(ch if ch.isalnum() else "_" for ch in (run_id or "manual"))
        path = Path(tempfile.gettempdir()) / f"qontak_invoice_reminders_{safe_run}.csv"
        count = 0
        with CUSTOMERS_FILE.open(newline="", encoding="utf-8") as source, path.open("w", newline="") as out:
            writer = csv.DictWriter(out, ["customer_id", "phone", "name", "amount", "due_date"])
            writer.writeheader()
            for row in csv.DictReader(source):
                due = pendulum.parse(row["due_date"]).date()
                if row["status"] != "unpaid" or due > horizon:
                    continue
                writer.writerow(
                    {
                        "customer_id": row["invoice_id"],
                        "phone": row["phone"],
                        "name": row["customer_name"],
                        "amount": f"Rp{int(row['amount_idr']):,}".replace(",", "."),
                        "due_date": due.strftime("%d-%m-%Y"),
                    }
                )
                count += 1
        print(f"{count} invoice reminder(s) to send for {today}")
        return str(path)

    sent = QontakBulkSendOperator(
        task_id="send_reminders",
        recipients="{{ ti.xcom_pull(task_ids='due_reminders') }}",
        template_name="payment_reminder",
        language="id",
        key_column="customer_id",
        body={"1": "{{ row.name }}", "2": "{{ row.amount }}", "3": "{{ row.due_date }}"},
    )
    due_reminders() >> sent

    @task(trigger_rule="all_done")
    def report(result: dict[str, Any] | None) -> dict[str, int]:
        """Summarise what went out: counts and broadcast ids only, never a phone number."""
        result = result or {}
        summary = {
            "sent": result.get("sent", 0),
            "already_sent_by_an_earlier_try": result.get("skipped_already_sent", 0),
        }
        for broadcast_id in result.get("broadcast_ids", []):
            print(f"reminder broadcast {broadcast_id}")
        print(f"REMINDER REPORT {summary}")
        return summary

    report(sent.output)
