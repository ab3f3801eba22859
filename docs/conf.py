"""Sphinx configuration of the airflow-provider-qontak documentation."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

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
]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
# Airflow's own classes are documented upstream; do not fail on their docstrings' cross-references.
nitpicky = False
suppress_warnings: list[str] = []
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []
