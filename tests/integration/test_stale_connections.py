"""No false doubt from stale connections: a send never goes out on a connection idle too long.

Two ways a pooled connection goes stale, both played by the sandbox over real sockets: the server closes it
after its keep-alive timeout (here shorter than a 429 reset the client waits out), or a NAT gateway or load
balancer silently forgets the idle flow, so that a request written on it is reset unprocessed
(``idle_reset_seconds``). Either would turn a send that never reached Qontak into "in doubt".
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from test_api_variants import song
from test_client_sandbox import connect

from qontak_provider.client import aio, sync
from qontak_provider.client.core import MAX_IDLE_REUSE_SECONDS
from qontak_provider.client.errors import QontakSendInDoubtError

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def resets(sandbox: Any) -> int:
    return int(sandbox.stats()["by_status"].get("reset", 0))


def test_a_send_after_a_forgotten_idle_flow_opens_a_fresh_connection(kind: str, qontak_sandbox: Any) -> None:
    qontak_sandbox.update_settings(rate_limit=0, idle_reset_seconds=MAX_IDLE_REUSE_SECONDS + 0.5)
    client = connect(kind, qontak_sandbox, real_time=True)
    try:
        client.send_direct(song("6281234567001"))
        time.sleep(MAX_IDLE_REUSE_SECONDS + 1.0)  # idle longer than the flow is remembered
        client.send_direct(song("6281234567002"))  # must not raise QontakSendInDoubtError
    finally:
        client.close()
    assert qontak_sandbox.counts() == {"6281234567001": 1, "6281234567002": 1}
    assert resets(qontak_sandbox) == 0


def test_without_the_idle_rule_the_same_send_is_in_doubt(
    kind: str, qontak_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: the sandbox variant really reproduces the false doubt the rule prevents."""
    monkeypatch.setattr(sync, "MAX_IDLE_REUSE_SECONDS", 1000.0)
    monkeypatch.setattr(aio, "MAX_IDLE_REUSE_SECONDS", 1000.0)
    qontak_sandbox.update_settings(rate_limit=0, idle_reset_seconds=0.5)
    client = connect(kind, qontak_sandbox, real_time=True)
    try:
        client.send_direct(song("6281234567001"))
        time.sleep(1.0)
        with pytest.raises(QontakSendInDoubtError):
            client.send_direct(song("6281234567002"))
    finally:
        client.close()
    assert qontak_sandbox.counts() == {"6281234567001": 1}  # never processed, yet "in doubt"
    assert resets(qontak_sandbox) == 1


def test_a_send_after_waiting_out_a_429_longer_than_the_keep_alive(kind: str, qontak_sandbox: Any) -> None:
    """The adaptation benchmark's case: the server closed the pooled connection while the client slept."""
    qontak_sandbox.update_settings(rate_limit=1, rate_limit_window_seconds=2, keep_alive_seconds=0.5)
    client = connect(kind, qontak_sandbox, real_time=True)
    try:
        for i in range(3):  # the second and third each wait out a 429 of about 2 s
            client.send_direct(song(f"628123456700{i}"))
    finally:
        client.close()
    assert sorted(qontak_sandbox.counts().values()) == [1, 1, 1]
    assert qontak_sandbox.stats()["by_status"].get("429", 0) >= 2
