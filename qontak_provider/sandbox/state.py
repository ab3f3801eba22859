"""The sandbox's in-memory account: channels, templates, broadcasts, recorded sends, limits and counters.

All mutation happens under one lock, because the ASGI server thread and the test thread (through the
:class:`~qontak_provider.sandbox.server.Sandbox` helpers) use the same object. Delivery progress is not
stored: it is computed from the clock whenever a broadcast is read (see :mod:`.lifecycle`), so no
background thread is needed and a paused test never misses a transition.
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from qontak_provider.sandbox.fixtures import Fixtures
from qontak_provider.sandbox.magic import Outcome


def iso_timestamp(epoch: float) -> str:
    """Format like the API: ``2024-10-15T21:18:44.042Z`` (UTC, milliseconds)."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def normalize_number(raw: str) -> str:
    """Digits only, a local ``08...`` number turned into ``628...``: the form logs echo."""
    digits = "".join(ch for ch in raw if ch.isdigit())
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    return digits


def is_valid_number(digits: str) -> bool:
    """Whether ``phonenumbers`` considers ``+<digits>`` a valid number."""
    import phonenumbers

    try:
        return bool(phonenumbers.is_valid_number(phonenumbers.parse("+" + digits)))
    except phonenumbers.NumberParseException:
        return False


@dataclass
class BroadcastRecord:
    """One accepted direct send and everything needed to render it at any later moment."""

    id: str
    created_at: float
    name: str
    to_number: str
    to_name: str
    client_id: str
    payload: dict[str, Any]
    channel: dict[str, Any]
    template: dict[str, Any]
    language: str
    outcome: Outcome
    step_seconds: float
    log_delay_seconds: float
    contact_id: str
    log_id: str
    wamid: str
    #: For WRONG_LANGUAGE outcomes: the template name WhatsApp looked up.
    error_detail: str | None = None


@dataclass(frozen=True)
class FaultRoll:
    """The random draws of one direct send, always drawn together so a seed replays identically."""

    drop: bool
    fail_before: bool
    fail_after: bool


@dataclass
class Stats:
    """Counts of API requests (everything outside ``/_sandbox``), per endpoint and per status."""

    total: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_endpoint: dict[str, Counter[str]] = field(default_factory=dict)

    def record(self, endpoint: str, status: str) -> None:
        self.total += 1
        self.by_status[status] += 1
        self.by_endpoint.setdefault(endpoint, Counter())[status] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_status": dict(self.by_status),
            "by_endpoint": {name: dict(counts) for name, counts in self.by_endpoint.items()},
        }


