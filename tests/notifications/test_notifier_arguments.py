"""QontakNotifier's arguments, each seen on the wire or in the log: what reaches a message, what not."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from qontak_provider.notifications.qontak import QontakNotifier

pytestmark = pytest.mark.integration

NUMBER = "6281234567890"
PROMO_IMAGE = "34d95207-0b48-4ce0-b589-2b7c1519d457"  # IMAGE header, no body values
FEATURE_LINK = "a36ea83e-1b63-41e9-a91b-bad2390531e9"  # a URL button with one value
ORDER_UPDATE_ID = "c3a08e21-a685-569a-a266-1f4be11b6bd5"  # order_update in "id": body {{1}} {{2}}


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> Any:
    caplog.set_level(logging.INFO)

    def text() -> str:
        captured = capsys.readouterr()
        return captured.out + captured.err + caplog.text

    return text


def _send(notifier: QontakNotifier, mode: str, context: dict[str, Any] | None = None) -> None:
    notifier.render_template_fields(context or {})
    if mode == "sync":
        notifier.notify(context or {})
    else:
        asyncio.run(notifier.async_notify(context or {}))


def _body(send: dict[str, Any]) -> list[str]:
    return [p["value_text"] for p in send["body"]["parameters"]["body"]]


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


@MODES
def test_header_url_and_filename_reach_the_header(qontak_sandbox: Any, mode: str) -> None:
    notifier = QontakNotifier(
        to_numbers=NUMBER,
        template_id=PROMO_IMAGE,
        header_url="https://cdn.example.com/promo.png",
        header_filename="Promo Desember.png",  # not the URL's own name
    )
    _send(notifier, mode)
    (send,) = qontak_sandbox.sends()
    params = {p["key"]: p["value"] for p in send["body"]["parameters"]["header"]["params"]}
    assert params == {"url": "https://cdn.example.com/promo.png", "filename": "Promo Desember.png"}


@MODES
def test_buttons_reach_the_message(qontak_sandbox: Any, mode: str) -> None:
    _send(QontakNotifier(to_numbers=NUMBER, template_id=FEATURE_LINK, buttons=["dag-billing"]), mode)
    (send,) = qontak_sandbox.sends()
    assert [b["value"] for b in send["body"]["parameters"]["buttons"]] == ["dag-billing"]


@MODES
def test_a_language_given_is_sent_as_given_with_a_warning(qontak_sandbox: Any, logs: Any, mode: str) -> None:
    notifier = QontakNotifier(
        to_numbers=NUMBER, template_id=ORDER_UPDATE_ID, language="en", body=["A-1", "dikirim"]
    )
    _send(notifier, mode)
    (send,) = qontak_sandbox.sends()
    assert send["body"]["language"] == {"code": "en"}
    if mode == "sync":  # the async path looks the template up by id as well, and warns the same way
        assert "language.code 'en' differs from the language of template 'order_update' ('id')" in logs()


def test_no_language_given_sends_the_templates_own_without_a_warning(qontak_sandbox: Any, logs: Any) -> None:
    _send(QontakNotifier(to_numbers=NUMBER, template_id=ORDER_UPDATE_ID, body=["A-1", "dikirim"]), "sync")
    (send,) = qontak_sandbox.sends()
    assert send["body"]["language"] == {"code": "id"}
    assert "differs from the language" not in logs()


def test_numbers_written_nationally_follow_the_connections_region(
    qontak_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_QONTAK_DEFAULT", qontak_sandbox.conn_json(default_region="MY"))
    _send(QontakNotifier(to_numbers="012-345 6789", template_id=FEATURE_LINK, buttons=["x"]), "sync")
    assert [s["to_number"] for s in qontak_sandbox.sends()] == ["60123456789"]


def test_empty_items_between_separators_are_ignored(qontak_sandbox: Any, logs: Any) -> None:
    _send(QontakNotifier(to_numbers=f"{NUMBER},, ;", template_id=FEATURE_LINK, buttons=["x"]), "sync")
    assert [s["to_number"] for s in qontak_sandbox.sends()] == [NUMBER]
    assert "could not be sent" not in logs()


def test_numbers_rendering_to_nothing_are_named_in_the_log(qontak_sandbox: Any, logs: Any) -> None:
    _send(QontakNotifier(to_numbers="{{ '' }}", template_id=FEATURE_LINK, buttons=["x"]), "sync")
    assert qontak_sandbox.sends() == []
    assert (
        "Qontak notification could not be sent (the original failure is unaffected): ValueError: "
        "to_numbers rendered to no phone number." in logs()
    )


@pytest.mark.parametrize(
    ("value", "limit", "sent"),
    [
        ("exactly10!", 10, "exactly10!"),  # at the limit: kept whole
        ("abcd   efgh", 6, "abcd…"),  # cut, then trailing spaces dropped before the ellipsis
        ("  \n\t ", 10, "-"),  # WhatsApp refuses an empty value
        ("line one\n\tline   two", 40, "line one line two"),  # one line
        ("xy", 1, "…"),  # the smallest limit
    ],
)
def test_body_values_are_made_acceptable(qontak_sandbox: Any, value: str, limit: int, sent: str) -> None:
    for body in ([value, "ok"], {"1": value, "2": "ok"}):
        qontak_sandbox.reset()
        notifier = QontakNotifier(
            to_numbers=NUMBER, template_id=ORDER_UPDATE_ID, body=body, max_param_length=max(limit, 1)
        )
        _send(notifier, "sync")
        (send,) = qontak_sandbox.sends()
        assert _body(send)[0] == sent, body


def test_a_list_inside_a_body_value_is_refused_naming_the_field(qontak_sandbox: Any, logs: Any) -> None:
    _send(QontakNotifier(to_numbers=NUMBER, template_id=ORDER_UPDATE_ID, body={"1": ["a"], "2": "b"}), "sync")
    assert qontak_sandbox.sends() == []
    assert "parameters.body" in logs()


def test_the_apis_own_body_form_is_passed_through(qontak_sandbox: Any) -> None:
    body = [
        {"key": "1", "value_text": "A-1", "value": "order"},
        {"key": "2", "value_text": "dikirim", "value": "status"},
    ]
    _send(QontakNotifier(to_numbers=NUMBER, template_id=ORDER_UPDATE_ID, body=body), "sync")
    (send,) = qontak_sandbox.sends()
    assert send["body"]["parameters"]["body"] == body


def test_max_param_length_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^max_param_length must be at least 1, got 0\.$"):
        QontakNotifier(to_numbers=NUMBER, template_id="t", max_param_length=0)


def test_repr_names_the_template_id() -> None:
    notifier = QontakNotifier(to_numbers=NUMBER, template_id="t-1", qontak_conn_id="alerts")
    assert repr(notifier) == "QontakNotifier(template_id='t-1', qontak_conn_id='alerts')"


def test_header_file_and_header_url_together_send_nothing(
    qontak_sandbox: Any, tmp_path: Any, logs: Any
) -> None:
    image = tmp_path / "promo.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    notifier = QontakNotifier(
        to_numbers=NUMBER,
        template_id=PROMO_IMAGE,
        header_file=str(image),
        header_url="https://x.example/a.png",
    )
    _send(notifier, "sync")
    assert qontak_sandbox.sends() == [] and qontak_sandbox.uploads() == []
    text = logs()
    assert "could not be sent" in text and "header_file" in text and "https://x.example/a.png" in text


def test_a_failure_before_any_number_is_logged_without_a_number(qontak_sandbox: Any, logs: Any) -> None:
    _send(QontakNotifier(to_numbers=NUMBER, template_id="00000000-0000-4000-8000-000000000000"), "sync")
    text = logs()
    assert "Qontak notification could not be sent (the original failure is unaffected): " in text
    assert " to 62" not in text


@pytest.mark.parametrize("native", [True, False])
def test_a_serialized_dags_native_rendering_is_honoured(qontak_sandbox: Any, native: bool) -> None:
    """DAG-level callbacks may get a SerializedDAG (no get_template_env, apache/airflow#64649)."""
    serialized = pytest.importorskip("airflow.serialization.definitions.dag").SerializedDAG(dag_id="billing")
    serialized.render_template_as_native_obj = native
    notifier = QontakNotifier(
        to_numbers=NUMBER, template_id=ORDER_UPDATE_ID, body="{{ ['A-1', dag.dag_id] }}"
    )
    _send(notifier, "sync", {"dag": serialized})
    if native:
        (send,) = qontak_sandbox.sends()
        assert _body(send) == ["A-1", "billing"]
    else:  # a string "['A-1', 'billing']" is not a body: refused, nothing sent
        assert qontak_sandbox.sends() == []


def test_a_dag_like_object_without_rendering_settings_renders_strings(qontak_sandbox: Any) -> None:
    from types import SimpleNamespace

    notifier = QontakNotifier(
        to_numbers=NUMBER, template_id=ORDER_UPDATE_ID, body=["{{ dag.dag_id }}", "{{ 1 + 1 }}"]
    )
    _send(notifier, "sync", {"dag": SimpleNamespace(dag_id="billing")})
    (send,) = qontak_sandbox.sends()
    assert _body(send) == ["billing", "2"]


@pytest.mark.parametrize(
    ("to_numbers", "sent"),
    [
        ("{{ 6281234567890 }}", [NUMBER]),  # one number, rendered natively to an int
        ("{{ 6281234567890.0 }}", [NUMBER]),  # ... or a whole float, as JSON and spreadsheets give it
        ("{{ ['0812 3456 7890', 6281298765432] }}", [NUMBER, "6281298765432"]),
    ],
)
def test_natively_rendered_numbers_are_sent(qontak_sandbox: Any, to_numbers: str, sent: list[str]) -> None:
    import pendulum
    from airflow.sdk import DAG

    start = pendulum.datetime(2026, 1, 1)
    dag = DAG("billing", schedule=None, start_date=start, render_template_as_native_obj=True)
    notifier = QontakNotifier(to_numbers=to_numbers, template_id=FEATURE_LINK, buttons=["x"])
    _send(notifier, "sync", {"dag": dag})
    assert [s["to_number"] for s in qontak_sandbox.sends()] == sent


def test_to_numbers_of_another_type_is_refused_naming_the_field(qontak_sandbox: Any, logs: Any) -> None:
    _send(QontakNotifier(to_numbers={"a": 1}, template_id=FEATURE_LINK, buttons=["x"]), "sync")
    assert qontak_sandbox.sends() == []
    assert "ValueError: to_numbers: expected phone numbers (text or a list), got dict." in logs()
