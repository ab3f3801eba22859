"""Helpers shared by the sync and async transports, so that nothing is written twice.

* URL building: the base URL, the path and a query string built in a fixed order; the exact
  ``path?query`` is both put on the wire and signed.
* Response parsing: the success envelope, Qontak's error messages, the server's ``Date``.
* :func:`request_flow`: the whole attempt loop (pacing, fresh signature per attempt, retry decisions) as a
  generator that yields :class:`Attempt` / :class:`Wait` steps. The sync client drives it with
  ``requests`` and ``time.sleep``, the async client with ``httpx`` and ``asyncio.sleep``; the loop and the
  policy exist once.
* Pagination over ``meta.pagination``, also as a pure step function.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

from qontak_provider import __version__
from qontak_provider.client.errors import QontakError, QontakPayloadError, QontakSendInDoubtError
from qontak_provider.client.models import API_PREFIX, DirectSendRequest, Pagination
from qontak_provider.client.policy import (
    HttpOutcome,
    Pacer,
    RequestKind,
    RetryPolicy,
    TransportOutcome,
    decide,
)
from qontak_provider.client.signing import parse_http_date, sign_headers

log = logging.getLogger("qontak_provider.client")

USER_AGENT = f"airflow-provider-qontak/{__version__}"
#: Default page size of list calls; Qontak's own default appears to be 100 as well.
DEFAULT_PAGE_SIZE = 100
#: Hard stop for pagination, in case a server keeps answering full pages forever.
MAX_PAGES = 10_000

QueryValue = str | int | float | bool | None | Sequence[str | int | float | bool]
Query = Mapping[str, QueryValue] | Sequence[tuple[str, QueryValue]]


# ------------------------------------------------------------------------------------------------ secrets


class Secret:
    """Holds the client secret; its repr and str never show it (defence in depth against ``vars(client)``)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("the client secret is empty: set it as the connection's password")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # pickling would carry the secret into XCom or task state: refuse
        raise TypeError("a Qontak client secret must not be pickled")


@dataclass(frozen=True)
class Credentials:
    """Client id and secret of one Mekari Developer Center application."""

    client_id: str
    secret: Secret = field(repr=False)

    def sign(self, method: str, path_with_query: str, now: datetime) -> dict[str, str]:
        """Fresh ``Date`` and ``Authorization`` headers for one attempt."""
        return sign_headers(self.client_id, self.secret.reveal(), method, path_with_query, now=now)


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
    if not query:
        return ""
    items = query.items() if isinstance(query, Mapping) else query
    pairs: list[str] = []
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            name = key if key.endswith("[]") else key + "[]"
            pairs.extend(f"{quote(name, safe='')}={_quote_value(v)}" for v in value)
        else:
            pairs.append(f"{quote(key, safe='')}={_quote_value(value)}")  # type: ignore[arg-type]
    return "&".join(pairs)


def _quote_value(value: str | int | float | bool) -> str:
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return quote(text, safe=":,@")


def channel_query(target_channel: str | None, include_inactive: bool) -> Query:
    """Query of ``GET /integrations``: optional channel kind, and ``all=true`` to include inactive ones."""
    query: list[tuple[str, QueryValue]] = [("target_channel", target_channel)]
    if include_inactive:
        query.append(("all", True))
    return query


def path_segment(value: str) -> str:
    """Quote an id for use as one path segment, so an id can never change the path."""
    if not str(value):
        raise QontakPayloadError("id", "a non-empty id", value)
    return quote(str(value), safe="")


@dataclass(frozen=True)
class Call:
    """
    One logical request (retries included).

    :param path: the absolute path and query exactly as on the wire; this is what gets signed.
    """

    method: str
    url: str
    path: str
    kind: RequestKind
    body: bytes | None = field(default=None, repr=False)


def make_call(
    base_url: str,
    method: str,
    endpoint: str,
    *,
    query: Query | None = None,
    body: Any = None,
    kind: RequestKind = "read",
) -> Call:
    """Build a :class:`Call` for ``endpoint`` (relative to ``/qontak/chat/v1``)."""
    prefix = urlsplit(base_url).path
    path = f"{prefix}{API_PREFIX}/{endpoint.lstrip('/')}"
    encoded = encode_query(query)
    if encoded:
        path += "?" + encoded
    origin = base_url[: len(base_url) - len(prefix)] if prefix else base_url
    data = json.dumps(body, ensure_ascii=False).encode("utf-8") if body is not None else None
    return Call(method=method.upper(), url=origin + path, path=path, kind=kind, body=data)


def base_headers(call: Call) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if call.body is not None:
        headers["Content-Type"] = "application/json"
    return headers


