"""Fault soak: 2,000 recipients with 5xx before/after processing, dropped connections and 429s (~1 min).

Goal: zero duplicates (the sandbox's per-recipient counts) and every row with a final outcome, then a second
try (same journal) that sends only the rows that provably never reached the sandbox.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bulk_common import bulk, rows

from qontak_provider.bulk.engine import MemoryStore
from qontak_provider.sandbox import run_sandbox


def main() -> None:
    with run_sandbox(
        clock="instant",
        rate_limit=400,
        rate_limit_window_seconds=2,
        fail_before=0.03,
        fail_after=0.03,
        drop=0.03,
        seed=11,
    ) as sb:
        data = rows(2000)
        store = MemoryStore()
        report, elapsed = bulk(sb, data, rate=0, concurrency=16, store=store)
        counts = sb.counts()
        print(
            f"try 1: {elapsed:.1f} s, outcomes {dict(report.counts)}, rows with outcome "
            f"{sum(report.counts.values())} of 2000, resend pending {report.resend_pending}"
        )
        sb.update_settings(fail_before=0, fail_after=0, drop=0)
        second, _ = bulk(sb, data, rate=0, concurrency=16, store=store)
        counts = sb.counts()
        print(f"try 2: outcomes {dict(second.counts)}")
        print(
            f"duplicates: {sum(c - 1 for c in counts.values())} (goal 0); recipients reached {len(counts)}; "
            f"in doubt (reported, not repeated) {second.counts['in_doubt']}"
        )


if __name__ == "__main__":
    main()
