"""Test-only DAG: a send whose task fails AFTER Qontak accepted the message, then retries.

* ``send_then_fail``: the worker "fails" right after the send on try 1 (the result is lost); try 2 must
  return the recorded broadcast without sending again.
* ``send_then_fail_mapped``: the same for each mapped instance (records are scoped by map index).
* ``crash_before_record``: try 1 "crashes" between Qontak accepting and the broadcast id being recorded, so
  only the attempt is on record (in doubt); with ``on_send_in_doubt="reconcile"`` try 2 finds the broadcast
  in Qontak's list and adopts it instead of sending again.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import dag, task

from qontak_provider.operators.qontak import QontakSendDirectOperator


class _CrashOnSentRecord:
    """A task_state_store that dies when the broadcast id is about to be recorded."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def get(self, key: str, default: Any = None) -> Any:
        return self._store.get(key, default)

    def set(self, key: str, value: Any, **kwargs: Any) -> None:
        if isinstance(value, dict) and value.get("state") == "sent":
            raise RuntimeError("simulated worker crash before the broadcast id was recorded")
        self._store.set(key, value, **kwargs)

    def delete(self, key: str) -> None:
        self._store.delete(key)


class FailAfterSendOperator(QontakSendDirectOperator):
    """Fails on its first try after the send, like a worker lost right after Qontak answered."""

    def execute(self, context: Any) -> dict[str, Any]:
        try_number = context["ti"].try_number
        result = super().execute(context)
        print(f"RETRY_SEND try={try_number} map_index={context['ti'].map_index} result={json.dumps(result)}")
        if try_number == 1:
            raise RuntimeError("simulated failure after the send")
        return result


class CrashBeforeRecordOperator(QontakSendDirectOperator):
    def execute(self, context: Any) -> dict[str, Any]:
        if context["ti"].try_number == 1:
            context["task_state_store"] = _CrashOnSentRecord(context["task_state_store"])
        result = super().execute(context)
        print(f"RETRY_SEND try={context['ti'].try_number} map_index=-2 result={json.dumps(result)}")
        return result


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def retry_send_dag() -> None:
    retry = {"retries": 1, "retry_delay": timedelta(seconds=0)}
    song = {"template_id": "d3e1083c-66ea-410b-b807-1d84182ffa82", "body": ["Budi", "lagu nusantara"]}

    single = FailAfterSendOperator(
        task_id="send_then_fail", to_number="0812-3456-7101", to_name="Budi", **song, **retry
    )
    mapped = FailAfterSendOperator.partial(
        task_id="send_then_fail_mapped", to_name="Budi", **song, **retry
    ).expand(to_number=["0812-3456-7102", "0812-3456-7103"])
    crash = CrashBeforeRecordOperator(
        task_id="crash_before_record",
        to_number="0812-3456-7104",
        to_name="Budi",
        on_send_in_doubt="reconcile",
        **song,
        **retry,
    )

    @task
    def check(single: dict[str, Any], mapped: list[dict[str, Any]], crash: dict[str, Any]) -> None:
        results = [single, *mapped, crash]
        assert all(r["reused"] for r in results), results
        print(f"RETRY_CHECK {json.dumps(results)}")

    check(single.output, mapped.output, crash.output)


retry_send_dag()
