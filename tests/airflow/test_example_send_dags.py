"""The send example DAGs and the retry-safety DAG under real Airflow (`airflow dags test`) and the sandbox."""

from __future__ import annotations

import json
import re

import pytest

from tests.airflow.conftest import TEST_DAGS, assert_dag_ok, output_of

pytestmark = pytest.mark.airflow

SEEDS = json.loads((TEST_DAGS.parents[1] / "fixtures" / "seed_payloads.json").read_text())
SEED_TEMPLATE = {
    "otp": "otp",
    "text_variables": "text_with_variables",
    "image": "image",
    "document": "document",
    "video": "video",
    "cta_url": "cta_url",
}


@pytest.mark.parametrize("kind", sorted(SEED_TEMPLATE))
def test_example_dag_sends_the_documented_message(run_dag, qontak_sandbox, kind):
    # the extras as the connection form saves them: no value short enough to make the secrets masker warn
    conn = qontak_sandbox.conn_json(default_region=None, timeout=30, rate_per_minute=60)
    result = run_dag(f"example_qontak_{kind}", env={"AIRFLOW_CONN_QONTAK_DEFAULT": conn})
    assert_dag_ok(result)
    assert "Skipping masking" not in result.stdout + result.stderr
    seed = SEEDS[SEED_TEMPLATE[kind]]
    sends = qontak_sandbox.sends()
    assert len(sends) == 1, output_of(result)
    body = sends[0]["body"]
    if kind == "otp":  # picked by name: otp_login (id), not the guide's en_US template the payload names
        assert sends[0]["template_name"] == "otp_login"
    else:
        assert body["message_template_id"] == seed["message_template_id"]
    assert body["to_number"] == seed["to_number"]
    assert body["channel_integration_id"] == seed["channel_integration_id"]
    assert body["language"] == seed["language"]
    # Same values as the documented payload (labels may differ: friendly arguments get param_<n> labels).
    values = [(p["key"], p["value_text"]) for p in body["parameters"].get("body", [])]
    buttons = [(b["index"], b.get("value")) for b in body["parameters"].get("buttons", [])]
    assert body["parameters"].get("header") == seed["parameters"].get("header")
    if kind == "otp":  # the example sends one code in the body and the copy-code button, as WhatsApp shows it
        assert values == [("1", "123456")] and buttons == [("0", "123456")]
        return
    assert values == [(p["key"], p["value_text"]) for p in seed["parameters"].get("body", [])]
    assert buttons == [(b["index"], b.get("value")) for b in seed["parameters"].get("buttons", [])]
    if kind == "document":  # the payload= example goes out verbatim
        assert body == seed


def test_invoice_reminders_send_one_reminder_per_unpaid_due_invoice(run_dag, qontak_sandbox):
    result = run_dag("example_qontak_invoice_reminders")
    assert_dag_ok(result)
    sends = {s["to_number"]: s["body"] for s in qontak_sandbox.sends()}
    # Paid (…7003) and not yet due (…7005, 2099) invoices get nothing; numbers are normalised.
    assert qontak_sandbox.counts() == {"6281234567001": 1, "6281234567002": 1, "6281234567004": 1}
    budi = sends["6281234567001"]
    assert budi["message_template_id"] == "f18e84b3-8bcb-536d-81e9-e2d5ab7f7fd8"  # payment_reminder
    assert [p["value_text"] for p in budi["parameters"]["body"]] == [
        "Budi Santoso",
        "Rp1.250.000",
        "05-01-2026",
    ]
    assert "REMINDER REPORT {'sent': 3, 'already_sent_by_an_earlier_try': 0}" in result.stdout + result.stderr


def test_retried_send_is_not_sent_again(run_dag, qontak_sandbox):
    """
    Each task fails after Qontak accepted its message on try 1 and is retried by Airflow (retries=1):
    plain, mapped (expand), and crashed before the broadcast id was recorded (reconciled).
    """
    result = run_dag("retry_send_dag", dags_folder=TEST_DAGS)
    assert_dag_ok(result)
    output = result.stdout + result.stderr
    numbers = ["6281234567101", "6281234567102", "6281234567103", "6281234567104"]
    assert qontak_sandbox.counts() == dict.fromkeys(numbers, 1), output_of(result)
    tries = {}
    for match in re.finditer(r"RETRY_SEND try=(\d) map_index=(-?\d) result=(\{.*\})", output):
        tries[(int(match[1]), int(match[2]))] = json.loads(match[3])
    by_number = {s["to_number"]: s["broadcast_id"] for s in qontak_sandbox.sends()}
    for map_index, number in [(-1, numbers[0]), (0, numbers[1]), (1, numbers[2])]:
        first, second = tries[(1, map_index)], tries[(2, map_index)]
        assert first["reused"] is False and second["reused"] is True
        assert first["broadcast_id"] == second["broadcast_id"] == by_number[number]
    crashed = tries[(2, -2)]  # try 1 crashed before returning
    assert crashed["reused"] is True and crashed["broadcast_id"] == by_number[numbers[3]]
    assert "RETRY_CHECK" in output
