"""``qontak-sandbox``: serve the offline Qontak Chat API until Ctrl-C or SIGTERM.

Example::

    qontak-sandbox --port 8789 --clock demo
    export AIRFLOW_CONN_QONTAK_DEFAULT='...'   # printed at start-up
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any, get_args

from qontak_provider.sandbox import magic
from qontak_provider.sandbox.settings import (
    CLOCK_PRESETS,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_HOST,
    DEFAULT_PORT,
    SEED_TOTAL,
    SandboxSettings,
)

#: Flags naming a setting, in the order the parser defines them; unset ones keep the setting's default.
_SETTING_FLAGS = (
    "step_seconds",
    "clock",
    "late_log_seconds",
    "rate_limit",
    "rate_limit_window_seconds",
    "fail_before",
    "fail_after",
    "drop",
    "fault_status",
    "latency_ms",
    "seed",
    "max_clock_skew_seconds",
    "organization_id",
    "paging",
    "broadcast_list",
    "broadcast_detail",
    "not_found_status",
    "direct_send_status",
    "language_check",
    "keep_alive_seconds",
    "idle_reset_seconds",
    "upload_max_mb",
)


def _choices(field: str) -> list[Any]:
    """The values a ``Literal`` setting accepts, read from the model so flags and settings cannot drift."""
    annotation = SandboxSettings.model_fields[field].annotation
    return list(get_args(annotation))


def _add_variant_flags(parser: argparse.ArgumentParser) -> None:
    variants = parser.add_argument_group(
        "variants of the real API",
        "answers to questions the public sources leave open (docs/reference/sandbox.rst)",
    )
    variants.add_argument(
        "--paging",
        choices=_choices("paging"),
        help=f"meta.pagination.total: spec = items on the page, seed = a fixed {SEED_TOTAL}, "
        "exact = all matches (default spec)",
    )
    variants.add_argument(
        "--broadcast-list",
        choices=_choices("broadcast_list"),
        help="GET /broadcasts/whatsapp: live, stale (counters all 0), absent (404), forbidden (403) "
        "(default live)",
    )
    variants.add_argument(
        "--broadcast-detail",
        choices=_choices("broadcast_detail"),
        help="GET /broadcasts/{id}/whatsapp: live or stale counters (default live)",
    )
    variants.add_argument(
        "--not-found-status",
        type=int,
        choices=_choices("not_found_status"),
        help="status of an unknown id on id lookups: 404 'Resource not found.' or 422 "
        "\"Couldn't find ... with 'id'=...\" (default 404)",
    )
    variants.add_argument(
        "--direct-send-status",
        type=int,
        choices=_choices("direct_send_status"),
        help="status of an accepted direct send (default 201)",
    )
    variants.add_argument(
        "--language-check",
        choices=_choices("language_check"),
        help="language.code of a direct send: any (accepted, delivered), spec_enum (only id/en, else 422), "
        "template (fails in the log unless the template exists in that language) (default any)",
    )
    variants.add_argument(
        "--keep-alive-seconds",
        type=float,
        metavar="SECONDS",
        help="the server closes keep-alive connections idle this long (default 5)",
    )
    variants.add_argument(
        "--idle-reset-seconds",
        type=float,
        metavar="SECONDS",
        help="reset (RST) the next request on a connection idle longer than this, like a NAT that forgot "
        "the flow (default off)",
    )
    variants.add_argument(
        "--upload-max-mb",
        type=float,
        help="largest file POST /file_uploader takes, in MB (default 100, WhatsApp's limit for documents)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the docs to list the flags)."""
    magic_lines = "\n".join(f"  {number}  {text}" for number, text in magic.MAGIC_RECIPIENTS.items())
    parser = argparse.ArgumentParser(
        prog="qontak-sandbox",
        description="Offline Qontak Chat (WhatsApp) API with Mekari HMAC checks, for tests and demos.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Magic recipients:\n{magic_lines}\n\n"
        "Test endpoints live under /_sandbox (docs/reference/sandbox.rst).",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="interface to listen on (default %(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="TCP port, 0 = any free (default %(default)s)"
    )
    parser.add_argument(
        "--client-id", default=DEFAULT_CLIENT_ID, help="accepted client id (default %(default)s)"
    )
    parser.add_argument(
        "--client-secret", default=DEFAULT_CLIENT_SECRET, help="its secret (default %(default)s)"
    )
    clock = parser.add_mutually_exclusive_group()
    clock.add_argument("--step-seconds", type=float, help="seconds per delivery step (default 0.2)")
    clock.add_argument(
        "--clock",
        choices=sorted(CLOCK_PRESETS),
        help="named step length: "
        + ", ".join(f"{name}={seconds:g}s" for name, seconds in CLOCK_PRESETS.items()),
    )
    parser.add_argument(
        "--late-log-seconds", type=float, help="how long the late-log number's log stays empty"
    )
    parser.add_argument(
        "--rate-limit", type=int, metavar="N", help="direct sends per window, 0 = unlimited (default 60)"
    )
    parser.add_argument(
        "--rate-limit-window",
        type=float,
        dest="rate_limit_window_seconds",
        metavar="SECONDS",
        help="length of the sliding rate-limit window (default 60)",
    )
    parser.add_argument("--fail-before", type=float, help="probability of a 5xx before a send is processed")
    parser.add_argument("--fail-after", type=float, help="probability of a 5xx after a send was recorded")
    parser.add_argument(
        "--drop", type=float, help="probability of closing a send's connection without answer"
    )
    parser.add_argument("--fault-status", type=int, help="HTTP status of injected faults (default 500)")
    parser.add_argument("--latency-ms", type=int, help="delay added to every API response")
    parser.add_argument("--seed", type=int, help="seed of faults and generated ids (default 0)")
    parser.add_argument(
        "--max-clock-skew",
        type=int,
        dest="max_clock_skew_seconds",
        help="accepted Date skew in s (default 300)",
    )
    parser.add_argument("--organization-id", help="organization id of the emulated account")
    _add_variant_flags(parser)
    parser.add_argument("--fixtures", help="JSON/YAML file with channels and templates (extends the seed)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser


def settings_from_args(args: argparse.Namespace) -> SandboxSettings:
    """Turn parsed flags into :class:`SandboxSettings` (unset flags keep the defaults)."""
    values: dict[str, Any] = {"credentials": {args.client_id: args.client_secret}}
    for flag in _SETTING_FLAGS:
        value = getattr(args, flag)
        if value is not None:
            values[flag] = value
    return SandboxSettings.model_validate(values)


def banner(url: str, settings: SandboxSettings) -> str:
    """What the CLI prints at start-up: where it listens and the connection to use."""
    from qontak_provider.sandbox.server import connection_dict

    conn = json.dumps(connection_dict(url, settings.client_id, settings.client_secret))
    limit = (
        f"{settings.rate_limit}/{settings.rate_limit_window_seconds:g}s" if settings.rate_limited else "off"
    )
    idle_reset = f"{settings.idle_reset_seconds:g}s" if settings.idle_reset_seconds is not None else "off"
    return "\n".join(
        [
            f"Qontak sandbox listening on {url}  (API under {url}/qontak/chat/v1)",
            f"  client id: {settings.client_id}   step: {settings.step_seconds:g}s   rate limit: {limit}",
            f"  faults: fail_before={settings.fail_before:g} fail_after={settings.fail_after:g} "
            f"drop={settings.drop:g} latency={settings.latency_ms}ms seed={settings.seed}",
            f"  variants: paging={settings.paging} broadcast_list={settings.broadcast_list} "
            f"broadcast_detail={settings.broadcast_detail} not_found={settings.not_found_status} "
            f"direct_send={settings.direct_send_status} language_check={settings.language_check}",
            f"  connections: keep_alive={settings.keep_alive_seconds:g}s idle_reset={idle_reset}",
            f"  observability: {url}/_sandbox/sends  {url}/_sandbox/stats  {url}/_sandbox/settings",
            "Airflow connection:",
            f"export AIRFLOW_CONN_QONTAK_DEFAULT='{conn}'",
        ]
    )


def _err(text: str) -> None:
    sys.stderr.write(f"qontak-sandbox: {text}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``qontak-sandbox``."""
    import uvicorn
    from pydantic import ValidationError

    from qontak_provider.sandbox.app import create_app
    from qontak_provider.sandbox.fixtures import FixtureError, load_fixtures
    from qontak_provider.sandbox.runtime import SandboxRuntime
    from qontak_provider.sandbox.server import bind_socket, uvicorn_config

    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    try:
        settings = settings_from_args(args)
        fixtures = load_fixtures(settings.organization_id, args.fixtures)
    except ValidationError as err:
        _err(f"invalid settings:\n{err}")
        return 2
    except FixtureError as err:
        _err(str(err))
        return 2
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as err:
        _err(f"cannot listen on {args.host}:{args.port}: {err.strerror}")
        return 1
    runtime = SandboxRuntime(settings, fixtures)
    host, port = sock.getsockname()[:2]
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    sys.stdout.write(banner(url, settings) + "\n")
    sys.stdout.flush()  # a parent process reads the connection before the server logs anything
    server = uvicorn.Server(
        uvicorn_config(create_app(runtime=runtime), log_level=args.log_level, access_log=True)
    )
    try:
        server.run(sockets=[sock])  # uvicorn handles SIGINT/SIGTERM and shuts down gracefully
    finally:
        sock.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
