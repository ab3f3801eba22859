"""pytest plugin: the ``qontak_sandbox`` fixture.

Installed through the ``pytest11`` entry point, so any project that installs the provider can write::

    def test_send(qontak_sandbox):
        ...  # AIRFLOW_CONN_QONTAK_DEFAULT points at the sandbox

One server runs per test session (per xdist worker); each test gets it reset to its start-up settings,
fixtures and an empty state. ``@pytest.mark.qontak_sandbox(rate_limit=2, clock="instant")`` changes
settings for one test.

This module is imported by pytest at start-up in every project that has the provider installed, so it
imports nothing heavy until a test asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from qontak_provider.sandbox.server import Sandbox

MARKER = "qontak_sandbox"
CONN_ENV = "AIRFLOW_CONN_QONTAK_DEFAULT"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**settings): settings of the qontak_sandbox fixture for this test "
        "(any SandboxSettings field, e.g. rate_limit=2, fail_after=1.0, clock='instant')",
    )


@pytest.fixture(scope="session")
def qontak_sandbox_server() -> Iterator[Sandbox]:
    """One sandbox server for the whole session; prefer the function-scoped ``qontak_sandbox``."""
    from qontak_provider.sandbox.server import run_sandbox

    with run_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def qontak_sandbox(
    qontak_sandbox_server: Sandbox, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Sandbox]:
    """
    A running Qontak sandbox, reset for this test, with ``AIRFLOW_CONN_QONTAK_DEFAULT`` pointing at it.

    The connection is ``{"conn_type": "qontak", "host": "http://127.0.0.1:<port>", "login": <client id>,
    "password": <secret>, "extra": {"channel_integration_id": "56b60c3c-0123-46af-958b-32f3ad12ee37"}}``.
    """
    sandbox = qontak_sandbox_server
    sandbox.reset(settings=True, fixtures=True)
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None and marker.kwargs:
        sandbox.update_settings(**marker.kwargs)
    monkeypatch.setenv(CONN_ENV, sandbox.conn_json())
    yield sandbox
    sandbox.reset(settings=True, fixtures=True)
