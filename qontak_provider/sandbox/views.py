"""JSON shapes of the API: envelopes, pagination and the broadcast object."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from starlette.responses import Response

from qontak_provider.sandbox.lifecycle import status_counts
from qontak_provider.sandbox.settings import SEED_TOTAL, PagingMode
from qontak_provider.sandbox.state import BroadcastRecord, iso_timestamp

#: Content type of Qontak's (Rails) answers.
API_CONTENT_TYPE = "application/json; charset=UTF-8"
#: Content type of the gateway's own answers (401).
GATEWAY_CONTENT_TYPE = "application/json; charset=utf-8"
#: Largest page the sandbox serves; a larger ``limit`` is lowered and ``meta.pagination.limit`` says so.
MAX_PAGE_LIMIT = 100
SENDER_NAME = "Sandbox Supervisor"
SENDER_EMAIL = "supervisor@sandbox.example.com"


def json_response(
    body: Any,
    status: int = 200,
    *,
    content_type: str = API_CONTENT_TYPE,
    headers: dict[str, str] | None = None,
) -> Response:
    """A compact JSON response with an explicit content type (Starlette's default has no charset)."""
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    merged = {"content-type": content_type, **(headers or {})}
    return Response(payload, status_code=status, headers=merged)


def success(data: Any, *, status: int = 200, meta: dict[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {"status": "success", "data": data}
    if meta is not None:
        body["meta"] = meta
    return json_response(body, status)


def error(status: int, messages: Sequence[str]) -> Response:
    return json_response({"status": "error", "error": {"code": status, "messages": list(messages)}}, status)


#: Model names in the 422 answer to an unknown id, as the spec words them for contact lists
#: (``Couldn't find contact list with 'id'=...``): the Rails model (ChannelIntegration, MessageTemplate,
#: MessageBroadcast) in lower-case words.
CHANNEL_INTEGRATION = "channel integration"
MESSAGE_TEMPLATE = "message template"
MESSAGE_BROADCAST = "message broadcast"


def not_found() -> Response:
    """Qontak's 404 envelope (unknown paths, and unknown ids when ``not_found_status`` is 404)."""
    return error(404, ["Resource not found."])


def unknown_id(status: int, model: str, object_id: str) -> Response:
    """The answer to an id lookup of an id that does not exist: the 404 envelope, or the spec's 422."""
    if status == 422:
        return error(422, [f"Couldn't find {model} with 'id'={object_id}"])
    return not_found()


def gateway_error(status: int, message: str, debug_header: str | None = None) -> Response:
    """An answer of the gateway itself, not of Qontak: ``{"message": ...}`` with ``server: Mekari``."""
    headers = {"server": "Mekari"}
    if debug_header:
        headers["x-sandbox-auth-error"] = debug_header
    return json_response({"message": message}, status, content_type=GATEWAY_CONTENT_TYPE, headers=headers)


def unauthorized(reason: str | None = None) -> Response:
    """The gateway's 401: always the same 26-byte body; the reason only in a sandbox debug header."""
    return gateway_error(401, "Unauthorized", reason)


def forbidden() -> Response:
    """The gateway's 403 for a credential whose scopes do not include the endpoint."""
    return gateway_error(403, "Forbidden", "the credential has no scope for this endpoint")


def encode_cursor(page: int) -> str:
    return base64.urlsafe_b64encode(f"page:{page}".encode()).decode("ascii")


def decode_cursor(cursor: str) -> int | None:
    """Return the page a cursor points to, or ``None`` if it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii") + b"==").decode("ascii")
    except (ValueError, UnicodeError):
        return None
    prefix, _, page = text.partition(":")
    return int(page) if prefix == "page" and page.isdigit() and int(page) >= 1 else None


def paginate(
    items: Sequence[Any], page: int, limit: int, *, mode: PagingMode = "spec", spec_extras: bool = True
) -> tuple[list[Any], dict[str, Any]]:
    """
    Slice one page (``page`` is 1-based) and build ``meta`` for it.

    :param mode: what ``total`` says (:attr:`~qontak_provider.sandbox.settings.SandboxSettings.paging`):
        ``"spec"`` the items on this page, ``"seed"`` :data:`SEED_TOTAL`, ``"exact"`` all matching items.
        Cursors do not depend on it: clients must be able to page by ``cursor.next`` whatever ``total`` says.
    :param spec_extras: add ``cursor.pit: null`` and ``target_offset: 0``, which every list example of the
        OpenAPI file has except the broadcast log's.
    """
    limit = min(limit, MAX_PAGE_LIMIT)
    start = (page - 1) * limit
    chunk = list(items[start : start + limit])
    has_next = start + limit < len(items)
    totals = {"spec": len(chunk), "seed": SEED_TOTAL, "exact": len(items)}
    cursor: dict[str, Any] = {
        "next": encode_cursor(page + 1) if has_next else None,
        "prev": encode_cursor(page - 1) if page > 1 else None,
    }
    pagination: dict[str, Any] = {"cursor": cursor, "offset": page, "limit": limit, "total": totals[mode]}
    if spec_extras:
        cursor["pit"] = None
        pagination["target_offset"] = 0
    return chunk, {"pagination": pagination}


def _parameters_summary(payload: dict[str, Any]) -> dict[str, Any]:
    """``parameters`` of a broadcast: header as sent, body key -> label, buttons index -> type."""
    params = payload.get("parameters") or {}
    header = params.get("header") or {}
    return {
        "header": (
            {
                "format": header.get("format"),
                "params": {str(p.get("key")): p.get("value") for p in header.get("params") or []},
            }
            if header
            else {}
        ),
        "body": {str(item.get("key")): item.get("value") for item in params.get("body") or []},
        "buttons": {str(item.get("index")): item.get("type") for item in params.get("buttons") or []},
    }


def _digits(phone: str | None) -> str | None:
    return "".join(ch for ch in phone if ch.isdigit()) if phone else None


def broadcast_json(record: BroadcastRecord, now: float | None, *, detail: bool = False) -> dict[str, Any]:
    """The broadcast object; ``now=None`` gives the creation-time view (all counters 0), which is also what
    a stale summary shows."""
    settings = record.channel.get("settings") or {}
    counts = (
        {"failed": 0, "delivered": 0, "read": 0, "pending": 0, "sent": 0}
        if now is None
        else status_counts(record, now)
    )
    body: dict[str, Any] = {
        "id": record.id,
        "name": record.name,
        "organization_id": record.template.get("organization_id"),
        "channel_integration_id": record.channel["id"],
        "contact_list_id": None,
        "contact_id": record.contact_id,
        "target_channel": record.channel.get("target_channel"),
        "send_at": iso_timestamp(record.created_at),
        "execute_status": "done",
        "execute_type": "immediately",
        "parameters": _parameters_summary(record.payload),
        "created_at": iso_timestamp(record.created_at),
        "message_status_count": counts,
        "contact_extra": {},
        "message_template": dict(record.template),
        "division_id": None,
        "message_broadcast_error": "n/a",
        "message_broadcast_plan_id": None,
        "sender_name": SENDER_NAME,
        "sender_email": SENDER_EMAIL,
        "channel_account_name": settings.get("account_name"),
        "channel_phone_number": _digits(settings.get("phone_number") or settings.get("server_wa_id")),
    }
    if detail:
        body["contact_list_name"] = None
    return body
