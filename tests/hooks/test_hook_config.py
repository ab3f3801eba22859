"""QontakHook: reading the connection, without any network."""

from __future__ import annotations

import json
import re

import pytest

from qontak_provider.hooks.qontak import QontakConnectionConfig, QontakHook, base_url_from_connection

CANARY = "canary-secret-7f3a9c1e"


def _set_conn(monkeypatch, **fields):
    conn = {"conn_type": "qontak", "login": "client-1", "password": CANARY}
    conn.update(fields)
    monkeypatch.setenv("AIRFLOW_CONN_QONTAK_DEFAULT", json.dumps(conn))


@pytest.mark.parametrize(
    ("host", "port", "schema", "expected"),
    [
        (None, None, None, "https://api.mekari.com"),
        ("", None, None, "https://api.mekari.com"),
        ("api.mekari.io", None, None, "https://api.mekari.io"),
        ("https://api.mekari.com/", None, None, "https://api.mekari.com"),
        ("http://127.0.0.1:8789", None, None, "http://127.0.0.1:8789"),
        ("http://127.0.0.1", 8789, None, "http://127.0.0.1:8789"),  # the URI form splits the port off
        ("127.0.0.1", 8789, "http", "http://127.0.0.1:8789"),
        ("127.0.0.1", 8789, "ftp", "https://127.0.0.1:8789"),
        ("http://127.0.0.1:8789", 9999, None, "http://127.0.0.1:8789"),  # a port in the host wins
        ("https://gw.example/prefix", 8443, None, "https://gw.example:8443/prefix"),
    ],
)
def test_base_url_from_connection(host, port, schema, expected):
    assert base_url_from_connection(host, port, schema) == expected


def test_init_does_not_read_the_connection(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_QONTAK_DEFAULT", raising=False)
    hook = QontakHook(qontak_conn_id="does_not_exist")  # must not raise: no lookup in __init__
    assert hook.qontak_conn_id == "does_not_exist"
    assert "does_not_exist" in repr(hook)


def test_config_from_json_connection(monkeypatch):
    _set_conn(
        monkeypatch,
        host="http://127.0.0.1:8789",
        extra={
            "channel_integration_id": " chan-1 ",
            "timeout": "12.5",
            "rate_per_minute": 30,
            "default_region": "sg",
        },
    )
    config = QontakHook().config
    assert config == QontakConnectionConfig(
        client_id="client-1",
        client_secret=CANARY,
        base_url="http://127.0.0.1:8789",
        timeout=12.5,
        rate_per_minute=30,
        channel_integration_id="chan-1",
        default_region="SG",
    )
    assert CANARY not in repr(config)


def test_defaults_when_extras_missing(monkeypatch):
    _set_conn(monkeypatch)
    hook = QontakHook()
    assert hook.config.base_url == "https://api.mekari.com"
    assert hook.rate_per_minute == 60
    assert hook.config.timeout == 30
    assert hook.default_region == "ID"
    assert hook.default_channel_integration_id is None


def test_config_from_uri_connection(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_QONTAK_DEFAULT",
        "qontak://client-1:c%2Fsecret-x@127.0.0.1:8789/http?channel_integration_id=abc&rate_per_minute=120",
    )
    config = QontakHook().config
    assert config.base_url == "http://127.0.0.1:8789"
    assert config.client_secret == "c/secret-x"
    assert config.rate_per_minute == 120
    assert config.channel_integration_id == "abc"


def test_hook_arguments_override_extras(monkeypatch):
    _set_conn(monkeypatch, extra={"timeout": 5, "rate_per_minute": 10})
    hook = QontakHook(timeout=99, rate_per_minute=600)
    assert hook.config.timeout == 99
    assert hook.rate_per_minute == 600
    assert hook.client.rate_per_minute == 600


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"login": ""}, "'Client ID' (login) is empty"),
        ({"password": ""}, "'Client Secret' (password) is empty"),
        ({"extra": {"timeout": "soon"}}, "extra 'timeout' must be a number"),
        ({"extra": {"rate_per_minute": 0}}, "extra 'rate_per_minute' must be greater than 0"),
    ],
)
def test_bad_connection_names_the_field(monkeypatch, fields, message):
    _set_conn(monkeypatch, **fields)
    with pytest.raises(ValueError, match=re.escape(message)):
        QontakHook().config
    ok, text = QontakHook().test_connection()
    assert not ok
    assert message in text


def test_test_connection_reports_unreachable_server(monkeypatch):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _set_conn(monkeypatch, host=f"http://127.0.0.1:{port}", extra={"timeout": 2})
    hook = QontakHook()
    hook.client.retry_policy = type(hook.client.retry_policy)(max_attempts=1)
    ok, text = hook.test_connection()
    assert not ok
    assert "Could not reach Qontak" in text or "answered with an error" in text
    assert CANARY not in text


def test_get_conn_returns_the_cached_client(monkeypatch):
    _set_conn(monkeypatch)
    hook = QontakHook()
    assert hook.get_conn() is hook.client
    assert CANARY not in repr(hook.client)
