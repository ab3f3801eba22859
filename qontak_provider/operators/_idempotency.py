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

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

from qontak_provider.client.phone import mask_phone

if TYPE_CHECKING:
    from qontak_provider.client.models import Broadcast, DirectSendRequest
    from qontak_provider.hooks.qontak import QontakHook

__all__ = [
    "IN_DOUBT_POLICIES",
    "RECONCILE_CLOCK_MARGIN",
    "SEND_STATE_KEY",
    "InDoubtPolicy",
    "ReconcileResult",
    "attempt_record",
    "find_sent_broadcast",
    "sent_record",
]

#: Key of the send record in ``context["task_state_store"]``. Renaming it would break in-flight retries.
SEND_STATE_KEY = "qontak_send"

InDoubtPolicy = Literal["fail", "reconcile", "resend"]
IN_DOUBT_POLICIES: tuple[str, ...] = ("fail", "reconcile", "resend")

#: Broadcasts created up to this long *before* the recorded attempt still count as candidates: the attempt
#: time comes from the worker's clock and ``created_at`` from Qontak's (Mekari allows 300 s of skew).
RECONCILE_CLOCK_MARGIN = timedelta(seconds=300)


def utc_now() -> datetime:
    return datetime.now(tz=timezone.utc)


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
        "recorded_at": utc_now().isoformat(),
    }


def parse_time(value: object) -> datetime | None:
    """Parse an ISO-8601 timestamp (``Z`` or offset); ``None`` when it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class ReconcileResult:
    """
    What :func:`find_sent_broadcast` found.

    :param proven: broadcasts proven to be the attempted send (same channel, template, name, and the log
        names the recipient's number).
    :param unproven: candidates that match on channel, template and name but whose log does not (yet) show
        the number, so they prove nothing.
    :param scanned: how many broadcasts were looked at.
    """

    def __init__(self, proven: list[Broadcast], unproven: list[Broadcast], scanned: int) -> None:
        self.proven = proven
        self.unproven = unproven
        self.scanned = scanned


def find_sent_broadcast(
    hook: QontakHook,
    request: DirectSendRequest,
    started_at: datetime,
    *,
    margin: timedelta = RECONCILE_CLOCK_MARGIN,
) -> ReconcileResult:
    """
    Look for the broadcast an in-doubt send may have created.

    The broadcast list is read newest first, down to ``started_at - margin``. A broadcast is a candidate
    when its channel integration, ``message_template.id`` and ``name`` (Qontak stores ``to_name`` there)
    match the request; it is *proven* only when its log shows ``contact_phone_number`` equal to the
    request's number. The list and logs can lag behind a send, so finding nothing proves nothing.
    """
    oldest = started_at - margin
    proven: list[Broadcast] = []
    unproven: list[Broadcast] = []
    scanned = 0
    for page, _ in hook.client.iter_broadcast_pages():
        reached_older = False
        for broadcast in page:
            scanned += 1
            created = parse_time(broadcast.created_at)
            if created is not None and created < oldest:
                reached_older = True
                continue
            if not _matches(broadcast, request):
                continue
            numbers = {
                "".join(ch for ch in (entry.contact_phone_number or "") if ch.isdigit())
                for entry in hook.get_broadcast_log(broadcast.id)
            }
            (proven if request.to_number in numbers else unproven).append(broadcast)
        if reached_older:  # newest first: every later page is older still
            break
    return ReconcileResult(proven, unproven, scanned)


def _matches(broadcast: Broadcast, request: DirectSendRequest) -> bool:
    template_id = (broadcast.message_template or {}).get("id")
    return (
        broadcast.channel_integration_id == request.channel_integration_id
        and template_id == request.message_template_id
        and (broadcast.name is None or broadcast.name == request.to_name)
    )
