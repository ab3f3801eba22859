"""Delivery tracking of broadcasts: which are settled, what to ask Qontak next, how to summarise (pure).

The broadcast sensor (poke and reschedule modes, sync client) and its trigger (deferrable mode, async client)
share everything here; each only drives the I/O. Nothing in this module does I/O or imports Airflow.

How one poll works (:func:`poll_steps`):

1. **Status.** Only broadcasts that are not settled yet are asked about. With many of them, the list endpoint
   ``GET /broadcasts/whatsapp`` is read page by page (newest first; each page carries
   ``message_status_count`` of up to 100 broadcasts) until every tracked id was seen, the page is older than
   the oldest tracked broadcast, or :attr:`TrackingOptions.max_list_pages` pages were read. Ids the list did
   not show are then read one by one with ``GET /broadcasts/{id}/whatsapp`` (and go straight to that endpoint
   in later polls). With few unsettled broadcasts the detail endpoint is used directly.
2. **Logs.** ``GET /broadcasts/{id}/whatsapp/log`` is read only for failed broadcasts (WhatsApp's error text)
   and, once tracking is over, for settled broadcasts whose status times are wanted (at most
   :attr:`TrackingOptions.max_log_requests` in all).

A broadcast is *settled* when every one of its messages reached the target status (``delivered`` counts
``read`` too) or failed. A log that does not exist yet (``data: []``, all counters 0) is pending, not an
error.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, cast

from qontak_provider.client.models import (
    Broadcast,
    BroadcastLogEntry,
    BroadcastStatus,
    MessageStatusCount,
)
from qontak_provider.client.phone import mask_phone

TargetStatus = Literal["delivered", "read"]
TARGET_STATUSES: tuple[str, ...] = ("delivered", "read")
#: Statuses in the order summaries list them.
STATUS_ORDER: tuple[str, ...] = ("pending", "sent", "delivered", "read", "failed")
#: Log ``messages_response`` keys that carry per-status timestamps.
TIMED_STATUSES: tuple[str, ...] = ("sent", "delivered", "read", "failed")
#: Error texts (and masked recipients) shown in a failure message before "and N more".
MAX_ERRORS_SHOWN = 5


# ---------------------------------------------------------------------------------------------- the input


def normalize_broadcast_ids(value: Any) -> list[str]:
    """
    Turn what a DAG passes as ``broadcast_ids`` into a list of unique ids, in order.

    Accepted shapes: one id (``str``); a list/tuple (or any iterable, such as the lazy XCom sequence of a
    mapped task) of ids or of the dicts below; a send operator's result ``{"broadcast_id": ...}``; a bulk
    operator's result ``{"broadcast_ids": [...]}``; a broadcast object ``{"id": ...}``; any nesting of these.
    A string holding a JSON list or dict (what Jinja renders from XCom when ``render_template_as_native_obj``
    is off) is parsed first.

    :raises ValueError: nothing usable was given; the message says what was received.
    """
    ids: list[str] = []
    _collect_ids(value, ids, depth=0)
    unique = list(dict.fromkeys(ids))
    if not unique:
        raise ValueError(
            f"broadcast_ids holds no broadcast id (got {_describe(value)}). Pass an id, a list of ids, "
            "or the XCom output of a send operator ({'broadcast_id': ...} / {'broadcast_ids': [...]})."
        )
    return unique


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _collect_ids(value: Any, out: list[str], depth: int) -> None:  # noqa: PLR0912 - one branch per shape
    if depth > 5:
        raise ValueError(f"broadcast_ids is nested too deeply: {_describe(value)}")
    if value is None:
        return
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("[", "{"):
            import json

            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if parsed is None:
                import ast

                try:  # Jinja renders Python reprs of XCom values ("{'broadcast_id': ...}")
                    parsed = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    raise ValueError(f"broadcast_ids could not be read: {_describe(value)}") from None
            _collect_ids(parsed, out, depth + 1)
        elif text:
            out.append(text)
        return
    if isinstance(value, Mapping):
        if "broadcast_ids" in value:
            _collect_ids(value["broadcast_ids"], out, depth + 1)
        elif "broadcast_id" in value:
            _collect_ids(value["broadcast_id"], out, depth + 1)
        elif "id" in value:
            _collect_ids(value["id"], out, depth + 1)
        else:
            raise ValueError(
                f"broadcast_ids got a dict without 'broadcast_id', 'broadcast_ids' or 'id': "
                f"keys {sorted(map(str, value))}"
            )
        return
    if isinstance(value, (bytes, bytearray)):
        raise ValueError(f"broadcast_ids must be text, got bytes {_describe(value)}")
    if isinstance(value, Iterable):
        for item in value:
            _collect_ids(item, out, depth + 1)
        return
    raise ValueError(f"broadcast_ids must be an id, a list or a send result, got {_describe(value)}")


def validate_target_status(value: str) -> TargetStatus:
    """Return ``value`` as a target status; raise :class:`ValueError` unless it is delivered or read."""
    text = str(value).strip().lower()
    if text == "delivered":
        return "delivered"
    if text == "read":
        return "read"
    raise ValueError(f"target_status must be 'delivered' or 'read', got {value!r}")


def validate_ratio(value: float) -> float:
    """Return ``value`` as a float in ``[0, 1]``; raise :class:`ValueError` otherwise."""
    ratio = float(value)
    if not (0.0 <= ratio <= 1.0) or math.isnan(ratio):
        raise ValueError(f"max_failed_ratio must be between 0.0 and 1.0, got {value!r}")
    return ratio


# -------------------------------------------------------------------------------------------- per broadcast


def count_total(counts: MessageStatusCount) -> int:
    """Messages a broadcast's counters account for (0 while the log is still empty)."""
    return counts.pending + counts.sent + counts.delivered + counts.read + counts.failed


