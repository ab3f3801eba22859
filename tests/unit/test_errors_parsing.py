"""Response parsing, error mapping, URL/query building and pagination bookkeeping of the client."""

from __future__ import annotations

import json
import pickle
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import requests
import urllib3.exceptions

from qontak_provider.client._transport import (
    MAX_PAGES,
    Call,
    Credentials,
    Paginator,
    RawResponse,
    Secret,
    clock_skew,
    direct_send_body,
    encode_query,
    make_call,
    next_offset,
    normalize_base_url,
    parse_error_messages,
    parse_model,
    path_segment,
    pick_template,
    unwrap,
)
from qontak_provider.client.aio import classify_httpx_error
from qontak_provider.client.errors import (
    QontakError,
    QontakNotFoundError,
    QontakPayloadError,
    QontakSendInDoubtError,
)
from qontak_provider.client.models import Broadcast, DirectSendRequest, Pagination, Template
from qontak_provider.client.policy import FailureKind
from qontak_provider.client.sync import QontakClient, classify_requests_error

SEEDS = json.loads((Path(__file__).parents[1] / "fixtures" / "seed_payloads.json").read_text())
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
        (b"<html>Bad gateway</html>", ("<html>Bad gateway</html>",)),
        (b"", ()),
        (b"{}", ()),
        (b'{"error":{"code":500,"messages":[]}}', ()),
        (b"\xff\xfe garbage", ("\ufffd\ufffd garbage",)),
    ],
)
def test_parse_error_messages(body: bytes, expected: tuple[str, ...]) -> None:
    assert parse_error_messages(body) == expected


def test_long_non_json_bodies_are_cut() -> None:
    assert len(parse_error_messages(b"x" * 5000)[0]) == 200


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
    assert parse_model(READ, 200, Broadcast, {"id": "b"}).id == "b"
    with pytest.raises(QontakError, match="'id'"):
        parse_model(READ, 200, Broadcast, {"name": "no id"})
    with pytest.raises(QontakSendInDoubtError):
        parse_model(SEND, 201, Broadcast, {"name": "no id"})


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


# ------------------------------------------------------------------------------------------ pagination


def test_next_offset_rules() -> None:
    page = Pagination(offset=1, limit=2, total=5)
    assert next_offset(1, 2, 2, page) == 2
    assert next_offset(2, 2, 2, page) == 3
    assert next_offset(3, 2, 1, page) is None  # 3 * 2 >= 5
    assert next_offset(1, 2, 0, page) is None  # empty page
    assert next_offset(1, 2, 2, None) is None  # not paginated at all
    # no total: continue on full pages, stop on a short one
    assert next_offset(1, 2, 2, Pagination(offset=1, limit=2)) == 2
    assert next_offset(2, 2, 1, Pagination(offset=2, limit=2)) is None
    # the server's own limit wins over the one asked for (it may cap it)
    assert next_offset(1, 100, 50, Pagination(limit=50, total=120)) == 2
    assert next_offset(MAX_PAGES, 1, 1, Pagination(limit=1)) is None


def test_paginator_walks_pages_and_stops_on_a_repeated_page() -> None:
    pager = Paginator({"status": "APPROVED", "offset": 9}, 2)
    assert pager.next_query() == [("status", "APPROVED"), ("offset", 1), ("limit", 2)]
    assert pager.feed([{"id": "a"}, {"id": "b"}], Pagination(limit=2)) == [{"id": "a"}, {"id": "b"}]
    assert pager.next_query() == [("status", "APPROVED"), ("offset", 2), ("limit", 2)]
    # a server ignoring offset repeats page 1: stop, do not duplicate
    assert pager.feed([{"id": "a"}, {"id": "b"}], Pagination(limit=2)) == []
    assert pager.next_query() is None


def test_paginator_single_object_and_invalid_limit() -> None:
    pager = Paginator(None, 10)
    assert pager.feed({"id": "x"}, None) == [{"id": "x"}]
    assert pager.next_query() is None
    with pytest.raises(ValueError):
        Paginator(None, 0)


# ------------------------------------------------------------------------------------- exception mapping


def _refused() -> requests.ConnectionError:
    reason = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: refused")
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/p", reason))


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (_refused(), FailureKind.CONNECT),
        (requests.ConnectTimeout("connect timed out"), FailureKind.CONNECT),
        (requests.exceptions.ProxyError("proxy down"), FailureKind.CONNECT),
        (requests.ReadTimeout("read timed out"), FailureKind.TIMEOUT),
        (
            requests.ConnectionError(urllib3.exceptions.ReadTimeoutError(None, "/p", "Read timed out.")),
            FailureKind.TIMEOUT,
        ),
        (
            requests.ConnectionError(
                urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
            ),
            FailureKind.DISCONNECTED,
        ),
        (requests.exceptions.ChunkedEncodingError("cut"), FailureKind.DISCONNECTED),
        (requests.exceptions.SSLError("certificate verify failed"), FailureKind.FATAL),
        (requests.exceptions.InvalidURL("bad"), FailureKind.FATAL),
        (requests.exceptions.MissingSchema("bad"), FailureKind.FATAL),
        (requests.exceptions.Timeout("generic"), FailureKind.TIMEOUT),
    ],
)
def test_classify_requests_error(error: requests.RequestException, kind: FailureKind) -> None:
    outcome = classify_requests_error(error)
    assert outcome.kind is kind
    assert outcome.detail


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ConnectError("refused"), FailureKind.CONNECT),
        (httpx.ConnectTimeout("slow"), FailureKind.CONNECT),
        (httpx.PoolTimeout("pool"), FailureKind.CONNECT),
        (httpx.ProxyError("proxy"), FailureKind.CONNECT),
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), FailureKind.FATAL),
        (httpx.ReadTimeout("read"), FailureKind.TIMEOUT),
        (httpx.WriteTimeout("write"), FailureKind.TIMEOUT),
        (httpx.ReadError("reset"), FailureKind.DISCONNECTED),
        (httpx.WriteError("broken pipe"), FailureKind.DISCONNECTED),
        (httpx.RemoteProtocolError("Server disconnected"), FailureKind.DISCONNECTED),
        (httpx.UnsupportedProtocol("ftp"), FailureKind.FATAL),
        (httpx.LocalProtocolError("bad header"), FailureKind.FATAL),
        (httpx.DecodingError("gzip"), FailureKind.DISCONNECTED),
    ],
)
def test_classify_httpx_error(error: httpx.HTTPError, kind: FailureKind) -> None:
    assert classify_httpx_error(error).kind is kind


