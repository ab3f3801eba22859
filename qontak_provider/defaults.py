"""The provider's defaults, in one place: the connection form, the hook and the client read them from here.

No imports, so that provider discovery (``get_provider_info``) and the Airflow-free client can both use it.
"""

from __future__ import annotations

#: Mekari's production API gateway; an empty Base URL means this.
DEFAULT_BASE_URL = "https://api.mekari.com"
#: Direct sends per minute: the limit documented in the gateway spec's direct-send notes.
DEFAULT_RATE_PER_MINUTE = 60
#: Read timeout of every request, in seconds (restarts with every byte).
DEFAULT_TIMEOUT_SECONDS = 30
#: Seconds allowed to open a TCP/TLS connection.
DEFAULT_CONNECT_TIMEOUT_SECONDS = 10
#: The most one request may take, pacing, every attempt and wait included: a slow or trickling server cannot
#: hold a worker longer.
DEFAULT_DEADLINE_SECONDS = 120
#: Region used to read phone numbers written without a country code.
DEFAULT_REGION = "ID"
#: The connection id every hook, operator, sensor and notifier uses unless told otherwise.
DEFAULT_CONN_ID = "qontak_default"
