"""The three ways to start the sandbox: CLI, context manager, pytest fixture."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sandbox_helpers import Api, payload

from qontak_provider.sandbox.cli import banner, build_parser, settings_from_args
from qontak_provider.sandbox.server import Sandbox, run_sandbox
from qontak_provider.sandbox.settings import SandboxSettings


def cli_command() -> list[str]:
    """The installed console script, or the module when the entry point is not installed."""
    script = Path(sys.executable).with_name("qontak-sandbox")
    return [str(script)] if script.exists() else [sys.executable, "-m", "qontak_provider.sandbox.cli"]


def test_cli_prints_the_connection_and_serves() -> None:
    process = subprocess.Popen(
        [*cli_command(), "--port", "0", "--clock", "demo", "--rate-limit", "5", "--paging", "exact"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        conn = None
        deadline = time.monotonic() + 30
        lines = []
        while conn is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("export AIRFLOW_CONN_QONTAK_DEFAULT="):
                conn = json.loads(line.split("=", 1)[1].strip().strip("'"))
        assert conn is not None, "".join(lines)
        assert conn["conn_type"] == "qontak" and conn["login"] == "sandbox-client-id"
        assert conn["extra"] == {"channel_integration_id": "56b60c3c-0123-46af-958b-32f3ad12ee37"}
        health = requests.get(conn["host"] + "/_sandbox/health", timeout=5)
        assert health.json()["status"] == "ok"
        settings = requests.get(conn["host"] + "/_sandbox/settings", timeout=5).json()
        assert settings["step_seconds"] == 3.0 and settings["rate_limit"] == 5
        assert settings["paging"] == "exact"
        assert any("variants: paging=exact" in line for line in lines)
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=15)
    # uvicorn shuts down gracefully, then re-raises the captured SIGTERM (exit status -15)
    assert "Finished server process" in rest
    assert process.returncode in (0, -signal.SIGTERM)


def test_cli_rejects_bad_settings() -> None:
    result = subprocess.run(
        [*cli_command(), "--fail-before", "3"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "fail_before" in result.stderr


def test_context_manager_helpers() -> None:
    with run_sandbox(rate_limit=2) as sandbox:
        assert sandbox.url.startswith("http://127.0.0.1:") and sandbox.port > 0
        assert sandbox.api_url == sandbox.url + "/qontak/chat/v1"
        assert sandbox.settings.rate_limit == 2
        conn = json.loads(sandbox.conn_json(timeout=5))
        assert conn == {
            "conn_type": "qontak",
            "host": sandbox.url,
            "login": "sandbox-client-id",
            "password": "sandbox-client-secret",
            "extra": {"channel_integration_id": "56b60c3c-0123-46af-958b-32f3ad12ee37", "timeout": 5},
        }
        prefix = f"qontak://http://sandbox-client-id:sandbox-client-secret@127.0.0.1:{sandbox.port}/?"
        assert sandbox.conn_uri().startswith(prefix)
        assert sandbox.airflow_env("qontak_ci") == {"AIRFLOW_CONN_QONTAK_CI": sandbox.conn_json()}
        assert sandbox.conn_json({"timeout": 5}) == sandbox.conn_json(extra={"timeout": 5})
        assert "channel_integration_id" not in sandbox.conn_dict(channel_integration_id=None)["extra"]
        for shown in (repr(sandbox), repr(sandbox.settings), str(sandbox.settings)):
            assert "sandbox-client-secret" not in shown
        api = Api(sandbox)
        assert api.send(payload("otp")).status_code == 201
        assert len(sandbox.sends()) == 1 and sandbox.counts() == {"6281234567890": 1}
        sandbox.update_settings(step_seconds=5)
        assert sandbox.settings.step_seconds == 5
        sandbox.reset(settings=True)
        assert sandbox.sends() == [] and sandbox.settings.step_seconds == 0.2
        url = sandbox.url
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/_sandbox/health", timeout=2)


def test_pytest_fixture_sets_the_airflow_connection(qontak_sandbox: Sandbox) -> None:
    conn = json.loads(os.environ["AIRFLOW_CONN_QONTAK_DEFAULT"])
    assert conn == {
        "conn_type": "qontak",
        "host": qontak_sandbox.url,
        "login": qontak_sandbox.client_id,
        "password": qontak_sandbox.client_secret,
        "extra": {"channel_integration_id": "56b60c3c-0123-46af-958b-32f3ad12ee37"},
    }
    api = Api(qontak_sandbox)
    assert api.send(payload("otp")).status_code == 201


def test_pytest_fixture_is_reset_between_tests(qontak_sandbox: Sandbox) -> None:
    # runs after the test above on the same session server
    assert qontak_sandbox.sends() == []
    assert qontak_sandbox.stats()["total"] == 0
    qontak_sandbox.load_fixtures({"templates": [{"id": "leaky", "name": "leaky", "body": "x"}]})
    qontak_sandbox.update_settings(rate_limit=1)


def test_pytest_fixture_restores_settings_and_fixtures(qontak_sandbox: Sandbox) -> None:
    assert "leaky" not in qontak_sandbox.state.templates
    assert qontak_sandbox.settings.rate_limit == 60


@pytest.mark.qontak_sandbox(rate_limit=1, clock="instant")
def test_pytest_marker_changes_settings(qontak_sandbox: Sandbox) -> None:
    assert qontak_sandbox.settings.rate_limit == 1 and qontak_sandbox.settings.step_seconds == 0
    api = Api(qontak_sandbox)
    broadcast_id = api.send(payload("otp")).json()["data"]["id"]
    assert api.send(payload("otp")).status_code == 429
    assert api.get(f"broadcasts/{broadcast_id}/whatsapp/log").json()["data"][0]["status"] == "read"


VARIANT_FLAGS = [
    "--paging",
    "seed",
    "--broadcast-list",
    "forbidden",
    "--broadcast-detail",
    "stale",
    "--not-found-status",
    "422",
    "--direct-send-status",
    "200",
    "--language-check",
    "spec_enum",
    "--keep-alive-seconds",
    "1.5",
    "--idle-reset-seconds",
    "30",
]


def test_cli_variant_flags_parse_into_settings() -> None:
    settings = settings_from_args(build_parser().parse_args(VARIANT_FLAGS))
    assert settings.paging == "seed" and settings.broadcast_list == "forbidden"
    assert settings.broadcast_detail == "stale" and settings.not_found_status == 422
    assert settings.direct_send_status == 200 and settings.language_check == "spec_enum"
    assert settings.keep_alive_seconds == 1.5 and settings.idle_reset_seconds == 30
    shown = banner("http://127.0.0.1:8789", settings)
    assert "paging=seed broadcast_list=forbidden broadcast_detail=stale not_found=422" in shown
    assert "direct_send=200 language_check=spec_enum" in shown
    assert "keep_alive=1.5s idle_reset=30s" in shown


def test_cli_variant_flags_default_to_the_settings_defaults() -> None:
    assert settings_from_args(build_parser().parse_args([])) == SandboxSettings()
    assert "idle_reset=off" in banner("http://127.0.0.1:8789", SandboxSettings())


@pytest.mark.parametrize(
    "argv", [["--paging", "total"], ["--not-found-status", "410"], ["--language-check", "strict"]]
)
def test_cli_refuses_unknown_variant_values(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_cli_refuses_a_non_positive_keep_alive() -> None:
    result = subprocess.run(
        [*cli_command(), "--keep-alive-seconds", "0"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "keep_alive_seconds" in result.stderr
