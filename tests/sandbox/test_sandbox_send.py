"""Direct send: the seed payloads work verbatim; schema and semantic mistakes give a helpful 422."""

from __future__ import annotations

import pytest
from sandbox_helpers import CHANNEL_ID, SEED_PAYLOADS, Api, messages, payload

OTP_ID = "60cccaa0-ccd9-4efd-bdfb-875859c4b50a"
TEXT_ID = "d3e1083c-66ea-410b-b807-1d84182ffa82"
VIDEO_ID = "70332b74-e9bd-4829-bb31-c46924e7d3ff"
DOCUMENT_ID = "380d1355-0a65-4dc5-be82-308ee7619910"
CTA_PHONE_ID = "99aa44c1-6573-4a89-b0ca-f272b1b846b4"


def template_id(api: Api, name: str, language: str = "id") -> str:
    listed = api.get("templates/whatsapp", params={"query": name, "limit": 100}).json()["data"]
    return next(t["id"] for t in listed if t["name"] == name and t["language"] == language)


def channel_id(api: Api, target: str, *, active: bool = True) -> str:
    listed = api.get("integrations", params={"target_channel": target, "all": "true"}).json()["data"]
    return next(c["id"] for c in listed if c["is_active"] is active)


@pytest.mark.parametrize("name", sorted(SEED_PAYLOADS))
def test_seed_payloads_are_accepted_verbatim(api: Api, name: str) -> None:
    response = api.send(SEED_PAYLOADS[name])
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "success" and "meta" not in body
    data = body["data"]
    assert data["message_status_count"] == {"failed": 0, "delivered": 0, "read": 0, "pending": 0, "sent": 0}
    assert data["message_template"]["id"] == SEED_PAYLOADS[name]["message_template_id"]
    assert data["channel_integration_id"] == CHANNEL_ID
    assert data["name"] == "Test User"
    assert data["execute_status"] == "done" and data["execute_type"] == "immediately"
    assert data["message_broadcast_error"] == "n/a"
    for key in (
        "send_at",
        "created_at",
        "contact_extra",
        "division_id",
        "sender_name",
        "channel_account_name",
    ):
        assert key in data
    assert data["channel_phone_number"].isdigit()
    assert api.sandbox.sends()[-1]["broadcast_id"] == data["id"]


def test_parameters_are_summarised_like_the_api(api: Api) -> None:
    data = api.send(payload("text_with_variables")).json()["data"]
    assert data["parameters"]["body"] == {"1": "name", "2": "lagu"}


def test_static_cta_phone_template_with_empty_parameters(api: Api) -> None:
    body = payload("cta_url", message_template_id=CTA_PHONE_ID, parameters={})
    assert api.send(body).status_code == 201
    assert api.send({**body, "parameters": {"body": [], "buttons": []}}).status_code == 201


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda p: p.pop("to_number"), "to_number is missing"),
        (lambda p: p.pop("parameters"), "parameters is missing"),
        (lambda p: p["parameters"]["body"][0].pop("value"), "parameters.body[0].value is missing"),
        (lambda p: p.update(to_number=6281234567890), "to_number: expected string"),
        (lambda p: p["parameters"]["buttons"][0].pop("index"), "parameters.buttons[0].index is missing"),
        (lambda p: p.update(language={}), "language.code is missing"),
    ],
)
def test_schema_violations_name_the_field(api: Api, mutate, expected: str) -> None:
    body = payload("otp")
    mutate(body)
    response = api.send(body)
    assert response.status_code == 422
    assert any(expected in m for m in messages(response)), messages(response)
    assert api.sandbox.sends() == []


def test_header_format_outside_the_enum_is_a_schema_error(api: Api) -> None:
    body = payload("image")
    body["parameters"]["header"]["format"] = "GIF"
    assert "parameters.header.format: must be one of DOCUMENT, IMAGE, VIDEO" in messages(api.send(body))[0]


def test_body_that_is_not_json(api: Api) -> None:
    response = api.request("POST", "/qontak/chat/v1/broadcasts/whatsapp/direct", raw=b"{nope")
    assert response.status_code == 422
    assert messages(response) == ["request body: not valid JSON"]


def test_unknown_template(api: Api) -> None:
    response = api.send(payload("otp", message_template_id="0b7c9a47-0000-4000-8000-000000000000"))
    assert messages(response) == [
        "message_template_id: template '0b7c9a47-0000-4000-8000-000000000000' was not found"
    ]


def test_template_not_approved(api: Api) -> None:
    rejected = template_id(api, "flash_sale")
    response = api.send(payload("image", message_template_id=rejected, parameters={}))
    assert response.status_code == 422
    assert "is REJECTED; only APPROVED templates can be sent" in messages(response)[0]
    pending = template_id(api, "holiday_greeting")
    assert "is PENDING" in messages(api.send(payload("otp", message_template_id=pending)))[0]


