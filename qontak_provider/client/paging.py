"""The page rule of every list call, sync and async: never miss a page, never loop.

Qontak's ``meta.pagination.total`` cannot be trusted to stop on: in every list example of Mekari's OpenAPI
file it equals the number of items *on that page* (integrations 100 of 100 with ``cursor.next`` set,
templates 100 of 100 although the organisation owns more), and in the seed's template example it is a number
far beyond anything listed (53,969 with ``limit=10``). So ``total`` is advisory only, and the rule is:

* ask for the next page while the page came back **full** (as many items as the ``limit`` asked, or as the
  server's own ``meta.pagination.limit`` when it lowered it) or while ``cursor.next`` is set;
* stop on a short page without ``cursor.next``, on an empty page, on a page that brings no item not seen
  before (a server that ignores ``offset`` repeats its first page), or at :data:`MAX_PAGES`.

Items already seen on an earlier page are dropped, so an overlapping page can never duplicate a result.
``offset`` is sent as the 1-based page number (the first page reports ``offset: 1``).
"""

from __future__ import annotations

import logging
from typing import Any

from qontak_provider.client.models import Pagination
from qontak_provider.client.wire import Query, QueryValue, query_items

log = logging.getLogger("qontak_provider.client")

#: Default page size of list calls; Qontak's own default appears to be 100 as well.
DEFAULT_PAGE_SIZE = 100
#: Hard stop for pagination, in case a server keeps answering full pages of new items forever.
MAX_PAGES = 10_000


def page_query(query: Query | None, offset: int, limit: int) -> list[tuple[str, QueryValue]]:
    """The query of one page: caller filters first (fixed order), then ``offset`` and ``limit``."""
    pairs = [(k, v) for k, v in query_items(query) if k not in ("offset", "limit")]
    return [*pairs, ("offset", offset), ("limit", limit)]


def _has_next_cursor(pagination: Pagination | None) -> bool:
    cursor = pagination.cursor if pagination is not None else None
    return cursor is not None and cursor.next not in (None, "", False)


def _item_key(item: Any) -> str | None:
    if isinstance(item, dict) and item.get("id") not in (None, ""):
        return str(item["id"])
    return None


class Paginator:
    """
    Pure page bookkeeping shared by both clients: which query to ask next, when to stop (module docstring).

    Usage: ``while (query := pager.next_query()) is not None: items = pager.feed(*fetch(query))``.

    :param query: the caller's filters.
    :param limit: the page size to ask for.
    :param max_pages: pages read at most.
    """

    def __init__(self, query: Query | None, limit: int, *, max_pages: int = MAX_PAGES) -> None:
        if limit < 1:
            raise ValueError("page_size must be at least 1")
        self._query = query
        self._limit = limit
        self._max_pages = max_pages
        self._page: int | None = 1
        self._seen: set[str] = set()
        #: Why pagination stopped (``None`` while it goes on): for logs and tests.
        self.stopped: str | None = None

    def next_query(self) -> list[tuple[str, QueryValue]] | None:
        """The query of the next page, or ``None`` when there is none."""
        if self._page is None:
            return None
        return page_query(self._query, self._page, self._limit)

    def _stop(self, reason: str) -> None:
        self._page = None
        self.stopped = reason

    def feed(self, data: Any, pagination: Pagination | None) -> list[Any]:
        """Record one page's ``data`` and ``meta.pagination``; return the page's items not seen before."""
        assert self._page is not None, "feed() after the last page"
        page = self._page
        if not isinstance(data, list):  # a single object: an unpaginated answer
            self._stop("not a list")
            return [data] if data else []
        fresh: list[Any] = []
        for item in data:
            key = _item_key(item)
            if key is None:
                fresh.append(item)
            elif key not in self._seen:
                self._seen.add(key)
                fresh.append(item)
        if not data:
            self._stop("empty page")
            return []
        if not fresh:
            # The server ignored offset and repeated a page: stop rather than loop or duplicate.
            log.warning("Qontak repeated page %d of a list; stopping pagination there", page)
            self._stop("repeated page")
            return []
        size = self._limit
        if pagination is not None and pagination.limit and 0 < pagination.limit < size:
            size = pagination.limit  # the server lowered the page size it serves
        if len(data) < size and not _has_next_cursor(pagination):
            self._stop("short page")
        elif page >= self._max_pages:
            log.warning("Stopping pagination after %d pages; narrow the filters", self._max_pages)
            self._stop("page cap")
        else:
            self._page = page + 1
        return fresh
