"""Calling QontakNotifier directly, as the notifier guide shows: which context it needs."""

from __future__ import annotations

from types import SimpleNamespace

import pendulum
from airflow.sdk import DAG

from qontak_provider.notifications.qontak import TASK_FAILURE_BODY, QontakNotifier


def test_a_direct_call_needs_only_what_the_body_templates_use(qontak_sandbox):
    # TASK_FAILURE_BODY uses ti.task_id, dag.dag_id, run_id, ti.try_number, exception and ti.log_url;
    # "dag" also gives the notifier the DAG's Jinja environment. Nothing else is read from the context.
    context = {
        "dag": DAG(dag_id="billing", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")),
        "ti": SimpleNamespace(task_id="load", try_number=2, log_url="http://airflow.example/log"),
        "run_id": "manual__2026-05-01",
        "exception": ValueError("invoice 42 is missing"),
    }
    notifier = QontakNotifier(
        to_numbers="0812-3456-7890",
        template_name="airflow_task_alert",  # seeded in the sandbox; create and approve it in Qontak
        language="en_US",
        body=TASK_FAILURE_BODY,
    )
    notifier(context)  # renders the templated fields with the context, then sends; never raises
    (sent,) = qontak_sandbox.sends()
    values = [p["value_text"] for p in sent["body"]["parameters"]["body"]]
    assert values == [
        "load",
        "billing",
        "manual__2026-05-01",
        "2",
        "invoice 42 is missing",
        "http://airflow.example/log",
    ]


def test_a_body_without_templates_needs_no_context_at_all(qontak_sandbox):
    notifier = QontakNotifier(
        to_numbers=["+62 812 3456 7890"],
        template_name="airflow_task_alert",
        language="en_US",
        body=["nightly", "billing", "-", "-", "disk almost full", "-"],
    )
    notifier({})
    assert qontak_sandbox.counts() == {"6281234567890": 1}
