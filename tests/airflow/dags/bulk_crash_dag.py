"""Test-only DAGs: a bulk send whose first try dies part-way, then is retried by ``airflow dags test``.

``bulk_crash_raise``: try 1 raises after ``crash_after`` sends (an exception: the engine stops cleanly).
``bulk_crash_kill``: try 1 freezes the journal store after ``crash_after`` sends and then dies, so the
journal is what a worker killed at that instant would have left: results since the last write are lost,
rows in flight are handed over without a result, and no further row can leave (a frozen store refuses the
next hand-over). ``airflow dags test`` runs tasks in-process, so a real ``os._exit`` would end the whole run
instead of letting Airflow retry it; ``test_bulk_sigkill.py`` kills a real task process under a real
scheduler.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG

from qontak_provider.operators.bulk import QontakBulkSendOperator


class _FrozenStore:
    """Wraps task_state_store; once frozen, nothing more is stored (as if the process had died)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.frozen = False

    def get(self, key: str, default: Any = None) -> Any:
        return self.inner.get(key, default)

    def set(self, key: str, value: Any) -> None:
        if self.frozen:  # a dead process writes nothing, and sends nothing it has not journalled
            raise RuntimeError("the worker is dead")
        self.inner.set(key, value)


class CrashingBulkSendOperator(QontakBulkSendOperator):
    """Dies on try 1 after ``crash_after`` sent rows; behaves normally on later tries."""

    def __init__(self, *, crash_after: int, mode: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.crash_after = crash_after
        self.mode = mode
        self._sent = 0
        self._try = 1
        self._frozen: _FrozenStore | None = None

    def execute(self, context: Any) -> Any:
        self._try = int(context["ti"].try_number)
        return super().execute(context)

    def _store(self, context: Any) -> Any:
        self._frozen = _FrozenStore(super()._store(context))
        return self._frozen

    def on_row_result(self, result: Any) -> None:
        if self._try != 1 or result.outcome != "sent":
            return
        self._sent += 1
        if self._sent == self.crash_after:
            if self.mode == "kill" and self._frozen is not None:
                self._frozen.frozen = True
            raise RuntimeError(f"injected crash after {self.crash_after} sends")


def _dag(dag_id: str, mode: str, *, resend_unconfirmed: bool = False) -> DAG:
    with DAG(dag_id, schedule=None, catchup=False, params={"path": "", "crash_after": 40}) as dag:
        CrashingBulkSendOperator(
            task_id="bulk",
            recipients="{{ params.path }}",
            template_name="payment_reminder",
            language="id",
            body={"1": "{{ row.name }}", "2": "{{ row.amount }}", "3": "2025-01-31"},
            key_column="customer_id",
            results_path="{{ params.path }}.results.{{ ti.try_number }}.csv",
            crash_after=40,
            mode=mode,
            max_concurrency=4,
            rate_per_minute=0,
            resend_unconfirmed=resend_unconfirmed,
            fail_on_in_doubt=False,  # the test reads the in-doubt rows from the results table
            checkpoint_interval=0.2,
            retries=1,
            retry_delay=timedelta(seconds=0),
        )
    return dag


bulk_crash_raise = _dag("bulk_crash_raise", "raise")
bulk_crash_kill = _dag("bulk_crash_kill", "kill")
bulk_crash_kill_resend = _dag("bulk_crash_kill_resend", "kill", resend_unconfirmed=True)