# ------------------------------------------------------------------------------------------ payloads


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_payloads_go_out_verbatim(name: str) -> None:
    assert direct_send_body(SEEDS[name]) == SEEDS[name]
    assert direct_send_body(DirectSendRequest.model_validate(SEEDS[name])) == SEEDS[name]


def test_invalid_payload_names_the_field_and_never_echoes_the_number() -> None:
    payload = dict(SEEDS["otp"])
    payload["language"] = {"code": "id", "typo": 1}
    with pytest.raises(QontakPayloadError) as info:
        direct_send_body(payload)
    assert info.value.field == "language.typo"

    payload = dict(SEEDS["otp"])
    payload["to_number"] = 6281234567890
    with pytest.raises(QontakPayloadError) as info:
        direct_send_body(payload)
    assert info.value.field == "to_number"
    assert "6281234567890" not in str(info.value)

    payload = dict(SEEDS["otp"])
    del payload["to_name"]
    with pytest.raises(QontakPayloadError, match="to_name"):
        direct_send_body(payload)


# ------------------------------------------------------------------------------------------ templates


def _template(tid: str, name: str, language: str, status: str = "APPROVED") -> Template:
    return Template(id=tid, name=name, language=language, status=status)


def test_pick_template() -> None:
    templates = [
        _template("1", "otp", "id"),
        _template("2", "otp", "en_US"),
        _template("3", "promo", "id", "REJECTED"),
        _template("4", "promo", "id"),
        _template("5", "dup", "id"),
        _template("6", "dup", "id"),
    ]
    assert pick_template(templates, "otp", "EN_us").id == "2"
    assert pick_template(templates, " OTP ", "id").id == "1"
    assert pick_template(templates, "promo", None).id == "4"  # approved wins over rejected
    with pytest.raises(QontakPayloadError) as info:
        pick_template(templates, "otp", None)
    assert info.value.field == "language" and "en_US" in str(info.value)
    with pytest.raises(QontakPayloadError) as info:
        pick_template(templates, "dup", "id")
    assert info.value.field == "message_template_id"
    with pytest.raises(QontakNotFoundError, match="exists in language"):
        pick_template(templates, "otp", "ms")
    with pytest.raises(QontakNotFoundError, match="No WhatsApp template named 'nope'"):
        pick_template(templates, "nope", None)


# ------------------------------------------------------------------------------------------ secrets


def test_secret_and_credentials_never_show_the_secret() -> None:
    secret = Secret("canary-secret-xyz")
    assert "canary" not in repr(secret) and "canary" not in str(secret)
    assert "canary" not in repr(Credentials("id", secret))
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(ValueError, match="password"):
        Secret("")


def test_client_repr_and_validation() -> None:
    client = QontakClient("my-id", "canary-secret-xyz", base_url="api.mekari.io")
    assert repr(client) == "QontakClient(base_url='https://api.mekari.io', client_id='my-id')"
    assert "canary" not in repr(vars(client))
    client.close()
    with pytest.raises(ValueError, match="login"):
        QontakClient("", "s")
    with pytest.raises(ValueError, match="password"):
        QontakClient("id", "")
    with pytest.raises(ValueError):
        QontakClient("id", "s", timeout=0)
    with pytest.raises(ValueError):
        QontakClient("id", "s", page_size=0)


def test_clock_skew() -> None:
    now = datetime(2025, 1, 1, 0, 0, 10, tzinfo=timezone.utc)
    assert clock_skew("Wed, 01 Jan 2025 00:00:00 GMT", now) == 10.0
    assert clock_skew("Wed, 01 Jan 2025 00:00:30 GMT", now) == -20.0
    assert clock_skew(None, now) is None
    assert clock_skew("garbage", now) is None


def test_client_package_import_is_cheap_and_lazy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, qontak_provider.client as c; "
        "assert 'requests' not in sys.modules and 'httpx' not in sys.modules, sorted(sys.modules); "
        "assert 'airflow' not in sys.modules; "
        "assert c.QontakClient.__name__ == 'QontakClient'; assert c.AsyncQontakClient.__name__; "
        "c.nope"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert "AttributeError" in result.stderr and "nope" in result.stderr, result.stderr
