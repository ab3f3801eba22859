"""The send ledger's rules, without Airflow and without a network: record, reuse, resolve in doubt."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from qontak_provider.client.errors import (
    QontakAuthenticationError,
    QontakError,
    QontakNotFoundError,
    QontakPayloadError,
    QontakRateLimitError,
    QontakSendInDoubtError,
    QontakServerError,
    QontakTimeoutError,
    QontakTransportError,
    QontakValidationError,
)
from qontak_provider.client.models import Broadcast, DirectSendRequest
from qontak_provider.ledger.reconcile import FindResult, ReconcileUnavailable
from qontak_provider.ledger.send import (
    SEND_STATE_KEY,
    Fate,
    InDoubtUnresolved,
    SendLedger,
    SendRefused,
    attempt_record,
    fate_of,
    payload_fingerprint,
    sent_record,
)

REQUEST = DirectSendRequest.model_validate(
    {
        "to_number": "6281234567890",
        "to_name": "Burhan",
        "message_template_id": "tpl-1",
        "channel_integration_id": "ch-1",
        "language": {"code": "id"},
        "parameters": {"body": [{"key": "1", "value_text": "Burhan", "value": "name"}]},
    }
)
FINGERPRINT = payload_fingerprint(REQUEST.to_wire())
SENT = Broadcast(id="b-sent", created_at="2026-12-01T10:00:00Z")


class Store:
    """``task_state_store`` as the ledger sees it, remembering what happened in order."""

    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = dict(initial or {})
        self.events: list[tuple[str, Any]] = []

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def set(self, key: str, value: Any) -> None:
        self.events.append(("set", value.get("state")))
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.events.append(("delete", None))
        self.data.pop(key, None)


class Finder:
    def __init__(self, result: FindResult | Exception) -> None:
        self.result = result
        self.since: datetime | None = None

    def __call__(self, since: datetime) -> Finder:
        self.since = since
        return self

    def find(self, request: DirectSendRequest) -> FindResult:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


class Harness:
    def __init__(self, store: Store | None, policy: str = "fail", finder: Finder | None = None) -> None:
        self.store = store
        self.finder = finder or Finder(FindResult())
        self.infos: list[str] = []
        self.warnings: list[str] = []
        self.delivered = 0
        self.outcomes: list[Broadcast | BaseException] = []
        self.fetched: list[str] = []
        self.ledger = SendLedger(
            store, policy=policy, finder=self.finder, info=self.infos.append, warn=self.warnings.append
        )

    def deliver(self) -> Broadcast:
        # The attempt is recorded before the request leaves, every time.
        if self.store is not None:
            assert self.store.data[SEND_STATE_KEY]["state"] == "attempting"
        self.delivered += 1
        outcome = self.outcomes.pop(0) if self.outcomes else SENT
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def fetch(self, broadcast_id: str) -> Broadcast:
        self.fetched.append(broadcast_id)
        if broadcast_id == "gone":
            raise QontakNotFoundError("Qontak has no broadcast 'gone'")
        return Broadcast(id=broadcast_id)

    def send(self, fingerprint: str = FINGERPRINT) -> Any:
        return self.ledger.send(REQUEST, fingerprint, deliver=self.deliver, fetch=self.fetch)


def attempting(**changes: Any) -> dict[str, Any]:
    started = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
    return {SEND_STATE_KEY: {**attempt_record(REQUEST, FINGERPRINT, started), **changes}}


# ------------------------------------------------------------------------------------------------ fate_of


@pytest.mark.parametrize(
    ("err", "fate"),
    [
        (QontakPayloadError("to_number", "a number"), Fate.REFUSED),
        (QontakValidationError("422"), Fate.REFUSED),
        (QontakNotFoundError("404"), Fate.REFUSED),
        (QontakAuthenticationError("401"), Fate.NOT_SENT),
        (QontakRateLimitError("429"), Fate.NOT_SENT),
        (QontakTransportError("refused"), Fate.NOT_SENT),
        (QontakTimeoutError("waited for its slot"), Fate.NOT_SENT),
        (QontakSendInDoubtError("read timeout"), Fate.IN_DOUBT),
        (QontakServerError("502"), Fate.IN_DOUBT),
        (QontakError("unreadable answer"), Fate.IN_DOUBT),
        (RuntimeError("a bug after the write"), Fate.IN_DOUBT),
    ],
)
def test_fate_of_a_handed_over_send(err: BaseException, fate: Fate) -> None:
    assert fate_of(err) is fate
    assert fate_of(err, handed_over=True) is fate


@pytest.mark.parametrize(
    "err", [QontakSendInDoubtError("x"), QontakError("x"), RuntimeError("x"), QontakValidationError("x")]
)
def test_before_the_hand_over_nothing_is_in_doubt(err: BaseException) -> None:
    assert fate_of(err, handed_over=False) is Fate.NOT_SENT


def test_a_request_that_can_never_be_valid_is_refused_even_before_the_hand_over() -> None:
    assert fate_of(QontakPayloadError("f", "e"), handed_over=False) is Fate.REFUSED


# ------------------------------------------------------------------------------------------------ records


def test_records_never_hold_the_full_number_and_sent_keeps_the_attempt() -> None:
    started = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
    record = attempt_record(REQUEST, FINGERPRINT, started)
    assert record["to"] == "62812*****890" and "6281234567890" not in str(record)
    assert record["started_at"] == "2026-12-01T09:00:00+00:00"
    sent = sent_record(record, SENT, how="reconciled")
    assert (
        sent["state"] == "sent" and sent["broadcast_id"] == "b-sent" and sent["recorded_by"] == "reconciled"
    )
    assert sent["fingerprint"] == FINGERPRINT and sent["started_at"] == record["started_at"]


def test_fingerprint_is_equal_for_the_same_message_whatever_the_key_order() -> None:
    wire = REQUEST.to_wire()
    assert payload_fingerprint(dict(reversed(list(wire.items())))) == FINGERPRINT
    assert payload_fingerprint({**wire, "to_name": "Other"}) != FINGERPRINT


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="on_send_in_doubt"):
        SendLedger(None, policy="retry", finder=Finder(FindResult()), info=print, warn=print)


# ------------------------------------------------------------------------------------------------- sends


def test_a_first_send_records_the_attempt_before_and_the_broadcast_after() -> None:
    store = Store()
    h = Harness(store)
    result = h.send()
    assert result.broadcast is SENT and not result.reused
    assert store.events == [("set", "attempting"), ("set", "sent")]
    assert store.data[SEND_STATE_KEY]["broadcast_id"] == "b-sent"


def test_without_a_store_it_still_sends_once() -> None:
    h = Harness(None)
    assert h.send().broadcast is SENT and h.delivered == 1


def test_a_recorded_broadcast_is_returned_and_nothing_is_sent() -> None:
    store = Store({SEND_STATE_KEY: sent_record(attempting()[SEND_STATE_KEY], SENT)})
    h = Harness(store, policy="resend")
    result = h.send()
    assert result.reused and result.broadcast.id == "b-sent"
    assert h.delivered == 0 and h.fetched == ["b-sent"] and h.warnings == []
    assert any("already sent broadcast b-sent" in line for line in h.infos)


def test_a_recorded_broadcast_is_returned_even_when_the_arguments_changed() -> None:
    store = Store({SEND_STATE_KEY: sent_record(attempting()[SEND_STATE_KEY], SENT)})
    h = Harness(store)
    assert h.send(fingerprint="other").reused and h.delivered == 0
    assert any("rendered differently" in line for line in h.warnings)


def test_a_recorded_broadcast_qontak_cannot_find_fails_for_good_and_is_not_resent() -> None:
    store = Store({SEND_STATE_KEY: {**attempting()[SEND_STATE_KEY], "state": "sent", "broadcast_id": "gone"}})
    h = Harness(store, policy="resend")
    with pytest.raises(InDoubtUnresolved, match="does not find it") as caught:
        h.send()
    assert caught.value.final and h.delivered == 0


@pytest.mark.parametrize(
    "err",
    [QontakPayloadError("to_number", "a number"), QontakValidationError("422"), QontakNotFoundError("x")],
)
def test_a_refusal_deletes_the_record_and_is_not_worth_a_retry(err: QontakError) -> None:
    store = Store()
    h = Harness(store)
    h.outcomes = [err]
    with pytest.raises(SendRefused, match="nothing was sent"):
        h.send()
    assert SEND_STATE_KEY not in store.data and store.events[-1] == ("delete", None)


@pytest.mark.parametrize(
    "err", [QontakRateLimitError("429"), QontakTransportError("refused"), QontakAuthenticationError("401")]
)
def test_a_send_that_never_reached_qontak_deletes_the_record_and_raises_for_a_retry(err: QontakError) -> None:
    store = Store()
    h = Harness(store)
    h.outcomes = [err]
    with pytest.raises(type(err)):
        h.send()
    assert SEND_STATE_KEY not in store.data


def test_an_unexpected_error_leaves_the_attempt_for_the_retry_to_resolve() -> None:
    store = Store()
    h = Harness(store, policy="resend")
    h.outcomes = [RuntimeError("killed half way")]
    with pytest.raises(RuntimeError):
        h.send()
    assert store.data[SEND_STATE_KEY]["state"] == "attempting" and h.delivered == 1


# ------------------------------------------------------------------------------------------------- doubt


def test_in_doubt_now_with_policy_fail_keeps_the_attempt_and_sends_nothing_more() -> None:
    store = Store()
    h = Harness(store, policy="fail")
    h.outcomes = [QontakSendInDoubtError("read timeout after the body was written")]
    with pytest.raises(InDoubtUnresolved, match="NOT sent again") as caught:
        h.send()
    assert caught.value.final and h.delivered == 1
    assert store.data[SEND_STATE_KEY]["state"] == "attempting"
    assert "this try" in str(caught.value) and "read timeout" in str(caught.value)
    assert any("is in doubt" in line for line in h.warnings)


def test_in_doubt_now_with_policy_resend_sends_once_more_and_no_more() -> None:
    store = Store()
    h = Harness(store, policy="resend")
    h.outcomes = [QontakSendInDoubtError("first"), QontakSendInDoubtError("second")]
    with pytest.raises(InDoubtUnresolved, match="NOT sent again"):
        h.send()
    assert h.delivered == 2  # the explicit resend, then "fail": never a loop
    assert any("may arrive twice" in line for line in h.warnings)


def test_in_doubt_now_then_resent_successfully() -> None:
    store = Store()
    h = Harness(store, policy="resend")
    h.outcomes = [QontakSendInDoubtError("first"), SENT]
    assert h.send().broadcast is SENT and h.delivered == 2
    assert store.data[SEND_STATE_KEY]["state"] == "sent"


def test_an_earlier_attempt_with_policy_fail_sends_nothing() -> None:
    h = Harness(Store(attempting()), policy="fail")
    with pytest.raises(InDoubtUnresolved, match="an earlier try of this task instance") as caught:
        h.send()
    assert caught.value.final and h.delivered == 0
    assert "no broadcast id was recorded" in str(caught.value) and SEND_STATE_KEY in str(caught.value)


def test_an_earlier_attempt_with_policy_resend_sends_again() -> None:
    store = Store(attempting())
    h = Harness(store, policy="resend")
    assert h.send().broadcast is SENT and h.delivered == 1
    assert store.data[SEND_STATE_KEY]["state"] == "sent"


def test_reconcile_adopts_the_one_proven_broadcast() -> None:
    store = Store(attempting())
    found = Broadcast(id="b-found", created_at="2026-12-01T09:00:01Z")
    h = Harness(store, policy="reconcile", finder=Finder(FindResult(proven=[found], scanned=7)))
    result = h.send()
    assert result.reused and result.broadcast is found and h.delivered == 0
    assert store.data[SEND_STATE_KEY]["recorded_by"] == "reconciled"
    assert h.finder.since == datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def test_reconcile_of_a_send_in_doubt_now_looks_from_this_attempts_start() -> None:
    store = Store()
    found = Broadcast(id="b-found")
    h = Harness(store, policy="reconcile", finder=Finder(FindResult(proven=[found])))
    h.outcomes = [QontakSendInDoubtError("x")]
    before = datetime.now(timezone.utc)
    assert h.send().broadcast is found and h.delivered == 1
    assert h.finder.since is not None and abs(h.finder.since - before) < timedelta(seconds=5)


def test_reconcile_with_nothing_found_yet_is_retryable_and_names_the_candidates() -> None:
    unproven = [Broadcast(id="b-maybe")]
    h = Harness(
        Store(attempting()), policy="reconcile", finder=Finder(FindResult(unproven=unproven, scanned=3))
    )
    with pytest.raises(InDoubtUnresolved) as caught:
        h.send()
    assert not caught.value.final and h.delivered == 0
    assert "scanned 3 broadcast(s)" in str(caught.value) and "b-maybe" in str(caught.value)


def test_reconcile_with_several_proven_refuses_to_choose() -> None:
    proven = [Broadcast(id="b1"), Broadcast(id="b2")]
    h = Harness(Store(attempting()), policy="reconcile", finder=Finder(FindResult(proven=proven)))
    with pytest.raises(InDoubtUnresolved, match="b1, b2") as caught:
        h.send()
    assert caught.value.final and h.delivered == 0


def test_reconcile_without_the_broadcast_list_fails_for_good_saying_so() -> None:
    finder = Finder(ReconcileUnavailable("reconciling needs Qontak's broadcast list"))
    h = Harness(Store(attempting()), policy="reconcile", finder=finder)
    with pytest.raises(InDoubtUnresolved, match="Cannot reconcile: reconciling needs") as caught:
        h.send()
    assert caught.value.final and h.delivered == 0


def test_reconcile_cannot_prove_a_message_that_renders_differently_now() -> None:
    h = Harness(Store(attempting()), policy="reconcile", finder=Finder(FindResult(proven=[SENT])))
    with pytest.raises(InDoubtUnresolved, match="render to a different message") as caught:
        h.send(fingerprint="changed")
    assert caught.value.final and h.finder.since is None


def test_reconcile_needs_the_attempts_start_time() -> None:
    h = Harness(Store(attempting(started_at="garbage")), policy="reconcile")
    with pytest.raises(InDoubtUnresolved, match="no usable start time") as caught:
        h.send()
    assert caught.value.final


def test_the_records_say_what_was_sent_where_and_when() -> None:
    """What the Airflow UI shows of a send: masked number, template, channel, times, never the payload."""
    started = datetime(2026, 12, 1, 9, 59, 58, tzinfo=timezone.utc)
    attempt = attempt_record(REQUEST, FINGERPRINT, started)
    assert attempt == {
        "state": "attempting",
        "to": "62812*****890",
        "template_id": "tpl-1",
        "channel_integration_id": "ch-1",
        "fingerprint": FINGERPRINT,
        "started_at": "2026-12-01T09:59:58+00:00",
    }
    before = datetime.now(timezone.utc)
    sent = sent_record(attempt, SENT, how="reconciled")
    recorded_at = datetime.fromisoformat(sent.pop("recorded_at"))
    assert before <= recorded_at <= datetime.now(timezone.utc)
    assert sent == {
        **attempt,
        "state": "sent",
        "broadcast_id": "b-sent",
        "created_at": SENT.created_at,
        "recorded_by": "reconciled",
    }
    assert sent_record(attempt, SENT)["recorded_by"] == "sent"


HOW_TO_CHECK = (
    " Check Qontak's broadcast list (QontakHook.list_broadcasts(), or the Qontak inbox) for a broadcast"
    " created after 2026-12-01T09:00:00+00:00 to that recipient. To send deliberately anyway, re-run with"
    " on_send_in_doubt='resend', or delete the task state key 'qontak_send' of this task instance (UI, or"
    " DELETE /api/v2/dags/<dag_id>/dagRuns/<run_id>/taskInstances/<task_id>/state-store/qontak_send) and"
    " clear the task."
)
EARLIER_TRY = (
    "The send of template tpl-1 to 62812*****890 started by an earlier try of this task instance at"
    " 2026-12-01T09:00:00+00:00 may or may not have reached Qontak (no broadcast id was recorded)."
)


def test_the_whole_message_of_a_doubt_left_by_an_earlier_try() -> None:
    """What the operator reads in the task log when a worker died mid-send: every word is the instruction."""
    assert SEND_STATE_KEY == "qontak_send"
    h = Harness(Store(attempting()), policy="fail")
    with pytest.raises(InDoubtUnresolved) as caught:
        h.send()
    assert (
        str(caught.value) == EARLIER_TRY + " It was NOT sent again (on_send_in_doubt='fail')." + HOW_TO_CHECK
    )


def test_the_whole_message_when_reconcile_finds_nothing_proven_yet() -> None:
    unproven = [Broadcast(id="b-maybe"), Broadcast(id="b-other")]
    h = Harness(
        Store(attempting()), policy="reconcile", finder=Finder(FindResult(unproven=unproven, scanned=3))
    )
    with pytest.raises(InDoubtUnresolved) as caught:
        h.send()
    assert str(caught.value) == (
        EARLIER_TRY
        + " Reconcile scanned 3 broadcast(s) and found none proven to be it."
        + " Candidates whose log does not show the number yet: b-maybe, b-other."
        + " Absence in the list is not proof (it can lag), so nothing was sent again;"
        + " a retry reconciles again."
        + HOW_TO_CHECK
    )
    assert caught.value.final is False  # a retry reconciles again: the operator raises a retryable error
    h = Harness(Store(attempting()), policy="reconcile", finder=Finder(FindResult(scanned=0)))
    with pytest.raises(InDoubtUnresolved) as caught:
        h.send()
    assert "found none proven to be it. Absence in the list" in str(caught.value)  # no candidate sentence


def test_the_whole_message_of_a_doubt_in_this_try() -> None:
    h = Harness(Store(), policy="fail")
    h.outcomes = [QontakSendInDoubtError("read timeout after 30 s")]
    with pytest.raises(InDoubtUnresolved) as caught:
        h.send()
    text = str(caught.value)
    assert text.startswith("The send of template tpl-1 to 62812*****890 started by this try at 20")
    assert " may or may not have reached Qontak (read timeout after 30 s). It was NOT sent again" in text


def test_the_attempt_on_record_carries_the_fingerprint_of_what_is_sent() -> None:
    """A retry compares it with what the arguments render to now: it must be the one of this request."""
    store = Store()
    h = Harness(store)
    h.outcomes = [RuntimeError("the worker was killed mid-send")]
    with pytest.raises(RuntimeError):
        h.send()
    assert store.data[SEND_STATE_KEY]["fingerprint"] == FINGERPRINT
    resent = Store()
    h = Harness(resent, policy="resend")
    h.outcomes = [QontakSendInDoubtError("first"), RuntimeError("killed during the resend")]
    with pytest.raises(RuntimeError):
        h.send()
    assert resent.data[SEND_STATE_KEY]["fingerprint"] == FINGERPRINT  # the resend's own record too
