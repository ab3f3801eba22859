"""The async client's exception mapping."""

from __future__ import annotations

import httpx
import pytest

from qontak_provider.client.aio import classify_httpx_error
from qontak_provider.client.policy import FailureKind


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ConnectError("refused"), FailureKind.CONNECT),
        (httpx.ConnectTimeout("slow"), FailureKind.CONNECT),
        (httpx.PoolTimeout("pool"), FailureKind.CONNECT),
        (httpx.ProxyError("proxy"), FailureKind.CONNECT),
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), FailureKind.FATAL),
        (httpx.ReadTimeout("read"), FailureKind.TIMEOUT),
        (httpx.WriteTimeout("write"), FailureKind.TIMEOUT),
        (httpx.ReadError("reset"), FailureKind.DISCONNECTED),
        (httpx.WriteError("broken pipe"), FailureKind.DISCONNECTED),
        (httpx.RemoteProtocolError("Server disconnected"), FailureKind.DISCONNECTED),
        (httpx.UnsupportedProtocol("ftp"), FailureKind.FATAL),
        (httpx.LocalProtocolError("bad header"), FailureKind.FATAL),
        (httpx.DecodingError("gzip"), FailureKind.DISCONNECTED),
    ],
)
def test_classify_httpx_error(error: httpx.HTTPError, kind: FailureKind) -> None:
    assert classify_httpx_error(error).kind is kind
