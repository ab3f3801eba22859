"""Run real Airflow: ``airflow dags test`` in a subprocess, on sqlite, against the sandbox.

The metadata database is migrated once per test session into a temporary ``AIRFLOW_HOME``; each
``run_dag`` call then runs one DAG run end to end, in a separate process, talking to the sandbox that the
``qontak_sandbox`` fixture serves in this process over a real loopback socket.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "dags_examples"
TEST_DAGS = Path(__file__).resolve().parent / "dags"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))

RunDag = Callable[..., subprocess.CompletedProcess[str]]


def airflow_env(home: Path, dags_folder: Path = EXAMPLE_DAGS) -> dict[str, str]:
    """The environment of an isolated Airflow on sqlite."""
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A migrated sqlite Airflow home shared by the whole session."""
    home = tmp_path_factory.mktemp("airflow_home")
    result = subprocess.run(
        [AIRFLOW, "db", "migrate"],
        env=airflow_env(home),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"airflow db migrate failed:\n{result.stdout}\n{result.stderr}"
    yield home


@pytest.fixture
def run_dag(airflow_home: Path) -> RunDag:
    """
    Return ``run_dag(dag_id, *, conf=None, env=None, timeout=300, dags_folder=None)``.

    It runs ``airflow dags test <dag_id>`` and returns the completed process (``returncode``, ``stdout``,
    ``stderr``). The current ``os.environ`` is passed on, so a ``qontak_sandbox`` fixture requested by the
    test provides ``AIRFLOW_CONN_QONTAK_DEFAULT``. ``dags_folder`` defaults to ``dags_examples``; test-only
    DAGs live in ``tests/airflow/dags`` (``TEST_DAGS``).
    """

    def run(
        dag_id: str,
        *,
        conf: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 300,
        dags_folder: Path | str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        import json

        full_env = airflow_env(airflow_home, Path(dags_folder) if dags_folder else EXAMPLE_DAGS)
        full_env.update(env or {})
        command = [AIRFLOW, "dags", "test", dag_id]
        if conf:
            command += ["--conf", json.dumps(conf)]
        return subprocess.run(
            command, env=full_env, capture_output=True, text=True, timeout=timeout, check=False
        )

    return run


def output_of(result: subprocess.CompletedProcess[str]) -> str:
    """Stdout and stderr of a run, for assertion messages."""
    return f"--- stdout ---\n{result.stdout[-20000:]}\n--- stderr ---\n{result.stderr[-20000:]}"


def assert_dag_ok(result: subprocess.CompletedProcess[str]) -> None:
    """Fail with the run's output unless ``airflow dags test`` succeeded."""
    assert result.returncode == 0, output_of(result)
