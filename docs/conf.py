"""Sphinx configuration of the airflow-provider-qontak documentation."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
sys.path.insert(0, os.path.abspath("_ext"))

# Import FastAPI (the sandbox's framework) before autodoc starts: its pydantic models fail to build when
# first imported from inside autodoc's import machinery.
import fastapi  # noqa: F401

from qontak_provider import __version__

project = "airflow-provider-qontak"
author = "airflow-provider-qontak developers"
copyright = "2026, airflow-provider-qontak developers"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
    "sphinxcontrib.svgbob",
    "changelog",  # docs/_ext/changelog.py: CHANGELOG.md in the reference
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
exclude_patterns = ["_build", "_ext", "_diagrams"]
# Bare ``::`` blocks are output or messages, never Python to copy: code comes from literalinclude.
highlight_language = "text"

# Every cross-reference of the pages must resolve (``sphinx-build -n``, nitpicky). Intersphinx would need
# the network, so names of the standard library and of other projects are not checked; neither are the
# references autodoc makes from the package's own docstrings and signatures (see setup() below).
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(airflow|annotated_types|asyncio|collections|datetime|enum|fastapi|httpx|jinja2|os|pathlib|"
        r"pendulum|pydantic|pydantic_core|requests|socket|ssl|starlette|threading|types|typing|"
        r"typing_extensions|urllib3|uvicorn)(\..*)?",
    ),
    # pydantic Field constraints in signatures (``Annotated[int, Ge(ge=0)]``)
    (r"py:class", r"(ge|gt|le|lt)=.*"),
]

# Theme: furo (navigation sidebar, search, light and dark), with copy buttons on code blocks that leave
# out prompts and output.
html_theme = "furo"
html_title = f"airflow-provider-qontak {release}"
html_static_path: list[str] = []
copybutton_exclude = ".linenos, .gp, .go"


def _lenient_in_api_docstrings(app, env, node, contnode):
    """Leave an unresolved reference made inside an autodoc'd module (docstrings, signatures) as text.

    A reference inside ``.. automodule::`` carries the ``py:module`` it was written in; the pages' own
    references (``:class:`~qontak_provider...```, ``:doc:``, ``:ref:``) do not, and must resolve.
    """
    if node.get("refdomain") == "py" and node.get("py:module"):
        return contnode
    return None


def _forget_modules_without_source(app):
    """Drop modules viewcode found no source for (``time``), which its module index would still link.

    Sphinx's viewcode lists every module it looked at in ``_modules/index.html``, also those it marked as
    having no source and wrote no page for; scripts/check_links.py reports such a link as broken.
    """
    modules = getattr(app.env, "_viewcode_modules", {})
    for name in [name for name, entry in modules.items() if entry is False]:
        del modules[name]
    return []


def setup(app):
    # After the Python domain has tried (priority 500 is the default): only what it could not resolve.
    app.connect("missing-reference", _lenient_in_api_docstrings, priority=900)
    # Before viewcode writes its pages (priority 500).
    app.connect("html-collect-pages", _forget_modules_without_source, priority=400)
