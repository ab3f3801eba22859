"""The sandbox's ASGI application: the Qontak Chat WhatsApp endpoints and the ``/_sandbox`` test endpoints.

Build it with :func:`create_app`; serve it with uvicorn (see :mod:`.server`), or mount it in any ASGI test
client. Handlers stay thin: validation lives in :mod:`.validation`, JSON shapes in :mod:`.views`,
delivery progress in :mod:`.lifecycle`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from qontak_provider import __version__
from qontak_provider.client.models import API_PREFIX
from qontak_provider.sandbox import lifecycle, magic, views
from qontak_provider.sandbox.fixtures import FixtureError, Fixtures
from qontak_provider.sandbox.gateway import DROPPED_SCOPE_KEY, SANDBOX_PREFIX, GatewayMiddleware
from qontak_provider.sandbox.magic import Outcome
from qontak_provider.sandbox.media import register_media_routes
from qontak_provider.sandbox.runtime import SandboxRuntime, log
from qontak_provider.sandbox.settings import SandboxSettings
from qontak_provider.sandbox.state import BroadcastRecord, is_valid_number, normalize_number
from qontak_provider.sandbox.validation import (
    SendPlan,
    check_send,
    missing_translation_text,
    schema_errors,
    translation_for,
)

#: ASGI scope extension through which :mod:`.server`'s protocol lets a handler abort the TCP connection.
ABORT_EXTENSION = "qontak_sandbox.abort"
DEFAULT_LIMIT = 100
#: Default page size of the template list: smaller than the seed, so clients must follow pages.
DEFAULT_TEMPLATE_LIMIT = 10
_TRUE = {"1", "true", "yes", "on"}


class QueryError(ValueError):
    """A query parameter has an unusable value; answered with 422."""


def _runtime(request: Request) -> SandboxRuntime:
    runtime: SandboxRuntime = request.app.state.runtime
    return runtime


def _positive_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise QueryError(f"{name}: expected a positive integer, got {raw!r}")
    return int(raw)


def _page_and_limit(request: Request, default_limit: int) -> tuple[int, int]:
    """``offset`` is the 1-based page number; a ``cursor`` from a previous page wins over it."""
    limit = _positive_int(request, "limit", default_limit)
    cursor = request.query_params.get("cursor")
    if cursor:
        page = views.decode_cursor(cursor)
        if page is None:
            raise QueryError(f"cursor: {cursor!r} is not a cursor returned by this API")
        return page, limit
    return _positive_int(request, "offset", 1), limit


def _multi(request: Request, *names: str) -> list[str]:
    """Values of a filter given as ``name=a``, ``name=a,b`` or repeated ``name[]=a&name[]=b``."""
    values: list[str] = []
    for name in names:
        for raw in request.query_params.getlist(name):
            values += [part.strip() for part in raw.split(",") if part.strip()]
    return values


def _matches_query(item: dict[str, Any], query: str | None, *fields: str) -> bool:
    if not query:
        return True
    needle = query.lower()
    return any(needle in str(item.get(f) or "").lower() for f in fields)


def _list_response(
    request: Request, items: list[Any], default_limit: int, *, spec_extras: bool = True
) -> Response:
    page, limit = _page_and_limit(request, default_limit)
    mode = _runtime(request).settings.paging
    chunk, meta = views.paginate(items, page, limit, mode=mode, spec_extras=spec_extras)
    return views.success(chunk, meta=meta)


def _unknown_id(request: Request, model: str, object_id: str) -> Response:
    return views.unknown_id(_runtime(request).settings.not_found_status, model, object_id)


# ------------------------------------------------------------------------------------------- API routes


def _register_api_routes(app: FastAPI) -> None:
    @app.get(API_PREFIX + "/integrations")
    async def list_integrations(request: Request) -> Response:
        state = _runtime(request).state
        target = request.query_params.get("target_channel")
        include_inactive = (request.query_params.get("all") or "").lower() in _TRUE
        with state.lock:
            items = [
                dict(c)
                for c in state.channels.values()
                if (not target or c.get("target_channel") == target)
                and (include_inactive or c.get("is_active", True))
                and _matches_query(c, request.query_params.get("query"), "target_channel", "webhook")
            ]
        return _list_response(request, items, DEFAULT_LIMIT)

    @app.get(API_PREFIX + "/integrations/{integration_id}")
    async def get_integration(request: Request, integration_id: str) -> Response:
        channel = _runtime(request).state.channels.get(integration_id)
        if channel is None:
            return _unknown_id(request, views.CHANNEL_INTEGRATION, integration_id)
        return views.success(dict(channel))

    @app.get(API_PREFIX + "/templates/whatsapp")
    async def list_templates(request: Request) -> Response:
        state = _runtime(request).state
        statuses = {s.upper() for s in _multi(request, "status", "statuses", "statuses[]")}
        categories = {c.upper() for c in _multi(request, "category", "category[]", "categories[]")}
        query = request.query_params.get("query")
        with state.lock:
            items = [
                dict(t)
                for t in state.templates.values()
                if (not statuses or str(t.get("status")).upper() in statuses)
                and (not categories or str(t.get("category")).upper() in categories)
                and _matches_query(t, query, "name", "body")
            ]
        return _list_response(request, items, DEFAULT_TEMPLATE_LIMIT)

    @app.get(API_PREFIX + "/templates/{template_id}/whatsapp")
    async def get_template(request: Request, template_id: str) -> Response:
        template = _runtime(request).state.templates.get(template_id)
        if template is None:
            return _unknown_id(request, views.MESSAGE_TEMPLATE, template_id)
        return views.success(dict(template))

    @app.post(API_PREFIX + "/broadcasts/whatsapp/direct")
    async def send_direct(request: Request) -> Response:
        return await _send_direct(request)

    @app.get(API_PREFIX + "/broadcasts/whatsapp")
    async def list_broadcasts(request: Request) -> Response:
        # broadcast_list="forbidden" is answered by the gateway (it is a scope decision, not Qontak's).
        runtime = _runtime(request)
        if runtime.settings.broadcast_list == "absent":
            return views.not_found()
        state = runtime.state
        # "stale": the list's counters stay as they were at creation, while detail and log progress.
        now = None if runtime.settings.broadcast_list == "stale" else state.now()
        records = state.broadcasts_newest_first()
        if (request.query_params.get("order_direction") or "").lower() == "asc":
            records.reverse()
        query = request.query_params.get("query")
        items = [
            views.broadcast_json(r, now) for r in records if not query or query.lower() in r.name.lower()
        ]
        return _list_response(request, items, DEFAULT_LIMIT)

    @app.get(API_PREFIX + "/broadcasts/{broadcast_id}/whatsapp")
    async def get_broadcast(request: Request, broadcast_id: str) -> Response:
        runtime = _runtime(request)
        record = runtime.state.broadcasts.get(broadcast_id)
        if record is None:
            return _unknown_id(request, views.MESSAGE_BROADCAST, broadcast_id)
        now = None if runtime.settings.broadcast_detail == "stale" else runtime.state.now()
        return views.success(views.broadcast_json(record, now, detail=True))

    @app.get(API_PREFIX + "/broadcasts/{broadcast_id}/whatsapp/log")
    async def get_broadcast_log(request: Request, broadcast_id: str) -> Response:
        state = _runtime(request).state
        record = state.broadcasts.get(broadcast_id)
        if record is None:
            return _unknown_id(request, views.MESSAGE_BROADCAST, broadcast_id)
        # The spec's log example has neither cursor.pit nor target_offset.
        rows = lifecycle.log_rows(record, state.now())
        return _list_response(request, rows, DEFAULT_LIMIT, spec_extras=False)


async def _drop_connection(request: Request) -> Response:
    """Close the TCP connection without answering (the client sees a reset / remote disconnect)."""
    # Counted here: once the connection is gone the client may look at the stats before this task ends.
    request.scope[DROPPED_SCOPE_KEY] = True
    state = _runtime(request).state
    with state.lock:
        state.stats.record("POST /broadcasts/whatsapp/direct", "dropped")
    abort = (request.scope.get("extensions") or {}).get(ABORT_EXTENSION)
    log.warning("Fault injected: dropping the connection of a direct send without a response")
    if abort is not None:
        abort()
        await asyncio.sleep(0.01)  # let the server notice the disconnect, so it does not try to answer
    # Without the extension (another server) a half-sent response is the closest thing to a drop.
    return Response(status_code=599)


def _rate_limited(runtime: SandboxRuntime) -> Response | None:
    """The 429 answer when the direct-send rate limit is used up, else ``None`` (and one slot is taken)."""
    settings = runtime.settings
    allowed, _remaining, reset = runtime.state.take_rate_slot(
        settings.rate_limit, settings.rate_limit_window_seconds
    )
    if allowed:
        return None
    log.warning(
        "429 direct send: rate limit of %s per %ss reached",
        settings.rate_limit,
        settings.rate_limit_window_seconds,
    )
    return views.error(
        429,
        [
            "Too many requests",
            f"organization_id: {settings.organization_id}",
            f"rate_limit_limit: {settings.rate_limit}",
            "rate_limit_remaining: 0",
            f"rate_limit_reset: {reset}",
        ],
    )


def _parse_body(raw: bytes, settings: SandboxSettings) -> tuple[dict[str, Any] | None, list[str]]:
    """Parse and schema-check a direct-send body: ``(body, [])`` or ``(None, problems)``."""
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        return None, ["request body: not valid JSON"]
    problems = schema_errors(body, language_enum=settings.language_check == "spec_enum")
    return (None, problems) if problems else (body, [])


async def _send_direct(request: Request) -> Response:
    runtime = _runtime(request)
    settings = runtime.settings
    state = runtime.state

    refused = _rate_limited(runtime)
    if refused is not None:
        return refused
    faults = state.roll_faults(
        drop=settings.drop, fail_before=settings.fail_before, fail_after=settings.fail_after
    )
    if faults.drop:
        return await _drop_connection(request)
    if faults.fail_before:
        log.warning(
            "Fault injected: %s before processing a direct send (nothing recorded)", settings.fault_status
        )
        return views.error(settings.fault_status, ["Internal server error (sandbox fault before processing)"])

    body, problems = _parse_body(await request.body(), settings)
    if body is not None:
        with state.lock:
            plan = check_send(body, state.channels, state.templates)
        problems = plan if isinstance(plan, list) else []
    if body is None or isinstance(plan, list):
        return _unprocessable(problems)

    record = _record_broadcast(runtime, body, plan, _client_id(request))
    state.add_broadcast(record)
    log.info(
        "%s direct send: broadcast %s to %s with template %s (%s) -> %s",
        settings.direct_send_status,
        record.id,
        _mask(record.to_number),
        plan.template["name"],
        plan.language,
        record.outcome.value,
    )
    if faults.fail_after:
        state.mark_send(record.id, answered=settings.fault_status)
        log.warning(
            "Fault injected: %s after broadcast %s was recorded (in doubt)", settings.fault_status, record.id
        )
        return views.error(
            settings.fault_status, ["Internal server error (sandbox fault injected after processing)"]
        )
    return views.success(views.broadcast_json(record, None), status=settings.direct_send_status)


def _unprocessable(messages: list[str]) -> Response:
    log.warning("422 direct send: %s", "; ".join(messages))
    return views.error(422, messages)


def _client_id(request: Request) -> str:
    from qontak_provider.client.signing import parse_authorization

    try:
        return parse_authorization(request.headers.get("authorization", "")).username
    except ValueError:
        return ""


def _mask(number: str) -> str:
    # Masking is shared with the client: it judges nothing, it only keeps the sandbox's logs private.
    from qontak_provider.client.phone import mask_phone

    return mask_phone(number)


def _record_broadcast(
    runtime: SandboxRuntime, body: dict[str, Any], plan: SendPlan, client_id: str
) -> BroadcastRecord:
    """Decide the message's fate (magic numbers, language) and build its record."""
    state, settings = runtime.state, runtime.settings
    number = normalize_number(body["to_number"])
    outcome = magic.outcome_for(number, valid=is_valid_number(number))
    template = plan.template
    error_detail = None
    if settings.language_check == "template" and outcome is not Outcome.UNDELIVERABLE:
        with state.lock:
            translation = translation_for(template, plan.language, state.templates.values())
        if translation is None:
            outcome = Outcome.WRONG_LANGUAGE
            error_detail = missing_translation_text(template, plan.language)
        else:
            template = translation
    return BroadcastRecord(
        id=state.new_id(),
        created_at=state.now(),
        # The spec documents no "name" field, so the broadcast is named after to_name (legacy docs).
        name=str(body["to_name"]),
        to_number=number,
        to_name=body["to_name"],
        client_id=client_id,
        payload=body,
        channel=dict(plan.channel),
        template=dict(template),
        language=plan.language,
        outcome=outcome,
        step_seconds=settings.step_seconds,
        log_delay_seconds=settings.late_log_seconds if magic.is_late_log(number) else 0.0,
        contact_id=state.new_id(),
        log_id=state.new_id(),
        wamid=state.new_wamid(),
        error_detail=error_detail,
    )


