"""What a send leaves in Airflow's ``task_state_store``, and how a send left in doubt is reconciled.

A direct send records ``{"state": "attempting", ...}`` under :data:`SEND_STATE_KEY` before the request and
``{"state": "sent", "broadcast_id": ...}`` after Qontak answered. A retry of the same task instance (same
DAG run, task and map index) reads the record back: a recorded broadcast is returned instead of sending
again; a recorded attempt without a broadcast means the first try may or may not have sent, and the
operator's ``on_send_in_doubt`` policy decides. See ``docs/retry_safety.rst``.

No record holds the full phone number (the store is visible in the UI and REST API): the number is masked,
and the fingerprint (SHA-256 of the whole wire payload) proves that a retry would send the same message.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from qontak_provider.client.phone import mask_phone
from qontak_provider.client.timestamps import utcnow

if TYPE_CHECKING:
    from qontak_provider.client.models import Broadcast, DirectSendRequest

__all__ = ["IN_DOUBT_POLICIES", "SEND_STATE_KEY", "attempt_record", "sent_record"]

#: Key of the send record in ``context["task_state_store"]``. Renaming it would break in-flight retries.
SEND_STATE_KEY = "qontak_send"

IN_DOUBT_POLICIES: tuple[str, ...] = ("fail", "reconcile", "resend")


def attempt_record(request: DirectSendRequest, fingerprint: str, started_at: datetime) -> dict[str, Any]:
    """The record written just before the send request leaves."""
    return {
        "state": "attempting",
        "to": mask_phone(request.to_number),
        "template_id": request.message_template_id,
        "channel_integration_id": request.channel_integration_id,
        "fingerprint": fingerprint,
        "started_at": started_at.isoformat(),
    }


def sent_record(attempt: dict[str, Any], broadcast: Broadcast, *, how: str = "sent") -> dict[str, Any]:
    """The record written once the broadcast id is known (``how`` is ``sent`` or ``reconciled``)."""
    return {
        **attempt,
        "state": "sent",
        "broadcast_id": broadcast.id,
        "created_at": broadcast.created_at,
        "recorded_by": how,
        "recorded_at": utcnow().isoformat(),
    }
