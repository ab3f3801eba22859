"""Variants of the real API: each setting value plays one answer to a question the sources leave open."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sandbox_helpers import CHANNEL_ID, SEED_PAYLOADS, Api, messages, payload

from qontak_provider.sandbox import validation
from qontak_provider.sandbox.server import Sandbox, run_sandbox
from qontak_provider.sandbox.settings import SEED_TOTAL

TEMPLATES = "templates/whatsapp"
UNKNOWN = "0b7c9a47-0000-4000-8000-000000000000"
ZEROS = {"failed": 0, "delivered": 0, "read": 0, "pending": 0, "sent": 0}
READ = {**ZEROS, "read": 1}


def pagination(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["meta"]["pagination"]


def sent_and_read(api: Api) -> str:
    """Send the OTP seed payload and let its lifecycle reach ``read``; return the broadcast id."""
    response = api.send(payload("otp"))
    assert response.status_code == 201, response.text
    api.sandbox.advance(60)
    return response.json()["data"]["id"]


def log_status(api: Api, broadcast_id: str) -> str:
    return api.get(f"broadcasts/{broadcast_id}/whatsapp/log").json()["data"][0]["status"]


# ------------------------------------------------------------------------------------------------ paging


def test_spec_paging_total_is_the_page_and_cursors_lead_on(api: Api) -> None:
    first = api.get(TEMPLATES, params={"limit": 100})
    meta = pagination(first)
    assert meta["total"] == len(first.json()["data"]) == 100
    assert meta["offset"] == 1 and meta["limit"] == 100 and meta["target_offset"] == 0
    assert meta["cursor"]["next"] and meta["cursor"]["prev"] is None and meta["cursor"]["pit"] is None

    last = api.get(TEMPLATES, params={"limit": 100, "cursor": meta["cursor"]["next"]})
    meta = pagination(last)
    assert meta["total"] == len(last.json()["data"]) == 30
    assert meta["offset"] == 2 and meta["cursor"]["next"] is None and meta["cursor"]["prev"]
    # the same page by its 1-based offset
    assert api.get(TEMPLATES, params={"limit": 100, "offset": 2}).json() == last.json()


def test_seed_paging_total_is_an_inflated_grand_total(api: Api) -> None:
    api.sandbox.update_settings(paging="seed")
    broadcast_id = sent_and_read(api)
    for path in ("integrations", TEMPLATES, "broadcasts/whatsapp", f"broadcasts/{broadcast_id}/whatsapp/log"):
        assert pagination(api.get(path))["total"] == SEED_TOTAL == 53969, path
    meta = pagination(api.get(TEMPLATES))
    assert meta["limit"] == 10 and meta["cursor"]["next"]  # cursors as in spec mode
    last = pagination(api.get(TEMPLATES, params={"offset": 13}))
    assert last["total"] == SEED_TOTAL and last["cursor"]["next"] is None


def test_exact_paging_total_is_every_matching_item(api: Api) -> None:
    api.sandbox.update_settings(paging="exact")
    assert pagination(api.get(TEMPLATES))["total"] == 130
    assert pagination(api.get(TEMPLATES, params={"status": "APPROVED"}))["total"] == 83
    channels = pagination(api.get("integrations", params={"limit": 1}))
    assert channels["total"] == 4 and channels["cursor"]["next"]


@pytest.mark.parametrize("mode", ["spec", "seed", "exact"])
def test_every_mode_pages_by_offset_and_cursor_alike(api: Api, mode: str) -> None:
    api.sandbox.update_settings(paging=mode)
    by_offset, offset = [], 1
    while True:
        body = api.get(TEMPLATES, params={"limit": 50, "offset": offset}).json()
        by_offset += body["data"]
        if body["meta"]["pagination"]["cursor"]["next"] is None:
            break
        offset += 1
    by_cursor, params = [], {"limit": 50}
    while True:
        body = api.get(TEMPLATES, params=params).json()
        by_cursor += body["data"]
        cursor = body["meta"]["pagination"]["cursor"]["next"]
        if cursor is None:
            break
        params = {"limit": 50, "cursor": cursor}
    assert offset == 3
    assert [t["id"] for t in by_offset] == [t["id"] for t in by_cursor]
    assert len({t["id"] for t in by_cursor}) == 130


def test_limit_above_100_is_lowered_and_reported(api: Api) -> None:
    response = api.get(TEMPLATES, params={"limit": 500})
    assert len(response.json()["data"]) == 100 and pagination(response)["limit"] == 100


def test_every_list_has_the_spec_pagination_shape(api: Api) -> None:
    broadcast_id = sent_and_read(api)
    for path in ("integrations", TEMPLATES, "broadcasts/whatsapp"):
        meta = pagination(api.get(path))
        assert set(meta) == {"cursor", "offset", "limit", "total", "target_offset"}, path
        assert set(meta["cursor"]) == {"next", "prev", "pit"}, path
    # the spec's log example has neither pit nor target_offset
    log = pagination(api.get(f"broadcasts/{broadcast_id}/whatsapp/log"))
    assert log == {"cursor": {"next": None, "prev": None}, "offset": 1, "limit": 100, "total": 1}


# ------------------------------------------------------------------------------------------------- seed


def test_seed_has_more_than_one_page_of_templates(api: Api) -> None:
    health = api.plain("GET", "/_sandbox/health").json()
    assert health["templates"] == 130
    names = [t["name"] for t in api.sandbox.state.templates.values()]
    assert len(names) == 130 and "promo_batch_001" in names and "login_code_020" in names


def test_page_two_notice_is_on_page_two_not_page_one(api: Api) -> None:
    page_one = api.get(TEMPLATES, params={"limit": 100}).json()
    assert "page_two_notice" not in {t["name"] for t in page_one["data"]}
    cursor = page_one["meta"]["pagination"]["cursor"]["next"]
    page_two = api.get(TEMPLATES, params={"limit": 100, "cursor": cursor}).json()["data"]
    notice = next(t for t in page_two if t["name"] == "page_two_notice")
    assert (notice["language"], notice["category"], notice["status"]) == ("id", "UTILITY", "APPROVED")
    assert notice["buttons"] == [] and validation.body_variables(notice) == ["1"]
    body = payload(
        "text_with_variables",
        message_template_id=notice["id"],
        parameters={"body": [{"key": "1", "value_text": "Ana", "value": "name"}]},
    )
    assert api.send(body).status_code == 201


def test_guide_otp_template_is_held_as_the_guide_lists_it(api: Api) -> None:
    guide = api.get(f"templates/{SEED_PAYLOADS['otp']['message_template_id']}/whatsapp").json()["data"]
    assert guide["name"] == "auth_web_1727242109" and guide["language"] == "en_US"
    assert guide["category"] == "AUTHENTICATION" and guide["body"] == "*{{1}}* is your verification code."
    assert guide["buttons"][0]["type"] == "URL" and "otp_type=COPY_CODE" in guide["buttons"][0]["url"]
    named = [t for t in api.sandbox.state.templates.values() if t["name"] == "otp_login"]
    assert [(t["language"], t["status"]) for t in named] == [("id", "APPROVED")]
    assert named[0]["id"] != guide["id"]


# ----------------------------------------------------------------------------------- broadcast summaries


def test_live_list_and_detail_count_the_progress(api: Api) -> None:
    broadcast_id = sent_and_read(api)
    assert api.get("broadcasts/whatsapp").json()["data"][0]["message_status_count"] == READ
    assert api.get(f"broadcasts/{broadcast_id}/whatsapp").json()["data"]["message_status_count"] == READ


def test_stale_list_shows_zeros_while_detail_and_log_progress(api: Api) -> None:
    api.sandbox.update_settings(broadcast_list="stale")
    broadcast_id = sent_and_read(api)
    listed = api.get("broadcasts/whatsapp").json()["data"]
    assert [b["id"] for b in listed] == [broadcast_id]
    assert listed[0]["message_status_count"] == ZEROS and listed[0]["execute_status"] == "done"
    assert api.get(f"broadcasts/{broadcast_id}/whatsapp").json()["data"]["message_status_count"] == READ
    assert log_status(api, broadcast_id) == "read"


def test_stale_detail_shows_zeros_while_the_log_is_the_truth(api: Api) -> None:
    api.sandbox.update_settings(broadcast_detail="stale")
    broadcast_id = sent_and_read(api)
    assert api.get(f"broadcasts/{broadcast_id}/whatsapp").json()["data"]["message_status_count"] == ZEROS
    assert log_status(api, broadcast_id) == "read"
    assert api.get("broadcasts/whatsapp").json()["data"][0]["message_status_count"] == READ


def test_absent_list_is_a_404_envelope(api: Api) -> None:
    api.sandbox.update_settings(broadcast_list="absent", not_found_status=422)  # a path, not an id
    broadcast_id = sent_and_read(api)
    response = api.get("broadcasts/whatsapp")
    assert response.status_code == 404
    assert response.json() == {"status": "error", "error": {"code": 404, "messages": ["Resource not found."]}}
    assert api.get(f"broadcasts/{broadcast_id}/whatsapp").status_code == 200


def test_forbidden_list_is_the_gateways_403_after_the_signature_check(api: Api) -> None:
    api.sandbox.update_settings(broadcast_list="forbidden")
    broadcast_id = sent_and_read(api)
    response = api.get("broadcasts/whatsapp", params={"limit": 10})
    assert response.status_code == 403
    assert response.content == b'{"message":"Forbidden"}'
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["server"] == "Mekari"
    assert api.get(f"broadcasts/{broadcast_id}/whatsapp").status_code == 200
    assert log_status(api, broadcast_id) == "read"
    api.secret = "not-the-secret"
    assert api.get("broadcasts/whatsapp").status_code == 401
    assert api.sandbox.stats()["by_endpoint"]["GET /broadcasts/whatsapp"] == {"403": 1, "401": 1}


# -------------------------------------------------------------------------------------------- unknown ids

ID_LOOKUPS = [
    (f"integrations/{UNKNOWN}", "channel integration"),
    (f"templates/{UNKNOWN}/whatsapp", "message template"),
    (f"broadcasts/{UNKNOWN}/whatsapp", "message broadcast"),
    (f"broadcasts/{UNKNOWN}/whatsapp/log", "message broadcast"),
]


@pytest.mark.parametrize(("path", "model"), ID_LOOKUPS)
def test_unknown_id_is_404_by_default(api: Api, path: str, model: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    assert response.json() == {"status": "error", "error": {"code": 404, "messages": ["Resource not found."]}}


@pytest.mark.parametrize(("path", "model"), ID_LOOKUPS)
def test_unknown_id_is_the_specs_422(api: Api, path: str, model: str) -> None:
    api.sandbox.update_settings(not_found_status=422)
    response = api.get(path)
    assert response.status_code == 422
    assert response.json() == {
        "status": "error",
        "error": {"code": 422, "messages": [f"Couldn't find {model} with 'id'={UNKNOWN}"]},
    }


def test_unknown_path_stays_404_when_ids_are_422(api: Api) -> None:
    api.sandbox.update_settings(not_found_status=422)
    assert api.get(f"integrations/{CHANNEL_ID}").status_code == 200
    for path in ("nope", f"templates/{UNKNOWN}/telegram"):
        response = api.get(path)
        assert response.status_code == 404 and messages(response) == ["Resource not found."]


# ------------------------------------------------------------------------------------------ direct send


@pytest.mark.parametrize("status", [200, 201])
def test_direct_send_status(api: Api, status: int) -> None:
    api.sandbox.update_settings(direct_send_status=status)
    response = api.send(payload("text_with_variables"))
    assert response.status_code == status
    assert response.json()["data"]["id"] == api.sandbox.sends()[0]["broadcast_id"]
    assert api.sandbox.stats()["by_endpoint"]["POST /broadcasts/whatsapp/direct"] == {str(status): 1}


def test_undocumented_name_field_is_ignored(api: Api) -> None:
    data = api.send({**payload("otp"), "name": "Campaign X"}).json()["data"]
    assert data["name"] == "Test User"
    assert api.get(f"broadcasts/{data['id']}/whatsapp").json()["data"]["name"] == "Test User"


@pytest.mark.parametrize("name", sorted(SEED_PAYLOADS))
def test_any_language_delivers_every_seed_payload(api: Api, name: str) -> None:
    api.sandbox.update_settings(language_check="any")
    response = api.send(SEED_PAYLOADS[name])
    assert response.status_code == 201, response.text
    api.sandbox.advance(60)
    assert log_status(api, response.json()["data"]["id"]) == "read"


def test_any_language_delivers_a_code_that_differs_from_the_template(api: Api) -> None:
    broadcast_id = api.send(payload("text_with_variables", language={"code": "pt_BR"})).json()["data"]["id"]
    api.sandbox.advance(60)
    row = api.get(f"broadcasts/{broadcast_id}/whatsapp/log").json()["data"][0]
    assert row["status"] == "read" and row["whatsapp_error_message"] == "n/a"


@pytest.mark.parametrize("mode", ["any", "spec_enum", "template"])
def test_empty_language_code_is_refused(api: Api, mode: str) -> None:
    api.sandbox.update_settings(language_check=mode)
    problems = messages(api.send(payload("otp", language={"code": ""})))
    assert any(p.startswith("language.code") for p in problems), problems
    assert api.sandbox.sends() == []


def test_spec_enum_refuses_codes_outside_id_and_en(api: Api) -> None:
    api.sandbox.update_settings(language_check="spec_enum")
    response = api.send(payload("otp", language={"code": "en_US"}))
    assert response.status_code == 422
    assert messages(response) == ["language.code: must be one of id, en; got 'en_US'"]
    assert api.sandbox.sends() == []
    accepted = api.send(payload("otp"))  # "id", as the guide sends it to its en_US template
    assert accepted.status_code == 201
    assert api.send(payload("otp", language={"code": "en"})).status_code == 201
    api.sandbox.advance(60)
    assert log_status(api, accepted.json()["data"]["id"]) == "read"


def test_template_language_check_fails_the_message_in_the_log(api: Api) -> None:
    api.sandbox.update_settings(language_check="template")
    response = api.send(payload("text_with_variables", language={"code": "en"}))
    assert response.status_code == 201
    api.sandbox.advance(60)
    row = api.get(f"broadcasts/{response.json()['data']['id']}/whatsapp/log").json()["data"][0]
    assert row["status"] == "failed"
    assert row["whatsapp_error_message"] == (
        "The template (song_recommendation) does not exist in the specified language (en) and locale (), "
        "or the template has not been approved"
    )
    matching = api.send(payload("text_with_variables"))  # language "id" is the template's own
    api.sandbox.advance(60)
    assert log_status(api, matching.json()["data"]["id"]) == "read"


# ------------------------------------------------------------------------------------- the three doors


def test_variants_through_patch_settings(api: Api) -> None:
    changes = {"paging": "seed", "broadcast_list": "absent", "not_found_status": 422, "keep_alive_seconds": 2}
    shown = api.plain("PATCH", "/_sandbox/settings", json=changes).json()
    assert {key: shown[key] for key in changes} == changes
    assert pagination(api.get(TEMPLATES))["total"] == SEED_TOTAL
    bad = api.plain("PATCH", "/_sandbox/settings", json={"paging": "total", "not_found_status": 410})
    assert bad.status_code == 422
    problems = bad.json()["error"]["messages"]
    assert any(m.startswith("paging") for m in problems) and any(m.startswith("not_found") for m in problems)


def test_variants_through_run_sandbox() -> None:
    with run_sandbox(paging="exact", direct_send_status=200, language_check="spec_enum") as sandbox:
        api = Api(sandbox)
        assert pagination(api.get(TEMPLATES))["total"] == 130
        assert api.send(payload("otp")).status_code == 200
        assert api.send(payload("otp", language={"code": "en_US"})).status_code == 422


@pytest.mark.qontak_sandbox(paging="seed", not_found_status=422, broadcast_list="forbidden")
def test_variants_through_the_pytest_marker(qontak_sandbox: Sandbox) -> None:
    api = Api(qontak_sandbox)
    assert pagination(api.get("integrations"))["total"] == SEED_TOTAL
    assert api.get(f"templates/{UNKNOWN}/whatsapp").status_code == 422
    assert api.get("broadcasts/whatsapp").status_code == 403


# ----------------------------------------------------------------------------------------- independence


def test_sandbox_validation_does_not_judge_with_the_client_models() -> None:
    """One misreading of a template must not be agreed on by client and sandbox alike."""
    tree = ast.parse(Path(validation.__file__).read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module is not None
    } | {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {name for name in imported if name.startswith("qontak_provider.client")}


@pytest.mark.parametrize(
    ("button", "takes_value"),
    [
        ({"type": "URL", "url": "https://x.test/{{1}}"}, True),
        ({"type": "url", "url": "https://x.test/a?c={{1}}&z=1"}, True),
        ({"type": "URL", "url": "https://x.test/static"}, False),
        ({"type": "OTP", "otp_type": "COPY_CODE"}, True),
        ({"type": "COPY_CODE"}, True),
        ({"type": "PHONE_NUMBER", "phone_number": "+62811"}, False),
        ({"type": "QUICK_REPLY", "text": "Ya"}, False),
    ],
)
def test_which_buttons_take_a_value(button: dict, takes_value: bool) -> None:
    assert validation.button_takes_value(button) is takes_value


def test_body_variables_and_media_headers() -> None:
    template = {"body": "{{2}} then {{1}}, again {{2}}; {{ 3 }} and {{x}} are not variables", "header": None}
    assert validation.body_variables(template) == ["1", "2"]
    assert validation.body_variables({"body": None}) == []
    assert validation.media_header_format({"header": {"format": "video"}}) == "VIDEO"
    assert validation.media_header_format({"header": {"format": "TEXT", "text": "Hi"}}) is None
    assert validation.media_header_format({"header": None}) is None
