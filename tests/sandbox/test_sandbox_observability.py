"""The unauthenticated ``/_sandbox`` endpoints tests use to look inside the sandbox."""

from __future__ import annotations

from sandbox_helpers import Api, payload

from qontak_provider.sandbox import magic


def test_health(api: Api) -> None:
    body = api.plain("GET", "/_sandbox/health").json()
    assert body["status"] == "ok" and body["templates"] >= 25 and body["broadcasts"] == 0


def test_sends_and_counts(api: Api) -> None:
    first = api.send(payload("otp")).json()["data"]["id"]
    api.send(payload("image", to_number=magic.NEVER_READ))
    api.send(payload("otp"))
    api.send(payload("otp", to_number=None))  # rejected: not recorded
    sends = api.plain("GET", "/_sandbox/sends").json()
    assert sends["total"] == 3
    assert sends["sends"][0]["broadcast_id"] == first
    assert sends["sends"][0]["body"] == payload("otp")
    assert sends["sends"][0]["template_name"] == "auth_web_1727242109"
    assert sends["sends"][0]["client_id"] == "sandbox-client-id"
    counts = api.plain("GET", "/_sandbox/sends/counts").json()["counts"]
    assert counts == {"6281234567890": 2, magic.NEVER_READ: 1}
    assert api.sandbox.counts() == counts


def test_stats_count_every_api_request(api: Api) -> None:
    assert api.plain("GET", "/_sandbox/stats").json() == {"total": 0, "by_status": {}, "by_endpoint": {}}
    api.get("integrations")
    api.send(payload("otp", message_template_id="nope"))
    api.session.get(api.sandbox.url + "/qontak/chat/v1/templates/whatsapp")  # unsigned
    stats = api.plain("GET", "/_sandbox/stats").json()
    assert stats["total"] == 3
    assert stats["by_status"] == {"200": 1, "422": 1, "401": 1}
    assert stats["by_endpoint"]["GET /templates/whatsapp"] == {"401": 1}


def test_reset_forgets_everything(api: Api) -> None:
    broadcast_id = api.send(payload("otp")).json()["data"]["id"]
    assert api.plain("POST", "/_sandbox/reset").json() == {
        "status": "reset",
        "settings": False,
        "fixtures": False,
    }
    assert api.sandbox.sends() == [] and api.sandbox.stats()["total"] == 0
    assert api.get(f"broadcasts/{broadcast_id}/whatsapp").status_code == 404


def test_get_and_patch_settings(api: Api) -> None:
    shown = api.plain("GET", "/_sandbox/settings").json()
    assert shown["credentials"] == {"sandbox-client-id": "********"}
    assert shown["rate_limit"] == 60 and shown["step_seconds"] == 0.2
    changed = api.plain("PATCH", "/_sandbox/settings", json={"rate_limit": 1, "clock": "demo"}).json()
    assert changed["rate_limit"] == 1 and changed["step_seconds"] == 3.0
    assert api.sandbox.settings.rate_limit == 1
    bad = api.plain("PATCH", "/_sandbox/settings", json={"fail_before": 2, "bogus": 1})
    assert bad.status_code == 422
    assert any(m.startswith("fail_before") for m in bad.json()["error"]["messages"])
    assert any(m.startswith("bogus") for m in bad.json()["error"]["messages"])
    assert api.plain("PATCH", "/_sandbox/settings", json=[1]).status_code == 422
    # credentials can be changed over HTTP too
    api.plain("PATCH", "/_sandbox/settings", json={"credentials": {"ci": "ci-secret"}})
    assert api.get("integrations").status_code == 401
    # reset with settings restores the start-up settings
    api.plain("POST", "/_sandbox/reset", json={"settings": True})
    assert api.get("integrations").status_code == 200
    assert api.sandbox.settings.rate_limit == 60


def test_clock_advance_endpoint(api: Api) -> None:
    broadcast_id = api.send(payload("otp")).json()["data"]["id"]
    assert api.plain("POST", "/_sandbox/clock/advance", json={"seconds": 5}).status_code == 200
    assert api.get(f"broadcasts/{broadcast_id}/whatsapp/log").json()["data"][0]["status"] == "read"
    assert api.plain("POST", "/_sandbox/clock/advance", json={"seconds": -1}).status_code == 422


def test_magic_endpoint(api: Api) -> None:
    assert api.plain("GET", "/_sandbox/magic").json()["recipients"] == magic.MAGIC_RECIPIENTS


def test_fixtures_endpoint_extends_the_templates(api: Api) -> None:
    document = {
        "templates": [
            {
                "id": "tpl-custom",
                "name": "custom_hello",
                "body": "Hi {{1}}",
                "language": "en_US",
                "category": "utility",
            }
        ]
    }
    assert api.plain("POST", "/_sandbox/fixtures", json=document).status_code == 200
    template = api.get("templates/tpl-custom/whatsapp").json()["data"]
    assert template["status"] == "APPROVED" and template["category"] == "UTILITY"
    bad = api.plain("POST", "/_sandbox/fixtures", json={"templates": [{"name": "x"}]})
    assert bad.status_code == 422 and "templates[0].id" in bad.json()["error"]["messages"][0]
    api.plain("POST", "/_sandbox/reset")
    assert api.get("templates/tpl-custom/whatsapp").status_code == 200  # loaded fixtures survive a reset
    api.plain("POST", "/_sandbox/reset", json={"fixtures": True})
    assert api.get("templates/tpl-custom/whatsapp").status_code == 404
