"""QontakBroadcastTrigger: serialisation, polling over real sockets, backoff, late logs, cancellation."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import pytest
from airflow.triggers.base import TriggerEvent

from qontak_provider.client.aio import AsyncQontakClient
from qontak_provider.client.policy import RetryPolicy
from qontak_provider.client.sync import QontakClient
from qontak_provider.hooks.qontak import QontakHook
from qontak_provider.sandbox import magic
from qontak_provider.triggers.qontak import QontakBroadcastTrigger
from tests.integration.faultserver import CLIENT_ID, SECRET, FaultServer, error, ok

pytestmark = pytest.mark.integration

TEMPLATE_ID = "d3e1083c-66ea-410b-b807-1d84182ffa82"


def send(sandbox: Any, number: str) -> str:
    payload = {
        "to_number": number,
        "to_name": "Trigger Test",
        "message_template_id": TEMPLATE_ID,
        "channel_integration_id": sandbox.channel_integration_id,
        "language": {"code": "id"},
        "parameters": {
            "body": [
                {"key": "1", "value_text": "A", "value": "a"},
                {"key": "2", "value_text": "B", "value": "b"},
            ]
        },
    }
    with QontakClient(sandbox.client_id, sandbox.client_secret, base_url=sandbox.url) as client:
        return client.send_direct(payload).id


def first_event(trigger: QontakBroadcastTrigger) -> TriggerEvent:
    async def go() -> TriggerEvent:
        events = [event async for event in trigger.run()]
        assert len(events) == 1  # exactly one event, then the generator returns
        return events[0]

    return asyncio.run(go())


class ClientSpy:
    """Patch QontakHook.get_async_client to hand out clients we can inspect afterwards."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, **client_kwargs: Any) -> None:
        self.clients: list[AsyncQontakClient] = []
        original = QontakHook.get_async_client

        async def spy(hook: QontakHook) -> AsyncQontakClient:
            if client_kwargs:
                client = AsyncQontakClient(**client_kwargs)
            else:
                client = await original(hook)
            self.clients.append(client)
            return client

        monkeypatch.setattr(QontakHook, "get_async_client", spy)


# ------------------------------------------------------------------------------------------- serialise


