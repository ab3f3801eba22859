"""The progress journal of a bulk send: what every row's send became, and which may be on the wire.

Pure data and encoding, no I/O and no Airflow: the engine stores the encoded journal in Airflow's
``task_state_store`` so that a retry of the task (after an exception or a killed worker) knows, for every row
of the recipient file, whether it was sent, must be sent, or is in doubt.

Rows are identified by their position in the input (0-based), because rows are processed in input order. The
journal keeps, per code, a set of row ranges:

* ``h``, handed over: the row's request was about to be written when the journal was last stored. It is
  recorded, and stored, **before** the request leaves, so a row a killed worker may have sent is always
  ``h`` (or has its outcome) in the stored journal; the next try reconciles it against Qontak's broadcast
  list or reports it in doubt. At most the rows in flight (``max_concurrency``) are ``h`` at any time.
* ``s``, settled: sent (or a duplicate of a row sent in the same input).
* ``v``, invalid: refused by validation before any request. The next try checks the row again and sends it
  if it has become valid: a ``header_file`` that was missing may exist now, a template may have been fixed.
* ``d``, in doubt: the send may have reached Qontak; reported, never sent again unless asked to.
* ``f``, failed for good: Qontak refused the row (4xx); reported, never sent again.
* ``r``, to resend: the send provably did not reach Qontak (connect failure, rate limit exhausted, the run
  stopped before the row left); the next try sends it.

A row without a code was never handed over: the next try sends it. That is what makes a kill lose nothing:
a row is either recorded with an outcome, or recorded as possibly in flight, or provably never sent.

The encoding is compact: the contiguous prefix of ``s`` and ``v`` rows becomes one number (``hw``, the
high-water mark; the ``v`` rows in it are listed) and every range list is a string of base-36 deltas, so a
journal stays a few hundred bytes unless many rows fail or are invalid (``task_state_store`` values should
stay under ``[state_store] max_value_storage_bytes``, 64 KiB).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CODES",
    "JOURNAL_VERSION",
    "JournalError",
    "JournalState",
    "RangeSet",
    "decode_journal",
    "encode_journal",
]

JOURNAL_VERSION = 3
#: Codes kept in the journal (see the module docstring).
CODES = ("s", "v", "d", "f", "r", "h")
SENT, INVALID, IN_DOUBT, FAILED, RESEND, HANDED = CODES
#: Status of a row that has no code: never handed over.
NEW = "n"

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


class JournalError(ValueError):
    """The stored journal cannot be read (corrupt, or written by an incompatible version)."""


class RangeSet:
    """
    A set of non-negative integers kept as sorted, disjoint, half-open ranges ``[start, end)``.

    Adding is cheapest in ascending order (the common case: rows complete roughly in input order), but any
    order works.
    """

    __slots__ = ("_ends", "_starts")

    def __init__(self, ranges: Iterable[tuple[int, int]] = ()) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        for start, end in ranges:
            self.add_range(start, end)

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        pos = bisect.bisect_right(self._starts, value) - 1
        return pos >= 0 and value < self._ends[pos]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RangeSet) and self.ranges() == other.ranges()

    def __hash__(self) -> int:  # pragma: no cover - mutable, like set
        raise TypeError("RangeSet is unhashable")

    def __repr__(self) -> str:
        return f"RangeSet({self.ranges()!r})"

    def __bool__(self) -> bool:
        return bool(self._starts)

    def __len__(self) -> int:
        return sum(e - s for s, e in zip(self._starts, self._ends, strict=True))

    def __iter__(self) -> Iterator[int]:
        for start, end in zip(self._starts, self._ends, strict=True):
            yield from range(start, end)

    def ranges(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._ends, strict=True))

    def add(self, value: int) -> None:
        self.add_range(value, value + 1)

    def add_range(self, start: int, end: int) -> None:
        """Add ``[start, end)``, merging with touching or overlapping ranges."""
        if start < 0 or end < start:
            raise ValueError(f"invalid range [{start}, {end})")
        if start == end:
            return
        starts, ends = self._starts, self._ends
        # Fast path: append at the end (rows complete mostly in order).
        if not starts or start > ends[-1]:
            starts.append(start)
            ends.append(end)
            return
        if start == ends[-1]:
            ends[-1] = max(ends[-1], end)
            return
        lo = bisect.bisect_left(ends, start)  # first range that ends at or after start
        hi = bisect.bisect_right(starts, end)  # ranges starting after end are untouched
        if lo < hi:
            start = min(start, starts[lo])
            end = max(end, ends[hi - 1])
        starts[lo:hi] = [start]
        ends[lo:hi] = [end]

    def discard_range(self, start: int, end: int) -> None:
        """Remove ``[start, end)``."""
        if end <= start:
            return
        kept: list[tuple[int, int]] = []
        for s, e in self.ranges():
            if e <= start or s >= end:
                kept.append((s, e))
                continue
            if s < start:
                kept.append((s, start))
            if e > end:
                kept.append((end, e))
        self._starts = [s for s, _ in kept]
        self._ends = [e for _, e in kept]

    def clipped(self, start: int, end: int | None = None) -> RangeSet:
        """The part of the set within ``[start, end)`` (``end=None``: unbounded)."""
        out = RangeSet()
        for s, e in self.ranges():
            lo = max(s, start)
            hi = e if end is None else min(e, end)
            if lo < hi:
                out.add_range(lo, hi)
        return out

    def prefix_end(self) -> int:
        """``n`` such that ``[0, n)`` is in the set and ``n`` is not (0 when 0 is missing)."""
        if self._starts and self._starts[0] == 0:
            return self._ends[0]
        return 0

    def encode(self) -> str:
        """Base-36 deltas: ``start-previous_end``, ``length``, ... separated by ``.``."""
        parts: list[str] = []
        previous = 0
        for s, e in self.ranges():
            parts.append(_b36(s - previous))
            parts.append(_b36(e - s))
            previous = e
        return ".".join(parts)

    @classmethod
    def decode(cls, text: str) -> RangeSet:
        out = cls()
        if not text:
            return out
        try:
            numbers = [int(p, 36) for p in text.split(".")]
        except ValueError as err:
            raise JournalError(f"bad range encoding {text[:40]!r}") from err
        if len(numbers) % 2 or any(n < 0 for n in numbers):
            raise JournalError(f"bad range encoding {text[:40]!r}")
        previous = 0
        for gap, length in zip(numbers[::2], numbers[1::2], strict=True):
            start = previous + gap
            out.add_range(start, start + length)
            previous = start + length
        return out


def _b36(number: int) -> str:
    if number == 0:
        return "0"
    digits = []
    while number:
        number, rem = divmod(number, 36)
        digits.append(_DIGITS[rem])
    return "".join(reversed(digits))


@dataclass
class JournalState:
    """
    What is known about every row: per-code range sets.

    :param codes: ``{"s"|"v"|"d"|"f"|"r"|"h": RangeSet}``.
    :param fingerprint: identifies the input and template the journal belongs to.
    :param started_at: Unix time of the first try's start (bounds the broadcast search of reconciliation).
    :param tries: how many tries have written this journal.
    :param extra: counters and other small values the operator keeps across tries.
    """

    codes: dict[str, RangeSet] = field(default_factory=lambda: {c: RangeSet() for c in CODES})
    fingerprint: str = ""
    started_at: float | None = None
    tries: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def status(self, row: int) -> str:
        """The row's code, or ``n`` (new: never handed over)."""
        for code in CODES:
            if row in self.codes[code]:
                return code
        return NEW

    def mark(self, row: int, code: str) -> None:
        """Record ``code`` for ``row`` (a row has one code; a later mark replaces an earlier one)."""
        if code not in CODES:
            raise ValueError(f"unknown journal code {code!r}")
        for other in CODES:
            if other != code and row in self.codes[other]:
                self.codes[other].discard_range(row, row + 1)
        self.codes[code].add(row)

    def high_water(self) -> int:
        """Rows below this are all sent or invalid."""
        return RangeSet([*self.codes[SENT].ranges(), *self.codes[INVALID].ranges()]).prefix_end()

    def count(self, code: str) -> int:
        return len(self.codes[code])


