"""What goes over the wire: base URL, path and query, headers, and reading the answers.

Shared by the sync and async transports, so that both put byte-identical requests on the wire and read
answers the same way:

* :func:`make_call` builds one :class:`Call`: the absolute ``path?query`` that is both sent and signed (the
  query is encoded here, in a fixed order, and never re-encoded by ``requests`` or ``httpx``), and the JSON
  body as bytes;
* :func:`base_headers` are the unsigned headers of a call, ``Digest`` included for a body;
* :func:`unwrap`, :func:`parse_model` and :func:`parse_error_messages` read Qontak's envelopes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from qontak_provider import __version__
from qontak_provider.client.errors import QontakError, QontakPayloadError, QontakSendInDoubtError
from qontak_provider.client.models import API_PREFIX, Pagination
from qontak_provider.client.payload import check_text
from qontak_provider.client.policy import HttpOutcome, RequestKind
from qontak_provider.client.signing import body_digest, parse_http_date

if TYPE_CHECKING:
    from qontak_provider.client.media import MultipartBody

USER_AGENT = f"airflow-provider-qontak/{__version__}"

QueryValue = str | int | float | bool | None | Sequence[str | int | float | bool]
Query = Mapping[str, QueryValue] | Sequence[tuple[str, QueryValue]]


# -------------------------------------------------------------------------------------------------- URLs


def normalize_base_url(base_url: str) -> str:
    """
    Return ``scheme://host[:port][/prefix]`` without a trailing slash.

    A host without scheme means https; a base URL ending in ``/qontak/chat/v1`` (as in the official SDK)
    is accepted and the prefix dropped, because the client adds it itself.
    """
    text = (base_url or "").strip()
    if not text:
        raise ValueError("the base URL is empty")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"the base URL must be http(s)://host[:port], got {base_url!r}")
    path = parts.path.rstrip("/")
    if path.endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)]
    return f"{parts.scheme}://{parts.netloc}{path}"


def query_items(query: Query | None) -> list[tuple[str, QueryValue]]:
    """``query`` as a list of pairs, whichever of the two accepted shapes it came in."""
    if not query:
        return []
    return list(query.items() if isinstance(query, Mapping) else query)


def encode_query(query: Query | None) -> str:
    """
    Encode ``query`` in a fixed order, exactly as it will be sent and signed.

    Sequences become repeated ``key[]=v`` pairs (the ``qs`` "brackets" format of the official SDK),
    ``None`` values are dropped, booleans are ``true``/``false``. The brackets go out percent-encoded
    (``key%5B%5D=v``) because urllib3 (under requests) re-encodes literal brackets, and what is signed must
    be byte-for-byte what is sent; httpx keeps the same bytes. Otherwise only characters that must be
    escaped are encoded, so the raw and the percent-decoded forms differ as little as possible (the gateway's
    canonicalisation is undocumented).
    """
    pairs: list[str] = []
    for key, value in query_items(query):
        check_text("params", key, max_length=200, what="parameter names that are text")
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            name = key if key.endswith("[]") else key + "[]"
            pairs.extend(f"{quote(name, safe='')}={_quote_value(key, v)}" for v in value)
        else:
            pairs.append(f"{quote(key, safe='')}={_quote_value(key, value)}")
    return "&".join(pairs)


def _quote_value(key: str, value: object) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)) and math.isfinite(value):
        text = str(value)
    else:
        what = "a text, number or boolean (or a list of them)"
        text = check_text(f"params[{key!r}]", value, max_length=2000, what=what)
    return quote(text, safe=":,@")


def path_segment(value: object, field: str = "id") -> str:
    """Quote an id for use as one path segment, so an id can never change the path."""
    if value is None or isinstance(value, bool) or not str(value):
        raise QontakPayloadError(field, "a non-empty id", value)
    return quote(check_text(field, str(value), max_length=200, what="an id"), safe="")


def gateway_endpoint(path: object) -> str:
    """
    The endpoint (relative to ``/qontak/chat/v1``) of a path given to the generic ``request()``.

    ``integrations``, ``/integrations`` and ``/qontak/chat/v1/integrations`` are the same endpoint. The
    query goes in ``params`` (it is signed); a full URL, ``..`` or an empty segment is refused, so that a
    path can never leave the Qontak Chat API.

    :raises QontakPayloadError: naming ``path``.
    """
    if not isinstance(path, str) or not path.strip():
        raise QontakPayloadError("path", "a Qontak Chat API path such as 'templates/languages'", path)
    text = check_text("path", path, max_length=500, what="a path").strip()
    if "://" in text or "?" in text or "#" in text:
        raise QontakPayloadError(
            "path",
            "a path without scheme, host or query (put the query in params=)",
            text,
        )
    text = text.removeprefix(API_PREFIX).strip("/")
    segments = text.split("/")
    if not text or any(segment in ("", ".", "..") for segment in segments):
        raise QontakPayloadError("path", "a path of non-empty segments, without '.' or '..'", path)
    return "/".join(quote(segment, safe="{}@:-._~!$&'()*+,;=") for segment in segments)


@dataclass(frozen=True)
class Call:
    """
    One logical request (retries included).

    :param path: the absolute path and query exactly as on the wire; this is what gets signed.
    :param target: what an id lookup looks for (e.g. ``"template 'abc'"``), ``None`` for a collection
        path; decides what a 404 (or a 422 "Couldn't find ...") means.
    """

    method: str
    url: str
    path: str
    kind: RequestKind
    body: bytes | MultipartBody | None = field(default=None, repr=False)
    target: str | None = None


def make_call(
    base_url: str,
    method: str,
    endpoint: str,
    *,
    query: Query | None = None,
    body: Any = None,
    kind: RequestKind = "read",
    target: str | None = None,
) -> Call:
    """Build a :class:`Call` for ``endpoint`` (relative to ``/qontak/chat/v1``)."""
    prefix = urlsplit(base_url).path
    path = f"{prefix}{API_PREFIX}/{endpoint.lstrip('/')}"
    encoded = encode_query(query)
    if encoded:
        path += "?" + encoded
    origin = base_url[: len(base_url) - len(prefix)] if prefix else base_url
    data = _json_body(body) if body is not None else None
    return Call(method=method.upper(), url=origin + path, path=path, kind=kind, body=data, target=target)


def _json_body(body: Any) -> bytes:
    """``body`` as the JSON text sent: refused, naming ``json``, when it is not JSON (a set, NaN, ...)."""
    try:
        return json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError) as err:
        raise QontakPayloadError(
            "json", "a JSON body (objects, lists, text, finite numbers)", str(err)
        ) from None


def base_headers(call: Call) -> dict[str, str]:
    """
    The headers of ``call`` besides the signature.

    A body carries ``Digest: SHA-256=<base64>``: the current Mekari KB calls it required for requests with
    a body, and a gateway without body validation ignores it.
    """
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if isinstance(call.body, bytes):
        headers["Content-Type"] = "application/json"
        headers["Digest"] = body_digest(call.body)
    elif call.body is not None:  # an upload, streamed: its length and digest are known before it is sent
        headers["Content-Type"] = call.body.content_type
        headers["Content-Length"] = str(call.body.length)  # so that the streamed body is not sent chunked
        headers["Digest"] = call.body.digest
    return headers


# ---------------------------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class RawResponse:
    """What a transport got back: status, headers (case-insensitive lookup done by the transport) and body."""

    status: int
    content: bytes = field(repr=False)
    date: str | None = None
    retry_after: str | None = None
    request_id: str | None = None


def parse_json(content: bytes) -> Any:
    """Decode a JSON body; ``None`` when it is empty or not JSON."""
    if not content:
        return None
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None


def parse_error_messages(content: bytes) -> tuple[str, ...]:
    """
    Extract the human messages of an error body.

    Understands Qontak's ``{"status":"error","error":{"code":422,"messages":[...]}}``, the gateway's
    ``{"message":"Unauthorized"}`` and a few tolerant variants; a non-JSON body yields its first
    200 characters.
    """
    body = parse_json(content)
    if body is None:
        text = excerpt(content)
        return (text,) if text else ()
    found: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, str) and value.strip():
            text = value.strip()
            # A page quoted inside JSON is read like a page that came alone (long text is cut in messages).
            found.append(excerpt(text) if "<" in text and ">" in text else text)
        elif isinstance(value, list):
            for item in value:
                add(item)
        elif isinstance(value, dict):
            for key in ("messages", "message", "detail", "title"):
                if key in value:
                    add(value[key])

    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, (dict, str, list)):
            add(error)
        for key in ("errors", "messages", "message", "detail"):
            if key in body:
                add(body[key])
    else:
        add(body)
    # keep order, drop duplicates
    return tuple(dict.fromkeys(found))


#: Longest excerpt of a server's text quoted in an error message.
MAX_EXCERPT = 160
_TITLE_RE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG_RE = re.compile(r"<[^>]*>")
_SPACE_RE = re.compile(r"\s+")


def excerpt(content: bytes | str, limit: int = MAX_EXCERPT) -> str:
    """
    A short, readable excerpt of a body that is not JSON: an HTML page (a proxy's or load balancer's 502)
    becomes its ``<title>`` or its text without tags, white space is collapsed, and the result is cut to
    ``limit`` characters.
    """
    raw = content.encode("utf-8", "replace") if isinstance(content, str) else content
    head = raw[:20_000]
    title = _TITLE_RE.search(head)
    text = (title.group(1) if title else head).decode("utf-8", "replace")
    if title is None and "<" in text and ">" in text:
        text = _TAG_RE.sub(" ", text)
    text = _SPACE_RE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def http_outcome(response: RawResponse) -> HttpOutcome:
    return HttpOutcome(
        status=response.status,
        messages=parse_error_messages(response.content),
        retry_after=response.retry_after,
        request_id=response.request_id,
        date=response.date,
    )


def clock_skew(date_header: str | None, now: datetime) -> float | None:
    """Seconds the local clock is ahead of the server's ``Date`` (negative: behind); ``None`` if unknown."""
    if not date_header:
        return None
    try:
        server = parse_http_date(date_header)
    except ValueError:
        return None
    return (now - server).total_seconds()


