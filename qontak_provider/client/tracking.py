"""Delivery tracking of broadcasts: which are settled, what to ask Qontak next, how to summarise.

The broadcast sensor (poke and reschedule modes, sync client) and its trigger (deferrable mode, async client)
share everything here: the plan (:func:`poll_steps`, pure) and its two drivers (:func:`drive_sync`,
:func:`drive_async`), which only carry the plan's requests to a client. Nothing here imports Airflow.

Where a broadcast's status comes from, cheapest first:

1. **The list** ``GET /broadcasts/whatsapp`` (asked newest first; up to 100 broadcasts per request), used
   when more than :attr:`TrackingOptions.detail_threshold` broadcasts are unsettled. It is an accelerator,
   never the source of truth: a 401, 403, 404, 405 or a persistent 5xx from it switches the tracker to
   per-broadcast reads for the rest of its run, with one notice saying why.
2. **The detail** ``GET /broadcasts/{id}/whatsapp``, for few broadcasts, for those the list did not show,
   and to confirm counts that carry no information.
3. **The log** ``GET /broadcasts/{id}/whatsapp/log``: one row per recipient, the final word. Read for
   failed broadcasts (WhatsApp's error text), to confirm a detail whose counts carry no information, and
   once tracking is over for status times (at most :attr:`TrackingOptions.max_log_requests`).

Counts *carry no information* when they are all zero or do not add up to the broadcast's recipients (one
for a direct send). The spec's only example of a ``done`` broadcast in the list shows all zeros, so such
counts never count as "pending forever": they are confirmed one level down, in the same poll, and a
broadcast whose list (or detail) counts proved stale is read one level down from then on.

A broadcast is *settled* when every one of its messages reached the target status (``delivered`` counts
``read`` too) or failed. A status word we do not know counts as not settled and is reported by name. A log
that does not exist yet (``data: []``) is pending, not an error. Broadcasts read one by one back off when
nothing changed (1, 2, 4… polls, up to :attr:`TrackingOptions.max_backoff_polls`), once there are more
than ``detail_threshold`` of them; settled broadcasts are never asked again.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from qontak_provider.client.models import (
    Broadcast,
    BroadcastLogEntry,
    BroadcastStatus,
    MessageStatusCount,
)
from qontak_provider.client.phone import mask_phone
from qontak_provider.client.timestamps import parse_timestamp, to_iso

if TYPE_CHECKING:
    from qontak_provider.client.aio import AsyncQontakClient
    from qontak_provider.client.sync import QontakClient

TargetStatus = Literal["delivered", "read"]
#: Statuses in the order summaries list them.
STATUS_ORDER: tuple[str, ...] = ("pending", "sent", "delivered", "read", "failed")
#: Log ``messages_response`` keys that carry per-status timestamps.
TIMED_STATUSES: tuple[str, ...] = ("sent", "delivered", "read", "failed")
#: Error texts (and masked recipients) shown in a failure message before "and N more".
MAX_ERRORS_SHOWN = 5
#: What the list is asked for: newest first. Asked, not assumed: the scan checks the order it got.
LIST_ORDER: dict[str, str] = {"order_by": "created_at", "order_direction": "desc"}

Source = Literal["list", "detail", "log"]
#: Broadcasts whose list (or detail) counts must prove stale before the whole endpoint is taken as stale.
STALE_PROOFS = 3


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
    """Messages a broadcast's known counters account for (0 while the log is still empty)."""
    return counts.pending + counts.sent + counts.delivered + counts.read + counts.failed


def unknown_counts(counts: MessageStatusCount | None) -> dict[str, int]:
    """Counters under status words this provider does not know (extra keys of ``message_status_count``)."""
    extra = (counts.model_extra or {}) if counts is not None else {}
    return {
        str(key): value
        for key, value in extra.items()
        if isinstance(value, int) and not isinstance(value, bool) and value > 0
    }


def at_target(counts: MessageStatusCount, target: TargetStatus) -> int:
    """Messages that reached ``target`` (``read`` counts as ``delivered``)."""
    return counts.read + (counts.delivered if target == "delivered" else 0)


def is_settled(counts: MessageStatusCount | None, target: TargetStatus) -> bool:
    """
    Whether every message of a broadcast reached ``target`` or failed; an empty log is not settled, nor is a
    message under a status word we do not know.
    """
    if counts is None:
        return False
    total = count_total(counts) + sum(unknown_counts(counts).values())
    return total > 0 and at_target(counts, target) + counts.failed == total


