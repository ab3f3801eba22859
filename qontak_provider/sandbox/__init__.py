"""Offline Qontak Chat API sandbox: the same endpoints, signature checks and envelopes, on your machine.

Three ways to start it (see ``docs/reference/sandbox.rst``): the ``qontak-sandbox`` console script, the
:func:`run_sandbox` context manager, and the ``qontak_sandbox`` pytest fixture.

Importing this package is cheap: FastAPI and uvicorn are imported only when a sandbox is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qontak_provider.sandbox.server import Sandbox, run_sandbox
    from qontak_provider.sandbox.settings import SandboxSettings

__all__ = ["Sandbox", "SandboxSettings", "create_app", "run_sandbox"]

_LAZY = {
    "Sandbox": "qontak_provider.sandbox.server",
    "run_sandbox": "qontak_provider.sandbox.server",
    "SandboxSettings": "qontak_provider.sandbox.settings",
    "create_app": "qontak_provider.sandbox.app",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
