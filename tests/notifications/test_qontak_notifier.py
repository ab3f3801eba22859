"""QontakNotifier called directly (sync and async) against the sandbox over a real loopback socket."""

from __future__ import annotations

import asyncio
import json
import logging
from types import SimpleNamespace
from typing import Any

import pendulum
import pytest
from airflow.sdk import DAG

from qontak_provider.notifications.qontak import (
    TASK_FAILURE_BODY,
    QontakNotifier,
    send_qontak_notification,
)
from tests.notifications.alert_template import ALERT_FIXTURES, ALERT_TEMPLATE_ID, ALERT_TEMPLATE_NAME

pytestmark = pytest.mark.integration

NUMBER = "6281234567890"
OTHER = "6281298765432"


@pytest.fixture
def sandbox(qontak_sandbox: Any) -> Any:
    """The sandbox with the recommended alert template added."""
    qontak_sandbox.load_fixtures(ALERT_FIXTURES)
    return qontak_sandbox


class Logs:
    """What the notifier logged: Airflow's structlog writes to stdout, stdlib logging goes to caplog."""

    def __init__(self, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
        self._capsys = capsys
        self._caplog = caplog
        self._seen = ""

    @property
    def text(self) -> str:
        captured = self._capsys.readouterr()
        self._seen += captured.out + captured.err
        return self._seen + self._caplog.text

    def errors(self) -> list[str]:
        return [
            line
            for line in self.text.splitlines()
            if "could not be sent" in line or "may or may not have been sent" in line
        ]


@pytest.fixture
def notifier_logs(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Logs:
    caplog.set_level(logging.INFO)
    return Logs(capsys, caplog)


def _context(dag_id: str = "billing") -> dict[str, Any]:
    dag = DAG(dag_id=dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
    ti = SimpleNamespace(
        task_id="load_invoices",
        try_number=3,
        log_url="http://airflow.example/dags/billing/runs/r1/tasks/load_invoices?try_number=3",
    )
    return {
        "dag": dag,
        "ti": ti,
        "run_id": "manual__2026-05-01T00:00:00+00:00",
        "exception": ValueError("invoice 42 is missing\n\tin   several     places"),
    }


def _notifier(**kwargs: Any) -> QontakNotifier:
    options: dict[str, Any] = {
        "to_numbers": ["+62 812-3456-7890", "0812 9876 5432", "6281234567890"],
        "template_name": ALERT_TEMPLATE_NAME,
        "language": "en_US",
        "body": TASK_FAILURE_BODY,
    }
    options.update(kwargs)
    return QontakNotifier(**options)


def _bodies(sandbox: Any) -> dict[str, dict[str, str]]:
    return {
        s["to_number"]: {p["key"]: p["value_text"] for p in s["body"]["parameters"]["body"]}
        for s in sandbox.sends()
    }


# ---------------------------------------------------------------------------------------------- construction


def test_construction_is_offline_and_validates_arguments(qontak_sandbox: Any) -> None:
    notifier = QontakNotifier(to_numbers="0812", template_name="x")
    assert qontak_sandbox.stats()["total"] == 0
    assert repr(notifier) == "QontakNotifier(template_name='x', qontak_conn_id='qontak_default')"
    assert send_qontak_notification is QontakNotifier
    with pytest.raises(ValueError, match="exactly one of template_id and template_name"):
        QontakNotifier(to_numbers="0812")
    with pytest.raises(ValueError, match="exactly one of template_id and template_name"):
        QontakNotifier(to_numbers="0812", template_id="a", template_name="b")
    with pytest.raises(ValueError, match="at least one number"):
        QontakNotifier(to_numbers=[], template_id="a")
    with pytest.raises(TypeError):
        QontakNotifier("0812", "x")  # type: ignore[misc]
    for field in ("qontak_conn_id", "to_numbers", "template_id", "template_name", "language", "body",
                  "channel_integration_id", "to_name"):  # fmt: skip
        assert field in QontakNotifier.template_fields


# ------------------------------------------------------------------------------------------------------ sync


def test_notify_renders_context_and_sends_one_message_per_person(sandbox: Any, notifier_logs: Logs) -> None:
    _notifier()(_context())
    sends = sandbox.sends()
    assert sorted(s["to_number"] for s in sends) == [NUMBER, OTHER]  # the duplicate got no 2nd message
    assert {s["message_template_id"] for s in sends} == {ALERT_TEMPLATE_ID}
    assert {s["body"]["to_name"] for s in sends} == {"Airflow alerts"}
    assert {s["body"]["channel_integration_id"] for s in sends} == {sandbox.channel_integration_id}
    assert _bodies(sandbox)[NUMBER] == {
        "1": "load_invoices",
        "2": "billing",
        "3": "manual__2026-05-01T00:00:00+00:00",
        "4": "3",
        "5": "invoice 42 is missing in several places",  # one line, single spaces
        "6": "http://airflow.example/dags/billing/runs/r1/tasks/load_invoices?try_number=3",
    }
    log = notifier_logs.text
    assert "Qontak notification sent to 62812*****890" in log
    assert NUMBER not in log and OTHER not in log


@pytest.mark.parametrize(
    "numbers",
    [
        ["+62 812-3456-7890", "0812 3456 7890", "0812 9876 5432"],
        "6281234567890; 0812-3456-7890, +6281298765432",
    ],
    ids=["list", "text"],
)
def test_the_same_number_in_two_formats_gets_one_message_and_the_next_number_still_does(
    sandbox: Any, numbers: Any, notifier_logs: Logs
) -> None:
    _notifier(to_numbers=numbers)(_context())
    assert sandbox.counts() == {NUMBER: 1, OTHER: 1}
    assert [s["to_number"] for s in sandbox.sends()] == [NUMBER, OTHER]  # in the order given
    assert notifier_logs.text.count("Qontak notification sent to") == 2
    assert notifier_logs.errors() == []


def test_template_id_channel_and_templated_numbers(sandbox: Any) -> None:
    notifier = _notifier(
        template_name=None,
        template_id="{{ params.template }}",
        to_numbers="{{ params.who }}",
        channel_integration_id="{{ params.channel }}",
        to_name="{{ dag.dag_id }} on-call",
        max_param_length=10,
    )
    context = _context() | {
        "params": {
            "template": ALERT_TEMPLATE_ID,
            "who": "0812-3456-7890",
            "channel": sandbox.channel_integration_id,
        }
    }
    notifier(context)
    (send,) = sandbox.sends()
    assert send["to_number"] == NUMBER
    assert send["body"]["to_name"] == "billing on-call"
    body = _bodies(sandbox)[NUMBER]
    assert body["3"] == "manual__2…"  # cut to max_param_length
    assert len(body["6"]) == 10


def test_bad_number_is_skipped_and_logged_masked_others_still_alerted(
    sandbox: Any, notifier_logs: Logs
) -> None:
    _notifier(to_numbers="12345678901234567, +62 812-3456-7890")(_context())
    assert [s["to_number"] for s in sandbox.sends()] == [NUMBER]
    assert "to_number" in notifier_logs.text
    assert "12345678901234567" not in notifier_logs.text


def test_wrong_secret_is_logged_not_raised(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, notifier_logs: Logs
) -> None:
    conn = sandbox.conn_dict()
    conn["password"] = "definitely-wrong-secret"
    monkeypatch.setenv("AIRFLOW_CONN_QONTAK_DEFAULT", json.dumps(conn))
    _notifier()(_context())  # must not raise
    assert sandbox.sends() == []
    errors = notifier_logs.errors()
    assert any("401" in m for m in errors), errors
    assert "definitely-wrong-secret" not in notifier_logs.text
    assert sandbox.client_secret not in notifier_logs.text


@pytest.mark.qontak_sandbox(fail_after=1.0)
def test_sandbox_fault_is_logged_not_raised(sandbox: Any, notifier_logs: Logs) -> None:
    _notifier(to_numbers=["+62 812-3456-7890"])(_context())
    errors = notifier_logs.errors()
    # Qontak recorded the broadcast and then answered 500: the log must not claim it was not sent.
    said = "Qontak notification to 62812*****890 may or may not have been sent; it is not sent again"
    assert any(said in m for m in errors), errors
    assert NUMBER not in notifier_logs.text


def test_a_send_refused_before_it_left_says_could_not_be_sent_and_the_next_number_is_alerted(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, notifier_logs: Logs
) -> None:
    from qontak_provider.client.errors import QontakRateLimitError
    from qontak_provider.hooks.qontak import QontakHook

    original = QontakHook.send_direct

    def refuse_the_first(hook: QontakHook, request: Any) -> Any:
        if request.to_number == NUMBER:
            raise QontakRateLimitError("Too many requests")  # answered 429: provably not sent
        return original(hook, request)

    monkeypatch.setattr(QontakHook, "send_direct", refuse_the_first)
    _notifier(to_numbers=["+62 812-3456-7890", "0812 9876 5432"])(_context())
    assert [s["to_number"] for s in sandbox.sends()] == [OTHER]
    (error,) = notifier_logs.errors()
    assert (
        "Qontak notification to 62812*****890 could not be sent (the original failure is unaffected): "
        "QontakRateLimitError: Too many requests" in error
    ), error


def test_unknown_template_and_missing_connection_are_logged(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, notifier_logs: Logs
) -> None:
    _notifier(template_name="no_such_template")(_context())
    monkeypatch.delenv("AIRFLOW_CONN_QONTAK_DEFAULT")
    _notifier(qontak_conn_id="nowhere")(_context())
    assert sandbox.sends() == []
    errors = notifier_logs.errors()
    assert len(errors) == 2, errors
    assert "no_such_template" in errors[0]
    assert "nowhere" in errors[1]


def test_wrong_body_sends_nothing(sandbox: Any, notifier_logs: Logs) -> None:
    _notifier(body={"1": "only one value"})(_context())
    assert sandbox.sends() == []
    assert "parameters.body" in notifier_logs.text


def test_dag_without_template_env_still_renders(sandbox: Any) -> None:
    """DAG-level callbacks may get a SerializedDAG without get_template_env (apache/airflow#64649)."""
    serialized_like = SimpleNamespace(dag_id="billing", render_template_as_native_obj=False)
    notifier = _notifier(to_numbers="+62 812-3456-7890", body=["{{ dag.dag_id }}"] * 6)
    notifier(_context() | {"dag": serialized_like})
    assert _bodies(sandbox)[NUMBER]["2"] == "billing"


def test_the_dags_own_macros_and_filters_render_the_message(sandbox: Any) -> None:
    """A DAG's user_defined_macros reach the notifier's templates, as they reach its tasks'."""
    dag = DAG(
        dag_id="billing",
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        user_defined_macros={"team": "Tim Tagihan"},
        user_defined_filters={"shout": lambda text: text.upper()},
    )
    notifier = _notifier(to_numbers="+62 812-3456-7890", body=["{{ team }}", "{{ 'gagal' | shout }}"] * 3)
    notifier(_context() | {"dag": dag})
    assert [_bodies(sandbox)[NUMBER][k] for k in ("1", "2")] == ["Tim Tagihan", "GAGAL"]


# ----------------------------------------------------------------------------------------------------- async


@pytest.mark.asyncio
async def test_async_notify_sends_like_notify(sandbox: Any) -> None:
    notifier = _notifier(context=_context())
    await notifier  # BaseNotifier.__await__: renders, then async_notify
    assert sorted(s["to_number"] for s in sandbox.sends()) == [NUMBER, OTHER]
    assert _bodies(sandbox)[OTHER]["5"] == "invoice 42 is missing in several places"


@pytest.mark.asyncio
async def test_async_wrong_secret_is_logged_not_raised(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch, notifier_logs: Logs
) -> None:
    conn = sandbox.conn_dict()
    conn["password"] = "definitely-wrong-secret"
    monkeypatch.setenv("AIRFLOW_CONN_QONTAK_DEFAULT", json.dumps(conn))
    notifier = _notifier()
    notifier.render_template_fields(_context())
    await notifier.async_notify(_context())
    assert sandbox.sends() == []
    errors = notifier_logs.errors()
    assert any("401" in m for m in errors), errors
    assert "definitely-wrong-secret" not in notifier_logs.text


@pytest.mark.asyncio
@pytest.mark.qontak_sandbox(fail_after=1.0)
async def test_async_sandbox_fault_is_logged_not_raised(sandbox: Any, notifier_logs: Logs) -> None:
    notifier = _notifier(to_numbers="+62 812-3456-7890")
    notifier.render_template_fields(_context())
    await notifier.async_notify(_context())
    errors = notifier_logs.errors()
    assert any("to 62812*****890 may or may not have been sent" in m for m in errors), errors


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("language", ["id", "en_US"])
def test_a_name_in_two_languages_is_found_with_the_language_given(
    sandbox: Any, mode: str, language: str
) -> None:
    notifier = QontakNotifier(
        to_numbers="0812-3456-7890", template_name="order_update", language=language, body=["A-1", "ok"]
    )
    if mode == "sync":
        notifier.notify({})
    else:
        asyncio.run(notifier.async_notify({}))
    (send,) = sandbox.sends()
    ids = {"id": "c3a08e21-a685-569a-a266-1f4be11b6bd5", "en_US": "83c168c4-7f00-5487-abee-bd5856d6d88a"}
    assert send["message_template_id"] == ids[language] and send["body"]["language"] == {"code": language}
