"""Serving the sandbox: a uvicorn server in a background thread, and the :class:`Sandbox` handle tests use."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from uvicorn.protocols.http.h11_impl import H11Protocol

from qontak_provider.client.models import API_PREFIX
from qontak_provider.defaults import DEFAULT_CONN_ID
from qontak_provider.sandbox.app import ABORT_EXTENSION, SandboxASGI, create_app
from qontak_provider.sandbox.fixtures import load_fixtures
from qontak_provider.sandbox.gateway import SANDBOX_PREFIX, endpoint_label
from qontak_provider.sandbox.runtime import SandboxRuntime, log
from qontak_provider.sandbox.settings import DEFAULT_HOST, SandboxSettings
from qontak_provider.sandbox.state import SandboxState

#: The channel integration of the seed payloads; connection helpers put it in the connection's extras.
DEFAULT_CHANNEL_INTEGRATION_ID = "56b60c3c-0123-46af-958b-32f3ad12ee37"


class AbortableH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus the connection-level behaviour of the emulated network.

    * An ASGI extension that aborts the connection without a response (the ``drop`` fault). Returning from
      an ASGI app without a response makes uvicorn send a 500; a real dropped connection needs the
      transport, which plain ASGI does not expose.
    * ``keep_alive_seconds``: uvicorn reads ``timeout_keep_alive`` from its config once; here it is read from
      the runtime's settings each time a response completes, so a change applies to the running server.
    * ``idle_reset_seconds``: a request that arrives on a connection idle for longer is reset (RST) before
      the app sees it, like a NAT gateway or load balancer that silently forgot the flow. ``/_sandbox``
      requests are exempt: they are the test's control channel, not traffic to the emulated API.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner = self.app
        # config.app is the object given to uvicorn.Config: the SandboxASGI carrying the runtime.
        self._runtime: SandboxRuntime | None = getattr(self.config.app, "runtime", None)
        #: Monotonic time since which the connection carries no request (None while one is in flight).
        self._idle_since: float | None = None

        async def app_with_abort(scope: Any, receive: Any, send: Any) -> None:
            scope.setdefault("extensions", {})[ABORT_EXTENSION] = self._abort
            await inner(scope, receive, send)

        self.app = app_with_abort

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._idle_since = time.monotonic()

    def data_received(self, data: bytes) -> None:
        if self._idle_since is not None and self._forgotten(time.monotonic() - self._idle_since):
            method, path = _request_line(data)
            if not path.startswith(SANDBOX_PREFIX):
                self._reset_request(method, path)
                return
        self._idle_since = None
        super().data_received(data)

    def on_response_complete(self) -> None:
        if self._runtime is not None:
            # uvicorn annotates it int, but only hands it to loop.call_later, which takes seconds as float.
            self.timeout_keep_alive = self._runtime.settings.keep_alive_seconds  # type: ignore[assignment]
        super().on_response_complete()
        if self.cycle is None or self.cycle.response_complete:
            self._idle_since = time.monotonic()

    def _forgotten(self, idle: float) -> bool:
        limit = self._runtime.settings.idle_reset_seconds if self._runtime is not None else None
        return limit is not None and idle > limit

    def _reset_request(self, method: str, path: str) -> None:
        """Answer a request on a forgotten flow with a TCP reset, unprocessed; count it as ``reset``."""
        if self._runtime is not None:
            state = self._runtime.state
            with state.lock:
                state.stats.record(endpoint_label(method, path), "reset")
        log.warning("Idle connection forgotten: resetting %s %s without processing it", method, path)
        self._abort(reset=True)

    def _abort(self, *, reset: bool = False) -> None:
        if self.transport is None:
            return
        if reset:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                # Linger 0: close() sends RST instead of FIN, so the client sees ECONNRESET.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()


def _request_line(data: bytes) -> tuple[str, str]:
    """Method and path (without query) of the request whose first bytes are ``data``."""
    method, _, rest = data.partition(b" ")
    path = rest.split(b" ", 1)[0].split(b"?", 1)[0]
    return method.decode("latin-1"), path.decode("latin-1")


def bind_socket(host: str = DEFAULT_HOST, port: int = 0) -> socket.socket:
    """Bind a listening TCP socket (port 0: a free port) before the server starts, so the port is known."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # Listening at once: clients that connect before uvicorn's loop runs wait in the backlog.
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: SandboxASGI, *, log_level: str = "warning", access_log: bool = False) -> Any:
    """The uvicorn configuration shared by :func:`run_sandbox` and the CLI."""
    import uvicorn

    return uvicorn.Config(
        app,
        http=AbortableH11Protocol,
        lifespan="off",
        log_level=log_level,
        access_log=access_log,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=2,
    )


def connection_dict(
    url: str,
    client_id: str,
    client_secret: str,
    *,
    channel_integration_id: str | None = DEFAULT_CHANNEL_INTEGRATION_ID,
    **extra: Any,
) -> dict[str, Any]:
    """An Airflow connection (JSON form) pointing at a sandbox."""
    extras: dict[str, Any] = {}
    if channel_integration_id:
        extras["channel_integration_id"] = channel_integration_id
    extras.update(extra)
    return {
        "conn_type": "qontak",
        "host": url,
        "login": client_id,
        "password": client_secret,
        "extra": extras,
    }