def carries_information(counts: MessageStatusCount | None, recipients: int | None) -> bool:
    """Whether counts say anything: not all zero, and adding up to ``recipients`` when that is known."""
    if counts is None:
        return False
    total = count_total(counts) + sum(unknown_counts(counts).values())
    return total > 0 and (recipients is None or total == recipients)


def overall_status(counts: MessageStatusCount | None) -> str:
    """
    One status for a broadcast: ``failed`` if all its messages failed, else the lowest status any of its
    other messages has (a direct send has one message, so this is simply that message's status). A status
    word we do not know is returned as it is.
    """
    if counts is None or count_total(counts) + sum(unknown_counts(counts).values()) == 0:
        return BroadcastStatus.PENDING.value
    for status in (BroadcastStatus.PENDING, BroadcastStatus.SENT):
        if getattr(counts, status.value):
            return status.value
    unknown = unknown_counts(counts)
    if unknown:
        return sorted(unknown)[0]
    if counts.delivered:
        return BroadcastStatus.DELIVERED.value
    if counts.read:
        return BroadcastStatus.READ.value
    return BroadcastStatus.FAILED.value


def counts_from_log(entries: Sequence[BroadcastLogEntry]) -> MessageStatusCount:
    """Counters built from log rows (the log is the final word once it exists); unknown words kept."""
    known: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    for entry in entries:
        word = (entry.status or "").strip().lower()
        if not word or word in STATUS_ORDER:
            known[word or BroadcastStatus.PENDING.value] += 1
        else:
            unknown[word] += 1
    return MessageStatusCount(**{**known, **unknown})


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
    return {status: to_iso(moment) for status, moment in times.items()}


def _fingerprint(counts: MessageStatusCount | None) -> tuple[tuple[str, int], ...]:
    if counts is None:
        return ()
    data = {key: int(getattr(counts, key)) for key in STATUS_ORDER}
    data.update(unknown_counts(counts))
    return tuple(sorted(data.items()))


@dataclass
class BroadcastProgress:
    """What is known about one tracked broadcast."""

    broadcast_id: str
    #: ``message_status_count`` from the last informative read; ``None`` until the broadcast was seen.
    counts: MessageStatusCount | None = None
    created_at: datetime | None = None
    #: Messages the broadcast has: the log's row count once read, 1 for a direct send, else unknown.
    recipients: int | None = None
    #: Whether the log was read after the broadcast settled (its times and errors are final).
    log_read: bool = False
    times: dict[str, str | None] = field(default_factory=lambda: dict.fromkeys(TIMED_STATUSES))
    #: ``{"recipient": <masked number>, "error": <WhatsApp's text>}`` of failed messages.
    errors: list[dict[str, str]] = field(default_factory=list)
    #: Where its status is read from: the list, its detail (the list did not show it, or showed stale
    #: counts), or its log (the detail's counts proved stale too).
    source: Source = "list"
    #: Polls to skip after a one-by-one read that changed nothing (doubles, see TrackingOptions).
    backoff: int = 0
    #: The poll number from which it is read again.
    due: int = 0

    @property
    def failed(self) -> int:
        return self.counts.failed if self.counts else 0

    @property
    def use_detail(self) -> bool:
        """Read one by one (detail or log) rather than found in the list."""
        return self.source != "list"

    def record(self, counts: MessageStatusCount) -> bool:
        """Keep ``counts``; return whether they differ from what was known."""
        changed = _fingerprint(counts) != _fingerprint(self.counts)
        self.counts = counts.model_copy()
        return changed

    def observe(self, broadcast: Broadcast) -> bool:
        """Record a list or detail read; return whether its counts carry information (and were kept)."""
        self.created_at = parse_timestamp(broadcast.created_at) or self.created_at
        if self.recipients is None and broadcast.contact_list_id is None:
            self.recipients = 1  # a direct send: one recipient
        if not carries_information(broadcast.message_status_count, self.recipients):
            return False
        self.record(broadcast.message_status_count)
        return True

    def observe_log(self, entries: Sequence[BroadcastLogEntry], target: TargetStatus) -> bool:
        """Record log rows; return whether the log exists yet (an empty log says nothing new)."""
        if entries:
            self.recipients = len(entries)
            self.record(counts_from_log(entries))
            self.times = status_times(entries)
            self.errors = [
                {
                    "recipient": mask_phone(entry.contact_phone_number),
                    "error": entry.error_text or "failed (WhatsApp gave no error text)",
                }
                for entry in entries
                if (entry.status or "").strip().lower() == BroadcastStatus.FAILED.value
            ]
        self.log_read = bool(entries) and is_settled(self.counts, target)
        return bool(entries)

    def status(self) -> str:
        return overall_status(self.counts)

    def as_dict(self, target: TargetStatus) -> dict[str, Any]:
        counts = self.counts or MessageStatusCount()
        return {
            "status": self.status(),
            "settled": is_settled(self.counts, target),
            "message_counts": {key: int(getattr(counts, key)) for key in STATUS_ORDER},
            "unknown_statuses": unknown_counts(self.counts),
            "status_times": dict(self.times),
            "errors": [dict(error) for error in self.errors],
        }


