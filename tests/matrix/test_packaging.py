"""The release artefacts: an sdist and a wheel that build from this checkout and pass ``twine check``.

``test_airflow_versions.py`` installs the same wheel into a plain environment of every Airflow minor and
runs it there; this module checks what is in the files.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from qontak_provider import __version__

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "uv", "build", "--out-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return out


def test_twine_check_passes(dist: Path) -> None:
    files = sorted(str(path) for path in dist.iterdir() if path.suffix in (".whl", ".gz"))
    assert len(files) == 2, files
    run = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("PASSED") == 2, run.stdout


def test_wheel_holds_the_package_its_license_and_its_entry_points(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    assert wheel.name == f"airflow_provider_qontak-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"airflow_provider_qontak-{__version__}.dist-info"
        metadata = Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert "qontak_provider/py.typed" in names
    # The sandbox's seed data and its copy of Mekari's request schema ship with it.
    assert {
        "qontak_provider/sandbox/data/seed.json",
        "qontak_provider/sandbox/data/direct_send_request.schema.json",
    } <= names
    assert not any(name.startswith(("tests/", "dags_examples/", "bench/")) for name in names)
    assert f"{info}/licenses/LICENSE" in names
    assert metadata["License-Expression"] == "Apache-2.0"
    assert "apache-airflow<4,>=3.0" in (metadata.get_all("Requires-Dist") or [])
    assert metadata["Requires-Python"] == ">=3.10"
    assert "provider_info = qontak_provider.get_provider_info:get_provider_info" in entry_points
    assert "qontak_sandbox = qontak_provider.sandbox.pytest_plugin" in entry_points
    assert "qontak-sandbox = qontak_provider.sandbox.cli:main" in entry_points


def test_sdist_holds_what_a_build_and_an_install_need(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "constraints/airflow-3.0.txt"):
        assert needed in names, needed
    assert "qontak_provider/__init__.py" in names
