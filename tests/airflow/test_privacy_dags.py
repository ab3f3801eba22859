"""Private by default: what the Airflow UI shows of a run carries no phone number and no OTP code.

The UI's *Rendered Template* view and *XCom* tab read the metadata database; so does this test, after a real
``airflow dags test`` of the example DAGs against the sandbox.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.airflow.conftest import assert_dag_ok, output_of

pytestmark = [pytest.mark.airflow, pytest.mark.integration]


def shown_by_the_ui(airflow_home: Path, dag_id: str) -> str:
    """Every rendered template field and every XCom value of ``dag_id``'s runs, as one text."""
    with sqlite3.connect(airflow_home / "airflow.db") as db:
        rendered = db.execute(
            "SELECT rendered_fields FROM rendered_task_instance_fields WHERE dag_id = ?", (dag_id,)
        ).fetchall()
        xcoms = db.execute("SELECT value FROM xcom WHERE dag_id = ?", (dag_id,)).fetchall()
    assert rendered, f"no rendered fields stored for {dag_id}"
    return json.dumps([row[0] for row in rendered]) + json.dumps([str(row[0]) for row in xcoms])


def test_an_otp_run_shows_neither_the_code_nor_the_number(run_dag, qontak_sandbox, airflow_home):
    conf = {"to_number": "0812-9876-5432", "code": "481516"}
    result = run_dag("example_qontak_otp", conf=conf)
    assert_dag_ok(result)
    (sent,) = qontak_sandbox.sends()
    assert sent["body"]["parameters"]["body"][0]["value_text"] == "481516"  # the customer got the code
    shown = shown_by_the_ui(airflow_home, "example_qontak_otp")
    assert "481516" not in shown and "***" in shown
    assert "6281298765432" not in shown and "0812-9876-5432" not in shown
    assert "62812*****432" in shown  # masked, as in the logs


def test_a_reminder_run_keeps_customers_numbers_out_of_xcom_and_rendered_fields(
    run_dag, qontak_sandbox, airflow_home
):
    result = run_dag("example_qontak_invoice_reminders")
    assert_dag_ok(result)
    assert len(qontak_sandbox.counts()) == 3, output_of(result)
    shown = shown_by_the_ui(airflow_home, "example_qontak_invoice_reminders")
    for number in qontak_sandbox.counts():
        assert number not in shown and number[-4:] + '"' not in shown
    assert "3456-7001" not in shown and "Budi Santoso" not in shown  # no raw rows either


def test_the_quickstart_result_masks_the_number(run_dag, qontak_sandbox, airflow_home):
    result = run_dag("example_qontak_quickstart", timeout=240)
    assert_dag_ok(result)
    shown = shown_by_the_ui(airflow_home, "example_qontak_quickstart")
    assert "6281234567890" not in shown and "62812*****890" in shown