# ---------------------------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class RawResponse:
    """What a transport got back: status, headers (case-insensitive lookup done by the transport) and body."""

    status: int
    content: bytes = field(repr=False)
    date: str | None = None
    retry_after: str | None = None


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
        text = content[:200].decode("utf-8", "replace").strip() if content else ""
        return (text,) if text else ()
    found: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, str) and value.strip():
            found.append(value.strip())
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


def http_outcome(response: RawResponse) -> HttpOutcome:
    return HttpOutcome(
        status=response.status,
        messages=parse_error_messages(response.content),
        retry_after=response.retry_after,
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
        raise unexpected(call, response.status, "the response is not Qontak's JSON envelope")
    meta = body.get("meta")
    pagination = None
    if isinstance(meta, dict) and isinstance(meta.get("pagination"), dict):
        pagination = Pagination.model_validate(meta["pagination"])
    return body["data"], pagination


def unexpected(call: Call, status: int, what: str) -> QontakError:
    """The error for a 2xx answer we cannot read; for a send it is in doubt (Qontak accepted *something*)."""
    if call.kind == "send":
        return QontakSendInDoubtError(
            f"The send {call.method} {call.path} was accepted (HTTP {status}) but {what}, so the broadcast "
            "id is unknown. It was NOT retried: check the broadcast list before sending again.",
            status_code=status,
            method=call.method,
            path=call.path,
        )
    return QontakError(
        f"Qontak answered {call.method} {call.path} with HTTP {status} but {what}. Check that the base URL "
        "points at the Mekari API gateway (e.g. https://api.mekari.com), not at a web page or proxy.",
        status_code=status,
        method=call.method,
        path=call.path,
    )


def parse_model(call: Call, status: int, model: Any, data: Any) -> Any:
    """Validate ``data`` into ``model`` (a pydantic model class); a bad shape becomes a QontakError."""
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as err:
        errors = err.errors()
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else "data"
        raise unexpected(call, status, f"its {model.__name__} has an invalid {where!r}") from None


def direct_send_body(payload: Mapping[str, Any] | DirectSendRequest) -> dict[str, Any]:
    """Validate a send payload (dict or model) and return the exact JSON body to send."""
    from qontak_provider.client.payload import parse_payload

    return parse_payload(payload).to_wire()


# ----------------------------------------------------------------------------------------------- the loop


@dataclass(frozen=True)
class Attempt:
    """Step: make attempt number :attr:`number` with these headers (fresh Date and signature)."""

    number: int
    headers: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class Wait:
    """Step: sleep this many seconds (pacing or backoff), then continue the flow with ``None``."""

    seconds: float


Step = Attempt | Wait


class SharedPacer:
    """
    A :class:`~qontak_provider.client.policy.Pacer` behind a lock, shared by all threads/tasks of a client.

    The lock is a :class:`threading.Lock` for both transports: :meth:`Pacer.reserve` never blocks or awaits,
    so the lock is held for microseconds, and unlike an :class:`asyncio.Lock` it also protects a pacer shared
    by clients on different threads or event loops. The caller sleeps *outside* the lock.
    """

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer
        self._lock = threading.Lock()

    def reserve(self) -> float:
        with self._lock:
            return self.pacer.reserve()

    @property
    def pauses(self) -> int:
        with self._lock:
            return self.pacer.pauses

    def paused_for(self) -> float:
        with self._lock:
            return self.pacer.paused_for()

    def slow_down(self, seconds: float) -> None:
        with self._lock:
            self.pacer.slow_down(seconds)


def request_flow(
    call: Call,
    *,
    credentials: Credentials,
    policy: RetryPolicy,
    pacer: SharedPacer | None,
    random: Callable[[], float],
    now: Callable[[], datetime],
) -> Generator[Step, RawResponse | TransportOutcome | None, RawResponse]:
    """
    The attempt loop of one request, as a generator the transports drive.

    It yields :class:`Wait` (the driver sleeps and sends back ``None``) and :class:`Attempt` (the driver makes
    the request with the given headers and sends back a :class:`RawResponse` or a
    :class:`~qontak_provider.client.policy.TransportOutcome`). It returns the 2xx :class:`RawResponse` or
    raises the :class:`QontakError` the policy decided on. Sends are paced before every attempt.
    """
    attempt = 0
    while True:
        attempt += 1
        if call.kind == "send" and pacer is not None:
            while True:
                pauses = pacer.pauses  # read before booking: a pause the booking already saw is no news
                wait = pacer.reserve()
                if wait <= 0:
                    break
                yield Wait(wait)
                # Another sender's 429 while this one slept: its slot now lies inside the new pause, and
                # using it would only draw a 429 of its own, so book a new slot after the pause instead.
                if pacer.pauses == pauses or pacer.paused_for() <= 0:
                    break
        # Signed per attempt: a retry after a long backoff must not reuse a stale Date.
        headers = {**base_headers(call), **credentials.sign(call.method, call.path, now())}
        result = yield Attempt(attempt, headers)
        if isinstance(result, RawResponse) and 200 <= result.status < 300:
            return result
        if result is None:  # pragma: no cover - a driver bug, not a runtime condition
            raise RuntimeError("the transport returned no outcome for an attempt")
        outcome = http_outcome(result) if isinstance(result, RawResponse) else result
        decision = decide(
            call.kind,
            outcome,
            attempt=attempt,
            policy=policy,
            method=call.method,
            path=call.path,
            random=random,
            now=now(),
        )
        if decision.pause_sends is not None and pacer is not None:
            pacer.slow_down(decision.pause_sends)
        if decision.error is not None:
            raise decision.error
        what = f"HTTP {outcome.status}" if isinstance(outcome, HttpOutcome) else outcome.kind.value
        log.warning(
            "Qontak %s %s failed (%s, attempt %d of %d); retrying in %.2f s",
            call.method,
            call.path,
            what,
            attempt,
            policy.max_attempts,
            decision.delay,
        )
        if decision.delay > 0:
            yield Wait(decision.delay)


def log_attempt(call: Call, status: int | str, elapsed: float, attempt: int) -> None:
    """DEBUG line per attempt: method, path, status and time only (never headers or bodies)."""
    log.debug("%s %s -> %s in %.3f s (attempt %d)", call.method, call.path, status, elapsed, attempt)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# ------------------------------------------------------------------------------------------------ paging


def page_query(query: Query | None, offset: int, limit: int) -> list[tuple[str, QueryValue]]:
    """The query of one page: caller filters first (fixed order), then ``offset`` and ``limit``."""
    items: Iterable[tuple[str, QueryValue]] = query.items() if isinstance(query, Mapping) else (query or ())
    pairs = [(k, v) for k, v in items if k not in ("offset", "limit")]
    return [*pairs, ("offset", offset), ("limit", limit)]


def next_offset(offset: int, limit: int, page_len: int, pagination: Pagination | None) -> int | None:
    """
    The ``offset`` of the page after page ``offset`` (1-based page number), or ``None`` when it was the last.

    Stops on an empty page, on a page without pagination metadata (an unpaginated answer), when
    ``offset * limit`` reaches the reported ``total``, on a short page when no total is reported, and after
    :data:`MAX_PAGES`.
    """
    if page_len == 0 or pagination is None:
        return None
    size = pagination.limit or limit
    if pagination.total is not None:
        if offset * size >= pagination.total:
            return None
    elif page_len < size:
        return None
    if offset >= MAX_PAGES:
        log.warning("Stopping pagination after %d pages; narrow the filters", MAX_PAGES)
        return None
    return offset + 1


def page_signature(data: Any) -> tuple[str, ...] | None:
    """Ids of a page, to notice a server that ignores ``offset`` and repeats the same page forever."""
    if not isinstance(data, list):
        return None
    ids = tuple(str(item.get("id")) for item in data if isinstance(item, dict))
    return ids if ids and all(i != "None" for i in ids) else None


class Paginator:
    """
    Pure page bookkeeping shared by both clients: which query to ask next, when to stop.

    Usage: ``while (query := pager.next_query()) is not None: pager.feed(*fetch(query))``.
    """

    def __init__(self, query: Query | None, limit: int) -> None:
        if limit < 1:
            raise ValueError("page_size must be at least 1")
        self._query = query
        self._limit = limit
        self._offset: int | None = 1
        self._previous: tuple[str, ...] | None = None

    def next_query(self) -> list[tuple[str, QueryValue]] | None:
        if self._offset is None:
            return None
        return page_query(self._query, self._offset, self._limit)

    def feed(self, data: Any, pagination: Pagination | None) -> list[Any]:
        """Record one page's ``data`` and ``meta.pagination``; return the page's items (new ones only)."""
        assert self._offset is not None, "feed() after the last page"
        items = data if isinstance(data, list) else ([data] if data else [])
        signature = page_signature(items)
        if signature is not None and signature == self._previous:
            # The server ignored offset and repeated the page: stop rather than loop or duplicate.
            log.warning("Qontak repeated page %d of a list; stopping pagination there", self._offset)
            self._offset = None
            return []
        self._previous = signature
        self._offset = next_offset(self._offset, self._limit, len(items), pagination)
        return items


# ------------------------------------------------------------------------------------------ client core


def select_templates(templates: Iterable[Any], name: str | None, language: str | None) -> list[Any]:
    """Filter templates by exact name and language (case-insensitive), client-side."""
    result = list(templates)
    if name is not None:
        result = [t for t in result if (t.name or "").strip().casefold() == name.strip().casefold()]
    if language is not None:
        result = [t for t in result if (t.language or "").casefold() == language.casefold()]
    return result


def pick_template(templates: Sequence[Any], name: str, language: str | None) -> Any:
    """
    Choose the one template ``find_template`` returns from the name matches.

    Among several matches an ``APPROVED`` one wins (deleted or rejected copies of a name are common); when
    still ambiguous the caller must name the language.
    """
    matches = select_templates(templates, name, language)
    if not matches:
        from qontak_provider.client.errors import QontakNotFoundError

        others = sorted({t.language or "?" for t in select_templates(templates, name, None)})
        hint = (
            f" It exists in language(s) {', '.join(others)}."
            if others
            else " Check the name in Qontak (Settings > WhatsApp templates)."
        )
        lang = f" in language {language!r}" if language else ""
        raise QontakNotFoundError(f"No WhatsApp template named {name!r}{lang}.{hint}", status_code=None)
    approved = [t for t in matches if (t.status or "").upper() == "APPROVED"]
    candidates = approved or matches
    if len(candidates) == 1:
        return candidates[0]
    languages = sorted({t.language or "?" for t in candidates})
    if len(languages) > 1:
        raise QontakPayloadError(
            "language",
            f"one of {languages} (template {name!r} exists in several languages)",
            language,
            hint="Pass the language of the template to use.",
        )
    ids = ", ".join(t.id for t in candidates)
    raise QontakPayloadError(
        "message_template_id",
        f"a unique template; {name!r} matches several ({ids})",
        hint="Pass the template id instead of its name.",
    )


class ClientCore:
    """
    Configuration, signing and request building shared by :class:`QontakClient` and
    :class:`AsyncQontakClient`; the subclasses only add I/O.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        base_url: str,
        timeout: float,
        connect_timeout: float,
        rate_per_minute: float | None,
        retry_policy: RetryPolicy | None,
        page_size: int,
        clock: Callable[[], float],
        random: Callable[[], float],
        now: Callable[[], datetime],
    ) -> None:
        if not client_id:
            raise ValueError("the client id is empty: set it as the connection's login")
        if timeout <= 0 or connect_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.base_url = normalize_base_url(base_url)
        self._credentials = Credentials(client_id, Secret(client_secret))
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.retry_policy = retry_policy or RetryPolicy()
        self.page_size = page_size
        #: The pure pacer (exposed for inspection and tests); all access goes through a lock.
        self.pacer = Pacer(rate_per_minute, clock)
        self._shared_pacer = SharedPacer(self.pacer)
        self._random = random
        self._now = now
        self._skew: float | None = None

    @property
    def client_id(self) -> str:
        return self._credentials.client_id

    @property
    def rate_per_minute(self) -> float | None:
        return self.pacer.rate_per_minute

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, client_id={self.client_id!r})"

    def server_time_skew(self) -> float | None:
        """
        Seconds the local clock is ahead of Qontak's (negative: behind), from the last response's ``Date``.

        ``None`` before the first response or when the server sent no ``Date``. More than 300 s either way
        makes the gateway reject every signature.
        """
        return self._skew

    def _call(
        self,
        method: str,
        endpoint: str,
        *,
        query: Query | None = None,
        body: Any = None,
        kind: RequestKind = "read",
    ) -> Call:
        return make_call(self.base_url, method, endpoint, query=query, body=body, kind=kind)

    def _flow(self, call: Call) -> Generator[Step, RawResponse | TransportOutcome | None, RawResponse]:
        return request_flow(
            call,
            credentials=self._credentials,
            policy=self.retry_policy,
            pacer=self._shared_pacer,
            random=self._random,
            now=self._now,
        )

    def _observe(self, call: Call, response: RawResponse, elapsed: float, attempt: int) -> None:
        log_attempt(call, response.status, elapsed, attempt)
        skew = clock_skew(response.date, self._now())
        if skew is not None:
            self._skew = skew

    # Query builders, so both clients send byte-identical requests.

    @staticmethod
    def _templates_query(
        status: str | None, category: str | Sequence[str] | None, query: str | None
    ) -> list[tuple[str, QueryValue]]:
        categories = [category] if isinstance(category, str) else category
        return [
            ("status", status),
            ("category[]", list(categories) if categories else None),
            ("query", query),
        ]

    @staticmethod
    def _filters_query(filters: Mapping[str, QueryValue]) -> list[tuple[str, QueryValue]]:
        # Sorted, so the same filters always produce the same signed request-line.
        return sorted(filters.items())
