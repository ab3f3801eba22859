"""Asynchronous Qontak Chat API client over :class:`httpx.AsyncClient`, for triggers and async code.

It drives the same request flow, policy and pacer as :class:`~qontak_provider.client.sync.QontakClient`;
only the I/O (httpx, :func:`asyncio.sleep`) differs.
"""

from __future__ import annotations

import asyncio
import math
import random as _random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from qontak_provider.client.core import MAX_IDLE_REUSE_SECONDS, ClientCore
from qontak_provider.client.flow import Attempt, Wait, log_attempt
from qontak_provider.client.lookup import pick_template, select_channels, select_templates
from qontak_provider.client.media import MediaFile, MultipartBody, media_file
from qontak_provider.client.models import (
    Broadcast,
    BroadcastLogEntry,
    ChannelIntegration,
    Contact,
    ContactList,
    DirectSendRequest,
    Pagination,
    Template,
    TemplateLanguage,
    UploadedFile,
)
from qontak_provider.client.paging import DEFAULT_PAGE_SIZE, Paginator
from qontak_provider.client.payload import direct_send_body
from qontak_provider.client.policy import FailureKind, RetryPolicy, TransportOutcome
from qontak_provider.client.sync import POOL_MAXSIZE
from qontak_provider.client.timestamps import utcnow
from qontak_provider.client.wire import (
    Call,
    QueryValue,
    RawResponse,
    envelope,
    gateway_endpoint,
    parse_model,
    unwrap,
)
from qontak_provider.defaults import (
    DEFAULT_BASE_URL,
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_DEADLINE_SECONDS,
    DEFAULT_RATE_PER_MINUTE,
    DEFAULT_TIMEOUT_SECONDS,
)


def classify_httpx_error(err: httpx.HTTPError) -> TransportOutcome:
    """
    Map an httpx exception to the phase that failed.

    ``ConnectError``, ``ConnectTimeout``, ``PoolTimeout`` and ``ProxyError`` happen before any request byte
    is written (safe to repeat a send); read/write timeouts and ``ReadError``/``WriteError``/
    ``RemoteProtocolError`` may have reached Qontak.
    """
    detail = f"{type(err).__name__}: {str(err)[:200]}"
    if isinstance(err, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(err):
        return TransportOutcome(FailureKind.FATAL, detail)  # retrying a rejected certificate cannot help
    if isinstance(err, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)):
        return TransportOutcome(FailureKind.CONNECT, detail)
    if isinstance(err, (httpx.ReadTimeout, httpx.WriteTimeout, httpx.TimeoutException)):
        return TransportOutcome(FailureKind.TIMEOUT, detail)
    if isinstance(err, (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL)):
        return TransportOutcome(FailureKind.FATAL, detail)
    if isinstance(err, httpx.TransportError):
        return TransportOutcome(FailureKind.DISCONNECTED, detail)
    # DecodingError, TooManyRedirects, StreamError...: an answer started but could not be read.
    return TransportOutcome(FailureKind.DISCONNECTED, detail)


