"""Canary test: the client secret and computed signatures never reach logs, errors or reprs."""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path

import pytest
from faultserver import SECRET, FakeTime, FaultServer, Reply, Reset, error, free_port, ok, open_client

from qontak_provider.client.errors import QontakError
from qontak_provider.client.policy import RetryPolicy
from qontak_provider.client.signing import parse_authorization

pytestmark = pytest.mark.integration

PAYLOAD = json.loads((Path(__file__).parents[1] / "fixtures" / "seed_payloads.json").read_text())["otp"]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_secret_and_signatures_never_leak(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # root at DEBUG: ours, urllib3's, httpx's and httpcore's records
    errors: list[BaseException] = []
    with FaultServer() as server:
        server.script(
            error(429, "Too many requests", "rate_limit_reset: 1"),
            ok({"id": "c-1"}),
            Reply(401, {"message": "Unauthorized"}),
            Reset(),
            error(422, "to_number 6281234567890 is invalid"),
            error(503),
        )
        facade = open_client(kind, server.url, FakeTime(), retry_policy=RetryPolicy(max_attempts=1))
        try:
            facade.get_channel("c-1")  # 429 -> RateLimit (one attempt allowed)
        except QontakError as err:
            errors.append(err)
        facade.get_channel("c-1")
        for call in (
            lambda: facade.get_channel("c-1"),  # 401
            lambda: facade.send_direct(PAYLOAD),  # reset after write: in doubt
            lambda: facade.send_direct(PAYLOAD),  # 422
            lambda: facade.send_direct(PAYLOAD),  # 503: in doubt
            lambda: facade.send_direct({"to_number": "6281234567890"}),  # payload error
        ):
            with pytest.raises(QontakError) as info:
                call()
            errors.append(info.value)
        reprs = [repr(facade.client), str(facade.client), repr(vars(facade.client))]
        facade.close()
        secrets = [SECRET]
        for record in server.requests:
            authorization = record.headers["Authorization"]
            secrets += [authorization, parse_authorization(authorization).signature]

    closed = open_client(
        kind, f"http://127.0.0.1:{free_port()}", FakeTime(), retry_policy=RetryPolicy(max_attempts=2)
    )
    with pytest.raises(QontakError) as info:
        closed.send_direct(PAYLOAD)
    errors.append(info.value)
    closed.close()

    assert len(errors) == 7 and len(server.requests) == 6
    texts = [caplog.text, *reprs]
    for err in errors:
        texts += [str(err), repr(err), "".join(traceback.format_exception(err)), repr(vars(err))]
    for secret in secrets:
        for text in texts:
            assert secret not in text
    # the logs are not empty: method, path, status and elapsed time are there, bodies and numbers are not
    assert "GET /qontak/chat/v1/integrations/c-1 -> 429" in caplog.text
    assert "POST /qontak/chat/v1/broadcasts/whatsapp/direct -> 422" in caplog.text
    assert "6281234567890" not in caplog.text
    assert "6281234567890" not in "".join(str(e) for e in errors)
