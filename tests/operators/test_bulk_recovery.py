"""QontakBulkSendOperator after a worker died mid-send, in process: the retry reconciles the rows in flight.

The worker's death is the in-process stand-in for the ``kill -9`` of ``tests/airflow/test_bulk_sigkill.py``:
right after a request reached the sandbox (or right after its row was handed over), the task state store
stops taking writes (a dead process writes nothing more) and a ``KeyboardInterrupt`` ends the try. The
journal then holds that row as handed over and unanswered, as it would after a real kill.
"""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from qontak_provider.operators.bulk import QontakBulkSendOperator

pytestmark = pytest.mark.qontak_sandbox(rate_limit=0, clock="instant")

BODY = {"1": "{{ row.name }}", "2": "{{ row.amount }}", "3": "{{ row.due }}"}
#: The row whose request reaches Qontak when the worker dies.
DIES_AT = 2


def rows(n: int) -> list[dict[str, object]]:
    return [
        {"id": f"C{i:03d}", "phone": f"0812{i:08d}", "name": f"Name {i}", "amount": "Rp 1", "due": "1 Mei"}
        for i in range(n)
    ]


def bulk(recipients: object, **kwargs: Any) -> QontakBulkSendOperator:
    arguments: dict[str, Any] = {
        "template_name": "payment_reminder",
        "body": BODY,
        "key_column": "id",
        "rate_per_minute": 6000,
        "max_concurrency": 1,  # one request in flight: the row that dies is the only one unanswered
    }
    return QontakBulkSendOperator(task_id="bulk", recipients=recipients, **{**arguments, **kwargs})