# -------------------------------------------------------------------------------------------- the requests


@dataclass(frozen=True)
class ListPage:
    """Request: the next page of ``GET /broadcasts/whatsapp`` (asked newest first); reply: its broadcasts,
    ``None`` when there are no more pages, or :class:`ListUnavailable`."""


@dataclass(frozen=True)
class ListUnavailable:
    """Reply to :class:`ListPage`: the list endpoint refused (401, 403, 404, 405, persistent 5xx)."""

    reason: str


@dataclass(frozen=True)
class GetBroadcast:
    """Request: ``GET /broadcasts/{id}/whatsapp``; reply: the :class:`Broadcast`, or ``None`` when unknown."""

    broadcast_id: str


@dataclass(frozen=True)
class GetLog:
    """Request: ``GET /broadcasts/{id}/whatsapp/log`` (all pages); reply: the log rows (maybe empty)."""

    broadcast_id: str


Request = ListPage | GetBroadcast | GetLog
Reply = list[Broadcast] | Broadcast | list[BroadcastLogEntry] | ListUnavailable | None
PollSteps = Generator[Request, Reply, None]


@dataclass(frozen=True)
class TrackingOptions:
    """
    Knobs of the request plan.

    :param detail_threshold: with at most this many unsettled broadcasts, read each one's detail instead of
        listing pages; also the number of one-by-one reads below which nothing backs off.
    :param max_list_pages: most list pages read per poll; ``None`` means enough for the unsettled
        broadcasts plus :attr:`extra_list_pages`.
    :param extra_list_pages: pages allowed beyond ``ceil(unsettled / page_size)`` (other broadcasts created
        since push the tracked ones down the list).
    :param page_size: broadcasts per list page (Qontak's maximum is 100).
    :param max_log_requests: most logs read for status times once tracking is over (failed broadcasts'
        logs are always read, for their error texts).
    :param max_backoff_polls: most polls a broadcast read one by one is skipped while it does not change.
    :param use_list: whether the list may be read at all (``False`` once it proved unavailable).
    """

    detail_threshold: int = 3
    max_list_pages: int | None = None
    extra_list_pages: int = 2
    page_size: int = 100
    max_log_requests: int = 25
    max_backoff_polls: int = 8
    use_list: bool = True

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
        #: Why the list is not used (``None`` while it is).
        self.list_unavailable: str | None = None if self.options.use_list else "disabled by the caller"
        #: Whether the detail endpoint's counts proved to carry no information (then logs are read).
        self.detail_stale = False
        self.polls = 0
        self._notices: list[str] = []
        self._unknown_seen: set[str] = set()
        self._stale_proofs: Counter[str] = Counter()

    # ------------------------------------------------------------------------------------------ feeding

    def observe(self, broadcast: Broadcast) -> bool:
        """Record a broadcast read from the list or detail endpoint; return whether it is tracked."""
        progress = self.broadcasts.get(broadcast.id)
        if progress is None:
            return False
        progress.observe(broadcast)
        self._note_unknown(progress)
        return True

    def observe_log(self, broadcast_id: str, entries: Sequence[BroadcastLogEntry]) -> bool:
        """Record a broadcast's log rows; return whether the log exists yet."""
        progress = self.broadcasts[broadcast_id]
        exists = progress.observe_log(entries, self.target)
        self._note_unknown(progress)
        return exists

    def observe_not_found(self, broadcast_id: str) -> None:
        """Record that Qontak does not know this broadcast (HTTP 404, or 422 "Couldn't find")."""
        if broadcast_id not in self.not_found:
            self.not_found.append(broadcast_id)

    def observe_list_unavailable(self, reason: str, *, what: str = "is not available to this task") -> None:
        """Stop using the list for the rest of this run (one notice says why)."""
        if self.list_unavailable is None:
            self.list_unavailable = reason
            self._notices.append(
                f"The broadcast list (GET /broadcasts/whatsapp) {what}; reading each broadcast's detail and "
                f"log instead for the rest of this run. Reason: {reason}"
            )
        for progress in self.broadcasts.values():
            if progress.source == "list":
                progress.source = "detail"

    def observe_stale(self, endpoint: Literal["list", "detail"]) -> None:
        """
        One broadcast showed that ``endpoint``'s counts carried no information while a more direct source
        had some; after :data:`STALE_PROOFS` such broadcasts the endpoint is not asked again in this run.
        """
        self._stale_proofs[endpoint] += 1
        if self._stale_proofs[endpoint] < STALE_PROOFS:
            return
        if endpoint == "list":
            self.observe_list_unavailable(
                f"its counts carried no information for {STALE_PROOFS} broadcasts that had progressed",
                what="shows counts that carry no information",
            )
        elif not self.detail_stale:
            self.detail_stale = True
            self._notices.append(
                "The broadcast detail (GET /broadcasts/{id}/whatsapp) shows counts that carry no information "
                f"for {STALE_PROOFS} broadcasts whose log had rows; reading each broadcast's log instead for "
                "the rest of this run."
            )
            for progress in self.broadcasts.values():
                if progress.source == "detail":
                    progress.source = "log"

    def _note_unknown(self, progress: BroadcastProgress) -> None:
        for word in unknown_counts(progress.counts):
            if word not in self._unknown_seen:
                self._unknown_seen.add(word)
                self._notices.append(
                    f"Qontak reports status {word!r} (for broadcast {progress.broadcast_id}), which this "
                    "provider does not know; such messages count as not settled."
                )

    def take_notices(self) -> list[str]:
        """Warnings to log once (the list unavailable, an unknown status word); cleared when taken."""
        notices, self._notices = self._notices, []
        return notices

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
        Which status reads the next poll makes: ``(scan_list, one_by_one_ids)``.

        The list is scanned when it is available and more than ``detail_threshold`` unsettled broadcasts are
        not already read one by one. One-by-one reads skip broadcasts that are backing off, once there are
        more than ``detail_threshold`` of them.
        """
        unsettled = [self.broadcasts[bid] for bid in self.unsettled()]
        listed = [p for p in unsettled if not p.use_detail]
        if self.list_unavailable is not None:
            listed = []
        scan = len(listed) > self.options.detail_threshold
        single = [p for p in unsettled if p.use_detail or not scan]
        if len(single) > self.options.detail_threshold:
            single = [p for p in single if p.due <= self.polls]
        return scan, [p.broadcast_id for p in single]

    def list_scan(self) -> ListScan:
        """Start scanning list pages for the unsettled broadcasts that are not read one by one."""
        wanted = [bid for bid in self.unsettled() if not self.broadcasts[bid].use_detail]
        known = [self.broadcasts[bid].created_at for bid in wanted]
        oldest = min(known) if known and all(k is not None for k in known) else None  # type: ignore[type-var]
        return ListScan(self, set(wanted), self.options.list_page_budget(len(wanted)), oldest)

    def after_single_read(self, broadcast_id: str, changed: bool) -> None:
        """Back off a broadcast read one by one whose read changed nothing; reset it when it moved."""
        progress = self.broadcasts[broadcast_id]
        if changed:
            progress.backoff = 0
        else:
            progress.backoff = min(max(1, progress.backoff * 2), max(0, self.options.max_backoff_polls))
        progress.due = self.polls + 1 + progress.backoff

    def logs_wanted(self, *, final: bool) -> list[str]:
        """
        Logs to read now for failures and times: failed broadcasts without error texts yet, and when
        ``final`` (tracking is over) settled broadcasts whose status times are unknown, within
        ``max_log_requests``.
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
        """How many tracked broadcasts are in each status (a status word we do not know by its name)."""
        counts = dict.fromkeys(STATUS_ORDER, 0)
        for progress in self.broadcasts.values():
            status = progress.status()
            counts[status] = counts.get(status, 0) + 1
        return counts

    def unknown_statuses(self) -> dict[str, int]:
        """Messages under each status word we do not know, over all broadcasts."""
        total: Counter[str] = Counter()
        for progress in self.broadcasts.values():
            total.update(unknown_counts(progress.counts))
        return dict(total)

    def summary_line(self) -> str:
        """E.g. ``3 broadcast(s), target delivered: 1 delivered, 1 read, 1 queued (unknown status)``."""
        counts = self.status_counts()
        parts = ", ".join(
            f"{n} {status}" + ("" if status in STATUS_ORDER else " (unknown status)")
            for status, n in counts.items()
            if n
        )
        return f"{len(self.broadcasts)} broadcast(s), target {self.target}: {parts}"

    def still_waiting_message(self) -> str:
        """E.g. ``still unread: b1, b2`` (``undelivered`` for target ``delivered``), naming unknown words."""
        word = "unread" if self.target == "read" else "undelivered"
        waiting = self.unsettled()
        text = f"still {word}: {', '.join(waiting) or '-'}"
        strange = [
            f"{bid}: status {status!r}"
            for bid in waiting
            for status in sorted(unknown_counts(self.broadcasts[bid].counts))
        ]
        if strange:
            text += f" ({'; '.join(strange)}, unknown to this provider)"
        return text

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
            "unknown_statuses": self.unknown_statuses(),
            "broadcasts": {bid: p.as_dict(self.target) for bid, p in self.broadcasts.items()},
            "failed_ids": self.failed_ids(),
            "unsettled_ids": self.unsettled(),
            "not_found_ids": list(self.not_found),
            "list_unavailable": self.list_unavailable,
        }