def at_target(counts: MessageStatusCount, target: TargetStatus) -> int:
    """Messages that reached ``target`` (``read`` counts as ``delivered``)."""
    return counts.read + (counts.delivered if target == "delivered" else 0)


def is_settled(counts: MessageStatusCount | None, target: TargetStatus) -> bool:
    """Whether every message of a broadcast reached ``target`` or failed (an empty log is not settled)."""
    if counts is None:
        return False
    total = count_total(counts)
    return total > 0 and at_target(counts, target) + counts.failed == total


def overall_status(counts: MessageStatusCount | None) -> BroadcastStatus:
    """
    One status for a broadcast: ``failed`` if all its messages failed, else the lowest status any of its
    other messages has (a direct send has one message, so this is simply that message's status).
    """
    if counts is None or count_total(counts) == 0:
        return BroadcastStatus.PENDING
    for status in (BroadcastStatus.PENDING, BroadcastStatus.SENT, BroadcastStatus.DELIVERED):
        if getattr(counts, status.value):
            return status
    if counts.read:
        return BroadcastStatus.READ
    return BroadcastStatus.FAILED


def counts_from_log(entries: Sequence[BroadcastLogEntry]) -> MessageStatusCount:
    """Counters built from log rows (the log is the most precise source once it exists)."""
    counts = MessageStatusCount()
    for entry in entries:
        key = entry.broadcast_status.value
        setattr(counts, key, getattr(counts, key) + 1)
    return counts


def parse_timestamp(value: Any) -> datetime | None:  # noqa: PLR0911 - one return per input shape
    """Parse a unix-seconds value (number or digit string) or an ISO 8601 text to an aware UTC datetime."""
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        pass
    else:
        if not math.isfinite(seconds):
            return None
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment else None


