"""The client's journeys under every way the real API may behave: the sandbox's variants.

Each open question of Mekari's reference (how ``meta.pagination`` counts, whether the broadcast list is
there and right, how an unknown id is answered, 200 or 201 for a send, which language codes are accepted,
idle connections) is played by the sandbox; every test here runs one journey under each answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_client_sandbox import connect

from qontak_provider.client.errors import (
    QontakEndpointUnavailableError,
    QontakNotFoundError,
    QontakValidationError,
)
from qontak_provider.client.models import DirectSendRequest
from qontak_provider.client.tracking import DeliveryTracker, drive_sync, poll_steps
from qontak_provider.hooks.qontak import QontakHook
from qontak_provider.ledger.reconcile import BroadcastFinder, ReconcileUnavailable
from qontak_provider.sandbox import magic

pytestmark = pytest.mark.integration

SEEDS: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "seed_payloads.json").read_text()
)
PAGING = ["spec", "seed", "exact"]
SONG = "d3e1083c-66ea-410b-b807-1d84182ffa82"


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def song(number: str, name: str = "Pelanggan") -> dict[str, Any]:
    return {
        "to_number": number,
        "to_name": name,
        "message_template_id": SONG,
        "channel_integration_id": "56b60c3c-0123-46af-958b-32f3ad12ee37",
        "language": {"code": "id"},
        "parameters": {
            "body": [
                {"key": "1", "value_text": name, "value": "name"},
                {"key": "2", "value_text": "lagu", "value": "song"},
            ]
        },
    }


# ------------------------------------------------------------------------------------------- pagination


@pytest.mark.parametrize("paging", PAGING)
def test_every_template_is_listed_and_page_two_is_found(kind: str, qontak_sandbox: Any, paging: str) -> None:
    qontak_sandbox.update_settings(paging=paging)
    expected = len(qontak_sandbox.state.templates)
    assert expected > 100  # more than one page of the default size
    client = connect(kind, qontak_sandbox)
    try:
        templates = client.list_templates()
        assert len(templates) == expected
        assert len({t.id for t in templates}) == expected  # nothing twice
        found = client.find_template("page_two_notice")
        assert found.name == "page_two_notice" and found.language == "id"
        approved = client.list_templates(status="APPROVED")
        assert approved and all(t.status == "APPROVED" for t in approved)
    finally:
        client.close()


@pytest.mark.parametrize("paging", PAGING)
def test_the_hook_and_a_send_by_template_name_work_past_page_one(qontak_sandbox: Any, paging: str) -> None:
    from qontak_provider.operators._send import clear_template_cache
    from qontak_provider.operators.qontak import QontakSendDirectOperator

    qontak_sandbox.update_settings(paging=paging)
    clear_template_cache()
    assert QontakHook().find_template("page_two_notice").name == "page_two_notice"
    result = QontakSendDirectOperator(
        task_id="t", to_number="0812-3456-7890", to_name="Budi", template_name="page_two_notice", body=["x"]
    ).execute({})
    assert result["template_name"] == "page_two_notice"
    assert qontak_sandbox.counts() == {"6281234567890": 1}
    clear_template_cache()


# ------------------------------------------------------------------------------------------- not found


@pytest.mark.parametrize("status", [404, 422])
def test_an_unknown_id_is_not_found_whatever_the_code(kind: str, qontak_sandbox: Any, status: int) -> None:
    qontak_sandbox.update_settings(not_found_status=status)
    client = connect(kind, qontak_sandbox)
    missing = "00000000-0000-0000-0000-000000000000"
    try:
        for call, what in (
            (client.get_template, "template"),
            (client.get_channel, "channel integration"),
            (client.get_broadcast, "broadcast"),
            (client.get_broadcast_log, "broadcast"),
        ):
            with pytest.raises(QontakNotFoundError) as info:
                call(missing)
            assert f"Qontak has no {what} '{missing}'" in str(info.value)
            assert info.value.status_code == status
    finally:
        client.close()


@pytest.mark.parametrize("mode", ["absent", "forbidden"])
def test_a_missing_list_is_an_unavailable_endpoint_not_a_bad_id(
    kind: str, qontak_sandbox: Any, mode: str
) -> None:
    qontak_sandbox.update_settings(broadcast_list=mode)
    client = connect(kind, qontak_sandbox)
    try:
        with pytest.raises(Exception) as info:
            client.list_broadcasts()
        assert "Check the id" not in str(info.value)
        if mode == "absent":
            assert isinstance(info.value, QontakEndpointUnavailableError)
            assert "not available to these credentials" in str(info.value)
        else:
            assert info.value.status_code == 403 and "scope" in str(info.value)
    finally:
        client.close()


# ------------------------------------------------------------------------------------------ direct send


@pytest.mark.parametrize("status", [200, 201])
@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_the_documented_payloads_are_sent_whatever_the_success_code(
    kind: str, qontak_sandbox: Any, status: int, seed: str
) -> None:
    qontak_sandbox.update_settings(direct_send_status=status)
    client = connect(kind, qontak_sandbox)
    try:
        broadcast = client.send_direct(SEEDS[seed])
    finally:
        client.close()
    (received,) = qontak_sandbox.sends()
    assert received["broadcast_id"] == broadcast.id
    assert json.dumps(received["body"]) == json.dumps(SEEDS[seed])  # JSON-equal, in the written order


def test_under_the_spec_enum_the_guides_otp_is_refused_by_qontak_not_by_us(
    kind: str, qontak_sandbox: Any
) -> None:
    """The spec's enum allows only id/en: the OTP payload (``id``) passes, an ``en_US`` code is refused."""
    qontak_sandbox.update_settings(language_check="spec_enum")
    client = connect(kind, qontak_sandbox)
    try:
        client.send_direct(SEEDS["otp"])
        with pytest.raises(QontakValidationError, match=r"language\.code"):
            client.send_direct({**SEEDS["otp"], "language": {"code": "en_US"}})
    finally:
        client.close()
    assert len(qontak_sandbox.sends()) == 1


