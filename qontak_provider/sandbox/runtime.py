"""The running sandbox's settings and state, shared by the ASGI app and the in-process helpers."""

from __future__ import annotations

import logging
import threading
from typing import Any

from qontak_provider.sandbox.fixtures import Fixtures, fixtures_from_document, load_fixtures
from qontak_provider.sandbox.settings import SandboxSettings
from qontak_provider.sandbox.state import SandboxState

log = logging.getLogger("qontak_provider.sandbox")


class SandboxRuntime:
    """
    Settings plus state of one sandbox.

    :param settings: initial settings (``reset(settings=True)`` returns to them).
    :param fixtures: channels and templates; default: the built-in seed.
    """

    def __init__(self, settings: SandboxSettings | None = None, fixtures: Fixtures | None = None) -> None:
        self.initial_settings = settings or SandboxSettings()
        # Replaced as a whole, never mutated, so a request always sees one consistent version.
        self.settings = self.initial_settings
        self._lock = threading.Lock()
        self.initial_fixtures = (
            fixtures if fixtures is not None else load_fixtures(self.initial_settings.organization_id)
        ).copy()
        self.state = SandboxState(self.initial_fixtures, seed=self.initial_settings.seed)

    def update_settings(self, **changes: Any) -> SandboxSettings:
        """Validate and apply ``changes``; a new ``seed`` restarts the random generators."""
        with self._lock:
            updated = self.settings.updated(**changes)
            if updated.seed != self.settings.seed:
                self.state.reseed(updated.seed)
            self.settings = updated
        log.info("Sandbox settings changed: %s", ", ".join(sorted(changes)))
        return updated

    def reset(self, *, settings: bool = False, fixtures: bool = False) -> None:
        """
        Forget broadcasts, sends, counters, the rate window and the clock offset; restart the random sequence.

        :param settings: also restore the start-up settings.
        :param fixtures: also restore the start-up channels and templates (dropping fixtures loaded since).
        """
        with self._lock:
            if settings:
                self.settings = self.initial_settings
            self.state.reset(seed=self.settings.seed, fixtures=self.initial_fixtures if fixtures else None)
        restored = [name for name, flag in (("settings", settings), ("fixtures", fixtures)) if flag]
        log.info("Sandbox reset%s", f" ({' and '.join(restored)} restored)" if restored else "")

    def load_fixture_document(self, document: Any) -> Fixtures:
        """Extend or replace the served channels/templates with a parsed fixture document."""
        extra, mode = fixtures_from_document(document, self.settings.organization_id, source="fixtures")
        merged = self.state.fixtures.merged(extra, mode)
        self.state.replace_fixtures(merged)
        log.info(
            "Sandbox fixtures loaded (%s): %d channels, %d templates",
            mode,
            len(merged.channels),
            len(merged.templates),
        )
        return merged