def status_times(entries: Sequence[BroadcastLogEntry]) -> dict[str, str | None]:
    """
    When each status was reached, from the ``messages_response`` of log rows.

    Each reached status is a key ``{"statuses": [{"timestamp": "<unix seconds>", ...}]}``. With several
    recipients the latest time wins (the moment the whole broadcast got there). Unknown: ``None``.
    """
    times: dict[str, datetime | None] = dict.fromkeys(TIMED_STATUSES)
    for entry in entries:
        response = entry.messages_response
        if not isinstance(response, Mapping):
            continue
        for status in TIMED_STATUSES:
            block = response.get(status)
            statuses = block.get("statuses") if isinstance(block, Mapping) else None
            for item in statuses if isinstance(statuses, list) else ():
                moment = parse_timestamp(item.get("timestamp")) if isinstance(item, Mapping) else None
                current = times[status]
                if moment is not None and (current is None or moment > current):
                    times[status] = moment
    return {status: _iso(moment) for status, moment in times.items()}


@dataclass
class BroadcastProgress:
    """What is known about one tracked broadcast."""

    broadcast_id: str
    #: ``message_status_count`` from the last read; ``None`` until the broadcast was seen.
    counts: MessageStatusCount | None = None
    created_at: datetime | None = None
    #: Whether the log was read after the broadcast settled (its times and errors are final).
    log_read: bool = False
    times: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(TIMED_STATUSES))
    #: ``{"recipient": <masked number>, "error": <WhatsApp's text>}`` of failed messages.
    errors: list[dict[str, str]] = field(default_factory=list)
    #: The list scan did not show this id: read it with the detail endpoint from now on.
    use_detail: bool = False

    @property
    def failed(self) -> int:
        return self.counts.failed if self.counts else 0

    def observe(self, broadcast: Broadcast) -> None:
        self.counts = broadcast.message_status_count.model_copy()
        self.created_at = parse_timestamp(broadcast.created_at) or self.created_at

    def observe_log(self, entries: Sequence[BroadcastLogEntry], target: TargetStatus) -> None:
        if entries:  # an empty log (not filled yet) says nothing new
            self.counts = counts_from_log(entries)
            self.times = status_times(entries)
            self.errors = [
                {
                    "recipient": mask_phone(entry.contact_phone_number),
                    "error": entry.error_text or "failed (WhatsApp gave no error text)",
                }
                for entry in entries
                if entry.broadcast_status is BroadcastStatus.FAILED
            ]
        self.log_read = bool(entries) and is_settled(self.counts, target)

    def as_dict(self, target: TargetStatus) -> dict[str, Any]:
        counts = self.counts or MessageStatusCount()
        return {
            "status": overall_status(self.counts).value,
            "settled": is_settled(self.counts, target),
            "message_counts": {key: int(getattr(counts, key)) for key in STATUS_ORDER},
            "status_times": dict(self.times),
            "errors": [dict(error) for error in self.errors],
        }


# -------------------------------------------------------------------------------------------- the requests


@dataclass(frozen=True)
class ListPage:
    """Request: the next page of ``GET /broadcasts/whatsapp`` (newest first); reply: its broadcasts or
    ``None`` when there are no more pages."""


@dataclass(frozen=True)
class GetBroadcast:
    """Request: ``GET /broadcasts/{id}/whatsapp``; reply: the :class:`Broadcast`, or ``None`` on 404."""

    broadcast_id: str


@dataclass(frozen=True)
class GetLog:
    """Request: ``GET /broadcasts/{id}/whatsapp/log`` (all pages); reply: the log rows (maybe empty)."""

    broadcast_id: str


Request = ListPage | GetBroadcast | GetLog
Reply = list[Broadcast] | Broadcast | list[BroadcastLogEntry] | None
PollSteps = Generator[Request, Reply, None]


