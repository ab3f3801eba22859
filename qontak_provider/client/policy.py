"""Retry decisions and send pacing: pure functions and classes, no I/O.

Both transports (:mod:`~qontak_provider.client.sync` over requests and :mod:`~qontak_provider.client.aio`
over httpx) describe what happened to an attempt with the small value types of this module and ask
:func:`decide` what to do next. Keeping the rules here, in one place without sockets or clocks, is what lets
the unit tests cover every branch and guarantees the two transports never disagree.

The rules, in one paragraph: a *read* is retried on 429, 5xx and on any transport failure, with capped
exponential backoff and full jitter, never sooner than the server asked (``rate_limit_reset: N`` in the 429
body, ``Retry-After``). A *send* (``POST /broadcasts/whatsapp/direct``) is retried **only** when the server
cannot have processed it: on 429, and when the connection could not be opened so no request byte was
written. Anything else that may have reached Qontak (5xx, read timeout, a connection dropped after the
request was written) raises :class:`~qontak_provider.client.errors.QontakSendInDoubtError`, because a
WhatsApp message cannot be recalled. Authentication failures and other 4xx answers are never retried.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Literal

from qontak_provider.client.errors import QontakError, error_for_failure, error_for_response
from qontak_provider.defaults import DEFAULT_RATE_PER_MINUTE

#: ``read``: repeated on any transient failure. ``send`` (creates a WhatsApp message): paced, and never
#: repeated once it may have reached Qontak. ``write`` (any other request that changes something): never
#: repeated once it may have reached Qontak, not paced. An upload is a ``read``: it creates no message, so
#: repeating it is harmless.
RequestKind = Literal["read", "send", "write"]

_RATE_LIMIT_RESET_RE = re.compile(r"^\s*rate_limit_reset\s*:\s*(\d+(?:\.\d+)?)\s*$", re.IGNORECASE)


# ------------------------------------------------------------------------------------------------ outcomes


class FailureKind(str, Enum):
    """What went wrong when an attempt got no HTTP answer; decides whether a send may be repeated."""

    #: The connection was never established (refused, DNS, connect timeout, pool timeout): no request byte
    #: was written, so even a send is safe to repeat.
    CONNECT = "connect"
    #: The request was written but no answer came in time (read/write timeout): the server may have acted.
    TIMEOUT = "timeout"
    #: The connection broke after the request was (at least partly) written (reset, remote disconnect).
    DISCONNECTED = "disconnected"
    #: A failure retrying cannot fix (invalid URL, TLS certificate rejected, unsupported scheme).
    FATAL = "fatal"


@dataclass(frozen=True)
class HttpOutcome:
    """
    An HTTP answer that was not a success.

    :param status: HTTP status code.
    :param messages: Qontak's ``error.messages`` (or the gateway's ``message``) parsed from the body.
    :param retry_after: the raw ``Retry-After`` header, if any.
    :param request_id: the server's ``X-Request-Id``, if any.
    :param date: the server's ``Date`` header, if any (its clock, for a 401's clock-skew check).
    """

    status: int
    messages: tuple[str, ...] = ()
    retry_after: str | None = None
    request_id: str | None = None
    date: str | None = None


@dataclass(frozen=True)
class TransportOutcome:
    """
    An attempt that got no HTTP answer.

    :param kind: which phase failed, see :class:`FailureKind`.
    :param detail: short, secret-free description (exception type and text) for the error message.
    """

    kind: FailureKind
    detail: str = ""


Outcome = HttpOutcome | TransportOutcome


@dataclass(frozen=True)
class Decision:
    """
    What to do after a failed attempt: retry after :attr:`delay` seconds, or raise :attr:`error`.

    :param delay: seconds to wait before the next attempt (only meaningful when :attr:`error` is ``None``).
    :param error: the error to raise; ``None`` means retry.
    :param pause_sends: seconds all senders sharing the pacer should pause (a 429 on a send), else ``None``.
    """

    delay: float = 0.0
    error: QontakError | None = None
    pause_sends: float | None = None


# ------------------------------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class RetryPolicy:
    """
    How often and how patiently failed requests are retried.

    :param max_attempts: attempts in total, the first one included (1 disables retries).
    :param base_delay: backoff before the second attempt; doubles for each further attempt.
    :param max_delay: cap of the exponential backoff (not of a wait the server announced).
    :param jitter: use "full jitter" (a uniform random delay between 0 and the backoff) so that many
        workers that failed together do not retry together.
    :param max_reset_wait: longest wait the server may announce (``rate_limit_reset`` / ``Retry-After``) that
        is still honoured by sleeping; a longer one raises at once, so an Airflow retry takes over instead of
        a worker slot sleeping for minutes.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: bool = True
    max_reset_wait: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_reset_wait < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, attempt: int, random: Callable[[], float]) -> float:
        """
        Seconds to wait after failed attempt number ``attempt`` (1-based), before any server-announced wait.

        :param random: source of floats in ``[0, 1)``; injected so tests are deterministic.
        """
        # min() before the power would still overflow for huge attempts, so clamp the exponent first.
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(attempt - 1, 62))
        return ceiling * random() if self.jitter else ceiling


