"""
Send every customer with an unpaid invoice that invoice as a PDF, then wait until each message is delivered.

1. ``make_invoices`` writes one small PDF per unpaid invoice of ``data/customers_due.csv`` (in a real
   deployment your invoicing system makes them, or a library such as reportlab), and a recipients file
   that names each customer's PDF. Only that file's path goes through XCom: no phone number in the UI.
2. ``send_invoices`` sends the ``invoice_document`` template (a DOCUMENT header) to every row with
   ``header_file="{{ row.invoice_path }}"``: each PDF is checked (type, size, content) when its row is read,
   uploaded to Qontak right before that row's send, and attached under the invoice number. A retry never
   sends a row twice, and a PDF that fails to upload fails only its row.
3. ``wait_delivered`` waits, in the triggerer, until every invoice is delivered.

In production, write the files to object storage (``s3://bucket/invoices/{{ ds }}/...``): ``header_file``
takes those URLs too.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from qontak_provider.operators.bulk import QontakBulkSendOperator
from qontak_provider.sensors.qontak import QontakBroadcastSensor

CUSTOMERS_FILE = Path(__file__).parent / "data" / "customers_due.csv"


def invoice_pdf(lines: list[str]) -> bytes:
    """A one-page PDF showing ``lines`` (a stand-in for your invoicing system's document)."""
    text = (
        "BT /F1 14 Tf 72 760 Td 18 TL "
        + " ".join(
            "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '" for line in lines
        )
        + " ET"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text.encode("latin-1", "replace")),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


with DAG(
    dag_id="example_qontak_invoice_pdf",
    schedule="0 9 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Jakarta"),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["example", "qontak"],
):

    @task
    def make_invoices(run_id: str | None = None) -> str:
        """Write one PDF per unpaid invoice and a recipients file naming them; return the file's path."""
        import csv
        import tempfile

        safe_run = "".join(ch if ch.isalnum() else "_" for ch in (run_id or "manual"))
        folder = Path(tempfile.gettempdir()) / f"qontak_invoices_{safe_run}"
        folder.mkdir(parents=True, exist_ok=True)
        recipients = folder / "recipients.csv"
        count = 0
        with (
            CUSTOMERS_FILE.open(newline="", encoding="utf-8") as source,
            recipients.open("w", newline="") as out,
        ):
            writer = csv.DictWriter(out, ["invoice_no", "phone", "name", "invoice_path"])
            writer.writeheader()
            for row in csv.DictReader(source):
                if row["status"] != "unpaid":
                    continue
                amount = f"Rp{int(row['amount_idr']):,}".replace(",", ".")
                pdf = folder / f"{row['invoice_id']}.pdf"
                pdf.write_bytes(
                    invoice_pdf(
                        [
                            f"Invoice {row['invoice_id']}",
                            f"Customer: {row['customer_name']}",
                            f"Amount due: {amount}",
                            f"Due date: {row['due_date']}",
                        ]
                    )
                )
                writer.writerow(
                    {
                        "invoice_no": row["invoice_id"],
                        "phone": row["phone"],
                        "name": row["customer_name"],
                        "invoice_path": str(pdf),
                    }
                )
                count += 1
        print(f"{count} invoice(s) written to {folder}")
        return str(recipients)

    sent = QontakBulkSendOperator(
        task_id="send_invoices",
        recipients="{{ ti.xcom_pull(task_ids='make_invoices') }}",
        template_name="invoice_document",
        language="id",
        key_column="invoice_no",
        header_file="{{ row.invoice_path }}",
        header_filename="{{ row.invoice_no }}.pdf",
    )
    make_invoices() >> sent

    wait_delivered = QontakBroadcastSensor(
        task_id="wait_delivered",
        broadcast_ids=sent.output,
        target_status="delivered",
        deferrable=True,
        poke_interval=1,
        timeout=600,
    )

    @task
    def report(summary: dict) -> None:
        print(f"INVOICE REPORT {summary['outcome']}: {summary['counts']}")

    report(wait_delivered.output)