# ---------------------------------------------------------------------------------------- test endpoints


def _register_sandbox_routes(app: FastAPI) -> None:
    @app.get(SANDBOX_PREFIX + "/health")
    async def health(request: Request) -> Response:
        state = _runtime(request).state
        return views.json_response(
            {
                "status": "ok",
                "version": __version__,
                "channels": len(state.channels),
                "templates": len(state.templates),
                "broadcasts": len(state.broadcasts),
            }
        )

    @app.get(SANDBOX_PREFIX + "/sends")
    async def sends(request: Request) -> Response:
        state = _runtime(request).state
        with state.lock:
            return views.json_response({"sends": list(state.sends), "total": len(state.sends)})

    @app.get(SANDBOX_PREFIX + "/sends/counts")
    async def send_counts(request: Request) -> Response:
        return views.json_response({"counts": _runtime(request).state.send_counts()})

    @app.get(SANDBOX_PREFIX + "/stats")
    async def stats(request: Request) -> Response:
        state = _runtime(request).state
        with state.lock:
            return views.json_response(state.stats.as_dict())

    @app.post(SANDBOX_PREFIX + "/reset")
    async def reset(request: Request) -> Response:
        options = await _json_object(request)
        settings, fixtures = bool(options.get("settings", False)), bool(options.get("fixtures", False))
        _runtime(request).reset(settings=settings, fixtures=fixtures)
        return views.json_response({"status": "reset", "settings": settings, "fixtures": fixtures})

    @app.get(SANDBOX_PREFIX + "/settings")
    async def get_settings(request: Request) -> Response:
        return views.json_response(_runtime(request).settings.public_dict())

    @app.patch(SANDBOX_PREFIX + "/settings")
    async def patch_settings(request: Request) -> Response:
        changes = await _json_object(request)
        try:
            updated = _runtime(request).update_settings(**changes)
        except ValidationError as err:
            return views.error(422, _pydantic_messages(err))
        return views.json_response(updated.public_dict())

    @app.post(SANDBOX_PREFIX + "/clock/advance")
    async def advance_clock(request: Request) -> Response:
        options = await _json_object(request)
        seconds = options.get("seconds")
        if not isinstance(seconds, (int, float)) or seconds < 0:
            return views.error(422, ["seconds: expected a non-negative number"])
        offset = _runtime(request).state.advance(float(seconds))
        return views.json_response({"clock_offset_seconds": offset})

    @app.post(SANDBOX_PREFIX + "/fixtures")
    async def load_fixtures(request: Request) -> Response:
        document = await _json_object(request)
        try:
            merged = _runtime(request).load_fixture_document(document)
        except FixtureError as err:
            return views.error(422, [str(err)])
        return views.json_response({"channels": len(merged.channels), "templates": len(merged.templates)})

    @app.get(SANDBOX_PREFIX + "/magic")
    async def magic_numbers() -> Response:
        return views.json_response({"recipients": magic.MAGIC_RECIPIENTS})


