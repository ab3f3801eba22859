"""Every request has a total deadline: a trickling server cannot hold a worker longer than that.

``timeout`` bounds each socket read only, and restarts with every byte: a server that answers one byte every
half second keeps a plain client busy forever (measured before this rule: a send held 60 s with
``timeout=2``, ``list_templates()`` 305 s). The deadline bounds connect, write, read, every attempt and every
wait of one request, sync (a watchdog closes the socket under the request) and async
(``asyncio.wait_for``).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultserver import open_client

from qontak_provider.client.errors import QontakSendInDoubtError, QontakTimeoutError

pytestmark = pytest.mark.integration

SEEDS = json.loads((Path(__file__).parents[1] / "fixtures" / "seed_payloads.json").read_text())


class TricklingServer:
    """Reads each request, then answers a valid response one byte every ``interval`` seconds."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.requests = 0
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._stop = threading.Event()
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        body = b'{"status":"success","data":[]}'
        answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
            len(body),
            body,
        )
        with conn:
            conn.recv(65536)
            self.requests += 1
            for byte in answer:
                if self._stop.is_set():
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return  # the client gave up: exactly what the deadline is for
                time.sleep(self.interval)

    def close(self) -> None:
        self._stop.set()
        self._sock.close()


@pytest.fixture
def trickling() -> Iterator[TricklingServer]:
    server = TricklingServer()
    yield server
    server.close()


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def test_a_trickled_read_ends_at_the_deadline(kind: str, trickling: TricklingServer) -> None:
    client = open_client(kind, trickling.url, timeout=2, deadline=3, rate_per_minute=None)
    started = time.monotonic()
    try:
        with pytest.raises(QontakTimeoutError) as info:
            client.list_templates()
    finally:
        client.close()
    elapsed = time.monotonic() - started
    assert 2.5 <= elapsed < 5.0, elapsed  # not 5 attempts x 60 s
    assert "deadline of 3 s" in str(info.value) and info.value.deadline == 3
    assert trickling.requests == 1  # no time was left for a second attempt


def test_a_trickled_send_is_in_doubt_at_the_deadline_never_retried(
    kind: str, trickling: TricklingServer
) -> None:
    client = open_client(kind, trickling.url, timeout=2, deadline=3, rate_per_minute=None)
    started = time.monotonic()
    try:
        with pytest.raises(QontakSendInDoubtError, match="deadline"):
            client.send_direct(SEEDS["otp"])  # it was written: Qontak may have it
    finally:
        client.close()
    assert time.monotonic() - started < 5.0
    assert trickling.requests == 1


def test_a_send_that_would_wait_past_its_deadline_for_its_pacing_slot_is_not_sent(kind: str) -> None:
    """At 1 send per minute the second send's slot is 60 s away: with a 2 s deadline it fails at once."""
    from faultserver import FaultServer, broadcast, ok

    with FaultServer() as server:
        server.default = lambda _r: ok(broadcast())
        client = open_client(kind, server.url, deadline=2, rate_per_minute=1)
        try:
            client.send_direct(SEEDS["otp"])
            started = time.monotonic()
            with pytest.raises(QontakTimeoutError) as info:
                client.send_direct(SEEDS["otp"])
            assert time.monotonic() - started < 1.0  # no pointless sleep
        finally:
            client.close()
        assert len(server.requests) == 1  # the second was never written: safe to send later
        assert "pacing slot" in str(info.value) and "Nothing was sent" in str(info.value)
