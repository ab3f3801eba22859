"""The sync client's pieces that need no server: exception mapping, reprs, lazy imports."""

from __future__ import annotations

import pickle
import threading
import time

import pytest
import requests
import urllib3.exceptions

from qontak_provider.client.auth import MekariHmacAuth, Secret
from qontak_provider.client.policy import FailureKind
from qontak_provider.client.sync import QontakClient, _Deadline, classify_requests_error


def _refused() -> requests.ConnectionError:
    reason = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: refused")
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/p", reason))


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (_refused(), FailureKind.CONNECT),
        (requests.ConnectTimeout("connect timed out"), FailureKind.CONNECT),
        (requests.exceptions.ProxyError("proxy down"), FailureKind.CONNECT),
        (requests.ReadTimeout("read timed out"), FailureKind.TIMEOUT),
        (
            requests.ConnectionError(urllib3.exceptions.ReadTimeoutError(None, "/p", "Read timed out.")),
            FailureKind.TIMEOUT,
        ),
        (
            requests.ConnectionError(
                urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))
            ),
            FailureKind.DISCONNECTED,
        ),
        (requests.exceptions.ChunkedEncodingError("cut"), FailureKind.DISCONNECTED),
        (requests.exceptions.SSLError("certificate verify failed"), FailureKind.FATAL),
        (requests.exceptions.InvalidURL("bad"), FailureKind.FATAL),
        (requests.exceptions.MissingSchema("bad"), FailureKind.FATAL),
        (requests.exceptions.Timeout("generic"), FailureKind.TIMEOUT),
    ],
)
def test_classify_requests_error(error: requests.RequestException, kind: FailureKind) -> None:
    outcome = classify_requests_error(error)
    assert outcome.kind is kind
    assert outcome.detail


# ------------------------------------------------------------------------------------------ secrets


def test_secret_and_credentials_never_show_the_secret() -> None:
    secret = Secret("canary-secret-xyz")
    assert "canary" not in repr(secret) and "canary" not in str(secret)
    auth = MekariHmacAuth("id", "canary-secret-xyz")
    assert "canary" not in repr(auth)
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        pickle.dumps(auth)
    with pytest.raises(ValueError, match="password"):
        Secret("")


def test_client_repr_and_validation() -> None:
    client = QontakClient("my-id", "canary-secret-xyz", base_url="api.mekari.io")
    assert repr(client) == "QontakClient(base_url='https://api.mekari.io', client_id='my-id')"
    assert "canary" not in repr(vars(client))
    client.close()
    with pytest.raises(ValueError, match="login"):
        QontakClient("", "s")
    with pytest.raises(ValueError, match="password"):
        QontakClient("id", "")
    with pytest.raises(ValueError):
        QontakClient("id", "s", timeout=0)
    with pytest.raises(ValueError):
        QontakClient("id", "s", page_size=0)


def test_client_package_import_is_cheap_and_lazy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, qontak_provider.client as c; "
        "assert 'requests' not in sys.modules and 'httpx' not in sys.modules, sorted(sys.modules); "
        "assert 'airflow' not in sys.modules; "
        "assert c.QontakClient.__name__ == 'QontakClient'; assert c.AsyncQontakClient.__name__; "
        "c.nope"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert "AttributeError" in result.stderr and "nope" in result.stderr, result.stderr


class _Socket:
    def __init__(self) -> None:
        self.shut = threading.Event()

    def shutdown(self, how: int) -> None:
        self.shut.set()


class _Conn:
    def __init__(self) -> None:
        self.sock = _Socket()


def _attempt(seconds: float, hold: float) -> tuple[_Conn, _Deadline]:
    """Run one fake attempt on its own thread: claim a connection and hold it for ``hold`` seconds."""
    conn = _Conn()
    box: list[_Deadline] = []

    def run() -> None:
        with _Deadline(seconds) as deadline:
            box.append(deadline)
            _Deadline.claim(conn)
            conn.sock.shut.wait(hold)
            _Deadline.release(conn)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return conn, box[0]


def test_deadline_shuts_the_socket_of_an_attempt_past_its_time() -> None:
    conn, deadline = _attempt(0.05, hold=5)
    assert conn.sock.shut.is_set() and deadline.fired


def test_deadline_leaves_a_finished_attempt_and_a_returned_connection_alone() -> None:
    conn, deadline = _attempt(0.2, hold=0)
    time.sleep(0.4)  # past the deadline: the watchdog must find it cancelled
    assert not conn.sock.shut.is_set() and not deadline.fired


def test_one_watchdog_thread_serves_many_concurrent_deadlines() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(6) as pool:
        started = time.monotonic()
        results = list(pool.map(lambda i: _attempt(0.1 * (i % 3 + 1), hold=5), range(6)))
        elapsed = time.monotonic() - started
    assert all(conn.sock.shut.is_set() and d.fired for conn, d in results)
    assert elapsed < 2.5  # each was cut at its own deadline (0.1 to 0.3 s), not at the 5 s hold
    assert [t.name for t in threading.enumerate()].count("qontak-deadline") == 1