@dataclass(frozen=True)
class TrackingOptions:
    """
    Knobs of the request plan.

    :param detail_threshold: with at most this many unsettled broadcasts, read each one's detail instead of
        listing pages.
    :param max_list_pages: most list pages read per poll; ``None`` means enough for the unsettled
        broadcasts plus :attr:`extra_list_pages`.
    :param extra_list_pages: pages allowed beyond ``ceil(unsettled / page_size)`` (other broadcasts created
        since push the tracked ones down the list).
    :param page_size: broadcasts per list page (Qontak's maximum is 100).
    :param max_log_requests: most logs read for status times once tracking is over (failed broadcasts'
        logs are always read, for their error texts).
    """

    detail_threshold: int = 3
    max_list_pages: int | None = None
    extra_list_pages: int = 2
    page_size: int = 100
    max_log_requests: int = 25

    def list_page_budget(self, unsettled: int) -> int:
        if self.max_list_pages is not None:
            return max(1, self.max_list_pages)
        return max(1, math.ceil(unsettled / max(1, self.page_size)) + self.extra_list_pages)


Outcome = Literal["pending", "success", "failed"]


class DeliveryTracker:
    """
    The state of one delivery wait: feed it what Qontak answers, ask it what to request and how things stand.

    :param broadcast_ids: the broadcasts to follow (see :func:`normalize_broadcast_ids`).
    :param target_status: ``"delivered"`` (``read`` counts too) or ``"read"``.
    :param max_failed_ratio: share of failed messages tolerated (``0.0``: the first failure fails the wait;
        ``1.0``: failures never fail it, they are only reported).
    :param options: the request plan's knobs.
    """

    def __init__(
        self,
        broadcast_ids: Any,
        *,
        target_status: str = "delivered",
        max_failed_ratio: float = 0.0,
        options: TrackingOptions | None = None,
    ) -> None:
        self.target: TargetStatus = validate_target_status(target_status)
        self.max_failed_ratio = validate_ratio(max_failed_ratio)
        self.options = options or TrackingOptions()
        self.broadcasts: dict[str, BroadcastProgress] = {
            broadcast_id: BroadcastProgress(broadcast_id)
            for broadcast_id in normalize_broadcast_ids(broadcast_ids)
        }
        self.not_found: list[str] = []
        self.polls = 0

    # ------------------------------------------------------------------------------------------ feeding

    def observe(self, broadcast: Broadcast) -> bool:
        """Record a broadcast read from the list or detail endpoint; return whether it is tracked."""
        progress = self.broadcasts.get(broadcast.id)
        if progress is None:
            return False
        progress.observe(broadcast)
        return True

    def observe_log(self, broadcast_id: str, entries: Sequence[BroadcastLogEntry]) -> None:
        """Record a broadcast's log rows (an empty log means: not filled yet, still pending)."""
        self.broadcasts[broadcast_id].observe_log(entries, self.target)

    def observe_not_found(self, broadcast_id: str) -> None:
        """Record that Qontak does not know this broadcast (HTTP 404)."""
        if broadcast_id not in self.not_found:
            self.not_found.append(broadcast_id)

    # ---------------------------------------------------------------------------------------- questions

    @property
    def ids(self) -> list[str]:
        return list(self.broadcasts)

    def unsettled(self) -> list[str]:
        """Ids not at the target status yet (failed ones are settled), in the given order."""
        return [bid for bid, p in self.broadcasts.items() if not is_settled(p.counts, self.target)]

    def failed_ids(self) -> list[str]:
        return [bid for bid, p in self.broadcasts.items() if p.failed]

    def failed_ratio(self) -> float:
        """Failed messages over all messages; a broadcast not seen yet counts as one message."""
        failed = sum(p.failed for p in self.broadcasts.values())
        total = sum(max(1, count_total(p.counts)) if p.counts else 1 for p in self.broadcasts.values())
        return failed / total if total else 0.0

    def outcome(self) -> Outcome:
        """``failed`` once failures exceed the tolerated ratio (or an id is unknown), ``success`` once all
        broadcasts are settled, else ``pending``."""
        if self.not_found:
            return "failed"
        if self.failed_ids() and self.failed_ratio() > self.max_failed_ratio:
            return "failed"
        return "pending" if self.unsettled() else "success"

    def status_plan(self) -> tuple[bool, list[str]]:
        """
        Which status reads the next poll makes: ``(scan_list, detail_ids)``.

        The list is scanned when more than ``detail_threshold`` unsettled broadcasts are not already known
        to be missing from it; ``detail_ids`` are read one by one.
        """
        unsettled = [self.broadcasts[bid] for bid in self.unsettled()]
        direct = [p.broadcast_id for p in unsettled if p.use_detail]
        listed = [p.broadcast_id for p in unsettled if not p.use_detail]
        if len(listed) <= self.options.detail_threshold:
            return False, direct + listed
        return True, direct

    def list_scan(self) -> ListScan:
        """Start scanning list pages for the unsettled broadcasts that are not read by detail."""
        wanted = [bid for bid in self.unsettled() if not self.broadcasts[bid].use_detail]
        known = [self.broadcasts[bid].created_at for bid in wanted]
        oldest = min(known) if known and all(k is not None for k in known) else None  # type: ignore[type-var]
        return ListScan(self, set(wanted), self.options.list_page_budget(len(wanted)), oldest)

    def logs_wanted(self, *, final: bool) -> list[str]:
        """
        Logs to read now: failed broadcasts without error texts yet, and when ``final`` (tracking is over)
        settled broadcasts whose status times are unknown, within ``max_log_requests``.
        """
        failed = [bid for bid, p in self.broadcasts.items() if p.failed and not p.log_read and not p.errors]
        if not final:
            return failed
        budget = max(0, self.options.max_log_requests - len(failed))
        timing = [
            bid
            for bid, p in self.broadcasts.items()
            if bid not in failed and not p.log_read and is_settled(p.counts, self.target)
        ]
        return failed + timing[:budget]

    # ------------------------------------------------------------------------------------------ reports

    def status_counts(self) -> dict[str, int]:
        """How many tracked broadcasts are in each status."""
        counts = dict.fromkeys(STATUS_ORDER, 0)
        for progress in self.broadcasts.values():
            counts[overall_status(progress.counts).value] += 1
        return counts

    def summary_line(self) -> str:
        """E.g. ``3 broadcast(s), target delivered: 1 delivered, 1 read, 1 failed``."""
        counts = self.status_counts()
        parts = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
        return f"{len(self.broadcasts)} broadcast(s), target {self.target}: {parts}"

    def still_waiting_message(self) -> str:
        """E.g. ``still unread: b1, b2`` (``undelivered`` for target ``delivered``)."""
        word = "unread" if self.target == "read" else "undelivered"
        return f"still {word}: {', '.join(self.unsettled()) or '-'}"

    def failure_message(self) -> str:
        """Why the wait failed: unknown ids, or the failed broadcasts with WhatsApp's error texts."""
        if self.not_found:
            return (
                f"Qontak does not know broadcast(s) {', '.join(self.not_found)} (HTTP 404); "
                "check the ids and the connection's credentials."
            )
        failed = self.failed_ids()
        lines = []
        for bid in failed[:MAX_ERRORS_SHOWN]:
            errors = self.broadcasts[bid].errors
            detail = (
                "; ".join(f"{e['recipient']}: {e['error']}" for e in errors)
                if errors
                else "failed (no log details)"
            )
            lines.append(f"broadcast {bid}: {detail}")
        more = f" (and {len(failed) - MAX_ERRORS_SHOWN} more)" if len(failed) > MAX_ERRORS_SHOWN else ""
        return (
            f"{len(failed)} of {len(self.broadcasts)} broadcast(s) failed, more than max_failed_ratio="
            f"{self.max_failed_ratio:g} allows{more}: " + " | ".join(lines)
        )

    def summary(self, outcome: str | None = None) -> dict[str, Any]:
        """The JSON-able result (XCom): outcome, counts per status and per-broadcast details."""
        return {
            "outcome": outcome or self.outcome(),
            "target_status": self.target,
            "counts": self.status_counts(),
            "broadcasts": {bid: p.as_dict(self.target) for bid, p in self.broadcasts.items()},
            "failed_ids": self.failed_ids(),
            "unsettled_ids": self.unsettled(),
            "not_found_ids": list(self.not_found),
        }


