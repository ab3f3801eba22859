"""QontakBroadcastSensor: poke, deferral, execute_complete, against the sandbox where it talks HTTP."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk import PokeReturnValue
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout, TaskDeferred

from qontak_provider.client.policy import RetryPolicy
from qontak_provider.client.sync import QontakClient
from qontak_provider.sandbox import magic
from qontak_provider.sensors.qontak import DEFERRAL_GRACE_SECONDS, QontakBroadcastSensor
from qontak_provider.triggers.qontak import QontakBroadcastTrigger
from tests.integration.faultserver import CLIENT_ID, SECRET, FaultServer, error, ok
from tests.triggers.test_qontak_trigger import send

pytestmark = pytest.mark.integration


def sensor(**kwargs: Any) -> QontakBroadcastSensor:
    kwargs.setdefault("task_id", "wait")
    kwargs.setdefault("poke_interval", 0.1)
    kwargs.setdefault("timeout", 30)
    return QontakBroadcastSensor(**kwargs)


def test_init_reads_nothing_and_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_QONTAK_DEFAULT", raising=False)
    task = sensor(broadcast_ids="{{ ti.xcom_pull('send') }}", qontak_conn_id="nowhere")
    assert task.broadcast_ids == "{{ ti.xcom_pull('send') }}"  # templated, not resolved yet
    assert set(task.template_fields) == {"broadcast_ids", "qontak_conn_id", "target_status"}
    assert task.deferrable is False  # [operators] default_deferrable is false here
    with pytest.raises(ValueError, match="max_failed_ratio"):
        sensor(broadcast_ids="b", max_failed_ratio=2)


def test_bad_ids_or_target_fail_without_retry() -> None:
    with pytest.raises(AirflowFailException, match="broadcast_ids"):
        sensor(broadcast_ids=[]).poke({})
    with pytest.raises(AirflowFailException, match="target_status"):
        sensor(broadcast_ids="b", target_status="seen").poke({})


@pytest.mark.qontak_sandbox(clock="instant", rate_limit=0)
def test_poke_returns_summary_for_every_xcom_shape(qontak_sandbox: Any) -> None:
    one = send(qontak_sandbox, "6281234567890")
    two = send(qontak_sandbox, "6281234567891")
    for shape in (
        {"broadcast_id": one},
        [{"broadcast_id": one}, {"broadcast_id": two}],
        {"broadcast_ids": [one, two]},
    ):
        result = sensor(broadcast_ids=shape, target_status="read").poke({})
        assert isinstance(result, PokeReturnValue) and result.is_done
        summary = result.xcom_value
        assert summary["outcome"] == "success"
        assert all(info["status"] == "read" for info in summary["broadcasts"].values())
        assert all(info["status_times"]["read"] for info in summary["broadcasts"].values())


@pytest.mark.qontak_sandbox(clock="slow", rate_limit=0)
def test_poke_is_false_while_pending_and_timeout_names_the_broadcast(qontak_sandbox: Any) -> None:
    bid = send(qontak_sandbox, "6281234567890")
    task = sensor(broadcast_ids=bid, timeout=0.3)
    assert task.poke({}) is False
    with pytest.raises(AirflowSensorTimeout, match=f"still undelivered: {bid}"):
        task.execute({})


@pytest.mark.qontak_sandbox(clock="instant", rate_limit=0)
def test_poke_fails_fast_on_a_failed_message(qontak_sandbox: Any) -> None:
    bid = send(qontak_sandbox, magic.FAILS_UNDELIVERABLE)
    with pytest.raises(AirflowFailException) as err:
        sensor(broadcast_ids=bid).execute({})
    assert magic.UNDELIVERABLE_ERROR_MESSAGE in str(err.value)
    assert "62811*****001" in str(err.value) and magic.FAILS_UNDELIVERABLE not in str(err.value)


@pytest.mark.qontak_sandbox(clock="instant", rate_limit=0)
def test_tolerated_failures_return_the_summary(qontak_sandbox: Any) -> None:
    bad = send(qontak_sandbox, magic.FAILS_UNDELIVERABLE)
    good = send(qontak_sandbox, "6281234567890")
    summary = sensor(broadcast_ids=[bad, good], max_failed_ratio=1.0).execute({})
    assert summary["broadcasts"][bad]["status"] == "failed"
    assert summary["broadcasts"][bad]["errors"][0]["error"] == magic.UNDELIVERABLE_ERROR_MESSAGE
    assert summary["broadcasts"][good]["status"] == "read"
    assert summary["failed_ids"] == [bad]


#: A broadcast detail, as the fault server answers it.
DELIVERED = ok({"id": "b-1", "created_at": "2026-01-01T00:00:00Z", "message_status_count": {"delivered": 1}})


@pytest.mark.parametrize(
    "failure",
    [error(503, "Service Unavailable"), error(500, "boom"), error(429, "Too many requests")],
    ids=["503", "500", "429"],
)
def test_a_failed_poll_is_tried_again_at_the_next_poke_not_a_task_failure(failure: Any) -> None:
    with FaultServer() as server:
        server.script(
            failure,  # the client's retries are used up (one attempt): QontakServerError / RateLimitError
            DELIVERED,
            ok([]),  # the log, for status times
        )
        task = sensor(broadcast_ids="b-1", poke_interval=0.01)
        task.hook.__dict__["client"] = QontakClient(
            CLIENT_ID, SECRET, base_url=server.url, retry_policy=RetryPolicy(max_attempts=1)
        )
        assert task.poke({}) is False
        result = task.poke({})
        assert isinstance(result, PokeReturnValue) and result.is_done
        assert result.xcom_value["broadcasts"]["b-1"]["status"] == "delivered"
        # the same through execute() in poke mode: the failed poll costs one poke interval, not the task
        server.script(
            failure,
            DELIVERED,
            ok([]),
        )
        assert task.execute({})["outcome"] == "success"
    assert len(server.requests) == 6


def test_a_5xx_from_the_broadcast_list_switches_to_details_in_the_same_poke() -> None:
    ids = ["b-1", "b-2", "b-3", "b-4"]  # more than detail_threshold: the list is read first

    def detail_or_log(request: Any) -> Any:
        path = request.path.split("?")[0]
        if path.endswith("/log"):
            return ok([])
        bid = path.split("/")[-2]
        return ok({"id": bid, "created_at": "2026-01-01T00:00:00Z", "message_status_count": {"delivered": 1}})

    with FaultServer() as server:
        server.script(error(503, "Service Unavailable"))  # the list, once the client's retries are used up
        server.default = detail_or_log
        task = sensor(broadcast_ids=ids, detail_threshold=3)
        task.hook.__dict__["client"] = QontakClient(
            CLIENT_ID, SECRET, base_url=server.url, retry_policy=RetryPolicy(max_attempts=1)
        )
        result = task.poke({})
        assert isinstance(result, PokeReturnValue) and result.is_done
        assert sorted(result.xcom_value["broadcasts"]) == ids
        listed = [r for r in server.requests if r.path.split("?")[0].endswith("/broadcasts/whatsapp")]
        assert len(listed) == 1 and task.tracker.list_unavailable is not None


def test_an_unrecoverable_api_error_while_polling_fails_the_task() -> None:
    with FaultServer() as server:
        server.script(error(401, "Unauthorized"))
        task = sensor(broadcast_ids="b-1")
        task.hook.__dict__["client"] = QontakClient(CLIENT_ID, SECRET, base_url=server.url)
        with pytest.raises(AirflowException, match="401") as failure:
            task.poke({})
    assert not isinstance(failure.value, AirflowFailException)  # Airflow's retries apply
    assert len(server.requests) == 1


@pytest.mark.qontak_sandbox(clock="instant", rate_limit=0)
def test_unknown_broadcast_fails(qontak_sandbox: Any) -> None:
    with pytest.raises(AirflowFailException, match="does not know broadcast"):
        sensor(broadcast_ids="no-such-id").poke({})


@pytest.mark.qontak_sandbox(clock="slow", rate_limit=0)
def test_deferrable_pokes_once_then_defers_with_the_trigger(qontak_sandbox: Any) -> None:
    bid = send(qontak_sandbox, "6281234567890")
    task = sensor(
        broadcast_ids={"broadcast_id": bid},
        deferrable=True,
        target_status="read",
        max_failed_ratio=0.5,
        qontak_conn_id="qontak_default",
        poke_interval=7,
        timeout=120,
    )
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        task.execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, QontakBroadcastTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=120 + 7 + DEFERRAL_GRACE_SECONDS)
    _, kwargs = trigger.serialize()
    assert kwargs["broadcast_ids"] == [bid]
    assert kwargs["target_status"] == "read" and kwargs["max_failed_ratio"] == 0.5
    assert kwargs["poke_interval"] == 7
    assert before + 120 <= kwargs["end_time"] <= time.time() + 120
    assert qontak_sandbox.stats()["by_endpoint"]["GET /broadcasts/{id}/whatsapp"] == {"200": 1}


@pytest.mark.qontak_sandbox(clock="instant", rate_limit=0)
@pytest.mark.parametrize("listed", ["live", "absent"])
def test_the_trigger_gets_the_connection_limits_and_what_the_poke_learnt_of_the_list(
    qontak_sandbox: Any, monkeypatch: pytest.MonkeyPatch, listed: str
) -> None:
    qontak_sandbox.update_settings(broadcast_list=listed)
    monkeypatch.setenv("AIRFLOW_CONN_QONTAK_OTHER", qontak_sandbox.conn_json())
    ids = [send(qontak_sandbox, magic.NEVER_READ) for _ in range(5)]  # past detail_threshold: list first
    task = sensor(
        broadcast_ids=ids,
        deferrable=True,
        target_status="read",
        qontak_conn_id="qontak_other",
        detail_threshold=4,
        max_log_requests=9,
    )
    with pytest.raises(TaskDeferred) as deferred:
        task.execute({})
    _, kwargs = deferred.value.trigger.serialize()
    assert kwargs["qontak_conn_id"] == "qontak_other"
    assert kwargs["detail_threshold"] == 4 and kwargs["max_log_requests"] == 9
    assert kwargs["use_list"] is (listed == "live")  # a 404 from the list is not asked again by the trigger


def test_the_documented_defaults() -> None:
    task = sensor(broadcast_ids="b")
    assert (task.target_status, task.detail_threshold, task.max_log_requests) == ("delivered", 3, 25)


@pytest.mark.qontak_sandbox(clock="instant", rate_limit=0)
def test_deferrable_does_not_defer_when_already_settled(qontak_sandbox: Any) -> None:
    bid = send(qontak_sandbox, "6281234567890")
    summary = sensor(broadcast_ids=bid, deferrable=True).execute({})
    assert summary["broadcasts"][bid]["status"] == "read"


def test_execute_complete_handles_every_event() -> None:
    task = sensor(broadcast_ids="b")
    summary = {"outcome": "success", "broadcasts": {"b": {"status": "delivered", "errors": []}}}
    assert (
        task.execute_complete({}, {"status": "success", "summary": summary, "summary_line": "1"}) == summary
    )
    with pytest.raises(AirflowFailException, match="Message undeliverable"):
        task.execute_complete({}, {"status": "failed", "message": "b: (#131026) Message undeliverable"})
    with pytest.raises(AirflowSensorTimeout, match="still unread: b"):
        task.execute_complete({}, {"status": "timeout", "message": "still unread: b", "summary_line": "x"})
    with pytest.raises(AirflowException, match="HTTP 401"):
        task.execute_complete({}, {"status": "error", "message": "HTTP 401"})
    with pytest.raises(AirflowException, match="without an event"):
        task.execute_complete({}, None)


def test_execute_complete_logs_tolerated_failures(capsys: pytest.CaptureFixture[str]) -> None:
    task = sensor(broadcast_ids="b", max_failed_ratio=1.0)
    summary = {
        "broadcasts": {"b": {"status": "failed", "errors": [{"recipient": "62811*****001", "error": "x"}]}}
    }
    task.execute_complete({}, {"status": "success", "summary": summary})
    assert "Broadcast b failed for 62811*****001: x" in capsys.readouterr().out


def test_execute_complete_logs_what_the_trigger_saw(capsys: pytest.CaptureFixture[str]) -> None:
    task = sensor(broadcast_ids="b")
    summary = {"outcome": "success", "broadcasts": {"b": {"status": "read", "errors": []}}}
    line = "1 broadcast(s), target delivered: 1 read"
    task.execute_complete({}, {"status": "success", "summary": summary, "summary_line": line})
    assert f"Broadcasts settled: {line}" in capsys.readouterr().out
    with pytest.raises(AirflowSensorTimeout):
        task.execute_complete(
            {}, {"status": "timeout", "message": "still undelivered: b", "summary_line": line}
        )
    assert line in capsys.readouterr().out  # the counts are logged before the timeout
    with pytest.raises(AirflowException, match=r"^Waiting for the Qontak broadcasts failed: no details$"):
        task.execute_complete({}, {"status": "error"})
    with pytest.raises(AirflowException, match=r"^The Qontak broadcast trigger ended without an event\.$"):
        task.execute_complete({}, {})


class _RescheduledTI:
    """The one thing reschedule mode asks of the task instance: when the first reschedule was."""

    def get_first_reschedule_date(self, context: Any) -> None:
        return None


@pytest.mark.qontak_sandbox(clock="slow", rate_limit=0)
def test_reschedule_mode_frees_the_slot_while_pending(qontak_sandbox: Any) -> None:
    from airflow.sdk.exceptions import AirflowRescheduleException

    bid = send(qontak_sandbox, "6281234567890")
    with pytest.raises(AirflowRescheduleException):
        sensor(broadcast_ids=bid, mode="reschedule", poke_interval=60).execute({"ti": _RescheduledTI()})


@pytest.mark.qontak_sandbox(clock="instant", rate_limit=0)
def test_reschedule_mode_returns_the_summary_once_settled(qontak_sandbox: Any) -> None:
    bid = send(qontak_sandbox, "6281234567890")
    task = sensor(broadcast_ids=bid, mode="reschedule", target_status="read")
    summary = task.execute({"ti": _RescheduledTI()})
    assert summary["outcome"] == "success" and summary["broadcasts"][bid]["status"] == "read"


@pytest.mark.qontak_sandbox(clock="slow", rate_limit=0)
def test_a_pending_poke_logs_the_counts_and_what_is_still_waiting(
    qontak_sandbox: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    bid = send(qontak_sandbox, "6281234567890")
    assert sensor(broadcast_ids=bid).poke({}) is False
    logged = capsys.readouterr().out
    assert re.search(rf"1 broadcast\(s\), target delivered: 1 \w+; still undelivered: {bid}", logged), logged


@pytest.mark.qontak_sandbox(clock="instant", rate_limit=0)
def test_settled_and_failed_pokes_log_their_counts(
    qontak_sandbox: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    good = send(qontak_sandbox, "6281234567890")
    assert sensor(broadcast_ids=good, target_status="read").execute({})["outcome"] == "success"
    assert "Broadcasts settled: 1 broadcast(s), target read: 1 read" in capsys.readouterr().out
    bad = send(qontak_sandbox, magic.FAILS_UNDELIVERABLE)
    with pytest.raises(AirflowFailException):
        sensor(broadcast_ids=bad).execute({})
    assert re.search(r"\[error\s*\] 1 broadcast\(s\), target delivered: 1 failed", capsys.readouterr().out)


def test_a_failed_poll_is_logged_with_its_reason(capsys: pytest.CaptureFixture[str]) -> None:
    with FaultServer() as server:
        server.script(error(503, "Service Unavailable"))
        task = sensor(broadcast_ids="b-1")
        task.hook.__dict__["client"] = QontakClient(
            CLIENT_ID, SECRET, base_url=server.url, retry_policy=RetryPolicy(max_attempts=1)
        )
        assert task.poke({}) is False
    logged = capsys.readouterr().out
    assert re.search(
        r"\[warning\s*\] Polling Qontak failed, trying again at the next poke: \S.*503", logged
    ), logged
