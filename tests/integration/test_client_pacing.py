"""Client-side send pacing over a real socket: spacing, sharing between threads/tasks, 429 pauses."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultserver import FakeTime, FaultServer, broadcast, error, ok, open_client

from qontak_provider.client.aio import AsyncQontakClient
from qontak_provider.client.policy import PACING_SAFETY_MARGIN
from qontak_provider.client.sync import QontakClient

pytestmark = pytest.mark.integration

PAYLOAD = json.loads((Path(__file__).parents[1] / "fixtures" / "seed_payloads.json").read_text())["otp"]
# Thread and event-loop scheduling on a loaded 2-core CI box: arrivals may bunch up by a few milliseconds.
SLACK = 0.02


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as srv:
        srv.default = lambda _r: ok(broadcast(), status=201)
        yield srv


def gaps(server: FaultServer) -> list[float]:
    times = sorted(r.at for r in server.requests)
    return [b - a for a, b in itertools.pairwise(times)]


def test_five_sends_at_600_per_minute_take_0_4_s_on_the_injected_clock(kind, server) -> None:
    fake = FakeTime()
    facade = open_client(kind, server.url, fake, rate_per_minute=600)
    try:
        for _ in range(5):
            facade.send_direct(PAYLOAD)
    finally:
        facade.close()
    assert len(server.requests) == 5
    # first send immediate, then evenly spaced (0.1 s plus the pacer's safety margin)
    assert fake.sleeps == pytest.approx([0.1 * (1 + PACING_SAFETY_MARGIN)] * 4)


def test_five_sends_at_600_per_minute_take_0_4_s_of_real_time(kind, server) -> None:
    facade = open_client(kind, server.url, rate_per_minute=600)
    try:
        started = time.monotonic()
        for _ in range(5):
            facade.send_direct(PAYLOAD)
        elapsed = time.monotonic() - started
    finally:
        facade.close()
    assert elapsed >= 0.4 - SLACK
    assert all(gap >= 0.1 - SLACK for gap in gaps(server))


@pytest.mark.parametrize("rate", [0, None])
def test_pacing_can_be_disabled(kind, server, rate) -> None:
    fake = FakeTime()
    facade = open_client(kind, server.url, fake, rate_per_minute=rate)
    try:
        for _ in range(5):
            facade.send_direct(PAYLOAD)
    finally:
        facade.close()
    assert fake.sleeps == []
    assert len(server.requests) == 5


def test_reads_are_not_paced(kind, server) -> None:
    fake = FakeTime()
    facade = open_client(kind, server.url, fake, rate_per_minute=1)
    try:
        for _ in range(3):
            facade.get_broadcast("b-1")
    finally:
        facade.close()
    assert fake.sleeps == []


def test_threads_sharing_a_sync_client_share_the_pace(server) -> None:
    client = QontakClient("fault-client", "canary-SECRET-9f2c1d", base_url=server.url, rate_per_minute=1200)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(2):
                client.send_direct(PAYLOAD)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    client.close()
    assert errors == []
    assert len(server.requests) == 8
    assert elapsed >= 7 * 0.05 - SLACK
    assert all(gap >= 0.05 - SLACK for gap in gaps(server)), gaps(server)


def test_tasks_sharing_an_async_client_share_the_pace(server) -> None:
    async def main() -> None:
        async with AsyncQontakClient(
            "fault-client", "canary-SECRET-9f2c1d", base_url=server.url, rate_per_minute=600
        ) as client:
            await asyncio.gather(*(client.send_direct(PAYLOAD) for _ in range(5)))

    started = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - started >= 0.4 - SLACK
    assert len(server.requests) == 5
    assert all(gap >= 0.1 - SLACK for gap in gaps(server)), gaps(server)


def test_a_429_pauses_every_sender_for_the_announced_reset(server) -> None:
    server.script(error(429, "Too many requests", "rate_limit_reset: 0.3"))
    client = QontakClient(
        "fault-client", "canary-SECRET-9f2c1d", base_url=server.url, rate_per_minute=None, random=lambda: 0.0
    )
    first = threading.Thread(target=client.send_direct, args=(PAYLOAD,))
    first.start()
    deadline = time.monotonic() + 5
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)  # the 429 has been answered and the pacer paused
    client.send_direct(PAYLOAD)  # another sender: must wait for the pause too
    first.join()
    client.close()
    limited, *rest = sorted(server.requests, key=lambda r: r.at)
    assert len(rest) == 2
    assert all(r.at - limited.at >= 0.3 - SLACK for r in rest), [r.at - limited.at for r in rest]


def test_a_sender_that_booked_its_slot_before_a_429_waits_for_the_pause(server) -> None:
    # Sender B books the slot 0.1 s after sender A's; A's 429 (reset 0.5 s) arrives while B sleeps. B must
    # not use its stale slot (a certain 429 against a real limit) but start after the pause.
    # The 429 is answered 50 ms late, so B has surely booked its slot before the pause is known.
    server.script(dataclasses.replace(error(429, "Too many requests", "rate_limit_reset: 0.5"), delay=0.05))
    client = QontakClient(
        "fault-client", "canary-SECRET-9f2c1d", base_url=server.url, rate_per_minute=600, random=lambda: 0.0
    )
    first = threading.Thread(target=client.send_direct, args=(PAYLOAD,))
    first.start()
    deadline = time.monotonic() + 5
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.002)
    client.send_direct(PAYLOAD)  # booked now, ~0.1 s after A's slot, i.e. before A's 429 pause is known
    first.join()
    client.close()
    limited, *rest = sorted(server.requests, key=lambda r: r.at)
    assert len(rest) == 2
    assert all(r.at - limited.at >= 0.5 - SLACK for r in rest), [r.at - limited.at for r in rest]
