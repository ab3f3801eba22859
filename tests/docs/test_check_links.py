"""scripts/check_links.py, which CI runs on the built docs: it finds a missing page and a missing anchor."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_links.py"
spec = importlib.util.spec_from_file_location("check_links", SCRIPT)
assert spec and spec.loader
check_links = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_links)


def test_broken_files_and_anchors_are_reported_and_good_links_are_not(tmp_path):
    (tmp_path / "howto").mkdir()
    (tmp_path / "index.html").write_text(
        '<a href="howto/send.html#dry-run">ok</a> <a href="howto/send.html#gone">anchor</a>'
        '<a href="howto/missing.html">page</a> <a href="https://example.com/x">external</a>'
        '<img src="_images/a.png"> <a href="#top">self</a> <div id="top"></div>'
    )
    (tmp_path / "howto" / "send.html").write_text(
        '<section id="dry-run"></section><a href="../index.html">up</a>'
    )
    assert check_links.broken_links(tmp_path) == [
        "index.html: howto/send.html#gone (no such anchor)",
        "index.html: howto/missing.html (no such file)",
        "index.html: _images/a.png (no such file)",
    ]


def test_the_built_docs_have_no_broken_internal_link_when_they_exist():
    built = SCRIPT.parents[1] / "docs" / "_build" / "html"
    if (built / "index.html").exists():  # scripts/test builds them before pytest
        assert check_links.broken_links(built) == []
