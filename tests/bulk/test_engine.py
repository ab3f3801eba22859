from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from qontak_provider.bulk.engine import (
    BulkSender,
    MemoryStore,
    classify_send_error,
    format_duration,
    format_progress,
)
from qontak_provider.bulk.journal import decode_journal
from qontak_provider.bulk.render import RowRenderer
from qontak_provider.client.errors import (
    QontakAuthenticationError,
    QontakError,
    QontakNotFoundError,
    QontakPayloadError,
    QontakRateLimitError,
    QontakSendInDoubtError,
    QontakTransportError,
    QontakValidationError,
)

from .conftest import CHANNEL, seed_template

ROWS = [{"phone": f"0812{i:08d}", "name": f"n{i}", "k": f"K{i}"} for i in range(60)]


def make_renderer():
    return RowRenderer(
        seed_template("payment_reminder"),
        channel_integration_id=CHANNEL,
        body=["{{ row.name }}", "x", "y"],
        key_column="k",
    )


class Recorder:
    """Records what was sent (any row numbering)."""

    def __init__(self):
        self.sent: list[str] = []
        self.store = MemoryStore()

    def send(self, request, *, before_write):
        before_write()
        self.sent.append(request.to_number)
        return SimpleNamespace(id=f"b-{len(self.sent)}")


class FakeApi:
    """Records sends; checks the journal holds each row as handed over before it left; fails on demand."""

    def __init__(self, store, key="qontak_bulk", errors=None):
        self.store, self.key, self.errors = store, key, errors or {}
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def send(self, request, *, before_write):
        row = int(request.to_number[-8:])
        err = self.errors.get(row)
        if err == "before-write":  # e.g. a rate limit exhausted during pacing: the request never left
            raise QontakRateLimitError("429 before the request was written")
        before_write()
        stored = self.store.get(self.key)
        assert stored is not None and decode_journal(stored).status(row) == "h", (
            "sent before it was journalled"
        )
        if err is not None:
            if err == "ok-then-doubt":
                with self.lock:
                    self.sent.append(request.to_number)
                raise QontakSendInDoubtError("timeout after write")
            raise err
        with self.lock:
            self.sent.append(request.to_number)
        return SimpleNamespace(id=f"b-{row}")


def sender(store, api, **kw):
    kw.setdefault("checkpoint_interval", 0.0)
    kw.setdefault("max_concurrency", 4)
    return BulkSender(send=api.send, prepare=make_renderer().prepare, store=store, fingerprint="fp", **kw)


def kill_after(store, rows_handed):
    """The journal a worker killed right after handing these rows over (no result stored) would leave."""
    state = decode_journal(store.get("qontak_bulk"))
    for row in rows_handed:
        state.mark(row, "h")
    from qontak_provider.bulk.journal import encode_journal

    store.set("qontak_bulk", encode_journal(state))


def test_all_rows_sent_once_with_results_and_ids():
    store = MemoryStore()
    api = FakeApi(store)
    results = []
    report = sender(store, api, on_result=results.append, max_ids=10, total=60).run(ROWS)
    assert report.counts["sent"] == 60 and len(set(api.sent)) == 60 == len(api.sent)
    assert len(report.broadcast_ids) == 10 and report.broadcast_ids_truncated
    assert {r.key for r in results} == {f"K{i}" for i in range(60)}
    assert decode_journal(store.get("qontak_bulk")).high_water() == 60
    assert report.as_dict()["sent"] == 60 and report.journal_writes > 0


def test_hand_overs_are_batched_into_few_writes_when_many_senders_wait():
    """Group commit: with a slow store, hand-overs that arrive during a write share the next one."""
    import time

    class SlowStore(MemoryStore):
        def set(self, key, value):
            time.sleep(0.02)
            super().set(key, value)

    store = SlowStore()
    api = FakeApi(store)
    report = sender(store, api, checkpoint_interval=60.0, max_concurrency=8).run(ROWS)
    assert report.counts["sent"] == 60
    assert report.journal_writes < 45, report.journal_writes  # far fewer than one write per row


