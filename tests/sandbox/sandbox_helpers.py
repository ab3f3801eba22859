"""Helpers of the sandbox tests: a signing HTTP client, seed payloads, envelope accessors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

from qontak_provider.client.models import API_PREFIX
from qontak_provider.client.signing import body_digest, sign_headers
from qontak_provider.sandbox.server import Sandbox

SEED_PAYLOADS = json.loads((Path(__file__).parents[1] / "fixtures" / "seed_payloads.json").read_text())
DIRECT = API_PREFIX + "/broadcasts/whatsapp/direct"
CHANNEL_ID = "56b60c3c-0123-46af-958b-32f3ad12ee37"


class Api:
    """A tiny signed client: builds the query string itself so the signed request-line is the wire one."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.session = requests.Session()
        self.client_id = sandbox.client_id
        self.secret = sandbox.client_secret

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        sign_target: str | None = None,
        digest: bool = False,
        raw: bytes | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        if not path.startswith("/"):
            path = API_PREFIX + "/" + path
        target = path + ("?" + urlencode(params, doseq=True) if params else "")
        all_headers = sign_headers(self.client_id, self.secret, method, sign_target or target)
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
            if digest:
                all_headers["Digest"] = body_digest(data)
        all_headers.update(headers or {})
        return self.session.request(
            method, self.sandbox.url + target, data=data, headers=all_headers, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def send(self, payload: dict[str, Any], **kwargs: Any) -> requests.Response:
        return self.request("POST", DIRECT, body=payload, **kwargs)

    def plain(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """An unsigned request (for ``/_sandbox`` endpoints)."""
        return self.session.request(method, self.sandbox.url + path, **kwargs)


def payload(name: str, **changes: Any) -> dict[str, Any]:
    """A deep copy of a seed payload with top-level changes."""
    data = json.loads(json.dumps(SEED_PAYLOADS[name]))
    data.update(changes)
    return data


def messages(response: requests.Response) -> list[str]:
    body = response.json()
    assert body["status"] == "error", body
    assert body["error"]["code"] == response.status_code
    return body["error"]["messages"]
