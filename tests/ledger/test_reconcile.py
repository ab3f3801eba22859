"""The one reconciler: which broadcasts may be a send in doubt, and which are proven to be it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from qontak_provider.client.errors import (
    QontakAuthenticationError,
    QontakEndpointUnavailableError,
    QontakServerError,
)
from qontak_provider.client.models import Broadcast, BroadcastLogEntry, DirectSendRequest
from qontak_provider.ledger.reconcile import (
    MAX_RECONCILE_PAGES,
    RECONCILE_CLOCK_MARGIN,
    BroadcastFinder,
    ReconcileUnavailable,
)

SINCE = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
NUMBER = "6281234567890"


def request(name: str = "Burhan", number: str = NUMBER) -> DirectSendRequest:
    return DirectSendRequest.model_validate(
        {
            "to_number": number,
            "to_name": name,
            "message_template_id": "tpl-1",
            "channel_integration_id": "ch-1",
            "language": {"code": "id"},
            "parameters": {},
        }
    )


def broadcast(bid: str, at: datetime, **changes: Any) -> Broadcast:
    data = {
        "id": bid,
        "name": "Burhan",
        "channel_integration_id": "ch-1",
        "message_template": {"id": "tpl-1"},
        "created_at": at.isoformat().replace("+00:00", "Z"),
        **changes,
    }
    return Broadcast.model_validate(data)


class Client:
    """What the finder reads: pages of the broadcast list, and logs."""

    def __init__(self, pages: list[list[Broadcast]], logs: dict[str, list[str]] | None = None) -> None:
        self.pages = pages
        self.logs = logs or {}
        self.pages_read = 0
        self.logs_read: list[str] = []
        self.asked: dict[str, Any] = {}
        self.error: Exception | None = None

    def iter_broadcast_pages(self, **query: Any) -> Iterator[tuple[list[Broadcast], Any]]:
        self.asked = query
        if self.error is not None:
            raise self.error
        for page in self.pages:
            self.pages_read += 1
            yield page, None

    def get_broadcast_log(self, broadcast_id: str) -> list[BroadcastLogEntry]:
        self.logs_read.append(broadcast_id)
        return [BroadcastLogEntry(contact_phone_number=n) for n in self.logs.get(broadcast_id, [])]


def finder(client: Client, **kwargs: Any) -> BroadcastFinder:
    return BroadcastFinder(client, SINCE, **kwargs)  # type: ignore[arg-type]


def test_the_list_is_asked_newest_first() -> None:
    client = Client([[]])
    finder(client).find(request())
    assert client.asked == {"order_by": "created_at", "order_direction": "desc"}


def test_a_candidate_is_proven_only_by_its_log_naming_the_number() -> None:
    client = Client([[broadcast("b1", SINCE)]], logs={"b1": ["+62 812-3456-7890"]})
    result = finder(client).find(request())
    assert [b.id for b in result.proven] == ["b1"] and result.unproven == []
    client = Client([[broadcast("b1", SINCE)]], logs={"b1": ["6289999999999"]})
    result = finder(client).find(request())
    assert result.proven == [] and [b.id for b in result.unproven] == ["b1"]


def test_the_clock_margin_admits_broadcasts_created_up_to_300_s_before_the_attempt() -> None:
    assert timedelta(seconds=300) == RECONCILE_CLOCK_MARGIN
    inside = broadcast("inside", SINCE - timedelta(seconds=299))
    outside = broadcast("outside", SINCE - timedelta(seconds=301))
    client = Client([[inside, outside]], logs={"inside": [NUMBER], "outside": [NUMBER]})
    result = finder(client).find(request())
    assert [b.id for b in result.proven] == ["inside"]
    assert client.logs_read == ["inside"]  # too old to be a candidate: its log is not even read


def test_the_clock_margin_is_inclusive_and_nothing_older_is_a_candidate() -> None:
    edge = broadcast("edge", SINCE - RECONCILE_CLOCK_MARGIN)
    older = broadcast("older", SINCE - RECONCILE_CLOCK_MARGIN - timedelta(milliseconds=1))
    client = Client([[edge, older]], logs={"edge": [NUMBER], "older": [NUMBER]})
    assert [b.id for b in finder(client).find(request()).proven] == ["edge"]


def test_a_margin_given_replaces_the_default() -> None:
    early = broadcast("early", SINCE - timedelta(seconds=10))
    client = Client([[early]], logs={"early": [NUMBER]})
    assert finder(client, margin=timedelta(0)).find(request()).proven == []
    client = Client([[early]], logs={"early": [NUMBER]})
    assert [b.id for b in finder(client, margin=timedelta(seconds=11)).find(request()).proven] == ["early"]


@pytest.mark.parametrize(
    "changes",
    [{"channel_integration_id": "ch-2"}, {"message_template": {"id": "tpl-2"}}, {"name": "Someone else"}],
)
def test_another_channel_template_or_name_is_not_a_candidate(changes: dict[str, Any]) -> None:
    client = Client([[broadcast("b1", SINCE, **changes)]], logs={"b1": [NUMBER]})
    result = finder(client).find(request())
    assert result.proven == [] and result.unproven == []


def test_a_broadcast_without_a_name_can_still_be_proven_by_its_log() -> None:
    client = Client([[broadcast("b1", SINCE, name=None)]], logs={"b1": [NUMBER]})
    assert [b.id for b in finder(client).find(request()).proven] == ["b1"]


def test_a_proven_broadcast_is_claimed_so_two_identical_rows_never_share_it() -> None:
    b1, b2 = broadcast("b1", SINCE), broadcast("b2", SINCE + timedelta(seconds=1))
    client = Client([[b2, b1]], logs={"b1": [NUMBER], "b2": [NUMBER]})
    found = finder(client)
    first = found.find(request())
    assert len(first.proven) == 2  # ambiguous: nothing claimed
    client = Client([[b1]], logs={"b1": [NUMBER]})
    found = finder(client)
    assert [b.id for b in found.find(request()).proven] == ["b1"]
    assert found.find(request()).proven == []  # claimed by the first row


def test_the_scan_stops_at_the_first_page_older_than_the_attempt_when_newest_first() -> None:
    old = SINCE - timedelta(hours=1)
    pages = [
        [broadcast("new", SINCE + timedelta(seconds=5))],
        [broadcast("old", old)],
        [broadcast("older", old)],
    ]
    client = Client(pages)
    found = finder(client)
    found.find(request())
    assert client.pages_read == 2 and found.newest_first
    assert found.describe() == {"scanned": 2, "newest_first": True}


def test_a_server_that_ignores_the_order_is_read_to_the_page_cap() -> None:
    old = SINCE - timedelta(hours=1)
    pages = [[broadcast("old", old)], [broadcast("new", SINCE + timedelta(seconds=5))]] * 40
    client = Client(pages, logs={"new": [NUMBER]})
    found = finder(client)
    found.find(request())
    assert not found.newest_first
    assert client.pages_read == MAX_RECONCILE_PAGES


def test_the_index_is_built_once_for_many_requests() -> None:
    client = Client([[broadcast("b1", SINCE)]], logs={"b1": [NUMBER]})
    found = finder(client)
    found.find(request(number="6289999999999"))
    found.find(request())
    assert client.pages_read == 1 and client.logs_read == ["b1"]  # the log is read once too


@pytest.mark.parametrize(
    "error",
    [
        QontakEndpointUnavailableError("404 on the collection"),
        QontakAuthenticationError("403"),
        QontakServerError("502 after retries"),
    ],
)
def test_without_the_list_there_is_nothing_to_reconcile_against(error: Exception) -> None:
    client = Client([])
    client.error = error
    with pytest.raises(ReconcileUnavailable, match=r"GET /broadcasts/whatsapp"):
        finder(client).find(request())


def test_equal_times_are_in_order_and_a_page_of_only_older_ones_ends_the_scan() -> None:
    old = SINCE - timedelta(hours=1)
    pages = [
        [broadcast("n1", SINCE + timedelta(seconds=9)), broadcast("n2", SINCE + timedelta(seconds=9))],
        [broadcast("n3", SINCE + timedelta(seconds=5))],
        [broadcast("o1", old), broadcast("o2", old)],  # every one older than the attempt: the scan ends here
        [broadcast("o3", old - timedelta(hours=1))],
    ]
    client = Client(pages)
    found = finder(client)
    assert found.find(request()).scanned == 5
    assert client.pages_read == 3 and found.describe() == {"scanned": 5, "newest_first": True}


def test_equal_times_alone_do_not_prove_the_order() -> None:
    old = SINCE - timedelta(hours=1)
    pages = [[broadcast("o1", old), broadcast("o2", old)], [broadcast("new", SINCE + timedelta(seconds=5))]]
    client = Client(pages, logs={"new": [NUMBER]})
    found = finder(client)
    assert [b.id for b in found.find(request()).proven] == ["new"]  # page 1 did not end the scan
    assert client.pages_read == 2


def test_out_of_order_is_reported_as_false() -> None:
    pages = [[broadcast("a", SINCE), broadcast("b", SINCE + timedelta(seconds=5))]]
    found = finder(Client(pages))
    found.find(request())
    assert found.describe() == {"scanned": 2, "newest_first": False}


def test_a_claimed_or_differently_named_broadcast_does_not_hide_the_next_candidate() -> None:
    b1, b2 = broadcast("b1", SINCE + timedelta(seconds=2)), broadcast("b2", SINCE + timedelta(seconds=1))
    other = broadcast("other", SINCE + timedelta(seconds=3), name="Someone else")
    client = Client([[other, b1, b2]], logs={"b1": [NUMBER], "b2": ["6289999999999"]})
    found = finder(client)
    first = found.find(request())
    assert [b.id for b in first.proven] == ["b1"] and [b.id for b in first.unproven] == ["b2"]
    again = found.find(request(number="6289999999999"))  # b1 is claimed: b2 is still looked at
    assert [b.id for b in again.proven] == ["b2"] and again.scanned == 3