def test_serialize_round_trips_through_import_string() -> None:
    from airflow.sdk._shared.module_loading import import_string  # type: ignore[import-not-found]

    trigger = QontakBroadcastTrigger(
        broadcast_ids=["b1", "b2"],
        qontak_conn_id="my_qontak",
        target_status="read",
        max_failed_ratio=0.25,
        poke_interval=5,
        end_time=1_800_000_000.5,
        max_log_requests=3,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "qontak_provider.triggers.qontak.QontakBroadcastTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs  # JSON-able as is
    rebuilt = import_string(classpath)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs["broadcast_ids"] == ["b1", "b2"] and kwargs["end_time"] == 1_800_000_000.5
    assert "secret" not in json.dumps(kwargs).lower()


# ------------------------------------------------------------------------------------ against sandbox


@pytest.mark.qontak_sandbox(step_seconds=0.05, rate_limit=0)
def test_success_event_with_summary_and_same_event_when_run_twice(qontak_sandbox: Any) -> None:
    ids = [send(qontak_sandbox, "6281234567890"), send(qontak_sandbox, "6281234567891")]
    trigger = QontakBroadcastTrigger(broadcast_ids=ids, target_status="read", poke_interval=0.1)
    first = first_event(trigger)
    assert first.payload["status"] == "success"
    summary = first.payload["summary"]
    assert set(summary["broadcasts"]) == set(ids)
    assert all(b["status"] == "read" for b in summary["broadcasts"].values())
    assert all(b["status_times"]["read"] for b in summary["broadcasts"].values())
    # stateless: a second run, and a copy rebuilt from serialize(), give the same event
    second = first_event(trigger)
    _, kwargs = trigger.serialize()

    async def two_copies() -> list[TriggerEvent]:
        copies = [QontakBroadcastTrigger(**kwargs), QontakBroadcastTrigger(**kwargs)]
        return list(await asyncio.gather(*(anext(c.run()) for c in copies)))

    third, fourth = asyncio.run(two_copies())
    assert first == second == third == fourth


@pytest.mark.qontak_sandbox(step_seconds=0.05, rate_limit=0)
def test_failed_message_yields_failed_event_with_masked_number(qontak_sandbox: Any) -> None:
    bid = send(qontak_sandbox, magic.FAILS_UNDELIVERABLE)
    event = first_event(QontakBroadcastTrigger(broadcast_ids=[bid], poke_interval=0.1))
    assert event.payload["status"] == "failed"
    assert magic.UNDELIVERABLE_ERROR_MESSAGE in event.payload["message"]
    assert "62811*****001" in event.payload["message"]
    assert magic.FAILS_UNDELIVERABLE not in json.dumps(event.payload)


@pytest.mark.qontak_sandbox(step_seconds=0.05, rate_limit=0, late_log_seconds=0.6)
def test_late_log_is_waited_for_not_an_error(qontak_sandbox: Any) -> None:
    bid = send(qontak_sandbox, magic.LATE_LOG)
    started = time.monotonic()
    event = first_event(QontakBroadcastTrigger(broadcast_ids=[bid], poke_interval=0.1))
    assert event.payload["status"] == "success", event.payload
    assert time.monotonic() - started >= 0.5  # it waited through the empty log
    polls = qontak_sandbox.stats()["by_endpoint"]["GET /broadcasts/{id}/whatsapp"]
    assert polls.get("200", 0) >= 3 and set(polls) == {"200"}


@pytest.mark.qontak_sandbox(step_seconds=0.05, rate_limit=0)
def test_timeout_event_names_unread_broadcasts(qontak_sandbox: Any) -> None:
    unread = send(qontak_sandbox, magic.NEVER_READ)
    read = send(qontak_sandbox, "6281234567890")
    trigger = QontakBroadcastTrigger(
        broadcast_ids=[unread, read], target_status="read", poke_interval=0.1, end_time=time.time() + 1.0
    )
    event = first_event(trigger)
    assert event.payload["status"] == "timeout"
    assert f"still unread: {unread}" in event.payload["message"]
    assert event.payload["summary"]["unsettled_ids"] == [unread]


@pytest.mark.qontak_sandbox(clock="slow", rate_limit=0)
def test_cancellation_closes_the_client_and_yields_nothing(
    qontak_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bid = send(qontak_sandbox, "6281234567890")
    spy = ClientSpy(monkeypatch)
    trigger = QontakBroadcastTrigger(broadcast_ids=[bid], poke_interval=0.1)

    async def go() -> None:
        generator = trigger.run()
        task = asyncio.ensure_future(anext(generator))
        while (
            qontak_sandbox.stats()["by_endpoint"].get("GET /broadcasts/{id}/whatsapp", {}).get("200", 0) < 2
        ):
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(StopAsyncIteration):  # nothing comes after a cancellation
            await anext(generator)

    asyncio.run(go())
    assert len(spy.clients) == 1
    assert spy.clients[0]._http.is_closed


def test_bad_connection_yields_error_event(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_QONTAK_BROKEN", json.dumps({"conn_type": "qontak", "host": "x"}))
    event = first_event(QontakBroadcastTrigger(broadcast_ids=["b"], qontak_conn_id="qontak_broken"))
    assert event.payload["status"] == "error"
    assert "Client ID" in event.payload["message"]


def test_a_connection_the_trigger_cannot_see_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``airflow dags test`` on 3.3.2 does with a connection stored in the metadata database."""
    monkeypatch.delenv("AIRFLOW_CONN_QONTAK_NOWHERE", raising=False)
    event = first_event(QontakBroadcastTrigger(broadcast_ids=["b"], qontak_conn_id="qontak_nowhere"))
    assert event.payload["status"] == "error"
    message = event.payload["message"]
    assert "AirflowNotFoundException" in message and "AIRFLOW_CONN_<CONN_ID>" in message
    assert "deferrable=False" in message


# -------------------------------------------------------------------------------------- faults, backoff


def detail(counts: dict[str, int]) -> Any:
    return ok({"id": "b-1", "created_at": "2026-01-01T00:00:00.000Z", "message_status_count": counts})


def test_backoff_on_429_and_5xx_sleeps_and_honours_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    with FaultServer() as server:
        server.script(
            error(429, "Too many requests", "rate_limit_reset: 1"),
            error(503, "unavailable"),
            error(500, "boom"),
            detail({"delivered": 1}),
            ok([]),  # the log (empty: times unknown)
        )
        spy = ClientSpy(
            monkeypatch,
            client_id=CLIENT_ID,
            client_secret=SECRET,
            base_url=server.url,
            retry_policy=RetryPolicy(max_attempts=1),  # the trigger's own backoff is under test
        )
        trigger = QontakBroadcastTrigger(broadcast_ids=["b-1"], poke_interval=0.1, min_backoff=0.2)
        event = first_event(trigger)
    assert event.payload["status"] == "success", event.payload
    times = [r.at for r in server.requests]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(server.requests) == 5
    assert gaps[0] >= 0.95  # rate_limit_reset: 1 honoured
    assert gaps[1] >= 0.38  # then 0.2 * 2 ... exponential
    assert gaps[2] >= 0.75
    assert all(r.signature_error is None for r in server.requests)
    dates = {r.headers["Date"] for r in server.requests}
    assert len(dates) >= 2  # signed afresh per request
    assert spy.clients[0]._http.is_closed


def test_no_hot_loop_when_the_api_keeps_failing(monkeypatch: pytest.MonkeyPatch) -> None:
    with FaultServer() as server:
        server.default = lambda _r: error(500, "down")
        # 5 attempts per poll without jitter (0.05 s, 0.1 s, 0.2 s, 0.4 s): each poll is 5 requests in 0.75 s
        ClientSpy(
            monkeypatch,
            client_id=CLIENT_ID,
            client_secret=SECRET,
            base_url=server.url,
            retry_policy=RetryPolicy(max_attempts=5, base_delay=0.05, jitter=False),
        )
        trigger = QontakBroadcastTrigger(
            broadcast_ids=["b-1"], poke_interval=0.1, min_backoff=0.5, end_time=time.time() + 2.8
        )
        event = first_event(trigger)
    assert event.payload["status"] == "timeout"
    # Between failed polls the trigger waits 0.5 s, then 1 s, ...: two polls fit before the end, not dozens.
    assert len(server.requests) == 10, len(server.requests)
    gap = server.requests[5].at - server.requests[4].at
    assert gap >= 0.45, gap


def test_gives_up_after_max_poll_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    with FaultServer() as server:
        server.default = lambda _r: error(502, "bad gateway")
        ClientSpy(
            monkeypatch,
            client_id=CLIENT_ID,
            client_secret=SECRET,
            base_url=server.url,
            retry_policy=RetryPolicy(max_attempts=1),
        )
        trigger = QontakBroadcastTrigger(
            broadcast_ids=["b-1"], poke_interval=0.05, min_backoff=0.05, max_poll_failures=2
        )
        event = first_event(trigger)
    assert event.payload["status"] == "error"
    assert "3 times in a row" in event.payload["message"]
    assert len(server.requests) == 3


def test_unrecoverable_api_error_is_an_error_event(monkeypatch: pytest.MonkeyPatch) -> None:
    with FaultServer() as server:
        server.script(error(401, "Unauthorized"))
        ClientSpy(monkeypatch, client_id=CLIENT_ID, client_secret=SECRET, base_url=server.url)
        event = first_event(QontakBroadcastTrigger(broadcast_ids=["b-1"], poke_interval=0.05))
    assert event.payload["status"] == "error"
    assert "QontakAuthenticationError" in event.payload["message"]
    assert SECRET not in json.dumps(event.payload)
    assert len(server.requests) == 1
