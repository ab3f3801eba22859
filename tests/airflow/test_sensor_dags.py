"""End to end: ``airflow dags test`` of the broadcast sensor against the sandbox, deferrable and poke."""

from __future__ import annotations

import re

import pytest

from qontak_provider.sandbox import magic
from tests.airflow.conftest import TEST_DAGS, assert_dag_ok, output_of

pytestmark = [pytest.mark.airflow, pytest.mark.integration]

DAG_ID = "qontak_sensor_test_dag"


@pytest.mark.qontak_sandbox(clock="fast", rate_limit=0)
@pytest.mark.parametrize(
    "mode",
    [
        pytest.param({"QONTAK_SENSOR_DEFERRABLE": "1"}, id="deferrable"),
        pytest.param({"QONTAK_SENSOR_DEFERRABLE": "0", "QONTAK_SENSOR_MODE": "poke"}, id="poke"),
    ],
)
def test_sensor_outcomes_end_to_end(run_dag, qontak_sandbox, mode):
    """Delivered succeeds, undeliverable fails with WhatsApp's text, never-read times out naming the id."""
    result = run_dag(DAG_ID, env=mode, dags_folder=TEST_DAGS, timeout=240)
    out = result.stdout + result.stderr
    assert result.returncode != 0, output_of(result)  # two of the three sensors must fail
    ids = {send["to_number"]: send["broadcast_id"] for send in qontak_sandbox.sends()}
    assert len(ids) == 3
    if mode["QONTAK_SENSOR_DEFERRABLE"] == "1":
        assert "running trigger in line" in out, output_of(result)
    else:
        assert "running trigger in line" not in out

    # 1. delivered: the sensor succeeded and its summary reached the downstream task
    delivered = ids["6281234567890"]
    assert re.search(rf"SENSOR RESULT {delivered} (delivered|read)", out), output_of(result)
    assert "Broadcasts settled" in out

    # 2. undeliverable: AirflowFailException with WhatsApp's error text and the masked number
    failed = ids[magic.FAILS_UNDELIVERABLE]
    assert f"broadcast {failed}: 62811*****001: {magic.UNDELIVERABLE_ERROR_MESSAGE}" in out, output_of(result)
    assert "AirflowFailException" in out
    assert f"SENSOR RESULT {failed}" not in out
    assert magic.FAILS_UNDELIVERABLE not in out and magic.NEVER_READ not in out  # numbers are masked

    # 3. never read, target read: AirflowSensorTimeout naming the unread broadcast
    unread = ids[magic.NEVER_READ]
    assert f"still unread: {unread}" in out, output_of(result)
    assert "AirflowSensorTimeout" in out
    assert f"SENSOR RESULT {unread}" not in out

    # the sensors only read: nothing was sent twice
    assert sorted(qontak_sandbox.counts().values()) == [1, 1, 1]


# ------------------------------------------------------------------------------------- example DAGs


@pytest.mark.qontak_sandbox(rate_limit=0)
def test_quickstart_example_reports_read(run_dag, qontak_sandbox):
    result = run_dag("example_qontak_quickstart", timeout=240)
    assert_dag_ok(result)
    (send,) = qontak_sandbox.sends()
    assert send["message_template_id"] == "d3e1083c-66ea-410b-b807-1d84182ffa82"
    assert f"Broadcast {send['broadcast_id']} final status: read" in result.stdout + result.stderr


@pytest.mark.qontak_sandbox(rate_limit=0)
@pytest.mark.parametrize(
    ("number", "expected", "skipped"),
    [
        ("6281234567890", "OTP DELIVERED", "FALLBACK"),
        (magic.FAILS_UNDELIVERABLE, "FALLBACK: sending the code", "OTP DELIVERED"),
    ],
    ids=["delivered", "undeliverable"],
)
def test_otp_delivery_example_branches_on_the_result(run_dag, qontak_sandbox, number, expected, skipped):
    result = run_dag("example_qontak_otp_delivery", conf={"to_number": number}, timeout=240)
    assert_dag_ok(result)
    out = result.stdout + result.stderr
    assert expected in out, output_of(result)
    assert skipped not in out
    (send,) = qontak_sandbox.sends()
    assert send["template_name"] == "otp_login"
    code = send["body"]["parameters"]["body"][0]["value_text"]
    assert code.isdigit() and len(code) == 6
    if number == magic.FAILS_UNDELIVERABLE:
        assert magic.UNDELIVERABLE_ERROR_MESSAGE in out and "62811*****001" in out
