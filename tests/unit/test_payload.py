"""Unit tests of qontak_provider.client.payload: building, normalising and validating direct sends."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qontak_provider.client.errors import QontakPayloadError
from qontak_provider.client.models import DirectSendRequest, Template
from qontak_provider.client.payload import (
    build_direct_send,
    direct_send_body,
    language_mismatch,
    normalize_payload,
    validate_against_template,
)

SEEDS: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "seed_payloads.json").read_text()
)
CHANNEL = "56b60c3c-0123-46af-958b-32f3ad12ee37"
IMAGE_URL = SEEDS["image"]["parameters"]["header"]["params"][0]["value"]
DOCUMENT_URL = SEEDS["document"]["parameters"]["header"]["params"][0]["value"]
VIDEO_URL = SEEDS["video"]["parameters"]["header"]["params"][0]["value"]


def make_template(
    template_id: str = "tpl-1",
    name: str = "payment_reminder",
    *,
    body: str | None = "Halo {{1}}, tagihan {{2}} jatuh tempo.",
    header: dict[str, Any] | None = None,
    buttons: list[dict[str, Any]] | None = None,
    category: str = "UTILITY",
    status: str | None = "APPROVED",
    language: str | None = "id",
    **extra: Any,
) -> Template:
    return Template.model_validate(
        {
            "id": template_id,
            "name": name,
            "language": language,
            "status": status,
            "category": category,
            "body": body,
            "header": header,
            "buttons": buttons or [],
            **extra,
        }
    )


def seed_templates() -> dict[str, Template]:
    """Templates matching the six seed payloads (ids from the official examples)."""
    return {
        "otp": make_template(
            "60cccaa0-ccd9-4efd-bdfb-875859c4b50a",
            "otp_login",
            body="Kode OTP Anda {{1}}. Jangan berikan kode ini kepada siapa pun.",
            category="AUTHENTICATION",
            buttons=[
                {
                    "type": "URL",
                    "text": "Salin kode",
                    "url": "https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp{{1}}",
                }
            ],
        ),
        "text_with_variables": make_template(
            "d3e1083c-66ea-410b-b807-1d84182ffa82",
            "lagu_favorit",
            body="Halo {{1}}, lagu favoritmu {{2}} sudah tersedia.",
        ),
        "image": make_template(
            "34d95207-0b48-4ce0-b589-2b7c1519d457", "promo_image", body="Promo!", header={"format": "IMAGE"}
        ),
        "document": make_template(
            "380d1355-0a65-4dc5-be82-308ee7619910",
            "invoice_document",
            body="Berikut dokumen Anda.",
            header={"format": "DOCUMENT"},
        ),
        "video": make_template(
            "70332b74-e9bd-4829-bb31-c46924e7d3ff",
            "video_intro",
            body="Halo {{1}}, selamat datang di {{2}}. Salam, tim {{3}}.",
            header={"format": "video"},
        ),
        "cta_url": make_template(
            "a36ea83e-1b63-41e9-a91b-bad2390531e9",
            "cta_fitur",
            body="Lihat fitur terbaru kami.",
            category="MARKETING",
            buttons=[{"type": "URL", "text": "Lihat fitur", "url": "https://www.qontak.com/{{1}}"}],
        ),
    }


TEMPLATES = seed_templates()


def build(template: Template, **kwargs: Any) -> DirectSendRequest:
    arguments: dict[str, Any] = {
        "to_number": "0812-3456-7890",
        "to_name": "Test User",
        "channel_integration_id": CHANNEL,
        **kwargs,
    }
    return build_direct_send(template, **arguments)


def seed(kind: str) -> dict[str, Any]:
    return copy.deepcopy(SEEDS[kind])


# ------------------------------------------------------------------------------------------- seeds verbatim


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_seed_payloads_normalize_and_validate_verbatim(kind):
    request = normalize_payload(seed(kind))
    validate_against_template(request, TEMPLATES[kind])
    assert request.to_wire() == SEEDS[kind]


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_validate_accepts_seed_dict_directly(kind):
    validate_against_template(seed(kind), TEMPLATES[kind])


FRIENDLY: dict[str, dict[str, Any]] = {
    "otp": {"body": [{"key": "1", "value_text": "123454321", "value": "otp"}], "buttons": ["123456"]},
    "text_with_variables": {
        "body": [
            {"key": "1", "value_text": "Test User", "value": "name"},
            {"key": 2, "value_text": "lagu nusantara", "value": "lagu"},
        ]
    },
    "image": {"header_url": IMAGE_URL},
    "document": {"header_url": DOCUMENT_URL, "header_filename": "sample.pdf"},
    "video": {
        "header_url": VIDEO_URL,
        "body": [
            {"key": "1", "value_text": "Valent", "value": "customer_name"},
            {"key": "2", "value_text": "Qontak", "value": "company"},
            {"key": "3", "value_text": "Qontak", "value": "company"},
        ],
    },
    "cta_url": {"buttons": {0: "fitur/personalisasi-report-sales"}},
}


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_build_reproduces_seed_payload(kind):
    wire = build(TEMPLATES[kind], to_number="+62 812-3456-7890", **FRIENDLY[kind]).to_wire()
    expected = seed(kind)
    # The builder always writes a buttons list; the document and video examples leave it out.
    expected["parameters"].setdefault("buttons", [])
    assert wire == expected


# ------------------------------------------------------------------------------------------------ body forms


def test_body_mapping_with_str_and_int_keys_is_sorted_and_labelled():
    request = build(make_template(), body={2: 1500, " 01 ": "Burhan"})
    assert request.to_wire()["parameters"]["body"] == [
        {"key": "1", "value_text": "Burhan", "value": "param_1"},
        {"key": "2", "value_text": "1500", "value": "param_2"},
    ]


def test_body_list_positions_fill_placeholders():
    request = build(make_template(), body=("Burhan", Decimal("12.50")))
    assert [(p.key, p.value_text) for p in request.parameters.body or []] == [("1", "Burhan"), ("2", "12.50")]


def test_body_seed_form_label_is_optional():
    request = build(
        make_template(),
        body=[{"key": "1", "value_text": "A"}, {"key": "2", "value_text": "B", "value": None}],
    )
    assert [p.value for p in request.parameters.body or []] == ["param_1", "param_2"]


def test_template_without_placeholders_takes_empty_body():
    request = build(make_template(body="Tanpa variabel."))
    assert request.to_wire()["parameters"] == {"body": [], "buttons": []}


def test_template_without_body_text():
    assert build(make_template(body=None)).parameters.body == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("Burhan", "parameters.body"),
        (42, "parameters.body"),
        ({"1", "2"}, "parameters.body"),
        (["a", {"key": "2", "value_text": "b"}], "parameters.body"),
        ({"name": "x"}, "parameters.body"),
        ({0: "x"}, "parameters.body"),
        ({True: "x"}, "parameters.body"),
        ({"9999999": "x"}, "parameters.body"),
        ([{"key": "1", "value_text": "a", "extra": 1}], "parameters.body[0]"),
        ([{"key": "1"}], "parameters.body[0]"),
        ([{"value_text": "a"}], "parameters.body[0]"),
        ([{"key": "x", "value_text": "a"}], "parameters.body[0].key"),
        (["a", None], "parameters.body[1].value_text"),
        (["a", b"b"], "parameters.body[1].value_text"),
        (["a", ["b"]], "parameters.body[1].value_text"),
        (["a", {"b": 1}], "parameters.body"),
        (
            [{"key": "1", "value_text": "a"}, {"key": "2", "value_text": "b", "value": ["x"]}],
            "parameters.body[1].value",
        ),
        ({"1": "a", 1: "b"}, "parameters.body"),  # same placeholder twice
        (["a"], "parameters.body"),
        (["a", "b", "c"], "parameters.body"),
        (["a", ""], "parameters.body[1].value_text"),
        (["a", "   "], "parameters.body[1].value_text"),
        (["a", "line\nbreak"], "parameters.body[1].value_text"),
        (["a", "tab\there"], "parameters.body[1].value_text"),
        (["a", "five     spaces"], "parameters.body[1].value_text"),
    ],
)
def test_bad_body_names_the_field(body, field):
    with pytest.raises(QontakPayloadError) as info:
        build(make_template(), body=body)
    assert info.value.field == field


def test_four_spaces_are_still_fine():
    build(make_template(), body=["a", "four    spaces"])


def test_value_whose_str_fails_is_a_payload_error():
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("boom")

    with pytest.raises(QontakPayloadError) as info:
        build(make_template(), body=["a", Broken()])
    assert info.value.field == "parameters.body[1].value_text"


def test_body_count_mismatch_message_is_helpful():
    with pytest.raises(QontakPayloadError) as info:
        build(make_template(), body={"1": "Burhan"})
    assert str(info.value) == (
        "parameters.body: expected 2 values with keys ['1', '2'] "
        "(template 'payment_reminder' has placeholders {{1}}, {{2}}), got ['1']"
    )
    assert info.value.given == ["1"]


def test_body_given_for_template_without_placeholders():
    with pytest.raises(QontakPayloadError, match="no placeholders"):
        build(make_template(body="Halo."), body=["x"])


# ---------------------------------------------------------------------------------------------- button forms


def buttons_template() -> Template:
    """Static phone button at 0, dynamic URL at 1, quick reply at 2, dynamic URL at 3."""
    return make_template(
        body="Halo.",
        category="MARKETING",
        buttons=[
            {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+6221000000"},
            {"type": "URL", "text": "Order", "url": "https://shop.example.com/order/{{1}}"},
            {"type": "QUICK_REPLY", "text": "Stop"},
            {"type": "URL", "text": "Track", "url": "https://shop.example.com/track/{{1}}"},
        ],
    )


def test_button_list_fills_dynamic_buttons_in_order():
    request = build(buttons_template(), buttons=["A-1", 77])
    assert request.to_wire()["parameters"]["buttons"] == [
        {"index": "1", "type": "URL", "value": "A-1"},
        {"index": "3", "type": "URL", "value": "77"},
    ]


def test_button_mapping_uses_absolute_indexes():
    request = build(buttons_template(), buttons={"3": "T", 1: "O"})
    assert [(b.index, b.value) for b in request.parameters.buttons or []] == [("1", "O"), ("3", "T")]


def test_button_seed_form_keeps_given_type():
    request = build(
        buttons_template(),
        buttons=[{"index": "1", "type": "url", "value": "x"}, {"index": 3, "value": "y"}],
    )
    assert request.to_wire()["parameters"]["buttons"] == [
        {"index": "1", "type": "url", "value": "x"},
        {"index": "3", "type": "URL", "value": "y"},
    ]


@pytest.mark.parametrize("kind", ["OTP", "COPY_CODE"])
def test_code_buttons_get_lowercase_url_type(kind):
    template = make_template(
        body="Kode {{1}}", category="MARKETING", buttons=[{"type": kind, "text": "Copy"}]
    )
    request = build(template, body=["123"], buttons=["123"])
    assert request.to_wire()["parameters"]["buttons"] == [{"index": "0", "type": "url", "value": "123"}]


@pytest.mark.parametrize(
    ("buttons", "field"),
    [
        ("x", "parameters.buttons"),
        (5, "parameters.buttons"),
        (["a", "b", "c"], "parameters.buttons"),
        (["a", {"index": "3", "value": "b"}], "parameters.buttons"),
        ({"one": "x"}, "parameters.buttons"),
        ({-1: "x"}, "parameters.buttons"),
        ({"1": "x", "3": "y", "9": "z"}, "parameters.buttons[2].index"),  # no such button (sorted position 2)
        ({"0": "x", "1": "y", "3": "z"}, "parameters.buttons[0].index"),  # static phone button
        ({"1": "x", 1: "y", "3": "z"}, "parameters.buttons[1].index"),  # twice
        ({"1": "x"}, "parameters.buttons[3]"),  # dynamic button 3 left without value
        ([], "parameters.buttons[1]"),
        (None, "parameters.buttons[1]"),
        (["a", None], "parameters.buttons[1].value"),
        ({"1": "x", "3": None}, "parameters.buttons[1].value"),  # entry without value
        ([{"index": "1", "value": "a", "label": "x"}, {"index": "3", "value": "b"}], "parameters.buttons[0]"),
        ([{"value": "a"}], "parameters.buttons[0]"),
        ([{"index": "1", "type": 1, "value": "a"}], "parameters.buttons[0].type"),
        (
            [{"index": "1", "type": "", "value": "a"}, {"index": "3", "value": "b"}],
            "parameters.buttons[0].type",
        ),
        ([{"index": "1.5", "value": "a"}], "parameters.buttons[0].index"),
        ([{"index": "1"}, {"index": "3", "value": "b"}], "parameters.buttons[0].value"),
        (["a", ""], "parameters.buttons[1].value"),
        (["a", "b\nc"], "parameters.buttons[1].value"),
    ],
)
def test_bad_buttons_name_the_field(buttons, field):
    with pytest.raises(QontakPayloadError) as info:
        build(buttons_template(), buttons=buttons)
    assert info.value.field == field


def test_missing_button_message_names_the_button():
    with pytest.raises(QontakPayloadError, match=r"dynamic URL button 0 \('Lihat fitur'\)"):
        build(TEMPLATES["cta_url"])


# ----------------------------------------------------------------------------------------------------- header


def test_header_filename_defaults_to_last_path_segment_unquoted():
    request = build(TEMPLATES["image"], header_url="https://cdn.example.com/a/Promo%20Mei.jpeg?x=1")
    assert request.to_wire()["parameters"]["header"] == {
        "format": "IMAGE",
        "params": [
            {"key": "url", "value": "https://cdn.example.com/a/Promo%20Mei.jpeg?x=1"},
            {"key": "filename", "value": "Promo Mei.jpeg"},
        ],
    }


def test_header_filename_omitted_when_url_has_no_path():
    header = build(TEMPLATES["image"], header_url="https://cdn.example.com/").to_wire()["parameters"][
        "header"
    ]
    assert header["params"] == [{"key": "url", "value": "https://cdn.example.com/"}]


def test_header_format_taken_from_template_case_insensitively():
    assert (
        build(TEMPLATES["video"], header_url=VIDEO_URL, body=["a", "b", "c"]).parameters.header.format
        == "VIDEO"
    )  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("template_kind", "kwargs", "field"),
    [
        ("image", {}, "parameters.header"),
        ("image", {"header_filename": "x.jpg"}, "parameters.header.params.filename"),
        ("text_with_variables", {"header_url": IMAGE_URL, "body": ["a", "b"]}, "parameters.header"),
        ("image", {"header_url": 42}, "parameters.header.params.url"),
        ("image", {"header_url": "http://cdn.example.com/a.jpg"}, "parameters.header.params.url"),
        ("image", {"header_url": "https:///a.jpg"}, "parameters.header.params.url"),
        ("image", {"header_url": "https://cdn.example.com/a b.jpg"}, "parameters.header.params.url"),
        ("image", {"header_url": " https://cdn.example.com/a.jpg"}, "parameters.header.params.url"),
        ("image", {"header_url": "https://[::1/a.jpg"}, "parameters.header.params.url"),
        ("image", {"header_url": "cdn.example.com/a.jpg"}, "parameters.header.params.url"),
        ("image", {"header_url": IMAGE_URL, "header_filename": 3}, "parameters.header.params.filename"),
        ("image", {"header_url": IMAGE_URL, "header_filename": " "}, "parameters.header.params.filename"),
    ],
)
def test_bad_header_names_the_field(template_kind, kwargs, field):
    with pytest.raises(QontakPayloadError) as info:
        build(TEMPLATES[template_kind], **kwargs)
    assert info.value.field == field


def test_text_header_template_refuses_header_url():
    template = make_template(body="Halo.", header={"format": "TEXT", "text": "Promo"})
    with pytest.raises(QontakPayloadError, match="a TEXT header"):
        build(template, header_url=IMAGE_URL)
    assert build(template).parameters.header is None


# -------------------------------------------------------------------------------------------- other arguments


def test_language_defaults_to_template_and_can_be_given():
    template = make_template(body="Hi.", language="en_US")
    assert build(template).language.code == "en_US"
    assert build(template, language="en_US").language.code == "en_US"


def test_a_language_other_than_the_templates_is_sent_as_given_with_a_warning():
    """Mekari's OTP example sends ``id`` to a template its guide lists as ``en_US``."""
    template = make_template(body="Hi.", language="en_US")
    request = build(template, language="id")
    assert request.language.code == "id"
    warning = language_mismatch(template, request.language.code)
    assert warning is not None and "'id'" in warning and "'en_US'" in warning and "may fail" in warning
    assert language_mismatch(template, build(template).language.code) is None
    assert language_mismatch(template, "EN_us") is None  # codes compare without case
    assert language_mismatch(template, None) is None  # no code asked: the template's own is used
    assert language_mismatch(make_template(body="Hi.", language=None), "id") is None  # nothing to compare


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"language": "en US"}, "language.code"),
        ({"language": "id\n"}, "language.code"),
        ({"language": "x" * 10_000}, "language.code"),
        ({"language": ""}, "language.code"),
        ({"language": 5}, "language.code"),
        ({"to_name": ""}, "to_name"),
        ({"to_name": "  "}, "to_name"),
        ({"to_name": None}, "to_name"),
        ({"channel_integration_id": ""}, "channel_integration_id"),
        ({"channel_integration_id": 123}, "channel_integration_id"),
        ({"to_number": "12"}, "to_number"),
        ({"to_number": None}, "to_number"),
        ({"default_region": "XX"}, "default_region"),
    ],
)
def test_bad_arguments_name_the_field(kwargs, field):
    with pytest.raises(QontakPayloadError) as info:
        build(make_template(body="Hi."), **kwargs)
    assert info.value.field == field


