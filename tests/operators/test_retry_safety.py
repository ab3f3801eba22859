"""Retry safety of QontakSendDirectOperator with a task_state_store, against the sandbox.

The same store object plays the role of Airflow's store across two ``execute`` calls (= two tries of one
task instance); the Airflow-level proof is tests/airflow/test_example_send_dags.py::test_retried_send.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from conftest import api_sends

from qontak_provider.client.errors import QontakRateLimitError, QontakValidationError
from qontak_provider.ledger.send import SEND_STATE_KEY, attempt_record, payload_fingerprint
from qontak_provider.operators.qontak import QontakSendDirectOperator

SONG = "d3e1083c-66ea-410b-b807-1d84182ffa82"
NUMBER = "6281234567890"


def operator(**kwargs):
    arguments = {
        "task_id": "send",
        "to_number": NUMBER,
        "to_name": "Budi",
        "template_id": SONG,
        "body": ["Budi", "lagu"],
        **kwargs,
    }
    return QontakSendDirectOperator(**arguments)


def test_retry_after_success_returns_the_recorded_broadcast(qontak_sandbox, store):
    first = operator().execute({"task_state_store": store})
    record = store.get(SEND_STATE_KEY)
    assert record["state"] == "sent"
    assert record["broadcast_id"] == first["broadcast_id"]
    assert record["to"] == "62812*****890"
    second = operator().execute({"task_state_store": store})
    assert second == {**first, "reused": True}
    assert qontak_sandbox.counts() == {NUMBER: 1}


def test_recorded_broadcast_is_not_resent_even_if_arguments_changed(qontak_sandbox, store):
    first = operator().execute({"task_state_store": store})
    second = operator(body=["Budi", "another song"], on_send_in_doubt="resend").execute(
        {"task_state_store": store}
    )
    assert second["broadcast_id"] == first["broadcast_id"] and second["reused"] is True
    assert qontak_sandbox.counts() == {NUMBER: 1}


def test_without_state_store_it_warns_and_sends(qontak_sandbox, capsys):
    operator().execute({})
    assert "NOT protected" in capsys.readouterr().out
    assert qontak_sandbox.counts() == {NUMBER: 1}


@pytest.mark.qontak_sandbox(fail_after=1.0)
def test_in_doubt_fail_policy_never_sends_twice(qontak_sandbox, store):
    with pytest.raises(AirflowFailException) as failure:
        operator().execute({"task_state_store": store})
    message = str(failure.value)
    assert (
        "NOT sent again" in message and "on_send_in_doubt='resend'" in message and SEND_STATE_KEY in message
    )
    assert store.get(SEND_STATE_KEY)["state"] == "attempting"
    qontak_sandbox.update_settings(fail_after=0.0)
    with pytest.raises(AirflowFailException, match="earlier try"):  # a retry (or a cleared task) also fails
        operator().execute({"task_state_store": store})
    assert qontak_sandbox.counts() == {NUMBER: 1}  # the in-doubt send did go out, exactly once


@pytest.mark.qontak_sandbox(fail_after=1.0)
def test_in_doubt_reconcile_adopts_the_proven_broadcast(qontak_sandbox, store):
    result = operator(on_send_in_doubt="reconcile").execute({"task_state_store": store})
    (sent,) = qontak_sandbox.sends()
    assert result["broadcast_id"] == sent["broadcast_id"] and result["reused"] is True
    assert store.get(SEND_STATE_KEY)["recorded_by"] == "reconciled"
    qontak_sandbox.update_settings(fail_after=0.0)
    again = operator(on_send_in_doubt="reconcile").execute({"task_state_store": store})
    assert again["broadcast_id"] == sent["broadcast_id"]
    assert qontak_sandbox.counts() == {NUMBER: 1}


def test_reconcile_ignores_other_recipients_and_fails_retryably_when_not_found(qontak_sandbox, store):
    # Another recipient got the same template: a candidate by channel/template/name, but the log disproves it.
    operator(to_number="6281234567001").execute({})
    record = {
        "state": "attempting",
        "to": "62812*****890",
        "template_id": SONG,
        "started_at": "2020-01-01T00:00:00+00:00",
    }
    prepared, _ = operator().prepare_request()
    from qontak_provider.ledger.send import payload_fingerprint

    store.set(SEND_STATE_KEY, {**record, "fingerprint": payload_fingerprint(prepared.to_wire())})
    with pytest.raises(AirflowException, match="not proof") as failure:
        operator(on_send_in_doubt="reconcile").execute({"task_state_store": store})
    assert not isinstance(failure.value, AirflowFailException)  # a retry may find it once the list caught up
    assert qontak_sandbox.counts() == {"6281234567001": 1}


@pytest.mark.parametrize(("worker_ahead", "adopted"), [(120, True), (400, False)])
def test_reconcile_allows_for_a_worker_clock_ahead_of_qontaks_by_up_to_the_margin(
    qontak_sandbox, store, worker_ahead, adopted
):
    # The attempt time is the worker's clock, created_at Qontak's: a worker 2 minutes ahead recorded its
    # attempt "after" the broadcast was created, and it is still found; 400 s is beyond the 300 s margin.
    sent = operator().execute({})
    prepared, _ = operator().prepare_request()
    started = datetime.now(timezone.utc) + timedelta(seconds=worker_ahead)
    store.set(SEND_STATE_KEY, attempt_record(prepared, payload_fingerprint(prepared.to_wire()), started))
    if adopted:
        result = operator(on_send_in_doubt="reconcile").execute({"task_state_store": store})
        assert result["broadcast_id"] == sent["broadcast_id"] and result["reused"] is True
    else:
        with pytest.raises(AirflowException, match="not proof"):
            operator(on_send_in_doubt="reconcile").execute({"task_state_store": store})
    assert qontak_sandbox.counts() == {NUMBER: 1}


def test_reconcile_refuses_when_arguments_changed(qontak_sandbox, store):
    store.set(
        SEND_STATE_KEY,
        {
            "state": "attempting",
            "to": "x",
            "template_id": SONG,
            "fingerprint": "0" * 64,
            "started_at": "2026-01-01T00:00:00+00:00",
        },
    )
    with pytest.raises(AirflowFailException, match="different message"):
        operator(on_send_in_doubt="reconcile").execute({"task_state_store": store})
    assert api_sends(qontak_sandbox) == 0


@pytest.mark.qontak_sandbox(fail_after=1.0)
def test_in_doubt_resend_is_an_explicit_opt_in(qontak_sandbox, store):
    with pytest.raises(AirflowFailException):
        operator().execute({"task_state_store": store})
    qontak_sandbox.update_settings(fail_after=0.0)
    result = operator(on_send_in_doubt="resend").execute({"task_state_store": store})
    assert result["reused"] is False
    assert qontak_sandbox.counts() == {NUMBER: 2}
    assert store.get(SEND_STATE_KEY)["broadcast_id"] == result["broadcast_id"]


@pytest.mark.parametrize(
    ("error", "retryable"),
    [(QontakValidationError("refused", status_code=422), False), (QontakRateLimitError("slow down"), True)],
)
def test_refused_send_clears_the_attempt(qontak_sandbox, store, monkeypatch, error, retryable):
    op = operator()

    def refuse(payload):
        raise error

    monkeypatch.setattr(op.hook, "send_direct", refuse)
    with pytest.raises(Exception) as failure:
        op.execute({"task_state_store": store})
    assert isinstance(failure.value, AirflowFailException) is not retryable
    if not retryable:
        assert str(failure.value) == "Qontak refused the send, nothing was sent: refused"
    assert store.get(SEND_STATE_KEY) is None  # nothing in doubt: the next try sends normally
    operator().execute({"task_state_store": store})
    assert qontak_sandbox.counts() == {NUMBER: 1}


def test_crash_after_send_leaves_the_attempt_on_record(qontak_sandbox, store, monkeypatch):
    op = operator()

    def lost(payload):
        raise KeyboardInterrupt  # the worker dies while waiting for the answer

    monkeypatch.setattr(op.hook, "send_direct", lost)
    with pytest.raises(KeyboardInterrupt):
        op.execute({"task_state_store": store})
    assert store.get(SEND_STATE_KEY)["state"] == "attempting"
    with pytest.raises(AirflowFailException, match="earlier try"):
        operator().execute({"task_state_store": store})
    assert api_sends(qontak_sandbox) == 0
