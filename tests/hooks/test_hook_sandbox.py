"""QontakHook from plain Python against the sandbox over a real socket (issue: foundation, "Done when")."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from qontak_provider.client.errors import QontakAuthenticationError
from qontak_provider.hooks.qontak import QontakHook

SEEDS = json.loads((Path(__file__).parents[1] / "fixtures" / "seed_payloads.json").read_text())
CHANNEL = "56b60c3c-0123-46af-958b-32f3ad12ee37"

pytestmark = pytest.mark.integration


def test_lists_channels_and_templates(qontak_sandbox):
    hook = QontakHook()
    channels = hook.list_channels(target_channel="wa_cloud")
    assert CHANNEL in {c.id for c in channels}
    assert all(c.target_channel == "wa_cloud" for c in channels)
    templates = hook.list_templates()
    assert len(templates) > 10  # more than one page of the sandbox's templates
    approved = hook.list_templates(status="APPROVED")
    assert approved and all(t.status == "APPROVED" for t in approved)
    guide_otp = hook.get_template("60cccaa0-ccd9-4efd-bdfb-875859c4b50a")  # listed as en_US
    assert guide_otp.category == "AUTHENTICATION"
    assert hook.find_template(guide_otp.name, language="en_US").id == guide_otp.id
    assert hook.find_template("otp_login", language="id").category == "AUTHENTICATION"


@pytest.mark.qontak_sandbox(clock="instant")
@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_sends_each_seed_payload_verbatim_and_reads_the_log(qontak_sandbox, kind):
    hook = QontakHook()
    broadcast = hook.send_direct(SEEDS[kind])
    assert broadcast.id
    (sent,) = qontak_sandbox.sends()
    assert sent["body"] == SEEDS[kind]  # what went over the wire is exactly the documented JSON
    assert hook.get_broadcast(broadcast.id).id == broadcast.id
    log = hook.get_broadcast_log(broadcast.id)
    assert [entry.contact_phone_number for entry in log] == ["6281234567890"]
    assert log[0].broadcast_status.value == "read"  # the instant clock settles at once
    assert broadcast.id in {b.id for b in hook.list_broadcasts()}


def test_test_connection_success_and_explained_401(qontak_sandbox, monkeypatch):
    assert QontakHook().test_connection()[0]
    monkeypatch.setenv(
        "AIRFLOW_CONN_QONTAK_DEFAULT",
        qontak_sandbox.conn_json().replace(qontak_sandbox.client_secret, "wrong-secret"),
    )
    ok, message = QontakHook().test_connection()
    assert not ok
    assert message.startswith("Qontak refused the credentials (HTTP 401). Likely causes:")
    assert "clock skew" in message
    assert "scope" in message
    assert "wrong-secret" not in message


def test_wrong_secret_is_never_retried(qontak_sandbox, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_QONTAK_DEFAULT",
        qontak_sandbox.conn_json().replace(qontak_sandbox.client_secret, "wrong-secret"),
    )
    with pytest.raises(QontakAuthenticationError):
        QontakHook().list_channels()
    assert qontak_sandbox.stats()["by_endpoint"] == {"GET /integrations": {"401": 1}}


def test_async_client_from_the_hook(qontak_sandbox):
    async def run():
        client = await QontakHook().get_async_client()
        async with client:
            broadcast = await client.send_direct(SEEDS["otp"])
            return await client.get_broadcast(broadcast.id)

    assert asyncio.run(run()).id


def test_canary_secret_never_reaches_logs_reprs_or_errors(qontak_sandbox, monkeypatch, caplog):
    canary = "canary-s3cret-do-not-leak"
    qontak_sandbox.update_settings(credentials={qontak_sandbox.client_id: canary})
    conn = json.loads(qontak_sandbox.conn_json())
    conn["password"] = canary
    monkeypatch.setenv("AIRFLOW_CONN_QONTAK_DEFAULT", json.dumps(conn))
    caplog.set_level(logging.DEBUG)
    hook = QontakHook()
    texts = [repr(hook), repr(hook.client), repr(hook.config)]
    broadcast = hook.send_direct(SEEDS["text_with_variables"])
    texts.append(broadcast.model_dump_json())
    bad = dict(SEEDS["text_with_variables"], message_template_id="00000000-0000-0000-0000-000000000000")
    with pytest.raises(Exception) as excinfo:
        hook.send_direct(bad)
    texts += [str(excinfo.value), repr(excinfo.value)]
    texts += [record.getMessage() for record in caplog.records]
    assert all(canary not in text for text in texts)


def test_inactive_channels_only_on_request(qontak_sandbox):
    hook = QontakHook()
    active = hook.list_channels()
    everything = hook.list_channels(include_inactive=True)
    assert all(c.is_active for c in active)
    assert any(not c.is_active for c in everything)
    assert {c.id for c in active} < {c.id for c in everything}