def test_template_without_language_needs_one():
    template = make_template(body="Hi.", language=None)
    with pytest.raises(QontakPayloadError) as info:
        build(template)
    assert info.value.field == "language.code"
    assert build(template, language="id").language.code == "id"


def test_template_must_be_a_template():
    with pytest.raises(QontakPayloadError) as info:
        build({"id": "x"})  # type: ignore[arg-type]
    assert info.value.field == "template"


@pytest.mark.parametrize("status", ["PENDING", "REJECTED", "disabled"])
def test_unapproved_template_is_refused(status):
    with pytest.raises(QontakPayloadError, match="APPROVED") as info:
        build(make_template(body="Hi.", status=status))
    assert info.value.field == "message_template_id"


def test_template_without_status_is_not_judged():
    build(make_template(body="Hi.", status=None))


# ---------------------------------------------------------------------------------------------- normalize


def test_normalize_payload_normalises_number_and_coerces_int_keys():
    payload = seed("otp")
    payload["to_number"] = "0812 3456 7890"
    payload["parameters"]["body"][0]["key"] = 1
    payload["parameters"]["buttons"][0]["index"] = 0
    request = normalize_payload(payload)
    assert request.to_wire() == SEEDS["otp"]


def test_normalize_payload_accepts_int_number_and_request():
    payload = seed("cta_url")
    payload["to_number"] = 6281234567890
    request = normalize_payload(payload)
    assert normalize_payload(request).to_wire() == SEEDS["cta_url"]


