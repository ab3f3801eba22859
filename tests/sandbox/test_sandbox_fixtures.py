"""Fixture files: the seed, and users' JSON/YAML files that extend or replace it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sandbox_helpers import Api, payload

from qontak_provider.sandbox.fixtures import FixtureError, load_fixtures, read_fixture_file
from qontak_provider.sandbox.server import run_sandbox
from qontak_provider.sandbox.settings import DEFAULT_ORGANIZATION_ID

SEED_IDS = {
    "60cccaa0-ccd9-4efd-bdfb-875859c4b50a": "auth_web_1727242109",
    "d3e1083c-66ea-410b-b807-1d84182ffa82": "song_recommendation",
    "34d95207-0b48-4ce0-b589-2b7c1519d457": "promo_image",
    "380d1355-0a65-4dc5-be82-308ee7619910": "invoice_document",
    "70332b74-e9bd-4829-bb31-c46924e7d3ff": "product_video",
    "a36ea83e-1b63-41e9-a91b-bad2390531e9": "feature_link",
    "99aa44c1-6573-4a89-b0ca-f272b1b846b4": "call_support",
}

YAML_FIXTURES = """
mode: extend
channels:
  - id: my-channel
    target_channel: wa_cloud
    settings: {account_name: My shop, phone_number: "+6281199990042"}
templates:
  - id: my-template
    name: order_paid
    category: utility
    body: "Halo {{1}}, pembayaran {{2}} sudah kami terima."
  - id: 60cccaa0-ccd9-4efd-bdfb-875859c4b50a
    name: otp_login
    status: REJECTED
    body: "{{1}}"
"""


def test_seed_has_the_documented_objects() -> None:
    seed = load_fixtures(DEFAULT_ORGANIZATION_ID)
    templates = {t["id"]: t for t in seed.templates}
    assert {i: templates[i]["name"] for i in SEED_IDS} == SEED_IDS
    assert len(seed.templates) > 100  # more than one page of the largest limit
    assert {"REJECTED", "PENDING", "APPROVED"} <= {t["status"] for t in seed.templates}
    assert {"MARKETING", "UTILITY", "AUTHENTICATION"} <= {t["category"] for t in seed.templates}
    names = [t["name"] for t in seed.templates]
    assert len(names) - len(set(names)) == 1  # order_update exists in two languages
    assert "en_US" in {t["language"] for t in seed.templates}
    # the guide's OTP template is en_US, although its example sends language "id"
    assert [templates[i]["language"] for i in SEED_IDS] == ["en_US"] + ["id"] * 6
    assert {c["target_channel"] for c in seed.channels} >= {"wa_cloud", "wa", "email", "web_chat"}
    assert any(not c["is_active"] for c in seed.channels)


def test_yaml_file_extends_and_overrides_the_seed(tmp_path: Path) -> None:
    path = tmp_path / "fixtures.yaml"
    path.write_text(YAML_FIXTURES)
    with run_sandbox(fixtures=path) as sandbox:
        api = Api(sandbox)
        assert api.get("integrations/my-channel").json()["data"]["settings"]["account_name"] == "My shop"
        assert api.get("templates/my-template/whatsapp").json()["data"]["language"] == "id"
        body = payload(
            "text_with_variables", message_template_id="my-template", channel_integration_id="my-channel"
        )
        assert api.send(body).status_code == 201
        assert "is REJECTED" in api.send(payload("otp")).json()["error"]["messages"][0]
        # reset keeps the loaded fixtures
        sandbox.reset()
        assert api.get("templates/my-template/whatsapp").status_code == 200


def test_json_file_replaces_the_seed(tmp_path: Path) -> None:
    path = tmp_path / "fixtures.json"
    path.write_text(
        json.dumps(
            {
                "mode": "replace",
                "channels": [{"id": "only", "target_channel": "wa"}],
                "templates": [{"id": "t1", "name": "solo", "body": "Hello"}],
            }
        )
    )
    _, mode = read_fixture_file(path, DEFAULT_ORGANIZATION_ID)
    assert mode == "replace"
    with run_sandbox(fixtures=path) as sandbox:
        api = Api(sandbox)
        assert [c["id"] for c in api.get("integrations").json()["data"]] == ["only"]
        assert api.get("templates/whatsapp").json()["meta"]["pagination"]["total"] == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[1, 2]", "top level must be an object"),
        ("mode: merge", "mode: must be one of extend, replace"),
        ("templates: [{id: a}]", "templates[0].name: required"),
        ("channels: [{id: a}]", "channels[0].target_channel: required"),
        ("templates: [{id: a, name: b}, {id: a, name: c}]", "duplicate ids ['a']"),
        ("whatever: 1", "unknown top-level keys"),
        ("templates: [{id: a, name: b, buttons: [{text: x}]}]", "buttons: expected a list of objects"),
    ],
)
def test_malformed_fixture_files_are_explained(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(FixtureError, match=None) as err:
        read_fixture_file(path, DEFAULT_ORGANIZATION_ID)
    assert expected in str(err.value)


def test_missing_fixture_file(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match="cannot read fixtures file"):
        read_fixture_file(tmp_path / "nope.yaml", DEFAULT_ORGANIZATION_ID)