@dataclass
class Sandbox:
    """
    A running sandbox, as yielded by :func:`run_sandbox` and the ``qontak_sandbox`` pytest fixture.

    The helpers act in-process (no HTTP round trip); the same data is served over HTTP under ``/_sandbox``.

    :param url: base URL, e.g. ``http://127.0.0.1:54321`` (what goes into the connection's host).
    :param runtime: the served settings and state.
    """

    url: str
    runtime: SandboxRuntime

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1].rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def api_url(self) -> str:
        """Base URL plus the API prefix, e.g. ``http://127.0.0.1:54321/qontak/chat/v1``."""
        return self.url + API_PREFIX

    @property
    def settings(self) -> SandboxSettings:
        return self.runtime.settings

    @property
    def state(self) -> SandboxState:
        return self.runtime.state

    @property
    def client_id(self) -> str:
        return self.settings.client_id

    @property
    def client_secret(self) -> str:
        return self.settings.client_secret

    @property
    def channel_integration_id(self) -> str:
        return DEFAULT_CHANNEL_INTEGRATION_ID

    def __repr__(self) -> str:  # no secret in reprs
        return f"Sandbox(url={self.url!r}, client_id={self.client_id!r})"

    # -------------------------------------------------------------------------------------- connections

    def conn_dict(self, extra: dict[str, Any] | None = None, **more_extra: Any) -> dict[str, Any]:
        """The Airflow connection as a dict.

        :param extra: connection extras to add, e.g. ``{"timeout": 5}`` (keyword arguments work too);
            ``channel_integration_id=None`` leaves the default channel out.
        """
        return connection_dict(
            self.url, self.client_id, self.client_secret, **{**(extra or {}), **more_extra}
        )

    def conn_json(self, extra: dict[str, Any] | None = None, **more_extra: Any) -> str:
        """The JSON value for ``AIRFLOW_CONN_<ID>``."""
        return json.dumps(self.conn_dict(extra, **more_extra))

    def conn_uri(self, extra: dict[str, Any] | None = None, **more_extra: Any) -> str:
        """The URI form, ``qontak://http://<id>:<secret>@127.0.0.1:<port>/?channel_integration_id=...``.

        Airflow parses it into host ``http://127.0.0.1`` and a separate port.
        """
        extras = self.conn_dict(extra, **more_extra)["extra"]
        query = (
            ("?" + urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in extras.items()}))
            if extras
            else ""
        )
        scheme, rest = self.url.split("://", 1)
        login = quote(self.client_id, safe="")
        password = quote(self.client_secret, safe="")
        return f"qontak://{scheme}://{login}:{password}@{rest}/{query}"

    def airflow_env(
        self, conn_id: str = DEFAULT_CONN_ID, extra: dict[str, Any] | None = None, **more_extra: Any
    ) -> dict[str, str]:
        """``{"AIRFLOW_CONN_QONTAK_DEFAULT": <json>}`` for ``os.environ.update`` or ``monkeypatch``."""
        return {f"AIRFLOW_CONN_{conn_id.upper()}": self.conn_json(extra, **more_extra)}

    # ------------------------------------------------------------------------------------------ helpers

    def sends(self) -> list[dict[str, Any]]:
        """Every accepted direct send, oldest first: broadcast id, number, template, body, outcome."""
        with self.state.lock:
            return [dict(send) for send in self.state.sends]

    def uploads(self) -> list[dict[str, Any]]:
        """
        Files the uploader took, oldest first: ``id``, ``filename``, ``content_type``, ``size``,
        ``sha256``, ``url`` and the bytes as ``data``.
        """
        with self.state.lock:
            return [dict(upload) for upload in self.state.uploads.values()]

    def counts(self) -> dict[str, int]:
        """Accepted direct sends per recipient number."""
        return self.state.send_counts()

    def stats(self) -> dict[str, Any]:
        """API requests seen (accepted or not) per endpoint and per status."""
        with self.state.lock:
            return self.state.stats.as_dict()

    def reset(self, *, settings: bool = False, fixtures: bool = False) -> None:
        """Forget broadcasts, sends and counters; ``settings=True`` / ``fixtures=True`` also restore the
        start-up settings / channels and templates."""
        self.runtime.reset(settings=settings, fixtures=fixtures)

    def update_settings(self, **changes: Any) -> SandboxSettings:
        """Change settings at run time, e.g. ``update_settings(rate_limit=2, fail_after=1.0)``."""
        return self.runtime.update_settings(**changes)

    def advance(self, seconds: float) -> None:
        """Move the sandbox clock forward: lifecycles progress and the rate window slides without sleeping."""
        self.state.advance(seconds)

    def load_fixtures(self, document: dict[str, Any]) -> None:
        """Extend or replace channels/templates with a fixture document (same format as fixture files)."""
        self.runtime.load_fixture_document(document)


@contextmanager
def run_sandbox(
    settings: SandboxSettings | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = 0,
    fixtures: str | Path | None = None,
    log_level: str = "warning",
    startup_timeout: float = 10.0,
    **overrides: Any,
) -> Iterator[Sandbox]:
    """
    Serve a sandbox in a background thread for the duration of a ``with`` block.

    :param settings: initial settings; keyword ``overrides`` (any :class:`SandboxSettings` field, or
        ``clock="demo"``) are applied on top.
    :param host: interface to listen on.
    :param port: TCP port; 0 picks a free one.
    :param fixtures: a JSON/YAML fixture file extending or replacing the seed.
    :param log_level: uvicorn's log level.
    :param startup_timeout: seconds to wait for the server to accept connections.
    """
    import uvicorn

    base = settings or SandboxSettings()
    final_settings = base.updated(**overrides) if overrides else base
    runtime = SandboxRuntime(final_settings, load_fixtures(final_settings.organization_id, fixtures))
    app = create_app(runtime=runtime)
    sock = bind_socket(host, port)
    server = uvicorn.Server(uvicorn_config(app, log_level=log_level))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="qontak-sandbox", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Qontak sandbox did not start (see the uvicorn log above)")
            time.sleep(0.01)
        bound_host, bound_port = sock.getsockname()[:2]
        shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield Sandbox(url=f"http://{shown_host}:{bound_port}", runtime=runtime)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
