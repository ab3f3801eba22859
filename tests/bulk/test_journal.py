from __future__ import annotations

import json
import random

import pytest

from qontak_provider.bulk.journal import (
    JournalError,
    JournalState,
    RangeSet,
    decode_journal,
    encode_journal,
)


def test_rangeset_add_in_any_order_merges():
    values = [*range(50), 60, 61, 100]
    random.Random(1).shuffle(values)
    rs = RangeSet()
    for v in values:
        rs.add(v)
    assert rs.ranges() == [(0, 50), (60, 62), (100, 101)]
    assert 49 in rs and 50 not in rs and 61 in rs and "x" not in rs
    assert len(rs) == 53 and list(rs)[:3] == [0, 1, 2] and bool(rs)
    assert rs.prefix_end() == 50 and RangeSet([(3, 4)]).prefix_end() == 0


def test_rangeset_overlaps_discard_and_clip():
    rs = RangeSet([(10, 20), (30, 40)])
    rs.add_range(15, 35)
    assert rs.ranges() == [(10, 40)]
    rs.add_range(5, 5)
    rs.discard_range(20, 25)
    assert rs.ranges() == [(10, 20), (25, 40)]
    rs.discard_range(3, 3)
    assert rs.clipped(15, 30).ranges() == [(15, 20), (25, 30)]
    assert rs.clipped(26).ranges() == [(26, 40)]
    with pytest.raises(ValueError):
        rs.add_range(5, 2)
    assert RangeSet([(1, 2)]) == RangeSet([(1, 2)]) and repr(RangeSet()) == "RangeSet([])"


def test_rangeset_encoding_round_trip_and_errors():
    rs = RangeSet([(0, 3), (40, 41), (1000, 1300)])
    assert RangeSet.decode(rs.encode()) == rs
    assert RangeSet.decode("") == RangeSet()
    for bad in ("zz.!", "1", "1.-2"):
        with pytest.raises(JournalError):
            RangeSet.decode(bad)


def test_status_and_mark():
    state = JournalState()
    state.mark(0, "s")
    state.mark(1, "d")
    state.mark(2, "r")
    state.mark(2, "s")  # a later mark replaces the earlier one
    state.mark(3, "h")
    assert [state.status(i) for i in (0, 1, 2, 3, 10)] == ["s", "d", "s", "h", "n"]
    state.mark(3, "f")
    assert state.status(3) == "f" and state.count("h") == 0
    with pytest.raises(ValueError):
        state.mark(3, "x")


def test_encoding_is_compact_and_round_trips():
    state = JournalState(fingerprint="abc", started_at=12.5, tries=2, extra={"ic": 1})
    state.codes["s"].add_range(0, 100_000)
    state.codes["s"].discard_range(500, 501)
    state.mark(500, "d")
    state.mark(100_001, "s")
    state.mark(90_000, "f")
    for row in range(100_002, 100_010):  # the rows in flight
        state.mark(row, "h")
    encoded = encode_journal(state)
    assert encoded["v"] == 3 and encoded["hw"] == 500 and len(json.dumps(encoded)) < 200
    back = decode_journal(json.loads(json.dumps(encoded)))
    for i in (0, 499, 500, 501, 90_000, 99_999, 100_000, 100_001, 100_005, 100_010, 100_100):
        assert back.status(i) == state.status(i), i
    assert (back.fingerprint, back.started_at, back.tries, back.extra) == ("abc", 12.5, 2, {"ic": 1})


def test_invalid_rows_keep_the_high_water_mark_and_are_listed():
    """Invalid rows among sent ones do not break the compact prefix, and each is read back as invalid."""
    state = JournalState()
    state.codes["s"].add_range(0, 10_000)
    for row in (0, 17, 18, 4_000, 9_999):
        state.mark(row, "v")
    state.mark(10_000, "v")
    state.mark(10_002, "s")
    encoded = encode_journal(state)
    assert encoded["hw"] == 10_001 and len(json.dumps(encoded)) < 120
    back = decode_journal(json.loads(json.dumps(encoded)))
    for row in (0, 1, 16, 17, 18, 19, 3_999, 4_000, 9_999, 10_000, 10_001, 10_002, 10_003):
        assert back.status(row) == state.status(row), row
    assert back.count("v") == 6 and back.count("s") == 10_000 - 5 + 1


def test_a_version_2_journal_reads_its_invalid_rows_as_settled():
    stored = {"v": 2, "fp": "fp", "hw": 10, "t": 1, "x": {"d": "c.1"}}
    state = decode_journal(stored)
    assert [state.status(i) for i in (0, 9, 10, 12, 13)] == ["s", "s", "n", "d", "n"]
    assert state.count("v") == 0


def test_a_version_1_journal_is_read_with_its_reserved_rows_handed_over():
    """Journals written before the hand-over marks: reserved rows without an outcome may be in flight."""
    stored = {"v": 1, "fp": "fp", "hw": 10, "res": 20, "t": 1, "x": {"d": "c.1", "r": "e.1"}}
    state = decode_journal(stored)
    assert [state.status(i) for i in (9, 10, 12, 14, 19, 20)] == ["s", "h", "d", "r", "h", "n"]


@pytest.mark.parametrize(
    "stored",
    [
        None,
        [],
        {"v": 99},
        {"v": 2},
        {"v": 1, "hw": 5, "res": 2},
        {"v": 2, "hw": 0, "x": {"q": ""}},
        {"v": 2, "hw": "a"},
        {"v": 2, "hw": -1},
    ],
)
def test_decode_refuses_bad_journals(stored):
    with pytest.raises(JournalError):
        decode_journal(stored)
