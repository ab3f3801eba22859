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
    assert any(line.startswith("Row C002 (08120****002): invalid: parameters.body") for line in lines), lines
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
