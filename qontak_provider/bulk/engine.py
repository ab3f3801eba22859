"""The bulk-send engine: stream rows, send them concurrently at the paced rate, journal every hand-over.

Free of Airflow so it can be benchmarked and tested alone; the operator
(:class:`~qontak_provider.operators.bulk.QontakBulkSendOperator`) wires it to the hook, to Airflow's
``task_state_store`` and to the task log.

How a row travels:

1. The dispatcher (the calling thread) reads the next row, asks the journal what earlier tries did with it
   (see :mod:`~qontak_provider.bulk.journal`) and either reports it as done, reconciles it, or renders and
   validates it (an invalid row is reported and skipped; a second row with the same number and the same
   message is reported as a duplicate and not sent, unless ``send_duplicates``).
2. Sender threads (``max_concurrency``) call ``send``; all of them share the client's pacer, so the rate
   limit holds and a 429 slows every thread. **After its pacing wait and before its request is written**, a
   sender marks its row *handed over* in the journal and waits until the store has it (``before_write``).
   Hand-overs that arrive while the store is being written are batched into the next write (group commit),
   so the store is written about once per row at the documented 60/min and far less often per row at high
   rates. Each write also carries every result recorded so far.
3. On a clean stop (the end, or an exception such as a timeout) the engine waits for requests in flight and
   writes a final checkpoint; rows that never left carry no code and the next try sends them. After a hard
   kill, only rows handed over but without a stored result, at most the rows in flight, are unconfirmed:
   the next try reconciles them against Qontak's broadcast list or reports them in doubt.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from qontak_provider.bulk.journal import (
    FAILED,
    HANDED,
    IN_DOUBT,
    INVALID,
    NEW,
    RESEND,
    SENT,
    JournalState,
    decode_journal,
    encode_journal,
)
from qontak_provider.bulk.render import PreparedRow
from qontak_provider.client.errors import QontakAuthenticationError, QontakError, QontakPayloadError
from qontak_provider.client.media import MediaFile
from qontak_provider.client.models import DirectSendRequest, UploadedFile
from qontak_provider.client.payload import with_header_media
from qontak_provider.ledger.send import Fate, fate_of

__all__ = [
    "OUTCOMES",
    "BulkReport",
    "BulkSender",
    "JournalMismatch",
    "JournalStore",
    "MemoryStore",
    "RowResult",
    "format_duration",
    "format_progress",
]

log = logging.getLogger(__name__)

#: Outcomes of a row in the result table and the counts.
OUTCOMES = ("sent", "failed", "invalid", "in_doubt", "duplicate", "skipped_already_sent")
#: Rows in doubt described one by one in the report (the results table has them all).
MAX_IN_DOUBT_LISTED = 50

#: ``(prepared row, first try's start as Unix time) -> (broadcast id | None, why not found | None)``.
Reconcile = Callable[[PreparedRow, float | None], tuple[str | None, str | None]]


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
    """What a run did: counts per outcome, broadcast ids (capped), the rows in doubt, timing."""

    counts: Counter[str] = field(default_factory=Counter)
    broadcast_ids: list[str] = field(default_factory=list)
    broadcast_ids_truncated: bool = False
    rows: int = 0
    resend_pending: int = 0
    journal_writes: int = 0
    elapsed: float = 0.0
    try_number: int = 1
    #: The first :data:`MAX_IN_DOUBT_LISTED` rows in doubt: ``{"row", "key", "to_number", "reason"}``.
    in_doubt: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe summary (the operator's XCom): counts, ids and keys, never a phone number in full."""
        data: dict[str, Any] = {outcome: self.counts.get(outcome, 0) for outcome in OUTCOMES}
        data.update(
            {
                "rows": self.rows,
                "resend_pending": self.resend_pending,
                "broadcast_ids": list(self.broadcast_ids),
                "broadcast_ids_truncated": self.broadcast_ids_truncated,
                "in_doubt_keys": [row["key"] for row in self.in_doubt],
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

    ``sent 120, failed 0, invalid 2, in doubt 0, duplicate 1, skipped 0 | 123 of 5000 rows (2.5%), 4877
    remaining | 12.0 msg/s | ETA 6m46s``; without a known total the remaining count and ETA are left out.
    """
    head = (
        f"sent {counts.get('sent', 0)}, failed {counts.get('failed', 0)}, "
        f"invalid {counts.get('invalid', 0)}, in doubt {counts.get('in_doubt', 0)}, "
        f"duplicate {counts.get('duplicate', 0)}, skipped {counts.get('skipped_already_sent', 0)}"
    )
    rate = counts.get("sent", 0) / elapsed if elapsed > 0 else 0.0
    if total is not None and total > 0:
        remaining = max(0, total - processed)
        rows = f"{processed} of {total} rows ({100.0 * processed / total:.1f}%), {remaining} remaining"
        row_rate = processed / elapsed if elapsed > 0 else 0.0
        eta = f"ETA {format_duration(remaining / row_rate)}" if row_rate > 0 else "ETA unknown"
        return f"{head} | {rows} | {rate:.1f} msg/s | {eta}"
    return f"{head} | {processed} rows | {rate:.1f} msg/s"


def classify_send_error(err: BaseException, *, handed_over: bool) -> tuple[str, str, bool]:
    """
    Map a failed send to ``(journal code, outcome, abort run)``.

    What the error means for the message is the send ledger's call
    (:func:`~qontak_provider.ledger.send.fate_of`): refused is final (``f``), not sent is resent by the next
    try (``r``), in doubt is reported (``d``). A request refused before it left (``QontakPayloadError``, e.g.
    a header file gone since its check) is ``invalid`` (``v``: checked again by the next try). The run
    stops on a rejected credential (every other row would be rejected too) and on an error that is not
    Qontak's (a bug must not be repeated 10,000 times).
    """
    fate = fate_of(err, handed_over=handed_over)
    abort = isinstance(err, QontakAuthenticationError) or not isinstance(err, QontakError)
    if fate is Fate.REFUSED:
        return (
            (INVALID, "invalid", False) if isinstance(err, QontakPayloadError) else (FAILED, "failed", False)
        )
    if fate is Fate.NOT_SENT:
        return RESEND, "failed", abort
    return IN_DOUBT, "in_doubt", abort


class JournalMismatch(ValueError):
    """The stored journal belongs to another input or template: which rows were sent cannot be known."""


class HandOverError(Exception):
    """The journal could not be stored before a row's request left: the row was not sent."""


class _Aborted(Exception):
    pass


class _Journal:
    """
    The journal of this run and its store: every write serialised, hand-overs batched (group commit).

    All state changes go through :meth:`mark` under one lock. A write stores a snapshot of everything marked
    so far; :meth:`hand_over` marks a row ``h`` and returns only once a write that includes it has finished,
    joining the write in progress's successor rather than writing alone. Writes never overlap, so an older
    snapshot can never overwrite a newer one.
    """

    def __init__(self, store: JournalStore | None, key: str, state: JournalState, max_ids: int) -> None:
        self.store = store
        self.key = key
        self.state = state
        self.max_ids = max_ids
        self.writes = 0
        self._cond = threading.Condition()
        self._version = 0
        self._stored = 0
        self._writing = False
        self._failure: BaseException | None = None
        self._new_ids: list[str] = []
        self._id_chunks = int(state.extra.get("ic", 0))
        self._stored_ids = 0

    def load_ids(self) -> list[str]:
        """Broadcast ids earlier tries stored (capped at ``max_ids``)."""
        ids: list[str] = []
        for n in range(self._id_chunks):
            chunk = self.store.get(f"{self.key}.ids.{n}") if self.store is not None else None
            ids.extend(str(i) for i in chunk or [])
        self._stored_ids = len(ids)
        return ids

    def mark(self, row: int, code: str, broadcast_id: str | None = None) -> None:
        with self._cond:
            self.state.mark(row, code)
            if broadcast_id is not None and self._stored_ids + len(self._new_ids) < self.max_ids:
                self._new_ids.append(broadcast_id)
            self._version += 1

    def hand_over(self, row: int) -> None:
        """Mark ``row`` handed over and return once the store has it (the request may leave then)."""
        with self._cond:
            self.state.mark(row, HANDED)
            self._version += 1
            wanted = self._version
        try:
            self._flush_until(wanted)
        except BaseException as err:
            raise HandOverError(f"the progress journal could not be stored: {err}") from err

    def flush(self) -> None:
        """Store everything marked so far."""
        with self._cond:
            wanted = self._version
        self._flush_until(wanted)

    def _flush_until(self, wanted: int) -> None:
        if self.store is None:
            return
        with self._cond:
            while self._stored < wanted:
                if self._failure is not None:
                    raise self._failure
                if self._writing:
                    self._cond.wait()
                    continue
                self._writing = True
                target = self._version
                chunk = self._new_ids
                self._new_ids = []
                if chunk:
                    self._id_chunks += 1
                self.state.extra["ic"] = self._id_chunks
                encoded = encode_journal(self.state)
                self._cond.release()
                try:
                    if chunk:
                        # The ids chunk goes first: a journal that counts it never points at a missing chunk.
                        self.store.set(f"{self.key}.ids.{self._id_chunks - 1}", chunk)
                    self.store.set(self.key, encoded)
                except BaseException as err:
                    self._failure = err
                    raise
                finally:
                    self._cond.acquire()
                    self._writing = False
                    self._cond.notify_all()
                self._stored_ids += len(chunk)
                self._stored = target
                self.writes += 1


class UploadCache:
    """
    Each distinct file content uploaded once per run, even when rows sharing it are sent at the same time.

    The first row that needs a content uploads it; the others wait for that upload and share its URL (or its
    error: a file that failed to upload fails every row that carries it, each reported on its own).
    """

    def __init__(self, upload: Callable[[MediaFile, str], UploadedFile]) -> None:
        self._upload = upload
        self._lock = threading.Lock()
        self._futures: dict[str, Future[UploadedFile]] = {}
        #: Uploads made (not shared): for the report and the benchmark.
        self.uploads = 0

    def get(self, media: MediaFile, header_format: str) -> UploadedFile:
        key = media.sha256()
        with self._lock:
            future = self._futures.get(key)
            owner = future is None
            if future is None:
                future = self._futures[key] = Future()
        if owner:
            try:
                future.set_result(self._upload(media, header_format))
                with self._lock:
                    self.uploads += 1
            except BaseException as err:
                future.set_exception(err)
        return future.result()


class BulkSender:
    """
    Send one prepared request per row, concurrently, paced by the client, journalled for exactly-once.

    :param send: sends one request and returns an object with an ``id``; called as
        ``send(request, before_write=callback)`` (``QontakClient.send_direct``), and must call the callback
        once right before the request is written.
    :param prepare: ``(index, row) -> PreparedRow``; raises ``QontakPayloadError`` for an invalid row.
    :param key_of: ``(index, row) -> key`` naming a row in results and logs, also when it is invalid;
        default the position.
    :param number_of: ``row -> masked number`` for results and logs of rows that could not be prepared.
    :param store: where the journal is kept (``task_state_store``); ``None`` keeps it in memory only.
    :param journal_key: the store key of the journal.
    :param fingerprint: identifies input and template; a stored journal with another one is refused.
    :param max_concurrency: sender threads (requests in flight at most).
    :param checkpoint_interval: seconds between journal writes that record results when no row is handed
        over (each hand-over stores the results too).
    :param progress_interval: seconds between progress lines in the log.
    :param total: number of rows if known (for remaining count and ETA).
    :param on_result: called with every :class:`RowResult` (under the engine's lock, in completion order).
    :param reconcile: for rows an earlier try handed over without a stored result; returns the broadcast id
        that proves the row was sent, or ``None`` and why not.
    :param resend_unconfirmed: send an unconfirmed row again when ``reconcile`` found no proof it was sent
        (at-least-once for those rows); default report it as in doubt.
    :param resend_in_doubt: send again every row in doubt, also those an earlier try recorded in doubt (a
        deliberate resend: their recipients may get the message twice).
    :param send_duplicates: send every row, even one with the same number and message as an earlier row.
    :param upload: ``(media, header_format) -> UploadedFile``, for rows with a header file
        (``QontakClient.upload_file``); each distinct content is uploaded once per run, by the first row
        that needs it, right before that row's send.
    :param max_ids: broadcast ids kept for the report (and the store) at most.
    :param try_number: the Airflow try, for the journal and logs.
    :param logger: where progress goes.
    :param clock: monotonic clock; :param wall: Unix clock.
    """

    def __init__(
        self,
        *,
        send: Callable[..., Any],
        prepare: Callable[[int, Mapping[str, Any]], PreparedRow],
        key_of: Callable[[int, Mapping[str, Any]], str] | None = None,
        number_of: Callable[[Mapping[str, Any]], str | None] | None = None,
        store: JournalStore | None = None,
        journal_key: str = "qontak_bulk",
        fingerprint: str = "",
        max_concurrency: int = 8,
        checkpoint_interval: float = 5.0,
        progress_interval: float = 10.0,
        total: int | None = None,
        on_result: Callable[[RowResult], None] | None = None,
        reconcile: Reconcile | None = None,
        resend_unconfirmed: bool = False,
        resend_in_doubt: bool = False,
        send_duplicates: bool = False,
        upload: Callable[[MediaFile, str], UploadedFile] | None = None,
        max_ids: int = 1000,
        try_number: int = 1,
        logger: logging.Logger | Any = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.send = send
        self.prepare = prepare
        self.key_of = key_of
        self.number_of = number_of
        self.store = store
        self.journal_key = journal_key
        self.fingerprint = fingerprint
        self.max_concurrency = max_concurrency
        self.checkpoint_interval = checkpoint_interval
        self.progress_interval = progress_interval
        self.total = total
        self.on_result = on_result
        self.reconcile = reconcile
        self.resend_unconfirmed = resend_unconfirmed
        self.resend_in_doubt = resend_in_doubt
        self.send_duplicates = send_duplicates
        self._uploads = UploadCache(upload) if upload is not None else None
        self.max_ids = max_ids
        self.try_number = try_number
        self.log = logger or log
        self.clock = clock
        self.wall = wall

        self._lock = threading.Lock()
        self._abort: BaseException | None = None
        self._report = BulkReport(try_number=try_number)
        self._journal: _Journal | None = None
        self._prior: JournalState | None = None
        self._seen: set[bytes] = set()
        self._cursor = 0
        self._last_checkpoint = 0.0

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
            raise JournalMismatch(
                f"the progress journal {self.journal_key!r} belongs to another input or template "
                f"(fingerprint {prior.fingerprint} != {self.fingerprint}); refusing to guess which rows were "
                "sent. Restore the original input, or use another journal_key to start over."
            )
        return prior

    def checkpoint(self) -> None:
        """Store the journal (and the broadcast ids found since the last write)."""
        assert self._journal is not None
        self._journal.flush()
        self._last_checkpoint = self.clock()

    # ------------------------------------------------------------------------------------------- results

    def _record(self, result: RowResult, code: str | None) -> None:
        """Record one row's result (thread-safe)."""
        assert self._journal is not None
        if code is not None:
            # Ids of rows sent (or proven sent) in this try: replayed rows have none, their ids are stored.
            self._journal.mark(result.row, code, result.broadcast_id)
        with self._lock:
            self._report.counts[result.outcome] += 1
            if result.broadcast_id and result.outcome in ("sent", "skipped_already_sent"):
                if len(self._report.broadcast_ids) < self.max_ids:
                    self._report.broadcast_ids.append(result.broadcast_id)
                else:
                    self._report.broadcast_ids_truncated = True
            if result.outcome == "in_doubt" and len(self._report.in_doubt) < MAX_IN_DOUBT_LISTED:
                # Kept in input order: rows finish in any order when several are in flight.
                bisect.insort(
                    self._report.in_doubt,
                    {
                        "row": result.row,
                        "key": result.key,
                        "to_number": result.to_number,
                        "reason": result.error,
                    },
                    key=lambda row: int(row["row"]),
                )
            if self.on_result is not None:
                try:
                    self.on_result(result)
                except BaseException as err:  # the sink failing ends the run, cleanly
                    if self._abort is None:
                        self._abort = err

    def _send_one(self, prepared: PreparedRow, semaphore: threading.Semaphore) -> None:
        assert self._journal is not None
        journal = self._journal
        handed = False

        def before_write() -> None:
            nonlocal handed
            if self._abort is not None:
                raise _Aborted("the run stopped")
            journal.hand_over(prepared.index)
            handed = True

        def result(outcome: str, broadcast_id: str | None = None, error: str | None = None) -> RowResult:
            return RowResult(
                prepared.index, prepared.key, prepared.masked_number, outcome, broadcast_id, error
            )

        try:
            if self._abort is not None:
                self._record(result("failed", error="not sent: the run stopped"), RESEND)
                return
            try:
                request = self._with_upload(prepared)
            except BaseException as err:
                # The row's message never left: what the upload's error says decides whether it is final.
                code, outcome, fatal = classify_send_error(err, handed_over=True)
                if code == IN_DOUBT:
                    code, outcome = RESEND, "failed"  # an upload creates no message
                if fatal and self._abort is None:
                    self._abort = err
                self._record(result(outcome, error=f"header_file: {type(err).__name__}: {err}"[:500]), code)
                return
            try:
                broadcast = self.send(request, before_write=before_write)
            except BaseException as err:
                if isinstance(err, (_Aborted, HandOverError)):
                    if isinstance(err, HandOverError) and self._abort is None:
                        self._abort = err
                    self._record(result("failed", error=f"not sent: {err}"[:500]), RESEND)
                    return
                code, outcome, fatal = classify_send_error(err, handed_over=handed)
                if fatal and self._abort is None:
                    self._abort = err
                self._record(result(outcome, error=f"{type(err).__name__}: {err}"[:500]), code)
                return
            self._record(result("sent", str(broadcast.id)), SENT)
        finally:
            semaphore.release()

    def _with_upload(self, prepared: PreparedRow) -> DirectSendRequest:
        """The row's request with its header pointing at its uploaded file (uploaded now or earlier)."""
        if prepared.media is None:
            return prepared.request
        if self._uploads is None:
            raise QontakPayloadError("header_file", "an uploader (the engine was built without one)", None)
        header = prepared.request.parameters.header
        fmt = header.format.value if header is not None else ""
        uploaded = self._uploads.get(prepared.media, fmt)
        return with_header_media(prepared.request, uploaded.url, prepared.media.filename)

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
        state = self._prior or JournalState()
        state.fingerprint = self.fingerprint or state.fingerprint
        state.tries = self.try_number
        if state.started_at is None:
            state.started_at = self.wall()
        self._journal = _Journal(self.store, self.journal_key, state, self.max_ids)
        ids = self._journal.load_ids()
        self._report.broadcast_ids = ids[: self.max_ids]
        self._report.broadcast_ids_truncated = bool(state.extra.get("it")) or len(ids) > self.max_ids
        if self._prior is not None:
            self.log.info(
                "Resuming bulk send from its journal (try %d): %d rows settled, %d invalid (checked again), "
                "%d to resend, %d in doubt, %d handed over without a result",
                self.try_number,
                self._prior.count(SENT) + self._prior.count(FAILED),
                self._prior.count(INVALID),
                self._prior.count(RESEND),
                self._prior.count(IN_DOUBT),
                self._prior.count(HANDED),
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
            if self._report.broadcast_ids_truncated:
                state.extra["it"] = True
            self.checkpoint()
        self._report.elapsed = self.clock() - started
        self._report.rows = self._cursor
        self._report.resend_pending = state.count(RESEND)
        self._report.journal_writes = self._journal.writes
        self._log_progress(self._report.elapsed)
        if self._abort is not None and not isinstance(self._abort, _Aborted):
            raise self._abort
        return self._report

    def _log_progress(self, elapsed: float) -> None:
        with self._lock:
            counts = dict(self._report.counts)
        self.log.info("Bulk send progress: %s", format_progress(counts, self._cursor, elapsed, self.total))

    def _dispatch(
        self, index: int, row: Mapping[str, Any], semaphore: threading.Semaphore, executor: ThreadPoolExecutor
    ) -> None:
        prior = self._prior.status(index) if self._prior is not None else NEW
        if prior in (SENT, FAILED) or (prior == IN_DOUBT and not self.resend_in_doubt):
            self._replay(index, row, prior)
            return
        try:
            prepared = self.prepare(index, row)
        except (QontakPayloadError, ValueError, TypeError, KeyError) as err:
            # Not "settled": what made the row invalid may be outside the input (a header_file that is
            # missing, a template that is edited), so the next try checks it again and sends it if valid.
            key = self._key(index, row)
            self._record(RowResult(index, key, self._masked(row), "invalid", None, str(err)[:500]), INVALID)
            return
        if self._is_duplicate(prepared):
            self._record(self._duplicate(prepared), SENT)
            return
        if prior == HANDED:
            since = self._prior.started_at if self._prior is not None else None
            found, why = self.reconcile(prepared, since) if self.reconcile is not None else (None, None)
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
            if not (self.resend_in_doubt or (self.resend_unconfirmed and self.reconcile is not None)):
                reason = "an earlier try stopped while this row's request was in flight; not sent again"
                self._record(
                    RowResult(
                        index,
                        prepared.key,
                        prepared.masked_number,
                        "in_doubt",
                        None,
                        f"{reason} ({why})" if why else reason,
                    ),
                    IN_DOUBT,
                )
                return
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

    def _is_duplicate(self, prepared: PreparedRow) -> bool:
        """Whether an earlier row of this input had the same number and the same message (remembered)."""
        if self.send_duplicates:
            return False
        wire = prepared.request.to_wire()
        wire.pop("to_name", None)  # the same person and message under another spelling of the name
        canonical = json.dumps(wire, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.blake2b(canonical.encode("utf-8", "surrogatepass"), digest_size=12).digest()
        if digest in self._seen:
            return True
        self._seen.add(digest)
        return False

    @staticmethod
    def _duplicate(prepared: PreparedRow) -> RowResult:
        return RowResult(
            prepared.index,
            prepared.key,
            prepared.masked_number,
            "duplicate",
            None,
            "same number and message as an earlier row: sent once (send_duplicates=True sends every row)",
        )

    def _replay(self, index: int, row: Mapping[str, Any], prior: str) -> None:
        """A row settled by an earlier try: report it, never send it."""
        key = self._key(index, row)
        if prior == SENT:
            try:
                prepared = self.prepare(index, row)
            except (QontakPayloadError, ValueError, TypeError, KeyError):
                # It was sent; what it needed may be gone now (its header_file deleted after the send).
                self._record(
                    RowResult(
                        index, key, self._masked(row), "skipped_already_sent", None, "sent by an earlier try"
                    ),
                    SENT,
                )
                return
            if self._is_duplicate(prepared):
                self._record(self._duplicate(prepared), SENT)
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
            RowResult(
                index, key, self._masked(row), outcome, None, "reported by an earlier try; not sent again"
            ),
            prior,
        )
