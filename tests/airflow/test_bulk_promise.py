"""The checker of the bulk promise (``bulk_promise.py``): which figures break which part, and how."""

from __future__ import annotations

import pytest

from .bulk_promise import Measured, PromiseBroken, check_promise, format_table


def kept(**changes: object) -> Measured:
    """A case that keeps the promise: 300 recipients, killed at 100, 3 in doubt and the run failed."""
    base = Measured(
        case="task@100",
        broadcast_list="live",
        killed_at=100,
        final_state="failed",
        final_try=2,
        try_states=["failed", "failed"],
        sandbox_sends=299,
        recipients_sent=299,
        never_sent=1,
        in_doubt=3,
        sent=199,
        skipped_already_sent=98,
        counts_from="results",
        never_sent_not_in_doubt=0,
    )
    for name, value in changes.items():
        setattr(base, name, value)
    return base


def test_a_case_that_keeps_the_promise_passes() -> None:
    m = kept()
    check_promise(m, max_concurrency=8)
    assert m.broken == []
    check_promise(kept(in_doubt=0, never_sent=0, final_state="success"), max_concurrency=8)


def test_a_duplicate_is_a_plain_failure_never_excused_as_promise_broken() -> None:
    with pytest.raises(AssertionError, match=r"\(a\) 2 recipients") as caught:
        check_promise(kept(duplicated=2), max_concurrency=8)
    assert not isinstance(caught.value, PromiseBroken)


@pytest.mark.parametrize(
    ("changes", "broken", "message"),
    [
        ({"never_sent_not_in_doubt": 5}, ["(b)"], "5 recipients never sent and not reported in doubt"),
        ({"never_sent_not_in_doubt": None, "never_sent": 4}, ["(b)"], "4 recipients never sent but only 3"),
        ({"in_doubt": 9}, ["(b)"], "9 rows in doubt, more than max_concurrency 8"),
        ({"final_state": "success"}, ["(c)"], "3 rows in doubt but the run ended in success"),
        ({"in_doubt": 100, "final_state": "success"}, ["(b)", "(c)"], "100 rows in doubt"),
    ],
)
def test_b_and_c_raise_promise_broken_with_the_figures(
    changes: dict[str, object], broken: list[str], message: str
) -> None:
    m = kept(**changes)
    with pytest.raises(PromiseBroken, match=message) as caught:
        check_promise(m, max_concurrency=8)
    assert m.broken == broken
    assert "killed at 100 sends" in str(caught.value)


def test_missing_operator_counts_fail_plainly() -> None:
    with pytest.raises(AssertionError, match="found nowhere") as caught:
        check_promise(kept(in_doubt=None), max_concurrency=8)
    assert not isinstance(caught.value, PromiseBroken)


def test_table_has_one_aligned_line_per_case() -> None:
    table = format_table([kept(), kept(case="task+supervisor@37", in_doubt=None)]).splitlines()
    assert len(table) == 3
    assert table[0].split()[:3] == ["case", "list", "killed@"]
    assert table[2].split()[0] == "task+supervisor@37" and " ? " in table[2]
    assert all(line == line.rstrip() for line in table)
