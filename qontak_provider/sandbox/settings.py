"""Run-time settings of the sandbox.

One pydantic model serves the three front doors: the ``qontak-sandbox`` CLI flags, the keyword arguments of
:func:`~qontak_provider.sandbox.server.run_sandbox`, and ``PATCH /_sandbox/settings``. Every field can be
changed while the server runs; a change applies to the next request (lifecycle timing is fixed per broadcast
when it is created, so a running broadcast keeps the clock it started with).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_CLIENT_ID = "sandbox-client-id"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 - a published test credential, not a secret
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8789
#: Organization every seeded object belongs to; also quoted in 429 bodies.
DEFAULT_ORGANIZATION_ID = "5a9f3c1e-7b2d-4e8a-9c41-0d6b2f8e7a13"

#: Named lifecycle clocks: seconds per status step (pending -> sent -> delivered -> read).
CLOCK_PRESETS: dict[str, float] = {
    "instant": 0.0,
    "fast": 0.2,
    "demo": 3.0,
    "slow": 30.0,
}

#: ``total`` of every list in ``paging="seed"``: the grand total of the guide's template list example
#: (``limit: 10``, ``total: 53969``), far beyond anything the sandbox lists.
SEED_TOTAL = 53969

#: How ``meta.pagination`` reports ``total`` (see :attr:`SandboxSettings.paging`).
PagingMode = Literal["spec", "seed", "exact"]
#: How ``GET /broadcasts/whatsapp`` behaves (see :attr:`SandboxSettings.broadcast_list`).
BroadcastListMode = Literal["live", "stale", "absent", "forbidden"]
#: Whether ``GET /broadcasts/{id}/whatsapp`` counts live (see :attr:`SandboxSettings.broadcast_detail`).
BroadcastDetailMode = Literal["live", "stale"]
#: How ``language.code`` of a direct send is judged (see :attr:`SandboxSettings.language_check`).
LanguageCheckMode = Literal["any", "spec_enum", "template"]


class SandboxSettings(BaseModel):
    """
    Everything that can be tuned in a running sandbox.

    :param credentials: accepted HMAC credentials, client id to client secret.
    :param step_seconds: seconds each delivery step takes (pending -> sent -> delivered -> read).
        ``clock="demo"`` (or another key of :data:`CLOCK_PRESETS`) may be given instead.
    :param late_log_seconds: how long the log of the late-log magic recipient stays empty (``data: []``).
    :param rate_limit: direct sends allowed per window; ``0`` or ``None`` disables the limit.
    :param rate_limit_window_seconds: length of the sliding rate-limit window.
    :param fail_before: probability (0-1) that a direct send answers ``fault_status`` before anything is
        recorded.
    :param fail_after: probability that a direct send answers ``fault_status`` *after* the broadcast was
        recorded (the in-doubt case: the message goes out although the client saw an error).
    :param drop: probability that a direct send's connection is closed without any response
        (nothing is recorded).
    :param fault_status: HTTP status of injected faults (500, 502, 503 or 504).
    :param latency_ms: delay added before every ``/qontak`` response.
    :param seed: seed of the random generators behind faults and generated ids; runs with the same seed
        and the same requests repeat exactly.
    :param max_clock_skew_seconds: largest accepted distance between the ``Date`` header and the clock.
    :param organization_id: organization of the emulated account.

    The variants below play the answers the public sources leave open (``docs/reference/sandbox.rst``,
    "Variants of the real API"); the defaults keep the behaviour the provider's client was written against.

    :param paging: what ``meta.pagination.total`` of every list says: ``"spec"`` the number of items on
        this page (like every list example of the OpenAPI file), ``"seed"`` a fixed, inflated grand total
        (:data:`SEED_TOTAL`), ``"exact"`` the real number of matching items.
        ``cursor.next`` / ``cursor.prev`` and the 1-based ``offset`` work the same in every mode.
    :param broadcast_list: ``GET /broadcasts/whatsapp``: ``"live"`` counts; ``"stale"`` lists every broadcast
        with ``message_status_count`` all 0; ``"absent"`` answers 404 (a gateway that does not expose it);
        ``"forbidden"`` answers the gateway's 403 (a credential without that scope).
    :param broadcast_detail: ``GET /broadcasts/{id}/whatsapp``: ``"live"`` counts or ``"stale"`` zeros.
    :param not_found_status: answer to an unknown id on an id lookup: 404 ``Resource not found.`` or 422
        ``Couldn't find <model> with 'id'=<id>``.
    :param direct_send_status: HTTP status of an accepted direct send (the spec lists 200, clients see 201).
    :param language_check: ``"any"`` accepts any non-empty ``language.code`` and delivers; ``"spec_enum"``
        refuses codes outside the schema's ``id``/``en`` with a 422; ``"template"`` accepts, then fails the
        message in the log when the template does not exist (APPROVED) in that language.
    :param keep_alive_seconds: how long the server keeps an idle keep-alive connection open before closing
        it (read each time a response completes).
    :param idle_reset_seconds: when set, a connection that stayed idle longer than this has its next request
        reset (TCP RST) before anything is processed, like a NAT gateway that forgot the flow.
    :param upload_max_mb: the uploader's size limit (WhatsApp's largest, documents': 100 MB); Qontak
        documents none of its own.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    credentials: dict[str, str] = Field(default_factory=lambda: {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET})
    step_seconds: float = Field(default=CLOCK_PRESETS["fast"], ge=0)
    late_log_seconds: float = Field(default=1.0, ge=0)
    rate_limit: int | None = Field(default=60, ge=0)
    rate_limit_window_seconds: float = Field(default=60.0, gt=0)
    fail_before: float = Field(default=0.0, ge=0, le=1)
    fail_after: float = Field(default=0.0, ge=0, le=1)
    drop: float = Field(default=0.0, ge=0, le=1)
    fault_status: int = 500
    latency_ms: int = Field(default=0, ge=0)
    seed: int = 0
    max_clock_skew_seconds: int = Field(default=300, gt=0)
    organization_id: str = DEFAULT_ORGANIZATION_ID
    paging: PagingMode = "spec"
    broadcast_list: BroadcastListMode = "live"
    broadcast_detail: BroadcastDetailMode = "live"
    not_found_status: Literal[404, 422] = 404
    direct_send_status: Literal[200, 201] = 201
    language_check: LanguageCheckMode = "any"
    keep_alive_seconds: float = Field(default=5.0, gt=0)
    idle_reset_seconds: float | None = Field(default=None, gt=0)
    upload_max_mb: float = Field(default=100.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _clock_preset(cls, data: Any) -> Any:
        """Turn ``clock="demo"`` into the matching ``step_seconds``."""
        if isinstance(data, dict) and "clock" in data:
            data = dict(data)
            preset = data.pop("clock")
            if preset not in CLOCK_PRESETS:
                raise ValueError(f"clock must be one of {', '.join(CLOCK_PRESETS)}; got {preset!r}")
            data.setdefault("step_seconds", CLOCK_PRESETS[preset])
        return data

    @field_validator("credentials")
    @classmethod
    def _non_empty_credentials(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("at least one client_id -> client_secret pair is needed")
        if any(not key or not secret for key, secret in value.items()):
            raise ValueError("client ids and secrets must be non-empty strings")
        return value

    @field_validator("fault_status")
    @classmethod
    def _server_error_status(cls, value: int) -> int:
        if not 500 <= value <= 599:
            raise ValueError(f"fault_status must be a 5xx status, got {value}")
        return value

    @property
    def rate_limited(self) -> bool:
        """Whether direct sends are rate limited at all."""
        return bool(self.rate_limit)

    @property
    def client_id(self) -> str:
        """The first configured client id (the one connection helpers print)."""
        return next(iter(self.credentials))

    @property
    def client_secret(self) -> str:
        """The secret of :attr:`client_id`."""
        return self.credentials[self.client_id]

    def public_dict(self) -> dict[str, Any]:
        """The settings as JSON, with secrets masked (what ``GET /_sandbox/settings`` shows)."""
        data = self.model_dump(mode="json")
        data["credentials"] = {client_id: "********" for client_id in self.credentials}
        return data

    def updated(self, **changes: Any) -> SandboxSettings:
        """Return a validated copy with ``changes`` applied (``clock`` presets included)."""
        merged = self.model_dump()
        if "clock" in changes and "step_seconds" not in changes:
            merged.pop("step_seconds")
        merged.update(changes)
        return SandboxSettings.model_validate(merged)

    def __repr__(self) -> str:  # keep secrets out of reprs and logs
        shown = self.public_dict()
        return "SandboxSettings(" + ", ".join(f"{key}={value!r}" for key, value in shown.items()) + ")"

    __str__ = __repr__
