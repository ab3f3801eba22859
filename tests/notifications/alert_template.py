"""The recommended alert template of ``docs/howto/alerts.rst``, as a sandbox fixture for notifier tests."""

from __future__ import annotations

from typing import Any

ALERT_TEMPLATE_NAME = "airflow_task_alert"
ALERT_TEMPLATE_ID = "7b1c2f0e-5a43-4c1e-9a51-2b3c4d5e6f70"
ALERT_TEMPLATE: dict[str, Any] = {
    "id": ALERT_TEMPLATE_ID,
    "name": ALERT_TEMPLATE_NAME,
    "language": "en_US",
    "header": None,
    "body": (
        "Airflow alert: task {{1}} of DAG {{2}} failed (run {{3}}, try {{4}}). Error: {{5}}. Log: {{6}}"
    ),
    "footer": None,
    "buttons": [],
    "status": "APPROVED",
    "category": "UTILITY",
    "quality_rating": None,
    "quality_rating_text": "Neutral",
}
#: ``Sandbox.load_fixtures`` document adding the template to the seed.
ALERT_FIXTURES: dict[str, Any] = {"mode": "extend", "templates": [ALERT_TEMPLATE]}