def test_unknown_channel(api: Api) -> None:
    response = api.send(payload("otp", channel_integration_id="c0ffee00-0000-4000-8000-000000000000"))
    assert messages(response) == [
        "channel_integration_id: channel integration 'c0ffee00-0000-4000-8000-000000000000' was not found"
    ]


def test_channel_that_is_not_whatsapp_or_inactive(api: Api) -> None:
    email = channel_id(api, "email")
    assert (
        "is a 'email' channel, not WhatsApp"
        in messages(api.send(payload("otp", channel_integration_id=email)))[0]
    )
    inactive = channel_id(api, "wa_cloud", active=False)
    assert "is not active" in messages(api.send(payload("otp", channel_integration_id=inactive)))[0]


def test_on_premise_wa_channel_is_accepted(api: Api) -> None:
    assert api.send(payload("otp", channel_integration_id=channel_id(api, "wa"))).status_code == 201


def test_wrong_number_of_body_parameters(api: Api) -> None:
    body = payload("video")
    body["parameters"]["body"].pop()
    assert messages(api.send(body)) == [
        "parameters.body: template 'product_video' has 3 body variables ({{1}}, {{2}}, {{3}}) "
        "but 2 were given"
    ]
    body = payload("image")
    body["parameters"]["body"] = [{"key": "1", "value_text": "x", "value": "y"}]
    assert "has no body variables but 1 was given" in messages(api.send(body))[0]


def test_wrong_body_keys_and_empty_text(api: Api) -> None:
    body = payload("text_with_variables")
    body["parameters"]["body"][1]["key"] = "3"
    assert "parameters.body: keys must be '1', '2'" in messages(api.send(body))[0]
    body = payload("text_with_variables")
    body["parameters"]["body"][0]["value_text"] = " "
    assert messages(api.send(body)) == [
        "parameters.body[0].value_text: must not be empty (it replaces {{1}})"
    ]


def test_wrong_header_format(api: Api) -> None:
    body = payload("video")
    body["parameters"]["header"]["format"] = "IMAGE"
    assert messages(api.send(body)) == [
        "parameters.header.format: template 'product_video' has a VIDEO header; got 'IMAGE'"
    ]


def test_missing_header(api: Api) -> None:
    body = payload("image")
    del body["parameters"]["header"]
    assert messages(api.send(body))[0].startswith(
        "parameters.header is missing: template 'promo_image' has a IMAGE header"
    )


def test_header_on_a_template_without_media_header(api: Api) -> None:
    body = payload("text_with_variables")
    body["parameters"]["header"] = {
        "format": "IMAGE",
        "params": [{"key": "url", "value": "https://x.test/a.png"}],
    }
    assert "has no header, which takes no parameters" in messages(api.send(body))[0]


def test_header_url_and_document_filename(api: Api) -> None:
    body = payload("document")
    body["parameters"]["header"]["params"] = [{"key": "url", "value": "ftp://example.com/a.pdf"}]
    problems = messages(api.send(body))
    assert any("parameters.header.params.url: must be a public http(s) URL" in m for m in problems)
    assert any("'filename'} entry is required for a DOCUMENT header" in m for m in problems)
    # images may omit the filename (one official example does)
    image = payload("image")
    image["parameters"]["header"]["params"] = image["parameters"]["header"]["params"][:1]
    assert api.send(image).status_code == 201


def test_missing_button_parameter(api: Api) -> None:
    body = payload("otp")
    body["parameters"]["buttons"] = []
    problem = messages(api.send(body))[0]
    assert problem.startswith("parameters.buttons: template 'auth_web_1727242109' button 0 (URL ")
    assert "needs a value" in problem
    cta = payload("cta_url")
    cta["parameters"]["buttons"][0]["value"] = ""
    assert "template 'feature_link' button 0" in messages(api.send(cta))[0]


def test_button_index_out_of_range(api: Api) -> None:
    body = payload("cta_url")
    body["parameters"]["buttons"].append({"index": "3", "type": "url", "value": "x"})
    assert (
        "parameters.buttons[1].index: template 'feature_link' has 1 button(s); there is no button '3'"
        in (messages(api.send(body))[0])
    )


def test_all_problems_are_reported_at_once(api: Api) -> None:
    body = payload("video", channel_integration_id="missing")
    body["parameters"] = {"body": []}
    problems = messages(api.send(body))
    assert len(problems) == 3
    assert problems[0].startswith("channel_integration_id")


def test_language_codes_beyond_the_schema_enum(api: Api) -> None:
    account_alert = template_id(api, "account_alert", "en_US")
    body = payload(
        "otp",
        message_template_id=account_alert,
        language={"code": "en_US"},
        parameters={"body": [{"key": "1", "value_text": "Ana", "value": "name"}]},
    )
    assert api.send(body).status_code == 201
