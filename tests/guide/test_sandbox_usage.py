"""The ways of using the sandbox that docs/reference/sandbox.rst and docs/howto/testing.rst show.

Each region between ``[START ...]`` and ``[END ...]`` is included in the docs as it is here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException

from qontak_provider.hooks.qontak import QontakHook
from qontak_provider.operators.qontak import QontakSendDirectOperator
from qontak_provider.sandbox import run_sandbox

HERE = Path(__file__).parent
REPO = HERE.parents[1]
BIN = Path(sys.executable).parent


def send_welcome(number: str) -> dict:
    """Stands for your own code: anything that sends through the ``qontak_default`` connection."""
    return QontakSendDirectOperator(
        task_id="welcome",
        to_number=number,
        to_name="Budi",
        template_name="song_recommendation",
        body=["Budi", "lagu nusantara"],
    ).execute({})


# [START howto_sandbox_fixture]
def test_a_welcome_message_is_sent_once(qontak_sandbox):
    send_welcome("0812-3456-7890")  # uses the "qontak_default" connection
    assert qontak_sandbox.counts() == {"6281234567890": 1}
    # [END howto_sandbox_fixture]
    assert qontak_sandbox.sends()[0]["template_name"] == "song_recommendation"


# [START howto_sandbox_markers]
@pytest.mark.qontak_sandbox(rate_limit=1, rate_limit_window_seconds=2)  # Qontak's 429s
def test_a_send_beyond_the_rate_limit_waits_for_the_window(qontak_sandbox):
    send_welcome("0812-3456-7890")
    send_welcome("0812-3456-7890")  # answered 429 first, sent again after the announced reset
    assert qontak_sandbox.counts() == {"6281234567890": 2}
    assert "429" in qontak_sandbox.stats()["by_endpoint"]["POST /broadcasts/whatsapp/direct"]


@pytest.mark.qontak_sandbox(fail_after=1.0)  # accepted, then a 500: the in-doubt case
def test_a_send_in_doubt_fails_without_sending_again(qontak_sandbox):
    with pytest.raises(AirflowFailException):
        send_welcome("0812-3456-7890")
    assert qontak_sandbox.counts() == {"6281234567890": 1}  # it did reach Qontak


@pytest.mark.qontak_sandbox(clock="instant")  # deliveries settle at once
def test_a_message_is_read_at_once(qontak_sandbox):
    result = send_welcome("0812-3456-7890")
    (row,) = QontakHook().get_broadcast_log(result["broadcast_id"])
    assert row.status == "read"


def test_settings_can_change_within_a_test(qontak_sandbox):
    qontak_sandbox.update_settings(fail_after=1.0)
    with pytest.raises(AirflowFailException):
        send_welcome("0812-3456-7890")
    # [END howto_sandbox_markers]


def test_a_script_can_serve_the_sandbox_itself(monkeypatch, capsys):
    monkeypatch.delenv("AIRFLOW_CONN_QONTAK_DEFAULT", raising=False)  # removed again after the test
    # [START howto_sandbox_run_sandbox]
    from qontak_provider.sandbox import run_sandbox

    with run_sandbox(step_seconds=1.0, rate_limit=10) as sandbox:
        os.environ.update(sandbox.airflow_env())  # AIRFLOW_CONN_QONTAK_DEFAULT
        send_welcome("0812-3456-7890")
        print(sandbox.sends())
    # [END howto_sandbox_run_sandbox]
    assert "6281234567890" in capsys.readouterr().out


def test_a_fixture_file_adds_channels_and_templates():
    with run_sandbox(fixtures=HERE / "fixtures" / "my_shop.yaml") as sandbox:
        assert "0d9b5f0e-3c1a-4f53-9d55-3b1c2f3e4a5b" in sandbox.state.channels
        os.environ.update(sandbox.airflow_env())
        try:
            QontakSendDirectOperator(
                task_id="paid",
                to_number="0812-3456-7890",
                to_name="Budi",
                template_name="order_paid",
                channel_integration_id="0d9b5f0e-3c1a-4f53-9d55-3b1c2f3e4a5b",
                header_url="https://example.com/receipt.png",
                body=["Budi", "Rp 250.000"],
                buttons=["INV-42"],
            ).execute({})
        finally:
            del os.environ["AIRFLOW_CONN_QONTAK_DEFAULT"]
        (sent,) = sandbox.sends()
        assert sent["template_name"] == "order_paid"


@pytest.mark.airflow
def test_the_ci_snippet_serves_the_sandbox_for_airflow_dags_test(tmp_path):
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW_CONN_")},
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags_examples"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
    process = subprocess.Popen(
        ["bash", "-e", str(HERE / "sandbox_in_ci.sh")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the sandbox it leaves running is stopped below
    )
    try:
        output, _ = process.communicate(timeout=240)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
    assert process.returncode == 0, output[-5000:]
    assert "final status: read" in output
