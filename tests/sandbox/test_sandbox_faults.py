"""Rate limit, injected faults, dropped connections, latency, and seeded repeatability."""

from __future__ import annotations

import time

import pytest
import requests
from sandbox_helpers import Api, messages, payload

from qontak_provider.sandbox.server import run_sandbox


def test_rate_limit_answers_429_with_reset(api: Api) -> None:
    api.sandbox.update_settings(rate_limit=3)
    assert [api.send(payload("otp")).status_code for _ in range(3)] == [201, 201, 201]
    refused = api.send(payload("otp"))
    assert refused.status_code == 429
    problems = messages(refused)
    assert problems[0] == "Too many requests"
    assert problems[1] == f"organization_id: {api.sandbox.settings.organization_id}"
    assert problems[2:4] == ["rate_limit_limit: 3", "rate_limit_remaining: 0"]
    reset = int(problems[4].removeprefix("rate_limit_reset: "))
    assert 55 <= reset <= 60
    assert len(api.sandbox.sends()) == 3
    # reads are not limited, and the window slides
    assert api.get("integrations").status_code == 200
    api.sandbox.advance(reset)
    assert api.send(payload("otp")).status_code == 201


def test_rate_limit_can_be_disabled(api: Api) -> None:
    api.sandbox.update_settings(rate_limit=0)
    assert {api.send(payload("otp")).status_code for _ in range(65)} == {201}


def test_default_rate_limit_is_60_per_minute(api: Api) -> None:
    statuses = [api.send(payload("otp")).status_code for _ in range(61)]
    assert statuses.count(201) == 60 and statuses[-1] == 429


def test_fault_before_processing_records_nothing(api: Api) -> None:
    api.sandbox.update_settings(fail_before=1.0)
    response = api.send(payload("otp"))
    assert response.status_code == 500
    assert messages(response)[0].startswith("Internal server error")
    assert api.sandbox.sends() == []


def test_fault_after_processing_records_the_send(api: Api) -> None:
    api.sandbox.update_settings(fail_after=1.0, fault_status=504)
    response = api.send(payload("otp"))
    assert response.status_code == 504
    sends = api.sandbox.sends()
    assert len(sends) == 1 and sends[0]["answered"] == 504
    listed = api.get("broadcasts/whatsapp").json()["data"]
    assert [b["id"] for b in listed] == [sends[0]["broadcast_id"]]


def test_dropped_connection_is_a_client_connection_error(api: Api) -> None:
    api.sandbox.update_settings(drop=1.0)
    with pytest.raises(requests.ConnectionError):
        api.send(payload("otp"))
    assert api.sandbox.sends() == []
    assert api.sandbox.stats()["by_endpoint"]["POST /broadcasts/whatsapp/direct"] == {"dropped": 1}
    # the server keeps serving new connections
    assert api.get("integrations").status_code == 200


def test_latency_applies_to_api_endpoints(api: Api) -> None:
    api.sandbox.update_settings(latency_ms=300)
    started = time.perf_counter()
    assert api.get("integrations").status_code == 200
    assert time.perf_counter() - started >= 0.3
    started = time.perf_counter()
    api.plain("GET", "/_sandbox/health")
    assert time.perf_counter() - started < 0.3


def _fault_run(seed: int) -> tuple[list[int], list[str]]:
    with run_sandbox(seed=seed, fail_before=0.3, fail_after=0.3, rate_limit=None) as sandbox:
        api = Api(sandbox)
        codes = [api.send(payload("otp")).status_code for _ in range(20)]
        return codes, [send["broadcast_id"] for send in sandbox.sends()]


def test_seeded_faults_and_ids_repeat() -> None:
    first, second, other = _fault_run(7), _fault_run(7), _fault_run(8)
    assert first == second
    assert {201, 500} <= set(first[0])
    assert first[0] != other[0]


def test_reset_restarts_the_random_sequence(api: Api) -> None:
    api.sandbox.update_settings(fail_before=0.5)
    codes = [api.send(payload("otp")).status_code for _ in range(10)]
    api.sandbox.reset()
    assert [api.send(payload("otp")).status_code for _ in range(10)] == codes
