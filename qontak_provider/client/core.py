"""Configuration and request building shared by :class:`QontakClient` and :class:`AsyncQontakClient`.

The two clients differ only in their I/O (requests or httpx, ``time.sleep`` or ``asyncio.sleep``); everything
that decides what goes on the wire, and how an answer is read, lives here or in the pure modules it uses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from qontak_provider.client.auth import MekariHmacAuth, RequestAuth
from qontak_provider.client.errors import QontakPayloadError
from qontak_provider.client.flow import Flow, SharedPacer, log_attempt, request_flow
from qontak_provider.client.media import MediaFile, MultipartBody
from qontak_provider.client.policy import Pacer, RequestKind, RetryPolicy
from qontak_provider.client.wire import (
    Call,
    Query,
    QueryValue,
    RawResponse,
    clock_skew,
    gateway_endpoint,
    make_call,
    normalize_base_url,
    path_segment,
)
from qontak_provider.defaults import DEFAULT_DEADLINE_SECONDS

#: Longest a pooled connection may sit idle and still be used for the next request. Below the 5 s keep-alive
#: timeout of common servers (uvicorn, many proxies), and short enough that NAT gateways and load balancers,
#: which silently forget idle flows, have not dropped it: a request written on a closed or forgotten
#: connection is reset unprocessed, which a send would have to report as in doubt.
MAX_IDLE_REUSE_SECONDS = 2.0


class ClientCore:
    """
    Configuration, signing and request building shared by both clients; the subclasses only add I/O.

    See :class:`~qontak_provider.client.sync.QontakClient` for the parameters.
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
        deadline: float | None = DEFAULT_DEADLINE_SECONDS,
        auth: RequestAuth | None = None,
    ) -> None:
        if timeout <= 0 or connect_timeout <= 0 or (deadline is not None and deadline <= 0):
            raise ValueError("timeouts and the deadline must be positive")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.base_url = normalize_base_url(base_url)
        self._hmac = MekariHmacAuth(client_id, client_secret)
        self._auth: RequestAuth = auth or self._hmac
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.retry_policy = retry_policy or RetryPolicy()
        self.page_size = page_size
        self.deadline = float(deadline) if deadline is not None else None
        self._clock = clock
        #: The pure pacer (exposed for inspection and tests); all access goes through a lock.
        self.pacer = Pacer(rate_per_minute, clock)
        self._shared_pacer = SharedPacer(self.pacer)
        self._random = random
        self._now = now
        self._skew: float | None = None

    @property
    def client_id(self) -> str:
        return self._hmac.client_id

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
        target: str | None = None,
    ) -> Call:
        return make_call(self.base_url, method, endpoint, query=query, body=body, kind=kind, target=target)

    def _flow(self, call: Call, before_write: Callable[[], None] | None = None) -> Flow:
        return request_flow(
            call,
            auth=self._auth,
            policy=self.retry_policy,
            pacer=self._shared_pacer,
            random=self._random,
            now=self._now,
            clock=self._clock,
            deadline=self.deadline,
            before_write=before_write,
        )

    def _observe(self, call: Call, response: RawResponse, elapsed: float, attempt: int) -> None:
        log_attempt(call, response.status, elapsed, attempt)
        skew = clock_skew(response.date, self._now())
        if skew is not None:
            self._skew = skew

    # Request builders, so both clients send byte-identical requests.

    def _upload_call(self, media: MediaFile, header_format: str | None) -> Call:
        """``POST /file_uploader`` of ``media``, checked first (see :meth:`MediaFile.check`)."""
        mime = media.check(header_format)
        # An upload creates no message: repeating it after a lost answer is harmless, so it is a read.
        call = self._call("POST", "file_uploader", kind="read")
        return dataclasses.replace(call, body=MultipartBody(media, mime))

    def _request_call(
        self, method: str, path: str, params: Mapping[str, QueryValue] | None, json: Any
    ) -> Call:
        """The call of the generic ``request()``; the path rule is ``wire.gateway_endpoint``."""
        endpoint = gateway_endpoint(path)
        verb = str(method).upper()
        if verb not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            raise QontakPayloadError("method", "GET, POST, PUT, PATCH or DELETE", method)
        kind: RequestKind = "read" if verb == "GET" else "write"
        if verb == "POST" and endpoint == "broadcasts/whatsapp/direct":
            kind = "send"  # a message, whichever way it is sent: paced, never repeated once it may have left
        query = self._filters_query(params or {})
        return self._call(verb, endpoint, query=query, body=json, kind=kind)

    @staticmethod
    def _one(kind: str, endpoint: str, identifier: str) -> tuple[str, str]:
        """``(endpoint, target)`` of an id lookup: ``endpoint`` holds ``{}`` where the quoted id goes."""
        field = kind.replace(" ", "_") + "_id"  # template_id, broadcast_id, contact_list_id, ...
        return endpoint.format(path_segment(identifier, field)), f"{kind} {identifier!r}"

    @staticmethod
    def _channels_query(target_channel: str | None, include_inactive: bool) -> list[tuple[str, QueryValue]]:
        """Query of ``GET /integrations``: optional channel kind; ``all=true`` includes inactive ones."""
        query: list[tuple[str, QueryValue]] = [("target_channel", target_channel)]
        if include_inactive:
            query.append(("all", True))
        return query

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
