"""An in-memory stand-in for QontakHook: the sandbox's templates, no network, every send recorded.

The fuzzers run thousands of examples; going over a socket for each would take minutes. What they check is
that nothing invalid reaches ``send_direct``, so the fake checks what a real send would put on the wire.
"""

from __future__ import annotations

import json
from itertools import count
from typing import Any

from qontak_provider.client.errors import QontakNotFoundError
from qontak_provider.client.lookup import pick_template, select_templates
from qontak_provider.client.models import Broadcast, DirectSendRequest, Template
from qontak_provider.hooks.qontak import QontakConnectionConfig
from qontak_provider.sandbox.fixtures import load_fixtures
from qontak_provider.sandbox.settings import DEFAULT_ORGANIZATION_ID

CHANNEL = "56b60c3c-0123-46af-958b-32f3ad12ee37"
_TEMPLATES = [Template.model_validate(t) for t in load_fixtures(DEFAULT_ORGANIZATION_ID).templates]


class FakeHook:
    """The part of :class:`~qontak_provider.hooks.qontak.QontakHook` the operators and the notifier use."""

    qontak_conn_id = "fuzz"
    default_region = "ID"
    default_channel_integration_id = CHANNEL
    rate_per_minute = 0.0

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.calls = 0
        self._ids = count(1)
        self.config = QontakConnectionConfig(
            client_id="fuzz", client_secret="fuzz-secret", channel_integration_id=CHANNEL, default_region="ID"
        )

    @property
    def client(self) -> FakeHook:
        return self

    def get_template(self, template_id: str) -> Template:
        self.calls += 1
        for template in _TEMPLATES:
            if template.id == template_id:
                return template
        raise QontakNotFoundError(f"Qontak has no template {template_id!r}")

    def find_template(self, name: str, language: str | None = None) -> Template:
        self.calls += 1
        return pick_template(select_templates(_TEMPLATES, name=name), name, language)

    def send_direct(self, request: Any, **_: Any) -> Broadcast:
        """Record a send; it must be a valid request whose wire body is proper UTF-8 JSON."""
        assert isinstance(request, DirectSendRequest), type(request)
        before_write = _.get("before_write")
        if before_write is not None:
            before_write()
        body = json.dumps(request.to_wire(), ensure_ascii=False).encode("utf-8")  # raises on lone surrogates
        self.sent.append(json.loads(body))
        return Broadcast(id=f"b-{next(self._ids)}", created_at="2026-01-01T00:00:00.000Z")

    def get_broadcast(self, broadcast_id: str) -> Broadcast:
        return Broadcast(id=broadcast_id)