class ListScan:
    """
    Bookkeeping of one walk through the broadcast list: feed pages until :meth:`feed` says stop.

    It stops once every wanted id was seen, when the page budget is spent, or, only while the list really
    comes newest first, once a page ends before the oldest wanted broadcast was created.
    """

    def __init__(
        self, tracker: DeliveryTracker, wanted: set[str], page_budget: int, oldest: datetime | None
    ) -> None:
        self._tracker = tracker
        self._missing = set(wanted)
        self._budget = page_budget
        self._oldest = oldest
        self._previous: datetime | None = None
        self._newest_first = True
        #: Wanted ids the list showed with counts that carry no information (to confirm by detail).
        self.uninformative: list[str] = []
        self.pages = 0

    def wants_more(self) -> bool:
        return bool(self._missing) and self.pages < self._budget

    def _check_order(self, page: Sequence[Broadcast]) -> None:
        for broadcast in page:
            created = parse_timestamp(broadcast.created_at)
            if created is None:
                continue
            if self._previous is not None and created > self._previous:
                self._newest_first = False  # the server ignored order_direction=desc
            self._previous = created

    def feed(self, page: Sequence[Broadcast] | None) -> bool:
        """Record one page (``None``: no more pages); return whether to read the next page."""
        if page is None or not page:
            self._budget = self.pages  # the list is exhausted
            return False
        self.pages += 1
        self._check_order(page)
        for broadcast in page:
            if broadcast.id not in self._missing:
                continue
            self._missing.discard(broadcast.id)
            progress = self._tracker.broadcasts[broadcast.id]
            if not progress.observe(broadcast):
                self.uninformative.append(broadcast.id)
            self._tracker._note_unknown(progress)
        last = parse_timestamp(page[-1].created_at)
        if self._newest_first and self._oldest is not None and last is not None and last < self._oldest:
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
    scan_list, single = tracker.status_plan()
    confirm: list[str] = []  # list counts that carried no information: confirm one level down, now
    if scan_list:
        leftover, confirm = yield from _scan_list(tracker, single)
        single = single + [bid for bid in leftover if bid not in single]
    for bid in [*single, *confirm]:
        yield from _read_one(tracker, bid, one_by_one=bid in single, confirming=bid in confirm)
    final = tracker.outcome() != "pending"
    for bid in tracker.logs_wanted(final=final and final_logs):
        entries = yield GetLog(bid)
        tracker.observe_log(bid, _rows(entries))