def test_normalize_payload_fills_required_parameters():
    payload = seed("cta_url")
    del payload["parameters"]
    assert normalize_payload(payload).to_wire()["parameters"] == {}


def test_normalize_payload_leaves_non_list_sections_to_the_model():
    payload = seed("cta_url")
    payload["parameters"]["body"] = "x"
    with pytest.raises(QontakPayloadError) as info:
        normalize_payload(payload)
    assert info.value.field == "parameters.body"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p["parameters"]["body"][0].pop("value_text"), "parameters.body[0].value_text"),
        (lambda p: p["parameters"]["body"][0].update(value_text=5), "parameters.body[0].value_text"),
        (lambda p: p.update(extra_field=1), "extra_field"),
        (lambda p: p.pop("to_name"), "to_name"),
        (lambda p: p.update(to_number=None), "to_number"),
        (lambda p: p.update(to_number="0812-3456-789O"), "to_number"),
        (lambda p: p.update(language="id"), "language"),
        (lambda p: p.update(parameters=[]), "parameters"),
        (lambda p: p["parameters"].update(header={"format": "GIF"}), "parameters.header.format"),
        (lambda p: p["parameters"]["buttons"][0].update(index=None), "parameters.buttons[0].index"),
    ],
)
def test_normalize_payload_names_the_field(mutate, field):
    payload = seed("otp")
    mutate(payload)
    with pytest.raises(QontakPayloadError) as info:
        normalize_payload(payload)
    assert info.value.field == field