class ListScan:
    """
    Bookkeeping of one walk through the broadcast list: feed pages until :meth:`feed` says stop.

    It stops once every wanted id was seen, once a page ends before the oldest wanted broadcast was created
    (all later pages are older still), or when the page budget is spent.
    """

    def __init__(
        self, tracker: DeliveryTracker, wanted: set[str], page_budget: int, oldest: datetime | None
    ) -> None:
        self._tracker = tracker
        self._missing = set(wanted)
        self._budget = page_budget
        self._oldest = oldest
        self.pages = 0

    def wants_more(self) -> bool:
        return bool(self._missing) and self.pages < self._budget

    def feed(self, page: Sequence[Broadcast] | None) -> bool:
        """Record one page (``None``: no more pages); return whether to read the next page."""
        if page is None:
            self._budget = self.pages  # the list is exhausted
            return False
        self.pages += 1
        for broadcast in page:
            if broadcast.id in self._missing and self._tracker.observe(broadcast):
                self._missing.discard(broadcast.id)
        if not page:
            self._budget = self.pages
            return False
        last = parse_timestamp(page[-1].created_at)
        if self._oldest is not None and last is not None and last < self._oldest:
            self._budget = self.pages  # past the oldest tracked broadcast: nothing further down
            return False
        return self.wants_more()

    def leftover(self) -> list[str]:
        """Wanted ids the scan did not see (to be read by detail), in tracking order."""
        return [bid for bid in self._tracker.ids if bid in self._missing]