def test_outcomes_per_error_and_resume_sends_only_resendable_rows():
    store = MemoryStore()
    errors = {
        3: QontakSendInDoubtError("t"),
        4: QontakRateLimitError("429"),
        5: QontakValidationError("422"),
        6: QontakTransportError("refused"),
        7: QontakError("odd"),
        8: "before-write",
    }
    rows = [*ROWS[:10], {"phone": "x", "name": "bad", "k": "bad"}]
    api = FakeApi(store, errors=errors)
    report = sender(store, api).run(rows)
    assert report.counts == {"sent": 4, "in_doubt": 2, "failed": 4, "invalid": 1}
    assert report.resend_pending == 3
    assert [row["key"] for row in report.in_doubt] == ["K3", "K7"]
    api.errors = {}
    api.sent.clear()
    results = []
    second = sender(store, api, on_result=results.append, try_number=2).run(rows)
    assert sorted(api.sent) == ["6281200000004", "6281200000006", "6281200000008"]  # provably unsent only
    assert second.counts == {"sent": 3, "skipped_already_sent": 4, "in_doubt": 2, "failed": 1, "invalid": 1}
    assert second.resend_pending == 0 and set(second.broadcast_ids) >= {"b-0", "b-4"}


def test_resend_in_doubt_sends_exactly_the_rows_in_doubt():
    store = MemoryStore()
    api = FakeApi(store, errors={3: "ok-then-doubt", 5: QontakSendInDoubtError("t")})
    first = sender(store, api).run(ROWS[:10])
    assert first.counts["in_doubt"] == 2
    api.errors = {}
    api.sent.clear()
    second = sender(store, api, resend_in_doubt=True, try_number=2).run(ROWS[:10])
    assert sorted(api.sent) == ["6281200000003", "6281200000005"]
    assert second.counts == {"sent": 2, "skipped_already_sent": 8}


def test_fingerprint_mismatch_is_refused():
    store = MemoryStore()
    sender(store, FakeApi(store)).run(ROWS[:3])
    other = BulkSender(send=print, prepare=make_renderer().prepare, store=store, fingerprint="other")
    with pytest.raises(ValueError, match="another input"):
        other.run(ROWS[:3])


def test_abort_stops_cleanly_and_the_retry_sends_every_row_that_never_left():
    store = MemoryStore()
    api = FakeApi(store, errors={10: QontakAuthenticationError("401")})
    with pytest.raises(QontakAuthenticationError):
        sender(store, api).run(ROWS)
    state = decode_journal(store.get("qontak_bulk"))
    sent = {int(n[-8:]) for n in api.sent}
    assert all(state.status(i) == "s" for i in sent)
    assert all(state.status(i) in ("r", "n") for i in range(60) if i not in sent)
    assert not any(state.status(i) in ("h", "d") for i in range(60))  # nothing in doubt after a clean stop
    api.errors = {}
    before = list(api.sent)
    sender(store, api, try_number=2).run(ROWS)
    assert sorted(api.sent) == sorted(set(api.sent)) and len(api.sent) == 60
    assert before == api.sent[: len(before)]


def test_after_a_kill_only_rows_handed_over_are_unconfirmed_and_reconciled_or_reported():
    store = MemoryStore()
    api = FakeApi(store)
    sender(store, api).run(ROWS[:20])
    # A worker killed while rows 20..23 were on the wire (20, 21 reached Qontak): rows 24.. never left.
    kill_after(store, [20, 21, 22, 23])
    found = {"6281200000020": "b-20", "6281200000021": "b-21"}
    seen = []

    def reconcile(prepared, since):
        seen.append(since)
        hit = found.get(prepared.to_number)
        return hit, None if hit else "no such broadcast in the list"

    api.sent.clear()
    report = sender(store, api, reconcile=reconcile, try_number=2).run(ROWS[:40])
    assert report.counts == {"skipped_already_sent": 22, "in_doubt": 2, "sent": 16}
    assert len(api.sent) == 16 and seen and seen[0] is not None  # every row that never left is sent
    assert [r["key"] for r in report.in_doubt] == ["K22", "K23"]
    assert "no such broadcast in the list" in report.in_doubt[0]["reason"]
    # resend_unconfirmed: rows without proof are sent (at-least-once for them)
    store2 = MemoryStore()
    api2 = FakeApi(store2)
    sender(store2, api2).run(ROWS[:5])
    kill_after(store2, [5, 6, 7])
    r2 = sender(store2, api2, reconcile=lambda p, since: (None, "none"), resend_unconfirmed=True).run(
        ROWS[:8]
    )
    assert r2.counts["sent"] == 3


def test_a_journal_that_cannot_be_stored_stops_the_run_and_sends_nothing_unjournalled():
    class BrokenStore(MemoryStore):
        def set(self, key, value):
            if self.writes >= 3:
                raise OSError("state store down")
            super().set(key, value)

    store = BrokenStore()
    api = FakeApi(store)
    with pytest.raises(OSError, match="state store down"):
        sender(store, api).run(ROWS)
    assert len(api.sent) <= 3  # only rows whose hand-over was stored left


