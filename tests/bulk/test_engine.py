from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from qontak_provider.client.bulk_engine import (
    BulkSender,
    MemoryStore,
    classify_send_error,
    format_duration,
    format_progress,
)
from qontak_provider.client.bulk_journal import decode_journal
from qontak_provider.client.bulk_render import RowRenderer
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


class FakeApi:
    """Records sends; checks the journal reserved each row before it left; fails rows on demand."""

    def __init__(self, store, key="qontak_bulk", errors=None):
        self.store, self.key, self.errors = store, key, errors or {}
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def send(self, request):
        stored = self.store.get(self.key)
        assert stored is not None
        row = int(request.to_number[-8:])
        assert decode_journal(stored).res > row, "sent before the reservation was stored"
        err = self.errors.get(row)
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
    return BulkSender(
        send=api.send,
        prepare=make_renderer().prepare,
        store=store,
        fingerprint="fp",
        max_concurrency=4,
        reserve_rows=7,
        checkpoint_interval=0.0,
        **kw,
    )


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


def test_outcomes_per_error_and_resume_sends_only_resendable_rows():
    store = MemoryStore()
    errors = {
        3: QontakSendInDoubtError("t"),
        4: QontakRateLimitError("429"),
        5: QontakValidationError("422"),
        6: QontakTransportError("refused"),
        7: QontakError("odd"),
    }
    rows = [*ROWS[:10], {"phone": "x", "name": "bad", "k": "bad"}]
    api = FakeApi(store, errors=errors)
    report = sender(store, api).run(rows)
    assert report.counts == {"sent": 5, "in_doubt": 2, "failed": 3, "invalid": 1}
    assert report.resend_pending == 2
    api.errors = {}
    api.sent.clear()
    results = []
    second = sender(store, api, on_result=results.append, try_number=2).run(rows)
    assert sorted(api.sent) == ["6281200000004", "6281200000006"]  # only the provably unsent rows
    assert second.counts == {"sent": 2, "skipped_already_sent": 5, "in_doubt": 2, "failed": 1, "invalid": 1}
    assert second.resend_pending == 0 and set(second.broadcast_ids) >= {"b-0", "b-4"}


def test_fingerprint_mismatch_is_refused():
    store = MemoryStore()
    sender(store, FakeApi(store)).run(ROWS[:3])
    other = BulkSender(send=print, prepare=make_renderer().prepare, store=store, fingerprint="other")
    with pytest.raises(ValueError, match="another input"):
        other.run(ROWS[:3])


def test_abort_stops_cleanly_and_marks_unsent_rows_for_resend():
    store = MemoryStore()
    api = FakeApi(store, errors={10: QontakAuthenticationError("401")})
    with pytest.raises(QontakAuthenticationError):
        sender(store, api).run(ROWS)
    state = decode_journal(store.get("qontak_bulk"))
    sent = {int(n[-8:]) for n in api.sent}
    assert all(state.status(i) == "s" for i in sent)
    assert all(state.status(i) in ("r", "n") for i in range(60) if i not in sent)
    assert not any(state.status(i) == "u" for i in range(60))
    api.errors = {}
    before = list(api.sent)
    sender(store, api, try_number=2).run(ROWS)
    assert (
        sorted(api.sent) == sorted(set(api.sent))
        and len(api.sent) == 60
        and before == api.sent[: len(before)]
    )


def test_killed_worker_rows_are_reconciled_or_reported():
    store = MemoryStore()
    api = FakeApi(store)
    sender(store, api).run(ROWS[:20])
    # Simulate a worker killed after reserving rows 20..29 and sending 20..24 (results never stored).
    stored = dict(store.get("qontak_bulk"))
    stored["res"] = 30
    store.set("qontak_bulk", stored)
    found = {f"62812000000{i}": f"b-{i}" for i in range(20, 25)}
    seen = []

    def reconcile(prepared, since):
        seen.append(since)
        return found.get(prepared.to_number)

    api.sent.clear()
    report = sender(store, api, reconcile=reconcile, try_number=2).run(ROWS[:40])
    assert report.counts["skipped_already_sent"] == 25 and report.counts["in_doubt"] == 5
    assert len(api.sent) == 10 and seen and seen[0] is not None
    # resend_unconfirmed: rows without proof are sent (at-least-once for them)
    store2 = MemoryStore()
    api2 = FakeApi(store2)
    sender(store2, api2).run(ROWS[:5])
    s = dict(store2.get("qontak_bulk"))
    s["res"] = 8
    store2.set("qontak_bulk", s)
    r2 = sender(store2, api2, reconcile=lambda p, since: None, resend_unconfirmed=True).run(ROWS[:8])
    assert r2.counts["sent"] == 3


def test_sink_exception_aborts_and_is_raised():
    store = MemoryStore()
    api = FakeApi(store)

    def boom(result):
        if result.row == 5:
            raise RuntimeError("sink broke")

    with pytest.raises(RuntimeError, match="sink broke"):
        sender(store, api, on_result=boom).run(ROWS)


def test_no_store_and_bad_arguments():
    api = FakeApi(MemoryStore())
    api.send = lambda request: SimpleNamespace(id="x")
    report = BulkSender(send=api.send, prepare=make_renderer().prepare).run(ROWS[:3])
    assert report.counts["sent"] == 3 and report.journal_writes == 0
    with pytest.raises(ValueError):
        BulkSender(send=api.send, prepare=make_renderer().prepare, max_concurrency=0)
    with pytest.raises(ValueError):
        BulkSender(send=api.send, prepare=make_renderer().prepare, reserve_rows=0)


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (QontakSendInDoubtError("x"), ("d", "in_doubt", False)),
        (QontakAuthenticationError("x"), ("r", "failed", True)),
        (QontakRateLimitError("x"), ("r", "failed", False)),
        (QontakTransportError("x"), ("r", "failed", False)),
        (QontakPayloadError("f", "e"), ("f", "invalid", False)),
        (QontakNotFoundError("x"), ("f", "failed", False)),
        (QontakError("x"), ("d", "in_doubt", False)),
        (KeyError("x"), ("d", "in_doubt", True)),
    ],
)
def test_classify_send_error(err, expected):
    assert classify_send_error(err) == expected


def test_progress_formatting():
    assert (
        format_duration(9.4) == "9s"
        and format_duration(75) == "1m15s"
        and format_duration(3725) == "1h02m05s"
    )
    line = format_progress({"sent": 120, "invalid": 2}, 122, 10.0, 5000)
    assert line == (
        "sent 120, failed 0, invalid 2, in doubt 0, skipped 0 | 122 of 5000 rows (2.4%), "
        "4878 remaining | 12.0 msg/s | ETA 6m40s"
    )
    assert format_progress({}, 0, 0.0, 10).endswith("ETA unknown")
    assert format_progress({"sent": 1}, 3, 2.0, None).endswith("| 3 rows | 0.5 msg/s")
