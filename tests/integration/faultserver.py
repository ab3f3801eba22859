"""A tiny scripted HTTP/1.1 server on 127.0.0.1 for fault-injection tests of the Qontak clients.

Each request is recorded (method, raw request target, headers, body, whether its HMAC signature verifies)
and answered by the next scripted action, or by ``default`` when the script is empty:

* :class:`Reply` - a status, JSON (or raw) body and headers, optionally delayed (to cause read timeouts);
* :class:`Reset` - read the whole request, then reset the connection (RST) without answering;
* :class:`Close` - read the whole request, then close the connection cleanly without answering.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from qontak_provider.client.aio import AsyncQontakClient
from qontak_provider.client.signing import parse_http_date, verify_signature
from qontak_provider.client.sync import QontakClient

CLIENT_ID = "fault-client"
SECRET = "canary-SECRET-9f2c1d"  # a canary, searched for in logs and errors


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Reset:
    """Reset the connection (RST) after the request was fully read."""


@dataclass
class Close:
    """Close the connection without an answer after the request was fully read."""


Action = Reply | Reset | Close


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    signature_error: str | None
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def ok(data: Any, pagination: dict[str, Any] | None = None, status: int = 200) -> Reply:
    body: dict[str, Any] = {"status": "success", "data": data}
    if pagination is not None:
        body["meta"] = {"pagination": pagination}
    return Reply(status, body)


def error(status: int, *messages: str) -> Reply:
    return Reply(status, {"status": "error", "error": {"code": status, "messages": list(messages)}})


def broadcast(broadcast_id: str = "b-1") -> dict[str, Any]:
    return {"id": broadcast_id, "name": "Test User", "message_status_count": {"pending": 1}}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY each answer waits ~40 ms for a delayed ACK.
    disable_nagle_algorithm = True
    server: FaultServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items()}
        date = headers.get("Date", "")
        try:
            now = parse_http_date(date)
        except ValueError:
            now = None
        reason = verify_signature(
            authorization=headers.get("Authorization", ""),
            date=date,
            method=self.command,
            path_with_query=self.path,
            credentials={CLIENT_ID: SECRET},
            now=now,  # the tests inject clocks; freshness is checked by the tests themselves
        )
        record = Recorded(self.command, self.path, headers, body, reason)
        action = self.server.next_action(record)
        if isinstance(action, Reset):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if isinstance(action, Close):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if action.delay:
            time.sleep(action.delay)
        payload = action.body
        raw = (
            payload
            if isinstance(payload, bytes)
            else json.dumps(payload).encode()
            if payload is not None
            else b""
        )
        try:
            self.send_response_only(action.status)
            if "Date" not in action.headers:
                self.send_header("Date", self.date_time_string())
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for key, value in action.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(raw)
        except OSError:  # the client gave up (read timeout): nothing to answer
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _handle


class FaultServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.requests: list[Recorded] = []
        self._script: collections.deque[Action] = collections.deque()
        self._lock = threading.Lock()
        self.default: Callable[[Recorded], Action] = lambda _r: ok(broadcast())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def script(self, *actions: Action) -> FaultServer:
        with self._lock:
            self._script.extend(actions)
        return self

    def next_action(self, record: Recorded) -> Action:
        with self._lock:
            self.requests.append(record)
            if self._script:
                return self._script.popleft()
        return self.default(record)

    def start(self) -> FaultServer:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    """A port nothing listens on (bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ----------------------------------------------------------------------------------- client test harness


class FakeTime:
    """Injected monotonic clock, sleep and wall clock: sleeping advances time instantly and is recorded."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep: list[Callable[[float], None]] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        for hook in self.on_sleep:
            hook(seconds)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)

    def now(self) -> datetime:
        return datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=self.t)


class SyncFacade:
    """Uniform, blocking access to a client: ``facade.get_channel("x")`` for both kinds."""

    kind = "sync"

    def __init__(self, client: QontakClient) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if name.startswith("iter_"):  # generators: collected, like the async facade does
            return lambda *a, **kw: list(attr(*a, **kw))
        return attr

    def close(self) -> None:
        self.client.close()


class AsyncFacade:
    """Runs an :class:`AsyncQontakClient` on one private event loop, so tests read the same for both kinds."""

    kind = "async"

    def __init__(self, client: AsyncQontakClient) -> None:
        self.client = client
        self.loop = asyncio.new_event_loop()

    def run(self, awaitable: Any) -> Any:
        return self.loop.run_until_complete(awaitable)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if name.startswith("iter_"):

            async def collect(*a: Any, **kw: Any) -> list[Any]:
                return [item async for item in attr(*a, **kw)]

            return lambda *a, **kw: self.run(collect(*a, **kw))
        if inspect.iscoroutinefunction(attr):
            return lambda *a, **kw: self.run(attr(*a, **kw))
        return attr

    def close(self) -> None:
        self.run(self.client.aclose())
        self.loop.close()


def open_client(kind: str, url: str, fake: FakeTime | None = None, **kwargs: Any) -> SyncFacade | AsyncFacade:
    """A sync or async client on ``url`` with the test credentials; ``fake`` injects clock and sleep."""
    if fake is not None:
        kwargs.setdefault("clock", fake.monotonic)
        kwargs.setdefault("now", fake.now)
    kwargs.setdefault("random", lambda: 1.0)  # jitter at its ceiling: backoffs are exactly 0.5, 1, 2 ...
    if kind == "sync":
        if fake is not None:
            kwargs.setdefault("sleep", fake.sleep)
        return SyncFacade(QontakClient(CLIENT_ID, SECRET, base_url=url, **kwargs))
    if fake is not None:
        kwargs.setdefault("sleep", fake.asleep)
    return AsyncFacade(AsyncQontakClient(CLIENT_ID, SECRET, base_url=url, **kwargs))