def test_normalize_payload_masks_number_in_model_errors():
    payload = seed("otp")
    payload["to_number"] = ["6281234567890"]
    with pytest.raises(QontakPayloadError) as info:
        normalize_payload(payload)
    assert "6281234567890" not in str(info.value)


def test_normalize_payload_reports_how_many_problems_more():
    payload = seed("otp")
    del payload["to_name"]
    payload["bogus"] = 1
    with pytest.raises(QontakPayloadError, match=r"1 more problem\(s\): bogus"):
        normalize_payload(payload)


def test_normalize_payload_root_level_error():
    with pytest.raises(QontakPayloadError) as info:
        normalize_payload("not a dict")  # type: ignore[arg-type]
    assert info.value.field == "payload"


def test_normalize_payload_cuts_long_given_values():
    payload = seed("otp")
    payload["parameters"]["body"][0]["value_text"] = 7
    payload["language"] = {"code": "x" * 500}
    payload["to_name"] = {"nested": "junk"}
    with pytest.raises(QontakPayloadError) as info:
        normalize_payload(payload)
    assert info.value.given == "<dict>"


# ----------------------------------------------------------------------------------------------- validate


def request_for(kind: str, **changes: Any) -> DirectSendRequest:
    payload = seed(kind)
    payload.update(changes)
    return DirectSendRequest.model_validate(payload)


