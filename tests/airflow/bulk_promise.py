"""The promise a bulk send keeps when its task is killed, checked on what one case measured.

Shared by ``test_bulk_sigkill.py`` (which measures) and ``test_bulk_promise.py`` (which checks the checker).
Engine-independent: the figures come from the sandbox (sends per recipient), Airflow (final state and try)
and the operator's own report (XCom, result table or log), never from the engine's internals.

(a) no recipient gets two messages: a plain ``AssertionError``, never excused;
(b) every recipient is sent exactly once or reported in doubt, and at most ``max_concurrency`` rows are in
    doubt; (c) when any row is in doubt the run does not end in success: :class:`PromiseBroken`, which the
    cases known to break them expect (``xfail(raises=PromiseBroken)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


class PromiseBroken(AssertionError):
    """Promise (b) or (c) does not hold (what the current engine is expected to show)."""


@dataclass
class Measured:
    """
    What one case measured (one row of the table).

    :param case: the kill point, e.g. ``task@100`` (SIGKILL the task runner after 100 sends) or
        ``task+supervisor@37`` (the task runner and its LocalExecutor supervisor together).
    :param broadcast_list: the sandbox's ``broadcast_list`` setting (``live``, ``absent``...).
    :param killed_at: sends the sandbox had accepted right after the SIGKILL.
    :param final_state: the DAG run's end state; :param final_try: the try that ended it;
        :param try_states: the state of every try, oldest first.
    :param sandbox_sends: sends accepted in all; :param recipients_sent: recipients with at least one;
        :param never_sent: recipients with none; :param duplicated: recipients with two or more.
    :param in_doubt: / :param sent: / :param skipped_already_sent: the operator's counts for its final try
        (``None``: not found), read from ``counts_from`` (``xcom``, ``results`` or ``log``).
    :param never_sent_not_in_doubt: recipients never sent whose row the final try's result table does not
        report in doubt (``None`` without a result table); :param in_doubt_but_sent: rows reported in doubt
        whose recipient did get the message (same source).
    :param sends_histogram: messages received -> how many recipients received that many.
    :param seconds: wall time of the case; :param broken: the promise parts that failed, e.g. ``["(b)"]``;
        :param problems: what exactly failed, with the numbers.
    """

    case: str
    broadcast_list: str
    killed_at: int
    final_state: str = ""
    final_try: int = 0
    try_states: list[str] = field(default_factory=list)
    sandbox_sends: int = 0
    recipients_sent: int = 0
    never_sent: int = 0
    duplicated: int = 0
    in_doubt: int | None = None
    sent: int | None = None
    skipped_already_sent: int | None = None
    counts_from: str = ""
    never_sent_not_in_doubt: int | None = None
    in_doubt_but_sent: int | None = None
    sends_histogram: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    broken: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def format_table(rows: list[Measured]) -> str:
    """The measured figures, one line per case."""
    header = (
        "case", "list", "killed@", "final", "try", "sends", "never", "dup", "in_doubt", "sent",
        "skipped", "doubt&sent", "never&!doubt", "from", "broken",
    )  # fmt: skip
    lines = [header]
    for r in rows:
        lines.append(
            (
                r.case, r.broadcast_list, str(r.killed_at), r.final_state, str(r.final_try),
                str(r.sandbox_sends), str(r.never_sent), str(r.duplicated), _num(r.in_doubt), _num(r.sent),
                _num(r.skipped_already_sent), _num(r.in_doubt_but_sent), _num(r.never_sent_not_in_doubt),
                r.counts_from,
                ",".join(r.broken) or "-",
            )
        )  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)


def _num(value: int | None) -> str:
    return "?" if value is None else str(value)


def check_promise(m: Measured, max_concurrency: int) -> None:
    """Assert (a) plainly; raise :class:`PromiseBroken` listing every broken part of (b) and (c)."""
    figures = (
        f"[{m.case}, list {m.broadcast_list}] killed at {m.killed_at} sends; run {m.final_state} after try "
        f"{m.final_try} (tries {m.try_states}); sandbox: {m.sandbox_sends} sends, {m.never_sent} recipients "
        f"never sent, {m.duplicated} sent twice or more; operator ({m.counts_from}): "
        f"in_doubt {_num(m.in_doubt)}, sent {_num(m.sent)}, "
        f"skipped_already_sent {_num(m.skipped_already_sent)}"
    )
    assert m.duplicated == 0, f"(a) {m.duplicated} recipients got two or more messages: {figures}"
    assert m.in_doubt is not None, f"the operator's counts were found nowhere (XCom, results, log): {figures}"
    problems = []
    if m.never_sent_not_in_doubt is not None:
        if m.never_sent_not_in_doubt:
            problems.append(
                f"(b) {m.never_sent_not_in_doubt} recipients never sent and not reported in doubt"
            )
    elif m.never_sent > m.in_doubt:
        problems.append(f"(b) {m.never_sent} recipients never sent but only {m.in_doubt} reported in doubt")
    if m.in_doubt > max_concurrency:
        problems.append(f"(b) {m.in_doubt} rows in doubt, more than max_concurrency {max_concurrency}")
    if m.in_doubt and m.final_state == "success":
        problems.append(f"(c) {m.in_doubt} rows in doubt but the run ended in success")
    m.problems = problems
    m.broken = sorted({p[:3] for p in problems})
    if problems:
        raise PromiseBroken("; ".join(problems) + f". {figures}")
