"""Shared helpers of the bulk benchmarks (sandbox in-process, engine without Airflow)."""

from __future__ import annotations

import logging
import time
from typing import Any

from qontak_provider.bulk.engine import BulkSender, MemoryStore
from qontak_provider.bulk.render import RowRenderer
from qontak_provider.client.sync import QontakClient

logging.getLogger("qontak_provider").setLevel(logging.ERROR)


def rows(n: int) -> list[dict[str, str]]:
    return [{"phone": f"0812{i:08d}", "name": f"Name {i}", "amount": str(i)} for i in range(n)]


def bulk(
    sandbox: Any, data: Any, *, rate: float, concurrency: int = 8, store: Any = None
) -> tuple[Any, float]:
    client = QontakClient(
        sandbox.client_id, sandbox.client_secret, base_url=sandbox.url, rate_per_minute=rate
    )
    template = client.find_template("payment_reminder", "id")
    renderer = RowRenderer(
        template,
        channel_integration_id=sandbox.channel_integration_id,
        body={"1": "{{ row.name }}", "2": "{{ row.amount }}", "3": "2025-01-31"},
    )
    sender = BulkSender(
        send=client.send_direct,
        prepare=renderer.prepare,
        store=store or MemoryStore(),
        max_concurrency=concurrency,
        progress_interval=3600,
    )
    started = time.perf_counter()
    with client:
        report = sender.run(data)
    return report, time.perf_counter() - started
