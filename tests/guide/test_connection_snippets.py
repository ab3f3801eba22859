"""The connection commands of docs/howto/connection.rst (included from tests/guide/connection/) work.

Each environment-variable snippet is sourced by bash and read by ``QontakHook`` as a task would; the CLI
snippet stores the connection in a metadata database of its own, and ``airflow connections get`` shows
what was stored. No request is made: the snippets name Mekari's production gateway.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SNIPPETS = Path(__file__).parent / "connection"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
CHANNEL = "56b60c3c-0123-46af-958b-32f3ad12ee37"

CODE = """
import json
from qontak_provider.hooks.qontak import QontakHook

config = QontakHook().config
print(json.dumps({
    "base_url": config.base_url,
    "client_id": config.client_id,
    "client_secret": config.client_secret,
    "channel_integration_id": config.channel_integration_id,
    "timeout": config.timeout,
    "rate_per_minute": config.rate_per_minute,
}))
"""


def _config_after_sourcing(snippet: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW_CONN_")}
    result = subprocess.run(
        ["bash", "-c", f'source "$1" && exec "{sys.executable}" -c "$2"', "-", SNIPPETS / snippet, CODE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("snippet", "base_url", "client_id", "client_secret"),
    [
        ("env_json.sh", "https://api.mekari.com", "your-hmac-client-id", "your-hmac-client-secret"),
        ("env_uri.sh", "https://api.mekari.com", "your-hmac-client-id", "your-hmac-client-secret"),
        ("env_uri_sandbox.sh", "http://127.0.0.1:8789", "sandbox-client-id", "sandbox-client-secret"),
    ],
)
def test_environment_variable_snippets_give_the_documented_connection(
    snippet, base_url, client_id, client_secret
):
    config = _config_after_sourcing(snippet)
    assert config["base_url"] == base_url
    assert config["client_id"] == client_id
    assert config["client_secret"] == client_secret
    assert config["channel_integration_id"] == CHANNEL
    assert config["timeout"] == 30 and config["rate_per_minute"] == 60


@pytest.mark.airflow
def test_the_cli_snippet_stores_the_connection(tmp_path):
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW_CONN_")},
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PATH": f"{Path(AIRFLOW).parent}{os.pathsep}{os.environ['PATH']}",
    }
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    added = subprocess.run(
        ["bash", SNIPPETS / "add_with_cli.sh"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    shown = subprocess.run(
        [AIRFLOW, "connections", "get", "qontak_default", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    (stored,) = json.loads(shown.stdout)
    assert stored["conn_type"] == "qontak"
    assert stored["host"] == "https://api.mekari.com"
    assert stored["login"] == "your-hmac-client-id"
    assert stored["extra_dejson"]["channel_integration_id"] == CHANNEL
    assert str(stored["extra_dejson"]["rate_per_minute"]) == "60"  # the CLI prints extras as text
