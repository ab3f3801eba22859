"""Mekari HMAC signing: published test vectors, exact header grammar, verification branches."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime, timedelta, timezone

import pytest

from qontak_provider.client import signing
from qontak_provider.client.signing import (
    authorization_header,
    body_digest,
    compute_signature,
    http_date,
    parse_authorization,
    parse_http_date,
    request_line,
    sign_headers,
    string_to_sign,
    verify_signature,
)

# qontak-api.md §1.3, both published vectors.
VECTORS = [
    (
        "YOUR_MEKARI_API_CLIENT_SECRET",
        "Wed, 10 Nov 2021 07:24:29 GMT",
        "POST",
        "/v2/klikpajak/v1/efaktur/out?auto_approval=false",
        "6+Ah/UTmbqd+DDqlh6zYZ0HuCwVhtElYDOoucRPCaFg=",
    ),
    (
        "CLIENT_SECRET",
        "Tue, 24 Aug 2021 02:18:19 GMT",
        "POST",
        "/foo/bar?hello=world",
        "r70pUQMDXWaFUEWPybBbn9d+ae2naufbIckiT6wcAio=",
    ),
]


@pytest.mark.parametrize(("secret", "date", "method", "path", "expected"), VECTORS)
def test_published_vectors(secret: str, date: str, method: str, path: str, expected: str) -> None:
    assert compute_signature(secret, date, method, path) == expected


def test_method_is_upper_cased_in_the_request_line() -> None:
    secret, date, _, path, expected = VECTORS[1]
    assert compute_signature(secret, date, "post", path) == expected


def test_query_is_part_of_the_signature() -> None:
    secret, date, method, _, expected = VECTORS[1]
    assert compute_signature(secret, date, method, "/foo/bar") != expected


def test_digest_vector() -> None:
    assert body_digest(b'{"hello": "world"}') == "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="


def test_string_to_sign_is_two_lines_without_trailing_newline() -> None:
    text = string_to_sign("Tue, 24 Aug 2021 02:18:19 GMT", "get", "/a?b=c")
    assert text == "date: Tue, 24 Aug 2021 02:18:19 GMT\nGET /a?b=c HTTP/1.1"


def test_request_line_needs_an_absolute_path() -> None:
    assert request_line("get", "/x?y=1") == "GET /x?y=1 HTTP/1.1"
    with pytest.raises(ValueError, match="absolute path"):
        request_line("GET", "qontak/chat/v1/integrations")


def test_authorization_grammar_is_exact() -> None:
    value = authorization_header("my-id", "c2lnbmF0dXJl")
    assert value == (
        'hmac username="my-id", algorithm="hmac-sha256", headers="date request-line", '
        'signature="c2lnbmF0dXJl"'
    )


def test_sign_headers_signs_the_path_with_query() -> None:
    now = datetime(2021, 8, 24, 2, 18, 19, tzinfo=timezone.utc)
    headers = sign_headers("id-1", "CLIENT_SECRET", "POST", "/foo/bar?hello=world", now=now)
    assert headers["Date"] == "Tue, 24 Aug 2021 02:18:19 GMT"
    parsed = parse_authorization(headers["Authorization"])
    assert parsed.username == "id-1"
    assert parsed.algorithm == "hmac-sha256"
    assert parsed.headers == "date request-line"
    assert parsed.signature == VECTORS[1][4]
    # standard base64 of a 32-byte digest
    assert len(base64.b64decode(parsed.signature, validate=True)) == 32


def test_fresh_date_per_call() -> None:
    first = sign_headers("id", "s", "GET", "/x", now=datetime(2024, 1, 1, 0, 0, 0, tzinfo=timezone.utc))
    second = sign_headers("id", "s", "GET", "/x", now=datetime(2024, 1, 1, 0, 0, 1, tzinfo=timezone.utc))
    assert first["Date"] != second["Date"]
    assert first["Authorization"] != second["Authorization"]
    # and without an injected clock the current time is used
    live = sign_headers("id", "s", "GET", "/x")
    assert abs((parse_http_date(live["Date"]) - datetime.now(timezone.utc)).total_seconds()) < 5


def test_http_date_is_imf_fixdate_in_gmt_whatever_the_timezone() -> None:
    moment = datetime(2021, 11, 10, 14, 24, 29, 999, tzinfo=timezone(timedelta(hours=7)))
    assert http_date(moment) == "Wed, 10 Nov 2021 07:24:29 GMT"
    assert re.fullmatch(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT", http_date())


def test_parse_http_date() -> None:
    assert parse_http_date("Wed, 10 Nov 2021 07:24:29 GMT") == datetime(
        2021, 11, 10, 7, 24, 29, tzinfo=timezone.utc
    )
    with pytest.raises(ValueError):
        parse_http_date("yesterday")


def test_parse_authorization_rejects_other_grammars() -> None:
    for bad in (
        "",
        "Bearer abc",
        'hmac username=“id”, algorithm="hmac-sha256", headers="date request-line", signature="x"',
        'hmac username="id",algorithm="hmac-sha256",headers="date request-line",signature="x"',
    ):
        with pytest.raises(ValueError):
            parse_authorization(bad)


def test_parsed_authorization_repr_hides_the_signature() -> None:
    parsed = parse_authorization(authorization_header("id", "SIGNATURE-CANARY"))
    assert "SIGNATURE-CANARY" not in repr(parsed)


class TestVerifySignature:
    NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    CREDS = {"id-1": "secret-1"}
    PATH = "/qontak/chat/v1/templates/whatsapp?offset=1&limit=100"

    def signed(self, *, secret: str = "secret-1", client_id: str = "id-1", at: datetime | None = None):
        return sign_headers(client_id, secret, "GET", self.PATH, now=at or self.NOW)

    def verify(self, headers: dict[str, str], **overrides):
        kwargs = {
            "authorization": headers["Authorization"],
            "date": headers["Date"],
            "method": "GET",
            "path_with_query": self.PATH,
            "credentials": self.CREDS,
            "now": self.NOW,
        }
        kwargs.update(overrides)
        return verify_signature(**kwargs)

    def test_valid(self) -> None:
        assert self.verify(self.signed()) is None

    def test_malformed_header(self) -> None:
        assert "grammar" in self.verify(self.signed(), authorization="hmac nonsense")

    def test_wrong_algorithm(self) -> None:
        value = self.signed()["Authorization"].replace("hmac-sha256", "hmac-sha1")
        assert "algorithm" in self.verify(self.signed(), authorization=value)

    def test_wrong_signed_headers(self) -> None:
        value = self.signed()["Authorization"].replace('"date request-line"', '"date"')
        assert "signed headers" in self.verify(self.signed(), authorization=value)

    def test_unknown_client(self) -> None:
        assert self.verify(self.signed(client_id="other")) == "unknown client id"

    def test_bad_date(self) -> None:
        assert "RFC 7231" in self.verify(self.signed(), date="not a date")

    def test_skew_limit_is_300_seconds(self) -> None:
        assert signing.MAX_CLOCK_SKEW_SECONDS == 300
        inside = self.signed(at=self.NOW - timedelta(seconds=299))
        assert self.verify(inside) is None
        for delta in (300, -300, 3600):
            stale = self.signed(at=self.NOW - timedelta(seconds=delta))
            assert "too far" in self.verify(stale)

    def test_wrong_secret(self) -> None:
        assert self.verify(self.signed(secret="nope")) == "signature mismatch"

    def test_query_must_match(self) -> None:
        headers = self.signed()
        assert (
            self.verify(headers, path_with_query="/qontak/chat/v1/templates/whatsapp") == "signature mismatch"
        )

    def test_method_must_match(self) -> None:
        assert self.verify(self.signed(), method="POST") == "signature mismatch"

    def test_date_must_be_the_signed_one(self) -> None:
        headers = self.signed()
        other = http_date(self.NOW + timedelta(seconds=1))
        assert self.verify(headers, date=other) == "signature mismatch"

    def test_matches_an_independent_implementation(self) -> None:
        headers = self.signed()
        message = f"date: {headers['Date']}\nGET {self.PATH} HTTP/1.1".encode()
        expected = base64.b64encode(hmac.new(b"secret-1", message, hashlib.sha256).digest()).decode()
        assert parse_authorization(headers["Authorization"]).signature == expected
