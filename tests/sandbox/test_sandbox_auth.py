"""The sandbox verifies Mekari HMAC signatures like the gateway (reference notes section 1)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sandbox_helpers import DIRECT, Api, messages, payload

from qontak_provider.client.signing import sign_headers

UNAUTHORIZED = b'{"message":"Unauthorized"}'


def assert_unauthorized(response, reason_fragment: str) -> None:
    assert response.status_code == 401
    assert response.content == UNAUTHORIZED
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert reason_fragment in response.headers["x-sandbox-auth-error"]


def test_signed_request_is_accepted(api: Api) -> None:
    response = api.get("integrations", params={"target_channel": "wa_cloud"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    assert response.headers["x-request-id"]
    assert float(response.headers["x-runtime"]) >= 0


def test_wrong_signature(api: Api) -> None:
    api.secret = "not-the-secret"
    assert_unauthorized(api.get("integrations"), "signature mismatch")


@pytest.mark.parametrize("skew", [timedelta(seconds=-301), timedelta(seconds=301), timedelta(hours=-2)])
def test_stale_or_future_date(api: Api, skew: timedelta) -> None:
    headers = sign_headers(
        api.client_id,
        api.secret,
        "GET",
        "/qontak/chat/v1/integrations",
        now=datetime.now(timezone.utc) + skew,
    )
    assert_unauthorized(api.get("integrations", headers=headers), "too far")


def test_date_within_skew_is_accepted(api: Api) -> None:
    headers = sign_headers(
        api.client_id,
        api.secret,
        "GET",
        "/qontak/chat/v1/integrations",
        now=datetime.now(timezone.utc) - timedelta(seconds=200),
    )
    assert api.get("integrations", headers=headers).status_code == 200


def test_query_string_must_be_signed(api: Api) -> None:
    response = api.get(
        "templates/whatsapp", params={"status": "APPROVED"}, sign_target="/qontak/chat/v1/templates/whatsapp"
    )
    assert_unauthorized(response, "signature mismatch")


def test_percent_decoded_query_signature_is_tolerated(api: Api) -> None:
    # The official JS SDK signs the URL-decoded query; the wire carries the encoded one.
    response = api.get(
        "templates/whatsapp?category%5B%5D=UTILITY&query=status%20pesanan",
        sign_target="/qontak/chat/v1/templates/whatsapp?category[]=UTILITY&query=status pesanan",
    )
    assert response.status_code == 200, response.headers.get("x-sandbox-auth-error")
    assert [t["name"] for t in response.json()["data"]] == ["order_update"]


def test_unknown_client_id(api: Api) -> None:
    api.client_id = "someone-else"
    assert_unauthorized(api.get("integrations"), "unknown client id")


def test_curly_quotes_in_authorization(api: Api) -> None:
    headers = sign_headers(api.client_id, api.secret, "GET", "/qontak/chat/v1/integrations")
    headers["Authorization"] = headers["Authorization"].replace('"', "\u201d")
    response = api.session.get(
        api.sandbox.url + "/qontak/chat/v1/integrations",
        headers={k: v.encode() for k, v in headers.items()},  # curly quotes are not latin-1
    )
    assert_unauthorized(response, "grammar")


def test_missing_date_and_missing_authorization(api: Api) -> None:
    headers = sign_headers(api.client_id, api.secret, "GET", "/qontak/chat/v1/integrations")
    no_date = api.session.get(
        api.sandbox.url + "/qontak/chat/v1/integrations", headers={"Authorization": headers["Authorization"]}
    )
    assert_unauthorized(no_date, "missing Date")
    assert_unauthorized(
        api.session.get(api.sandbox.url + "/qontak/chat/v1/integrations"), "missing Authorization"
    )


def test_signature_for_another_method_is_rejected(api: Api) -> None:
    headers = sign_headers(api.client_id, api.secret, "GET", DIRECT)
    response = api.session.post(api.sandbox.url + DIRECT, json=payload("otp"), headers=headers)
    assert_unauthorized(response, "signature mismatch")


def test_digest_is_optional_but_checked_when_present(api: Api) -> None:
    assert api.send(payload("otp"), digest=True).status_code == 201
    response = api.send(payload("otp"), headers={"Digest": "SHA-256=AAAA"})
    assert_unauthorized(response, "Digest does not match")
    assert len(api.sandbox.sends()) == 1


def test_unauthenticated_unknown_path_is_401_and_authenticated_is_404(api: Api) -> None:
    assert api.session.get(api.sandbox.url + "/qontak/chat/v1/nope").status_code == 401
    response = api.get("nope")
    assert response.status_code == 404
    assert messages(response) == ["Resource not found."]


def test_rejected_requests_are_counted_and_not_processed(api: Api) -> None:
    api.secret = "wrong"
    api.send(payload("otp"))
    stats = api.sandbox.stats()
    assert stats["by_endpoint"]["POST /broadcasts/whatsapp/direct"] == {"401": 1}
    assert api.sandbox.sends() == []


def test_credentials_are_configurable(api: Api) -> None:
    api.sandbox.update_settings(credentials={"team-a": "secret-a"})
    assert api.get("integrations").status_code == 401
    api.client_id, api.secret = "team-a", "secret-a"
    assert api.get("integrations").status_code == 200