def test_duplicates_are_sent_once_unless_asked():
    api = Recorder()
    store = api.store
    rows = [
        {"phone": "0812-0000-0001", "name": "Budi", "k": "A"},
        {"phone": "+62 812 0000 0001", "name": "budi", "k": "B"},  # same person, same message
        {"phone": "6281200000001", "name": "Budi", "k": "C"},
        {"phone": "6281200000002", "name": "Budi", "k": "D"},
    ]
    renderer = RowRenderer(
        seed_template("payment_reminder"),
        channel_integration_id=CHANNEL,
        body=["x", "y", "z"],
        key_column="k",
    )
    report = BulkSender(send=api.send, prepare=renderer.prepare, store=store, checkpoint_interval=0).run(rows)
    assert report.counts == {"sent": 2, "duplicate": 2}
    assert sorted(api.sent) == ["6281200000001", "6281200000002"]
    # a retry reports them the same way
    again = BulkSender(send=api.send, prepare=renderer.prepare, store=store, try_number=2).run(rows)
    assert again.counts == {"skipped_already_sent": 2, "duplicate": 2}
    api2 = Recorder()
    everyone = BulkSender(
        send=api2.send, prepare=renderer.prepare, store=api2.store, send_duplicates=True
    ).run(rows)
    assert everyone.counts == {"sent": 4} and len(api2.sent) == 4


def test_a_different_message_to_the_same_number_is_not_a_duplicate():
    api = Recorder()
    store = api.store
    rows = [
        {"phone": "6281200000001", "name": "Budi", "k": "A"},
        {"phone": "6281200000001", "name": "X", "k": "B"},
    ]
    renderer = RowRenderer(
        seed_template("payment_reminder"), channel_integration_id=CHANNEL, body=["{{ row.name }}", "y", "z"]
    )
    report = BulkSender(send=api.send, prepare=renderer.prepare, store=store).run(rows)
    assert report.counts == {"sent": 2}


def test_sink_exception_aborts_and_is_raised():
    store = MemoryStore()
    api = FakeApi(store)

    def boom(result):
        if result.row == 5:
            raise RuntimeError("sink broke")

    with pytest.raises(RuntimeError, match="sink broke"):
        sender(store, api, on_result=boom).run(ROWS)


def test_no_store_and_bad_arguments():
    def send(request, *, before_write):
        before_write()
        return SimpleNamespace(id="x")

    report = BulkSender(send=send, prepare=make_renderer().prepare).run(ROWS[:3])
    assert report.counts["sent"] == 3 and report.journal_writes == 0
    with pytest.raises(ValueError):
        BulkSender(send=send, prepare=make_renderer().prepare, max_concurrency=0)


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (QontakSendInDoubtError("x"), ("d", "in_doubt", False)),
        (QontakAuthenticationError("x"), ("r", "failed", True)),
        (QontakRateLimitError("x"), ("r", "failed", False)),
        (QontakTransportError("x"), ("r", "failed", False)),
        (QontakPayloadError("f", "e"), ("v", "invalid", False)),
        (QontakNotFoundError("x"), ("f", "failed", False)),
        (QontakValidationError("x"), ("f", "failed", False)),
        (QontakError("x"), ("d", "in_doubt", False)),
        (KeyError("x"), ("d", "in_doubt", True)),
    ],
)
def test_classify_send_error_after_the_hand_over(err, expected):
    assert classify_send_error(err, handed_over=True) == expected


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (QontakSendInDoubtError("x"), ("r", "failed", False)),
        (QontakError("x"), ("r", "failed", False)),
        (KeyError("x"), ("r", "failed", True)),
        (QontakPayloadError("f", "e"), ("v", "invalid", False)),
        (QontakAuthenticationError("x"), ("r", "failed", True)),
    ],
)
def test_classify_send_error_before_the_hand_over_is_never_in_doubt(err, expected):
    assert classify_send_error(err, handed_over=False) == expected


def test_progress_formatting():
    assert (
        format_duration(9.4) == "9s"
        and format_duration(75) == "1m15s"
        and format_duration(3725) == "1h02m05s"
    )
    line = format_progress({"sent": 120, "invalid": 2}, 122, 10.0, 5000)
    assert line == (
        "sent 120, failed 0, invalid 2, in doubt 0, duplicate 0, skipped 0 | 122 of 5000 rows (2.4%), "
        "4878 remaining | 12.0 msg/s | ETA 6m40s"
    )
    assert format_progress({}, 0, 0.0, 10).endswith("ETA unknown")
    assert format_progress({"sent": 1}, 3, 2.0, None).endswith("| 3 rows | 0.5 msg/s")