def _scan_list(
    tracker: DeliveryTracker, single: list[str]
) -> Generator[Request, Reply, tuple[list[str], list[str]]]:
    """Read list pages; return the ids to read one by one instead, and those whose counts need confirming."""
    scan = tracker.list_scan()
    while scan.wants_more():
        page = yield ListPage()
        if isinstance(page, ListUnavailable):
            tracker.observe_list_unavailable(page.reason)
            break
        if not scan.feed(cast("list[Broadcast]", page) if isinstance(page, list) else None):
            break
    if tracker.list_unavailable is not None:
        leftover = [bid for bid in tracker.unsettled() if bid not in single]
    else:
        leftover = scan.leftover()
        for bid in leftover:
            tracker.broadcasts[bid].source = "detail"
    stale = set(scan.uninformative)
    return leftover, [bid for bid in tracker.ids if bid in stale and bid not in single]


def _read_one(
    tracker: DeliveryTracker, bid: str, *, one_by_one: bool, confirming: bool
) -> Generator[Request, Reply, None]:
    """
    Read one broadcast where it is known to be told right: its detail, and its log when the detail says no
    more (or has proved stale). Each level that proved stale for it is skipped from then on.
    """
    progress = tracker.broadcasts[bid]
    before = _fingerprint(progress.counts)
    if progress.source != "log" and not (tracker.detail_stale and confirming):
        reply = yield GetBroadcast(bid)
        if not isinstance(reply, Broadcast):
            tracker.observe_not_found(bid)
            return
        informative = progress.observe(reply)
        tracker._note_unknown(progress)
        if informative:
            if confirming:
                progress.source = "detail"  # the list showed stale counts for it
                tracker.observe_stale("list")
            if one_by_one:
                tracker.after_single_read(bid, _fingerprint(progress.counts) != before)
            return
    entries = yield GetLog(bid)  # the log is the final word
    if tracker.observe_log(bid, _rows(entries)):
        if confirming:
            tracker.observe_stale("list")
        if progress.source != "log" and not tracker.detail_stale:
            tracker.observe_stale("detail")  # its detail said nothing while its log had rows
        progress.source = "log"
    if one_by_one:
        tracker.after_single_read(bid, _fingerprint(progress.counts) != before)