# ------------------------------------------------------------------------------------------- delivery


@pytest.mark.qontak_sandbox(clock="instant")
@pytest.mark.parametrize(
    "variant",
    [
        {"broadcast_list": "live"},
        {"broadcast_list": "stale"},
        {"broadcast_list": "stale", "broadcast_detail": "stale"},
        {"broadcast_list": "absent"},
        {"broadcast_list": "forbidden"},
        {"paging": "seed"},
    ],
    ids=lambda v: "-".join(f"{k}={v}" for k, v in v.items()),
)
def test_tracking_many_broadcasts_settles_under_every_list_variant(
    qontak_sandbox: Any, variant: dict
) -> None:
    qontak_sandbox.update_settings(**variant)
    client = QontakHook().client
    ids = [client.send_direct(song(f"62812000000{i:02d}")).id for i in range(6)]
    failing = client.send_direct(song(magic.FAILS_UNDELIVERABLE)).id
    tracker = DeliveryTracker([*ids, failing], target_status="read", max_failed_ratio=0.5)
    for _ in range(10):
        drive_sync(poll_steps(tracker), client)
        if tracker.outcome() != "pending":
            break
    assert tracker.outcome() == "success", tracker.summary_line()
    summary = tracker.summary()
    assert summary["counts"]["read"] == 6 and summary["failed_ids"] == [failing]
    assert magic.UNDELIVERABLE_ERROR_MESSAGE in summary["broadcasts"][failing]["errors"][0]["error"]
    notices = tracker.take_notices()
    if variant.get("broadcast_list") in ("absent", "forbidden"):
        assert summary["list_unavailable"] and len(notices) == 1
    elif variant.get("broadcast_list") == "stale":
        # Three broadcasts proved the counts stale: the endpoint is skipped, said once per endpoint.
        endpoints = 2 if variant.get("broadcast_detail") == "stale" else 1
        assert "carried no information" in summary["list_unavailable"], summary
        assert len(notices) == endpoints and all("no information" in n for n in notices), notices
    else:
        assert summary["list_unavailable"] is None and notices == []


# ----------------------------------------------------------------------------------------- reconciling


@pytest.mark.qontak_sandbox(clock="instant")
@pytest.mark.parametrize("paging", PAGING)
def test_reconcile_finds_the_send_and_claims_it_once(qontak_sandbox: Any, paging: str) -> None:
    from qontak_provider.client.timestamps import utcnow

    qontak_sandbox.update_settings(paging=paging)
    client = QontakHook().client
    started = utcnow()
    for i in range(3):
        client.send_direct(song(f"6281200000{i:03d}", name=f"N{i}"))
    sent = client.send_direct(song("6281234567890", name="Budi"))
    finder = BroadcastFinder(client, started)
    request = DirectSendRequest.model_validate(song("6281234567890", name="Budi"))
    result = finder.find(request)
    assert [b.id for b in result.proven] == [sent.id]
    assert finder.find(request).proven == []  # claimed: a second identical row is not matched to it
    assert finder.newest_first


@pytest.mark.qontak_sandbox(clock="instant")
@pytest.mark.parametrize("mode", ["absent", "forbidden"])
def test_reconcile_without_the_list_says_the_list_is_unavailable(qontak_sandbox: Any, mode: str) -> None:
    from qontak_provider.client.timestamps import utcnow

    qontak_sandbox.update_settings(broadcast_list=mode)
    client = QontakHook().client
    started = utcnow()
    client.send_direct(song("6281234567890"))
    with pytest.raises(ReconcileUnavailable, match=r"broadcast list .* not available to these credentials"):
        BroadcastFinder(client, started).find(DirectSendRequest.model_validate(song("6281234567890")))
