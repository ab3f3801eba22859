"""Apache Airflow provider for Mekari Qontak's WhatsApp Outbound Message Direct API.

Importing this package must stay cheap: Airflow imports it while parsing DAG files.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