def parse_rate_limit_reset(messages: Sequence[str]) -> float | None:
    """Return ``N`` of a ``"rate_limit_reset: N"`` entry in a 429 body's ``error.messages``, else ``None``."""
    for message in messages:
        match = _RATE_LIMIT_RESET_RE.match(str(message))
        if match:
            return float(match.group(1))
    return None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """
    Return the seconds a ``Retry-After`` header asks to wait (delta-seconds or HTTP date), else ``None``.

    A date in the past means "now" (0). Garbage is ignored rather than trusted.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    from qontak_provider.client.signing import parse_http_date

    try:
        moment = parse_http_date(text)
    except ValueError:
        return None
    now = now or datetime.now(timezone.utc)
    return max(0.0, (moment - now).total_seconds())


def announced_wait(outcome: HttpOutcome, *, now: datetime | None = None) -> float | None:
    """The wait announced in the body (``rate_limit_reset``) or in ``Retry-After``; the larger wins."""
    waits = [
        w
        for w in (parse_rate_limit_reset(outcome.messages), parse_retry_after(outcome.retry_after, now=now))
        if w is not None
    ]
    return max(waits) if waits else None


# ----------------------------------------------------------------------------------------------- decision


def decide(  # noqa: PLR0911 - one return per rule reads better than a result variable
    kind: RequestKind,
    outcome: Outcome,
    *,
    attempt: int,
    policy: RetryPolicy,
    method: str,
    path: str,
    random: Callable[[], float],
    now: datetime | None = None,
    target: str | None = None,
) -> Decision:
    """
    Decide what to do after failed attempt number ``attempt`` (1-based) of a request.

    :param kind: ``"read"``, ``"send"`` or ``"write"``; sends and writes are only repeated when Qontak cannot
        have processed them.
    :param outcome: the non-success HTTP answer or the transport failure.
    :param random: source of floats in ``[0, 1)`` for the jitter.
    :param now: wall-clock time for ``Retry-After`` dates (default: now).
    :param target: what an id lookup looks for, for the error (see
        :func:`~qontak_provider.client.errors.error_for_response`).
    """
    last = attempt >= policy.max_attempts
    if isinstance(outcome, TransportOutcome):
        may_retry = outcome.kind is FailureKind.CONNECT or (
            kind == "read" and outcome.kind in (FailureKind.TIMEOUT, FailureKind.DISCONNECTED)
        )
        if not may_retry or last:
            return Decision(
                error=error_for_failure(kind, outcome, method=method, path=path, attempts=attempt)
            )
        return Decision(delay=policy.backoff(attempt, random))

    status = outcome.status
    if status == 429:
        announced = announced_wait(outcome, now=now)
        delay = max(announced or 0.0, policy.backoff(attempt, random))
        # A send's 429 pauses every sender that shares the pacer, not just this one.
        pause = (announced if announced is not None else delay) if kind == "send" else None
        if last or (announced is not None and announced > policy.max_reset_wait):
            error = error_for_response(
                kind,
                outcome,
                method=method,
                path=path,
                target=target,
                attempts=attempt,
                reset_after=announced,
            )
            return Decision(error=error, pause_sends=pause)
        return Decision(delay=delay, pause_sends=pause)
    if status >= 500 and kind == "read":
        announced = parse_retry_after(outcome.retry_after, now=now)
        if last or (announced is not None and announced > policy.max_reset_wait):
            return Decision(
                error=error_for_response(
                    kind, outcome, method=method, path=path, target=target, attempts=attempt
                )
            )
        return Decision(delay=max(announced or 0.0, policy.backoff(attempt, random)))
    # 401/403, other 4xx, a send's 5xx, and anything unexpected: never retried.
    return Decision(
        error=error_for_response(
            kind, outcome, method=method, path=path, target=target, attempts=attempt, now=now
        )
    )


# -------------------------------------------------------------------------------------------------- pacing

#: How much wider than ``60 / rate_per_minute`` the :class:`Pacer` spaces sends (see there why).
PACING_SAFETY_MARGIN = 0.02


@dataclass
class Pacer:
    """
    Client-side pacing of sends: evenly spaced slots, ``60 / rate_per_minute`` seconds apart.

    The first send goes at once; each later one gets the next free slot, so there is no burst and the
    documented limit (60 direct sends per minute) is never exceeded by one client. :meth:`reserve` books a
    slot and returns how long the caller must wait for it; it never sleeps itself, which keeps this class
    pure and lets the sync and async transports sleep their own way. Not thread-safe on its own: the
    transports wrap it in a lock.

    Slots are spaced ``safety_margin`` (2 %) wider than ``60 / rate_per_minute``. The server counts *arrivals*
    in a sliding window, not the client's slots: with exact spacing at the server's own rate, a window holds
    the limit minus one, so a single request that arrives one interval late (a new pooled connection, a
    scheduling hiccup, network jitter) puts one request too many into a later window and draws a 429. The
    margin leaves ``rate_per_minute * W / 60 * margin`` requests of slack in every window of ``W`` seconds
    (2 in a 10 s window at 600/min), at a cost of 2 % of throughput.

    A 429 calls :meth:`slow_down`: every sender sharing this pacer then waits for the announced reset. A
    sender that booked its slot before the 429 checks :attr:`pauses` and :meth:`paused_for` when it wakes and
    books a new slot after the pause, rather than spending its request on a certain 429.

    :param rate_per_minute: sends per minute; ``0`` or ``None`` disables pacing (429 pauses still apply).
    :param clock: monotonic clock in seconds, injected for tests.
    :param safety_margin: fraction by which slots are spaced wider than ``60 / rate_per_minute``.
    """

    rate_per_minute: float | None = DEFAULT_RATE_PER_MINUTE
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    safety_margin: float = PACING_SAFETY_MARGIN
    _next_slot: float | None = field(default=None, init=False, repr=False)
    _paused_until: float = field(default=-math.inf, init=False, repr=False)
    _pauses: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.rate_per_minute is not None and self.rate_per_minute < 0:
            raise ValueError("rate_per_minute must not be negative")
        if not 0.0 <= self.safety_margin < 1.0:
            raise ValueError("safety_margin must be in [0, 1)")

    @property
    def interval(self) -> float:
        """Seconds between two sends (safety margin included); 0 when pacing is disabled."""
        return 60.0 / self.rate_per_minute * (1.0 + self.safety_margin) if self.rate_per_minute else 0.0

    def reserve(self) -> float:
        """Book the next send slot and return the seconds to wait for it (0 when it is now)."""
        now = self.clock()
        start = max(now, self._paused_until)
        if self._next_slot is not None:
            start = max(start, self._next_slot)
        self._next_slot = start + self.interval
        return start - now

    @property
    def pauses(self) -> int:
        """How many times a pause was started or extended; tells a waking sender whether one began."""
        return self._pauses

    def paused_for(self) -> float:
        """Seconds left of the current 429 pause (0 when there is none)."""
        return max(0.0, self._paused_until - self.clock())

    def slow_down(self, seconds: float) -> None:
        """Let no send start within the next ``seconds`` (the reset a 429 announced)."""
        self.pause_until(self.clock() + max(0.0, seconds))

    def pause_until(self, moment: float) -> None:
        """Let no send start before ``moment`` (on this pacer's clock); a pause is never shortened."""
        if moment > self._paused_until:
            self._paused_until = moment
            self._pauses += 1
