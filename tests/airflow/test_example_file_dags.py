"""The invoice-PDF example under ``airflow dags test``: a PDF per customer, uploaded once, sent once each."""

from __future__ import annotations

from typing import Any

from tests.airflow.conftest import assert_dag_ok, output_of

UNPAID = {  # data/customers_due.csv: every unpaid invoice, by normalised number
    "6281234567001": "INV-2026-0001",
    "6281234567002": "INV-2026-0002",
    "6281234567004": "INV-2026-0004",
    "6281234567005": "INV-2099-0005",
}


def test_each_customer_gets_their_own_invoice_once(run_dag: Any, qontak_sandbox: Any) -> None:
    qontak_sandbox.update_settings(rate_limit=0)
    result = run_dag("example_qontak_invoice_pdf")
    assert_dag_ok(result)
    output = result.stdout + result.stderr
    assert qontak_sandbox.counts() == dict.fromkeys(UNPAID, 1), output_of(result)
    uploads = {upload["url"]: upload for upload in qontak_sandbox.uploads()}
    assert len(uploads) == len(UNPAID)  # one upload per file, none repeated
    assert len({u["sha256"] for u in uploads.values()}) == len(UNPAID)
    for send in qontak_sandbox.sends():
        header = {p["key"]: p["value"] for p in send["body"]["parameters"]["header"]["params"]}
        invoice = UNPAID[send["to_number"]]
        upload = uploads[header["url"]]  # the message points at a file the uploader took
        assert header["filename"] == f"{invoice}.pdf" == upload["filename"]
        assert upload["data"].startswith(b"%PDF-1.4") and f"Invoice {invoice}".encode() in upload["data"]
    assert "INVOICE REPORT success" in output, output_of(result)
    assert "6281234567001" not in output  # numbers stay masked in the logs
