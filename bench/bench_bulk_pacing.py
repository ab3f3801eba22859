"""Pacing and adaptation of the bulk engine against the sandbox (one command, ~1 minute per run).

1. pacing: client 594/min, server 600/min, 250 rows:
   achieved / configured rate (goal >= 0.97), 429s (goal 0).
2. adaptation: client 600/min, server 300/min (window 10 s), the sandbox's keep-alive timeout (5 s) shorter
   than the 429 resets the client waits out: all sent, none failed, none in doubt, no duplicate, time /
   ideal (goal <= 1.15); ideal = fastest schedule both limits allow.

``--runs N`` repeats both N times (no fault is injected: every row in doubt would be a false doubt).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bulk_common import bulk, rows

from qontak_provider.sandbox import run_sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    doubts = duplicates = 0
    for run in range(1, args.runs + 1):
        print(f"run {run} of {args.runs}")
        in_doubt, twice = one_run()
        doubts += in_doubt
        duplicates += twice
    print(f"all {args.runs} run(s): {doubts} row(s) in doubt, {duplicates} duplicate(s) (goal 0 and 0)")


def one_run() -> tuple[int, int]:
    """Both measurements once; return the rows in doubt and the duplicates the sandbox saw."""
    with run_sandbox(clock="instant", rate_limit=100, rate_limit_window_seconds=10) as sb:
        n = 250
        # 1% below the server's limit: network jitter can bunch two evenly spaced sends into one window.
        report, elapsed = bulk(sb, rows(n), rate=594)
        stats = sb.stats()
        four29 = sum(v for k, v in str_items(stats) if "429" in k)
        achieved = (n - 1) / elapsed * 60  # n sends span n-1 intervals
        doubts = report.counts["in_doubt"]
        duplicates = sum(c - 1 for c in sb.counts().values())
        print(
            f"  pacing: {n} rows at 594/min (server 600/min): {elapsed:.1f} s, achieved {achieved:.0f}/min, "
            f"ratio {achieved / 594:.3f} (goal >= 0.97), 429s {four29} (goal 0), "
            f"sent {report.counts['sent']}, in doubt {doubts}, duplicates {duplicates}"
        )
        sb.reset()
        sb.update_settings(rate_limit=50, rate_limit_window_seconds=10)  # 300/min
        n = 200
        report, elapsed = bulk(sb, rows(n), rate=600)
        # The fastest schedule both limits allow: sends at the client's 600/min, and send k no sooner than
        # 10 s after send k-50 (sliding window). The first 50 cannot "go at once" at 600/min, so the old
        # ideal (n - 50) / 300 * 60 = 30 s was below what any client at 600/min can reach (34.9 s).
        ideal = sliding_window_ideal(n, client_rate=600, limit=50, window=10.0)
        stats = sb.stats()
        four29 = sum(v for k, v in str_items(stats) if "429" in k)
        in_doubt = report.counts["in_doubt"]
        twice = sum(c - 1 for c in sb.counts().values())
        print(
            f"  adaptation: {n} rows, client 600/min, server 300/min: {elapsed:.1f} s, ideal {ideal:.1f} s, "
            f"ratio {elapsed / ideal:.3f} (goal <= 1.15), sent {report.counts['sent']}, "
            f"failed {report.counts['failed']}, 429s {four29}, in doubt {in_doubt}, duplicates {twice}, "
            f"connections reset {sb.stats()['by_status'].get('reset', 0)}"
        )
    return doubts + in_doubt, duplicates + twice


def sliding_window_ideal(n: int, *, client_rate: float, limit: int, window: float) -> float:
    """Start of the last of ``n`` sends in the fastest schedule a client at ``client_rate``/min may use
    against a server allowing ``limit`` sends per sliding ``window`` seconds."""
    starts: list[float] = []
    for k in range(n):
        t = k * 60.0 / client_rate
        if k >= limit:
            t = max(t, starts[k - limit] + window)
        starts.append(t)
    return starts[-1]


def str_items(tree, prefix=""):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from str_items(v, f"{prefix}/{k}")
    elif isinstance(tree, int):
        yield prefix, tree


if __name__ == "__main__":
    main()
