"""``.. markdown-include:: PATH``: a Markdown file of the repository (CHANGELOG.md) as part of a page.

The file is rendered with markdown-it-py (CommonMark, the parser rich already brings) into HTML that is
placed in the page as it is; other builders get the Markdown as a literal block. Its first heading is
dropped, because the including page has its own title. Sphinx records the file as a dependency, so the
page is rebuilt when the file changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from markdown_it import MarkdownIt
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


class MarkdownInclude(SphinxDirective):
    """Render a Markdown file into the page (HTML builders) or show it literally (others)."""

    required_arguments = 1
    option_spec = {"drop-title": directives.flag}

    def run(self) -> list[nodes.Node]:
        relative, absolute = self.env.relfn2path(self.arguments[0])
        self.env.note_dependency(relative)
        text = Path(absolute).read_text(encoding="utf-8")
        tokens = MarkdownIt("commonmark").parse(text)
        if "drop-title" in self.options and tokens and tokens[0].type == "heading_open":
            end = next(i for i, token in enumerate(tokens) if token.type == "heading_close")
            tokens = tokens[end + 1 :]
        renderer = MarkdownIt("commonmark")
        html = renderer.renderer.render(tokens, renderer.options, {})
        return [
            nodes.raw("", html, format="html"),
            addnodes.only("", nodes.literal_block(text, text), expr="not html"),
        ]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("markdown-include", MarkdownInclude)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
