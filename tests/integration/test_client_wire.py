"""What both clients put on the wire (headers, signed request-line, bodies) and how they read lists."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from faultserver import CLIENT_ID, FakeTime, FaultServer, Recorded, Reply, broadcast, ok, open_client

from qontak_provider import __version__
from qontak_provider.client.errors import QontakNotFoundError, QontakPayloadError
from qontak_provider.client.models import BroadcastLogEntry, ChannelIntegration, Pagination, Template
from qontak_provider.client.signing import body_digest, http_date, parse_authorization

pytestmark = pytest.mark.integration

SEEDS = json.loads((Path(__file__).parents[1] / "fixtures" / "seed_payloads.json").read_text())


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as srv:
        yield srv


@pytest.fixture
def client(kind: str, server: FaultServer):
    facade = open_client(kind, server.url, FakeTime(), page_size=2)
    yield facade
    facade.close()


def query_of(record: Recorded) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(record.path).query, keep_blank_values=True)


def paged(items: list[dict], *, total: bool = True, ignore_offset: bool = False):
    """A default handler serving ``items`` in pages of the requested limit, 1-based offset."""

    def handler(record: Recorded) -> Reply:
        query = dict(query_of(record))
        offset, limit = int(query["offset"]), int(query["limit"])
        start = 0 if ignore_offset else (offset - 1) * limit
        page = items[start : start + limit]
        pagination = {"offset": offset, "limit": limit, "cursor": {"next": None, "prev": None}}
        if total:
            pagination["total"] = len(items)
        return ok(page, pagination)

    return handler


# ----------------------------------------------------------------------------------------------- headers


def test_headers_of_a_read_and_of_a_send(client, server) -> None:
    server.default = lambda r: ok(broadcast()) if r.method == "POST" else ok({"id": "c-1"})
    client.get_channel("c-1")
    client.send_direct(SEEDS["otp"])
    read, send = server.requests
    for record in (read, send):
        headers = record.headers
        assert headers["Accept"] == "application/json"
        assert headers["User-Agent"] == f"airflow-provider-qontak/{__version__}"
        assert parse_authorization(headers["Authorization"]).username == CLIENT_ID
        assert record.signature_error is None
        assert not any(name.lower().startswith("x-") for name in headers)
    assert "Content-Type" not in read.headers
    assert send.headers["Content-Type"] == "application/json"
    # the current Mekari KB calls Digest required for a body; it is the body's SHA-256, as sent
    assert send.headers["Digest"] == body_digest(send.body)
    assert "Digest" not in read.headers


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_seed_payloads_are_sent_verbatim(client, server, seed) -> None:
    server.script(ok(broadcast(), status=201))
    client.send_direct(SEEDS[seed])
    assert server.requests[0].json == SEEDS[seed]
    # byte for byte, in the key order the user wrote ("buttons" before "body" in Mekari's examples)
    assert server.requests[0].body == json.dumps(SEEDS[seed], ensure_ascii=False).encode()
    assert server.requests[0].path == "/qontak/chat/v1/broadcasts/whatsapp/direct"


def test_the_signed_request_line_is_the_one_on_the_wire(client, server) -> None:
    server.default = paged([])
    client.list_templates(status="APPROVED", category=["MARKETING", "UTILITY"], query="promo juni: 50%")
    (record,) = server.requests
    assert record.path == (
        "/qontak/chat/v1/templates/whatsapp?status=APPROVED&category%5B%5D=MARKETING&category%5B%5D=UTILITY"
        "&query=promo%20juni:%2050%25&offset=1&limit=2"
    )
    assert record.signature_error is None  # verified by the server against the raw request target


def test_broadcast_filters_are_sorted_and_arrays_bracketed(client, server) -> None:
    server.default = paged([])
    client.list_broadcasts(target_channel=["wa", "wa_cloud"], start_date="2025-01-01", category="direct")
    assert query_of(server.requests[0]) == [
        ("category", "direct"),
        ("start_date", "2025-01-01"),
        ("target_channel[]", "wa"),
        ("target_channel[]", "wa_cloud"),
        ("offset", "1"),
        ("limit", "2"),
    ]
    assert server.requests[0].signature_error is None


# -------------------------------------------------------------------------------------------- pagination


def test_lists_follow_every_page(client, server) -> None:
    items = [{"id": f"c-{n}", "target_channel": "wa"} for n in range(5)]
    server.default = paged(items)
    channels = client.list_channels(target_channel="wa")
    assert [c.id for c in channels] == [i["id"] for i in items]
    assert all(isinstance(c, ChannelIntegration) for c in channels)
    assert [dict(query_of(r))["offset"] for r in server.requests] == ["1", "2", "3"]
    assert all(dict(query_of(r))["target_channel"] == "wa" for r in server.requests)


def test_lists_without_total_stop_on_a_short_page(client, server) -> None:
    server.default = paged([{"id": f"b-{n}"} for n in range(4)], total=False)
    assert len(client.list_broadcasts()) == 4
    assert len(server.requests) == 3  # two full pages, then an empty one


def test_a_server_ignoring_offset_cannot_loop_forever(client, server) -> None:
    server.default = paged([{"id": "a"}, {"id": "b"}, {"id": "c"}], total=False, ignore_offset=True)
    assert [b.id for b in client.list_broadcasts()] == ["a", "b"]
    assert len(server.requests) == 2


def test_iter_broadcast_pages_yields_pages_with_pagination(client, server) -> None:
    server.default = paged([{"id": f"b-{n}"} for n in range(3)])
    pages = client.iter_broadcast_pages()
    assert [[b.id for b in page] for page, _ in pages] == [["b-0", "b-1"], ["b-2"]]
    assert all(isinstance(p, Pagination) and p.total == 3 for _, p in pages)


def test_broadcast_log_reads_all_pages(client, server) -> None:
    rows = [
        {"id": f"l-{n}", "status": "delivered", "contact_phone_number": "6281234567890"} for n in range(3)
    ]
    server.default = paged(rows)
    log = client.get_broadcast_log("b-1")
    assert [r.id for r in log] == ["l-0", "l-1", "l-2"]
    assert all(isinstance(r, BroadcastLogEntry) for r in log)
    assert urlsplit(server.requests[0].path).path == "/qontak/chat/v1/broadcasts/b-1/whatsapp/log"


# --------------------------------------------------------------------------------------------- one-offs


def test_single_resources(client, server) -> None:
    server.script(
        ok({"id": "t-1", "name": "otp", "language": "id", "body": "Kode {{1}}"}),
        ok(broadcast("b-9")),
    )
    template = client.get_template("t-1")
    assert isinstance(template, Template) and template.body_placeholders == ["1"]
    assert client.get_broadcast("b-9").id == "b-9"
    assert [r.path for r in server.requests] == [
        "/qontak/chat/v1/templates/t-1/whatsapp",
        "/qontak/chat/v1/broadcasts/b-9/whatsapp",
    ]


def test_ids_are_quoted_into_one_path_segment(client, server) -> None:
    server.script(ok({"id": "x"}))
    client.get_channel("a/b?c")
    assert server.requests[0].path == "/qontak/chat/v1/integrations/a%2Fb%3Fc"
    assert server.requests[0].signature_error is None


def test_templates_filtered_and_found_by_name(client, server) -> None:
    templates = [
        {"id": "1", "name": "otp", "language": "id", "status": "APPROVED"},
        {"id": "2", "name": "otp", "language": "en_US", "status": "APPROVED"},
        {"id": "3", "name": "promo", "language": "id", "status": "APPROVED"},
    ]
    server.default = paged(templates)
    assert [t.id for t in client.list_templates(name="otp")] == ["1", "2"]
    assert [t.id for t in client.list_templates(language="id")] == ["1", "3"]
    assert client.find_template("otp", "en_US").id == "2"
    assert client.find_template("promo").id == "3"
    with pytest.raises(QontakPayloadError, match="language"):
        client.find_template("otp")
    with pytest.raises(QontakNotFoundError):
        client.find_template("missing")


def test_server_time_skew(kind, server) -> None:
    fake = FakeTime()
    server.script(
        Reply(
            200,
            {"status": "success", "data": {"id": "c"}},
            {"Date": http_date(fake.now() - timedelta(seconds=400))},
        )
    )
    facade = open_client(kind, server.url, fake)
    try:
        assert facade.server_time_skew() is None
        facade.get_channel("c")
        assert facade.server_time_skew() == 400.0  # our clock is 400 s ahead: the gateway would refuse us
    finally:
        facade.close()
