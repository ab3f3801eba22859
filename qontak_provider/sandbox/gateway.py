"""The emulated Mekari API gateway: a raw ASGI middleware in front of the Qontak routes.

For every request under ``/qontak`` it adds the configured latency, verifies the HMAC signature over the
request-line exactly as it came over the wire (raw path and raw query string from the ASGI scope), checks
an optional ``Digest``, and answers ``401 {"message":"Unauthorized"}`` on any problem. A signed request to an
endpoint the credential has no scope for (``broadcast_list="forbidden"``) gets the gateway's
``403 {"message":"Forbidden"}``. For every request it adds ``x-request-id`` / ``x-runtime`` headers and counts
API requests per endpoint and status.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import time
import uuid
from typing import Any
from urllib.parse import unquote

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qontak_provider.client.models import API_PREFIX
from qontak_provider.client.signing import body_digest, verify_signature
from qontak_provider.sandbox.runtime import SandboxRuntime, log
from qontak_provider.sandbox.settings import SandboxSettings
from qontak_provider.sandbox.views import forbidden, unauthorized

SANDBOX_PREFIX = "/_sandbox"
#: Key a handler sets in the ASGI scope when it dropped the connection on purpose.
DROPPED_SCOPE_KEY = "qontak_sandbox.dropped"

_ID = r"[^/]+"
_ENDPOINTS: list[tuple[str, re.Pattern[str], str]] = [
    (method, re.compile(f"^{API_PREFIX}{pattern}/?$"), f"{method} {label}")
    for method, pattern, label in [
        ("GET", "/integrations", "/integrations"),
        ("GET", f"/integrations/{_ID}", "/integrations/{id}"),
        ("GET", "/templates/whatsapp", "/templates/whatsapp"),
        ("GET", f"/templates/{_ID}/whatsapp", "/templates/{id}/whatsapp"),
        ("POST", "/broadcasts/whatsapp/direct", "/broadcasts/whatsapp/direct"),
        ("GET", "/broadcasts/whatsapp", "/broadcasts/whatsapp"),
        ("GET", f"/broadcasts/{_ID}/whatsapp", "/broadcasts/{id}/whatsapp"),
        ("GET", f"/broadcasts/{_ID}/whatsapp/log", "/broadcasts/{id}/whatsapp/log"),
    ]
]


def endpoint_label(method: str, path: str) -> str:
    """Name of the endpoint a request addresses, e.g. ``GET /broadcasts/{id}/whatsapp/log``; ``other``."""
    for expected, pattern, label in _ENDPOINTS:
        if method == expected and pattern.match(path):
            return label
    return "other"


def wire_request_target(scope: Scope) -> str:
    """Path and query exactly as sent on the request line (uvicorn keeps both raw)."""
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
    target = raw_path.decode("latin-1")
    query = scope.get("query_string") or b""
    if query:
        target += "?" + query.decode("latin-1")
    return target


def check_signature(scope: Scope, credentials: dict[str, str], max_skew: int) -> str | None:
    """Return why the request's HMAC is not acceptable, or ``None`` if it is."""
    headers = Headers(scope=scope)
    authorization = headers.get("authorization")
    date = headers.get("date")
    if not authorization:
        return "missing Authorization header"
    if not date:
        return "missing Date header"
    target = wire_request_target(scope)
    # Tolerance for signers that sign the percent-decoded query (the official JS SDK does), reference 1.6.
    candidates = dict.fromkeys([target, unquote(target)])
    reason: str | None = "signature mismatch"
    for candidate in candidates:
        reason = verify_signature(
            authorization=authorization,
            date=date,
            method=scope["method"],
            path_with_query=candidate,
            credentials=credentials,
            max_skew_seconds=max_skew,
        )
        if reason != "signature mismatch":
            return reason
    return reason


def _client_id(scope: Scope) -> str | None:
    match = re.match(r'^hmac username="([^"]+)"', Headers(scope=scope).get("authorization") or "")
    return match.group(1) if match else None


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    chunks: list[bytes] = []
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks), messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


class GatewayMiddleware:
    """ASGI middleware emulating the Mekari gateway in front of the sandbox app."""

    def __init__(self, app: ASGIApp, runtime: SandboxRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope["path"]
        method: str = scope["method"]
        observed = not path.startswith(SANDBOX_PREFIX)
        status: dict[str, Any] = {"code": None}
        request_id = str(uuid.uuid4())

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = MutableHeaders(scope=message)
                headers.append("x-request-id", request_id)
                headers.append("x-runtime", f"{time.perf_counter() - started:.6f}")
            await send(message)

        try:
            if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
                settings = self.runtime.settings
                if settings.latency_ms:
                    await asyncio.sleep(settings.latency_ms / 1000)
                reason = check_signature(scope, settings.credentials, settings.max_clock_skew_seconds)
                if reason is None and "digest" in Headers(scope=scope):
                    body, messages = await _read_body(receive)
                    receive = _replay(messages, receive)
                    reason = _digest_problem(Headers(scope=scope)["digest"], body)
                if reason is not None:
                    log.warning(
                        "401 %s %s: %s (client id %r)",
                        method,
                        wire_request_target(scope),
                        reason,
                        _client_id(scope),
                    )
                    await unauthorized(reason)(scope, receive, send_with_headers)
                    return
                if not _in_scope(settings, endpoint_label(method, path)):
                    log.warning("403 %s %s: the credential has no scope for it", method, path)
                    await forbidden()(scope, receive, send_with_headers)
                    return
            await self.app(scope, receive, send_with_headers)
        finally:
            if observed and not scope.get(DROPPED_SCOPE_KEY):  # drops are counted by the handler
                with self.runtime.state.lock:
                    self.runtime.state.stats.record(
                        endpoint_label(method, path), str(status["code"] or "error")
                    )


def _in_scope(settings: SandboxSettings, endpoint: str) -> bool:
    """Whether the emulated credential may call ``endpoint`` (checked after the signature, like MAG)."""
    return not (endpoint == "GET /broadcasts/whatsapp" and settings.broadcast_list == "forbidden")


def _digest_problem(value: str, body: bytes) -> str | None:
    algorithm, _, digest = value.partition("=")
    if algorithm.strip().upper() != "SHA-256" or not digest:
        return "Digest header must be SHA-256=<base64 of the body's SHA-256>"
    expected = body_digest(body).partition("=")[2]
    if not hmac.compare_digest(expected, digest.strip()):
        return "Digest does not match the request body"
    return None