@pytest.mark.parametrize(
    ("kind", "changes", "field"),
    [
        ("otp", {"message_template_id": "other"}, "message_template_id"),
        ("otp", {"language": {"code": "indonesian please"}}, "language.code"),
        ("otp", {"to_number": "+6281234567890"}, "to_number"),
        ("otp", {"to_number": "081234567890"}, "to_number"),
        ("otp", {"to_name": " "}, "to_name"),
        ("otp", {"channel_integration_id": ""}, "channel_integration_id"),
        ("image", {"parameters": {"body": [], "buttons": []}}, "parameters.header"),
        (
            "image",
            {"parameters": {"header": {"format": "VIDEO", "params": [{"key": "url", "value": IMAGE_URL}]}}},
            "parameters.header.format",
        ),
        ("image", {"parameters": {"header": {"format": "IMAGE"}}}, "parameters.header.params.url"),
        (
            "image",
            {"parameters": {"header": {"format": "IMAGE", "params": [{"key": "link", "value": IMAGE_URL}]}}},
            "parameters.header.params[0].key",
        ),
        (
            "image",
            {
                "parameters": {
                    "header": {
                        "format": "IMAGE",
                        "params": [{"key": "url", "value": IMAGE_URL}, {"key": "url", "value": IMAGE_URL}],
                    }
                }
            },
            "parameters.header.params[1].key",
        ),
        (
            "text_with_variables",
            {
                "parameters": {
                    "header": {"format": "IMAGE", "params": [{"key": "url", "value": IMAGE_URL}]},
                    "body": SEEDS["text_with_variables"]["parameters"]["body"],
                }
            },
            "parameters.header",
        ),
        (
            "text_with_variables",
            {
                "parameters": {
                    "body": [
                        {"key": "1", "value_text": "a", "value": "x"},
                        {"key": "1", "value_text": "b", "value": "y"},
                    ]
                }
            },
            "parameters.body",
        ),
        (
            "cta_url",
            {"parameters": {"buttons": [{"index": "0", "type": "URL"}]}},
            "parameters.buttons[0].value",
        ),
        ("cta_url", {"parameters": {}}, "parameters.buttons[0]"),
        (
            "cta_url",
            {"parameters": {"buttons": [{"index": "0", "value": "a"}, {"index": "0", "value": "b"}]}},
            "parameters.buttons[1].index",
        ),
        ("text_with_variables", {"parameters": {"body": []}}, "parameters.body"),
    ],
)
def test_validate_names_the_field(kind, changes, field):
    with pytest.raises(QontakPayloadError) as info:
        validate_against_template(request_for(kind, **changes), TEMPLATES[kind])
    assert info.value.field == field


