"""How many API requests does waiting for 1,000 broadcasts cost? The sensor's plan vs. the naive one.

For each way the broadcast list can behave on a real account (the sandbox's ``broadcast_list`` and
``broadcast_detail`` variants), it starts the sandbox in-process (``rate_limit=0``), sends 1,000 messages
through the sync client, then polls them until all are delivered with three strategies, in lockstep on the
same sandbox clock:

* **sensor**: :func:`qontak_provider.client.tracking.poll_steps`, exactly what ``QontakBroadcastSensor`` and
  its trigger run (list pages for many broadcasts, details for few or when the list is absent or stale,
  logs when the detail is stale too, logs at the end for failures and times);
* **naive**: one ``GET /broadcasts/{id}/whatsapp/log`` per broadcast per poll;
* **naive, skipping settled**: the same, but a broadcast is no longer polled once its log says delivered.

The list variants: **live** (counts in the list), **stale** (the list shows all-zero counts, as the spec's
only example of a ``done`` broadcast does; details are live), **stale list and detail** (only the log is
right), **absent** (the list answers 404). Each runs twice: polling as often as statuses change (poke
interval = status step), and polling four times as often (most polls find nothing new, which is where the
per-broadcast backoff pays). The sandbox clock is moved forward by one poke interval between polls
(``Sandbox.advance``), so every strategy sees the same statuses at each poll. Requests are counted with the
sandbox's ``/_sandbox/stats``.

Run: ``.venv/bin/python bench/bench_sensor_requests.py [--broadcasts 1000] [--step 30]``
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from typing import Any

from qontak_provider.client.models import BroadcastStatus
from qontak_provider.client.sync import QontakClient
from qontak_provider.client.tracking import DeliveryTracker, drive_sync, poll_steps
from qontak_provider.sandbox import run_sandbox

TEMPLATE_ID = "d3e1083c-66ea-410b-b807-1d84182ffa82"  # song_recommendation, two body variables
VARIANTS: dict[str, dict[str, str]] = {
    "list live": {"broadcast_list": "live", "broadcast_detail": "live"},
    "list stale": {"broadcast_list": "stale", "broadcast_detail": "live"},
    "list and detail stale": {"broadcast_list": "stale", "broadcast_detail": "stale"},
    "list absent (404)": {"broadcast_list": "absent", "broadcast_detail": "live"},
}


def payload(channel: str, index: int) -> dict[str, object]:
    return {
        "to_number": f"62812{index:08d}",
        "to_name": f"Customer {index}",
        "message_template_id": TEMPLATE_ID,
        "channel_integration_id": channel,
        "language": {"code": "id"},
        "parameters": {
            "body": [
                {"key": "1", "value_text": f"Customer {index}", "value": "name"},
                {"key": "2", "value_text": "Bohemian Rhapsody", "value": "song"},
            ]
        },
    }


def run_variant(settings: dict[str, str], broadcasts: int, step: float, interval: float) -> dict[str, Any]:
    """Send ``broadcasts`` messages and wait for them three ways; return requests and polls per strategy."""
    with run_sandbox(rate_limit=0, step_seconds=step, **settings) as sandbox:
        client = QontakClient(
            sandbox.client_id, sandbox.client_secret, base_url=sandbox.url, rate_per_minute=0
        )
        ids = [client.send_direct(payload(sandbox.channel_integration_id, i)).id for i in range(broadcasts)]

        tracker = DeliveryTracker(ids)
        naive_done: set[str] = set()
        totals = {"sensor": 0, "naive": 0, "naive_skip": 0}
        polls = {"sensor": 0, "naive": 0, "naive_skip": 0}
        naive_finished = skip_finished = False

        def counted(action: Callable[..., Any], *args: Any) -> tuple[Any, int]:
            """Run ``action`` and return its result and the API requests the sandbox saw meanwhile."""
            before = sandbox.stats()["total"]
            result = action(*args)
            return result, int(sandbox.stats()["total"] - before)

        def naive_poll(skip_settled: bool) -> bool:
            settled = 0
            for bid in ids:
                if skip_settled and bid in naive_done:
                    settled += 1
                    continue
                entries = client.get_broadcast_log(bid)
                if entries and all(
                    e.broadcast_status.rank >= BroadcastStatus.DELIVERED.rank for e in entries
                ):
                    settled += 1
                    if skip_settled:
                        naive_done.add(bid)
            return settled == len(ids)

        for _tick in range(1000):
            if tracker.outcome() == "pending":
                _, made = counted(drive_sync, poll_steps(tracker), client)
                totals["sensor"] += made
                polls["sensor"] += 1
            if not naive_finished:
                naive_finished, made = counted(naive_poll, False)
                totals["naive"] += made
                polls["naive"] += 1
            if not skip_finished:
                skip_finished, made = counted(naive_poll, True)
                totals["naive_skip"] += made
                polls["naive_skip"] += 1
            if tracker.outcome() != "pending" and naive_finished and skip_finished:
                break
            sandbox.advance(interval)
        client.close()
    assert tracker.outcome() == "success", tracker.summary_line()
    return {"totals": totals, "polls": polls, "notices": tracker.take_notices()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broadcasts", type=int, default=1000)
    parser.add_argument("--step", type=float, default=30.0, help="sandbox seconds per status step")
    args = parser.parse_args()
    logging.getLogger("qontak_provider").setLevel(logging.ERROR)  # one log line per send is noise here

    for interval in (args.step, args.step / 4):
        print(
            f"\n{args.broadcasts} broadcasts to 'delivered', sandbox step {args.step:g} s, poke interval "
            f"{interval:g} s; API requests until every broadcast settled (polls)"
        )
        header = (
            f"{'broadcast list':<24} {'sensor':>14} {'naive':>14} {'naive-skip':>14} {'naive/sensor':>13}"
        )
        print(header)
        print("-" * len(header))
        for name, settings in VARIANTS.items():
            started = time.perf_counter()
            result = run_variant(settings, args.broadcasts, args.step, interval)
            totals, polls = result["totals"], result["polls"]
            cells = [f"{totals[k]:>6} ({polls[k]:>3})" for k in ("sensor", "naive", "naive_skip")]
            ratio = totals["naive"] / max(1, totals["sensor"])
            print(
                f"{name:<24} {cells[0]:>14} {cells[1]:>14} {cells[2]:>14} {ratio:>12.1f}x"
                f"   [{time.perf_counter() - started:.0f} s]"
            )


if __name__ == "__main__":
    main()
