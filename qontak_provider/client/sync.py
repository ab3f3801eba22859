"""Synchronous Qontak Chat API client over one pooled :class:`requests.Session`.

The client is thread-safe: the bulk-send operator calls :meth:`QontakClient.send_direct` from several threads,
which share the connection pool and one send pacer.
"""

from __future__ import annotations

import random as _random
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from qontak_provider.client._transport import (
    DEFAULT_PAGE_SIZE,
    Attempt,
    Call,
    ClientCore,
    Paginator,
    QueryValue,
    RawResponse,
    Wait,
    channel_query,
    direct_send_body,
    log_attempt,
    parse_model,
    path_segment,
    pick_template,
    select_templates,
    unwrap,
    utcnow,
)
from qontak_provider.client.models import (
    DEFAULT_BASE_URL,
    Broadcast,
    BroadcastLogEntry,
    ChannelIntegration,
    DirectSendRequest,
    Pagination,
    Template,
)
from qontak_provider.client.policy import FailureKind, RetryPolicy, TransportOutcome

#: Connections kept per host; sized for the bulk operator's worker threads.
POOL_MAXSIZE = 32


def _causes(err: BaseException) -> Iterator[BaseException]:
    """The exception and all it wraps (``__cause__``, ``__context__``, urllib3 ``reason``, ``args``)."""
    seen: set[int] = set()
    stack = [err]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        stack.extend(e for e in linked if isinstance(e, BaseException))


def classify_requests_error(err: requests.RequestException) -> TransportOutcome:  # noqa: PLR0911
    """
    Map a requests exception to the phase that failed.

    Only failures before the connection existed count as :attr:`FailureKind.CONNECT` (safe to repeat a send):
    a refused or timed-out connect (urllib3 ``NewConnectionError`` / ``ConnectTimeoutError``) or a proxy that
    could not be reached. Read timeouts, which requests also wraps in ``ConnectionError`` while reading the
    body, and dropped connections may have reached Qontak.
    """
    from urllib3.exceptions import ConnectTimeoutError, ReadTimeoutError

    chain = list(_causes(err))
    root = chain[-1] if len(chain) > 1 else err
    detail = f"{type(root).__name__}: {str(root)[:200]}"
    if isinstance(err, requests.exceptions.SSLError):
        return TransportOutcome(FailureKind.FATAL, detail)
    if isinstance(err, (requests.exceptions.ConnectTimeout, requests.exceptions.ProxyError)):
        return TransportOutcome(FailureKind.CONNECT, detail)
    if isinstance(err, requests.exceptions.ReadTimeout) or any(
        isinstance(e, ReadTimeoutError) for e in chain
    ):
        return TransportOutcome(FailureKind.TIMEOUT, detail)
    if isinstance(err, requests.exceptions.ConnectionError):
        # NewConnectionError (refused, DNS) is a subclass of ConnectTimeoutError in urllib3 2.
        if any(isinstance(e, ConnectTimeoutError) for e in chain):
            return TransportOutcome(FailureKind.CONNECT, detail)
        return TransportOutcome(FailureKind.DISCONNECTED, detail)
    if isinstance(
        err,
        (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidHeader,
        ),
    ):
        return TransportOutcome(FailureKind.FATAL, detail)
    if isinstance(err, requests.exceptions.Timeout):
        return TransportOutcome(FailureKind.TIMEOUT, detail)
    # ChunkedEncodingError, ContentDecodingError and anything new: the answer broke off mid-way.
    return TransportOutcome(FailureKind.DISCONNECTED, detail)


