"""Both clients against the real offline sandbox: every method, authentication, rate limits and faults.

The ``qontak_sandbox`` fixture comes from the provider's pytest plugin (one server per session, reset for
each test; ``@pytest.mark.qontak_sandbox(...)`` changes its settings for one test).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from faultserver import AsyncFacade, SyncFacade

from qontak_provider.client.aio import AsyncQontakClient
from qontak_provider.client.errors import (
    QontakAuthenticationError,
    QontakNotFoundError,
    QontakPayloadError,
    QontakSendInDoubtError,
    QontakServerError,
    QontakValidationError,
)
from qontak_provider.client.models import Broadcast, BroadcastLogEntry, BroadcastStatus, Pagination
from qontak_provider.client.policy import RetryPolicy
from qontak_provider.client.sync import QontakClient
from qontak_provider.client.timestamps import utcnow

pytest.importorskip("qontak_provider.sandbox.server")

pytestmark = pytest.mark.integration

SEEDS: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "seed_payloads.json").read_text()
)
DIRECT = "POST /broadcasts/whatsapp/direct"


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def connect(
    kind: str, sandbox: Any, *, secret: str | None = None, real_time: bool = False, **kwargs: Any
) -> SyncFacade | AsyncFacade:
    """
    A client on the sandbox with pacing off unless asked.

    Unless ``real_time``, the client's waits (backoff, rate-limit resets) move the sandbox's clock instead of
    sleeping, so a 5 s reset costs no time.
    """
    kwargs.setdefault("rate_per_minute", None)
    kwargs.setdefault("random", lambda: 0.0)
    args = (sandbox.client_id, secret or sandbox.client_secret)
    if kind == "sync":
        if not real_time:
            kwargs.setdefault("sleep", sandbox.advance)
        return SyncFacade(QontakClient(*args, base_url=sandbox.url, **kwargs))

    async def advance(seconds: float) -> None:
        sandbox.advance(seconds)

    if not real_time:
        kwargs.setdefault("sleep", advance)
    return AsyncFacade(AsyncQontakClient(*args, base_url=sandbox.url, **kwargs))


def direct_sends(sandbox: Any) -> dict[str, int]:
    return sandbox.stats()["by_endpoint"].get(DIRECT, {})


@pytest.mark.qontak_sandbox(clock="instant")
@pytest.mark.parametrize("paging", ["spec", "seed", "exact"])
def test_every_method(kind: str, qontak_sandbox: Any, paging: str) -> None:
    """Every method, under each way Qontak may report ``meta.pagination`` (total advisory only)."""
    qontak_sandbox.update_settings(paging=paging)
    client = connect(kind, qontak_sandbox, page_size=3)  # small pages: every list crosses pages
    try:
        channels = client.list_channels()
        assert qontak_sandbox.channel_integration_id in {c.id for c in channels}
        assert {c.target_channel for c in client.list_channels(target_channel="wa_cloud")} == {"wa_cloud"}
        channel = client.get_channel(qontak_sandbox.channel_integration_id)
        assert channel.id == qontak_sandbox.channel_integration_id

        approved = client.list_templates(status="APPROVED")
        assert len(approved) > 3 and all(t.status == "APPROVED" for t in approved)
        everything = client.list_templates()
        assert len(everything) > len(approved)
        assert [t.language for t in client.list_templates(name="order_update")] == ["id", "en_US"]
        guide_otp = client.find_template("auth_web_1727242109", "en_US")
        assert guide_otp.id == SEEDS["otp"]["message_template_id"]
        otp = client.find_template("otp_login", "id")
        assert client.get_template(otp.id).name == "otp_login"
        with pytest.raises(QontakPayloadError, match="language"):
            client.find_template("order_update")
        with pytest.raises(QontakNotFoundError):
            client.get_template("00000000-0000-0000-0000-000000000000")

        sent = {name: client.send_direct(payload) for name, payload in SEEDS.items()}
        assert all(isinstance(b, Broadcast) for b in sent.values())
        assert len({b.id for b in sent.values()}) == len(SEEDS)
        assert qontak_sandbox.counts() == {"6281234567890": len(SEEDS)}

        broadcast_id = sent["otp"].id
        assert client.get_broadcast(broadcast_id).id == broadcast_id
        log = client.get_broadcast_log(broadcast_id)
        assert log and all(isinstance(row, BroadcastLogEntry) for row in log)
        assert log[0].broadcast_status is BroadcastStatus.READ  # the instant clock has run the lifecycle
        assert log[0].messages_broadcast_id in (None, broadcast_id)

        listed = client.list_broadcasts()
        assert {b.id for b in sent.values()} <= {b.id for b in listed}
        pages = client.iter_broadcast_pages()
        # six broadcasts in pages of three; the empty third page that proves the end is not yielded
        assert [len(page) for page, _ in pages] == [3, 3]
        assert all(isinstance(p, Pagination) for _, p in pages)

        skew = client.server_time_skew()
        assert skew is not None and abs(skew) < 5
    finally:
        client.close()
    assert qontak_sandbox.stats()["by_status"].get("401", 0) == 0


def test_wrong_secret_is_an_authentication_error_never_retried(kind: str, qontak_sandbox: Any) -> None:
    client = connect(kind, qontak_sandbox, secret="not-the-secret")
    try:
        with pytest.raises(QontakAuthenticationError) as info:
            client.list_channels()
    finally:
        client.close()
    assert info.value.status_code == 401 and info.value.messages == ["Unauthorized"]
    assert qontak_sandbox.stats()["total"] == 1


def test_clock_skew_is_refused_and_measured(kind: str, qontak_sandbox: Any) -> None:
    client = connect(kind, qontak_sandbox, now=lambda: utcnow() - timedelta(seconds=400))
    try:
        with pytest.raises(QontakAuthenticationError, match="clock"):
            client.get_channel(qontak_sandbox.channel_integration_id)
        skew = client.server_time_skew()
    finally:
        client.close()
    assert skew is not None and -405 < skew < -395  # our signing clock is 400 s behind the server


@pytest.mark.qontak_sandbox(rate_limit=2, rate_limit_window_seconds=5)
def test_rate_limited_sends_wait_for_the_reset_and_go_through(kind: str, qontak_sandbox: Any) -> None:
    client = connect(kind, qontak_sandbox)
    try:
        ids = [client.send_direct(SEEDS["otp"]).id for _ in range(3)]
    finally:
        client.close()
    assert len(set(ids)) == 3
    assert direct_sends(qontak_sandbox) == {"201": 3, "429": 1}
    assert qontak_sandbox.counts() == {"6281234567890": 3}  # each message went out exactly once


@pytest.mark.qontak_sandbox(fail_after=1.0, fault_status=502)
def test_fault_after_processing_is_in_doubt_and_not_repeated(kind: str, qontak_sandbox: Any) -> None:
    client = connect(kind, qontak_sandbox)
    try:
        with pytest.raises(QontakSendInDoubtError) as info:
            client.send_direct(SEEDS["text_with_variables"])
    finally:
        client.close()
    assert info.value.status_code == 502
    assert qontak_sandbox.counts() == {"6281234567890": 1}  # it did go out: resending would duplicate it
    assert direct_sends(qontak_sandbox) == {"502": 1}


@pytest.mark.qontak_sandbox(drop=1.0)
def test_dropped_connection_is_in_doubt_and_not_repeated(kind: str, qontak_sandbox: Any) -> None:
    client = connect(kind, qontak_sandbox)
    try:
        with pytest.raises(QontakSendInDoubtError):
            client.send_direct(SEEDS["image"])
    finally:
        client.close()
    assert sum(direct_sends(qontak_sandbox).values()) == 1


def test_validation_errors_carry_the_sandbox_messages(kind: str, qontak_sandbox: Any) -> None:
    payload = dict(SEEDS["otp"], message_template_id="00000000-0000-0000-0000-000000000000")
    client = connect(kind, qontak_sandbox)
    try:
        with pytest.raises(QontakValidationError) as info:
            client.send_direct(payload)
        with pytest.raises(QontakNotFoundError):
            client.get_broadcast("no-such-broadcast")
    finally:
        client.close()
    assert info.value.status_code == 422 and info.value.messages
    assert all(m in str(info.value) for m in info.value.messages if not any(c.isdigit() for c in m))
    assert direct_sends(qontak_sandbox) == {"422": 1}


def test_paced_sends_stay_under_the_sandbox_limit(kind: str, qontak_sandbox: Any) -> None:
    qontak_sandbox.update_settings(rate_limit=3, rate_limit_window_seconds=0.25)
    # 600/min = one send per 0.1 s: at most 3 in any 0.25 s window, so the sandbox never answers 429
    client = connect(kind, qontak_sandbox, rate_per_minute=600, real_time=True)
    try:
        for _ in range(5):
            client.send_direct(SEEDS["otp"])
    finally:
        client.close()
    assert direct_sends(qontak_sandbox) == {"201": 5}


def test_a_401_from_a_skewed_clock_says_how_far_off_it_is(kind: str, qontak_sandbox: Any) -> None:
    """Ten minutes off: the gateway refuses the signature, and its Date header shows why."""
    client = connect(kind, qontak_sandbox, now=lambda: utcnow() + timedelta(minutes=10))
    try:
        with pytest.raises(QontakAuthenticationError) as info:
            client.list_channels()
    finally:
        client.close()
    assert re.search(r"This machine's clock is 60\d s ahead of the gateway's", str(info.value))
    assert "that alone explains this 401" in str(info.value)


def test_an_html_error_page_is_quoted_as_a_short_excerpt(kind: str) -> None:
    from faultserver import FaultServer, Reply

    page = (
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>"
        + "<p>"
        + "upstream trouble " * 500
        + "</p></body></html>"
    )
    with FaultServer() as server:
        server.default = lambda _r: Reply(502, page.encode(), headers={"Content-Type": "text/html"})
        from faultserver import open_client

        client = open_client(kind, server.url, retry_policy=RetryPolicy(max_attempts=1))
        try:
            with pytest.raises(QontakServerError) as info:
                client.get_channel("x")
        finally:
            client.close()
    text = str(info.value)
    assert "Qontak said: 502 Bad Gateway." in text and "upstream trouble" not in text and len(text) < 400
