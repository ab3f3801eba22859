"""The pure retry policy and send pacer: every rule has a test that fails when the rule is broken."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from qontak_provider.client.errors import (
    QontakAuthenticationError,
    QontakEndpointUnavailableError,
    QontakError,
    QontakNotFoundError,
    QontakRateLimitError,
    QontakSendInDoubtError,
    QontakServerError,
    QontakTransportError,
    QontakValidationError,
)
from qontak_provider.client.policy import (
    PACING_SAFETY_MARGIN,
    Decision,
    FailureKind,
    HttpOutcome,
    Pacer,
    RetryPolicy,
    TransportOutcome,
    announced_wait,
    decide,
    parse_rate_limit_reset,
    parse_retry_after,
)
from qontak_provider.client.signing import http_date

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
PATH = "/qontak/chat/v1/broadcasts/whatsapp/direct"


def run(kind, outcome, *, attempt=1, policy=None, random=lambda: 1.0) -> Decision:
    return decide(
        kind,
        outcome,
        attempt=attempt,
        policy=policy or RetryPolicy(jitter=False),
        method="POST" if kind == "send" else "GET",
        path=PATH,
        random=random,
        now=NOW,
    )


def rate_limited(reset: str | None = "10", retry_after: str | None = None) -> HttpOutcome:
    messages = [
        "Too many requests",
        "organization_id: 1f0e",
        "rate_limit_limit: 100",
        "rate_limit_remaining: 0",
    ]
    if reset is not None:
        messages.append(f"rate_limit_reset: {reset}")
    return HttpOutcome(429, tuple(messages), retry_after)


# ------------------------------------------------------------------------------------------------ backoff


class TestBackoff:
    def test_exponential_and_capped_without_jitter(self) -> None:
        policy = RetryPolicy(base_delay=0.5, max_delay=3.0, jitter=False)
        assert [policy.backoff(n, lambda: 0.0) for n in range(1, 7)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]

    def test_full_jitter_scales_the_ceiling_by_the_random_source(self) -> None:
        policy = RetryPolicy(base_delay=1.0, max_delay=30.0, jitter=True)
        assert policy.backoff(3, lambda: 0.25) == pytest.approx(1.0)  # 0.25 * 4
        assert policy.backoff(3, lambda: 0.0) == 0.0
        assert policy.backoff(10, lambda: 0.5) == pytest.approx(15.0)  # capped at 30 first

    def test_huge_attempt_numbers_do_not_overflow(self) -> None:
        assert RetryPolicy(jitter=False).backoff(10_000, lambda: 0.0) == 30.0

    @pytest.mark.parametrize(
        "kwargs", [{"max_attempts": 0}, {"base_delay": -1}, {"max_delay": -1}, {"max_reset_wait": -1}]
    )
    def test_invalid_settings(self, kwargs) -> None:
        with pytest.raises(ValueError):
            RetryPolicy(**kwargs)


# ------------------------------------------------------------------------------------------------ parsing


class TestAnnouncedWaits:
    def test_rate_limit_reset_from_the_documented_429_body(self) -> None:
        assert parse_rate_limit_reset(rate_limited("10").messages) == 10.0
        assert parse_rate_limit_reset(["RATE_LIMIT_RESET:0.05"]) == 0.05
        assert parse_rate_limit_reset(["rate_limit_remaining: 0", "Too many requests"]) is None
        assert parse_rate_limit_reset(["rate_limit_reset: soon"]) is None
        assert parse_rate_limit_reset([]) is None

    def test_retry_after_seconds(self) -> None:
        assert parse_retry_after("7") == 7.0
        assert parse_retry_after(" 1.5 ") == 1.5
        assert parse_retry_after("-3") == 0.0
        assert parse_retry_after("inf") is None
        assert parse_retry_after("nan") is None

    def test_retry_after_http_date(self) -> None:
        assert parse_retry_after(http_date(NOW + timedelta(seconds=42)), now=NOW) == 42.0
        assert parse_retry_after(http_date(NOW - timedelta(seconds=42)), now=NOW) == 0.0
        # without an injected now the real clock is used: a date far in the future is still far
        assert parse_retry_after(http_date(datetime.now(timezone.utc) + timedelta(hours=1))) > 3000

    @pytest.mark.parametrize("value", [None, "", "   ", "tomorrow", "Wed, 99 Foo 2021"])
    def test_retry_after_garbage_is_ignored(self, value) -> None:
        assert parse_retry_after(value, now=NOW) is None

    def test_the_larger_announced_wait_wins(self) -> None:
        assert announced_wait(rate_limited("10", "20"), now=NOW) == 20.0
        assert announced_wait(rate_limited("10", "2"), now=NOW) == 10.0
        assert announced_wait(rate_limited(None, "3"), now=NOW) == 3.0
        assert announced_wait(rate_limited(None, None), now=NOW) is None


# ----------------------------------------------------------------------------------------------- decisions


class TestReads:
    @pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
    def test_5xx_is_retried_with_backoff(self, status) -> None:
        decision = run("read", HttpOutcome(status), attempt=2)
        assert decision.error is None
        assert decision.delay == 1.0  # 0.5 * 2 ** (2 - 1)
        assert decision.pause_sends is None

    def test_5xx_gives_up_after_max_attempts(self) -> None:
        decision = run("read", HttpOutcome(503, ("down",)), attempt=5)
        assert isinstance(decision.error, QontakServerError)
        assert decision.error.status_code == 503
        assert decision.error.messages == ["down"]
        assert "5 attempts" in str(decision.error)

    def test_5xx_honours_retry_after(self) -> None:
        assert run("read", HttpOutcome(503, (), "4"), attempt=1).delay == 4.0

    def test_5xx_with_an_excessive_retry_after_raises_at_once(self) -> None:
        decision = run("read", HttpOutcome(503, (), "3600"), attempt=1)
        assert isinstance(decision.error, QontakServerError)

    def test_429_waits_at_least_the_announced_reset(self) -> None:
        # backoff would be 0 with this random source; the announced reset is the floor
        decision = run("read", rate_limited("10"), random=lambda: 0.0, policy=RetryPolicy())
        assert decision.delay == 10.0

    def test_429_uses_backoff_when_it_is_longer_than_the_reset(self) -> None:
        decision = run("read", rate_limited("1"), attempt=4)
        assert decision.delay == 4.0

    def test_429_without_announcement_backs_off(self) -> None:
        assert run("read", rate_limited(None), attempt=1).delay == 0.5

    def test_429_on_a_read_does_not_pause_the_senders(self) -> None:
        assert run("read", rate_limited("10")).pause_sends is None

    def test_429_gives_up_with_reset_after(self) -> None:
        decision = run("read", rate_limited("10"), attempt=5)
        assert isinstance(decision.error, QontakRateLimitError)
        assert decision.error.reset_after == 10.0
        assert decision.error.status_code == 429
        assert "resets in 10 s" in str(decision.error)

    def test_429_with_a_reset_beyond_max_reset_wait_raises_at_once(self) -> None:
        decision = run("read", rate_limited("500"), attempt=1)
        assert isinstance(decision.error, QontakRateLimitError)
        assert decision.error.reset_after == 500.0

    @pytest.mark.parametrize("kind", [FailureKind.CONNECT, FailureKind.TIMEOUT, FailureKind.DISCONNECTED])
    def test_transport_failures_are_retried(self, kind) -> None:
        decision = run("read", TransportOutcome(kind, "boom"), attempt=3)
        assert decision.delay == 2.0

    @pytest.mark.parametrize("kind", [FailureKind.CONNECT, FailureKind.TIMEOUT, FailureKind.DISCONNECTED])
    def test_transport_failures_give_up_as_transport_errors(self, kind) -> None:
        decision = run("read", TransportOutcome(kind, "boom"), attempt=5)
        assert type(decision.error) is QontakTransportError
        assert "boom" in str(decision.error) and "5 attempts" in str(decision.error)

    def test_fatal_transport_failures_are_not_retried(self) -> None:
        decision = run("read", TransportOutcome(FailureKind.FATAL, "bad cert"), attempt=1)
        assert type(decision.error) is QontakTransportError
        assert "retrying will not help" in str(decision.error)


class TestSends:
    @pytest.mark.parametrize("status", [500, 502, 503, 504])
    def test_5xx_is_in_doubt_and_never_retried(self, status) -> None:
        decision = run("send", HttpOutcome(status, ("upstream timeout",), "1"), attempt=1)
        assert isinstance(decision.error, QontakSendInDoubtError)
        assert decision.error.status_code == status
        assert decision.error.messages == ["upstream timeout"]
        assert decision.error.method == "POST" and decision.error.path == PATH
        assert "NOT retried" in str(decision.error)

    @pytest.mark.parametrize("kind", [FailureKind.TIMEOUT, FailureKind.DISCONNECTED])
    def test_failures_after_writing_are_in_doubt(self, kind) -> None:
        decision = run("send", TransportOutcome(kind, "reset"), attempt=1)
        assert isinstance(decision.error, QontakSendInDoubtError)
        assert "may or may not have been sent" in str(decision.error)

    def test_connect_failure_is_retried(self) -> None:
        decision = run("send", TransportOutcome(FailureKind.CONNECT, "refused"), attempt=1)
        assert decision.delay == 0.5

    def test_connect_failure_gives_up_as_transport_error_not_in_doubt(self) -> None:
        decision = run("send", TransportOutcome(FailureKind.CONNECT, "refused"), attempt=5)
        assert type(decision.error) is QontakTransportError

    def test_fatal_is_a_transport_error(self) -> None:
        decision = run("send", TransportOutcome(FailureKind.FATAL, "x"), attempt=1)
        assert type(decision.error) is QontakTransportError

    def test_429_is_retried_and_pauses_all_senders_for_the_reset(self) -> None:
        decision = run("send", rate_limited("10"), attempt=1, random=lambda: 0.0, policy=RetryPolicy())
        assert decision.error is None
        assert decision.delay == 10.0
        assert decision.pause_sends == 10.0

    def test_429_without_announcement_pauses_for_the_backoff(self) -> None:
        decision = run("send", rate_limited(None), attempt=2)
        assert decision.pause_sends == decision.delay == 1.0

    def test_429_exhausted_still_pauses_the_pacer(self) -> None:
        decision = run("send", rate_limited("10"), attempt=5)
        assert isinstance(decision.error, QontakRateLimitError)
        assert decision.pause_sends == 10.0


class TestWrites:
    """Requests that change something but send no message (the generic ``request()``): never repeated once
    they may have arrived, and not paced."""

    @pytest.mark.parametrize("status", [500, 503])
    def test_5xx_is_in_doubt_and_never_retried_without_talk_of_messages(self, status) -> None:
        decision = run("write", HttpOutcome(status, (), "1"), attempt=1)
        assert isinstance(decision.error, QontakSendInDoubtError)
        text = str(decision.error)
        assert text.startswith("The request ") and "may or may not have taken effect" in text
        assert "NOT retried" in text and "WhatsApp message" not in text

    @pytest.mark.parametrize("kind", [FailureKind.TIMEOUT, FailureKind.DISCONNECTED])
    def test_failures_after_writing_are_in_doubt(self, kind) -> None:
        decision = run("write", TransportOutcome(kind, "reset"), attempt=1)
        assert isinstance(decision.error, QontakSendInDoubtError)
        assert "may or may not have taken effect" in str(decision.error)

    def test_connect_failure_is_retried(self) -> None:
        assert run("write", TransportOutcome(FailureKind.CONNECT, "refused"), attempt=1).delay == 0.5

    def test_429_is_retried_without_pausing_the_senders(self) -> None:
        decision = run("write", rate_limited("10"), attempt=1, random=lambda: 0.0, policy=RetryPolicy())
        assert decision.error is None and decision.delay == 10.0 and decision.pause_sends is None


class TestNeverRetried:
    @pytest.mark.parametrize("kind", ["read", "send"])
    @pytest.mark.parametrize(
        ("status", "error_type"),
        [
            (401, QontakAuthenticationError),
            (403, QontakAuthenticationError),
            (404, QontakEndpointUnavailableError),  # no id in the path: the endpoint is missing
            (400, QontakValidationError),
            (422, QontakValidationError),
            (405, QontakEndpointUnavailableError),
            (409, QontakError),
            (302, QontakError),
        ],
    )
    def test_status(self, kind, status, error_type) -> None:
        decision = run(kind, HttpOutcome(status, ("no",)), attempt=1)
        assert type(decision.error) is error_type
        assert decision.error.status_code == status
        assert decision.pause_sends is None

    @pytest.mark.parametrize("kind", ["read", "send"])
    @pytest.mark.parametrize(
        ("status", "messages", "error_type"),
        [
            (404, ("Resource not found.",), QontakNotFoundError),
            (422, ("Couldn't find MessageTemplate with 'id'=x",), QontakNotFoundError),
            (422, ("could not find broadcast",), QontakNotFoundError),
            (422, ("target is missing",), QontakValidationError),
            (405, (), QontakEndpointUnavailableError),
        ],
    )
    def test_an_id_lookup_is_not_found_whatever_the_code(self, kind, status, messages, error_type) -> None:
        decision = decide(
            kind,
            HttpOutcome(status, messages),
            attempt=1,
            policy=RetryPolicy(jitter=False),
            method="GET",
            path="/qontak/chat/v1/templates/x/whatsapp",
            target="template 'x'",
            random=lambda: 1.0,
            now=NOW,
        )
        assert type(decision.error) is error_type
        if error_type is QontakNotFoundError:
            assert "Qontak has no template 'x'" in str(decision.error)

    def test_max_attempts_one_disables_retries(self) -> None:
        policy = RetryPolicy(max_attempts=1)
        assert isinstance(run("read", HttpOutcome(503), policy=policy).error, QontakServerError)
        assert isinstance(run("send", rate_limited("1"), policy=policy).error, QontakRateLimitError)


# -------------------------------------------------------------------------------------------------- pacer


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class TestPacer:
    def test_first_send_is_immediate_then_slots_are_evenly_spaced(self) -> None:
        clock = FakeClock()
        pacer = Pacer(60, clock, safety_margin=0)
        assert pacer.interval == 1.0
        assert [pacer.reserve() for _ in range(4)] == [0.0, 1.0, 2.0, 3.0]

    def test_waits_shrink_as_time_passes_and_idle_time_is_not_banked(self) -> None:
        clock = FakeClock()
        pacer = Pacer(600, clock, safety_margin=0)  # 0.1 s apart
        assert pacer.reserve() == 0.0
        clock.t += 0.04
        assert pacer.reserve() == pytest.approx(0.06)
        clock.t += 10  # long idle: no burst allowed afterwards
        assert pacer.reserve() == 0.0
        assert pacer.reserve() == pytest.approx(0.1)

    def test_five_sends_at_600_per_minute_span_0_4_s(self) -> None:
        clock = FakeClock()
        pacer = Pacer(600, clock, safety_margin=0)
        total = 0.0
        for _ in range(5):
            wait = pacer.reserve()
            clock.t += wait
            total += wait
        assert total == pytest.approx(0.4)

    @pytest.mark.parametrize("rate", [0, None])
    def test_disabled(self, rate) -> None:
        pacer = Pacer(rate, FakeClock())
        assert pacer.interval == 0.0
        assert [pacer.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]

    def test_negative_rate_is_refused(self) -> None:
        with pytest.raises(ValueError):
            Pacer(-1, FakeClock())

    def test_slow_down_delays_every_following_send(self) -> None:
        clock = FakeClock()
        pacer = Pacer(60, clock, safety_margin=0)
        assert pacer.reserve() == 0.0
        pacer.slow_down(10)
        assert pacer.reserve() == 10.0
        assert pacer.reserve() == 11.0  # spacing resumes after the pause

    def test_default_spacing_includes_the_safety_margin(self) -> None:
        pacer = Pacer(600, FakeClock())
        assert PACING_SAFETY_MARGIN >= 0.01  # a margin well below 1 % would not absorb one late arrival
        assert pacer.interval == pytest.approx(0.1 * (1 + PACING_SAFETY_MARGIN))
        # ... and stays small enough to keep >= 97 % of the configured rate.
        assert 60 / pacer.interval / 600 >= 0.97

    @staticmethod
    def _arrivals(pacer: Pacer, clock: FakeClock, n: int, late: dict[int, float]) -> list[float]:
        """Slot times of ``n`` sends, each arriving at its slot plus ``late[i]`` seconds."""
        slots = []
        for _ in range(n):
            clock.t += pacer.reserve()
            slots.append(clock.t)
        return sorted(t + late.get(i, 0.0) for i, t in enumerate(slots))

    @staticmethod
    def _refused(arrivals: list[float], limit: int, window: float) -> int:
        """429s of a sliding-window server (``(now - window, now]``, refused requests use no slot)."""
        accepted: list[float] = []
        refused = 0
        for at in arrivals:
            if sum(1 for t in accepted if t > at - window) >= limit:
                refused += 1
            else:
                accepted.append(at)
        return refused

    @pytest.mark.parametrize("rate", [594, 600])
    def test_late_arrivals_at_the_servers_rate_draw_no_429(self, rate: int) -> None:
        # Server: 100 per 10 s (600/min). The first sends of 8 concurrent senders each open a new pooled
        # connection and arrive late, as do a few later ones (scheduling): with exact spacing those late
        # arrivals still count 10 s later and a 101st request lands in a window; the margin absorbs them.
        late = {i: 0.15 for i in range(1, 8)} | {140: 0.12, 141: 0.15}
        clock = FakeClock()
        assert self._refused(self._arrivals(Pacer(rate, clock), clock, 300, late), 100, 10.0) == 0
        clock = FakeClock()
        exact = self._arrivals(Pacer(rate, clock, safety_margin=0), clock, 300, late)
        assert self._refused(exact, 100, 10.0) > 0  # the failure the margin exists for

    def test_safety_margin_is_validated(self) -> None:
        with pytest.raises(ValueError):
            Pacer(60, FakeClock(), safety_margin=-0.1)
        with pytest.raises(ValueError):
            Pacer(60, FakeClock(), safety_margin=1.0)

    def test_slow_down_applies_even_when_pacing_is_disabled(self) -> None:
        clock = FakeClock()
        pacer = Pacer(None, clock)
        pacer.slow_down(5)
        assert pacer.reserve() == 5.0
        assert pacer.reserve() == 5.0  # no spacing, but nobody starts before the pause ends

    def test_a_pause_is_never_shortened(self) -> None:
        clock = FakeClock()
        pacer = Pacer(None, clock)
        pacer.slow_down(10)
        pacer.slow_down(2)
        pacer.pause_until(clock.t + 1)
        assert pacer.reserve() == 10.0

    def test_paused_for_counts_down_the_pause(self) -> None:
        clock = FakeClock()
        pacer = Pacer(60, clock)
        assert pacer.paused_for() == 0.0
        pacer.slow_down(3)
        assert pacer.paused_for() == 3.0
        clock.t += 2
        assert pacer.paused_for() == pytest.approx(1.0)
        clock.t += 5
        assert pacer.paused_for() == 0.0

    def test_pauses_counts_only_pauses_that_start_or_extend(self) -> None:
        clock = FakeClock()
        pacer = Pacer(60, clock)
        assert pacer.pauses == 0
        pacer.slow_down(10)
        assert pacer.pauses == 1
        pacer.slow_down(2)  # inside the current pause: no news for a waking sender
        pacer.slow_down(0)
        assert pacer.pauses == 1
        pacer.slow_down(20)
        assert pacer.pauses == 2

    def test_negative_slow_down_is_ignored(self) -> None:
        clock = FakeClock()
        pacer = Pacer(None, clock)
        pacer.slow_down(-5)
        assert pacer.reserve() == 0.0

    def test_pause_until_an_absolute_time(self) -> None:
        clock = FakeClock()
        pacer = Pacer(60, clock)
        pacer.pause_until(clock.t + 3)
        assert pacer.reserve() == 3.0
