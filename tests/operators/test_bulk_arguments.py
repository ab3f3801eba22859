"""QontakBulkSendOperator's arguments, each seen on the wire, and its closing messages word for word."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from qontak_provider.operators.bulk import QontakBulkSendOperator

pytestmark = pytest.mark.qontak_sandbox(rate_limit=0, clock="instant")

ORDER_SHIPPED = "bdb23f6d-1798-577d-8c26-a0ba4fd8db74"  # body {{1}} {{2}}, URL button {{1}}
PROMO_IMAGE = "34d95207-0b48-4ce0-b589-2b7c1519d457"  # IMAGE header, no body values


def bulk(recipients: object, **kwargs: Any) -> QontakBulkSendOperator:
    arguments: dict[str, Any] = {"template_id": ORDER_SHIPPED, "rate_per_minute": 6000}
    return QontakBulkSendOperator(task_id="bulk", recipients=recipients, **{**arguments, **kwargs})


def wire(sandbox: Any) -> list[dict[str, Any]]:
    return [s["body"] for s in sandbox.sends()]


def test_named_columns_fill_the_number_the_name_and_the_body(qontak_sandbox: Any, store: Any) -> None:
    data = [{"hp": "0812 3456 7890", "pelanggan": "Budi", "order": "A-1", "days": "2", "track": "a1"}]
    bulk(
        data,
        number_column="hp",
        name_column="pelanggan",
        body_columns=["order", "days"],
        buttons=["{{ row.track }}"],
    ).execute({"task_state_store": store})
    (sent,) = wire(qontak_sandbox)
    assert sent["to_number"] == "6281234567890" and sent["to_name"] == "Budi"
    assert [p["value_text"] for p in sent["parameters"]["body"]] == ["A-1", "2"]
    assert [b["value"] for b in sent["parameters"]["buttons"]] == ["a1"]


def test_row_params_win_over_the_options(qontak_sandbox: Any, store: Any) -> None:
    data = [{"phone": "081234567890", "name": "Budi", "order": "A-1"}]
    bulk(
        data,
        body=["{{ row.order }}", "3"],
        buttons=["x"],
        row_params=lambda row: {"to_name": row["name"].upper(), "buttons": [row["order"].lower()]},
    ).execute({"task_state_store": store})
    (sent,) = wire(qontak_sandbox)
    assert sent["to_name"] == "BUDI" and [b["value"] for b in sent["parameters"]["buttons"]] == ["a-1"]


def test_header_url_and_filename_are_rendered_per_row(qontak_sandbox: Any, store: Any) -> None:
    data = [{"phone": "081234567890", "name": "Budi", "img": "https://cdn.example.com/b.png"}]
    bulk(
        data, template_id=PROMO_IMAGE, header_url="{{ row.img }}", header_filename="promo-{{ row.name }}.png"
    ).execute({"task_state_store": store})
    (sent,) = wire(qontak_sandbox)
    params = {p["key"]: p["value"] for p in sent["parameters"]["header"]["params"]}
    assert params == {"url": "https://cdn.example.com/b.png", "filename": "promo-Budi.png"}


def test_the_language_given_is_sent_and_national_numbers_follow_the_connections_region(
    qontak_sandbox: Any, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_QONTAK_DEFAULT", qontak_sandbox.conn_json(default_region="MY"))
    data = [{"phone": "012-345 6789", "name": "Aminah"}]
    bulk(data, body=["A-1", "2"], buttons=["x"], language="en").execute({"task_state_store": store})
    (sent,) = wire(qontak_sandbox)
    assert sent["to_number"] == "60123456789" and sent["language"] == {"code": "en"}


def test_repeated_rows_are_named_in_a_warning(
    qontak_sandbox: Any, store: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    data = [{"phone": "081234567890", "name": "Budi"}] * 3
    bulk(data, body=["A-1", "2"], buttons=["x"]).execute({"task_state_store": store})
    assert (
        "2 row(s) repeat an earlier row's number and message: each recipient got the message once "
        "(send_duplicates=True sends every row)." in capsys.readouterr().out
    )


def test_too_many_invalid_rows_fail_with_the_whole_message(qontak_sandbox: Any, store: Any) -> None:
    data = [{"phone": "12", "name": "A"}, {"phone": "081234567890", "name": "B"}]
    with pytest.raises(AirflowFailException) as caught:
        bulk(data, body=["A-1", "2"], buttons=["x"]).execute({"task_state_store": store})
    assert str(caught.value) == (
        "1 of 2 rows are invalid (50.0% > max_invalid_ratio 5.0%); the 1 valid row was sent. See the task "
        "log or results_path for the reasons; fix the input and clear the task to continue."
    )


def test_rows_qontak_never_processed_leave_the_task_to_be_retried(qontak_sandbox: Any, store: Any) -> None:
    from qontak_provider.client.errors import QontakRateLimitError

    data = [{"phone": "081234567890", "name": "B"}, {"phone": "081298765432", "name": "C"}]
    task = bulk(data, body=["A-1", "2"], buttons=["x"])

    def slow_down(request: Any, **kwargs: Any) -> Any:
        raise QontakRateLimitError("HTTP 429 after the client's retries")  # provably not sent

    task.hook.client.send_direct = slow_down  # type: ignore[method-assign]
    with pytest.raises(AirflowException) as caught:
        task.execute({"task_state_store": store})
    assert not isinstance(caught.value, AirflowFailException)  # a retry sends them
    assert str(caught.value) == (
        "2 rows could not be sent (rate limit or connection failures that Qontak never processed); a retry "
        "of this task sends them, and only them."
    )


@pytest.mark.parametrize(("in_doubt", "more"), [(10, ""), (11, " and 1 more")])
@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant", fail_after=1.0)
def test_ten_rows_in_doubt_are_listed_and_beyond_ten_counted(
    qontak_sandbox: Any, store: Any, in_doubt: int, more: str
) -> None:
    data = [{"id": f"K{i}", "phone": f"0812{i:08d}", "name": "N"} for i in range(in_doubt)]
    with pytest.raises(AirflowFailException) as caught:
        bulk(data, key_column="id", body=["A-1", "2"], buttons=["x"]).execute({"task_state_store": store})
    listed = ", ".join(f"K{i}" for i in range(10))
    assert f"(rows {listed}{more}; every row is in the task log above)" in str(caught.value)


def test_without_a_task_instance_the_run_says_a_retry_would_start_over(
    qontak_sandbox: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    bulk([{"phone": "081234567890", "name": "B"}], body=["A-1", "2"], buttons=["x"]).execute({})
    assert (
        "No task instance (execute() called directly): progress is kept in memory only, so a retry would "
        "start over" in capsys.readouterr().out
    )


def test_a_channel_that_is_not_text_is_refused_before_any_send(qontak_sandbox: Any, store: Any) -> None:
    data = [{"phone": "081234567890", "name": "B"}]
    with pytest.raises(
        AirflowFailException,
        match=r"^Invalid Qontak bulk send, nothing was sent: channel_integration_id: expected a channel "
        r"integration id, got '<list>'$",
    ):
        bulk(data, channel_integration_id=["a"], body=["A-1", "2"], buttons=["x"]).execute(
            {"task_state_store": store}
        )
    assert qontak_sandbox.sends() == []


def test_templates_of_one_name_in_two_languages_are_told_apart(qontak_sandbox: Any) -> None:
    from qontak_provider.operators._send import resolve_template

    hook = bulk([]).hook
    indonesian = resolve_template(hook, template_id=None, template_name="order_update", language="id")
    english = resolve_template(hook, template_id=None, template_name="order_update", language="en_US")
    assert (indonesian.language, english.language) == ("id", "en_US")
    by_id = [
        resolve_template(hook, template_id=t, template_name=None, language=None)
        for t in (ORDER_SHIPPED, PROMO_IMAGE)
    ]
    assert [t.id for t in by_id] == [ORDER_SHIPPED, PROMO_IMAGE]  # cached apart


def test_the_documented_defaults(qontak_sandbox: Any) -> None:
    task = QontakBulkSendOperator(task_id="bulk", recipients=[], template_name="x")
    assert (task.max_concurrency, task.max_xcom_ids, task.progress_interval, task.checkpoint_interval) == (
        8,
        1000,
        10.0,
        5.0,
    )
    assert task.journal_key == "qontak_bulk" and task.max_invalid_ratio == 0.05
    assert task.hook.rate_per_minute == 60  # the connection's, 60 unless set


def test_the_run_is_announced_with_its_template_size_rate_and_try(
    qontak_sandbox: Any, store: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    data = [{"phone": "081234567890", "name": "B"}, {"phone": "081298765432", "name": "C"}]
    ti = type("TI", (), {"try_number": 3})()
    result = bulk(data, body=["A-1", "2"], buttons=["x"], max_concurrency=2).execute(
        {"task_state_store": store, "ti": ti}
    )
    logged = capsys.readouterr().out
    assert (
        "Bulk send of template 'order_shipped' (id) to 2 rows at 6000/min, 2 in flight at most (try 3)"
        in logged
    )
    assert "| 2 of 2 rows (100.0%), 0 remaining |" in logged  # the progress line knows the total
    assert result["try"] == 3 and result["template_id"] == ORDER_SHIPPED and result["results_path"] is None


def test_a_file_of_rows_is_a_stream_and_file_format_wins_over_its_extension(
    qontak_sandbox: Any, store: Any, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "customers.txt"
    source.write_text("phone,name\n081234567890,Budi\n")
    results = tmp_path / "results.csv"
    result = bulk(
        str(source),
        file_format="csv",
        body=["A-1", "2"],
        buttons=["x"],
        results_path=str(results),
        rate_per_minute=0,
    ).execute({"task_state_store": store})
    assert result["sent"] == 1 and result["results_path"] == str(results) and results.exists()
    logged = capsys.readouterr().out
    assert "Bulk send of template 'order_shipped' (id) to a stream of rows at unlimited/min" in logged


def test_a_storage_path_object_is_read_as_a_file(qontak_sandbox: Any, store: Any, tmp_path: Any) -> None:
    from airflow.sdk import ObjectStoragePath

    (tmp_path / "customers.csv").write_text("phone,name\n081234567890,Budi\n")
    source = ObjectStoragePath(f"file://{tmp_path}/customers.csv")
    assert bulk(source, body=["A-1", "2"], buttons=["x"]).execute({"task_state_store": store})["sent"] == 1


def test_rows_holding_dates_and_tuples_are_sent(qontak_sandbox: Any, store: Any) -> None:
    """Rows from a database query hold dates; a tuple of rows is a list too."""
    import datetime

    data = ({"phone": "081234567890", "name": "Budi", "due": datetime.date(2026, 12, 31)},)
    result = bulk(data, body=["{{ row.due }}", "2"], buttons=["x"]).execute({"task_state_store": store})
    assert result["sent"] == 1
    assert wire(qontak_sandbox)[0]["parameters"]["body"][0]["value_text"] == "2026-12-31"


def test_a_name_in_two_languages_is_picked_by_language_and_a_mismatch_is_warned(
    qontak_sandbox: Any, store: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    data = [{"phone": "081234567890", "name": "B"}]
    bulk(
        data, template_id=None, template_name="order_update", language="en_US", body=["A-1", "sent"]
    ).execute({"task_state_store": store})
    assert wire(qontak_sandbox)[0]["message_template_id"] == "83c168c4-7f00-5487-abee-bd5856d6d88a"
    bulk(data, language="en", body=["A-1", "2"], buttons=["x"], journal_key="second").execute(
        {"task_state_store": store}
    )
    logged = capsys.readouterr().out
    assert (
        "language.code 'en' differs from the language of template 'order_shipped' ('id'); it is sent as given"
        in logged
    )
    assert "Leave the language out to use the template's own. (sent with every row)" in logged


def test_progress_is_logged_at_progress_interval(
    qontak_sandbox: Any, store: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    data = [{"phone": f"0812000000{i:02d}", "name": "B"} for i in range(4)]
    bulk(data, body=["A-1", "2"], buttons=["x"], progress_interval=0.0).execute({"task_state_store": store})
    assert capsys.readouterr().out.count("Bulk send progress: ") >= 4  # a line per row, and the last


def test_max_xcom_ids_caps_the_ids_returned(qontak_sandbox: Any, store: Any) -> None:
    data = [{"phone": f"0812000000{i:02d}", "name": "B"} for i in range(3)]
    result = bulk(data, body=["A-1", "2"], buttons=["x"], max_xcom_ids=1).execute({"task_state_store": store})
    assert len(result["broadcast_ids"]) == 1 and result["broadcast_ids_truncated"] is True


def test_resend_in_doubt_is_a_flag(qontak_sandbox: Any, store: Any) -> None:
    with pytest.raises(
        AirflowFailException, match=r"^resend_in_doubt: expected true or false, got 'maybe'\.$"
    ):
        bulk([], body=["A-1", "2"], resend_in_doubt="maybe").execute({"task_state_store": store})


def test_each_row_result_reaches_on_row_result_and_failures_are_logged(
    qontak_sandbox: Any, store: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[Any] = []

    class Counting(QontakBulkSendOperator):
        def on_row_result(self, result: Any) -> None:
            seen.append((result.key, result.outcome))

    data = [{"phone": "12", "name": "A"}, {"phone": "081234567890", "name": "B"}]
    Counting(
        task_id="bulk", recipients=data, template_id=ORDER_SHIPPED, body=["A-1", "2"], buttons=["x"],
        max_invalid_ratio=None, rate_per_minute=6000,
    ).execute({"task_state_store": store})  # fmt: skip
    assert sorted(seen) == [("0", "invalid"), ("1", "sent")]
    assert "Row 0 (**): invalid: to_number: expected a valid phone number" in capsys.readouterr().out


def test_an_unknown_contact_list_fails_without_retry_naming_the_input(
    qontak_sandbox: Any, store: Any
) -> None:
    task = QontakBulkSendOperator(
        task_id="bulk", contact_list_id="00000000-0000-4000-8000-000000000000", template_id=ORDER_SHIPPED
    )
    with pytest.raises(AirflowFailException, match=r"^Qontak bulk send input: not found, nothing was sent: "):
        task.execute({"task_state_store": store})


def test_without_a_task_instance_the_run_is_try_1(
    qontak_sandbox: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    result = bulk([{"phone": "081234567890", "name": "B"}], body=["A-1", "2"], buttons=["x"]).execute({})
    assert result["try"] == 1 and "in flight at most (try 1)" in capsys.readouterr().out


def test_rows_that_failed_or_are_in_doubt_are_logged(
    qontak_sandbox: Any, store: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from qontak_provider.client.errors import QontakRateLimitError, QontakSendInDoubtError

    data = [{"phone": "081234567890", "name": "B"}, {"phone": "081298765432", "name": "C"}]
    task = bulk(data, body=["A-1", "2"], buttons=["x"], fail_on_in_doubt=False, max_concurrency=1)
    answers: list[BaseException] = [QontakSendInDoubtError("read timeout"), QontakRateLimitError("slow down")]

    def send(request: Any, **kwargs: Any) -> Any:
        answer = answers.pop(0)
        if isinstance(answer, QontakSendInDoubtError):
            kwargs["before_write"]()  # the request was on its way: in doubt (before it, provably not sent)
        raise answer

    task.hook.client.send_direct = send  # type: ignore[method-assign]
    with pytest.raises(AirflowException):
        task.execute({"task_state_store": store})
    logged = capsys.readouterr().out
    assert "Row 0 (62812*****890): in_doubt: QontakSendInDoubtError: read timeout" in logged
    assert "Row 1 (62812*****432): failed: QontakRateLimitError: slow down" in logged
