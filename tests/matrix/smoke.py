"""The smoke checks of one Airflow version, run by that environment's Python (stdlib, Airflow, our wheel).

``tests/matrix/test_airflow_versions.py`` builds an environment per supported Airflow minor (that Airflow
from ``constraints/airflow-3.X.txt`` and the provider's wheel, nothing else) and runs::

    <env>/bin/python tests/matrix/smoke.py <check> [--work DIR]

Each check prints one ``SMOKE <check> OK <json>`` line and exits 0, or prints what went wrong and exits 1:

* ``registration``: Airflow's provider manager lists the provider, its hook and the ``qontak`` connection
  type, and the provider metadata validates against this Airflow's ``provider_info.schema.json``;
* ``form``: the connection form this Airflow's UI renders (``HookMetaService``) has our labels;
* ``hook``: the hook, from a connection in an environment variable, against an in-process sandbox: every
  template across pages, a send, and the async connection access a trigger uses;
* ``dags``: ``airflow dags test`` against a sandbox process of the quick-start example (send, then the
  deferrable sensor), the retry-safety DAG (a send whose first try fails after Qontak accepted it: the retry
  must send nothing), the bulk-retry DAG (a bulk send whose first try fails after every row was sent: the
  retry must find every row in the journal) and the sensor-modes DAG (poke and reschedule mode, the
  notifier as a callback); the sandbox must have received exactly the messages each DAG sends.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CHANNEL = "56b60c3c-0123-46af-958b-32f3ad12ee37"
LABELS = {
    "host": "Base URL",
    "login": "Client ID",
    "password": "Client Secret",
}
EXTRA_LABELS = {
    "channel_integration_id": "Default channel integration ID",
    "timeout": "Request timeout (seconds)",
    "deadline": "Deadline per request (seconds)",
    "rate_per_minute": "Direct-send rate per minute",
    "default_region": "Default phone region",
}


class SmokeError(Exception):
    pass


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeError(message)


def connection_json(url: str) -> str:
    return json.dumps(
        {
            "conn_type": "qontak",
            "host": url,
            "login": "sandbox-client-id",
            "password": "sandbox-client-secret",
            "extra": {"channel_integration_id": CHANNEL},
        }
    )


# ------------------------------------------------------------------------------------------------- checks


def check_registration() -> dict[str, Any]:
    import airflow
    import jsonschema
    from airflow.providers_manager import ProvidersManager

    from qontak_provider import __version__
    from qontak_provider.get_provider_info import get_provider_info

    manager = ProvidersManager()
    provider = manager.providers.get("airflow-provider-qontak")
    expect(provider is not None, f"provider not registered; providers: {sorted(manager.providers)[:20]}")
    expect(provider.version == __version__, f"registered version {provider.version}, wheel {__version__}")
    hook = manager.hooks.get("qontak")
    expect(hook is not None, "connection type 'qontak' not registered")
    expect(hook.hook_class_name == "qontak_provider.hooks.qontak.QontakHook", str(hook))
    schema_path = Path(airflow.__file__).parent / "provider_info.schema.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.validate(get_provider_info(), schema)
    return {"version": provider.version, "schema": schema_path.name, "hook": hook.hook_name}


def check_form() -> dict[str, Any]:
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    metas = {meta.connection_type: meta for meta in HookMetaService.hook_meta_data()}
    expect("qontak" in metas, "HookMetaService does not know 'qontak'")
    data = metas["qontak"].model_dump(mode="json")
    standard = data.get("standard_fields") or {}
    extra = data.get("extra_fields") or {}
    expect(bool(standard) and bool(extra), f"no form fields: standard={standard} extra={extra}")
    for name, label in LABELS.items():
        expect((standard.get(name) or {}).get("title") == label, f"{name}: {standard.get(name)}")
    for name in ("port", "url_schema"):
        expect(
            (standard.get(name) or {}).get("hidden") is True, f"{name} should be hidden: {standard.get(name)}"
        )
    titles = {name: (field.get("schema") or {}).get("title") for name, field in extra.items()}
    expect(titles == EXTRA_LABELS, f"extra field labels: {titles}")
    return {"standard": sorted(LABELS), "extra": sorted(titles)}


def check_hook() -> dict[str, Any]:
    from qontak_provider.hooks.qontak import QontakHook
    from qontak_provider.sandbox import run_sandbox

    with run_sandbox(clock="instant") as sandbox:
        os.environ["AIRFLOW_CONN_QONTAK_DEFAULT"] = connection_json(sandbox.url)
        hook = QontakHook()
        templates = hook.list_templates(status=None)
        expect(len(templates) == 130, f"{len(templates)} templates listed, the sandbox has 130")
        page_two = hook.find_template("page_two_notice")
        broadcast = hook.send_direct(
            {
                "to_number": "6281234567890",
                "to_name": "Budi Santoso",
                "message_template_id": page_two.id,
                "channel_integration_id": CHANNEL,
                "language": {"code": "id"},
                "parameters": {"body": [{"key": "1", "value_text": "Budi", "value": "name"}]},
            }
        )
        config = asyncio.run(hook.aget_config())
        expect(config.channel_integration_id == CHANNEL, f"async config: {config}")

        async def read_back() -> str:
            client = await hook.get_async_client()
            async with client:
                return (await client.get_broadcast(broadcast.id)).id

        expect(asyncio.run(read_back()) == broadcast.id, "the async client did not read the broadcast back")
        sends = sandbox.sends()
        expect(len(sends) == 1, f"{len(sends)} sends recorded")
    return {"templates": len(templates), "broadcast": broadcast.id}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sandbox_counts(url: str) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/_sandbox/sends/counts", timeout=5) as response:
        return dict(json.load(response)["counts"])


def reset_sandbox(url: str) -> None:
    request = urllib.request.Request(f"{url}/_sandbox/reset", method="POST")
    with urllib.request.urlopen(request, timeout=5):
        pass


def check_dags(work: Path) -> dict[str, Any]:
    bin_dir = Path(sys.executable).parent
    dags = work / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dags_examples" / "example_qontak_quickstart.py", dags)
    for name in ("smoke_retry_safety.py", "smoke_bulk_retry.py", "smoke_sensor_modes.py"):
        shutil.copy(HERE / "dags" / name, dags)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    sandbox = subprocess.Popen(
        [
            str(bin_dir / "qontak-sandbox"),
            "--port",
            str(port),
            "--step-seconds",
            "0.2",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    results: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                sandbox_counts(url)
                break
            except OSError:
                expect(time.monotonic() < deadline and sandbox.poll() is None, "the sandbox did not start")
                time.sleep(0.2)
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(work / "home"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_QONTAK_DEFAULT": connection_json(url),
        }
        migrate = subprocess.run(
            [str(bin_dir / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True, check=False
        )
        expect(migrate.returncode == 0, f"airflow db migrate failed:\n{migrate.stderr[-3000:]}")
        one = {"6281234567890": 1}
        for dag_id, marker, sends in (
            ("example_qontak_quickstart", "final status: read", one),
            ("smoke_retry_safety", "SMOKE retry-safety: try 2 reused broadcast", one),
            (
                "smoke_bulk_retry",
                "SMOKE bulk-retry: try 2 skipped 5 rows",
                {f"62812000000{i:02d}": 1 for i in range(5)},
            ),
            ("smoke_sensor_modes", "Qontak notification sent to 62812*****432", {**one, "6281298765432": 1}),
        ):
            reset_sandbox(url)
            started = time.monotonic()
            run = subprocess.run(
                [str(bin_dir / "airflow"), "dags", "test", dag_id],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            output = run.stdout + run.stderr
            (work / f"{dag_id}.log").write_text(output)
            expect(
                run.returncode == 0, f"airflow dags test {dag_id} exited {run.returncode}:\n{output[-4000:]}"
            )
            expect(
                marker in output, f"{dag_id}: {marker!r} not in the output (log: {work / f'{dag_id}.log'})"
            )
            counts = sandbox_counts(url)
            expect(counts == sends, f"{dag_id}: the sandbox received {counts}, expected {sends}")
            results[dag_id] = round(time.monotonic() - started, 1)
    finally:
        sandbox.terminate()
        try:
            sandbox.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sandbox.kill()
    return {"seconds": results}


CHECKS = {"registration": check_registration, "form": check_form, "hook": check_hook, "dags": check_dags}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("check", choices=sorted(CHECKS))
    parser.add_argument("--work", type=Path, help="scratch directory (default: a temporary one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="qontak-smoke-"))
    os.environ.setdefault("AIRFLOW_HOME", str(work / "home"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    check = CHECKS[args.check]
    try:
        details = check(work) if args.check == "dags" else check()  # type: ignore[operator]
    except SmokeError as err:
        print(f"SMOKE {args.check} FAILED: {err}")
        return 1
    import airflow

    details["airflow"] = airflow.__version__
    details["python"] = sys.version.split()[0]
    print(f"SMOKE {args.check} OK {json.dumps(details)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