def _rows(reply: Reply) -> list[BroadcastLogEntry]:
    return cast("list[BroadcastLogEntry]", reply) if isinstance(reply, list) else []


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


# ----------------------------------------------------------------------------------------------- drivers


def _list_unavailable_errors() -> tuple[type[Exception], ...]:
    """Errors of the list endpoint after which the list is given up for the run (not a poll failure)."""
    from qontak_provider.client.errors import (
        QontakAuthenticationError,
        QontakEndpointUnavailableError,
        QontakServerError,
    )

    return (QontakAuthenticationError, QontakEndpointUnavailableError, QontakServerError)


def drive_sync(steps: PollSteps, client: QontakClient) -> None:
    """Carry one poll of :func:`poll_steps` to the sync client."""
    from qontak_provider.client.errors import QontakNotFoundError

    pages: Any = None
    reply: Reply = None
    while True:
        try:
            request = steps.send(reply)
        except StopIteration:
            return
        if isinstance(request, ListPage):
            if pages is None:
                pages = client.iter_broadcast_pages(**LIST_ORDER)
            try:
                page = next(pages, None)
            except _list_unavailable_errors() as err:
                reply = ListUnavailable(str(err))
            else:
                reply = page[0] if page is not None else None
        elif isinstance(request, GetBroadcast):
            try:
                reply = client.get_broadcast(request.broadcast_id)
            except QontakNotFoundError:
                reply = None
        else:
            try:
                reply = client.get_broadcast_log(request.broadcast_id)
            except QontakNotFoundError:
                reply = []  # a log that is not there yet is an empty log


async def drive_async(steps: PollSteps, client: AsyncQontakClient) -> None:
    """Carry one poll of :func:`poll_steps` to the async client."""
    from qontak_provider.client.errors import QontakNotFoundError

    pages: Any = None
    reply: Reply = None
    try:
        while True:
            try:
                request = steps.send(reply)
            except StopIteration:
                return
            if isinstance(request, ListPage):
                if pages is None:
                    pages = client.iter_broadcast_pages(**LIST_ORDER)
                try:
                    page = await anext(pages, None)
                except _list_unavailable_errors() as err:
                    reply = ListUnavailable(str(err))
                else:
                    reply = page[0] if page is not None else None
            elif isinstance(request, GetBroadcast):
                try:
                    reply = await client.get_broadcast(request.broadcast_id)
                except QontakNotFoundError:
                    reply = None
            else:
                try:
                    reply = await client.get_broadcast_log(request.broadcast_id)
                except QontakNotFoundError:
                    reply = []
    finally:
        if pages is not None:
            await pages.aclose()  # a scan that stopped early leaves the page generator open
