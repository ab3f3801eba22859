"""Unit tests of the pure delivery-tracking logic shared by the sensor and the trigger."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from qontak_provider.client.models import Broadcast, BroadcastLogEntry, BroadcastStatus, MessageStatusCount
from qontak_provider.client.tracking import (
    DeliveryTracker,
    GetBroadcast,
    GetLog,
    ListPage,
    TrackingOptions,
    is_settled,
    normalize_broadcast_ids,
    overall_status,
    parse_timestamp,
    poll_backoff,
    poll_steps,
    status_times,
    validate_ratio,
    validate_target_status,
)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def bc(bid: str, minutes: int = 0, **counts: int) -> Broadcast:
    created = (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    return Broadcast(id=bid, created_at=created, message_status_count=MessageStatusCount(**counts))


def row(status: str, number: str = "6281234567890", error: str = "n/a", **reached: int) -> BroadcastLogEntry:
    response: dict[str, Any] = {
        key: {"statuses": [{"status": key, "timestamp": str(ts)}]} for key, ts in reached.items()
    }
    return BroadcastLogEntry(
        status=status, contact_phone_number=number, whatsapp_error_message=error, messages_response=response
    )


def drive(tracker: DeliveryTracker, server: FakeServer, *, final_logs: bool = True) -> list[Any]:
    """Run one poll against an in-memory server; return the requests made."""
    steps = poll_steps(tracker, final_logs=final_logs)
    made: list[Any] = []
    reply: Any = None
    page = 0
    while True:
        try:
            request = steps.send(reply)
        except StopIteration:
            return made
        made.append(request)
        if isinstance(request, ListPage):
            page += 1
            reply = server.page(page)
        elif isinstance(request, GetBroadcast):
            reply = server.broadcasts.get(request.broadcast_id)
        else:
            reply = server.logs.get(request.broadcast_id, [])


class FakeServer:
    def __init__(self, broadcasts: list[Broadcast], page_size: int = 100) -> None:
        # newest first, like Qontak
        self.ordered = sorted(broadcasts, key=lambda b: b.created_at or "", reverse=True)
        self.broadcasts = {b.id: b for b in broadcasts}
        self.logs: dict[str, list[BroadcastLogEntry]] = {}
        self.page_size = page_size

    def page(self, number: int) -> list[Broadcast] | None:
        start = (number - 1) * self.page_size
        if start >= len(self.ordered):
            return None
        return self.ordered[start : start + self.page_size]


# ----------------------------------------------------------------------------------------------- ids


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("b1", ["b1"]),
        ("  b1 ", ["b1"]),
        (["b1", "b2", "b1"], ["b1", "b2"]),
        (("b1",), ["b1"]),
        ({"broadcast_id": "b1", "to_number": "x"}, ["b1"]),
        ([{"broadcast_id": "b1"}, {"broadcast_id": "b2"}], ["b1", "b2"]),
        ({"broadcast_ids": ["b1", "b2"], "failed": []}, ["b1", "b2"]),
        ({"id": "b9"}, ["b9"]),
        ([{"broadcast_ids": ["b1"]}, "b2", None], ["b1", "b2"]),
        ('["b1", "b2"]', ["b1", "b2"]),
        ('{"broadcast_id": "b1"}', ["b1"]),
        ("{'broadcast_id': 'b1'}", ["b1"]),
        ("[{'broadcast_id': 'b1'}, {'broadcast_id': 'b2'}]", ["b1", "b2"]),
        (iter(["b1"]), ["b1"]),
        ({"broadcast_id": None, "broadcast_ids": ["b3"]}, ["b3"]),
    ],
)
def test_normalize_broadcast_ids_accepts_every_shape(value: Any, expected: list[str]) -> None:
    assert normalize_broadcast_ids(value) == expected


@pytest.mark.parametrize(
    "value", [None, "", [], {"to_number": "1"}, 42, b"b1", "[not json", [[[[[[["deep"]]]]]]], [None]]
)
def test_normalize_broadcast_ids_rejects_unusable_input(value: Any) -> None:
    with pytest.raises(ValueError, match="broadcast_ids"):
        normalize_broadcast_ids(value)


def test_validators() -> None:
    assert validate_target_status(" READ ") == "read"
    assert validate_target_status("delivered") == "delivered"
    with pytest.raises(ValueError, match="target_status"):
        validate_target_status("sent")
    assert validate_ratio(0.5) == 0.5
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="max_failed_ratio"):
            validate_ratio(bad)


# ---------------------------------------------------------------------------------------- status rules


@pytest.mark.parametrize(
    ("counts", "delivered", "read", "status"),
    [
        (None, False, False, "pending"),
        ({}, False, False, "pending"),  # empty log: pending, not an error
        ({"pending": 1}, False, False, "pending"),
        ({"sent": 1}, False, False, "sent"),
        ({"delivered": 1}, True, False, "delivered"),
        ({"read": 1}, True, True, "read"),
        ({"failed": 1}, True, True, "failed"),
        ({"read": 1, "failed": 1}, True, True, "read"),
        ({"read": 1, "sent": 1}, False, False, "sent"),
        ({"delivered": 1, "read": 2}, True, False, "delivered"),
    ],
)
def test_settled_and_overall_status(
    counts: dict[str, int] | None, delivered: bool, read: bool, status: str
) -> None:
    model = None if counts is None else MessageStatusCount(**counts)
    assert is_settled(model, "delivered") is delivered
    assert is_settled(model, "read") is read
    assert overall_status(model).value == status


def test_parse_timestamp_shapes() -> None:
    assert parse_timestamp("1767225600") == T0
    assert parse_timestamp(1767225600) == T0
    assert parse_timestamp("2026-01-01T00:00:00.000Z") == T0
    assert parse_timestamp("2026-01-01T00:00:00") == T0
    for bad in (None, True, "", "soon", float("inf"), 1e30, [1]):
        assert parse_timestamp(bad) is None


def test_status_times_take_latest_per_status_and_ignore_garbage() -> None:
    entries = [
        row("read", sent=1767225600, delivered=1767225610, read=1767225620),
        row("delivered", sent=1767225605, delivered=1767225630),
        BroadcastLogEntry(status="pending", messages_response="garbage"),
        BroadcastLogEntry(status="sent", messages_response={"sent": {"statuses": "x"}, "read": [1]}),
    ]
    times = status_times(entries)
    assert times == {
        "sent": "2026-01-01T00:00:05Z",
        "delivered": "2026-01-01T00:00:30Z",
        "read": "2026-01-01T00:00:20Z",
        "failed": None,
    }


def test_backoff_doubles_is_capped_and_honours_reset() -> None:
    assert [poll_backoff(n, 2.0) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert poll_backoff(1, 0.01) == 1.0  # floor: never a hot loop
    assert poll_backoff(1, 0.01, floor=0.1) == pytest.approx(0.1)
    assert poll_backoff(50, 10.0) == 300.0
    assert poll_backoff(1, 2.0, reset_after=45) == 45.0
    assert poll_backoff(1, 2.0, reset_after=float("nan")) == 2.0
    assert poll_backoff(0, 2.0) == 2.0


# ---------------------------------------------------------------------------------------------- plans


def test_few_broadcasts_use_detail_then_log_at_the_end() -> None:
    server = FakeServer([bc("a", sent=1)])
    tracker = DeliveryTracker("a")
    assert drive(tracker, server) == [GetBroadcast("a")]
    assert tracker.outcome() == "pending"
    server.broadcasts["a"] = bc("a", delivered=1)
    server.logs["a"] = [row("delivered", sent=1767225600, delivered=1767225601)]
    assert drive(tracker, server) == [GetBroadcast("a"), GetLog("a")]
    assert tracker.outcome() == "success"
    summary = tracker.summary()
    assert summary["broadcasts"]["a"]["status_times"]["delivered"] == "2026-01-01T00:00:01Z"
    assert summary["outcome"] == "success"
    # settled broadcasts are not asked about again
    assert drive(tracker, server) == []


def test_final_logs_can_be_skipped() -> None:
    server = FakeServer([bc("a", delivered=1)])
    tracker = DeliveryTracker("a")
    assert drive(tracker, server, final_logs=False) == [GetBroadcast("a")]
    assert tracker.summary()["broadcasts"]["a"]["status_times"]["delivered"] is None


def test_many_broadcasts_use_the_list_and_stop_when_all_seen() -> None:
    broadcasts = [bc(f"b{i}", minutes=i, sent=1) for i in range(250)]
    server = FakeServer(broadcasts + [bc(f"other{i}", minutes=-1 - i) for i in range(300)])
    tracker = DeliveryTracker([b.id for b in broadcasts])
    made = drive(tracker, server)
    assert made == [ListPage()] * 3  # 250 tracked broadcasts are on the 3 newest pages
    assert tracker.outcome() == "pending"
    assert len(tracker.unsettled()) == 250


def test_list_scan_stops_past_the_oldest_tracked_broadcast() -> None:
    tracked = [bc(f"b{i}", minutes=1000 + i, sent=1) for i in range(10)]
    newer = [bc(f"n{i}", minutes=2000 + i) for i in range(150)]
    older = [bc(f"o{i}", minutes=i) for i in range(500)]
    server = FakeServer(tracked + newer + older)
    tracker = DeliveryTracker([b.id for b in tracked], options=TrackingOptions(max_list_pages=50))
    assert drive(tracker, server) == [ListPage()] * 2  # all found on page 2
    server.broadcasts.pop("b3")
    server.ordered = [b for b in server.ordered if b.id != "b3"]
    # now b3 is gone: with created_at known the scan stops at the page past it, then asks the detail
    made = drive(tracker, server)
    assert made == [ListPage(), ListPage(), GetBroadcast("b3")]
    assert tracker.outcome() == "failed"
    assert "b3" in tracker.failure_message() and "404" in tracker.failure_message()


def test_ids_missing_from_the_list_fall_back_to_detail_and_stay_there() -> None:
    deep = bc("deep", minutes=0, sent=1)
    tracked = [bc(f"b{i}", minutes=1000 + i, sent=1) for i in range(5)]
    newer = [bc(f"n{i}", minutes=2000 + i) for i in range(150)]
    middle = [bc(f"m{i}", minutes=500 + i) for i in range(300)]
    server = FakeServer([deep, *tracked, *newer, *middle])
    tracker = DeliveryTracker(["deep", *[b.id for b in tracked]], options=TrackingOptions(max_list_pages=2))
    made = drive(tracker, server)
    assert made == [ListPage(), ListPage(), GetBroadcast("deep")]  # the page budget held
    # known deep ids go straight to the detail endpoint; the scan only looks for the others
    assert tracker.broadcasts["deep"].use_detail
    assert tracker.status_plan() == (True, ["deep"])
    assert drive(tracker, server) == [ListPage(), ListPage(), GetBroadcast("deep")]
    for b in tracked:
        server.broadcasts[b.id] = bc(b.id, minutes=1000, delivered=1)
    server.ordered = []
    assert tracker.status_plan() == (True, ["deep"])


def test_list_exhausted_or_empty_page_ends_the_scan() -> None:
    tracked = [bc(f"b{i}", minutes=i, sent=1) for i in range(5)]
    server = FakeServer(tracked[:4])  # b4 is not in the list at all
    server.broadcasts["b4"] = tracked[4]
    tracker = DeliveryTracker([b.id for b in tracked])
    made = drive(tracker, server)
    assert made == [ListPage(), ListPage(), GetBroadcast("b4")]
    tracker2 = DeliveryTracker([b.id for b in tracked])
    server.page = lambda number: []  # type: ignore[method-assign]
    assert drive(tracker2, server)[:2] == [ListPage(), GetBroadcast("b0")]


def test_failure_fails_fast_with_error_text_and_masked_number() -> None:
    server = FakeServer([bc("ok", sent=1), bc("bad", failed=1)])
    server.logs["bad"] = [
        row("failed", number="6281100000001", error="(#131026) Message undeliverable", failed=5)
    ]
    tracker = DeliveryTracker(["ok", "bad"])
    made = drive(tracker, server)
    assert made == [GetBroadcast("ok"), GetBroadcast("bad"), GetLog("bad")]
    assert tracker.outcome() == "failed"
    message = tracker.failure_message()
    assert "(#131026) Message undeliverable" in message
    assert "62811*****001" in message and "6281100000001" not in message
    assert tracker.summary()["failed_ids"] == ["bad"]


def test_failure_without_error_text_and_many_failures() -> None:
    ids = [f"f{i}" for i in range(7)]
    server = FakeServer([bc(i, failed=1) for i in ids])
    tracker = DeliveryTracker(ids, options=TrackingOptions(detail_threshold=10))
    drive(tracker, server)  # logs are empty
    message = tracker.failure_message()
    assert "failed (no log details)" in message
    assert "(and 2 more)" in message
    server.logs["f0"] = [row("failed", error="n/a")]
    tracker.broadcasts["f0"].errors = []
    tracker.observe_log("f0", server.logs["f0"])
    assert tracker.broadcasts["f0"].errors[0]["error"].startswith("failed (WhatsApp gave no error text)")


def test_failures_within_the_ratio_are_reported_not_fatal() -> None:
    ids = ["a", "b", "c", "d"]
    server = FakeServer([bc("a", delivered=1), bc("b", read=1), bc("c", read=1), bc("d", failed=1)])
    server.logs["d"] = [row("failed", error="(#131026) Message undeliverable")]
    tracker = DeliveryTracker(ids, max_failed_ratio=0.25, options=TrackingOptions(max_log_requests=2))
    made = drive(tracker, server)
    assert tracker.outcome() == "success"
    logs = [m for m in made if isinstance(m, GetLog)]
    assert logs == [GetLog("d"), GetLog("a")]  # failed first, then times within the budget
    assert tracker.summary()["counts"] == {"pending": 0, "sent": 0, "delivered": 1, "read": 2, "failed": 1}
    assert tracker.summary_line() == "4 broadcast(s), target delivered: 1 delivered, 2 read, 1 failed"
    assert tracker.summary()["broadcasts"]["d"]["errors"][0]["error"] == "(#131026) Message undeliverable"
    strict = DeliveryTracker(ids, max_failed_ratio=0.2)
    drive(strict, server)
    assert strict.outcome() == "failed"


def test_unseen_broadcasts_count_in_the_failure_ratio() -> None:
    tracker = DeliveryTracker(["a", "b"], max_failed_ratio=0.5)
    tracker.observe(bc("a", failed=1))
    assert tracker.failed_ratio() == 0.5
    assert tracker.outcome() == "pending"


def test_target_read_waits_for_read_and_names_the_unread() -> None:
    server = FakeServer([bc("a", delivered=1), bc("b", read=1)])
    tracker = DeliveryTracker(["a", "b"], target_status="read")
    drive(tracker, server)
    assert tracker.unsettled() == ["a"]
    assert tracker.still_waiting_message() == "still unread: a"
    assert DeliveryTracker("x").still_waiting_message() == "still undelivered: x"
    assert tracker.summary("timeout")["outcome"] == "timeout"


def test_late_log_is_pending_not_an_error() -> None:
    server = FakeServer([bc("late")])  # counters all 0, log empty
    tracker = DeliveryTracker("late")
    drive(tracker, server)
    tracker.observe_log("late", [])
    assert tracker.outcome() == "pending"
    assert tracker.summary()["broadcasts"]["late"]["status"] == BroadcastStatus.PENDING.value
    assert not tracker.broadcasts["late"].log_read


def test_log_counts_override_and_untracked_broadcasts_are_ignored() -> None:
    tracker = DeliveryTracker("a")
    assert tracker.observe(bc("zzz", read=1)) is False
    tracker.observe_log("a", [row("read", read=1767225600)])
    assert tracker.outcome() == "success"
    assert tracker.broadcasts["a"].log_read
    assert tracker.logs_wanted(final=True) == []


def test_summary_is_json_serialisable() -> None:
    tracker = DeliveryTracker(["a", "b"])
    tracker.observe(bc("a", read=1))
    json.dumps(tracker.summary())
    assert tracker.summary()["unsettled_ids"] == ["b"]
    assert tracker.summary()["not_found_ids"] == []


def test_list_page_budget() -> None:
    assert TrackingOptions().list_page_budget(250) == 5
    assert TrackingOptions(max_list_pages=0).list_page_budget(250) == 1
