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
    ListUnavailable,
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
        ({"broadcast_id": None, "broadcast_ids": ["b3"]}, ["b3"]),
    ],
)
def test_normalize_broadcast_ids_accepts_every_shape(value: Any, expected: list[str]) -> None:
    assert normalize_broadcast_ids(value) == expected


def test_normalize_broadcast_ids_accepts_a_one_shot_iterator() -> None:
    # Made here, not in the parameters above: an iterator there is used up by the first run of the module
    # in a process (mutmut runs the suite twice in one process).
    assert normalize_broadcast_ids(iter(["b1", "b2"])) == ["b1", "b2"]


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
    assert overall_status(model) == status


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


# ------------------------------------------------------------------- the list is an accelerator, not truth


def ids_of(n: int, prefix: str = "b") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def test_an_unavailable_list_switches_to_details_for_the_rest_of_the_run() -> None:
    server = FakeServer([bc(bid, minutes=i, sent=1) for i, bid in enumerate(ids_of(5))])
    server.page = lambda number: ListUnavailable("HTTP 404 on GET /broadcasts/whatsapp")  # type: ignore[method-assign,assignment,return-value]
    tracker = DeliveryTracker(ids_of(5))
    made = drive(tracker, server)
    assert made == [ListPage(), *[GetBroadcast(bid) for bid in ids_of(5)]]
    notices = tracker.take_notices()
    assert len(notices) == 1 and "not available" in notices[0] and "HTTP 404" in notices[0]
    assert tracker.take_notices() == []  # said once
    assert tracker.summary()["list_unavailable"] == "HTTP 404 on GET /broadcasts/whatsapp"
    # the list is never asked again; the broadcasts are read one by one
    assert ListPage() not in drive(tracker, server)
    for bid in ids_of(5):
        server.broadcasts[bid] = bc(bid, read=1)
    for _ in range(3):  # unchanged broadcasts back off one poll before they are read again
        drive(tracker, server)
    assert tracker.outcome() == "success"


def test_use_list_false_never_asks_the_list() -> None:
    server = FakeServer([bc(bid, sent=1) for bid in ids_of(5)])
    tracker = DeliveryTracker(ids_of(5), options=TrackingOptions(use_list=False))
    assert drive(tracker, server) == [GetBroadcast(bid) for bid in ids_of(5)]


def test_all_zero_list_counts_are_confirmed_by_detail_and_then_read_there() -> None:
    """The spec's only ``done`` broadcast in the list shows all zeros: that is no information."""
    ids = ids_of(5)
    server = FakeServer([bc(bid, minutes=i) for i, bid in enumerate(ids)])  # list: all zero
    details = {bid: bc(bid, minutes=i, read=1) for i, bid in enumerate(ids)}
    server.broadcasts = details
    tracker = DeliveryTracker(ids, target_status="read", options=TrackingOptions(max_log_requests=0))
    made = drive(tracker, server)
    assert made == [ListPage(), *[GetBroadcast(bid) for bid in ids]]
    assert tracker.outcome() == "success"  # not "pending forever"
    assert all(tracker.broadcasts[bid].source == "detail" for bid in ids)


def test_stale_list_and_stale_detail_are_settled_by_the_log() -> None:
    ids = ids_of(4)
    listed = [bc(bid, minutes=i) for i, bid in enumerate(ids)]
    server = FakeServer(listed)  # list and detail: all zero
    for bid in ids:
        server.logs[bid] = [row("read", read=1767225600)]
    tracker = DeliveryTracker(ids, target_status="read")
    made = drive(tracker, server)
    # each broadcast's detail, then its log; after three such proofs the detail is not asked any more
    b0, b1, b2, b3 = ids
    assert made == [
        ListPage(),
        *[GetBroadcast(b0), GetLog(b0)],
        *[GetBroadcast(b1), GetLog(b1)],
        *[GetBroadcast(b2), GetLog(b2)],
        GetLog(b3),
    ]
    assert tracker.outcome() == "success"
    assert all(tracker.broadcasts[bid].source == "log" for bid in ids)
    assert tracker.detail_stale and tracker.list_unavailable  # both endpoints proved stale
    notices = tracker.take_notices()
    assert any("detail" in n and "carry no information" in n for n in notices)
    assert any("broadcast list" in n and "carry no information" in n for n in notices)


def test_a_stale_list_is_given_up_after_three_proofs_and_not_scanned_again() -> None:
    ids = ids_of(10)
    server = FakeServer([bc(bid, minutes=i) for i, bid in enumerate(ids)])  # list: all zero
    server.broadcasts = {bid: bc(bid, minutes=i, sent=1) for i, bid in enumerate(ids)}
    tracker = DeliveryTracker(ids)
    first = drive(tracker, server)
    assert first == [ListPage(), *[GetBroadcast(bid) for bid in ids]]
    assert tracker.list_unavailable and "no information" in tracker.list_unavailable
    assert ListPage() not in drive(tracker, server)  # read one by one from now on