class AsyncQontakClient(ClientCore):
    """
    Async client of the Qontak Chat WhatsApp API; same constructor and methods as
    :class:`~qontak_provider.client.sync.QontakClient`, awaited.

    Use it as ``async with AsyncQontakClient(...) as client:`` or call :meth:`aclose`.

    :param client_id: HMAC client id from the Mekari Developer Center.
    :param client_secret: HMAC client secret; never logged, never shown in reprs or errors.
    :param base_url: gateway URL, e.g. ``https://api.mekari.com``; a host without scheme means https.
    :param timeout: read timeout in seconds of every request.
    :param connect_timeout: connect timeout in seconds of every request.
    :param rate_per_minute: client-side pacing of :meth:`send_direct`, evenly spaced; ``0`` or ``None``
        disables it.
    :param retry_policy: retry settings; default :class:`~qontak_provider.client.policy.RetryPolicy()`.
    :param http_client: an :class:`httpx.AsyncClient` to use as is; by default the client makes one and
        closes it in :meth:`aclose`.
    :param page_size: ``limit`` asked for on list calls.
    :param clock: monotonic clock for pacing (tests inject a fake one).
    :param sleep: how to wait for pacing and backoff, default :func:`asyncio.sleep`.
    :param random: ``[0, 1)`` source for retry jitter.
    :param now: wall clock (aware UTC datetime) for the signed ``Date`` header.
    :param deadline: seconds one request may take in all (pacing, every attempt and wait); ``None`` for no
        limit. Past it, :class:`~qontak_provider.client.errors.QontakTimeoutError` (or, for a send already
        written, :class:`~qontak_provider.client.errors.QontakSendInDoubtError`).
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
        rate_per_minute: float | None = DEFAULT_RATE_PER_MINUTE,
        retry_policy: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        now: Callable[[], datetime] = utcnow,
        deadline: float | None = DEFAULT_DEADLINE_SECONDS,
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
            deadline=deadline,
        )
        self._sleep = sleep
        self._owns_client = http_client is None
        if http_client is None:
            http_client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout),
                # keepalive_expiry: never reuse a connection idle too long (see MAX_IDLE_REUSE_SECONDS).
                limits=httpx.Limits(
                    max_connections=POOL_MAXSIZE,
                    max_keepalive_connections=POOL_MAXSIZE,
                    keepalive_expiry=MAX_IDLE_REUSE_SECONDS,
                ),
                # A redirect would replay the signature against another path (and could repeat a send).
                follow_redirects=False,
            )
        self._http = http_client

    # ------------------------------------------------------------------------------------------ lifecycle

    async def aclose(self) -> None:
        """Close the connection pool (only if the client created it)."""
        if self._owns_client:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncQontakClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # -------------------------------------------------------------------------------------------- plumbing

    async def _attempt(self, call: Call, step: Attempt) -> RawResponse | TransportOutcome:
        started = time.perf_counter()
        left = step.time_left
        request = self._http.request(
            call.method,
            # httpx.URL would normalise the query; the raw target keeps the bytes we signed.
            call.url,
            content=call.body if call.body is None or isinstance(call.body, bytes) else _stream(call.body),
            headers=step.headers,
            timeout=httpx.Timeout(min(self.timeout, left), connect=min(self.connect_timeout, left)),
            follow_redirects=False,
        )
        try:
            # httpx's read timeout restarts with every byte; the deadline bounds the whole attempt.
            response = await asyncio.wait_for(request, left) if math.isfinite(left) else await request
        except httpx.HTTPError as err:
            outcome = classify_httpx_error(err)
            log_attempt(call, outcome.kind.value, time.perf_counter() - started, step.number)
            return outcome
        except asyncio.TimeoutError:
            outcome = TransportOutcome(FailureKind.TIMEOUT, f"the deadline passed after {left:.1f} s")
            log_attempt(call, outcome.kind.value, time.perf_counter() - started, step.number)
            return outcome
        raw = RawResponse(
            status=response.status_code,
            content=response.content,
            date=response.headers.get("Date"),
            retry_after=response.headers.get("Retry-After"),
            request_id=response.headers.get("X-Request-Id"),
        )
        self._observe(call, raw, time.perf_counter() - started, step.number)
        return raw

    async def _execute(self, call: Call, before_write: Callable[[], None] | None = None) -> RawResponse:
        flow = self._flow(call, before_write)
        step = next(flow)
        while True:
            if isinstance(step, Wait):
                await self._sleep(step.seconds)
                reply: RawResponse | TransportOutcome | None = None
            else:
                reply = await self._attempt(call, step)
            try:
                step = flow.send(reply)
            except StopIteration as done:
                return done.value

    async def _get(
        self, endpoint: str, query: Any = None, target: str | None = None
    ) -> tuple[Call, RawResponse, Any, Pagination | None]:
        call = self._call("GET", endpoint, query=query, target=target)
        response = await self._execute(call)
        data, pagination = unwrap(call, response)
        return call, response, data, pagination

    async def _get_one(self, lookup: tuple[str, str], model: Any) -> Any:
        endpoint, target = lookup
        call, response, data, _ = await self._get(endpoint, target=target)
        return parse_model(call, response, model, data)

    async def _iter_pages(
        self, endpoint: str, query: Any, model: Any, target: str | None = None
    ) -> AsyncIterator[tuple[list[Any], Pagination | None]]:
        pager = Paginator(query, self.page_size)
        while (page_query := pager.next_query()) is not None:
            call, response, data, pagination = await self._get(endpoint, page_query, target)
            items = pager.feed(data, pagination)
            if items:  # the empty page that proves the end is not a page of results
                yield [parse_model(call, response, model, item) for item in items], pagination

    async def _list(self, endpoint: str, query: Any, model: Any, target: str | None = None) -> list[Any]:
        return [item async for page, _ in self._iter_pages(endpoint, query, model, target) for item in page]

    # --------------------------------------------------------------------------------------------- channels

    async def list_channels(
        self, target_channel: str | None = None, *, include_inactive: bool = False
    ) -> list[ChannelIntegration]:
        """Return every channel integration (all pages); see ``QontakClient.list_channels``."""
        channels = await self._list(
            "integrations", self._channels_query(target_channel, include_inactive), ChannelIntegration
        )
        return select_channels(channels, target_channel=target_channel, include_inactive=include_inactive)

    async def get_channel(self, channel_id: str) -> ChannelIntegration:
        """Return one channel integration by id."""
        return await self._get_one(
            self._one("channel integration", "integrations/{}", channel_id), ChannelIntegration
        )

    # -------------------------------------------------------------------------------------------- templates

    async def list_templates(
        self,
        *,
        status: str | None = None,
        category: str | list[str] | None = None,
        name: str | None = None,
        language: str | None = None,
        query: str | None = None,
    ) -> list[Template]:
        """Return the WhatsApp templates (all pages); see ``QontakClient.list_templates``."""
        templates = await self._list(
            "templates/whatsapp", self._templates_query(status, category, query), Template
        )
        return select_templates(templates, name=name, language=language, status=status, category=category)

    async def get_template(self, template_id: str) -> Template:
        """Return one WhatsApp template by id."""
        return await self._get_one(self._one("template", "templates/{}/whatsapp", template_id), Template)

    async def find_template(self, name: str, language: str | None = None) -> Template:
        """Return the template called ``name`` (in ``language``); see ``QontakClient.find_template``."""
        return pick_template(await self.list_templates(name=name), name, language)

    # ------------------------------------------------------------------------------------------- broadcasts

    async def send_direct(
        self,
        payload: Mapping[str, Any] | DirectSendRequest,
        *,
        before_write: Callable[[], None] | None = None,
    ) -> Broadcast:
        """
        Send one WhatsApp template message and return the broadcast; see ``QontakClient.send_direct``.

        :raises QontakPayloadError: the payload is not a valid direct-send body (nothing was sent).
        :raises QontakSendInDoubtError: the message may or may not have been sent; do not blindly resend.
        """
        call = self._call("POST", "broadcasts/whatsapp/direct", body=direct_send_body(payload), kind="send")
        response = await self._execute(call, before_write)
        data, _ = unwrap(call, response)
        return parse_model(call, response, Broadcast, data)

    async def get_broadcast(self, broadcast_id: str) -> Broadcast:
        """Return one broadcast (with its ``message_status_count``)."""
        return await self._get_one(self._one("broadcast", "broadcasts/{}/whatsapp", broadcast_id), Broadcast)

    async def get_broadcast_log(self, broadcast_id: str) -> list[BroadcastLogEntry]:
        """Return the per-recipient log of a broadcast (all pages)."""
        endpoint, target = self._one("broadcast", "broadcasts/{}/whatsapp/log", broadcast_id)
        return await self._list(endpoint, None, BroadcastLogEntry, target)

    def iter_broadcast_pages(
        self, **filters: QueryValue
    ) -> AsyncIterator[tuple[list[Broadcast], Pagination | None]]:
        """Yield the broadcasts page by page (``async for``); see ``QontakClient.iter_broadcast_pages``."""
        return self._iter_pages("broadcasts/whatsapp", self._filters_query(filters), Broadcast)

    async def list_broadcasts(self, **filters: QueryValue) -> list[Broadcast]:
        """Return all broadcasts matching ``filters`` (all pages)."""
        return [b async for page, _ in self.iter_broadcast_pages(**filters) for b in page]

    # ------------------------------------------------------------------------------------------ media, more

    async def upload_file(
        self,
        source: Any,
        *,
        filename: str | None = None,
        header_format: str | None = None,
    ) -> UploadedFile:
        """Upload a file for a template header; see :meth:`QontakClient.upload_file`."""
        media = source if isinstance(source, MediaFile) else media_file(source, filename=filename)
        # Checking reads the file (its size, hash and first bytes): in a worker thread, off the event loop.
        call = await asyncio.to_thread(self._upload_call, media, header_format)
        response = await self._execute(call)
        data, _ = unwrap(call, response)
        return parse_model(call, response, UploadedFile, data)

    async def list_template_languages(self) -> list[TemplateLanguage]:
        """See :meth:`QontakClient.list_template_languages`."""
        return await self._list("templates/languages", None, TemplateLanguage)

    async def get_contact_list(self, contact_list_id: str) -> ContactList:
        """See :meth:`QontakClient.get_contact_list`."""
        lookup = self._one("contact list", "contacts/contact_lists/{}", contact_list_id)
        return await self._get_one(lookup, ContactList)

    async def iter_contacts(self, contact_list_id: str) -> AsyncIterator[Contact]:
        """See :meth:`QontakClient.iter_contacts`."""
        endpoint, target = self._one("contact list", "contacts/contact_lists/contacts/{}", contact_list_id)
        async for page, _ in self._iter_pages(endpoint, None, Contact, target):
            for contact in page:
                yield contact

    async def list_contacts(self, contact_list_id: str) -> list[Contact]:
        """See :meth:`QontakClient.list_contacts`."""
        return [contact async for contact in self.iter_contacts(contact_list_id)]

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: Any = None,
    ) -> dict[str, Any]:
        """Call any operation of the Qontak Chat API; see :meth:`QontakClient.request`."""
        call = self._request_call(method, path, params, json)
        response = await self._execute(call)
        return envelope(call, response)

    async def iter_pages(
        self, path: str, params: Mapping[str, QueryValue] | None = None
    ) -> AsyncIterator[list[Any]]:
        """See :meth:`QontakClient.iter_pages`."""
        endpoint = gateway_endpoint(path)
        pager = Paginator(self._filters_query(params or {}), self.page_size)
        while (page_query := pager.next_query()) is not None:
            _, _, data, pagination = await self._get(endpoint, page_query)
            items = pager.feed(data, pagination)
            if items:
                yield items


async def _stream(body: MultipartBody) -> AsyncIterator[bytes]:
    """An upload's body for httpx, each chunk read in a worker thread (an object store may be slow)."""
    chunks = body.chunks()
    while (chunk := await asyncio.to_thread(next, chunks, None)) is not None:
        yield chunk
