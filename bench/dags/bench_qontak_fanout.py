"""Bench-only DAGs: the same recipients sent through ``expand()`` and through the bulk operator.

``bench/bench_bulk_vs_expand.py`` runs both under ``airflow dags test``; the recipient count comes from the
``QONTAK_BENCH_N`` environment variable, read at parse time (bench-only: example DAGs never do this).
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import dag

from qontak_provider.operators.bulk import QontakBulkSendOperator
from qontak_provider.operators.qontak import QontakSendDirectOperator

N = int(os.environ.get("QONTAK_BENCH_N", "50"))
NUMBERS = [f"0812{i:08d}" for i in range(N)]
BODY = {"1": "Pelanggan", "2": "Rp 100.000", "3": "2026-12-01"}
START = pendulum.datetime(2026, 1, 1, tz="UTC")


@dag(schedule=None, start_date=START, catchup=False)
def bench_qontak_expand() -> None:
    QontakSendDirectOperator.partial(
        task_id="send", template_name="payment_reminder", language="id", to_name="Pelanggan", body=BODY
    ).expand(to_number=NUMBERS)


@dag(schedule=None, start_date=START, catchup=False)
def bench_qontak_bulk() -> None:
    QontakBulkSendOperator(
        task_id="send",
        recipients=[{"phone": number, "name": "Pelanggan"} for number in NUMBERS],
        template_name="payment_reminder",
        language="id",
        number_column="phone",
        name_column="name",
        body=BODY,
    )


bench_qontak_expand()
bench_qontak_bulk()