class QontakClient(ClientCore):
    """
    Client of the Qontak Chat WhatsApp API on the Mekari gateway (or the offline sandbox).

    Every request is HMAC-signed afresh per attempt; list calls return all pages; sends are paced and only
    repeated when Qontak cannot have processed them (see :mod:`qontak_provider.client.policy`).

    :param client_id: HMAC client id from the Mekari Developer Center.
    :param client_secret: HMAC client secret; never logged, never shown in reprs or errors.
    :param base_url: gateway URL, e.g. ``https://api.mekari.com``; a host without scheme means https.
    :param timeout: read timeout in seconds of every request.
    :param connect_timeout: connect timeout in seconds of every request.
    :param rate_per_minute: client-side pacing of :meth:`send_direct`, evenly spaced; ``0`` or ``None``
        disables it.
    :param retry_policy: retry settings; default :class:`~qontak_provider.client.policy.RetryPolicy()`.
    :param session: a :class:`requests.Session` to use as is; by default the client makes a pooled one and
        closes it in :meth:`close`.
    :param page_size: ``limit`` asked for on list calls.
    :param clock: monotonic clock for pacing (tests inject a fake one).
    :param sleep: how to wait for pacing and backoff (tests inject a fake one).
    :param random: ``[0, 1)`` source for retry jitter.
    :param now: wall clock (aware UTC datetime) for the signed ``Date`` header.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        rate_per_minute: float | None = 60,
        retry_policy: RetryPolicy | None = None,
        session: requests.Session | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(
            client_id,
            client_secret,
            base_url=base_url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            rate_per_minute=rate_per_minute,
            retry_policy=retry_policy,
            page_size=page_size,
            clock=clock,
            random=random,
            now=now,
        )
        self._sleep = sleep
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            # Retries are ours (urllib3's would repeat sends blindly); the pool fits the bulk operator's
            # threads.
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_MAXSIZE, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        self._session = session

    # ------------------------------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the connection pool (only if the client created it)."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> QontakClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -------------------------------------------------------------------------------------------- plumbing

    def _attempt(self, call: Call, step: Attempt) -> RawResponse | TransportOutcome:
        started = time.perf_counter()
        try:
            response = self._session.request(
                call.method,
                call.url,
                data=call.body,
                headers=step.headers,
                timeout=(self.connect_timeout, self.timeout),
                # A redirect would replay the signature against another path (and could repeat a send).
                allow_redirects=False,
            )
        except requests.RequestException as err:
            outcome = classify_requests_error(err)
            log_attempt(call, outcome.kind.value, time.perf_counter() - started, step.number)
            return outcome
        raw = RawResponse(
            status=response.status_code,
            content=response.content,
            date=response.headers.get("Date"),
            retry_after=response.headers.get("Retry-After"),
        )
        self._observe(call, raw, time.perf_counter() - started, step.number)
        return raw

    def _execute(self, call: Call) -> RawResponse:
        flow = self._flow(call)
        step = next(flow)
        while True:
            if isinstance(step, Wait):
                self._sleep(step.seconds)
                reply: RawResponse | TransportOutcome | None = None
            else:
                reply = self._attempt(call, step)
            try:
                step = flow.send(reply)
            except StopIteration as done:
                return done.value

    def _get(self, endpoint: str, query: Any = None) -> tuple[Call, RawResponse, Any, Pagination | None]:
        call = self._call("GET", endpoint, query=query)
        response = self._execute(call)
        data, pagination = unwrap(call, response)
        return call, response, data, pagination

    def _get_one(self, endpoint: str, model: Any) -> Any:
        call, response, data, _ = self._get(endpoint)
        return parse_model(call, response.status, model, data)

    def _iter_pages(self, endpoint: str, query: Any, model: Any) -> Iterator[tuple[list[Any], Pagination]]:
        pager = Paginator(query, self.page_size)
        while (page_query := pager.next_query()) is not None:
            call, response, data, pagination = self._get(endpoint, page_query)
            items = pager.feed(data, pagination)
            parsed = [parse_model(call, response.status, model, item) for item in items]
            yield parsed, pagination or Pagination(offset=1, limit=len(parsed), total=len(parsed))

    def _list(self, endpoint: str, query: Any, model: Any) -> list[Any]:
        return [item for page, _ in self._iter_pages(endpoint, query, model) for item in page]

    # --------------------------------------------------------------------------------------------- channels

    def list_channels(
        self, target_channel: str | None = None, *, include_inactive: bool = False
    ) -> list[ChannelIntegration]:
        """
        Return every channel integration (all pages).

        :param target_channel: only this channel type, e.g. ``wa`` (on-premise WABA) or ``wa_cloud``.
        :param include_inactive: also inactive integrations (Qontak's ``all=true``); by default only the
            active ones, which is what Qontak lists without the flag.
        """
        return self._list("integrations", channel_query(target_channel, include_inactive), ChannelIntegration)

    def get_channel(self, channel_id: str) -> ChannelIntegration:
        """Return one channel integration by id."""
        return self._get_one(f"integrations/{path_segment(channel_id)}", ChannelIntegration)

    # -------------------------------------------------------------------------------------------- templates

    def list_templates(
        self,
        *,
        status: str | None = None,
        category: str | list[str] | None = None,
        name: str | None = None,
        language: str | None = None,
        query: str | None = None,
    ) -> list[Template]:
        """
        Return the WhatsApp templates (all pages).

        :param status: server-side filter, e.g. ``APPROVED``.
        :param category: server-side filter (``category[]``), e.g. ``AUTHENTICATION`` or a list.
        :param name: exact template name (filtered client-side; the API has no exact-name filter).
        :param language: exact language code, e.g. ``id`` or ``en_US`` (filtered client-side).
        :param query: Qontak's free-text search.
        """
        templates = self._list("templates/whatsapp", self._templates_query(status, category, query), Template)
        return select_templates(templates, name, language)

    def get_template(self, template_id: str) -> Template:
        """Return one WhatsApp template by id."""
        return self._get_one(f"templates/{path_segment(template_id)}/whatsapp", Template)

    def find_template(self, name: str, language: str | None = None) -> Template:
        """
        Return the template called ``name`` (in ``language``, if given).

        An ``APPROVED`` template wins over other copies of the same name.

        :raises QontakNotFoundError: no template has that name (and language).
        :raises QontakPayloadError: the name exists in several languages and none was given, or is ambiguous.
        """
        return pick_template(self.list_templates(), name, language)

    # ------------------------------------------------------------------------------------------- broadcasts

    def send_direct(self, payload: Mapping[str, Any] | DirectSendRequest) -> Broadcast:
        """
        Send one WhatsApp template message (``POST /broadcasts/whatsapp/direct``) and return the broadcast.

        A dict is validated through :class:`~qontak_provider.client.models.DirectSendRequest` and sent as
        its :meth:`~qontak_provider.client.models.DirectSendRequest.to_wire` form, so a documented payload
        goes out verbatim. Sends are paced at ``rate_per_minute``. Retried only on 429 and when the
        connection could not be opened.

        :raises QontakPayloadError: the payload is not a valid direct-send body (nothing was sent).
        :raises QontakSendInDoubtError: the message may or may not have been sent; do not blindly resend.
        """
        call = self._call("POST", "broadcasts/whatsapp/direct", body=direct_send_body(payload), kind="send")
        response = self._execute(call)
        data, _ = unwrap(call, response)
        return parse_model(call, response.status, Broadcast, data)

    def get_broadcast(self, broadcast_id: str) -> Broadcast:
        """Return one broadcast (with its ``message_status_count``)."""
        return self._get_one(f"broadcasts/{path_segment(broadcast_id)}/whatsapp", Broadcast)

    def get_broadcast_log(self, broadcast_id: str) -> list[BroadcastLogEntry]:
        """Return the per-recipient log of a broadcast (all pages); empty right after the send."""
        return self._list(f"broadcasts/{path_segment(broadcast_id)}/whatsapp/log", None, BroadcastLogEntry)

    def iter_broadcast_pages(self, **filters: QueryValue) -> Iterator[tuple[list[Broadcast], Pagination]]:
        """
        Yield the broadcasts page by page, with each page's pagination.

        :param filters: query filters such as ``start_date``, ``end_date``, ``category``; list values are sent
            as ``key[]=v`` (e.g. ``target_channel=["wa"]``).
        """
        return self._iter_pages("broadcasts/whatsapp", self._filters_query(filters), Broadcast)

    def list_broadcasts(self, **filters: QueryValue) -> list[Broadcast]:
        """Return all broadcasts matching ``filters`` (all pages); see :meth:`iter_broadcast_pages`."""
        return [b for page, _ in self.iter_broadcast_pages(**filters) for b in page]
