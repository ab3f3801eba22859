"""The page rule of every list call: never miss a page, never loop (qontak_provider.client.paging)."""

from __future__ import annotations

import pytest

from qontak_provider.client.models import CursorInfo, Pagination
from qontak_provider.client.paging import MAX_PAGES, Paginator, page_query


def items(*ids: object) -> list[dict[str, object]]:
    return [{"id": i} for i in ids]


def test_page_query_puts_filters_first_and_replaces_offset_and_limit() -> None:
    assert page_query({"status": "APPROVED", "offset": 9, "limit": 3}, 2, 50) == [
        ("status", "APPROVED"),
        ("offset", 2),
        ("limit", 50),
    ]
    assert page_query(None, 1, 10) == [("offset", 1), ("limit", 10)]


def test_full_pages_continue_whatever_total_says() -> None:
    """The spec's shape: total equals the items on the page (100 of 100), yet more pages exist."""
    pager = Paginator(None, 2)
    assert pager.feed(items(1, 2), Pagination(offset=1, limit=2, total=2)) == items(1, 2)
    assert pager.next_query() == [("offset", 2), ("limit", 2)]
    assert pager.feed(items(3, 4), Pagination(offset=2, limit=2, total=2)) == items(3, 4)
    assert pager.feed(items(5), Pagination(offset=3, limit=2, total=1)) == items(5)
    assert pager.next_query() is None and pager.stopped == "short page"


def test_an_inflated_total_does_not_keep_it_going() -> None:
    """The seed's shape: total 53,969 with limit 10; a short page still ends the list."""
    pager = Paginator(None, 10)
    pager.feed(items(*range(10)), Pagination(offset=1, limit=10, total=53969))
    pager.feed(items(*range(10, 13)), Pagination(offset=2, limit=10, total=53969))
    assert pager.next_query() is None and pager.stopped == "short page"


def test_an_exact_total_reached_mid_page_does_not_stop_a_full_page() -> None:
    pager = Paginator(None, 2)
    pager.feed(items(1, 2), Pagination(offset=1, limit=2, total=2))  # "exact" total reached, page full
    assert pager.next_query() is not None  # one more request proves the end
    assert pager.feed([], Pagination(offset=2, limit=2, total=2)) == []
    assert pager.stopped == "empty page"


def test_cursor_next_continues_after_a_short_page() -> None:
    pager = Paginator(None, 100)
    cursor = CursorInfo(next="MTY2NjI1MDY2OS43MjE=")
    assert pager.feed(items(1, 2), Pagination(limit=100, total=2, cursor=cursor)) == items(1, 2)
    assert pager.next_query() == [("offset", 2), ("limit", 100)]
    assert pager.feed(items(3), Pagination(limit=100, cursor=CursorInfo(next=None))) == items(3)
    assert pager.next_query() is None


@pytest.mark.parametrize("next_cursor", [None, "", False])
def test_an_empty_cursor_is_no_cursor(next_cursor: object) -> None:
    pager = Paginator(None, 100)
    pager.feed(items(1), Pagination(limit=100, cursor=CursorInfo(next=next_cursor)))
    assert pager.next_query() is None


def test_a_server_that_lowers_the_page_size_is_followed() -> None:
    pager = Paginator(None, 100)
    pager.feed(items(*range(50)), Pagination(limit=50))  # asked 100, the server serves 50
    assert pager.next_query() == [("offset", 2), ("limit", 100)]
    pager.feed(items(*range(50, 60)), Pagination(limit=50))
    assert pager.next_query() is None


def test_no_pagination_block_at_all_still_follows_full_pages() -> None:
    pager = Paginator(None, 2)
    pager.feed(items(1, 2), None)
    assert pager.next_query() is not None
    pager.feed(items(3), None)
    assert pager.next_query() is None


def test_a_repeated_page_stops_without_duplicates() -> None:
    """A server that ignores ``offset`` answers page 1 again: stop there, keep each item once."""
    pager = Paginator(None, 2)
    assert pager.feed(items("a", "b"), Pagination(limit=2)) == items("a", "b")
    assert pager.feed(items("a", "b"), Pagination(limit=2)) == []
    assert pager.next_query() is None and pager.stopped == "repeated page"


def test_an_overlapping_page_yields_only_new_items() -> None:
    pager = Paginator(None, 2)
    pager.feed(items("a", "b"), None)
    assert pager.feed(items("b", "c"), None) == items("c")
    assert pager.next_query() is not None


def test_the_page_cap_stops_an_endless_list() -> None:
    pager = Paginator(None, 1, max_pages=3)
    for n in range(3):
        assert pager.next_query() is not None
        pager.feed(items(n), Pagination(limit=1))
    assert pager.next_query() is None and pager.stopped == "page cap"
    assert MAX_PAGES >= 1000


def test_an_empty_first_page_and_a_single_object() -> None:
    pager = Paginator(None, 10)
    assert pager.feed([], Pagination(limit=10, total=0)) == []
    assert pager.next_query() is None
    pager = Paginator(None, 10)
    assert pager.feed({"id": "x"}, None) == [{"id": "x"}]
    assert pager.next_query() is None
    with pytest.raises(ValueError):
        Paginator(None, 0)


def test_items_without_ids_are_kept() -> None:
    pager = Paginator(None, 2)
    assert pager.feed([{"x": 1}, {"x": 2}], None) == [{"x": 1}, {"x": 2}]
    assert pager.feed([{"x": 3}], None) == [{"x": 3}]
