"""A send whose first try fails after Qontak accepted it: the retry returns that broadcast, sends nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from qontak_provider.operators.qontak import QontakSendDirectOperator


class SendThenFail(QontakSendDirectOperator):
    """Fails its first try right after the send, as a worker lost at that moment would."""

    def execute(self, context: Any) -> dict[str, Any]:
        result = super().execute(context)
        if context["ti"].try_number == 1:
            raise RuntimeError("smoke: the first try fails after Qontak accepted the send")
        return result


with DAG(
    dag_id="smoke_retry_safety",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
):
    send = SendThenFail(
        task_id="send",
        to_number="6281234567890",
        to_name="Budi Santoso",
        template_id="d3e1083c-66ea-410b-b807-1d84182ffa82",  # song_recommendation
        body={"1": "Budi", "2": "Bohemian Rhapsody"},
        retries=1,
        retry_delay=timedelta(seconds=0),
    )

    @task
    def check(result: dict[str, Any]) -> None:
        assert result["reused"] is True, result
        print(f"SMOKE retry-safety: try 2 reused broadcast {result['broadcast_id']}")

    check(send.output)