def poll_steps(tracker: DeliveryTracker, *, final_logs: bool = True) -> PollSteps:
    """
    One poll as a generator of requests: the sensor drives it with the sync client, the trigger with the
    async client, so the plan exists once. Send back each request's reply (see the request classes).

    :param final_logs: when the poll ends tracking, read the logs of settled broadcasts for status times.
    """
    tracker.polls += 1
    scan_list, detail_ids = tracker.status_plan()
    if scan_list:
        scan = tracker.list_scan()
        while scan.wants_more():
            page = yield ListPage()
            if not scan.feed(cast("list[Broadcast]", page) if isinstance(page, list) else None):
                break
        leftover = scan.leftover()
        for bid in leftover:
            tracker.broadcasts[bid].use_detail = True
        detail_ids = detail_ids + leftover
    for bid in detail_ids:
        reply = yield GetBroadcast(bid)
        if isinstance(reply, Broadcast):
            tracker.observe(reply)
        else:
            tracker.observe_not_found(bid)
    final = tracker.outcome() != "pending"
    for bid in tracker.logs_wanted(final=final and final_logs):
        entries = yield GetLog(bid)
        tracker.observe_log(
            bid, cast("list[BroadcastLogEntry]", entries) if isinstance(entries, list) else []
        )


def poll_backoff(
    failures: int,
    poke_interval: float,
    *,
    reset_after: float | None = None,
    floor: float = 1.0,
    cap: float = 300.0,
) -> float:
    """
    Seconds to wait after ``failures`` consecutive failed polls (429, 5xx, network) before the next one.

    Doubles from ``max(poke_interval, floor)`` and is capped at ``cap``, but is never shorter than a reset the
    server announced (``rate_limit_reset``): a failing API is never polled in a tight loop.
    """
    base = max(float(floor), float(poke_interval), 0.001)
    delay = min(float(cap), base * 2.0 ** min(max(failures, 1) - 1, 32))
    if reset_after is not None and math.isfinite(reset_after):
        delay = max(delay, float(reset_after))
    return delay
