"""The README demo: start the sandbox, run the quick-start DAG with ``airflow dags test``, stop.

Run it through ``./scripts/demo``, which prepares ``.venv`` first. Everything is local: the sandbox
listens on 127.0.0.1 and Airflow uses a sqlite database in ``.airflow-home/``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DAG_ID = "example_qontak_quickstart"
#: Seconds per delivery step (pending -> sent -> delivered -> read): slow enough to watch, quick to finish.
STEP_SECONDS = "1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_healthy(url: str, sandbox: subprocess.Popen[str], deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if sandbox.poll() is not None:
            raise SystemExit(f"demo: the sandbox exited early with status {sandbox.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_sandbox/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("demo: the sandbox did not become healthy within 30 s")


def main() -> int:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    print(f"demo: starting the Qontak sandbox on {url} ({STEP_SECONDS} s per delivery step)")
    sandbox = subprocess.Popen(
        [
            str(BIN / "qontak-sandbox"),
            "--port",
            str(port),
            "--step-seconds",
            STEP_SECONDS,
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_until_healthy(url, sandbox)
        home = ROOT / ".airflow-home"
        home.mkdir(exist_ok=True)
        env = dict(os.environ)
        env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags_examples"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
                "AIRFLOW_CONN_QONTAK_DEFAULT": json.dumps(
                    {
                        "conn_type": "qontak",
                        "host": url,
                        "login": "sandbox-client-id",
                        "password": "sandbox-client-secret",
                        "extra": {"channel_integration_id": "56b60c3c-0123-46af-958b-32f3ad12ee37"},
                    }
                ),
            }
        )
        print("demo: preparing Airflow's sqlite database in .airflow-home/")
        subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
        print(f"demo: running `airflow dags test {DAG_ID}` (full output in .airflow-home/demo.log)")
        started = time.monotonic()
        run = subprocess.run(
            [str(BIN / "airflow"), "dags", "test", DAG_ID],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        output = run.stdout + run.stderr
        (home / "demo.log").write_text(output)
        for line in output.splitlines():
            if re.search(r"QONTAK DEMO|final status", line):
                print("  " + line.strip())
        with urllib.request.urlopen(f"{url}/_sandbox/sends/counts", timeout=5) as response:
            counts = json.load(response)["counts"]
        print(f"demo: the sandbox received {sum(counts.values())} send(s) for {len(counts)} recipient(s)")
        if run.returncode != 0:
            print(output[-6000:])
            print(f"demo: FAILED (airflow dags test exited {run.returncode})")
            return run.returncode
        print(f"demo: OK in {time.monotonic() - started:.1f} s")
        return 0
    finally:
        sandbox.terminate()
        try:
            sandbox.wait(timeout=10)
        except subprocess.TimeoutExpired:
            sandbox.kill()
        print("demo: sandbox stopped")


if __name__ == "__main__":
    sys.exit(main())