class _BadJson(ValueError):
    pass


async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise _BadJson("request body: not valid JSON") from err
    if not isinstance(value, dict):
        raise _BadJson("request body: expected a JSON object")
    return value


def _pydantic_messages(err: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in item['loc']) or 'settings'}: {item['msg']}" for item in err.errors()]


# ------------------------------------------------------------------------------------------------ factory


def create_app(
    settings: SandboxSettings | None = None,
    fixtures: Fixtures | None = None,
    *,
    runtime: SandboxRuntime | None = None,
) -> Any:
    """
    Build the sandbox ASGI application.

    :param settings: initial settings (default: :class:`SandboxSettings` defaults).
    :param fixtures: channels and templates (default: the built-in seed).
    :param runtime: an existing runtime to serve (then ``settings`` and ``fixtures`` are ignored).
    :return: the ASGI app, wrapped in the gateway middleware; ``app.state.runtime`` is reachable through
        the returned object's ``runtime`` attribute.
    """
    runtime = runtime or SandboxRuntime(settings, fixtures)
    app = FastAPI(
        title="Qontak Chat API sandbox",
        version=__version__,
        docs_url=SANDBOX_PREFIX + "/docs",
        redoc_url=None,
        openapi_url=SANDBOX_PREFIX + "/openapi.json",
    )
    app.state.runtime = runtime

    @app.exception_handler(QueryError)
    async def _query_error(request: Request, exc: QueryError) -> Response:
        return views.error(422, [str(exc)])

    @app.exception_handler(_BadJson)
    async def _bad_json(request: Request, exc: _BadJson) -> Response:
        return views.error(422, [str(exc)])

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return views.not_found()
        return views.error(exc.status_code, [str(exc.detail)])

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return views.error(422, [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()])

    _register_api_routes(app)
    register_media_routes(app, _list_response)
    _register_sandbox_routes(app)
    return SandboxASGI(GatewayMiddleware(app, runtime), runtime)


class SandboxASGI:
    """The ASGI callable uvicorn serves; carries the :class:`SandboxRuntime` for in-process helpers."""

    def __init__(self, app: Any, runtime: SandboxRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