def unwrap(call: Call, response: RawResponse) -> tuple[Any, Pagination | None]:
    """Return ``(data, pagination)`` of a success envelope; raise a :class:`QontakError` for a garbled one."""
    body = parse_json(response.content)
    if not isinstance(body, dict) or "data" not in body:
        raise unexpected(call, response, "the response is not Qontak's JSON envelope")
    meta = body.get("meta")
    pagination = None
    if isinstance(meta, dict) and isinstance(meta.get("pagination"), dict):
        from pydantic import ValidationError

        try:
            pagination = Pagination.model_validate(meta["pagination"])
        except ValidationError:
            pagination = None  # advisory only: the page rule does not need it (see paging.py)
    return body["data"], pagination


def envelope(call: Call, response: RawResponse) -> dict[str, Any]:
    """Qontak's whole JSON answer of the generic ``request()`` (``{}`` for an empty success, e.g. a 204)."""
    if not response.content.strip():
        return {}
    body = parse_json(response.content)
    if not isinstance(body, dict):
        raise unexpected(call, response, "the response is not a JSON object")
    return body


def unexpected(call: Call, response: RawResponse, what: str) -> QontakError:
    """The error for a 2xx answer we cannot read; for a send it is in doubt (Qontak accepted *something*)."""
    status = response.status
    rid = f" (request id {response.request_id})" if response.request_id else ""
    if call.kind != "read":
        result = "the broadcast id" if call.kind == "send" else "its result"
        check = (
            "the broadcast list before sending again" if call.kind == "send" else "Qontak before repeating it"
        )
        return QontakSendInDoubtError(
            f"The {'send' if call.kind == 'send' else 'request'} {call.method} {call.path} was accepted "
            f"(HTTP {status}){rid} but {what}, so {result} is unknown. It was NOT retried: check {check}.",
            status_code=status,
            method=call.method,
            path=call.path,
            request_id=response.request_id,
        )
    return QontakError(
        f"Qontak answered {call.method} {call.path} with HTTP {status}{rid} but {what}. Check that the base "
        "URL points at the Mekari API gateway (e.g. https://api.mekari.com), not at a web page or proxy.",
        status_code=status,
        method=call.method,
        path=call.path,
        request_id=response.request_id,
    )


def parse_model(call: Call, response: RawResponse, model: Any, data: Any) -> Any:
    """Validate ``data`` into ``model`` (a pydantic model class); a bad shape becomes a QontakError."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as err:
        errors = err.errors()
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else "data"
        raise unexpected(call, response, f"its {model.__name__} has an invalid {where!r}") from None
