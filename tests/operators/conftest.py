"""Fixtures of the operator tests: a fresh template cache, an in-memory task_state_store, helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qontak_provider.operators._send import clear_template_cache

SEED_PAYLOADS: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "seed_payloads.json").read_text()
)
SEND_ENDPOINT = "POST /broadcasts/whatsapp/direct"


@pytest.fixture(autouse=True)
def _fresh_template_cache() -> Iterator[None]:
    # The cache is per process and keyed by conn id: a test must not see another test's sandbox fixtures.
    clear_template_cache()
    yield
    clear_template_cache()


class MemoryStateStore:
    """The ``get``/``set``/``delete`` API of Airflow's TaskStateStoreAccessor, in memory."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(json.dumps(self.data[key])) if key in self.data else default

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        if value is None:
            raise ValueError("Cannot set value as None")
        self.data[key] = json.loads(json.dumps(value))  # JSON-only, like the real store

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


@pytest.fixture
def store() -> MemoryStateStore:
    return MemoryStateStore()


def api_sends(sandbox: Any) -> int:
    """How many direct-send requests reached the sandbox (accepted or not)."""
    return sum(sandbox.stats()["by_endpoint"].get(SEND_ENDPOINT, {}).values())