def test_a_stale_detail_on_a_pending_broadcast_reads_the_log_but_does_not_stick_while_it_is_empty() -> None:
    server = FakeServer([bc("a")])  # detail all zero, log not filled yet
    tracker = DeliveryTracker("a")
    assert drive(tracker, server) == [GetBroadcast("a"), GetLog("a")]
    assert tracker.broadcasts["a"].source == "list" and tracker.outcome() == "pending"
    server.logs["a"] = [row("sent")]
    assert drive(tracker, server) == [GetBroadcast("a"), GetLog("a")]
    assert tracker.broadcasts["a"].source == "log"
    assert drive(tracker, server) == [GetLog("a")]  # from now on the log directly


def test_counts_that_do_not_add_up_to_the_recipients_are_confirmed_by_the_log() -> None:
    server = FakeServer([bc("a", read=2)])  # a direct send has one recipient
    server.logs["a"] = [row("delivered")]
    tracker = DeliveryTracker("a", target_status="read")
    assert drive(tracker, server) == [GetBroadcast("a"), GetLog("a")]
    assert tracker.outcome() == "pending"  # the log says delivered, not read
    assert tracker.broadcasts["a"].status() == "delivered"


def test_a_multi_recipient_broadcast_has_no_assumed_recipient_count() -> None:
    many = Broadcast(id="m", contact_list_id="list-1", message_status_count=MessageStatusCount(read=3))
    tracker = DeliveryTracker("m", target_status="read")
    tracker.observe(many)
    assert tracker.outcome() == "success"


def test_an_unknown_status_word_is_reported_by_name_and_never_settles() -> None:
    server = FakeServer([bc("a")])
    server.logs["a"] = [row("queued")]
    tracker = DeliveryTracker(["a", "b"])
    server.broadcasts["b"] = bc("b", read=1)
    drive(tracker, server)
    assert tracker.outcome() == "pending"
    assert tracker.unsettled() == ["a"]
    summary = tracker.summary()
    assert summary["counts"]["queued"] == 1 and summary["unknown_statuses"] == {"queued": 1}
    assert summary["broadcasts"]["a"]["status"] == "queued"
    assert summary["broadcasts"]["a"]["unknown_statuses"] == {"queued": 1}
    assert "1 queued (unknown status)" in tracker.summary_line()
    assert "a: status 'queued', unknown to this provider" in tracker.still_waiting_message()
    notices = tracker.take_notices()
    assert len(notices) == 1 and "'queued'" in notices[0]
    drive(tracker, server)
    assert tracker.take_notices() == []  # warned once


def test_an_unknown_counter_in_message_status_count_is_not_settled() -> None:
    counts = MessageStatusCount.model_validate({"read": 0, "todo": 1})
    assert not is_settled(counts, "read") and overall_status(counts) == "todo"
    tracker = DeliveryTracker("x")
    tracker.observe(Broadcast(id="x", message_status_count=counts))
    assert tracker.unsettled() == ["x"] and tracker.take_notices()


def test_one_by_one_reads_back_off_per_broadcast_while_nothing_changes() -> None:
    ids = ids_of(6)
    server = FakeServer([bc(bid, sent=1) for bid in ids])
    tracker = DeliveryTracker(ids, options=TrackingOptions(use_list=False, max_backoff_polls=4))
    reads = [len(drive(tracker, server)) for _ in range(14)]
    # poll 1 learns, poll 2 sees no change; then 1, 2, 4, 4 polls are skipped between reads
    assert reads == [6, 6, 0, 6, 0, 0, 6, 0, 0, 0, 0, 6, 0, 0]
    server.broadcasts["b0"] = bc("b0", delivered=1)
    assert [len(drive(tracker, server)) for _ in range(3)] == [0, 0, 6]  # b0 waits for its next turn
    assert "b0" not in tracker.unsettled()
    assert len(drive(tracker, server)) == 0 and tracker.broadcasts["b1"].backoff == 4


def test_a_change_resets_the_backoff_and_few_broadcasts_never_back_off() -> None:
    tracker = DeliveryTracker(ids_of(6))
    tracker.polls = 1
    tracker.after_single_read("b0", False)
    tracker.after_single_read("b0", False)
    assert tracker.broadcasts["b0"].backoff == 2
    tracker.after_single_read("b0", True)
    assert tracker.broadcasts["b0"].backoff == 0 and tracker.broadcasts["b0"].due == 2
    few = FakeServer([bc(bid, sent=1) for bid in ids_of(3)])
    small = DeliveryTracker(ids_of(3))
    assert [len(drive(small, few)) for _ in range(5)] == [3] * 5  # at the detail threshold: every poll


def test_a_list_in_the_wrong_order_disables_the_early_stop() -> None:
    """``order_direction=desc`` is asked, not assumed: an ascending list must not end the scan early."""
    tracked = [bc(f"b{i}", minutes=1000 + i, sent=1) for i in range(10)]
    older = [bc(f"o{i}", minutes=i) for i in range(150)]
    server = FakeServer(tracked + older)
    server.ordered = sorted(server.ordered, key=lambda b: b.created_at or "")  # oldest first
    tracker = DeliveryTracker([b.id for b in tracked], options=TrackingOptions(max_list_pages=5))
    tracker.broadcasts["b0"].created_at = parse_timestamp(tracked[0].created_at)
    made = drive(tracker, server)
    assert made == [ListPage(), ListPage()]  # page 1 is all older: a newest-first scan would stop there
    assert tracker.unsettled() == [b.id for b in tracked] and not tracker.broadcasts["b0"].use_detail
