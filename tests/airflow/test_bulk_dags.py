"""Real Airflow runs of the bulk operator: the example DAG, and a retry after a crash (exactly once).

``airflow dags test`` in 3.3.2 honours ``retries`` (its loop reschedules UP_FOR_RETRY task instances once
``retry_delay`` has passed) and serves ``task_state_store`` through the in-process execution API, scoped to
(dag_id, run_id, task_id, map_index), so a second try reads what the first one wrote.
"""

from __future__ import annotations

import csv
import re

import pytest

from .conftest import TEST_DAGS, assert_dag_ok, output_of

pytestmark = pytest.mark.airflow


def write_recipients(path, n=120):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "name", "phone", "amount"])
        for i in range(n):
            writer.writerow([f"C{i:04d}", f"Name {i}", f"+62 812 3{i:07d}", f"Rp {i * 1000}"])


@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant")
def test_example_bulk_dag_sends_each_valid_row_once(qontak_sandbox, run_dag):
    env = {"AIRFLOW_CONN_QONTAK_DEFAULT": qontak_sandbox.conn_json(rate_per_minute=600)}
    result = run_dag("example_qontak_bulk_reminders", env=env)
    assert_dag_ok(result)
    counts = qontak_sandbox.counts()
    assert len(counts) == 35 and set(counts.values()) == {1}, output_of(result)
    assert "sent 35, invalid 1" in result.stdout + result.stderr
    row_lines = [line for line in (result.stdout + result.stderr).splitlines() if "Row CUST" in line]
    assert row_lines and not any(re.search(r"\d{10,}", line) for line in row_lines)  # masked numbers


@pytest.mark.parametrize(
    ("dag_id", "exactly_once"),
    [("bulk_crash_raise", True), ("bulk_crash_kill_resend", True), ("bulk_crash_kill", False)],
)
@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant")
def test_retry_after_crash_sends_each_recipient_once(qontak_sandbox, run_dag, tmp_path, dag_id, exactly_once):
    path = tmp_path / "recipients.csv"
    write_recipients(path)
    result = run_dag(dag_id, conf={"path": str(path)}, dags_folder=TEST_DAGS)
    assert_dag_ok(result)
    out = result.stdout + result.stderr
    died = "injected crash after 40 sends" if dag_id == "bulk_crash_raise" else "the worker is dead"
    assert died in out and "Resuming bulk send" in out, output_of(result)
    counts = qontak_sandbox.counts()
    assert max(counts.values()) == 1, output_of(result)  # never twice
    results = list(csv.DictReader((tmp_path / "recipients.csv.results.2.csv").open()))
    assert len(results) == 120
    outcomes = {r["outcome"] for r in results}
    if exactly_once:
        assert len(counts) == 120
        assert outcomes <= {"sent", "skipped_already_sent"}
    else:
        # Without resend_unconfirmed, rows handed over but never confirmed are reported, not sent blindly;
        # at most the rows in flight (max_concurrency=4) can be in that state.
        in_doubt = [r for r in results if r["outcome"] == "in_doubt"]
        assert len(counts) + len(in_doubt) == 120 and len(in_doubt) <= 4
