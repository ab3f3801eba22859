"""Connection-level variants over raw sockets: the keep-alive timeout, and idle flows a NAT forgot."""

from __future__ import annotations

import http.client
import json
import socket
import time

import pytest
import requests
from sandbox_helpers import DIRECT, Api, payload

from qontak_provider.client.signing import sign_headers
from qontak_provider.sandbox.server import Sandbox

HEALTH = "/_sandbox/health"


def open_connection(sandbox: Sandbox) -> http.client.HTTPConnection:
    """A keep-alive HTTP/1.1 connection that has served one request (so the idle clock runs)."""
    conn = http.client.HTTPConnection(sandbox.host, sandbox.port, timeout=5)
    conn.request("GET", HEALTH)
    response = conn.getresponse()
    assert response.status == 200 and not response.will_close
    response.read()
    return conn


def closed_by_server(conn: http.client.HTTPConnection, wait: float) -> bool:
    """Whether the server closes the idle connection within ``wait`` seconds (EOF on the socket)."""
    assert conn.sock is not None
    conn.sock.settimeout(wait)
    try:
        return conn.sock.recv(1) == b""
    except TimeoutError:
        return False


def signed_send(conn: http.client.HTTPConnection, sandbox: Sandbox) -> http.client.HTTPResponse:
    body = json.dumps(payload("otp")).encode()
    headers = sign_headers(sandbox.client_id, sandbox.client_secret, "POST", DIRECT)
    conn.request("POST", DIRECT, body=body, headers={**headers, "Content-Type": "application/json"})
    return conn.getresponse()


# ------------------------------------------------------------------------------------------- keep-alive


def test_idle_connection_is_closed_after_keep_alive_seconds(sandbox: Sandbox) -> None:
    sandbox.update_settings(keep_alive_seconds=0.3)
    conn = open_connection(sandbox)
    started = time.monotonic()
    try:
        assert closed_by_server(conn, wait=3)
        assert 0.2 < time.monotonic() - started < 2.5
    finally:
        conn.close()


def test_default_keep_alive_keeps_an_idle_connection_open(sandbox: Sandbox) -> None:
    assert sandbox.settings.keep_alive_seconds == 5.0
    conn = open_connection(sandbox)
    try:
        assert not closed_by_server(conn, wait=0.8)
        conn.request("GET", HEALTH)  # still usable
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def test_keep_alive_change_applies_to_open_connections_from_their_next_response(sandbox: Sandbox) -> None:
    conn = open_connection(sandbox)  # armed with the default 5 s
    try:
        sandbox.update_settings(keep_alive_seconds=0.3)
        conn.request("GET", HEALTH)
        conn.getresponse().read()
        assert closed_by_server(conn, wait=3)
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------- idle reset


def test_request_on_a_forgotten_idle_connection_is_reset_and_not_processed(sandbox: Sandbox) -> None:
    sandbox.update_settings(idle_reset_seconds=0.3)
    conn = open_connection(sandbox)
    try:
        time.sleep(0.6)
        with pytest.raises(ConnectionResetError):
            signed_send(conn, sandbox)
    finally:
        conn.close()
    assert sandbox.sends() == []
    assert sandbox.stats()["by_endpoint"] == {"POST /broadcasts/whatsapp/direct": {"reset": 1}}
    # a fresh connection works at once
    fresh = Api(sandbox)
    try:
        assert fresh.send(payload("otp")).status_code == 201
    finally:
        fresh.session.close()
    assert len(sandbox.sends()) == 1


def test_connection_used_within_idle_reset_seconds_keeps_working(sandbox: Sandbox) -> None:
    sandbox.update_settings(idle_reset_seconds=1.0)
    conn = open_connection(sandbox)
    try:
        for _ in range(3):
            time.sleep(0.2)
            response = signed_send(conn, sandbox)
            assert response.status == 201
            response.read()
    finally:
        conn.close()
    assert len(sandbox.sends()) == 3


def test_pooled_client_connection_gets_a_connection_error(sandbox: Sandbox) -> None:
    """What a ``requests`` user sees: the pooled connection is reused, and the request is reset."""
    sandbox.update_settings(idle_reset_seconds=0.3)
    api = Api(sandbox)
    try:
        assert api.get("integrations").status_code == 200
        time.sleep(0.6)
        with pytest.raises(requests.ConnectionError):
            api.send(payload("otp"))
        assert api.send(payload("otp")).status_code == 201  # the next attempt opens a new connection
    finally:
        api.session.close()
    assert len(sandbox.sends()) == 1
    stats = sandbox.stats()["by_endpoint"]["POST /broadcasts/whatsapp/direct"]
    assert stats == {"reset": 1, "201": 1}


def test_idle_reset_is_off_by_default(sandbox: Sandbox) -> None:
    assert sandbox.settings.idle_reset_seconds is None
    conn = open_connection(sandbox)
    try:
        time.sleep(0.5)
        assert signed_send(conn, sandbox).status == 201
    finally:
        conn.close()


def test_raw_socket_sees_a_reset_not_a_clean_close(sandbox: Sandbox) -> None:
    sandbox.update_settings(idle_reset_seconds=0.2)
    with socket.create_connection((sandbox.host, sandbox.port), timeout=5) as sock:
        time.sleep(0.4)  # idle since the connection was opened
        sock.sendall(b"GET /qontak/chat/v1/integrations HTTP/1.1\r\nHost: sandbox\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            sock.recv(1024)
    assert sandbox.stats()["by_endpoint"] == {"GET /integrations": {"reset": 1}}


def test_sandbox_control_requests_are_not_reset(sandbox: Sandbox) -> None:
    sandbox.update_settings(idle_reset_seconds=0.2)
    conn = open_connection(sandbox)
    try:
        time.sleep(0.4)
        conn.request("GET", "/_sandbox/stats")  # the test's control channel, not emulated traffic
        assert json.loads(conn.getresponse().read()) == {"total": 0, "by_status": {}, "by_endpoint": {}}
    finally:
        conn.close()
