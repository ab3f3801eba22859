"""The bulk-send engine: stream rows, send them concurrently at the paced rate, journal progress.

Free of Airflow so it can be benchmarked and tested alone; the operator
(:class:`~qontak_provider.operators.bulk.QontakBulkSendOperator`) wires it to the hook, to Airflow's
``task_state_store`` and to the task log.

How a row travels:

1. The dispatcher (the calling thread) reads the next row, asks the journal what earlier tries did with it
   (see :mod:`~qontak_provider.client.bulk_journal`) and either reports it as done, reconciles it, or
   renders and validates it (an invalid row is reported and skipped).
2. Before a row is handed to a sender thread, the journal's reservation mark must cover it: extending the
   reservation writes the journal **before** any of the newly reserved rows can leave. Reservations are made
   ``reserve_rows`` at a time, so the store is written once per batch, not once per row.
3. Sender threads (``max_concurrency``) call ``send``; all of them share the client's pacer, so the rate
   limit holds and a 429 slows every thread. Each result is recorded in memory at once and reaches the
   store with the next checkpoint (every ``checkpoint_interval`` seconds, at each reservation, and at the
   end).
4. On a clean stop (the end, or an exception such as a timeout) the engine waits for requests in flight,
   marks rows that never left as "resend", and writes a final checkpoint, so the next try neither repeats
   nor loses a row. After a hard kill, rows reserved but unconfirmed are reconciled or reported in doubt.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from qontak_provider.client.bulk_journal import (
    FAILED,
    IN_DOUBT,
    NEW,
    RESEND,
    SENT,
    UNCONFIRMED,
    JournalState,
    decode_journal,
    encode_journal,
    merge_journals,
)
from qontak_provider.client.bulk_render import PreparedRow
from qontak_provider.client.errors import (
    QontakAuthenticationError,
    QontakError,
    QontakNotFoundError,
    QontakPayloadError,
    QontakRateLimitError,
    QontakSendInDoubtError,
    QontakTransportError,
    QontakValidationError,
)

__all__ = [
    "OUTCOMES",
    "BulkReport",
    "BulkSender",
    "JournalStore",
    "MemoryStore",
    "RowResult",
    "format_duration",
    "format_progress",
]

log = logging.getLogger(__name__)

#: Outcomes of a row in the result table and the counts.
OUTCOMES = ("sent", "failed", "invalid", "in_doubt", "skipped_already_sent")


class JournalStore(Protocol):
    """Where the journal lives: ``context["task_state_store"]`` in Airflow, a dict in tests."""

    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


class MemoryStore:
    """A :class:`JournalStore` in memory (tests, benchmarks, or Airflow without ``task_state_store``)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.writes = 0

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        import json

        # Round-trip through JSON like the real store, so nothing non-JSON sneaks in.
        self.data[key] = json.loads(json.dumps(value))
        self.writes += 1


@dataclass(frozen=True)
class RowResult:
    """One line of the result table."""

    row: int
    key: str
    to_number: str | None
    outcome: str
    broadcast_id: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "key": self.key,
            "to_number": self.to_number,
            "outcome": self.outcome,
            "broadcast_id": self.broadcast_id,
            "error": self.error,
        }


