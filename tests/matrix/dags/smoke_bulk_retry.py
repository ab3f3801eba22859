"""A bulk send whose first try fails after every row was sent: the retry must find them all in the journal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from qontak_provider.operators.bulk import QontakBulkSendOperator

ROWS = [{"phone": f"62812000000{i:02d}", "name": f"Customer {i}"} for i in range(5)]


class BulkThenFail(QontakBulkSendOperator):
    """Fails its first try after the whole run, as a worker lost right then would."""

    def execute(self, context: Any) -> dict[str, Any]:
        result = super().execute(context)
        if context["ti"].try_number == 1:
            raise RuntimeError("smoke: the first try fails after every row was sent")
        return result


with DAG(
    dag_id="smoke_bulk_retry",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
):
    bulk = BulkThenFail(
        task_id="bulk",
        recipients=ROWS,
        number_column="phone",
        name_column="name",
        template_id="d3e1083c-66ea-410b-b807-1d84182ffa82",  # song_recommendation
        body={"1": "{{ row.name }}", "2": "Bohemian Rhapsody"},
        retries=1,
        retry_delay=timedelta(seconds=0),
    )

    @task
    def check(result: dict[str, Any]) -> None:
        assert result["skipped_already_sent"] == 5, result
        assert result["sent"] == 0, result
        print("SMOKE bulk-retry: try 2 skipped 5 rows already sent")

    check(bulk.output)