def test_validate_accepts_another_language_than_the_templates():
    validate_against_template(request_for("otp", language={"code": "en"}), TEMPLATES["otp"])
    with pytest.raises(QontakPayloadError, match=r"language code such as 'id'"):
        validate_against_template(request_for("otp", language={"code": "en\u202eUS"}), TEMPLATES["otp"])


def test_validate_masks_unnormalised_number():
    with pytest.raises(QontakPayloadError) as info:
        validate_against_template(request_for("otp", to_number="+6281298765432"), TEMPLATES["otp"])
    assert "6281298765432" not in str(info.value)
    assert "62812*****432" in str(info.value)


def test_validate_template_without_language_accepts_any_code():
    template = TEMPLATES["cta_url"].model_copy(update={"language": None})
    validate_against_template(request_for("cta_url", language={"code": "en_US"}), template)


def test_validate_header_without_filename_is_fine():
    request = request_for(
        "image", parameters={"header": {"format": "IMAGE", "params": [{"key": "url", "value": IMAGE_URL}]}}
    )
    validate_against_template(request, TEMPLATES["image"])


def test_validate_dict_with_bad_shape_is_a_payload_error():
    with pytest.raises(QontakPayloadError) as info:
        validate_against_template({"to_name": "x"}, TEMPLATES["otp"])
    assert info.value.field in {"to_number", "message_template_id", "channel_integration_id", "language"}


