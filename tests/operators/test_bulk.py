"""QontakBulkSendOperator in-process against the sandbox: its options, log lines and failure messages."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from qontak_provider.operators.bulk import QontakBulkSendOperator

BODY = {"1": "{{ row.name }}", "2": "{{ row.amount }}", "3": "{{ row.due }}"}


def rows(n: int, **overrides: object) -> list[dict[str, object]]:
    return [
        {"id": f"C{i:03d}", "phone": f"0812{i:08d}", "name": f"Name {i}", "amount": "Rp 1", "due": "1 Mei"}
        | overrides
        for i in range(n)
    ]


def bulk(recipients: object, **kwargs: object) -> QontakBulkSendOperator:
    kwargs.setdefault("template_name", "payment_reminder")
    kwargs.setdefault("body", BODY)
    kwargs.setdefault("key_column", "id")
    return QontakBulkSendOperator(task_id="bulk", recipients=recipients, **kwargs)  # type: ignore[arg-type]


@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant")
def test_invalid_rows_are_logged_with_their_key_and_a_masked_number(qontak_sandbox, store, capsys):
    data = rows(3)
    data[1]["phone"] = "0812-0000-0000-0000-00"  # too long to be a number
    data[2]["name"] = "tab\tin a value"
    result = bulk(data, max_invalid_ratio=None).execute({"task_state_store": store})
    assert result["sent"] == 1 and result["invalid"] == 2
    # the task logger writes through structlog to stdout
    lines = [line.split("] ", 1)[1] for line in capsys.readouterr().out.splitlines() if "] Row " in line]
    assert any(line.startswith("Row C001 (08120**********000): invalid: to_number") for line in lines), lines
    # the name (also the recipient's name) holds a tab: refused naming the field
    assert any(line.startswith("Row C002 (08120****002): invalid: to_name") for line in lines), lines
    assert not any("(None)" in line for line in lines)


@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant")
def test_a_run_of_only_invalid_rows_says_no_row_was_sent(qontak_sandbox, store):
    with pytest.raises(AirflowFailException) as info:
        bulk(rows(2, phone="12")).execute({"task_state_store": store})
    assert "2 of 2 rows are invalid" in str(info.value)
    assert "no row was sent" in str(info.value) and "valid rows were sent" not in str(info.value)
    assert qontak_sandbox.sends() == []


@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant")
def test_some_invalid_rows_over_the_ratio_say_how_many_were_sent(qontak_sandbox, store):
    data = rows(4)
    data[0]["phone"] = data[1]["phone"] = "12"
    with pytest.raises(AirflowFailException, match="the 2 valid rows were sent"):
        bulk(data, max_invalid_ratio=0.25).execute({"task_state_store": store})
    assert len(qontak_sandbox.sends()) == 2


@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant", fail_after=1.0)
def test_rows_in_doubt_fail_the_task_after_every_other_row_and_say_how_to_resend(qontak_sandbox, store):
    data = rows(3)
    data[2]["phone"] = "12"  # an invalid row is still reported as usual
    with pytest.raises(AirflowFailException) as info:
        bulk(data, max_invalid_ratio=None).execute({"task_state_store": store})
    message = str(info.value)
    assert "2 row(s) are in doubt" in message and "rows C000, C001" in message
    assert "resend_in_doubt=True" in message and "clear" in message
    assert "0812" not in message and "62812" not in message  # keys, never numbers
    # a retry of the task does not send them again...
    qontak_sandbox.update_settings(fail_after=0.0)
    with pytest.raises(AirflowFailException, match="2 row"):
        bulk(data, max_invalid_ratio=None).execute({"task_state_store": store})
    assert sorted(qontak_sandbox.counts().values()) == [1, 1]
    # ...until it is asked to, deliberately: then exactly the rows in doubt go out again
    result = bulk(data, max_invalid_ratio=None, resend_in_doubt="{{ params.resend }}")
    result.resend_in_doubt = "True"  # as rendered from params
    summary = result.execute({"task_state_store": store})
    assert summary["sent"] == 2 and summary["in_doubt"] == 0
    assert sorted(qontak_sandbox.counts().values()) == [2, 2]


@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant", fail_after=1.0)
def test_fail_on_in_doubt_false_only_warns(qontak_sandbox, store):
    summary = bulk(rows(2), fail_on_in_doubt=False).execute({"task_state_store": store})
    assert summary["in_doubt"] == 2 and summary["in_doubt_keys"] == ["C000", "C001"]


@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant")
def test_one_customer_listed_three_ways_gets_one_message(qontak_sandbox, store):
    data = rows(1) * 3
    data[1] = data[1] | {"id": "C001", "phone": "+62 812 0000 0000"}
    data[2] = data[2] | {"id": "C002", "phone": "6281200000000"}
    summary = bulk(data).execute({"task_state_store": store})
    assert summary["sent"] == 1 and summary["duplicate"] == 2
    assert qontak_sandbox.counts() == {"6281200000000": 1}
    again = bulk(data, send_duplicates=True, journal_key="another_run").execute({"task_state_store": store})
    assert again["sent"] == 3
