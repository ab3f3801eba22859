"""The Qontak Chat API client, independent of Airflow.

Importing this package is cheap: :class:`QontakClient` (requests) and :class:`AsyncQontakClient` (httpx) and
the pydantic models are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qontak_provider.client.errors import (
    QontakAuthenticationError,
    QontakError,
    QontakNotFoundError,
    QontakPayloadError,
    QontakRateLimitError,
    QontakSendInDoubtError,
    QontakServerError,
    QontakTransportError,
    QontakValidationError,
)

if TYPE_CHECKING:
    from qontak_provider.client.aio import AsyncQontakClient
    from qontak_provider.client.models import (
        Broadcast,
        BroadcastLogEntry,
        BroadcastStatus,
        ChannelIntegration,
        DirectSendRequest,
        Pagination,
        Template,
    )
    from qontak_provider.client.policy import Pacer, RetryPolicy
    from qontak_provider.client.sync import QontakClient

_LAZY = {
    "QontakClient": "qontak_provider.client.sync",
    "AsyncQontakClient": "qontak_provider.client.aio",
    "RetryPolicy": "qontak_provider.client.policy",
    "Pacer": "qontak_provider.client.policy",
    "Broadcast": "qontak_provider.client.models",
    "BroadcastLogEntry": "qontak_provider.client.models",
    "BroadcastStatus": "qontak_provider.client.models",
    "ChannelIntegration": "qontak_provider.client.models",
    "DirectSendRequest": "qontak_provider.client.models",
    "Pagination": "qontak_provider.client.models",
    "Template": "qontak_provider.client.models",
}

__all__ = [
    "AsyncQontakClient",
    "Broadcast",
    "BroadcastLogEntry",
    "BroadcastStatus",
    "ChannelIntegration",
    "DirectSendRequest",
    "Pacer",
    "Pagination",
    "QontakAuthenticationError",
    "QontakClient",
    "QontakError",
    "QontakNotFoundError",
    "QontakPayloadError",
    "QontakRateLimitError",
    "QontakSendInDoubtError",
    "QontakServerError",
    "QontakTransportError",
    "QontakValidationError",
    "RetryPolicy",
    "Template",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
