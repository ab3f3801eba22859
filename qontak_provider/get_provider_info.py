"""Provider metadata that Airflow reads through the ``apache_airflow_provider`` entry point.

Airflow 3.3 renders the connection form only from this dictionary (``hook-name``, ``conn-fields`` and
``ui-field-behaviour``); it no longer imports hooks for that. Keep this module free of heavy imports (it
reads only :mod:`qontak_provider.defaults`) so that provider discovery stays cheap.
"""

from __future__ import annotations

from typing import Any

from qontak_provider.defaults import (
    DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_DEADLINE_SECONDS,
    DEFAULT_RATE_PER_MINUTE,
    DEFAULT_REGION,
    DEFAULT_TIMEOUT_SECONDS,
)

INTEGRATION = "Mekari Qontak"


def _modules(*names: str) -> list[dict[str, Any]]:
    return [{"integration-name": INTEGRATION, "python-modules": list(names)}]


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow validates against ``provider_info.schema.json``."""
    return {
        "package-name": "airflow-provider-qontak",
        "name": "Mekari Qontak",
        "description": "`Mekari Qontak <https://qontak.com/>`__ WhatsApp Outbound Message Direct API.",
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://developers.mekari.com/",
                "tags": ["service"],
            }
        ],
        "hooks": _modules("qontak_provider.hooks.qontak"),
        "operators": _modules("qontak_provider.operators.qontak", "qontak_provider.operators.bulk"),
        "sensors": _modules("qontak_provider.sensors.qontak"),
        "triggers": _modules("qontak_provider.triggers.qontak"),
        "notifications": ["qontak_provider.notifications.qontak.QontakNotifier"],
        "connection-types": [connection_type_info()],
    }


def connection_type_info() -> dict[str, Any]:
    """The ``qontak`` connection type: its form fields, labels and placeholders (read by every Airflow 3)."""
    return {
        "connection-type": "qontak",
        "hook-class-name": "qontak_provider.hooks.qontak.QontakHook",
        "hook-name": "Qontak",
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "port"],
            "relabeling": {
                "host": "Base URL",
                "login": "Client ID",
                "password": "Client Secret",
            },
            "placeholders": {
                "host": f"{DEFAULT_BASE_URL} (used when empty)",
                "login": "HMAC client id from the Mekari Developer Center",
                "password": "HMAC client secret",
            },
        },
        "conn-fields": {
            "channel_integration_id": {
                "label": "Default channel integration ID",
                "description": (
                    "WhatsApp channel integration used when an operator does not name one "
                    "(GET /qontak/chat/v1/integrations?target_channel=wa_cloud lists them)."
                ),
                "schema": {"type": ["string", "null"]},
            },
            "timeout": {
                "label": "Request timeout (seconds)",
                "description": (
                    "Read timeout of every request; connecting is limited to "
                    f"{DEFAULT_CONNECT_TIMEOUT_SECONDS} seconds."
                ),
                "schema": {
                    "type": ["number", "null"],
                    "default": DEFAULT_TIMEOUT_SECONDS,
                    "minimum": 1,
                    "maximum": 600,
                },
            },
            "deadline": {
                "label": "Deadline per request (seconds)",
                "description": (
                    "The most one request may take in all: connecting, every attempt, retries and "
                    "waits. The request timeout restarts with every byte; this does not."
                ),
                "schema": {
                    "type": ["number", "null"],
                    "default": DEFAULT_DEADLINE_SECONDS,
                    "minimum": 1,
                    "maximum": 3600,
                },
            },
            "rate_per_minute": {
                "label": "Direct-send rate per minute",
                "description": (
                    "Client-side pacing of direct sends. Mekari documents 60 requests per minute; "
                    "raise it only if Qontak granted you more."
                ),
                "schema": {
                    "type": ["integer", "null"],
                    "default": DEFAULT_RATE_PER_MINUTE,
                    "minimum": 1,
                    "maximum": 6000,
                },
            },
            "default_region": {
                "label": "Default phone region",
                "description": (
                    f"ISO country code used to read phone numbers written without a country code; "
                    f"empty means {DEFAULT_REGION}, where 0812-3456-7890 becomes 6281234567890."
                ),
                # No default here: the form would store it, and Airflow's secrets masker logs
                # "Skipping masking for a secret as it's too short" in every task for any extra
                # value under 5 characters (see docs/howto/troubleshooting.rst). Empty means ID.
                "schema": {"type": ["string", "null"], "pattern": "^[A-Za-z]{2}$"},
            },
        },
    }
