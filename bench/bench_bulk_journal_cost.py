"""What journalling every hand-over costs the bulk engine's throughput (one command, ~2.5 minutes).

Every row is stored as *handed over* before its request leaves (group commit: hand-overs that arrive while
the store is being written share the next write). Three stores take turns:

* no-op: the engine still tracks row states in memory, but every journal write is dropped;
* memory: the real journal (encoded and JSON round-tripped on every write, like ``task_state_store``);
* slow: the same with 50 ms per write, standing in for a ``task_state_store`` round trip to the API server.

1. **High rate**: 2,000 recipients, sandbox limit lifted, 25 ms latency, 32 in flight, 3 rotating rounds,
   medians compared. Goal: journalled throughput >= 95 % of the no-op one, and far fewer writes than rows.
2. **The documented rate** (60/min): 30 recipients, 8 in flight, no-op vs slow store. Goal: the achieved
   rate is the same (a 50 ms write per row fits in a 1 s pacing slot).
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


def main() -> None:
    stores: dict[str, Callable[[], Any]] = {"no-op": NoopStore, "memory": MemoryStore, "slow": SlowStore}
    rates: dict[str, list[float]] = {name: [] for name in stores}
    writes: dict[str, int] = {}
    with run_sandbox(clock="instant", rate_limit=0, latency_ms=25) as sb:
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
        paced = {}
        for name in ("no-op", "slow"):
            sb.reset()
            sb.update_settings(latency_ms=0)
            report, elapsed = bulk(sb, rows(PACED), rate=60, concurrency=8, store=stores[name]())
            assert report.counts["sent"] == PACED, report.counts
            paced[name] = ((PACED - 1) / elapsed * 60, report.journal_writes)
    for name in stores:
        runs = ", ".join(f"{r:.0f}" for r in rates[name])
        print(f"high rate, {name:7s} store: {N} rows, median {median(rates[name]):.1f} msg/s (runs: {runs})")
    base = median(rates["no-op"])
    for name in ("memory", "slow"):
        ratio = median(rates[name]) / base
        print(
            f"high rate, {name} / no-op throughput: {ratio:.3f} (goal >= 0.95; cost "
            f"{(1 - ratio) * 100:.1f} %), {writes[name]} journal writes for {N} rows "
            f"({writes[name] / N:.2f} per row)"
        )
    ratio = paced["slow"][0] / paced["no-op"][0]
    print(
        f"documented rate (60/min), {PACED} rows: no-op {paced['no-op'][0]:.1f}/min, slow store "
        f"{paced['slow'][0]:.1f}/min, ratio {ratio:.3f} (goal >= 0.99), {paced['slow'][1]} journal writes "
        f"({paced['slow'][1] / PACED:.2f} per row)"
    )


if __name__ == "__main__":
    main()
