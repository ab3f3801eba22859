from __future__ import annotations

import json
import random

import pytest

from qontak_provider.client.bulk_journal import (
    JournalError,
    JournalState,
    RangeSet,
    decode_journal,
    encode_journal,
    merge_journals,
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


def test_status_mark_and_reserve():
    state = JournalState()
    state.reserve(10)
    state.reserve(5)  # never moves back
    state.mark(0, "s")
    state.mark(1, "d")
    state.mark(2, "r")
    state.mark(2, "s")  # a later mark replaces the earlier one
    assert [state.status(i) for i in (0, 1, 2, 3, 10)] == ["s", "d", "s", "u", "n"]
    with pytest.raises(ValueError):
        state.mark(3, "x")


def test_encoding_is_compact_and_round_trips():
    state = JournalState(fingerprint="abc", started_at=12.5, tries=2, extra={"ic": 1})
    state.codes["s"].add_range(0, 100_000)
    state.codes["s"].discard_range(500, 501)
    state.mark(500, "d")
    state.mark(100_001, "s")
    state.mark(90_000, "f")
    state.reserve(100_100)
    encoded = encode_journal(state)
    assert encoded["hw"] == 500 and len(json.dumps(encoded)) < 200
    back = decode_journal(json.loads(json.dumps(encoded)))
    for i in (0, 499, 500, 501, 90_000, 99_999, 100_000, 100_001, 100_050, 100_100):
        assert back.status(i) == state.status(i), i
    assert (back.fingerprint, back.started_at, back.tries, back.extra) == ("abc", 12.5, 2, {"ic": 1})


@pytest.mark.parametrize(
    "stored",
    [
        None,
        [],
        {"v": 99},
        {"v": 1},
        {"v": 1, "hw": 5, "res": 2},
        {"v": 1, "hw": 0, "res": 0, "x": {"q": ""}},
        {"v": 1, "hw": "a", "res": 0},
    ],
)
def test_decode_refuses_bad_journals(stored):
    with pytest.raises(JournalError):
        decode_journal(stored)


def test_merge_keeps_prior_above_boundary_and_reserves_resends():
    prior = JournalState(fingerprint="fp", started_at=1.0)
    prior.codes["s"].add_range(0, 50)
    prior.mark(20, "r")
    prior.mark(60, "r")
    prior.mark(70, "d")
    prior.reserve(80)  # 50..79 except 60, 70: unconfirmed
    current = JournalState(fingerprint="fp", started_at=2.0, tries=2)
    current.codes["s"].add_range(0, 30)  # rows 0..29 handled by this try (20 resent)
    current.reserve(65)  # rows up to 64 reserved by this try
    merged = merge_journals(prior, current, boundary=30)
    assert merged.status(20) == "s"
    assert merged.status(40) == "s"  # prior's settled row above the boundary
    assert merged.status(55) == "u"  # still unconfirmed
    assert merged.status(60) == "u"  # prior wanted it resent, this try reserved it: possibly in flight
    assert merged.status(70) == "d"
    assert merged.status(79) == "u" and merged.status(80) == "n"
    assert merged.started_at == 1.0 and merged.tries == 2
    # A current row below the boundary without code is in flight: unconfirmed.
    current.reserve(90)
    assert merge_journals(prior, current, boundary=31).status(30) == "u"
    assert merge_journals(prior, current, boundary=31).res == 90
