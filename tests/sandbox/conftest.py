"""Fixtures of the sandbox tests: one real sandbox server per session, reset for every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sandbox_helpers import Api

from qontak_provider.sandbox.server import Sandbox, run_sandbox


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    with run_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Iterator[Sandbox]:
    sandbox_server.reset(settings=True, fixtures=True)
    yield sandbox_server
    sandbox_server.reset(settings=True, fixtures=True)


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[Api]:
    client = Api(sandbox)
    yield client
    client.session.close()
