"""Check every internal link of the built HTML docs: the file it points to exists, and so does its anchor.

Usage: ``python scripts/check_links.py docs/_build/html``. External links (a scheme such as ``https:``)
are not followed: CI has no network. Sphinx already refuses unknown documents, labels and (with ``-n``)
Python objects; this catches what it does not see, such as a raw ``href``, an image path or an anchor
that a page no longer has. Exits 1 and lists each broken link, by page, when there is one.
"""

from __future__ import annotations

import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name == "id" or (tag == "a" and name == "name"):
                self.ids.add(value)
            elif (name == "href" and tag in ("a", "link")) or (name == "src" and tag in ("img", "script")):
                self.links.append(value)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def broken_links(root: Path) -> list[str]:
    """Every internal link under ``root`` whose file or anchor is missing, as ``page: link (reason)``."""
    pages = {path.resolve(): _parse(path) for path in sorted(root.rglob("*.html"))}
    problems = []
    for path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith("//"):
                continue  # external (or a data: URI)
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            where = path.relative_to(root.resolve())
            if not target.exists():
                problems.append(f"{where}: {link} (no such file)")
            elif parts.fragment and target in pages and unquote(parts.fragment) not in pages[target].ids:
                problems.append(f"{where}: {link} (no such anchor)")
    return problems


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else "docs/_build/html")
    if not (root / "index.html").exists():
        print(f"check_links: {root}/index.html not found; build the docs first", file=sys.stderr)
        return 2
    started = time.monotonic()
    problems = broken_links(root)
    pages = sum(1 for _ in root.rglob("*.html"))
    for problem in problems:
        print(f"broken internal link: {problem}", file=sys.stderr)
    took = time.monotonic() - started
    print(f"check_links: {pages} pages, {len(problems)} broken internal link(s) ({took:.1f} s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
