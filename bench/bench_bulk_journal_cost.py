"""What journalling every hand-over costs the bulk engine's throughput (one command, ~2.5 minutes).

Every row is stored as *handed over* before its request leaves (group commit: hand-overs that arrive while
the store is being written share the next write). Three stores take turns:

* no-op: the engine still tracks row states in memory, but every journal write is dropped;
* memory: the real journal (encoded and JSON round-tripped on every write, like ``task_state_store``);
* slow: the same with 50 ms per write, standing in for a ``task_state_store`` round trip to the API server.

1. **The documented rate** (60/min): 30 recipients, 8 in flight, no-op vs slow store. Goal: the achieved
   rate is the same (a 50 ms write per row fits in a 1 s pacing slot).
2. **The highest rate the connection form allows** (6,000/min, 100 per second): 1,000 recipients, 25 ms
   latency, 32 in flight, no-op vs slow store. Goal: >= 95 % of the no-op rate, far fewer writes than rows.
3. **No pacing at all**: 2,000 recipients, 25 ms latency, 32 in flight, three stores in 3 rotating rounds
   (medians). What the hand-over costs when nothing else limits the rate (no goal: no Qontak account
   sends this fast).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bulk_common import bulk, rows

from qontak_provider.bulk.engine import MemoryStore
from qontak_provider.sandbox import run_sandbox

N = 2000
ROUNDS = 3
PACED = 30


class NoopStore:
    """Drops every write: the baseline without journalling I/O."""

    def get(self, key: str, default: Any = None) -> Any:
        return default

    def set(self, key: str, value: Any) -> None:
        pass


class SlowStore(MemoryStore):
    """:class:`MemoryStore` plus a fixed delay per write (an API round trip)."""

    def set(self, key: str, value: Any) -> None:
        time.sleep(0.05)
        super().set(key, value)


def paced(sb: Any, store: Callable[[], Any], n: int, rate: float, concurrency: int) -> tuple[float, int]:
    """Achieved sends per minute and journal writes of one paced run."""
    sb.reset()
    report, elapsed = bulk(sb, rows(n), rate=rate, concurrency=concurrency, store=store())
    assert report.counts["sent"] == n, report.counts
    return (n - 1) / elapsed * 60, report.journal_writes


def main() -> None:
    stores: dict[str, Callable[[], Any]] = {"no-op": NoopStore, "memory": MemoryStore, "slow": SlowStore}
    rates: dict[str, list[float]] = {name: [] for name in stores}
    writes: dict[str, int] = {}
    with run_sandbox(clock="instant", rate_limit=0) as sb:
        documented = {name: paced(sb, stores[name], PACED, 60, 8) for name in ("no-op", "slow")}
        sb.update_settings(latency_ms=25)
        top = {name: paced(sb, stores[name], 1000, 6000, 32) for name in ("no-op", "slow")}
        # Warm-up run (connections, caches), not counted.
        bulk(sb, rows(200), rate=0, concurrency=32, store=NoopStore())
        # Single runs differ by +-10 % on a 2-core machine, so the stores take turns (rotating order)
        # and the median of the rounds is compared.
        names = list(stores)
        for round_ in range(ROUNDS):
            for name in names[round_ % 3 :] + names[: round_ % 3]:
                sb.reset()
                report, elapsed = bulk(sb, rows(N), rate=0, concurrency=32, store=stores[name]())
                assert report.counts["sent"] == N, report.counts
                rates[name].append(N / elapsed)
                writes[name] = report.journal_writes
    for label, result, n, goal in (
        ("documented rate (60/min)", documented, PACED, 0.99),
        ("form's highest rate (6000/min)", top, 1000, 0.95),
    ):
        ratio = result["slow"][0] / result["no-op"][0]
        print(
            f"{label}, {n} rows: no-op {result['no-op'][0]:.1f}/min, 50 ms store "
            f"{result['slow'][0]:.1f}/min, ratio {ratio:.3f} (goal >= {goal}), "
            f"{result['slow'][1]} journal writes ({result['slow'][1] / n:.2f} per row)"
        )
    for name in stores:
        runs = ", ".join(f"{r:.0f}" for r in rates[name])
        print(f"no pacing, {name:7s} store: {N} rows, median {median(rates[name]):.1f} msg/s (runs: {runs})")
    base = median(rates["no-op"])
    for name in ("memory", "slow"):
        ratio = median(rates[name]) / base
        print(
            f"no pacing, {name} / no-op throughput: {ratio:.3f} (cost {(1 - ratio) * 100:.1f} %), "
            f"{writes[name]} journal writes for {N} rows ({writes[name] / N:.2f} per row)"
        )


if __name__ == "__main__":
    main()
