"""Summarise the last mutmut run (scripts/mutation): per module, and which survivors change only a log line.

Reads mutmut's own files under ``mutants/``: ``*.py.meta`` (the exit code of each mutant's test run) and the
mutated copies of the modules, where every mutant is a function ``<name>__mutmut_<n>`` next to the original
``<name>__mutmut_orig``. A survivor whose every changed line lies inside a logging call (``log.info(...)``,
``self.log.warning(...)``, or one of the provider's logging helpers, :data:`LOG_HELPERS`) only changes what a
log line says: the suite asserts the log lines users rely on
(notices, warnings about duplicates or staleness) and not the wording of every informational line, so those
are counted apart. Every other survivor is listed with its changed lines, to be explained or killed.

    python scripts/mutation_summary.py            table, then the survivors that change behaviour
    python scripts/mutation_summary.py --all      also list the survivors that change only a log line
"""

from __future__ import annotations

import ast
import difflib
import json
import sys
from collections import Counter
from pathlib import Path

MUTANTS = Path("mutants")
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
# The provider's own logging helpers and callbacks: the send ledger's ``self._info``/``self._warn`` (given
# ``log.info``/``log.warning``), the sensor's and notifier's ``_log_result``/``_log_sent``/``_log_failure``.
LOG_HELPERS = {"_info", "_warn", "_log_result", "_log_sent", "_log_failure", "_log_progress"}
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
    for tag, _a1, _a2, b1, b2 in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            changed.extend((mutant.lineno + 1 + i, after[i].strip()) for i in range(b1, b2))  # type: ignore[attr-defined]
        elif tag == "delete":
            changed.append((mutant.lineno + 1 + b1, "(lines removed)"))  # type: ignore[attr-defined]
    return changed


def survivors(module: Path, codes: dict[str, int | None]) -> list[tuple[str, bool, list[tuple[int, str]]]]:
    """Each surviving mutant of ``module``: its key, whether it changes only log lines, its changed lines."""
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
            found.append((key, False, [(0, "(mutant not found in the mutated copy)")]))
            continue
        changed = _changed(lines, orig, mutant)
        logged = _log_call_lines(mutant)
        found.append((key, bool(changed) and all(n in logged for n, _ in changed), changed))
    return found


def main(show_all: bool) -> None:
    rows, total, behaviour, log_only = [], Counter(), [], []
    for meta in sorted((MUTANTS / "qontak_provider").rglob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        if not codes:
            continue
        counts = Counter(codes.values())
        module = meta.with_suffix("")
        listed = survivors(module, codes)
        quiet = sum(1 for _, only_log, _ in listed if only_log)
        rows.append((str(module.relative_to(MUTANTS)), len(codes), counts, quiet))
        total.update(counts)
        total["mutants"] += len(codes)
        total["log"] += quiet
        for entry in listed:
            (log_only if entry[1] else behaviour).append(entry)

    head = (
        f"{'module':<40} {'mutants':>7} {'tested':>6} {'killed':>6} {'timeout':>7} {'survived':>8}"
        f" {'log only':>8} {'surviving':>9} {'excl. log':>9}"
    )
    print(head)
    print("-" * len(head))
    for path, n, c, quiet in [*rows, ("total", total["mutants"], total, total["log"])]:
        tested = c[KILLED] + c[SURVIVED] + c[TIMEOUT]
        share = 100.0 * c[SURVIVED] / tested if tested else 0.0
        rest = 100.0 * (c[SURVIVED] - quiet) / (tested - quiet) if tested - quiet else 0.0
        print(
            f"{path:<40} {n:>7} {tested:>6} {c[KILLED]:>6} {c[TIMEOUT]:>7} {c[SURVIVED]:>8} {quiet:>8}"
            f" {share:>8.1f}% {rest:>8.1f}%"
        )
    untested = total["mutants"] - total[KILLED] - total[SURVIVED] - total[TIMEOUT]
    print(f"not tested: {untested} ({total[NO_TESTS]} reached by no test, the rest not run yet)")
    for title, entries in (("change behaviour", behaviour), ("change only a log line", log_only)):
        if title.startswith("change only") and not show_all:
            break
        print(f"\nsurvivors that {title}: {len(entries)}")
        for key, _, changed in entries:
            print(f"  {key}")
            for _, line in changed[:3]:
                print(f"      {line[:110]}")


if __name__ == "__main__":
    main("--all" in sys.argv[1:])
