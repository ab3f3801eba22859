"""Code in the docs cannot rot: every DAG and snippet shown is included from a file the test suite runs.

The pages may show output and messages (``.. code-block:: text``), but Python, YAML, JSON and shell code
only through ``literalinclude`` of a file under ``dags_examples/`` or ``tests/``. The one exception is the
shell commands of the getting-started and install pages, which tests/guide/test_getting_started.py reads
from the pages and runs (or, for a real account or the operating system's packages, marks as not run).
Paths to pages mentioned in code, the README and the bench notes must exist.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts)

#: (page, language) -> classes a block must have to be shown as written; the test that runs them is named.
SHOWN_AS_WRITTEN = {
    ("getting_started.rst", "bash"): {"getting-started", "prerequisite", "real-account"},
    ("howto/install.rst", "bash"): {"install-clone", "install-wheel", "install-check"},
}
_DIRECTIVE = re.compile(r"^(?P<indent> *)\.\. (?P<name>[a-z-]+):: ?(?P<arg>.*)$")


def _page_id(page: Path) -> str:
    return page.relative_to(DOCS).as_posix()


def _directives(page: Path):
    lines = page.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        match = _DIRECTIVE.match(line)
        if not match:
            continue
        options = {}
        for option in lines[number:]:
            found = re.match(rf"^{match['indent']}   :([a-z-]+):(.*)$", option)
            if not found:
                break
            options[found[1]] = found[2].strip()
        yield number, match["name"], match["arg"].strip(), options


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_code_is_included_from_tested_files(page):
    problems = []
    for number, name, argument, options in _directives(page):
        where = f"{_page_id(page)}:{number}"
        if name in ("code-block", "code", "sourcecode"):
            if argument == "text":
                continue
            allowed = SHOWN_AS_WRITTEN.get((_page_id(page), argument))
            classes = set(options.get("class", "").split())
            if allowed is None or not classes & allowed:
                problems.append(f"{where}: a {argument or 'default'} block written in the page")
        elif name == "literalinclude":
            target = (page.parent / argument).resolve() if not argument.startswith("/") else None
            if argument.startswith("/"):
                target = (DOCS / argument.lstrip("/")).resolve()
            relative = target.relative_to(REPO).as_posix()
            if not relative.startswith(("dags_examples/", "tests/")):
                problems.append(f"{where}: includes {relative}, which no test runs")
            elif not target.exists():
                problems.append(f"{where}: includes {relative}, which does not exist")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_no_bare_literal_blocks(page):
    """A paragraph ending in ``::`` makes a literal block that no test runs: use a code-block of text."""
    lines = page.read_text(encoding="utf-8").splitlines()
    bare = [
        f"{_page_id(page)}:{n}: {line.strip()}"
        for n, line in enumerate(lines, 1)
        if line.rstrip().endswith("::") and not _DIRECTIVE.match(line) and not line.strip().startswith("..")
    ]
    assert not bare, "\n".join(bare)


def _mentioned_pages() -> set[tuple[str, str]]:
    found = set()
    for path in REPO.rglob("*"):
        if any(part in (".venv", ".git", "_build", ".matrix", "artifacts") for part in path.parts):
            continue
        if path.suffix not in (".py", ".md", ".json", ".sh", ".toml", ".rst", ".txt") or not path.is_file():
            continue
        for mention in re.findall(
            r"docs/[A-Za-z0-9_/]+\.rst", path.read_text(encoding="utf-8", errors="ignore")
        ):
            found.add((path.relative_to(REPO).as_posix(), mention))
    return found


def test_every_page_mentioned_in_the_repository_exists():
    missing = [f"{where}: {page}" for where, page in sorted(_mentioned_pages()) if not (REPO / page).exists()]
    assert not missing, "\n".join(missing)


@pytest.mark.parametrize("markdown", ["README.md", "CHANGELOG.md", "bench/README.md"])
def test_local_links_of_markdown_files_exist(markdown):
    path = REPO / markdown
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8"))
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    missing = [link for link in local if not (path.parent / link).exists()]
    assert not missing, missing


def test_the_connection_page_shows_the_browser_tests_screenshots():
    """Every image of the connection page is one the browser test takes, and the copy exists."""
    from tests.browser.test_connection_form import DOC_IMAGES

    page = (DOCS / "howto" / "connection.rst").read_text(encoding="utf-8")
    shown = re.findall(r"^\.\. image:: /img/(\S+)$", page, re.MULTILINE)
    assert sorted(shown) == sorted(DOC_IMAGES)
    assert all((DOCS / "img" / name).stat().st_size > 0 for name in DOC_IMAGES)
