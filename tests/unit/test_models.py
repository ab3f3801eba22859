"""Unit tests of qontak_provider.client.models: tolerant reader, strict writer."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from qontak_provider.client.models import (
    Broadcast,
    BroadcastLogEntry,
    BroadcastStatus,
    ChannelIntegration,
    DirectSendRequest,
    HeaderFormat,
    Pagination,
    Template,
)

SEEDS: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "seed_payloads.json").read_text()
)


def template(**fields: Any) -> Template:
    return Template.model_validate({"id": "t-1", "name": "tpl", **fields})


# ---------------------------------------------------------------------------------------------- Template


@pytest.mark.parametrize(
    ("body", "placeholders"),
    [
        (None, []),
        ("", []),
        ("Tanpa variabel.", []),
        ("Halo {{1}}", ["1"]),
        ("{{2}} lalu {{1}}", ["1", "2"]),
        ("{{1}} {{1}} {{ 1 }}", ["1"]),
        ("{{ 2 }}, {{1}}, {{10}}, {{3}}", ["1", "2", "3", "10"]),
        ("{{01}} and {{1}}", ["1"]),
        ("{{name}} and {1} and {{ }}", []),
        ("{{1}\n{{\t2\t}}", ["2"]),
    ],
)
def test_body_placeholders(body, placeholders):
    assert template(body=body).body_placeholders == placeholders


@pytest.mark.parametrize(
    ("header", "header_format", "media"),
    [
        (None, None, False),
        ({}, None, False),
        ({"format": ""}, None, False),
        ({"format": "TEXT", "text": "Halo"}, "TEXT", False),
        ({"format": "image"}, "IMAGE", True),
        ({"format": "DOCUMENT"}, "DOCUMENT", True),
        ({"format": "Video"}, "VIDEO", True),
        ({"format": "LOCATION"}, "LOCATION", False),
    ],
)
def test_header_format_and_needs_media_header(header, header_format, media):
    tpl = template(header=header)
    assert tpl.header_format == header_format
    assert tpl.needs_media_header is media


def test_dynamic_button_indexes():
    tpl = template(
        buttons=[
            {"type": "URL", "text": "Static", "url": "https://example.com/"},
            {"type": "url", "text": "Dynamic", "url": "https://example.com/{{1}}"},
            {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+6221000000"},
            {"type": "QUICK_REPLY", "text": "Stop"},
            {"type": "OTP", "text": "Copy"},
            {"type": "COPY_CODE", "text": "Code"},
            {"type": "URL", "text": "Spaced", "url": "https://example.com/{{ 1 }}"},
            {"type": None, "text": "Unknown"},
            {"type": "URL", "text": "No url"},
        ]
    )
    assert tpl.dynamic_button_indexes == ["1", "4", "5", "6"]


def test_template_without_buttons_has_no_dynamic_buttons():
    assert template().dynamic_button_indexes == []


def test_template_tolerates_unknown_fields():
    tpl = template(
        components_v2=[{"x": 1}], header={"format": "IMAGE", "media_id": "m"}, buttons=[{"new": True}]
    )
    assert tpl.model_extra == {"components_v2": [{"x": 1}]}
    assert tpl.header is not None and tpl.header.model_extra == {"media_id": "m"}
    assert tpl.buttons[0].type is None


def test_header_format_enum_values():
    assert {f.value for f in HeaderFormat} == {"IMAGE", "DOCUMENT", "VIDEO"}


# -------------------------------------------------------------------------------------------- statuses


@pytest.mark.parametrize(
    ("value", "status"),
    [
        ("read", BroadcastStatus.READ),
        ("DELIVERED", BroadcastStatus.DELIVERED),
        ("Sent", BroadcastStatus.SENT),
        ("failed", BroadcastStatus.FAILED),
        ("pending", BroadcastStatus.PENDING),
        ("", BroadcastStatus.PENDING),
        (None, BroadcastStatus.PENDING),
        ("todo", BroadcastStatus.PENDING),
    ],
)
def test_broadcast_status_parse(value, status):
    assert BroadcastStatus.parse(value) is status


def test_broadcast_status_rank_ladder():
    ladder = [BroadcastStatus.FAILED, BroadcastStatus.PENDING, BroadcastStatus.SENT]
    ladder += [BroadcastStatus.DELIVERED, BroadcastStatus.READ]
    assert [s.rank for s in ladder] == sorted(s.rank for s in ladder)
    assert len({s.rank for s in BroadcastStatus}) == len(BroadcastStatus)
    assert BroadcastStatus.READ.rank > BroadcastStatus.DELIVERED.rank > BroadcastStatus.SENT.rank
    assert BroadcastStatus.FAILED.rank < BroadcastStatus.PENDING.rank


@pytest.mark.parametrize(
    ("message", "text"),
    [
        (None, None),
        ("", None),
        ("n/a", None),
        (" N/A ", None),
        ("Message failed to send", "Message failed to send"),
    ],
)
def test_broadcast_log_entry_error_text(message, text):
    entry = BroadcastLogEntry.model_validate({"whatsapp_error_message": message, "status": "failed"})
    assert entry.error_text == text
    assert entry.broadcast_status is BroadcastStatus.FAILED


def test_broadcast_log_entry_error_text_is_stripped():
    assert (
        BroadcastLogEntry(whatsapp_error_message="  Re-engagement message  ").error_text
        == "Re-engagement message"
    )


def test_response_models_tolerate_unknown_fields_and_defaults():
    broadcast = Broadcast.model_validate(
        {"id": "b-1", "brand_new": {"x": 1}, "message_status_count": {"read": 2}}
    )
    assert broadcast.model_extra == {"brand_new": {"x": 1}}
    assert broadcast.message_status_count.read == 2
    assert broadcast.message_status_count.pending == 0
    channel = ChannelIntegration.model_validate({"id": "c-1", "target_channel": "wa_cloud", "new": 1})
    assert channel.is_active is True
    pagination = Pagination.model_validate(
        {"offset": 1, "limit": 10, "total": 3, "cursor": {"next": "n", "z": 1}}
    )
    assert pagination.cursor is not None and pagination.cursor.next == "n"


def test_required_response_fields_still_required():
    with pytest.raises(ValidationError):
        Template.model_validate({"name": "no id"})


# ---------------------------------------------------------------------------------------- DirectSendRequest


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_direct_send_request_round_trips_seed(kind):
    request = DirectSendRequest.model_validate(copy.deepcopy(SEEDS[kind]))
    assert request.to_wire() == SEEDS[kind]
    assert DirectSendRequest.model_validate(request.to_wire()).to_wire() == SEEDS[kind]


@pytest.mark.parametrize(
    "path",
    [
        (),
        ("language",),
        ("parameters",),
        ("parameters", "body", 0),
        ("parameters", "buttons", 0),
    ],
)
def test_direct_send_request_forbids_unknown_fields(path):
    payload = copy.deepcopy(SEEDS["otp"])
    target: Any = payload
    for part in path:
        target = target[part]
    target["typo"] = "x"
    with pytest.raises(ValidationError, match="typo"):
        DirectSendRequest.model_validate(payload)


def test_direct_send_request_header_forbids_unknown_fields():
    payload = copy.deepcopy(SEEDS["image"])
    payload["parameters"]["header"]["params"][0]["typo"] = 1
    with pytest.raises(ValidationError):
        DirectSendRequest.model_validate(payload)


def test_to_wire_always_has_parameters_and_no_nulls():
    payload = copy.deepcopy(SEEDS["cta_url"])
    del payload["parameters"]
    assert DirectSendRequest.model_validate(payload).to_wire()["parameters"] == {}
    payload["parameters"] = {"body": None, "buttons": [{"index": "0", "type": None, "value": "x"}]}
    assert DirectSendRequest.model_validate(payload).to_wire()["parameters"] == {
        "buttons": [{"index": "0", "value": "x"}]
    }
