"""Everything that differs between the Airflow 3 minors the provider supports (3.0 to 3.3), in one place.

Every other module imports these names from here, never the version-specific ones. What each minor has
was read off an installed Airflow of each (``docs/explanation/airflow_versions.rst`` has the table):

* ``airflow.sdk.BaseHook`` came in 3.1 (3.0: ``airflow.hooks.base``); ``airflow.sdk.conf`` in 3.2 (before:
  ``airflow.configuration``).
* The task SDK's exceptions (``AirflowFailException``, ``AirflowSensorTimeout``, ...) came in 3.2; before,
  the task runner catches those of ``airflow.exceptions``, so those are the ones to raise there.
* ``BaseNotifier.__init__`` takes no arguments on 3.0.
* ``task_state_store`` (durable per-task-instance state) came in 3.3; see
  :mod:`qontak_provider.operators._state` for what replaces it before.
* Reading a connection from a trigger: ``BaseHook.aget_connection`` came in 3.1 but masks secrets with a
  blocking call to the supervisor until 3.3.2 (which added ``Connection.aextra_dejson``), so before 3.3.2 the
  synchronous lookup runs in a worker thread.

No module-level import of anything heavy: this module is imported while DAG files are parsed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import BaseHook, Connection
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
    )
else:
    try:
        from airflow.sdk import BaseHook
    except ImportError:  # Airflow 3.0
        from airflow.hooks.base import BaseHook

__all__ = [
    "AIRFLOW_VERSION",
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "BaseHook",
    "aget_connection",
    "get_conf",
]


def _airflow_version() -> tuple[int, int, int]:
    from airflow import __version__

    parts = []
    for piece in __version__.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    while len(parts) < 3:
        parts.append(0)
    return parts[0], parts[1], parts[2]


#: The running Airflow's (major, minor, micro).
AIRFLOW_VERSION = _airflow_version()

_EXCEPTIONS = ("AirflowException", "AirflowFailException", "AirflowNotFoundException", "AirflowSensorTimeout")


def __getattr__(name: str) -> Any:
    # The exceptions are resolved on first use: the task SDK's where it has them (3.2+), else Airflow's.
    if name in _EXCEPTIONS:
        sdk = importlib.import_module("airflow.sdk.exceptions")
        value = getattr(sdk, name, None)
        if value is None:
            value = getattr(importlib.import_module("airflow.exceptions"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_conf() -> Any:
    """Airflow's configuration (``airflow.sdk.conf`` from 3.2, ``airflow.configuration.conf`` before)."""
    try:
        from airflow.sdk import conf
    except ImportError:  # Airflow 3.0, 3.1
        from airflow.configuration import conf  # type: ignore[assignment]
    return conf


async def aget_connection(conn_id: str, hook: Any = None) -> Connection:
    """
    Read a connection from async code (a trigger) without blocking the event loop or deadlocking it.

    :param hook: the hook whose ``get_connection`` to use (so a subclass override is honoured).
    """
    owner = hook if hook is not None else BaseHook
    from airflow.sdk import Connection as SdkConnection

    if hasattr(SdkConnection, "aextra_dejson") and hasattr(owner, "aget_connection"):  # 3.3.2+
        return await owner.aget_connection(conn_id)
    from asgiref.sync import sync_to_async

    return await sync_to_async(owner.get_connection)(conn_id)
