"""Throughput of ``QontakSendDirectOperator.expand()`` against ``QontakBulkSendOperator``, both under Airflow.

Both DAGs send the same N recipients (default 50) to the sandbox (rate limit lifted, 25 ms latency added)
with ``airflow dags test`` on sqlite; the wall time of each run includes what Airflow itself costs per
mapped task instance, which is the point of the comparison. Printed side by side, with the ratio.

    .venv/bin/python bench/bench_bulk_vs_expand.py [N]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qontak_provider.sandbox import run_sandbox

HERE = Path(__file__).resolve().parent
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    with tempfile.TemporaryDirectory() as home, run_sandbox(rate_limit=0, latency_ms=25) as sandbox:
        env = dict(os.environ)
        env.update(sandbox.airflow_env())
        env.update(
            {
                "AIRFLOW_HOME": home,
                "AIRFLOW__CORE__DAGS_FOLDER": str(HERE / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
                "QONTAK_BENCH_N": str(n),
            }
        )
        # The connection's pacing is lifted too: this measures the fan-out mechanism, not the rate limit.
        env["AIRFLOW_CONN_QONTAK_DEFAULT"] = sandbox.conn_json(extra={"rate_per_minute": 60000})
        subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
        rates = {}
        for dag_id in ("bench_qontak_expand", "bench_qontak_bulk"):
            sandbox.reset()
            started = time.perf_counter()
            run = subprocess.run(
                [AIRFLOW, "dags", "test", dag_id], env=env, capture_output=True, text=True, check=False
            )
            elapsed = time.perf_counter() - started
            counts = sandbox.counts()
            if run.returncode != 0 or len(counts) != n or set(counts.values()) != {1}:
                print(run.stdout[-3000:], run.stderr[-3000:])
                print(f"{dag_id}: FAILED (exit {run.returncode}, {len(counts)} recipients reached)")
                return 1
            rates[dag_id] = n / elapsed
            rate = rates[dag_id]
            print(f"{dag_id:22s} N={n:5d}  {elapsed:7.1f} s  {rate:7.2f} messages/s  (each sent once)")
        ratio = rates["bench_qontak_bulk"] / rates["bench_qontak_expand"]
        print(f"bulk / expand throughput ratio: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
