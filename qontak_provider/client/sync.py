"""Synchronous Qontak Chat API client over one pooled :class:`requests.Session`.

The client is thread-safe: the bulk-send operator calls :meth:`QontakClient.send_direct` from several threads,
which share the connection pool and one send pacer.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import os
import random as _random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from qontak_provider.client.core import MAX_IDLE_REUSE_SECONDS, ClientCore
from qontak_provider.client.flow import Attempt, Wait, log_attempt
from qontak_provider.client.lookup import pick_template, select_channels, select_templates
from qontak_provider.client.media import MediaFile, media_file
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

#: Connections kept per host; sized for the bulk operator's worker threads.
POOL_MAXSIZE = 32


class _Watchdog:
    """
    One daemon thread that fires every pending :class:`_Deadline` of this process at its time.

    A ``threading.Timer`` per attempt would start and stop a thread for every request: at a bulk send's
    hundreds of requests a second that alone cost about 5 % of the sender's CPU. Deadlines wait in a heap
    instead; a cancelled one is dropped when it comes up.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._seq = 0
        self._thread: threading.Thread | None = None
        self._pid = 0

    def schedule(self, deadline: _Deadline, seconds: float) -> None:
        with self._cond:
            self._seq += 1
            heapq.heappush(self._heap, (time.monotonic() + max(0.0, seconds), self._seq, deadline))
            if self._thread is None or self._pid != os.getpid():  # a forked child has no thread of ours
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="qontak-deadline", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                _, _, due = heapq.heappop(self._heap)
            if not due.cancelled:
                # One deadline's failure must not stop the thread that serves all the others.
                with contextlib.suppress(Exception):
                    due._fire()


