"""Every supported Airflow minor, each in an environment of its own with only that Airflow and our wheel.

The full suite runs in ``.venv`` (the newest Airflow). Here each older minor, and the newest on the oldest
Python, gets a fresh virtual environment under ``.matrix/``: the pinned ``constraints/airflow-3.X.txt``
and the wheel built from this checkout, nothing else (no test tools). ``smoke.py`` then runs there, one
check per test (see its docstring). Oldest and newest Python are both covered.

An environment is kept between local runs while its constraints file is unchanged (the wheel is
reinstalled every run); CI starts from a fresh clone, so it always builds them. A Python missing from the
machine skips its environments, except under ``QONTAK_MATRIX_REQUIRED=1`` (set by ``.ci/run``), where it
fails.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.matrix, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
MATRIX_DIR = ROOT / ".matrix"
SMOKE = Path(__file__).with_name("smoke.py")
ALL_CHECKS = ("registration", "form", "hook", "dags")


@dataclass(frozen=True)
class Env:
    airflow: str
    python: str
    checks: tuple[str, ...] = ALL_CHECKS
    variant: str = ""

    @property
    def name(self) -> str:
        suffix = f"-{self.variant}" if self.variant else ""
        return f"airflow{self.airflow}{suffix}-py{self.python}"

    @property
    def constraints(self) -> Path:
        suffix = f"-{self.variant}" if self.variant else ""
        return ROOT / "constraints" / f"airflow-{self.airflow}{suffix}.txt"


#: The matrix. Airflow 3.0 shows a provider's connection form fields only with the FAB provider installed
#: (its form service imports flask-appbuilder's widgets), so its form is checked in an environment that
#: has it; everything else on 3.0 runs without it.
MATRIX = (
    Env("3.0", "3.10", checks=("registration", "hook", "dags")),
    Env("3.0", "3.12", checks=("form",), variant="fab"),
    Env("3.1", "3.13"),
    Env("3.2", "3.12"),
    Env("3.3", "3.10"),
)


def find_python(version: str) -> str | None:
    """An interpreter of ``version`` on this machine (PATH, then pyenv's versions), verified by running it."""
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
    candidates += [f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]
    for candidate in candidates:
        if not candidate or not os.path.exists(candidate):
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


def uv(*args: str) -> None:
    run = subprocess.run([sys.executable, "-m", "uv", *args], capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise AssertionError(f"uv {' '.join(args)} failed:\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}")


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout (the package tests check the sdist and metadata)."""
    out = tmp_path_factory.mktemp("dist")
    uv("build", "--wheel", "--out-dir", str(out), str(ROOT))
    (built,) = out.glob("*.whl")
    return built


def environment(env: Env, wheel: Path) -> Path:
    """Create (or reuse) the environment of ``env`` and install the wheel into it."""
    python = find_python(env.python)
    if python is None:
        message = f"Python {env.python} is not installed on this machine"
        if os.environ.get("QONTAK_MATRIX_REQUIRED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    target = MATRIX_DIR / env.name
    stamp = target / ".constraints-sha256"
    want = hashlib.sha256(env.constraints.read_bytes()).hexdigest()
    if not (stamp.exists() and stamp.read_text() == want and (target / "bin" / "python").exists()):
        shutil.rmtree(target, ignore_errors=True)
        uv("venv", "--quiet", "--python", python, str(target))
        # Only the constraints' own pins: Airflow (and FAB in the fab variant) and what they need.
        pins = [line.split()[0] for line in env.constraints.read_text().splitlines() if line[:1].isalnum()]
        roots = [
            pin for pin in pins if pin.startswith(("apache-airflow==", "apache-airflow-providers-fab=="))
        ]
        uv(
            "pip",
            "install",
            "--quiet",
            "--python",
            str(target / "bin" / "python"),
            "-c",
            str(env.constraints),
            *roots,
        )
        stamp.write_text(want)
    uv(
        "pip",
        "install",
        "--quiet",
        "--python",
        str(target / "bin" / "python"),
        "-c",
        str(env.constraints),
        "--reinstall-package",
        "airflow-provider-qontak",
        str(wheel),
    )
    return target


@pytest.fixture(scope="module")
def environments(wheel: Path) -> dict[str, Path]:
    """Environments are built on first use and shared by the checks of this module."""
    return {}


CASES = [pytest.param(env, check, id=f"{env.name}-{check}") for env in MATRIX for check in env.checks]


@pytest.mark.parametrize(("env", "check"), CASES)
def test_smoke(env: Env, check: str, wheel: Path, environments: dict[str, Path], tmp_path: Path) -> None:
    if env.name not in environments:
        environments[env.name] = environment(env, wheel)
    python = environments[env.name] / "bin" / "python"
    # The environment's own PATH first (airflow, qontak-sandbox), and nothing of ours on sys.path.
    child_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV"))
    }
    child_env["PATH"] = f"{python.parent}{os.pathsep}{child_env.get('PATH', '')}"
    run = subprocess.run(
        [str(python), "-I", str(SMOKE), check, "--work", str(tmp_path)],
        capture_output=True,
        text=True,
        env=child_env,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith(f"SMOKE {check} ")]
    assert run.returncode == 0 and lines and " OK " in lines[-1], (
        f"{env.name} {check}: exit {run.returncode}\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    )
    details = json.loads(lines[-1].split(" OK ", 1)[1])
    assert details["airflow"].startswith(env.airflow + "."), details
    assert details["python"].startswith(env.python + "."), details
    print(f"{env.name} {check}: {details}")
