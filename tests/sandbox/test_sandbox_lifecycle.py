"""Delivery lifecycle on the sandbox clock, magic recipients, and the lenient language check."""

from __future__ import annotations

import time

import phonenumbers
import pytest
from sandbox_helpers import Api, payload

from qontak_provider.client.models import BroadcastLogEntry, BroadcastStatus
from qontak_provider.sandbox import magic


def log_of(api: Api, broadcast_id: str) -> list[dict]:
    response = api.get(f"broadcasts/{broadcast_id}/whatsapp/log")
    assert response.status_code == 200
    body = response.json()
    assert body["meta"]["pagination"]["total"] == len(body["data"])
    return body["data"]


def counts_of(api: Api, broadcast_id: str) -> dict[str, int]:
    return api.get(f"broadcasts/{broadcast_id}/whatsapp").json()["data"]["message_status_count"]


def status_of(api: Api, broadcast_id: str) -> str | None:
    rows = log_of(api, broadcast_id)
    return rows[0]["status"] if rows else None


def send(api: Api, to_number: str = "6281234567890", name: str = "otp") -> str:
    response = api.send(payload(name, to_number=to_number))
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


@pytest.mark.parametrize("number", [magic.FAILS_UNDELIVERABLE, magic.NEVER_READ, magic.LATE_LOG])
def test_magic_numbers_are_valid_indonesian_mobiles(number: str) -> None:
    parsed = phonenumbers.parse("+" + number)
    assert phonenumbers.is_valid_number(parsed)
    assert phonenumbers.region_code_for_number(parsed) == "ID"
    assert phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.MOBILE


def test_lifecycle_climbs_one_step_per_tick_with_counts_in_step(api: Api) -> None:
    api.sandbox.update_settings(step_seconds=10)
    broadcast_id = send(api)
    seen = []
    for _ in range(5):
        rows = log_of(api, broadcast_id)
        status = rows[0]["status"]
        seen.append(status)
        counts = counts_of(api, broadcast_id)
        assert counts[status] == 1 and sum(counts.values()) == 1
        entry = BroadcastLogEntry.model_validate(rows[0])
        reached = [s for s in ("sent", "delivered", "read") if s in rows[0]["messages_response"]]
        assert reached == ["sent", "delivered", "read"][: BroadcastStatus(status).rank]
        api.sandbox.advance(10)
    assert seen == ["pending", "sent", "delivered", "read", "read"]
    assert entry.whatsapp_message_id.startswith("wamid.")
    assert entry.error_text is None and entry.whatsapp_error_message == "n/a"
    statuses = rows[0]["messages_response"]["read"]["statuses"]
    assert statuses[0]["status"] == "read" and statuses[0]["recipient_id"] == "6281234567890"
    assert statuses[0]["id"] == entry.whatsapp_message_id and statuses[0]["timestamp"].isdigit()
    assert rows[0]["messages"]["body"]["parameters"][0]["value_text"] == "123454321"
    assert rows[0]["is_pacing"] is False and rows[0]["contact_full_name"] == "Test User"


def test_lifecycle_runs_on_the_real_clock(api: Api) -> None:
    api.sandbox.update_settings(step_seconds=0.1)
    broadcast_id = send(api)
    seen = {status_of(api, broadcast_id)}
    deadline = time.monotonic() + 5
    while "read" not in seen and time.monotonic() < deadline:
        time.sleep(0.03)
        seen.add(status_of(api, broadcast_id))
    assert "read" in seen and "pending" in seen
    assert counts_of(api, broadcast_id) == {"failed": 0, "delivered": 0, "read": 1, "pending": 0, "sent": 0}


def test_magic_undeliverable(api: Api) -> None:
    broadcast_id = send(api, magic.FAILS_UNDELIVERABLE)
    assert status_of(api, broadcast_id) == "pending"
    api.sandbox.advance(60)
    row = log_of(api, broadcast_id)[0]
    assert row["status"] == "failed"
    assert row["whatsapp_error_message"] == "(#131026) Message undeliverable"
    error = row["messages_response"]["failed"]["statuses"][0]["errors"][0]
    assert error["code"] == 131026
    assert counts_of(api, broadcast_id)["failed"] == 1


def test_magic_never_read(api: Api) -> None:
    broadcast_id = send(api, magic.NEVER_READ)
    api.sandbox.advance(3600)
    assert status_of(api, broadcast_id) == "delivered"
    assert counts_of(api, broadcast_id)["delivered"] == 1


def test_magic_late_log(api: Api) -> None:
    api.sandbox.update_settings(late_log_seconds=30)
    broadcast_id = send(api, magic.LATE_LOG)
    assert log_of(api, broadcast_id) == []
    assert sum(counts_of(api, broadcast_id).values()) == 0
    api.sandbox.advance(29)
    assert log_of(api, broadcast_id) == []
    api.sandbox.advance(1)
    assert status_of(api, broadcast_id) == "pending"
    api.sandbox.advance(10)
    assert status_of(api, broadcast_id) == "read"


def test_invalid_number_is_accepted_then_undeliverable(api: Api) -> None:
    broadcast_id = send(api, "62123")
    api.sandbox.advance(10)
    assert log_of(api, broadcast_id)[0]["whatsapp_error_message"] == "(#131026) Message undeliverable"


def test_local_number_format_is_normalised(api: Api) -> None:
    broadcast_id = send(api, "+62 812-3456-7890")
    assert log_of(api, broadcast_id)[0]["contact_phone_number"] == "6281234567890"
    assert api.sandbox.counts() == {"6281234567890": 1}


def test_language_mismatch_is_accepted_then_fails_in_the_log(api: Api) -> None:
    api.sandbox.update_settings(language_check="template")
    # The guide's own OTP example: language "id" for its en_US template, as in the spec's log example.
    response = api.send(payload("otp"))
    assert response.status_code == 201
    broadcast_id = response.json()["data"]["id"]
    api.sandbox.advance(10)
    row = log_of(api, broadcast_id)[0]
    text = "The template (auth_web_1727242109) does not exist in the specified language (id)"
    assert row["status"] == "failed"
    assert row["whatsapp_error_message"].startswith(text)
    assert row["whatsapp_message_id"] == "n/a"
    assert row["messages_response"]["errors"][0]["code"] == 2001
    assert row["messages_response"]["errors"][0]["details"].startswith(text)
    assert BroadcastLogEntry.model_validate(row).error_text.startswith(text)


def test_language_of_a_sibling_translation_is_delivered(api: Api) -> None:
    api.sandbox.update_settings(language_check="template")
    listed = api.get("templates/whatsapp", params={"query": "order_update"}).json()["data"]
    indonesian = next(t for t in listed if t["language"] == "id")
    body = payload(
        "otp",
        message_template_id=indonesian["id"],
        language={"code": "en_US"},
        parameters={
            "body": [
                {"key": "1", "value_text": "A-1", "value": "order"},
                {"key": "2", "value_text": "shipped", "value": "status"},
            ]
        },
    )
    broadcast_id = api.send(body).json()["data"]["id"]
    api.sandbox.advance(10)
    row = log_of(api, broadcast_id)[0]
    assert row["status"] == "read"
    assert row["messages"]["body"]["template"].startswith("Your order")
