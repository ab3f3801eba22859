"""The attempt loop of one request, written once for both transports.

:func:`request_flow` is a generator: it yields :class:`Wait` (pacing, backoff) and :class:`Attempt` (make
the request with these freshly signed headers) steps, and the transports drive it, the sync client with
``requests`` and ``time.sleep``, the async client with ``httpx`` and ``asyncio.sleep``. What to do after a
failed attempt is decided by :func:`~qontak_provider.client.policy.decide`; this module only sequences it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime

from qontak_provider.client.auth import RequestAuth
from qontak_provider.client.errors import error_for_deadline
from qontak_provider.client.policy import HttpOutcome, Pacer, RetryPolicy, TransportOutcome, decide
from qontak_provider.client.wire import Call, RawResponse, base_headers, http_outcome

log = logging.getLogger("qontak_provider.client")


@dataclass(frozen=True)
class Attempt:
    """
    Step: make attempt number :attr:`number` with these headers (fresh Date and signature), finished
    (connect, write, read) within :attr:`time_left` seconds.
    """

    number: int
    headers: dict[str, str] = field(repr=False)
    time_left: float = math.inf


@dataclass(frozen=True)
class Wait:
    """Step: sleep this many seconds (pacing or backoff), then continue the flow with ``None``."""

    seconds: float


Step = Attempt | Wait
Flow = Generator[Step, RawResponse | TransportOutcome | None, RawResponse]


class SharedPacer:
    """
    A :class:`~qontak_provider.client.policy.Pacer` behind a lock, shared by all threads/tasks of a client.

    The lock is a :class:`threading.Lock` for both transports: :meth:`Pacer.reserve` never blocks or awaits,
    so the lock is held for microseconds, and unlike an :class:`asyncio.Lock` it also protects a pacer shared
    by clients on different threads or event loops. The caller sleeps *outside* the lock.
    """

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer
        self._lock = threading.Lock()

    def reserve(self) -> float:
        with self._lock:
            return self.pacer.reserve()

    @property
    def pauses(self) -> int:
        with self._lock:
            return self.pacer.pauses

    def paused_for(self) -> float:
        with self._lock:
            return self.pacer.paused_for()

    def slow_down(self, seconds: float) -> None:
        with self._lock:
            self.pacer.slow_down(seconds)


def request_flow(
    call: Call,
    *,
    auth: RequestAuth,
    policy: RetryPolicy,
    pacer: SharedPacer | None,
    random: Callable[[], float],
    now: Callable[[], datetime],
    clock: Callable[[], float] = time.monotonic,
    deadline: float | None = None,
    before_write: Callable[[], None] | None = None,
) -> Flow:
    """
    The attempt loop of one request, as a generator the transports drive.

    It yields :class:`Wait` (the driver sleeps and sends back ``None``) and :class:`Attempt` (the driver makes
    the request with the given headers and sends back a :class:`~qontak_provider.client.wire.RawResponse` or
    a :class:`~qontak_provider.client.policy.TransportOutcome`). It returns the 2xx response or raises the
    :class:`~qontak_provider.client.errors.QontakError` the policy decided on. Sends are paced before every
    attempt.

    :param clock: monotonic clock the deadline is measured on.
    :param deadline: seconds the whole request may take (pacing, every attempt and wait); ``None`` for no
        limit. Each attempt is handed the time left, and a wait that would pass the deadline raises
        :class:`~qontak_provider.client.errors.QontakTimeoutError` instead of sleeping.
    :param before_write: called once, after pacing and right before the first attempt is handed to the
        transport: the last moment at which the request has certainly not left. The bulk engine journals the
        row there. If it raises, nothing is sent and the error propagates.
    """
    ends = clock() + deadline if deadline is not None else math.inf

    def waited(seconds: float, attempts: int, waiting_for: str) -> Wait:
        """The wait, unless it would pass the deadline (then the deadline error)."""
        if seconds >= ends - clock():
            raise error_for_deadline(
                call.kind,
                method=call.method,
                path=call.path,
                deadline=float(deadline or 0),
                attempts=attempts,
                waiting_for=waiting_for,
            )
        return Wait(seconds)

    attempt = 0
    while True:
        attempt += 1
        if call.kind == "send" and pacer is not None:
            while True:
                pauses = pacer.pauses  # read before booking: a pause the booking already saw is no news
                wait = pacer.reserve()
                if wait <= 0:
                    break
                yield waited(wait, attempt - 1, f"{wait:.1f} s for its pacing slot")
                # Another sender's 429 while this one slept: its slot now lies inside the new pause, and
                # using it would only draw a 429 of its own, so book a new slot after the pause instead.
                if pacer.pauses == pauses or pacer.paused_for() <= 0:
                    break
        if attempt == 1 and before_write is not None:
            before_write()
        # Signed per attempt: a retry after a long backoff must not reuse a stale Date.
        headers = {**base_headers(call), **auth.headers(call.method, call.path, now())}
        result = yield Attempt(attempt, headers, ends - clock())
        if isinstance(result, RawResponse) and 200 <= result.status < 300:
            return result
        if result is None:  # pragma: no cover - a driver bug, not a runtime condition
            raise RuntimeError("the transport returned no outcome for an attempt")
        outcome = http_outcome(result) if isinstance(result, RawResponse) else result
        decision = decide(
            call.kind,
            outcome,
            attempt=attempt,
            policy=policy,
            method=call.method,
            path=call.path,
            target=call.target,
            random=random,
            now=now(),
        )
        if decision.pause_sends is not None and pacer is not None:
            pacer.slow_down(decision.pause_sends)
        if decision.error is not None:
            raise decision.error
        what = f"HTTP {outcome.status}" if isinstance(outcome, HttpOutcome) else outcome.kind.value
        log.warning(
            "Qontak %s %s failed (%s, attempt %d of %d); retrying in %.2f s",
            call.method,
            call.path,
            what,
            attempt,
            policy.max_attempts,
            decision.delay,
        )
        if decision.delay > 0 or ends - clock() <= 0:
            yield waited(decision.delay, attempt, f"{decision.delay:.1f} s before attempt {attempt + 1}")


def log_attempt(call: Call, status: int | str, elapsed: float, attempt: int) -> None:
    """DEBUG line per attempt: method, path, status and time only (never headers or bodies)."""
    log.debug("%s %s -> %s in %.3f s (attempt %d)", call.method, call.path, status, elapsed, attempt)
