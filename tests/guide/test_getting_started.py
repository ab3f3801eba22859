"""Follow docs/getting_started.rst word for word on a fresh clone: its commands end with a message read.

The commands are the page's ``.. code-block:: bash`` blocks marked ``:class: getting-started``, in page
order, followed by the wheel build and the checks of docs/howto/install.rst. They are taken from the
``.rst`` files themselves and run as one bash script (``set -eo pipefail``) in an empty directory. The one
change is the clone URL: GitHub's becomes a bare copy of this repository, named like GitHub's, so that
``cd airflow-provider-qontak`` works the same. The clone therefore holds what is committed, not
uncommitted changes. Blocks marked ``prerequisite`` (installing Python and git) and ``real-account`` (a
Qontak account is needed) are not run.

``pip install`` fetches Airflow and the provider's dependencies from PyPI, so the test takes one to three
minutes, most of it the install.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "getting_started.rst"
INSTALL_PAGE = REPO / "docs" / "howto" / "install.rst"
CLONE_URL = "https://github.com/airflow-provider-qontak/airflow-provider-qontak.git"
SANDBOX_PORT = 8789  # the port the page starts the sandbox on

_BLOCK = re.compile(r"^\.\. code-block:: bash\n((?:   :[a-z-]+:.*\n)*)\n((?:(?:   .*)?\n)+)", re.MULTILINE)


def code_blocks(text: str) -> list[tuple[list[str], str]]:
    """Each ``.. code-block:: bash`` at the top level of ``text``: its classes and its content."""
    blocks = []
    for options, body in _BLOCK.findall(text):
        classes = re.findall(r":class: (.*)", options)
        blocks.append((classes[0].split() if classes else [], textwrap.dedent(body).strip() + "\n"))
    return blocks


def page_commands(text: str, mark: str = "getting-started") -> str:
    """The commands of the blocks marked ``mark``, in page order, as one script."""
    return "\n".join(body for classes, body in code_blocks(text) if mark in classes)


def install_page_commands() -> str:
    """The install guide's wheel and check commands, run after the getting-started page in its clone.

    Its first block (clone, ``pip install .``) is the getting-started page's own install, which
    ``test_the_install_guide_installs_like_the_getting_started_page`` checks.
    """
    text = INSTALL_PAGE.read_text(encoding="utf-8")
    return page_commands(text, "install-wheel") + "\n" + page_commands(text, "install-check")


def test_the_page_marks_every_bash_block():
    """A block that is neither run here nor marked as not runnable would slip through untested."""
    blocks = code_blocks(PAGE.read_text(encoding="utf-8"))
    allowed = {"getting-started", "prerequisite", "real-account"}
    assert blocks, "no bash blocks found: has the page's markup changed?"
    for classes, body in blocks:
        assert set(classes) & allowed, f"bash block without one of {sorted(allowed)}:\n{body}"
    assert page_commands(PAGE.read_text(encoding="utf-8")).count(CLONE_URL) == 1


def test_the_install_guide_installs_like_the_getting_started_page():
    clone_and_install = page_commands(INSTALL_PAGE.read_text(encoding="utf-8"), "install-clone").splitlines()
    getting_started = page_commands(PAGE.read_text(encoding="utf-8")).splitlines()
    assert clone_and_install and all(line in getting_started for line in clone_and_install)
    assert install_page_commands().count("\n") >= 4


def _port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _clean_environment(home: Path) -> dict[str, str]:
    """This machine's environment without this virtualenv, Airflow settings or a Qontak connection."""
    venv_bin = str(Path(sys.executable).parent)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "VIRTUAL_ENV", "PYTHON")) and key != "PYTEST_CURRENT_TEST"
    }
    env["PATH"] = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.setdefault("HOME", str(home))
    return env


@pytest.mark.airflow
@pytest.mark.timeout(1200)
def test_following_the_getting_started_page_ends_with_a_message_read(tmp_path):
    if _port_in_use(SANDBOX_PORT):
        pytest.fail(f"127.0.0.1:{SANDBOX_PORT} is in use; the page starts the sandbox there")
    if subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=REPO, check=False).returncode != 0:
        warnings.warn("uncommitted changes are not in the clone the page's commands make", stacklevel=1)
    origin = tmp_path / "origin" / "airflow-provider-qontak.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(REPO), str(origin)], check=True)
    script = page_commands(PAGE.read_text(encoding="utf-8")).replace(CLONE_URL, origin.as_uri())
    script += "\n" + install_page_commands()  # then the install guide's wheel, in the same clone
    workdir = tmp_path / "user"
    workdir.mkdir()
    process = subprocess.Popen(
        ["bash", "-c", "set -eo pipefail\nset -x\n" + script],
        cwd=workdir,
        env=_clean_environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the sandbox it starts is in this group, stopped below if the page did not
    )
    try:
        output, _ = process.communicate(timeout=1100)
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    tail = output[-8000:]
    assert process.returncode == 0, tail
    # what the page promises: the DAG run succeeded, and the sandbox saw the message through to "read"
    assert re.search(r"Broadcast \S+ final status: read", output), tail
    assert re.search(r"DagRun Finished: dag_id=example_qontak_quickstart, .*state=success", output), tail
    assert re.search(r"201 direct send: broadcast \S+ to 62812\*{5}890 .* -> read", output), tail
    # and the install guide's checks: a wheel was built, and Airflow lists the provider and its hook
    assert re.search(r"Successfully built .*airflow_provider_qontak-\S+\.whl", output), tail
    assert re.search(r"^airflow-provider-qontak\s+\|", output, re.MULTILINE), tail
    assert re.search(r"^qontak\s+\| qontak_provider.hooks.qontak.QontakHook", output, re.MULTILINE), tail
