"""Testing a DAG of your own against the Qontak sandbox: the complete file the testing guide shows.

``qontak_sandbox`` (installed with the provider) serves the sandbox on a free port and points
``AIRFLOW_CONN_QONTAK_DEFAULT`` at it, for this test only; nobody is messaged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).parent / "dags"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))  # the airflow of this virtualenv


@pytest.fixture(scope="session")
def airflow_env(tmp_path_factory):
    """An Airflow of its own on sqlite, reading this folder's DAGs (migrated once per session)."""
    home = tmp_path_factory.mktemp("airflow")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
    return env


def dags_test(env, dag_id, conf=None):
    command = [AIRFLOW, "dags", "test", dag_id]
    if conf is not None:
        command += ["--conf", json.dumps(conf)]
    # os.environ is read now, so the connection the qontak_sandbox fixture set is passed on
    return subprocess.run(
        command,
        env={**env, "AIRFLOW_CONN_QONTAK_DEFAULT": os.environ["AIRFLOW_CONN_QONTAK_DEFAULT"]},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_customer_is_reminded_once_and_reads_it(airflow_env, qontak_sandbox):
    result = dags_test(airflow_env, "customer_reminder")
    assert result.returncode == 0, result.stdout + result.stderr
    # what the sandbox received: one message per customer, numbers normalised
    assert qontak_sandbox.counts() == {"6281234567001": 1, "6281234567002": 1}
    first = qontak_sandbox.sends()[0]["body"]
    assert first["parameters"]["body"][0]["value_text"] in ("Budi", "Sari")


def test_a_number_that_cannot_receive_whatsapp_fails_the_wait_with_whatsapps_reason(
    airflow_env, qontak_sandbox
):
    # 6281100000001 is one of the sandbox's magic numbers: accepted, then failed by "WhatsApp"
    customers = [{"id": "C009", "phone": "6281100000001", "name": "Nobody", "amount": "Rp 1"}]
    result = dags_test(airflow_env, "customer_reminder", conf={"customers": customers})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "(#131026) Message undeliverable" in output  # the sensor names WhatsApp's error...
    assert "6281100000001" not in output  # ...and masks the number
    assert qontak_sandbox.counts() == {"6281100000001": 1}
