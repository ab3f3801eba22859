"""The engine over real loopback sockets against the sandbox: faults, 429s, exactly-once."""

from __future__ import annotations

import time

import pytest

from qontak_provider.bulk.engine import BulkSender, MemoryStore
from qontak_provider.bulk.render import RowRenderer
from qontak_provider.client.policy import RetryPolicy
from qontak_provider.client.sync import QontakClient

pytestmark = pytest.mark.integration


def rows(n):
    return [{"phone": f"0812{i:08d}", "name": f"Name {i}", "amount": str(i)} for i in range(n)]


def run(sandbox, data, *, rate=0.0, store=None, **kw):
    client = QontakClient(
        sandbox.client_id,
        sandbox.client_secret,
        base_url=sandbox.url,
        rate_per_minute=rate,
        retry_policy=RetryPolicy(base_delay=0.01, max_delay=0.05, jitter=False),
    )
    template = client.find_template("payment_reminder", "id")
    renderer = RowRenderer(
        template,
        channel_integration_id=sandbox.channel_integration_id,
        body={"1": "{{ row.name }}", "2": "{{ row.amount }}", "3": "2025-01-31"},
    )
    store = store or MemoryStore()
    with client:
        return BulkSender(
            send=client.send_direct,
            prepare=renderer.prepare,
            store=store,
            max_concurrency=8,
            checkpoint_interval=0.5,
            **kw,
        ).run(data), store


@pytest.mark.qontak_sandbox(
    rate_limit=0, clock="instant", fail_before=0.05, fail_after=0.05, drop=0.05, seed=3
)
def test_small_fault_soak_no_duplicates_every_row_final(qontak_sandbox):
    data = rows(200)
    report, store = run(qontak_sandbox, data)
    counts = qontak_sandbox.counts()
    assert max(counts.values()) == 1
    total = sum(report.counts.values())
    assert total == 200
    assert report.counts["in_doubt"] > 0  # fail_after / drops happened and were reported, not repeated
    # A retry sends only the rows that provably never reached the sandbox, still once each.
    qontak_sandbox.update_settings(fail_before=0, fail_after=0, drop=0)
    second, _ = run(qontak_sandbox, data, store=store, try_number=2)
    assert max(qontak_sandbox.counts().values()) == 1
    assert second.resend_pending == 0
    assert second.counts["sent"] + second.counts["skipped_already_sent"] + second.counts["in_doubt"] == 200


@pytest.mark.qontak_sandbox(rate_limit=5, rate_limit_window_seconds=1, clock="instant")
def test_429_slows_down_without_losing_or_duplicating(qontak_sandbox):
    started = time.monotonic()
    report, _ = run(qontak_sandbox, rows(15), rate=600)  # client asks 10/s, server allows 5/s
    assert report.counts["sent"] == 15 and report.counts["failed"] == 0
    assert sorted(qontak_sandbox.counts().values()) == [1] * 15
    assert time.monotonic() - started >= 1.5
