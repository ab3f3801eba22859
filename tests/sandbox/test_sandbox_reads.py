"""Read endpoints: integrations, templates, broadcasts; envelopes and 1-based offset pagination."""

from __future__ import annotations

from sandbox_helpers import CHANNEL_ID, Api, messages, payload


def pages(api: Api, path: str, **params):
    """Follow ``offset`` pages until ``cursor.next`` is null; return (items, metas)."""
    items, metas, offset = [], [], 1
    while True:
        body = api.get(path, params={**params, "offset": offset}).json()
        assert body["status"] == "success"
        items += body["data"]
        metas.append(body["meta"]["pagination"])
        if body["meta"]["pagination"]["cursor"]["next"] is None:
            return items, metas
        offset += 1


def test_list_integrations_and_filters(api: Api) -> None:
    body = api.get("integrations").json()
    assert set(body) == {"status", "data", "meta"}
    channels = {c["id"]: c for c in body["data"]}
    assert channels[CHANNEL_ID]["target_channel"] == "wa_cloud"
    assert all(c["is_active"] for c in channels.values())
    assert {"web_chat", "email", "wa", "wa_cloud"} <= {c["target_channel"] for c in channels.values()}

    cloud = api.get("integrations", params={"target_channel": "wa_cloud"}).json()["data"]
    assert [c["id"] for c in cloud] == [CHANNEL_ID]
    with_inactive = api.get("integrations", params={"target_channel": "wa_cloud", "all": "true"}).json()
    assert len(with_inactive["data"]) == 2
    assert with_inactive["meta"]["pagination"] == {
        "cursor": {"next": None, "prev": None, "pit": None},
        "offset": 1,
        "limit": 100,
        "total": 2,
        "target_offset": 0,
    }


def test_get_integration_and_404(api: Api) -> None:
    body = api.get(f"integrations/{CHANNEL_ID}").json()
    assert body["status"] == "success" and "meta" not in body
    assert body["data"]["id"] == CHANNEL_ID
    missing = api.get("integrations/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert missing.json() == {"status": "error", "error": {"code": 404, "messages": ["Resource not found."]}}


def test_templates_paginate_with_one_based_offset(api: Api) -> None:
    api.sandbox.update_settings(paging="exact")
    first = api.get("templates/whatsapp").json()
    meta = first["meta"]["pagination"]
    assert meta["offset"] == 1 and meta["limit"] == 10 and meta["total"] > 25
    assert len(first["data"]) == 10 and meta["cursor"]["next"] and meta["cursor"]["prev"] is None

    items, metas = pages(api, "templates/whatsapp")
    assert [m["offset"] for m in metas] == list(range(1, len(metas) + 1))
    assert len(metas) == -(-meta["total"] // 10)
    assert len(items) == meta["total"] == len({t["id"] for t in items})
    assert items[:10] == first["data"]

    # the cursor of a page leads to the next one
    second = api.get("templates/whatsapp", params={"cursor": meta["cursor"]["next"]}).json()
    assert second["data"] == items[10:20]
    # a larger limit gives fewer pages
    assert len(api.get("templates/whatsapp", params={"limit": 100}).json()["data"]) == min(100, meta["total"])


def test_template_filters(api: Api) -> None:
    names = lambda **params: {  # noqa: E731
        (t["name"], t["language"], t["status"]) for t in pages(api, "templates/whatsapp", **params)[0]
    }
    approved = names(status="APPROVED")
    assert approved and all(status == "APPROVED" for *_, status in approved)
    both = names(**{"statuses[]": ["REJECTED", "PENDING"]})
    assert {status for *_, status in both} == {"REJECTED", "PENDING"}
    auth = names(**{"category[]": "AUTHENTICATION"})
    assert {"auth_web_1727242109", "otp_login", "password_reset", "otp_login_en", "login_code_001"} <= {
        name for name, *_ in auth
    }
    assert not {"payment_reminder", "promo_batch_001"} & {name for name, *_ in auth}
    assert {name for name, *_ in names(category="UTILITY,AUTHENTICATION")} >= {
        "otp_login",
        "invoice_document",
    }
    assert {(n, lang) for n, lang, _ in names(query="order_update")} == {
        ("order_update", "id"),
        ("order_update", "en_US"),
    }


def test_get_template_and_404(api: Api) -> None:
    body = api.get("templates/60cccaa0-ccd9-4efd-bdfb-875859c4b50a/whatsapp").json()
    template = body["data"]
    assert template["name"] == "auth_web_1727242109" and template["language"] == "en_US"
    assert template["category"] == "AUTHENTICATION" and "{{1}}" in template["body"]
    assert "{{1}}" in template["buttons"][0]["url"]
    assert api.get("templates/nope/whatsapp").status_code == 404


def test_bad_pagination_parameters_are_422(api: Api) -> None:
    response = api.get("templates/whatsapp", params={"offset": "0"})
    assert response.status_code == 422
    assert "offset" in messages(response)[0]
    assert "limit" in messages(api.get("integrations", params={"limit": "ten"}))[0]
    assert "cursor" in messages(api.get("integrations", params={"cursor": "bogus"}))[0]


def test_list_broadcasts_newest_first_and_paginated(api: Api) -> None:
    ids = [api.send(payload("otp", to_name=f"User {i}")).json()["data"]["id"] for i in range(3)]
    body = api.get("broadcasts/whatsapp", params={"limit": 2}).json()
    assert [b["id"] for b in body["data"]] == ids[::-1][:2]
    assert body["meta"]["pagination"]["total"] == 2  # paging="spec": the items on this page
    assert body["meta"]["pagination"]["cursor"]["next"]
    assert all(sum(b["message_status_count"].values()) == 1 for b in body["data"])
    page2 = api.get("broadcasts/whatsapp", params={"limit": 2, "offset": 2}).json()
    assert [b["id"] for b in page2["data"]] == [ids[0]]
    assert api.get("broadcasts/whatsapp", params={"query": "User 1"}).json()["data"][0]["id"] == ids[1]


def test_broadcast_detail_and_404(api: Api) -> None:
    created = api.send(payload("video")).json()["data"]
    detail = api.get(f"broadcasts/{created['id']}/whatsapp").json()["data"]
    for key in ("id", "name", "message_template", "channel_integration_id", "execute_status", "send_at"):
        assert detail[key] == created[key]
    assert "contact_list_name" in detail
    assert api.get("broadcasts/unknown/whatsapp").status_code == 404
    assert api.get("broadcasts/unknown/whatsapp/log").status_code == 404
