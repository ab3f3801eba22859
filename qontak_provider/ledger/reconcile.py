"""Finding, in Qontak's broadcast list, the broadcast a send in doubt may have created: the one reconciler.

Used by the direct-send operator (``on_send_in_doubt="reconcile"``) and by the bulk engine for rows a killed
try left unconfirmed. A broadcast is a *candidate* when its channel integration, ``message_template.id`` and
``name`` (Qontak stores ``to_name`` there) match the request; it is *proven* only when its log names the
request's number. The list and the logs can lag behind a send, so finding nothing proves nothing.

The list is asked newest first (``order_by=created_at&order_direction=desc``); the scan stops at the first
page older than the attempt only once the server was seen answering in that order (two broadcasts newest
first, none out of order), and otherwise reads up to ``max_pages``. Without the list there is nothing to
reconcile against: :class:`ReconcileUnavailable`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from qontak_provider.client.timestamps import parse_timestamp
from qontak_provider.client.tracking import LIST_ORDER

if TYPE_CHECKING:
    from qontak_provider.client.models import Broadcast, DirectSendRequest
    from qontak_provider.client.sync import QontakClient

#: Broadcasts created up to this long *before* the recorded attempt still count as candidates: the attempt
#: time comes from the worker's clock and ``created_at`` from Qontak's, and Mekari accepts 300 s of skew.
RECONCILE_CLOCK_MARGIN = timedelta(seconds=300)
#: Pages read at most when the server does not answer newest first (so no page can end the scan early).
MAX_RECONCILE_PAGES = 50


class ReconcileUnavailable(Exception):
    """The broadcast list cannot be read with these credentials, so nothing can be reconciled."""


def _digits(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch.isdigit())


@dataclass
class FindResult:
    """
    What :meth:`BroadcastFinder.find` found for one request.

    :param proven: broadcasts proven to be the send (candidate, and its log names the number).
    :param unproven: candidates whose log does not (yet) show the number: they prove nothing.
    :param scanned: broadcasts looked at in the list.
    """

    proven: list[Broadcast] = field(default_factory=list)
    unproven: list[Broadcast] = field(default_factory=list)
    scanned: int = 0


class BroadcastFinder:
    """
    Index the broadcasts created since an attempt once, then match requests against them.

    :param client: the sync client to read the list and logs with.
    :param since: when the earliest send in doubt started (worker clock, aware).
    :param margin: clock slack before ``since``.
    :param max_pages: list pages read at most.
    """

    def __init__(
        self,
        client: QontakClient,
        since: datetime,
        *,
        margin: timedelta = RECONCILE_CLOCK_MARGIN,
        max_pages: int = MAX_RECONCILE_PAGES,
    ) -> None:
        self._client = client
        self._oldest = since - margin
        self._max_pages = max_pages
        self._index: dict[tuple[str | None, str | None], list[Broadcast]] | None = None
        self._claimed: set[str] = set()
        self._logs: dict[str, set[str]] = {}
        self.scanned = 0
        #: Whether the list came newest first, as asked (known after the index was built).
        self.newest_first = True

    def _build(self) -> dict[tuple[str | None, str | None], list[Broadcast]]:
        from qontak_provider.client.errors import (
            QontakAuthenticationError,
            QontakEndpointUnavailableError,
            QontakServerError,
        )

        index: dict[tuple[str | None, str | None], list[Broadcast]] = {}
        previous: datetime | None = None
        # Only a server seen answering newest first may end the scan early: a first page of old broadcasts
        # from a server that ignores the order (oldest first) says nothing about the pages after it.
        descending_seen = False
        pages = 0
        try:
            for page, _ in self._client.iter_broadcast_pages(**LIST_ORDER):
                pages += 1
                older = 0
                for broadcast in page:
                    self.scanned += 1
                    created = parse_timestamp(broadcast.created_at)
                    if created is not None:
                        if previous is not None and created > previous:
                            self.newest_first = False
                        elif previous is not None and created < previous:
                            descending_seen = True
                        previous = created
                        if created < self._oldest:
                            older += 1
                            continue
                    template_id = (broadcast.message_template or {}).get("id")
                    key = (broadcast.channel_integration_id, template_id)
                    index.setdefault(key, []).append(broadcast)
                newest_first = self.newest_first and descending_seen
                if (newest_first and page and older == len(page)) or pages >= self._max_pages:
                    break  # newest first: everything further down is older still
        except (QontakAuthenticationError, QontakEndpointUnavailableError, QontakServerError) as err:
            raise ReconcileUnavailable(
                "reconciling needs Qontak's broadcast list (GET /broadcasts/whatsapp), which is not "
                f"available to these credentials: {err}"
            ) from err
        return index

    def _numbers(self, broadcast_id: str) -> set[str]:
        if broadcast_id not in self._logs:
            entries = self._client.get_broadcast_log(broadcast_id)
            self._logs[broadcast_id] = {_digits(entry.contact_phone_number) for entry in entries}
        return self._logs[broadcast_id]

    def find(self, request: DirectSendRequest) -> FindResult:
        """
        The broadcasts that may be ``request``'s send; a proven one is claimed, so that two identical rows
        are never both matched to one broadcast.

        :raises ReconcileUnavailable: the list cannot be read.
        """
        if self._index is None:
            self._index = self._build()
        result = FindResult(scanned=self.scanned)
        number = _digits(request.to_number)
        key = (request.channel_integration_id, request.message_template_id)
        for broadcast in self._index.get(key, []):
            if broadcast.id in self._claimed:
                continue
            if broadcast.name is not None and broadcast.name != request.to_name:
                continue
            (result.proven if number in self._numbers(broadcast.id) else result.unproven).append(broadcast)
        if len(result.proven) == 1:
            self._claimed.add(result.proven[0].id)
        return result

    def describe(self) -> dict[str, Any]:
        """For logs: how much was scanned and whether the order was the one asked."""
        return {"scanned": self.scanned, "newest_first": self.newest_first}
