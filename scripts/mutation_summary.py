"""Summarise the last mutmut run (scripts/mutation): per module, and which survivors change only a log line.

Reads mutmut's own files under ``mutants/``: ``*.py.meta`` (the exit code of each mutant's test run) and the
mutated copies of the modules, where every mutant is a function ``<name>__mutmut_<n>`` next to the original
``<name>__mutmut_orig``. A survivor whose every changed line lies inside a logging call (``log.info(...)``,
``self.log.warning(...)``, or one of the provider's logging helpers, :data:`LOG_HELPERS`) only changes what a
log line says: the suite asserts the log lines users rely on
(notices, warnings about duplicates or staleness) and not the wording of every informational line, so those
are counted apart, and so are those that change only the wording of an error message (a string inside a
``raise``). Every other survivor ("behaviour") is listed with its changed lines, to be explained or killed.

    python scripts/mutation_summary.py            table, then the survivors that change behaviour
    python scripts/mutation_summary.py --all      also list the log and error-wording survivors
"""

from __future__ import annotations

import ast
import difflib
import io
import json
import sys
import tokenize
from collections import Counter
from pathlib import Path

MUTANTS = Path("mutants")
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
# The provider's own logging helpers and callbacks: the send ledger's ``self._info``/``self._warn`` (given
# ``log.info``/``log.warning``), the sensor's and notifier's ``_log_result``/``_log_sent``/``_log_failure``.
LOG_HELPERS = {"_info", "_warn", "_log_result", "_log_sent", "_log_failure", "_log_progress"}
KINDS = ("behaviour", "error text", "log")
# mutmut's exit codes (mutmut/__main__.py: status_by_exit_code)
KILLED, SURVIVED, NO_TESTS, TIMEOUT = 1, 0, 33, 36


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and "__mutmut_" in node.name:
            found[node.name] = node
    return found


def _log_call_lines(function: ast.AST) -> set[int]:
    """Lines covered by a call of a logging method inside ``function``."""
    lines: set[int] = set()
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and (
                (node.func.attr in LOG_METHODS and "log" in ast.unparse(node.func.value).lower())
                or node.func.attr in LOG_HELPERS
            )
        ):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _changed(source: list[str], orig: ast.AST, mutant: ast.AST) -> list[tuple[int, str]]:
    """The mutant's lines (number in the mutant, text) that differ from the original function's."""
    before = source[orig.lineno : orig.end_lineno]  # type: ignore[attr-defined]  # skip the def line
    after = source[mutant.lineno : mutant.end_lineno]  # type: ignore[attr-defined]
    changed = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            for i in range(b1, b2):
                was = before[a1 + i - b1] if tag == "replace" and a2 - a1 == b2 - b1 else None
                changed.append((mutant.lineno + 1 + i, after[i].strip(), was))  # type: ignore[attr-defined]
        elif tag == "delete":
            changed.append((mutant.lineno + 1 + b1, "(lines removed)", None))  # type: ignore[attr-defined]
    return changed


def _tokens(line: str) -> list[tuple[int, str]]:
    found = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline):
            found.append((token.type, token.string))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # a line of a longer statement: the tokens read so far
    return found


def _only_text_differs(before: str | None, after: str) -> bool:
    """Whether two versions of a line differ only inside string literals (the wording of a message)."""
    if before is None:
        return False
    old, new = _tokens(before), _tokens(after)
    strings = {tokenize.STRING, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    return len(old) == len(new) and all(
        o == n or (o[0] == n[0] and o[0] in strings) for o, n in zip(old, new, strict=True)
    )


def _raise_lines(function: ast.AST) -> set[int]:
    """Lines of ``raise`` statements inside ``function`` (an exception and its message)."""
    lines: set[int] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Raise):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def survivors(module: Path, codes: dict[str, int | None]) -> list[tuple[str, str, list[tuple[int, str]]]]:
    """Each surviving mutant of ``module``: its key, its kind (``log``, ``error text``, ``behaviour``) and
    its changed lines."""
    text = module.read_text(encoding="utf-8")
    functions = _functions(ast.parse(text))
    lines = text.splitlines()
    found = []
    for key, code in sorted(codes.items()):
        if code != SURVIVED:
            continue
        name = key.rsplit(".", 1)[-1]
        mutant, orig = functions.get(name), functions.get(name.rsplit("__mutmut_", 1)[0] + "__mutmut_orig")
        if mutant is None or orig is None:
            found.append((key, "behaviour", [(0, "(mutant not found in the mutated copy)")]))
            continue
        changed = _changed(lines, orig, mutant)
        logged, raised = _log_call_lines(mutant), _raise_lines(mutant)
        kind = "behaviour"
        if changed and all(n in logged for n, _, _ in changed):
            kind = "log"
        elif changed and all(n in raised and _only_text_differs(was, now) for n, now, was in changed):
            kind = "error text"
        found.append((key, kind, [(n, now) for n, now, _ in changed]))
    return found


def main(show_all: bool) -> None:
    rows, total = [], Counter()
    by_kind: dict[str, list[tuple[str, str, list[tuple[int, str]]]]] = {k: [] for k in KINDS}
    for meta in sorted((MUTANTS / "qontak_provider").rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if not codes:
            continue
        counts = Counter(codes.values())
        module = meta.with_suffix("")
        listed = survivors(module, codes)
        kinds = Counter(kind for _, kind, _ in listed)
        rows.append((str(module.relative_to(MUTANTS)), len(codes), counts, kinds))
        total.update(counts)
        total.update({f"kind:{k}": v for k, v in kinds.items()})
        total["mutants"] += len(codes)
        for entry in listed:
            by_kind[entry[1]].append(entry)

    head = (
        f"{'module':<40} {'mutants':>7} {'tested':>6} {'killed':>6} {'survived':>8} {'log':>5} {'error':>5}"
        f" {'surviving':>9} {'behaviour':>9}"
    )
    print(head)
    print("-" * len(head))
    kinds_total = Counter({k: total[f"kind:{k}"] for k in KINDS})
    for path, n, c, kinds in [*rows, ("total", total["mutants"], total, kinds_total)]:
        tested = c[KILLED] + c[SURVIVED] + c[TIMEOUT]
        share = 100.0 * c[SURVIVED] / tested if tested else 0.0
        rest = 100.0 * kinds["behaviour"] / tested if tested else 0.0
        print(
            f"{path:<40} {n:>7} {tested:>6} {c[KILLED] + c[TIMEOUT]:>6} {c[SURVIVED]:>8} {kinds['log']:>5}"
            f" {kinds['error text']:>5} {share:>8.1f}% {rest:>8.1f}%"
        )
    untested = total["mutants"] - total[KILLED] - total[SURVIVED] - total[TIMEOUT]
    print(f"not tested: {untested} ({total[NO_TESTS]} reached by no test, the rest not run yet)")
    print("killed includes timeouts; log: only a log line changes; error: only an error message's wording")
    for kind in KINDS:
        if kind != "behaviour" and not show_all:
            continue
        print(f"\nsurvivors of kind {kind!r}: {len(by_kind[kind])}")
        for key, _, changed in by_kind[kind]:
            print(f"  {key}")
            for _, line in changed[:3]:
                print(f"      {line[:110]}")


if __name__ == "__main__":
    main("--all" in sys.argv[1:])
