"""Delivery lifecycle of a message, computed from the clock.

A broadcast's log row is a pure function of its record and the current time: it appears (at once, or after
``late_log_seconds`` for the late-log magic number), starts ``pending``, and then climbs one status per
``step_seconds``. Normal messages end at ``read``; the never-read magic number ends at ``delivered``;
undeliverable numbers and templates sent in a language they do not exist in go ``pending`` -> ``failed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qontak_provider.sandbox import magic
from qontak_provider.sandbox.magic import Outcome
from qontak_provider.sandbox.state import BroadcastRecord, iso_timestamp

LADDER = ("pending", "sent", "delivered", "read")
COUNT_KEYS = ("failed", "delivered", "read", "pending", "sent")
_FINAL_STEP = {Outcome.DELIVERED_AND_READ: 3, Outcome.NEVER_READ: 2}


@dataclass(frozen=True)
class Progress:
    """Where a message stands at one moment."""

    visible: bool
    status: str | None
    #: ``(status, unix time)`` of every status reached after ``pending``, in order.
    reached: tuple[tuple[str, float], ...]


def progress(record: BroadcastRecord, now: float) -> Progress:
    """Compute the message's status at ``now``."""
    start = record.created_at + record.log_delay_seconds
    if now < start:
        return Progress(visible=False, status=None, reached=())
    step = record.step_seconds
    if record.outcome in (Outcome.UNDELIVERABLE, Outcome.WRONG_LANGUAGE):
        failed_at = start + step
        if now >= failed_at:
            return Progress(True, "failed", (("failed", failed_at),))
        return Progress(True, "pending", ())
    final = _FINAL_STEP[record.outcome]
    steps_done = final if step <= 0 else min(final, int((now - start) // step))
    reached = tuple((LADDER[i], start + i * step) for i in range(1, steps_done + 1))
    return Progress(True, LADDER[steps_done], reached)


def status_counts(record: BroadcastRecord, now: float) -> dict[str, int]:
    """``message_status_count``: each recipient counted once, under its current status."""
    counts = dict.fromkeys(COUNT_KEYS, 0)
    state = progress(record, now)
    if state.visible and state.status:
        counts[state.status] += 1
    return counts


def _status_entry(record: BroadcastRecord, status: str, at: float) -> dict[str, Any]:
    return {"id": record.wamid, "status": status, "timestamp": str(int(at)), "recipient_id": record.to_number}


def _messages_response(record: BroadcastRecord, state: Progress) -> dict[str, Any]:
    if record.outcome is Outcome.WRONG_LANGUAGE:
        return {
            "code": "404",
            "meta": {"version": "2.55.1", "api_status": "stable"},
            "errors": [
                {
                    "code": 2001,
                    "title": "Template name does not exist in the translation",
                    "details": record.error_detail,
                }
            ],
        }
    if state.status == "pending":
        return {}
    if record.channel.get("target_channel") == "wa":
        response: dict[str, Any] = {
            "messages": [{"id": record.wamid}],
            "meta": {"version": "2.55.1", "api_status": "stable"},
        }
    else:
        response = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": record.to_number, "wa_id": record.to_number}],
            "messages": [{"id": record.wamid}],
        }
    for status, at in state.reached:
        entry = _status_entry(record, status, at)
        if status == "failed":
            entry["errors"] = [
                {
                    "code": magic.UNDELIVERABLE_ERROR_CODE,
                    "title": magic.UNDELIVERABLE_ERROR_TITLE,
                    "message": magic.UNDELIVERABLE_ERROR_TITLE,
                    "error_data": {"details": "Message Undeliverable."},
                }
            ]
        response[status] = {"statuses": [entry]}
    return response


def _error_message(record: BroadcastRecord, state: Progress) -> str:
    if state.status != "failed":
        return "n/a"
    if record.outcome is Outcome.WRONG_LANGUAGE:
        return record.error_detail or "n/a"
    return magic.UNDELIVERABLE_ERROR_MESSAGE


def rendered_messages(record: BroadcastRecord) -> dict[str, Any]:
    """The ``messages`` part of a log row: template parts and the parameters sent for them."""
    params = record.payload.get("parameters") or {}
    template = record.template
    header = params.get("header") or {}
    return {
        "body": {"type": "body", "template": template.get("body"), "parameters": params.get("body") or []},
        "header": {
            "type": "header",
            "template": template.get("header") or {},
            "parameters": header.get("params") or [],
        },
        "buttons": {
            "type": "buttons",
            "template": template.get("buttons") or None,
            "parameters": params.get("buttons") or [],
        },
    }


def log_rows(record: BroadcastRecord, now: float) -> list[dict[str, Any]]:
    """The broadcast's log at ``now``: one row, or none while the log is late."""
    state = progress(record, now)
    if not state.visible:
        return []
    has_wamid = state.status != "pending" and record.outcome is not Outcome.WRONG_LANGUAGE
    return [
        {
            "id": record.log_id,
            "organization_id": record.template.get("organization_id"),
            "messages_broadcast_id": record.id,
            "contact_phone_number": record.to_number,
            "contact_full_name": record.to_name,
            "status": state.status,
            "whatsapp_message_id": record.wamid if has_wamid else "n/a",
            "whatsapp_error_message": _error_message(record, state),
            "messages_response": _messages_response(record, state),
            "messages": rendered_messages(record),
            "created_at": iso_timestamp(record.created_at + record.log_delay_seconds),
            "is_pacing": False,
            "channel_integration_id": record.channel["id"],
        }
    ]
