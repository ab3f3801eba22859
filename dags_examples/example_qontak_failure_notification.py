"""
Alert the on-call people on WhatsApp when a task or the whole run fails.

The task ``maybe_fail`` fails **on purpose** while the DAG param ``fail`` is true (the default), so that one
``airflow dags test example_qontak_failure_notification`` shows the alerts; that command therefore ends with
a failed run. Trigger it with ``{"fail": false}`` to see a successful run that sends nothing.

Two notifiers are attached:

* task level (``on_failure_callback`` of ``maybe_fail``): one message per number, naming the DAG, task, run,
  try, exception and log URL;
* DAG level (``on_failure_callback`` of the DAG): one message per number when the run as a whole fails.

Both use the template ``airflow_task_alert`` (``en_US``, six body placeholders) recommended in
``docs/howto/alerts.rst``; create and get it approved in Qontak first. A failure to notify is logged and never
changes the task's outcome.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from qontak_provider.notifications.qontak import DAG_FAILURE_BODY, TASK_FAILURE_BODY, QontakNotifier

#: Who gets the alerts; any common format works (numbers without country code use the connection's region).
ALERT_NUMBERS = ["+62 812-3456-7890"]
ALERT_TEMPLATE = "airflow_task_alert"

with DAG(
    dag_id="example_qontak_failure_notification",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "fail": Param(True, type="boolean", description="Fail the task on purpose to trigger the alerts.")
    },
    on_failure_callback=QontakNotifier(
        to_numbers=ALERT_NUMBERS,
        template_name=ALERT_TEMPLATE,
        language="en_US",
        body=DAG_FAILURE_BODY,
    ),
    tags=["example", "qontak"],
) as dag:

    @task(
        retries=0,
        on_failure_callback=QontakNotifier(
            to_numbers=ALERT_NUMBERS,
            template_name=ALERT_TEMPLATE,
            language="en_US",
            body=TASK_FAILURE_BODY,
        ),
    )
    def maybe_fail(params: dict | None = None) -> str:
        """Fail when the ``fail`` param is true, to demonstrate the alerts."""
        if params and params.get("fail"):
            raise RuntimeError("Failing on purpose (param fail=true) to demonstrate the Qontak alert.")
        return "ok"

    maybe_fail()
