"""Retries, send safety and error mapping of both clients over a real loopback socket.

The scripted :mod:`faultserver` answers each request with the next action (reply, delayed reply, reset,
close) and records what arrived, so every test can count how often the server really saw a request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultserver import (
    Close,
    FakeTime,
    FaultServer,
    Reply,
    Reset,
    broadcast,
    error,
    free_port,
    ok,
    open_client,
)

from qontak_provider.client.errors import (
    QontakAuthenticationError,
    QontakError,
    QontakNotFoundError,
    QontakPayloadError,
    QontakRateLimitError,
    QontakSendInDoubtError,
    QontakServerError,
    QontakTransportError,
    QontakValidationError,
)
from qontak_provider.client.models import Broadcast
from qontak_provider.client.policy import RetryPolicy
from qontak_provider.client.signing import parse_http_date

pytestmark = pytest.mark.integration

SEEDS = json.loads((Path(__file__).parents[1] / "fixtures" / "seed_payloads.json").read_text())
PAYLOAD = SEEDS["otp"]
CHANNEL = {"id": "c-1", "target_channel": "wa"}


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as srv:
        yield srv


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(kind: str, server: FaultServer, fake: FakeTime):
    facade = open_client(kind, server.url, fake, timeout=0.3, connect_timeout=0.5)
    yield facade
    facade.close()


def all_signed(server: FaultServer) -> bool:
    return all(r.signature_error is None for r in server.requests)


# ------------------------------------------------------------------------------------------------- reads


def test_read_retries_429_honouring_rate_limit_reset(client, server, fake) -> None:
    server.script(
        error(429, "Too many requests", "rate_limit_remaining: 0", "rate_limit_reset: 3"), ok(CHANNEL)
    )
    assert client.get_channel("c-1").id == "c-1"
    assert len(server.requests) == 2
    assert fake.sleeps == [3.0]  # more than the 0.5 s backoff: exactly the announced reset
    # a fresh Date (and so a fresh signature) for the retry, 3 s later on the injected clock
    first, second = (r.headers for r in server.requests)
    assert (parse_http_date(second["Date"]) - parse_http_date(first["Date"])).total_seconds() == 3
    assert first["Authorization"] != second["Authorization"]
    assert all_signed(server)


def test_read_retry_after_header_is_honoured(client, server, fake) -> None:
    server.script(Reply(429, {"message": "slow down"}, {"Retry-After": "2"}), ok(CHANNEL))
    client.get_channel("c-1")
    assert fake.sleeps == [2.0]


def test_real_sleep_for_a_tiny_reset(kind, server) -> None:
    server.script(error(429, "rate_limit_reset: 0.05"), ok(CHANNEL))
    facade = open_client(kind, server.url, random=lambda: 0.0)  # real clock and sleep; no backoff
    try:
        started = time.monotonic()
        facade.get_channel("c-1")
        assert time.monotonic() - started >= 0.05
        assert len(server.requests) == 2
    finally:
        facade.close()


def test_read_retries_5xx_with_backoff(kind, server, fake) -> None:
    server.script(error(503, "maintenance"), error(500), ok(CHANNEL))
    facade = open_client(kind, server.url, fake)
    try:
        assert facade.get_channel("c-1").id == "c-1"
    finally:
        facade.close()
    assert len(server.requests) == 3
    assert fake.sleeps == [0.5, 1.0]  # base_delay, doubled


@pytest.mark.parametrize("drop", [Reset(), Close()], ids=["reset", "close"])
def test_read_retries_a_dropped_connection(client, server, drop) -> None:
    server.script(drop, ok(CHANNEL))
    assert client.get_channel("c-1").id == "c-1"
    assert len(server.requests) == 2


def test_read_retries_a_read_timeout(client, server) -> None:
    server.script(Reply(200, {"status": "success", "data": CHANNEL}, delay=0.8), ok(CHANNEL))
    assert client.get_channel("c-1").id == "c-1"
    assert len(server.requests) == 2


def test_read_gives_up_after_max_attempts(kind, server, fake) -> None:
    server.default = lambda _r: error(502, "bad gateway")
    facade = open_client(kind, server.url, fake, retry_policy=RetryPolicy(max_attempts=3))
    try:
        with pytest.raises(QontakServerError) as info:
            facade.get_channel("c-1")
    finally:
        facade.close()
    assert info.value.status_code == 502 and info.value.messages == ["bad gateway"]
    assert info.value.method == "GET" and info.value.path == "/qontak/chat/v1/integrations/c-1"
    assert len(server.requests) == 3


def test_read_rate_limit_exhausted(kind, server, fake) -> None:
    server.default = lambda _r: error(429, "rate_limit_reset: 1")
    facade = open_client(kind, server.url, fake, retry_policy=RetryPolicy(max_attempts=2))
    try:
        with pytest.raises(QontakRateLimitError) as info:
            facade.list_channels()
    finally:
        facade.close()
    assert info.value.reset_after == 1.0
    assert len(server.requests) == 2


def test_read_on_a_closed_port_is_a_transport_error(kind, fake) -> None:
    facade = open_client(
        kind, f"http://127.0.0.1:{free_port()}", fake, retry_policy=RetryPolicy(max_attempts=2)
    )
    try:
        with pytest.raises(QontakTransportError, match="could not connect after 2 attempts"):
            facade.get_channel("c-1")
    finally:
        facade.close()
    assert len(fake.sleeps) == 1


# ------------------------------------------------------------------------------------------------- sends


def test_send_returns_the_broadcast(client, server) -> None:
    server.script(ok(broadcast("b-42"), status=201))
    result = client.send_direct(PAYLOAD)
    assert isinstance(result, Broadcast) and result.id == "b-42"
    assert len(server.requests) == 1 and all_signed(server)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_send_is_never_retried_on_5xx(client, server, status) -> None:
    server.script(error(status, "upstream failed"), ok(broadcast()))
    with pytest.raises(QontakSendInDoubtError) as info:
        client.send_direct(PAYLOAD)
    assert len(server.requests) == 1
    assert info.value.status_code == status
    assert info.value.messages == ["upstream failed"]
    assert info.value.method == "POST"


def test_send_is_never_retried_on_read_timeout(client, server) -> None:
    server.script(Reply(201, {"status": "success", "data": broadcast()}, delay=0.8), ok(broadcast()))
    with pytest.raises(QontakSendInDoubtError, match="may or may not have been sent"):
        client.send_direct(PAYLOAD)
    time.sleep(0.6)  # let the delayed handler finish; nothing else may arrive
    assert len(server.requests) == 1


@pytest.mark.parametrize("drop", [Reset(), Close()], ids=["reset", "close"])
def test_send_is_never_retried_after_the_request_was_written(client, server, drop) -> None:
    server.script(drop, ok(broadcast()))
    with pytest.raises(QontakSendInDoubtError):
        client.send_direct(PAYLOAD)
    assert len(server.requests) == 1
    assert server.requests[0].json == PAYLOAD  # the server did get the whole request


def test_send_is_retried_on_429_and_pauses_the_pacer(client, server, fake) -> None:
    server.script(error(429, "Too many requests", "rate_limit_reset: 5"), ok(broadcast("b-2")))
    assert client.send_direct(PAYLOAD).id == "b-2"
    assert len(server.requests) == 2
    assert fake.sleeps[0] == 5.0
    assert sum(fake.sleeps) >= 5.0
    # the pause outlived the retry: the next send waits for the spacing slot after it, not before it
    assert client.client.pacer.reserve() > 0


def test_send_is_retried_when_the_connection_was_refused(kind, fake) -> None:
    port = free_port()
    started: list[FaultServer] = []

    def open_port(_seconds: float) -> None:
        # nothing listened during the first attempt; the retry finds the server
        if not started:
            started.append(FaultServer(port).start())
            started[0].script(ok(broadcast("b-3"), status=201))

    fake.on_sleep.append(open_port)
    facade = open_client(kind, f"http://127.0.0.1:{port}", fake, rate_per_minute=None)
    try:
        assert facade.send_direct(PAYLOAD).id == "b-3"
        assert len(started[0].requests) == 1
        assert len(fake.sleeps) == 1
    finally:
        facade.close()
        for srv in started:
            srv.stop()


def test_send_refused_every_time_is_a_transport_error_not_in_doubt(kind, fake) -> None:
    facade = open_client(
        kind, f"http://127.0.0.1:{free_port()}", fake, retry_policy=RetryPolicy(max_attempts=3)
    )
    try:
        with pytest.raises(QontakTransportError) as info:
            facade.send_direct(PAYLOAD)
    finally:
        facade.close()
    assert not isinstance(info.value, QontakSendInDoubtError)


def test_accepted_send_with_an_unreadable_body_is_in_doubt(client, server) -> None:
    server.script(Reply(201, b"<html>OK</html>"))
    with pytest.raises(QontakSendInDoubtError, match="broadcast id is unknown"):
        client.send_direct(PAYLOAD)
    assert len(server.requests) == 1


def test_invalid_payload_is_refused_before_any_request(client, server) -> None:
    with pytest.raises(QontakPayloadError, match="message_template_id"):
        client.send_direct({k: v for k, v in PAYLOAD.items() if k != "message_template_id"})
    assert server.requests == []


# ------------------------------------------------------------------------------------ never retried


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize("call", ["read", "send"])
def test_authentication_failures_are_never_retried(client, server, status, call) -> None:
    server.default = lambda _r: Reply(status, {"message": "Unauthorized"})
    with pytest.raises(QontakAuthenticationError) as info:
        client.get_channel("c-1") if call == "read" else client.send_direct(PAYLOAD)
    assert len(server.requests) == 1
    assert info.value.status_code == status
    assert "qontak-chat:all" in str(info.value) and "clock" in str(info.value)


def test_validation_error_joins_qontak_messages(client, server) -> None:
    server.script(error(422, "target is missing", "language is invalid"))
    with pytest.raises(QontakValidationError, match="target is missing; language is invalid") as info:
        client.send_direct(PAYLOAD)
    assert info.value.messages == ["target is missing", "language is invalid"]
    assert len(server.requests) == 1


def test_not_found(client, server) -> None:
    server.script(error(404, "Resource not found."))
    with pytest.raises(QontakNotFoundError, match="Resource not found"):
        client.get_broadcast("missing")
    assert len(server.requests) == 1


def test_redirects_are_not_followed(client, server) -> None:
    server.script(Reply(302, b"", {"Location": "/elsewhere"}))
    with pytest.raises(QontakError, match="unexpected HTTP 302"):
        client.get_channel("c-1")
    assert len(server.requests) == 1