class MortalStore:
    """A task state store that takes no more writes once its process has 'died'."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.dead = False

    def get(self, key: str, default: Any = None) -> Any:
        return self.store.get(key, default)

    def set(self, key: str, value: Any, **kwargs: Any) -> None:
        if not self.dead:
            self.store.set(key, value, **kwargs)

    def delete(self, key: str) -> None:
        if not self.dead:
            self.store.delete(key)


def dies_while_sending(
    operator: QontakBulkSendOperator,
    store: MortalStore,
    at: int = DIES_AT,
    *,
    reached: bool = True,
    twice: bool = False,
) -> None:
    """
    Kill the 'worker' during the ``at``-th send (0-based), after the row was handed over.

    :param reached: the request reached Qontak (its answer is lost with the worker); else it never left.
    :param twice: the same message also reached Qontak a second time (another system sent it meanwhile).
    """
    real = operator.hook.client.send_direct
    calls = {"n": 0}

    def send(request: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] != at + 1:
            return real(request, **kwargs)
        if reached:
            real(request, **kwargs)
            if twice:
                real(request)
        else:
            kwargs["before_write"]()  # handed over in the journal, then the worker dies
        store.dead = True
        raise KeyboardInterrupt

    operator.hook.client.send_direct = send  # type: ignore[method-assign]


def first_try_dies(store: Any, data: list[dict[str, object]], **kwargs: bool) -> None:
    first = bulk(data)
    mortal = MortalStore(store)
    dies_while_sending(first, mortal, **kwargs)
    with pytest.raises(KeyboardInterrupt):
        first.execute({"task_state_store": mortal})


def test_the_retry_finds_the_row_that_was_in_flight_and_sends_the_rest_once(
    qontak_sandbox: Any, store: Any
) -> None:
    data = rows(5)
    first_try_dies(store, data)
    assert len(qontak_sandbox.sends()) == DIES_AT + 1
    result = bulk(data).execute({"task_state_store": store})
    assert qontak_sandbox.counts() == {f"62812{i:08d}": 1 for i in range(5)}  # each customer once
    assert result["in_doubt"] == 0
    assert result["sent"] + result["skipped_already_sent"] == 5
    # the row reconciled carries the broadcast Qontak made for it
    made = {s["broadcast_id"] for s in qontak_sandbox.sends()}
    assert set(result["broadcast_ids"]) <= made and len(made) == 5


@pytest.mark.qontak_sandbox(broadcast_list="absent")
def test_without_the_broadcast_list_the_row_in_flight_is_in_doubt_and_not_sent_again(
    qontak_sandbox: Any, store: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    data = rows(5)
    first_try_dies(store, data)
    in_doubt = r"^1 row\(s\) are in doubt: .*\(rows C002; every row is in the task log above\)"
    with pytest.raises(AirflowFailException, match=in_doubt):
        bulk(data).execute({"task_state_store": store})
    assert len(qontak_sandbox.counts()) == 5 and set(qontak_sandbox.counts().values()) == {1}
    logged = capsys.readouterr().out
    assert "Rows an earlier try left unconfirmed stay in doubt: " in logged
    assert (
        "In doubt: row C002 (62812*****002): an earlier try stopped while this row's request was in flight"
        in logged
    )


def test_a_row_qontak_never_got_is_reported_in_doubt(
    qontak_sandbox: Any, store: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    data = rows(4)
    first_try_dies(store, data, reached=False)
    with pytest.raises(AirflowFailException, match=r"^1 row\(s\) are in doubt"):
        bulk(data).execute({"task_state_store": store})
    assert "Qontak's broadcast list shows no such message (yet)" in capsys.readouterr().out
    assert "6281200000002" not in qontak_sandbox.counts()


def test_resend_unconfirmed_sends_a_row_qontak_never_got(qontak_sandbox: Any, store: Any) -> None:
    data = rows(4)
    first_try_dies(store, data, reached=False)
    result = bulk(data, resend_unconfirmed=True).execute({"task_state_store": store})
    assert qontak_sandbox.counts() == {f"62812{i:08d}": 1 for i in range(4)}
    assert result["in_doubt"] == 0 and result["sent"] == 2  # the unconfirmed row and the one never reached


def test_two_broadcasts_matching_the_row_are_not_chosen_between(
    qontak_sandbox: Any, store: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    data = rows(3)
    first_try_dies(store, data, twice=True)
    with pytest.raises(AirflowFailException, match=r"^1 row\(s\) are in doubt"):
        bulk(data).execute({"task_state_store": store})
    twins = [s["broadcast_id"] for s in qontak_sandbox.sends() if s["to_number"] == "6281200000002"]
    assert len(twins) == 2
    logged = capsys.readouterr().out
    assert any(
        f"several broadcasts match it ({', '.join(order)})" in logged for order in (twins, twins[::-1])
    )


@pytest.mark.parametrize(
    "change",
    [
        {"channel_integration_id": "another-channel"},
        {"recipients": "other rows"},
    ],
    ids=["another channel", "other rows of the same length"],
)
def test_a_retry_with_other_input_is_refused_not_matched_to_the_journal(
    qontak_sandbox: Any, store: Any, change: dict[str, Any]
) -> None:
    data = rows(5)
    first_try_dies(store, data)
    other = [dict(row, name=f"Other {i}") for i, row in enumerate(data)] if "recipients" in change else data
    arguments = {k: v for k, v in change.items() if k != "recipients"}
    refused = (
        r"^Qontak bulk send, nothing was sent: the progress journal 'qontak_bulk' belongs to another input"
    )
    with pytest.raises(AirflowFailException, match=refused + r" or template .*refusing to guess"):
        bulk(other, **arguments).execute({"task_state_store": store})
    assert len(qontak_sandbox.sends()) == DIES_AT + 1


def test_a_retry_with_the_same_rows_in_another_key_order_resumes(qontak_sandbox: Any, store: Any) -> None:
    """An XCom or a JSON file may give the same rows with their keys in another order."""
    data = rows(5)
    first_try_dies(store, data)
    reordered = [dict(reversed(list(row.items()))) for row in data]
    result = bulk(reordered).execute({"task_state_store": store})
    assert qontak_sandbox.counts() == {f"62812{i:08d}": 1 for i in range(5)}
    assert result["in_doubt"] == 0