# ------------------------------------------------------------------------------------- verbatim payloads


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_payloads_go_out_verbatim_in_the_written_key_order(name: str) -> None:
    body = direct_send_body(SEEDS[name])
    assert body == SEEDS[name]
    # json.dumps without sort_keys shows the order: the user's, not the model's (buttons before body)
    assert json.dumps(body) == json.dumps(SEEDS[name])
    assert direct_send_body(DirectSendRequest.model_validate(SEEDS[name])) == SEEDS[name]
    normalized = normalize_payload(SEEDS[name]).to_wire()
    assert json.dumps(normalized) == json.dumps(SEEDS[name])


def test_key_order_follows_the_caller_even_for_keys_in_a_rare_order() -> None:
    payload = dict(reversed(list(SEEDS["otp"].items())))
    payload["parameters"] = {
        "body": SEEDS["otp"]["parameters"]["body"],
        "buttons": [{"value": "1", "index": "0"}],
    }
    wire = direct_send_body(payload)
    assert list(wire) == list(payload)
    assert list(wire["parameters"]) == ["body", "buttons"]
    assert list(wire["parameters"]["buttons"][0]) == ["value", "index"]


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


def test_an_undocumented_top_level_name_is_refused_before_any_request() -> None:
    with pytest.raises(QontakPayloadError) as info:
        direct_send_body({**SEEDS["otp"], "name": "campaign"})
    assert info.value.field == "name" and "does not document" in str(info.value)


@pytest.mark.parametrize(
    "url", ["https://example.com", "https://example.com/", "https://cdn.example.com/files/"]
)
def test_a_document_url_without_a_file_name_needs_header_filename(url):
    """Found by the fuzzer: such a header passed our checks and was refused by the server after the POST."""
    template = TEMPLATES["document"]
    with pytest.raises(QontakPayloadError) as info:
        build(template, header_url=url)
    assert info.value.field == "parameters.header.params.filename" and "header_filename" in str(info.value)
    request = build(template, header_url=url, header_filename="invoice.pdf")
    assert request.parameters.header.params[1].value == "invoice.pdf"
    payload = seed("document")
    payload["parameters"]["header"]["params"] = [{"key": "url", "value": url}]
    with pytest.raises(QontakPayloadError, match="filename"):
        validate_against_template(DirectSendRequest.model_validate(payload), template)


@pytest.mark.parametrize(
    ("value", "field", "expected"),
    [
        ("Budi \ud83d", "to_name", "lone surrogate"),
        ("x" * 10_000, "to_name", "at most 256 characters"),
        ("bell\x07", "to_name", "control characters"),
        ("مرحبا 👨\u200d👩\u200d👧", None, None),  # right-to-left text and emoji sequences are fine names
    ],
)
def test_hostile_names_are_refused_naming_the_field(value, field, expected):
    template = make_template(body="Hi.")
    if field is None:
        assert build(template, to_name=value).to_name == value
        return
    with pytest.raises(QontakPayloadError) as info:
        build(template, to_name=value)
    assert info.value.field == field and expected in str(info.value)
    str(info.value).encode("utf-8")  # the message itself is safe to log: a surrogate is shown escaped


@pytest.mark.parametrize("amount", [float("nan"), float("inf")])
def test_non_finite_numbers_are_not_sent_as_text(amount):
    with pytest.raises(QontakPayloadError, match="finite"):
        build(make_template(), body=["Budi", amount])


def test_a_whole_float_number_is_a_phone_number():
    assert build(make_template(body="Hi."), to_number=6281234567890.0).to_number == "6281234567890"
    with pytest.raises(QontakPayloadError) as info:
        build(make_template(body="Hi."), to_number=6281234567890.5)
    assert info.value.field == "to_number"