class _Deadline:
    """
    Ends one attempt at its deadline: closes the socket under a request that is still running.

    ``requests`` has no total timeout: its read timeout restarts with every byte, so a server trickling one
    byte a second holds a worker forever. The pool tells the deadline which connection the attempt got
    (:meth:`claim`, in the attempt's thread); the watchdog shuts that connection's socket down when time is
    up, and only while the attempt still owns it (once the pool has it back, another request may be using it).
    """

    _lock = threading.Lock()
    _local = threading.local()
    _watchdog = _Watchdog()

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self.cancelled = False
        self._conn: Any = None
        self._seconds = seconds

    def __enter__(self) -> _Deadline:
        _Deadline._local.current = self
        if math.isfinite(self._seconds):
            _Deadline._watchdog.schedule(self, self._seconds)
        return self

    def __exit__(self, *exc: object) -> None:
        with _Deadline._lock:
            self.cancelled = True
            self._conn = None
        _Deadline._local.current = None

    @classmethod
    def claim(cls, conn: Any) -> None:
        """The attempt running in this thread now uses ``conn``."""
        current = getattr(cls._local, "current", None)
        with cls._lock:
            conn._qontak_deadline = current
            if current is not None:
                current._conn = conn

    @classmethod
    def release(cls, conn: Any) -> None:
        with cls._lock:
            owner = getattr(conn, "_qontak_deadline", None)
            if owner is not None and owner._conn is conn:
                owner._conn = None
            conn._qontak_deadline = None

    def _fire(self) -> None:
        with _Deadline._lock:
            conn = self._conn
            if conn is None or getattr(conn, "_qontak_deadline", None) is not self:
                return
            self.fired = True
            sock = getattr(conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed: nothing left to stop
                sock.shutdown(socket.SHUT_RDWR)  # the blocked read returns at once


class _FreshConnectionsMixin:
    """A urllib3 pool that never hands out a connection idle for more than ``MAX_IDLE_REUSE_SECONDS``, and
    tells an attempt's :class:`_Deadline` which connection it uses.

    urllib3 only notices a connection the server has *already* closed; one closed while the request is being
    written, or silently forgotten by a NAT gateway, resets the request unprocessed, and for a send that
    reads as "in doubt". A connection idle that long is closed and reopened instead (see
    :data:`~qontak_provider.client.core.MAX_IDLE_REUSE_SECONDS`).
    """

    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        released = getattr(conn, "_qontak_released_at", None)
        if released is not None and time.monotonic() - released > MAX_IDLE_REUSE_SECONDS:
            conn.close()  # urllib3 reconnects a closed connection on its next request
        _Deadline.claim(conn)
        return conn

    def _put_conn(self, conn: Any) -> None:
        if conn is not None:
            conn._qontak_released_at = time.monotonic()
            _Deadline.release(conn)
        super()._put_conn(conn)  # type: ignore[misc]


class FreshHTTPConnectionPool(_FreshConnectionsMixin, HTTPConnectionPool):
    """:class:`urllib3.HTTPConnectionPool` without stale reuse."""


class FreshHTTPSConnectionPool(_FreshConnectionsMixin, HTTPSConnectionPool):
    """:class:`urllib3.HTTPSConnectionPool` without stale reuse."""


_FRESH_POOLS = {"http": FreshHTTPConnectionPool, "https": FreshHTTPSConnectionPool}


class FreshConnectionAdapter(HTTPAdapter):
    """requests adapter whose pools (direct and through a proxy) never reuse a connection idle too long."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_FRESH_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = dict(_FRESH_POOLS)
        return manager


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
        session: requests.Session | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
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
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            # Retries are ours (urllib3's would repeat sends blindly); the pool fits the bulk operator's
            # threads and never reuses a connection that sat idle too long.
            adapter = FreshConnectionAdapter(pool_connections=4, pool_maxsize=POOL_MAXSIZE, max_retries=0)
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
        left = step.time_left
        try:
            with _Deadline(left) as watchdog:
                response = self._session.request(
                    call.method,
                    call.url,
                    # An upload streams: a fresh iterator per attempt, its length in the headers.
                    data=call.body
                    if call.body is None or isinstance(call.body, bytes)
                    else call.body.stream(),
                    headers=step.headers,
                    timeout=(min(self.connect_timeout, left), min(self.timeout, left)),
                    # A redirect would replay the signature against another path (and could repeat a send).
                    allow_redirects=False,
                )
        except requests.RequestException as err:
            outcome = classify_requests_error(err)
            if watchdog.fired:
                outcome = TransportOutcome(FailureKind.TIMEOUT, f"the deadline passed ({outcome.detail})")
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

    def _execute(self, call: Call, before_write: Callable[[], None] | None = None) -> RawResponse:
        flow = self._flow(call, before_write)
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

    def _get(
        self, endpoint: str, query: Any = None, target: str | None = None
    ) -> tuple[Call, RawResponse, Any, Pagination | None]:
        call = self._call("GET", endpoint, query=query, target=target)
        response = self._execute(call)
        data, pagination = unwrap(call, response)
        return call, response, data, pagination

    def _get_one(self, lookup: tuple[str, str], model: Any) -> Any:
        endpoint, target = lookup
        call, response, data, _ = self._get(endpoint, target=target)
        return parse_model(call, response, model, data)

    def _iter_pages(
        self, endpoint: str, query: Any, model: Any, target: str | None = None
    ) -> Iterator[tuple[list[Any], Pagination | None]]:
        pager = Paginator(query, self.page_size)
        while (page_query := pager.next_query()) is not None:
            call, response, data, pagination = self._get(endpoint, page_query, target)
            items = pager.feed(data, pagination)
            if items:  # the empty page that proves the end is not a page of results
                yield [parse_model(call, response, model, item) for item in items], pagination

    def _list(self, endpoint: str, query: Any, model: Any, target: str | None = None) -> list[Any]:
        return [item for page, _ in self._iter_pages(endpoint, query, model, target) for item in page]

    # --------------------------------------------------------------------------------------------- channels

    def list_channels(
        self, target_channel: str | None = None, *, include_inactive: bool = False
    ) -> list[ChannelIntegration]:
        """
        Return every channel integration (all pages).

        :param target_channel: only this channel type, e.g. ``wa`` (on-premise WABA) or ``wa_cloud``.
        :param include_inactive: also inactive integrations (Qontak's ``all=true``); by default only the
            active ones. Both filters are applied on our side too, whatever the server did with them.
        """
        channels = self._list(
            "integrations", self._channels_query(target_channel, include_inactive), ChannelIntegration
        )
        return select_channels(channels, target_channel=target_channel, include_inactive=include_inactive)

    def get_channel(self, channel_id: str) -> ChannelIntegration:
        """Return one channel integration by id."""
        return self._get_one(
            self._one("channel integration", "integrations/{}", channel_id), ChannelIntegration
        )

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

        :param status: e.g. ``APPROVED``; sent to the server and applied on our side.
        :param category: ``AUTHENTICATION``, ``MARKETING``... or a list (``category[]``); sent and applied.
        :param name: exact template name (case-insensitive; applied on our side only).
        :param language: exact language code, e.g. ``id`` or ``en_US`` (applied on our side only).
        :param query: Qontak's free-text search.
        """
        templates = self._list("templates/whatsapp", self._templates_query(status, category, query), Template)
        return select_templates(templates, name=name, language=language, status=status, category=category)

    def get_template(self, template_id: str) -> Template:
        """Return one WhatsApp template by id."""
        return self._get_one(self._one("template", "templates/{}/whatsapp", template_id), Template)

    def find_template(self, name: str, language: str | None = None) -> Template:
        """
        Return the template called ``name``; ``language`` picks among its translations.

        An ``APPROVED`` template wins over other copies of the same name; see
        :func:`~qontak_provider.client.lookup.pick_template`.

        :raises QontakNotFoundError: no template has that name.
        :raises QontakPayloadError: the name exists in several languages and ``language`` names none of
            them, or is ambiguous.
        """
        return pick_template(self.list_templates(name=name), name, language)

    # ------------------------------------------------------------------------------------------- broadcasts

    def send_direct(
        self,
        payload: Mapping[str, Any] | DirectSendRequest,
        *,
        before_write: Callable[[], None] | None = None,
    ) -> Broadcast:
        """
        Send one WhatsApp template message (``POST /broadcasts/whatsapp/direct``) and return the broadcast.

        A dict is validated through :class:`~qontak_provider.client.models.DirectSendRequest` and sent as
        given (same keys, values and key order), so a documented payload goes out verbatim. Sends are paced
        at ``rate_per_minute``. Retried only on 429 and when the connection could not be opened.

        :param before_write: called once right before the request is first written (after pacing); see
            :func:`~qontak_provider.client.flow.request_flow`.
        :raises QontakPayloadError: the payload is not a valid direct-send body (nothing was sent).
        :raises QontakSendInDoubtError: the message may or may not have been sent; do not blindly resend.
        """
        call = self._call("POST", "broadcasts/whatsapp/direct", body=direct_send_body(payload), kind="send")
        response = self._execute(call, before_write)
        data, _ = unwrap(call, response)
        return parse_model(call, response, Broadcast, data)

    def get_broadcast(self, broadcast_id: str) -> Broadcast:
        """Return one broadcast (with its ``message_status_count``)."""
        return self._get_one(self._one("broadcast", "broadcasts/{}/whatsapp", broadcast_id), Broadcast)

    def get_broadcast_log(self, broadcast_id: str) -> list[BroadcastLogEntry]:
        """Return the per-recipient log of a broadcast (all pages); empty right after the send."""
        endpoint, target = self._one("broadcast", "broadcasts/{}/whatsapp/log", broadcast_id)
        return self._list(endpoint, None, BroadcastLogEntry, target)

    def iter_broadcast_pages(
        self, **filters: QueryValue
    ) -> Iterator[tuple[list[Broadcast], Pagination | None]]:
        """
        Yield the broadcasts page by page, with each page's pagination.

        :param filters: query filters such as ``start_date``, ``end_date``, ``order_by``; list values are
            sent as ``key[]=v`` (e.g. ``target_channel=["wa"]``).
        """
        return self._iter_pages("broadcasts/whatsapp", self._filters_query(filters), Broadcast)

    def list_broadcasts(self, **filters: QueryValue) -> list[Broadcast]:
        """Return all broadcasts matching ``filters`` (all pages); see :meth:`iter_broadcast_pages`."""
        return [b for page, _ in self.iter_broadcast_pages(**filters) for b in page]

    # ------------------------------------------------------------------------------------------ media, more

    def upload_file(
        self,
        source: Any,
        *,
        filename: str | None = None,
        header_format: str | None = None,
    ) -> UploadedFile:
        """
        Upload a file for a template header (``POST /file_uploader``); return its public URL and file name.

        The file is checked first (exists, not empty, a type and size WhatsApp accepts for
        ``header_format``, content matching its extension) and then streamed, never read whole. An upload
        creates no message, so a lost answer is retried like a read.

        :param source: a local path, an object with ``open("rb")`` (``ObjectStoragePath``), bytes (with
            ``filename``), or a :class:`~qontak_provider.client.media.MediaFile`.
        :param filename: the file name to show; default: the path's last segment.
        :param header_format: ``IMAGE``, ``VIDEO`` or ``DOCUMENT`` to check against; any of them when empty.
        :raises QontakPayloadError: the file cannot be sent as such a header (nothing was uploaded).
        """
        media = source if isinstance(source, MediaFile) else media_file(source, filename=filename)
        call = self._upload_call(media, header_format)
        response = self._execute(call)
        data, _ = unwrap(call, response)
        return parse_model(call, response, UploadedFile, data)

    def list_template_languages(self) -> list[TemplateLanguage]:
        """Every language a WhatsApp template may be written in (``GET /templates/languages``, all pages)."""
        return self._list("templates/languages", None, TemplateLanguage)

    def get_contact_list(self, contact_list_id: str) -> ContactList:
        """One contact list (``GET /contacts/contact_lists/{id}``): its name, size and variables."""
        return self._get_one(
            self._one("contact list", "contacts/contact_lists/{}", contact_list_id), ContactList
        )

    def iter_contacts(self, contact_list_id: str) -> Iterator[Contact]:
        """The contacts of a contact list, page by page (``GET /contacts/contact_lists/contacts/{id}``)."""
        endpoint, target = self._one("contact list", "contacts/contact_lists/contacts/{}", contact_list_id)
        for page, _ in self._iter_pages(endpoint, None, Contact, target):
            yield from page

    def list_contacts(self, contact_list_id: str) -> list[Contact]:
        """All contacts of a contact list; see :meth:`iter_contacts`."""
        return list(self.iter_contacts(contact_list_id))

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        json: Any = None,
    ) -> dict[str, Any]:
        """
        Call any operation of the Qontak Chat API, signed, paced and retried like the typed methods.

        A GET is retried on transient failures; any other method is never repeated once it may have reached
        Qontak (a 5xx or a lost answer raises :class:`~qontak_provider.client.errors.QontakSendInDoubtError`);
        a direct send through here is paced like :meth:`send_direct`.

        :param method: ``GET``, ``POST``, ``PUT``, ``PATCH`` or ``DELETE``.
        :param path: the operation's path, with or without ``/qontak/chat/v1``, e.g. ``"templates/category"``
            or ``f"rooms/{room_id}/histories"`` (ids go in as they are; quote them if they may hold ``/``).
        :param params: the query (signed with the request); list values are sent as ``key[]=v``.
        :param json: the JSON body.
        :return: Qontak's whole answer, ``{"status": ..., "data": ..., "meta": ...}``.
        """
        call = self._request_call(method, path, params, json)
        response = self._execute(call)
        return envelope(call, response)

    def iter_pages(self, path: str, params: Mapping[str, QueryValue] | None = None) -> Iterator[list[Any]]:
        """
        Yield the ``data`` of a list operation page by page, with the provider's page rule (ask while a page
        is full or ``cursor.next`` is set; stop on a short, empty or repeated page).

        :param path: the list operation's path, as for :meth:`request`.
        :param params: its filters.
        """
        endpoint = gateway_endpoint(path)
        pager = Paginator(self._filters_query(params or {}), self.page_size)
        while (page_query := pager.next_query()) is not None:
            _, _, data, pagination = self._get(endpoint, page_query)
            items = pager.feed(data, pagination)
            if items:
                yield items