@dataclass
class BulkReport:
    """What a run did: counts per outcome, broadcast ids (capped), timing."""

    counts: Counter[str] = field(default_factory=Counter)
    broadcast_ids: list[str] = field(default_factory=list)
    broadcast_ids_truncated: bool = False
    rows: int = 0
    resend_pending: int = 0
    journal_writes: int = 0
    journal_bytes: int = 0
    elapsed: float = 0.0
    try_number: int = 1

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe summary (the operator's XCom)."""
        data: dict[str, Any] = {outcome: self.counts.get(outcome, 0) for outcome in OUTCOMES}
        data.update(
            {
                "rows": self.rows,
                "resend_pending": self.resend_pending,
                "broadcast_ids": list(self.broadcast_ids),
                "broadcast_ids_truncated": self.broadcast_ids_truncated,
                "elapsed_seconds": round(self.elapsed, 3),
                "journal_writes": self.journal_writes,
                "try": self.try_number,
            }
        )
        return data


def format_duration(seconds: float) -> str:
    """``75`` -> ``1m15s``; ``3725`` -> ``1h02m05s``; ``9.4`` -> ``9s``."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def format_progress(counts: Mapping[str, int], processed: int, elapsed: float, total: int | None) -> str:
    """
    One progress line for the task log.

    ``sent 120, failed 0, invalid 2, in doubt 0, skipped 0 | 122 of 5000 rows (2.4%), 4878 remaining |
    12.0 msg/s | ETA 6m46s``; without a known total the remaining count and ETA are left out.
    """
    head = (
        f"sent {counts.get('sent', 0)}, failed {counts.get('failed', 0)}, "
        f"invalid {counts.get('invalid', 0)}, "
        f"in doubt {counts.get('in_doubt', 0)}, skipped {counts.get('skipped_already_sent', 0)}"
    )
    rate = counts.get("sent", 0) / elapsed if elapsed > 0 else 0.0
    if total is not None and total > 0:
        remaining = max(0, total - processed)
        rows = f"{processed} of {total} rows ({100.0 * processed / total:.1f}%), {remaining} remaining"
        row_rate = processed / elapsed if elapsed > 0 else 0.0
        eta = f"ETA {format_duration(remaining / row_rate)}" if row_rate > 0 else "ETA unknown"
        return f"{head} | {rows} | {rate:.1f} msg/s | {eta}"
    return f"{head} | {processed} rows | {rate:.1f} msg/s"


def classify_send_error(err: BaseException) -> tuple[str, str, bool]:  # noqa: PLR0911
    """
    Map a failed send to ``(journal code, outcome, abort run)``.

    Only errors that prove the request was not processed lead to a resend on the next try (``r``); a
    refusal by Qontak is final (``f``); anything that may have reached Qontak is in doubt (``d``).
    """
    if isinstance(err, QontakSendInDoubtError):
        return IN_DOUBT, "in_doubt", False
    if isinstance(err, QontakAuthenticationError):
        return RESEND, "failed", True
    if isinstance(err, (QontakRateLimitError, QontakTransportError)):
        return RESEND, "failed", False
    if isinstance(err, QontakPayloadError):
        return FAILED, "invalid", False
    if isinstance(err, (QontakValidationError, QontakNotFoundError)):
        return FAILED, "failed", False
    if isinstance(err, QontakError):
        return IN_DOUBT, "in_doubt", False
    # A bug or an unexpected exception: we cannot know whether the request left; stop the run.
    return IN_DOUBT, "in_doubt", True


class _Aborted(Exception):
    pass


class BulkSender:
    """
    Send one prepared request per row, concurrently, paced by the client, journalled for exactly-once.

    :param send: sends one request and returns an object with an ``id`` (``QontakClient.send_direct``).
    :param prepare: ``(index, row) -> PreparedRow``; raises ``QontakPayloadError`` for an invalid row.
    :param key_of: ``(index, row) -> key`` naming a row in results and logs, also when it is invalid;
        default the position.
    :param number_of: ``row -> masked number`` for results and logs of rows that could not be prepared.
    :param store: where the journal is kept (``task_state_store``); ``None`` keeps it in memory only.
    :param journal_key: the store key of the journal.
    :param fingerprint: identifies input and template; a stored journal with another one is refused.
    :param max_concurrency: sender threads (requests in flight at most).
    :param reserve_rows: rows reserved per journal write before they are sent.
    :param checkpoint_interval: seconds between journal writes that record results.
    :param progress_interval: seconds between progress lines in the log.
    :param total: number of rows if known (for remaining count and ETA).
    :param on_result: called with every :class:`RowResult` (under the engine's lock, in completion order).
    :param reconcile: ``(PreparedRow, journal start as Unix time) -> broadcast id | None`` for rows an
        earlier try reserved but never
        confirmed: the id proves the row was sent; ``None`` means no proof was found.
    :param resend_unconfirmed: send an unconfirmed row again when ``reconcile`` found no proof it was sent
        (at-least-once for those rows); default report it as in doubt.
    :param max_ids: broadcast ids kept for the report (and the store) at most.
    :param try_number: the Airflow try, for the journal and logs.
    :param logger: where progress goes.
    :param clock: monotonic clock; :param wall: Unix clock.
    """

    def __init__(
        self,
        *,
        send: Callable[[Any], Any],
        prepare: Callable[[int, Mapping[str, Any]], PreparedRow],
        key_of: Callable[[int, Mapping[str, Any]], str] | None = None,
        number_of: Callable[[Mapping[str, Any]], str | None] | None = None,
        store: JournalStore | None = None,
        journal_key: str = "qontak_bulk",
        fingerprint: str = "",
        max_concurrency: int = 8,
        reserve_rows: int = 100,
        checkpoint_interval: float = 5.0,
        progress_interval: float = 10.0,
        total: int | None = None,
        on_result: Callable[[RowResult], None] | None = None,
        reconcile: Callable[[PreparedRow, float | None], str | None] | None = None,
        resend_unconfirmed: bool = False,
        max_ids: int = 1000,
        try_number: int = 1,
        logger: logging.Logger | Any = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        if reserve_rows < 1:
            raise ValueError("reserve_rows must be at least 1")
        self.send = send
        self.prepare = prepare
        self.key_of = key_of
        self.number_of = number_of
        self.store = store
        self.journal_key = journal_key
        self.fingerprint = fingerprint
        self.max_concurrency = max_concurrency
        self.reserve_rows = reserve_rows
        self.checkpoint_interval = checkpoint_interval
        self.progress_interval = progress_interval
        self.total = total
        self.on_result = on_result
        self.reconcile = reconcile
        self.resend_unconfirmed = resend_unconfirmed
        self.max_ids = max_ids
        self.try_number = try_number
        self.log = logger or log
        self.clock = clock
        self.wall = wall

        self._lock = threading.Lock()
        self._abort: BaseException | None = None
        self._report = BulkReport(try_number=try_number)
        self._prior: JournalState | None = None
        self._current = JournalState(fingerprint=fingerprint, tries=try_number)
        self._cursor = 0
        self._new_ids: list[str] = []
        self._stored_ids = 0
        self._id_chunks = 0

    # ------------------------------------------------------------------------------------------ journal

    def load(self) -> JournalState | None:
        """Read the journal of earlier tries (``None`` on a first try); refuse one of another input."""
        if self.store is None:
            return None
        stored = self.store.get(self.journal_key)
        if stored is None:
            return None
        prior = decode_journal(stored)
        if self.fingerprint and prior.fingerprint and prior.fingerprint != self.fingerprint:
            raise ValueError(
                f"the progress journal {self.journal_key!r} belongs to another input or template "
                f"(fingerprint {prior.fingerprint} != {self.fingerprint}); refusing to guess which rows were "
                "sent. Restore the original input, or use another journal_key to start over."
            )
        self._id_chunks = int(prior.extra.get("ic", 0))
        ids: list[str] = []
        for n in range(self._id_chunks):
            chunk = self.store.get(f"{self.journal_key}.ids.{n}") or []
            ids.extend(str(i) for i in chunk)
        self._stored_ids = len(ids)
        self._report.broadcast_ids = ids[: self.max_ids]
        self._report.broadcast_ids_truncated = bool(prior.extra.get("it")) or len(ids) > self.max_ids
        return prior

    def _snapshot(self) -> JournalState:
        """The journal to store now (called under the lock)."""
        current = self._current
        current.extra["ic"] = self._id_chunks
        if self._report.broadcast_ids_truncated:
            current.extra["it"] = True
        if self._prior is None:
            return current
        return merge_journals(self._prior, current, self._cursor)

    def checkpoint(self) -> None:
        """Write the journal (and the broadcast ids found since the last checkpoint)."""
        if self.store is None:
            return
        with self._lock:
            new_ids = self._new_ids
            self._new_ids = []
            room = max(0, self.max_ids - self._stored_ids)
            chunk = new_ids[:room]
            if chunk:
                self._id_chunks += 1
            encoded = encode_journal(self._snapshot())
        if chunk:
            # The ids chunk goes first: the journal that counts it must never point at a missing chunk.
            self.store.set(f"{self.journal_key}.ids.{self._id_chunks - 1}", chunk)
            self._stored_ids += len(chunk)
        self.store.set(self.journal_key, encoded)
        self._report.journal_writes += 1
        self._report.journal_bytes = len(str(encoded))
        self._last_checkpoint = self.clock()

    # ------------------------------------------------------------------------------------------- results

    def _record(self, result: RowResult, code: str | None) -> None:
        """Record one row's result (thread-safe)."""
        with self._lock:
            if code is not None:
                self._current.mark(result.row, code)
            self._report.counts[result.outcome] += 1
            if result.broadcast_id and result.outcome in ("sent", "skipped_already_sent"):
                if len(self._report.broadcast_ids) < self.max_ids:
                    self._report.broadcast_ids.append(result.broadcast_id)
                    self._new_ids.append(result.broadcast_id)
                else:
                    self._report.broadcast_ids_truncated = True
            if self.on_result is not None:
                try:
                    self.on_result(result)
                except BaseException as err:  # the sink failing ends the run, cleanly
                    if self._abort is None:
                        self._abort = err

    def _send_one(self, prepared: PreparedRow, semaphore: threading.Semaphore) -> None:
        try:
            if self._abort is not None:
                self._record(
                    RowResult(
                        prepared.index,
                        prepared.key,
                        prepared.masked_number,
                        "failed",
                        None,
                        "not sent: the run stopped",
                    ),
                    RESEND,
                )
                return
            try:
                broadcast = self.send(prepared.request)
            except BaseException as err:
                code, outcome, fatal = classify_send_error(err)
                if fatal and self._abort is None:
                    self._abort = err
                self._record(
                    RowResult(
                        prepared.index,
                        prepared.key,
                        prepared.masked_number,
                        outcome,
                        None,
                        f"{type(err).__name__}: {err}"[:500],
                    ),
                    code,
                )
                return
            self._record(
                RowResult(prepared.index, prepared.key, prepared.masked_number, "sent", str(broadcast.id)),
                SENT,
            )
        finally:
            semaphore.release()

    # ----------------------------------------------------------------------------------------------- run

    def run(self, rows: Iterable[Mapping[str, Any]]) -> BulkReport:
        """
        Process every row; return the report. Exceptions (an abort, a timeout) propagate after a clean
        stop and a final checkpoint.
        """
        started = self.clock()
        self._last_checkpoint = started
        last_progress = started
        self._prior = self.load()
        self._current.started_at = self.wall()
        if self._prior is not None:
            self.log.info(
                "Resuming bulk send from its journal (try %d): %d rows settled, %d to resend, %d in doubt",
                self.try_number,
                len(self._prior.codes[SENT]) + self._prior.count(FAILED),
                self._prior.count(RESEND),
                self._prior.count(IN_DOUBT),
            )
        semaphore = threading.Semaphore(self.max_concurrency * 2)
        executor = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="qontak-bulk")
        clean = False
        try:
            for index, row in enumerate(rows):
                if self._abort is not None:
                    raise _Aborted
                self._dispatch(index, row, semaphore, executor)
                self._cursor = index + 1
                now = self.clock()
                if now - self._last_checkpoint >= self.checkpoint_interval:
                    self.checkpoint()
                if now - last_progress >= self.progress_interval:
                    last_progress = now
                    self._log_progress(now - started)
            clean = True
        except _Aborted:
            pass
        finally:
            if not clean and self._abort is None:
                # An exception in this thread (timeout, reader error): stop the senders too.
                self._abort = _Aborted("the run stopped")
            executor.shutdown(wait=True)
            with self._lock:
                # Nothing is in flight any more: rows beyond the cursor were never handed out.
                self._current.res = self._cursor
            self.checkpoint()
        self._report.elapsed = self.clock() - started
        self._report.rows = self._cursor
        self._report.resend_pending = self._current.count(RESEND)
        self._log_progress(self._report.elapsed)
        if self._abort is not None and not isinstance(self._abort, _Aborted):
            raise self._abort
        return self._report

    def _log_progress(self, elapsed: float) -> None:
        with self._lock:
            counts = dict(self._report.counts)
        self.log.info("Bulk send progress: %s", format_progress(counts, self._cursor, elapsed, self.total))

    def _ensure_reserved(self, index: int) -> None:
        if index >= self._current.res:
            with self._lock:
                self._current.reserve(index + self.reserve_rows)
            self.checkpoint()

    def _dispatch(
        self, index: int, row: Mapping[str, Any], semaphore: threading.Semaphore, executor: ThreadPoolExecutor
    ) -> None:
        prior = self._prior.status(index) if self._prior is not None else NEW
        if prior in (SENT, FAILED, IN_DOUBT):
            self._replay(index, row, prior)
            return
        try:
            prepared = self.prepare(index, row)
        except (QontakPayloadError, ValueError, TypeError, KeyError) as err:
            # Invalid rows count as settled ("s"): validation is deterministic, so a retry finds
            # them invalid again.
            self._record(
                RowResult(index, self._key(index, row), self._masked(row), "invalid", None, str(err)[:500]),
                SENT,
            )
            return
        if prior == UNCONFIRMED:
            since = self._prior.started_at if self._prior is not None else None
            found = self.reconcile(prepared, since) if self.reconcile is not None else None
            if found is not None:
                self._record(
                    RowResult(
                        index,
                        prepared.key,
                        prepared.masked_number,
                        "skipped_already_sent",
                        found,
                        "sent by an earlier try (found in the broadcast list)",
                    ),
                    SENT,
                )
                return
            if not (self.resend_unconfirmed and self.reconcile is not None):
                self._record(
                    RowResult(
                        index,
                        prepared.key,
                        prepared.masked_number,
                        "in_doubt",
                        None,
                        "an earlier try stopped while this row was in flight; not sent again",
                    ),
                    IN_DOUBT,
                )
                return
        self._ensure_reserved(index)
        # Wait for a free slot, checkpointing meanwhile: at slow rates the queue drains slowly.
        while not semaphore.acquire(timeout=1.0):
            if self._abort is not None:
                raise _Aborted
            if self.clock() - self._last_checkpoint >= self.checkpoint_interval:
                self.checkpoint()
        executor.submit(self._send_one, prepared, semaphore)

    def _key(self, index: int, row: Mapping[str, Any]) -> str:
        return str(self.key_of(index, row)) if self.key_of is not None else str(index)

    def _masked(self, row: Mapping[str, Any]) -> str | None:
        return self.number_of(row) if self.number_of is not None else None

    def _replay(self, index: int, row: Mapping[str, Any], prior: str) -> None:
        """A row settled by an earlier try: report it, never send it."""
        key = self._key(index, row)
        if prior == SENT:
            try:
                prepared = self.prepare(index, row)
            except (QontakPayloadError, ValueError, TypeError, KeyError) as err:
                self._record(RowResult(index, key, None, "invalid", None, str(err)[:500]), SENT)
                return
            self._record(
                RowResult(
                    index, key, prepared.masked_number, "skipped_already_sent", None, "sent by an earlier try"
                ),
                SENT,
            )
            return
        outcome = "in_doubt" if prior == IN_DOUBT else "failed"
        self._record(
            RowResult(index, key, None, outcome, None, "reported by an earlier try; not sent again"), prior
        )
