"""QontakBulkSendOperator in-process against the sandbox: its options, log lines and failure messages."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from qontak_provider.operators._send import as_path
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
    kwargs.setdefault("rate_per_minute", 6000)  # these tests are not about pacing: no waiting for it
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
    assert "); no row was sent. See the task log" in str(info.value)
    assert qontak_sandbox.sends() == []


@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant")
def test_some_invalid_rows_over_the_ratio_say_how_many_were_sent(qontak_sandbox, store):
    data = rows(4)
    data[0]["phone"] = data[1]["phone"] = "12"
    with pytest.raises(AirflowFailException, match="the 2 valid rows were sent"):
        bulk(data, max_invalid_ratio=0.25).execute({"task_state_store": store})
    assert len(qontak_sandbox.sends()) == 2


@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant")
def test_one_valid_row_sent_is_said_in_the_singular(qontak_sandbox, store):
    data = rows(3)
    data[0]["phone"] = data[1]["phone"] = "12"
    with pytest.raises(AirflowFailException) as info:
        bulk(data, max_invalid_ratio=0.5).execute({"task_state_store": store})
    assert "2 of 3 rows are invalid (66.7% > max_invalid_ratio 50.0%); the 1 valid row was sent." in str(
        info.value
    )
    assert len(qontak_sandbox.sends()) == 1


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


@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant")
def test_invalid_rows_exactly_at_max_invalid_ratio_do_not_fail_the_task(qontak_sandbox, store):
    data = rows(4)
    data[3]["phone"] = "12"
    summary = bulk(data, max_invalid_ratio=0.25).execute({"task_state_store": store})  # 1 of 4: not above
    assert summary["sent"] == 3 and summary["invalid"] == 1
    assert len(qontak_sandbox.sends()) == 3


@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant")
def test_the_default_max_invalid_ratio_tolerates_five_percent_and_no_more(qontak_sandbox, store):
    data = rows(20)
    data[7]["phone"] = "12"
    summary = bulk(data, rate_per_minute=60_000).execute({"task_state_store": store})  # 1 of 20 = 5 %
    assert summary["sent"] == 19 and summary["invalid"] == 1
    data = rows(19, amount="Rp 2")  # another message: another journal
    data[3]["phone"] = "12"  # 1 of 19 = 5.3 %
    expected = r"1 of 19 rows are invalid \(5\.3% > max_invalid_ratio 5\.0%\)"
    with pytest.raises(AirflowFailException, match=expected):
        bulk(data, journal_key="second", rate_per_minute=60_000).execute({"task_state_store": store})


@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant")
def test_one_invalid_row_of_one_is_a_share_of_one(qontak_sandbox, store):
    with pytest.raises(AirflowFailException, match=r"1 of 1 rows are invalid \(100\.0%"):
        bulk(rows(1, phone="12"), max_invalid_ratio=0.6).execute({"task_state_store": store})


@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant")
def test_no_rows_send_nothing_and_succeed(qontak_sandbox, store):
    summary = bulk([]).execute({"task_state_store": store})
    assert summary["rows"] == 0 and summary["sent"] == 0 and summary["invalid"] == 0
    assert qontak_sandbox.sends() == []


@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant")
def test_max_invalid_ratio_none_never_fails_on_invalid_rows(qontak_sandbox, store):
    summary = bulk(rows(3, phone="12"), max_invalid_ratio=None).execute({"task_state_store": store})
    assert summary["invalid"] == 3 and summary["sent"] == 0


@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant")
@pytest.mark.parametrize("scheme", ["", "file://"])
def test_recipients_and_results_given_as_path_strings(qontak_sandbox, store, tmp_path, scheme):
    source = tmp_path / "rows.csv"
    source.write_text("id,phone,name,amount,due\nC000,0812-0000-0000,Ani,Rp 1,1 Mei\n")
    results = tmp_path / "results.jsonl"
    task = bulk(f"{scheme}{source}", results_path=f"{scheme}{results}")
    summary = task.execute({"task_state_store": store})
    assert summary["sent"] == 1 and summary["results_path"] == f"{scheme}{results}"
    assert qontak_sandbox.counts() == {"6281200000000": 1}
    (line,) = results.read_text().splitlines()
    assert '"key": "C000"' in line and '"outcome": "sent"' in line
    kind = type(as_path(f"{scheme}{source}")).__name__
    assert kind == ("ObjectStoragePath" if scheme else "PosixPath")
    assert as_path(source) is source  # a path object is used as it is


def test_a_single_dict_is_not_a_recipient_list(qontak_sandbox, store):
    with pytest.raises(ValueError, match="not a single dict"):
        bulk({"phone": "0812"}).execute({"task_state_store": store})


class LazyRows:
    """Like Airflow's lazy XCom sequence: has a length and can be iterated, but is no list."""

    def __init__(self, items):
        self._items = items

    def __len__(self):
        return len(self._items)

    def __iter__(self):
        return iter(self._items)


def test_the_rows_are_stored_as_their_count_unless_show_numbers(tmp_path):
    data = rows(2)
    task = bulk(data)
    task.render_template_fields({})
    shown = "[2 recipient rows, not shown: they hold phone numbers (show_numbers=True shows)]"
    assert task.recipients == shown
    assert task.real("recipients") == data
    for value in (tuple(data), LazyRows(data)):
        assert task.shown_value("recipients", value).startswith("[2 recipient rows")
    visible = bulk(data, show_numbers=True)
    visible.render_template_fields({})
    assert visible.recipients == data == visible.real("recipients")
    from airflow.sdk import ObjectStoragePath

    remote = ObjectStoragePath(f"file://{tmp_path}/rows.csv")
    for value in (
        str(tmp_path / "rows.csv"),
        tmp_path / "rows.csv",
        remote,
        {"phone": "0812"},
        b"x",
        iter(data),
    ):
        assert task.shown_value("recipients", value) is value  # a path, a file, anything not a row list
    assert task.shown_value("template_name", data) is data


@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant", fail_after=1.0)
def test_the_whole_message_of_many_rows_in_doubt(qontak_sandbox, store, tmp_path, capsys):
    """What the on-call reads: how many, which rows (ten, then a count), where the rest is, how to resend."""
    results = tmp_path / "results.csv"
    with pytest.raises(AirflowFailException) as info:
        bulk(rows(12), results_path=str(results)).execute({"task_state_store": store})
    listed = ", ".join(f"C{i:03d}" for i in range(10))
    assert str(info.value) == (
        f"12 row(s) are in doubt: Qontak may or may not have sent them, so they were NOT sent again (rows "
        f"{listed} and 2 more; every row is in results_path {results}). Every other row is done. Check those "
        "recipients in the Qontak inbox or the broadcast list. To resend them deliberately (their recipients "
        "may get the message twice), set resend_in_doubt=True on this task (it is templated, e.g. "
        "'{{ params.resend_in_doubt }}') and clear it: only the rows in doubt are sent again. "
        "fail_on_in_doubt=False only warns."
    )
    logged = capsys.readouterr().out
    assert "In doubt: row C011 (62812*****011): QontakSendInDoubtError: " in logged
