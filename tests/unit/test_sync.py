"""The sync client's pieces that need no server: exception mapping, reprs, lazy imports."""

from __future__ import annotations

import pickle

import pytest
import requests
import urllib3.exceptions

from qontak_provider.client.auth import MekariHmacAuth, Secret
from qontak_provider.client.policy import FailureKind
from qontak_provider.client.sync import QontakClient, classify_requests_error


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