class SandboxState:
    """
    The mutable world of one sandbox.

    :param fixtures: channels and templates to serve (copied; :meth:`reset` returns to them).
    :param seed: seed of the fault and id generators.
    """

    def __init__(self, fixtures: Fixtures, seed: int = 0) -> None:
        self.lock = threading.RLock()
        self._pristine = fixtures.copy()
        self.seed = seed
        self.clock_offset = 0.0
        self.channels: dict[str, dict[str, Any]] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        self.broadcasts: dict[str, BroadcastRecord] = {}
        self.sends: list[dict[str, Any]] = []
        #: Files taken by the uploader, by id: name, type, size, SHA-256, URL and the bytes.
        self.uploads: dict[str, dict[str, Any]] = {}
        self.stats = Stats()
        self._send_times: deque[float] = deque()
        self._fault_rng = random.Random(seed)  # noqa: S311 - seeded on purpose: runs must repeat
        self._id_rng = random.Random(f"ids-{seed}")  # noqa: S311 - ids only need to look random
        self.reset(seed=seed)

    # ------------------------------------------------------------------------------------------ lifecycle

    def reset(self, *, seed: int | None = None, fixtures: Fixtures | None = None) -> None:
        """Forget broadcasts, sends, counters and the rate window; restore (or replace) the fixtures."""
        with self.lock:
            if fixtures is not None:
                self._pristine = fixtures.copy()
            if seed is not None:
                self.seed = seed
            current = self._pristine.copy()
            self.channels = {c["id"]: c for c in current.channels}
            self.templates = {t["id"]: t for t in current.templates}
            self.broadcasts = {}
            self.sends = []
            self.uploads = {}
            self.stats = Stats()
            self._send_times = deque()
            self.clock_offset = 0.0
            self.reseed(self.seed)

    def reseed(self, seed: int) -> None:
        """Restart the random generators (faults and ids) from ``seed``."""
        with self.lock:
            self.seed = seed
            self._fault_rng = random.Random(seed)  # noqa: S311 - seeded on purpose: runs must repeat
            self._id_rng = random.Random(f"ids-{seed}")  # noqa: S311 - ids only need to look random

    def now(self) -> float:
        """The sandbox clock: wall time plus whatever :meth:`advance` added."""
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> float:
        """Move the sandbox clock forward (lifecycles and the rate window); return the new offset."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self.lock:
            self.clock_offset += seconds
            return self.clock_offset

    # ----------------------------------------------------------------------------------------- randomness

    def new_id(self) -> str:
        """A random-looking but seeded UUID4 string."""
        with self.lock:
            return str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4))

    def new_wamid(self) -> str:
        """A WhatsApp message id in the ``wamid.<base64>`` shape."""
        import base64

        with self.lock:
            raw = b"\x15\x02\x00\x11\x18\x12" + self._id_rng.getrandbits(160).to_bytes(20, "big")
        return "wamid." + base64.b64encode(raw).decode("ascii")

    def roll_faults(self, *, drop: float, fail_before: float, fail_after: float) -> FaultRoll:
        """Draw the three fault decisions of one direct send (three draws every time, for repeatability)."""
        with self.lock:
            draws = [self._fault_rng.random() for _ in range(3)]
        return FaultRoll(
            drop=draws[0] < drop, fail_before=draws[1] < fail_before, fail_after=draws[2] < fail_after
        )

    # ------------------------------------------------------------------------------------------ rate limit

    def take_rate_slot(self, limit: int | None, window_seconds: float) -> tuple[bool, int, int]:
        """
        Count one direct send against a sliding window.

        :return: ``(allowed, remaining, reset_seconds)``; a refused request does not use a slot.
        """
        with self.lock:
            now = self.now()
            while self._send_times and self._send_times[0] <= now - window_seconds:
                self._send_times.popleft()
            if not limit:
                self._send_times.append(now)
                return True, 0, 0
            if len(self._send_times) >= limit:
                reset = max(1, math.ceil(self._send_times[0] + window_seconds - now))
                return False, 0, reset
            self._send_times.append(now)
            remaining = limit - len(self._send_times)
            reset = max(1, math.ceil(self._send_times[0] + window_seconds - now))
            return True, remaining, reset

    # ------------------------------------------------------------------------------------------- records

    def add_broadcast(self, record: BroadcastRecord) -> None:
        """Store an accepted broadcast and note the send for ``/_sandbox/sends``."""
        with self.lock:
            self.broadcasts[record.id] = record
            self.sends.append(
                {
                    "broadcast_id": record.id,
                    "received_at": iso_timestamp(record.created_at),
                    "client_id": record.client_id,
                    "to_number": record.to_number,
                    "message_template_id": record.template["id"],
                    "template_name": record.template["name"],
                    "outcome": record.outcome.value,
                    "body": record.payload,
                }
            )

    def mark_send(self, broadcast_id: str, **flags: Any) -> None:
        """Annotate a recorded send, e.g. ``answered=500`` for a fault injected after recording."""
        with self.lock:
            for send in self.sends:
                if send["broadcast_id"] == broadcast_id:
                    send.update(flags)

    def send_counts(self) -> dict[str, int]:
        """Accepted sends per recipient number (normalized digits)."""
        with self.lock:
            return dict(Counter(send["to_number"] for send in self.sends))

    def broadcasts_newest_first(self) -> list[BroadcastRecord]:
        with self.lock:
            return sorted(self.broadcasts.values(), key=lambda b: b.created_at, reverse=True)

    def replace_fixtures(self, fixtures: Fixtures) -> None:
        """Serve other channels and templates from now on (recorded broadcasts are kept)."""
        with self.lock:
            self._pristine = fixtures.copy()
            current = fixtures.copy()
            self.channels = {c["id"]: c for c in current.channels}
            self.templates = {t["id"]: t for t in current.templates}

    @property
    def fixtures(self) -> Fixtures:
        """The fixtures :meth:`reset` returns to."""
        return self._pristine.copy()
