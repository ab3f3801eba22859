"""The wire: URL and query building, headers, and reading Qontak's envelopes and error bodies."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone

import httpx
import pytest
import requests

from qontak_provider.client.errors import QontakError, QontakPayloadError, QontakSendInDoubtError
from qontak_provider.client.models import Broadcast, Pagination
from qontak_provider.client.wire import (
    Call,
    RawResponse,
    base_headers,
    clock_skew,
    encode_query,
    envelope,
    gateway_endpoint,
    make_call,
    normalize_base_url,
    parse_error_messages,
    parse_model,
    path_segment,
    unwrap,
)

READ = Call("GET", "http://x/p", "/p", "read")
SEND = Call("POST", "http://x/p", "/p", "send", b"{}")


# ------------------------------------------------------------------------------------------ error bodies


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"message":"Unauthorized"}', ("Unauthorized",)),
        (
            b'{"status":"error","error":{"code":422,"messages":["target is missing","bad language"]}}',
            ("target is missing", "bad language"),
        ),
        (
            b'{"status":"error","error":{"code":404,"messages":["Resource not found."]}}',
            ("Resource not found.",),
        ),
        (b'{"error":"invalid_client"}', ("invalid_client",)),
        (b'{"error":{"message":"MAG-012 malformed HMAC token"}}', ("MAG-012 malformed HMAC token",)),
        (b'{"errors":[{"title":"a"},{"detail":"b"}, "c"]}', ("a", "b", "c")),
        (b'{"error":{"messages":["dup"]},"message":"dup"}', ("dup",)),
        (b'["x", "y"]', ("x", "y")),
        (b"<html>Bad gateway</html>", ("Bad gateway",)),
        (
            b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title><style>body{}</style></head>"
            b"<body><h1>502 Bad Gateway</h1><hr><center>nginx</center></body></html>",
            ("502 Bad Gateway",),
        ),
        (b"", ()),
        (b"{}", ()),
        (b'{"error":{"code":500,"messages":[]}}', ()),
        (b"\xff\xfe garbage", ("\ufffd\ufffd garbage",)),
    ],
)
def test_parse_error_messages(body: bytes, expected: tuple[str, ...]) -> None:
    assert parse_error_messages(body) == expected


def test_an_html_page_without_title_becomes_its_text() -> None:
    body = b"<html><body>\n  <h1>Service   Unavailable</h1>\n<p>Try later</p></body></html>"
    assert parse_error_messages(body) == ("Service Unavailable Try later",)


def test_long_non_json_bodies_are_cut_to_a_short_excerpt() -> None:
    (text,) = parse_error_messages(b"word " * 5000)
    assert len(text) == 160 and text.endswith("…")


# -------------------------------------------------------------------------------------------- envelopes


def test_unwrap_success_envelope_with_pagination() -> None:
    body = {
        "status": "success",
        "data": [{"id": "1"}],
        "meta": {"pagination": {"offset": 1, "limit": 2, "total": 3}},
    }
    data, pagination = unwrap(READ, RawResponse(200, json.dumps(body).encode()))
    assert data == [{"id": "1"}]
    assert pagination == Pagination(offset=1, limit=2, total=3)


def test_unwrap_without_meta() -> None:
    data, pagination = unwrap(READ, RawResponse(200, b'{"status":"success","data":{"id":"1"}}'))
    assert data == {"id": "1"} and pagination is None


@pytest.mark.parametrize("content", [b"<html></html>", b"[]", b'{"status":"success"}', b""])
def test_unwrap_garbled_read_is_a_plain_error_with_advice(content: bytes) -> None:
    with pytest.raises(QontakError) as info:
        unwrap(READ, RawResponse(200, content))
    assert type(info.value) is QontakError
    assert "base URL" in str(info.value)


def test_unwrap_garbled_send_is_in_doubt() -> None:
    with pytest.raises(QontakSendInDoubtError, match="broadcast id is unknown"):
        unwrap(SEND, RawResponse(201, b"Created"))


def test_parse_model_shape_errors() -> None:
    assert parse_model(READ, RawResponse(200, b""), Broadcast, {"id": "b"}).id == "b"
    with pytest.raises(QontakError, match="'id'"):
        parse_model(READ, RawResponse(200, b""), Broadcast, {"name": "no id"})
    with pytest.raises(QontakSendInDoubtError):
        parse_model(SEND, RawResponse(201, b""), Broadcast, {"name": "no id"})


# --------------------------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("api.mekari.com", "https://api.mekari.com"),
        ("https://api.mekari.com/", "https://api.mekari.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://api.mekari.io/qontak/chat/v1/", "https://api.mekari.io"),
        ("  https://proxy.example/mekari/ ", "https://proxy.example/mekari"),
        ("localhost:9000", "https://localhost:9000"),
    ],
)
def test_normalize_base_url(given: str, expected: str) -> None:
    assert normalize_base_url(given) == expected


@pytest.mark.parametrize("bad", ["", "   ", "ftp://host", "https://"])
def test_normalize_base_url_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize_base_url(bad)


def test_encode_query_fixed_order_arrays_booleans_and_none() -> None:
    query = [("status", "APPROVED"), ("category", ["MARKETING", "UTILITY"]), ("skip", None), ("all", True)]
    assert encode_query(query) == "status=APPROVED&category%5B%5D=MARKETING&category%5B%5D=UTILITY&all=true"
    assert encode_query({"hsm_chat": False, "x[]": ("a",)}) == "hsm_chat=false&x%5B%5D=a"
    assert encode_query(None) == "" and encode_query([]) == ""


def test_encode_query_escapes_only_what_must_be() -> None:
    assert encode_query([("q", "a b&c=d+e/f?g#h%")]) == "q=a%20b%26c%3Dd%2Be%2Ff%3Fg%23h%25"
    assert (
        encode_query([("start_date", "2024-01-01T00:00:00+07:00")])
        == "start_date=2024-01-01T00:00:00%2B07:00"
    )
    assert encode_query([("name", "Ünï")]) == "name=%C3%9Cn%C3%AF"


def test_the_url_on_the_wire_is_the_signed_path() -> None:
    call = make_call(
        "https://api.mekari.com", "get", "templates/whatsapp", query=[("category", ["A B"]), ("q", "x:y,z@w")]
    )
    assert call.method == "GET"
    assert call.path == "/qontak/chat/v1/templates/whatsapp?category%5B%5D=A%20B&q=x:y,z@w"
    assert call.url == "https://api.mekari.com" + call.path
    # neither transport re-encodes it
    assert requests.Request("GET", call.url).prepare().path_url == call.path
    assert httpx.URL(call.url).raw_path.decode() == call.path


def test_make_call_keeps_a_base_path_prefix_and_serialises_bodies() -> None:
    call = make_call(
        "https://proxy.example/mekari", "POST", "/broadcasts/whatsapp/direct", body={"a": "é"}, kind="send"
    )
    assert call.path == "/mekari/qontak/chat/v1/broadcasts/whatsapp/direct"
    assert call.url == "https://proxy.example/mekari/qontak/chat/v1/broadcasts/whatsapp/direct"
    assert json.loads(call.body) == {"a": "é"} and call.kind == "send"


def test_path_segment_cannot_escape_the_path() -> None:
    assert path_segment("../../admin?x=1") == "..%2F..%2Fadmin%3Fx%3D1"
    with pytest.raises(QontakPayloadError):
        path_segment("")


def test_base_headers_carry_a_digest_of_every_body() -> None:
    body = b'{"hello": "world"}'
    headers = base_headers(Call("POST", "http://x/p", "/p", "send", body))
    assert headers["Digest"] == "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert headers["Digest"] == "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="  # the KB's own vector
    assert headers["Content-Type"] == "application/json"
    assert "Digest" not in base_headers(READ) and "Content-Type" not in base_headers(READ)


def test_clock_skew() -> None:
    now = datetime(2025, 1, 1, 0, 0, 10, tzinfo=timezone.utc)
    assert clock_skew("Wed, 01 Jan 2025 00:00:00 GMT", now) == 10.0
    assert clock_skew("Wed, 01 Jan 2025 00:00:30 GMT", now) == -20.0
    assert clock_skew(None, now) is None
    assert clock_skew("garbage", now) is None


# ------------------------------------------------------------------------------------ the generic request


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("templates/category", "templates/category"),
        ("/templates/category", "templates/category"),
        ("/qontak/chat/v1/templates/category/", "templates/category"),
        ("rooms/a136ac60-0cd6/tags", "rooms/a136ac60-0cd6/tags"),
        ("rooms/{id}/resolve", "rooms/{id}/resolve"),
        ("contacts/naïve list", "contacts/na%C3%AFve%20list"),
    ],
)
def test_gateway_endpoint_accepts_every_spelling_of_a_path(given: str, expected: str) -> None:
    assert gateway_endpoint(given) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "  ",
        None,
        42,
        "https://evil.example/x",
        "rooms?status=open",
        "rooms#x",
        "../admin",
        "rooms//x",
        "a/./b",
    ],
)
def test_gateway_endpoint_refuses_what_could_leave_the_api(bad: object) -> None:
    with pytest.raises(QontakPayloadError) as caught:
        gateway_endpoint(bad)
    assert str(caught.value).startswith("path:")


def test_envelope_is_the_whole_answer_and_empty_for_a_204() -> None:
    call = Call("DELETE", "http://x/p", "/p", "write")
    assert envelope(call, RawResponse(204, b"")) == {}
    body = {"status": "success", "data": {"id": "1"}, "meta": {"pagination": {"offset": 1}}}
    assert envelope(call, RawResponse(200, json.dumps(body).encode())) == body
    with pytest.raises(QontakSendInDoubtError, match="its result is unknown"):
        envelope(call, RawResponse(201, b"[1, 2]"))
    with pytest.raises(QontakError, match="not a JSON object"):
        envelope(READ, RawResponse(200, b"<html>"))
