"""QontakNotifier inside real Airflow: ``airflow dags test`` runs a failing task and its callbacks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.airflow.conftest import TEST_DAGS, RunDag, assert_dag_ok, output_of
from tests.notifications.alert_template import ALERT_FIXTURES, ALERT_TEMPLATE_ID

pytestmark = pytest.mark.airflow

NUMBER = "6281234567890"  # "+62 812-3456-7890" in the DAGs


def _bodies(sends: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{p["key"]: p["value_text"] for p in s["body"]["parameters"]["body"]} for s in sends]


def test_failing_task_notifies_exactly_once(run_dag: RunDag, qontak_sandbox: Any) -> None:
    qontak_sandbox.load_fixtures(ALERT_FIXTURES)
    result = run_dag("test_notifier_task_failure", dags_folder=TEST_DAGS)
    assert result.returncode != 0, output_of(result)  # the task fails on purpose: the run fails
    sends = qontak_sandbox.sends()
    assert len(sends) == 1, output_of(result)
    assert sends[0]["to_number"] == NUMBER
    assert sends[0]["message_template_id"] == ALERT_TEMPLATE_ID
    body = _bodies(sends)[0]
    assert body["1"] == "explode"
    assert body["2"] == "test_notifier_task_failure"
    assert body["3"].startswith("manual__")
    assert body["4"] == "1"
    assert body["5"] == "kaboom on purpose - second line"  # one line: WhatsApp refuses new lines
    assert "/dags/test_notifier_task_failure/runs/manual__" in body["6"] and "/tasks/explode" in body["6"]
    # The phone number is masked in the task log, the secret never appears.
    output = result.stdout + result.stderr
    assert "Qontak notification sent to 62812*****890" in output
    assert NUMBER not in output
    assert qontak_sandbox.client_secret not in output


def test_failed_notification_does_not_hide_the_task_outcome(run_dag: RunDag, qontak_sandbox: Any) -> None:
    # The sandbox no longer knows the connection's credentials: the notifier fails, logs it, and the run is
    # still just "failed" because of the task, not because of the callback.
    qontak_sandbox.update_settings(credentials={"someone-else": "another-secret"})
    result = run_dag("test_notifier_task_failure", dags_folder=TEST_DAGS)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output_of(result)
    assert "kaboom on purpose" in output
    assert "Qontak notification could not be sent" in output, output_of(result)
    assert qontak_sandbox.sends() == []


def test_successful_run_sends_nothing(run_dag: RunDag, qontak_sandbox: Any) -> None:
    qontak_sandbox.load_fixtures(ALERT_FIXTURES)
    result = run_dag("example_qontak_failure_notification", conf={"fail": False})
    assert_dag_ok(result)
    assert qontak_sandbox.sends() == []


def test_example_dag_alerts_at_task_and_dag_level(run_dag: RunDag, qontak_sandbox: Any) -> None:
    qontak_sandbox.load_fixtures(ALERT_FIXTURES)
    result = run_dag("example_qontak_failure_notification")
    assert result.returncode != 0, output_of(result)  # fails on purpose by default
    bodies = _bodies(qontak_sandbox.sends())
    task_alerts = [b for b in bodies if b["1"] == "maybe_fail"]
    dag_alerts = [b for b in bodies if b["1"] == "(whole run)"]
    assert len(task_alerts) == 1, output_of(result)
    assert "Failing on purpose" in task_alerts[0]["5"]
    # DAG-level callbacks: see docs/howto/alerts.rst about apache/airflow#64649 under `airflow dags test`.
    assert len(dag_alerts) == 1, output_of(result)
    assert dag_alerts[0]["2"] == "example_qontak_failure_notification"
    assert len(bodies) == 2