def encode_journal(state: JournalState) -> dict[str, Any]:
    """The JSON-safe form stored in ``task_state_store`` (compact; see the module docstring)."""
    hw = state.high_water()
    encoded: dict[str, Any] = {"v": JOURNAL_VERSION, "fp": state.fingerprint, "hw": hw, "t": state.tries}
    if state.started_at is not None:
        encoded["at"] = round(state.started_at, 3)
    ranges = {SENT: state.codes[SENT].clipped(hw).encode()}  # below hw: every row not listed as ``v``
    ranges.update({code: state.codes[code].encode() for code in CODES if code != SENT})
    encoded["x"] = {code: text for code, text in ranges.items() if text}
    if state.extra:
        encoded["e"] = state.extra
    return encoded


def decode_journal(stored: Any) -> JournalState:
    """
    Read what :func:`encode_journal` wrote; raise :class:`JournalError` when it is not a journal.

    A version-1 journal (a reservation mark ``res`` instead of ``h`` codes) is read too: its reserved rows
    without an outcome may have been in flight, so they become ``h``. Versions 1 and 2 have no ``v``: their
    invalid rows were recorded as ``s`` and stay settled.
    """
    if not isinstance(stored, Mapping):
        raise JournalError(f"expected a journal object, got {type(stored).__name__}")
    version = stored.get("v")
    if version not in (1, 2, JOURNAL_VERSION):
        raise JournalError(f"unsupported journal version {version!r}")
    try:
        hw = int(stored["hw"])
        ranges = stored.get("x") or {}
        if not isinstance(ranges, Mapping) or any(k not in CODES for k in ranges):
            raise JournalError("bad journal ranges")
        codes = {code: RangeSet.decode(str(ranges.get(code, ""))) for code in CODES}
        reserved = int(stored["res"]) if version == 1 else hw
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, JournalError):
            raise
        raise JournalError(f"corrupt journal: {err}") from err
    if hw < 0 or reserved < hw:
        raise JournalError(f"corrupt journal: hw={hw}, res={reserved}")
    start = 0
    for invalid_start, invalid_end in codes[INVALID].clipped(0, hw).ranges():  # the rows below hw not ``v``
        codes[SENT].add_range(start, invalid_start)
        start = invalid_end
    codes[SENT].add_range(start, max(start, hw))
    state = JournalState(
        codes=codes,
        fingerprint=str(stored.get("fp", "")),
        started_at=float(stored["at"]) if stored.get("at") is not None else None,
        tries=int(stored.get("t", 0)),
        extra=dict(stored["e"]) if isinstance(stored.get("e"), Mapping) else {},
    )
    for row in range(hw, reserved):  # version 1 only: reserved, no outcome
        if state.status(row) == NEW:
            state.mark(row, HANDED)
    return state
