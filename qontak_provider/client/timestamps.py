"""Time values of the API, read one way everywhere: unix seconds or ISO 8601 in, aware UTC out."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any


def utcnow() -> datetime:
    """The current time, aware, in UTC (the one wall clock every signed ``Date`` and record comes from)."""
    return datetime.now(timezone.utc)


def parse_timestamp(value: Any) -> datetime | None:  # noqa: PLR0911 - one return per input shape
    """
    Parse what Qontak (or our own records) write as a time: unix seconds (number or digit string, as in
    ``messages_response`` statuses) or ISO 8601 text (``2024-10-15T21:18:44.042Z``, an offset, or none,
    which means UTC). Anything else is ``None``, never an exception.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        pass
    else:
        if not math.isfinite(seconds):
            return None
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def to_iso(moment: datetime | None) -> str | None:
    """``2026-01-01T00:00:05Z`` (UTC, ``Z``), or ``None``."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment else None
