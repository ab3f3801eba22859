"""A real, scheduled Airflow 3.3 for tests: api-server, scheduler (LocalExecutor) and dag-processor on sqlite.

``airflow dags test`` runs every task inside one process, so a task cannot be killed without ending the
whole run. This module starts the processes a scheduled run needs, in a temporary ``AIRFLOW_HOME``, so a
test can kill a running task with a real ``SIGKILL`` and watch Airflow retry it::

    with live_airflow([DAG_FILE], env=sandbox.airflow_env(rate_per_minute=1200)) as airflow:
        run_id = airflow.trigger("my_dag")
        ti = airflow.wait_for_task_state("my_dag", run_id, "send", {"running"})
        procs = airflow.find_task_processes(ti["id"])
        os.kill(procs.task_pid, signal.SIGKILL)
        assert airflow.wait_for_run("my_dag", run_id) == "success"

What runs (each in its own session, so it and every descendant can be found and stopped):

``airflow api-server``
    the REST API (``/api/v2``, used by the helpers below) and the execution API (``/execution/``) through
    which task processes start, heartbeat, read connections and write ``task_state_store``. One uvicorn
    worker. ``[core] simple_auth_manager_all_admins`` lets the helpers call the REST API without a token;
    the scheduler and the api-server share ``[api_auth] jwt_secret`` for the tokens of the task processes.
``airflow scheduler --skip-serve-logs``
    with the LocalExecutor: it forks ``[core] parallelism`` worker processes at start. A worker that picks a
    task up *is* that task's supervisor (proctitle ``airflow worker -- LocalExecutor: <ti id>``); the
    supervisor forks the task runner that executes the operator (proctitle ``airflow worker -- <ti id>``,
    in a process group of its own). The logs are read from disk, so no log server is started.
``airflow dag-processor``
    parses ``dags_folder`` (a temporary directory holding copies of the given DAG files only, so nothing
    else is parsed) and serialises the DAGs for the scheduler.

Sqlite works with the LocalExecutor in 3.3: ``airflow standalone`` uses exactly that pairing (it only
forces a local executor), and the scheduler's queries carry sqlite variants. The intervals are shortened
so a run is quick: scheduler loop and heartbeat 1 s; a task whose supervisor died is failed (and retried)
after ``heartbeat_timeout`` seconds without heartbeat; task supervisors heartbeat every 2 s.

How a task's processes are found: the REST API gives the running try's task instance id; the task runner
and its supervisor name that id in their process title (``/proc/<pid>/cmdline``). Only descendants of the
scheduler started here are considered, so another Airflow on the machine is never touched.

Everything is stopped on exit: SIGTERM to each process group, then SIGKILL to anything still alive in the
sessions started here (task runners live in their own process groups, but in the same session). Should the
test process itself die without that (SIGKILL, a CI timeout), a small watchdog process notices within a
second and SIGKILLs those sessions.

Debugging: with ``LIVE_AIRFLOW_KEEP_HOME=1`` the temporary ``AIRFLOW_HOME`` is kept (its path is printed):
``process-logs/<process>.log`` and the task logs under ``logs/dag_id=.../attempt=N.log``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

AIRFLOW = str(Path(sys.executable).with_name("airflow"))

#: Terminal states of a DAG run and of a task instance.
RUN_DONE = frozenset({"success", "failed"})
TI_DONE = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})

_TASK_TITLE = "airflow worker -- "
_SUPERVISOR_TITLE = "airflow worker -- LocalExecutor"

#: Run by a small watchdog process: when the test process dies without stopping Airflow (SIGKILL, a CI
#: timeout), SIGKILL every process of the given sessions, then remove the temporary home if one is named.
#: argv: parent pid, home to remove (or ""), then the session ids.
_WATCHDOG = """
import os, shutil, signal, sys, time
parent, home, sessions = int(sys.argv[1]), sys.argv[2], {int(s) for s in sys.argv[3:]}
while os.getppid() == parent:
    time.sleep(1)
for name in os.listdir("/proc"):
    if name.isdigit():
        try:
            text = open(f"/proc/{name}/stat").read()
            if int(text[text.rindex(")") + 2 :].split()[3]) in sessions:
                os.kill(int(name), signal.SIGKILL)
        except (OSError, ValueError):
            pass
if home:
    time.sleep(1)
    shutil.rmtree(home, ignore_errors=True)
"""


class LiveAirflowError(RuntimeError):
    """Airflow did not start, a process died, or a wait timed out; the message ends with the log tails."""


class ApiError(LiveAirflowError):
    """The REST API answered an error status (waits retry these until their timeout)."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (the kernel's choice for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def airflow_config(
    home: Path,
    dags_folder: Path,
    *,
    api_port: int,
    parallelism: int = 2,
    heartbeat_timeout: int = 10,
) -> dict[str, str]:
    """
    The ``AIRFLOW__*`` environment of the live Airflow (every process gets the same).

    :param home: ``AIRFLOW_HOME`` (sqlite database, task logs under ``logs/``).
    :param dags_folder: the only folder parsed.
    :param api_port: port of the api-server on 127.0.0.1.
    :param parallelism: LocalExecutor worker processes (each runs one task at a time).
    :param heartbeat_timeout: seconds without a supervisor heartbeat before the scheduler fails the task
        instance (and retries it when retries are left). Keep it well above the heartbeat interval (2 s):
        a loaded machine delays heartbeats.
    """
    base_url = f"http://127.0.0.1:{api_port}"
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__API__WORKERS": "1",
        # One secret for the tokens the scheduler issues to task processes and the api-server checks.
        "AIRFLOW__API_AUTH__JWT_SECRET": os.urandom(24).hex(),
        "AIRFLOW__API_AUTH__JWT_ISSUER": "live-airflow",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(heartbeat_timeout),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "1",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "2",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        # The files do not change during a test session: parse them once, not every 30 s.
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # The scheduler runs with --skip-serve-logs; a free port anyway, in case a log server starts.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "PYTHONUNBUFFERED": "1",
    }


def _clean_environ(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without any Airflow setting of the calling process (they would leak into the live one)."""
    return {
        key: value
        for key, value in env.items()
        if not key.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")) and key != "AIRFLOW_HOME"
    }


# ----------------------------------------------------------------------------------------------- /proc


def _cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def _stat(pid: int) -> tuple[str, int, int] | None:
    """``(state, ppid, session id)`` of a process, or ``None`` when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[3])


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def descendants(root: int) -> list[int]:
    """Every process below ``root`` (children, grandchildren...)."""
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        stat = _stat(pid)
        if stat is not None:
            children.setdefault(stat[1], []).append(pid)
    found: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def in_sessions(sessions: Iterable[int]) -> list[int]:
    """Live processes whose session id is one of ``sessions``."""
    wanted = set(sessions)
    out = []
    for pid in _all_pids():
        stat = _stat(pid)
        if stat is not None and stat[2] in wanted and stat[0] != "Z":
            out.append(pid)
    return out


@dataclass(frozen=True)
class TaskProcesses:
    """The OS processes of one running task try.

    :param task_pid: the task runner that executes the operator (``airflow worker -- <ti id>``).
    :param supervisor_pid: its parent, the LocalExecutor worker supervising it
        (``airflow worker -- LocalExecutor: <ti id>``).
    """

    task_pid: int
    supervisor_pid: int


# ---------------------------------------------------------------------------------------------- harness


@dataclass
class LiveAirflow:
    """A running Airflow (see the module docstring); yielded by :func:`live_airflow`."""

    home: Path
    dags_folder: Path
    api_url: str
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    watchdog: subprocess.Popen[bytes] | None = None
    log_dir: Path = field(init=False)
    _http: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.log_dir = self.home / "process-logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._http = httpx.Client(base_url=self.api_url, timeout=30.0)

    # ------------------------------------------------------------------------------------- processes

    def start_process(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start ``airflow <args>`` in a new session, output to ``process-logs/<name>.log``."""
        with (self.log_dir / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(
                [AIRFLOW, *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.processes[name] = proc
        return proc

    def start_watchdog(self, remove_home: bool = False) -> None:
        """
        Start the process that kills the Airflow sessions (and removes ``home`` when ``remove_home``) should
        this process die without :meth:`stop`.
        """
        sessions = [str(proc.pid) for proc in self.processes.values()]
        home = str(self.home) if remove_home else ""
        self.watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(os.getpid()), home, *sessions],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def check_alive(self) -> None:
        """Raise (with the log tails) if any Airflow process has exited."""
        dead = {name: proc.returncode for name, proc in self.processes.items() if proc.poll() is not None}
        if dead:
            raise LiveAirflowError(f"Airflow processes exited: {dead}" + self.diagnostics())

    def stop(self, grace: float = 10.0) -> list[int]:
        """Stop every process started here and all their descendants; return the pids that needed SIGKILL."""
        sessions = [proc.pid for proc in self.processes.values()]
        for proc in self.processes.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left in our sessions (a stuck process, task runners in their own process group).
        killed = []
        for _ in range(5):
            left = in_sessions(sessions)
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.watchdog is not None:
            self.watchdog.kill()
            self.watchdog.wait(timeout=5)
        self._http.close()
        return sorted(set(killed))

    def leftover_pids(self) -> list[int]:
        """Processes still alive in the sessions started here (empty after :meth:`stop`)."""
        return in_sessions(proc.pid for proc in self.processes.values())

    # ------------------------------------------------------------------------------------------ logs

    def process_log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def diagnostics(self, lines: int = 40, task_logs: int = 2) -> str:
        """
        Failure context: the last ``lines`` lines of each process log and of the ``task_logs`` most
        recently written task logs.
        """
        parts = []
        for name in self.processes:
            tail = self.process_log(name).splitlines()[-lines:]
            parts.append(f"\n--- {name} (last {len(tail)} lines) ---\n" + "\n".join(tail))
        logs = sorted((self.home / "logs").glob("dag_id=*/**/attempt=*.log"), key=lambda p: p.stat().st_mtime)
        for path in logs[-task_logs:] if task_logs else []:
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(
                f"\n--- {path.relative_to(self.home)} (last {len(tail)} lines) ---\n" + "\n".join(tail)
            )
        return "".join(parts)

    def task_log_path(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> Path:
        """Where the supervisor writes the log of one try (the default ``log_filename_template``)."""
        return (
            self.home
            / "logs"
            / f"dag_id={dag_id}"
            / f"run_id={run_id}"
            / f"task_id={task_id}"
            / f"attempt={try_number}.log"
        )

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        """The log of one try as text (JSON lines turned into ``event`` text); empty when there is none."""
        path = self.task_log_path(dag_id, run_id, task_id, try_number)
        if not path.exists():
            return ""
        out = []
        for line in path.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                out.append(line)
                continue
            if isinstance(record, dict):
                out.append(f"[{record.get('level', '')}] {record.get('event', '')}")
            else:
                out.append(line)
        return "\n".join(out)

    # ------------------------------------------------------------------------------------------- api

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the REST API (``/api/v2`` prefixed); raise with the body on an error status."""
        response = self._http.request(method, f"/api/v2{path}", **kwargs)
        if response.status_code >= 400:
            raise ApiError(f"{method} {path}: {response.status_code} {response.text[:2000]}")
        return response.json() if response.content else None

    def health(self) -> dict[str, Any] | None:
        try:
            response = self._http.get("/api/v2/monitor/health", timeout=5.0)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    def wait_until(
        self, what: str, predicate: Callable[[], Any], timeout: float, interval: float = 0.5
    ) -> Any:
        """
        Poll ``predicate`` until it returns something truthy and return that; fail after ``timeout`` with the
        logs. Connection errors and API error statuses are retried; any other exception propagates at once,
        and so does the death of an Airflow process.
        """
        deadline = time.monotonic() + timeout
        last_error: BaseException | None = None
        while True:
            self.check_alive()
            try:
                value = predicate()
            except (httpx.HTTPError, ApiError) as err:
                value, last_error = None, err
            if value:
                return value
            if time.monotonic() > deadline:
                detail = f" (last error: {last_error})" if last_error else ""
                raise LiveAirflowError(
                    f"timed out after {timeout:.0f}s waiting for {what}{detail}" + self.diagnostics()
                )
            time.sleep(interval)

    def wait_ready(self, dag_ids: Iterable[str], timeout: float = 120.0) -> None:
        """Wait until the api-server answers, scheduler and dag-processor are healthy and the DAGs exist."""

        def healthy() -> bool:
            health = self.health()
            return bool(
                health
                and health.get("metadatabase", {}).get("status") == "healthy"
                and health.get("scheduler", {}).get("status") == "healthy"
                and health.get("dag_processor", {}).get("status") == "healthy"
            )

        self.wait_until("the api-server, scheduler and dag-processor to be healthy", healthy, timeout)
        for dag_id in dag_ids:
            self.wait_until(f"DAG {dag_id!r} to be parsed", partial(self._dag_parsed, dag_id), timeout)

    def _dag_parsed(self, dag_id: str) -> bool:
        errors = self.api("GET", "/importErrors").get("import_errors", [])
        if errors:
            raise LiveAirflowError(
                "DAG import errors:\n" + "\n".join(f"{e['filename']}: {e['stack_trace']}" for e in errors)
            )
        response = self._http.get(f"/api/v2/dags/{dag_id}")
        return response.status_code == 200 and not response.json().get("is_paused")

    def trigger(self, dag_id: str, run_id: str | None = None, conf: Mapping[str, Any] | None = None) -> str:
        """Trigger a DAG run now (REST ``POST /dags/{id}/dagRuns``); return its run id."""
        body: dict[str, Any] = {"logical_date": None, "conf": dict(conf or {})}
        if run_id:
            body["dag_run_id"] = run_id
        return str(self.api("POST", f"/dags/{dag_id}/dagRuns", json=body)["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}"))

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 120.0) -> str:
        """Wait for the run to end; return its state (``success`` or ``failed``)."""
        return str(
            self.wait_until(
                f"DAG run {dag_id}/{run_id} to finish",
                lambda: (state := self.dag_run(dag_id, run_id)["state"]) in RUN_DONE and state,
                timeout,
            )
        )

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run (state, try_number, id, pid...)."""
        return list(self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"])

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        return dict(self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"))

    def task_tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """Every try of a task instance so far (``try_number``, ``state``...), oldest first."""
        tries = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/tries")
        return sorted(tries["task_instances"], key=lambda t: t["try_number"])

    def wait_for_task_state(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: Iterable[str],
        *,
        try_number: int | None = None,
        timeout: float = 60.0,
        interval: float = 0.2,
    ) -> dict[str, Any]:
        """Wait until the task instance is in one of ``states`` (and at ``try_number``); return it."""
        wanted = set(states)

        def reached() -> dict[str, Any] | None:
            ti = self.task_instance(dag_id, run_id, task_id)
            if ti["state"] in wanted and (try_number is None or ti["try_number"] == try_number):
                return ti
            if ti["state"] in TI_DONE and ti["state"] not in wanted:
                raise AssertionError(f"task {task_id} ended {ti['state']} before reaching {sorted(wanted)}")
            return None

        return dict(self.wait_until(f"task {task_id} to be {sorted(wanted)}", reached, timeout, interval))

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """An XCom value of the task (``None`` when there is none)."""
        response = self._http.get(
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
            params={"deserialize": "true", "stringify": "false"},
        )
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise LiveAirflowError(f"xcom {key}: {response.status_code} {response.text[:2000]}")
        return response.json().get("value")

    # ---------------------------------------------------------------------------------- task processes

    def find_task_processes(self, ti_id: str, timeout: float = 30.0) -> TaskProcesses:
        """The task runner and supervisor of the running try ``ti_id`` (waits until both exist)."""
        scheduler = self.processes["scheduler"].pid
        task_title = f"{_TASK_TITLE}{ti_id}"

        def find() -> TaskProcesses | None:
            for pid in descendants(scheduler):
                if _cmdline(pid) != task_title:
                    continue
                stat = _stat(pid)
                if stat is None:
                    continue
                parent = stat[1]
                parent_title = _cmdline(parent)
                if parent_title.startswith(_SUPERVISOR_TITLE) and parent_title.endswith(ti_id):
                    return TaskProcesses(task_pid=pid, supervisor_pid=parent)
            return None

        found: TaskProcesses = self.wait_until(
            f"the processes of task instance {ti_id}", find, timeout, interval=0.05
        )
        return found


@contextmanager
def live_airflow(
    dag_files: Iterable[Path | str],
    *,
    dag_ids: Iterable[str] = (),
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
    parallelism: int = 2,
    heartbeat_timeout: int = 10,
    startup_timeout: float = 180.0,
    keep_home: bool | None = None,
) -> Iterator[LiveAirflow]:
    """
    Start api-server, scheduler and dag-processor; yield a :class:`LiveAirflow`; stop everything on exit.

    :param dag_files: DAG files copied into a fresh ``dags_folder`` (only they are parsed).
    :param dag_ids: DAGs to wait for (parsed, unpaused) before yielding.
    :param env: extra environment of every process, e.g. ``sandbox.airflow_env(rate_per_minute=1200)``
        for the ``qontak_default`` connection. The caller's ``AIRFLOW__*``/``AIRFLOW_CONN_*`` are dropped.
    :param home: ``AIRFLOW_HOME`` (default a new temporary directory, removed afterwards).
    :param parallelism: LocalExecutor workers.
    :param heartbeat_timeout: see :func:`airflow_config`.
    :param startup_timeout: seconds for ``db migrate`` and for the processes to become ready.
    :param keep_home: keep a temporary ``home`` (logs, database) instead of removing it; default true when
        the environment variable ``LIVE_AIRFLOW_KEEP_HOME`` is set (its path is printed at the start).
    """
    if keep_home is None:
        keep_home = bool(os.environ.get("LIVE_AIRFLOW_KEEP_HOME"))
    files = [Path(f) for f in dag_files]
    made_home = home is None
    home = Path(tempfile.mkdtemp(prefix="live-airflow-")) if home is None else home
    if keep_home:
        print(f"live_airflow: AIRFLOW_HOME is {home} (kept)", file=sys.stderr)
    dags_folder = home / "dags"
    dags_folder.mkdir(parents=True, exist_ok=True)
    for dag_file in files:
        shutil.copy2(dag_file, dags_folder / dag_file.name)

    def environment(api_port: int) -> dict[str, str]:
        full_env = _clean_environ(os.environ)
        full_env.update(
            airflow_config(
                home,
                dags_folder,
                api_port=api_port,
                parallelism=parallelism,
                heartbeat_timeout=heartbeat_timeout,
            )
        )
        full_env.update(env or {})
        return full_env

    airflow: LiveAirflow | None = None
    try:
        migrate = subprocess.run(
            [AIRFLOW, "db", "migrate"],
            env=environment(0),
            capture_output=True,
            text=True,
            timeout=startup_timeout,
            check=False,
        )
        if migrate.returncode != 0:
            raise LiveAirflowError(
                f"airflow db migrate failed:\n{migrate.stdout[-5000:]}\n{migrate.stderr[-5000:]}"
            )
        # The port is picked only now, moments before the api-server binds it.
        api_port = free_port()
        airflow = LiveAirflow(
            home=home,
            dags_folder=dags_folder,
            api_url=f"http://127.0.0.1:{api_port}",
            env=environment(api_port),
        )
        airflow.start_process(
            "api-server", "api-server", "--port", str(api_port), "--host", "127.0.0.1", "--workers", "1"
        )
        airflow.start_process("scheduler", "scheduler", "--skip-serve-logs")
        airflow.start_process("dag-processor", "dag-processor")
        airflow.start_watchdog(remove_home=made_home and not keep_home)
        airflow.wait_ready(dag_ids, timeout=startup_timeout)
        yield airflow
    finally:
        left = []
        if airflow is not None:
            airflow.stop()
            left = airflow.leftover_pids()
        if made_home and not keep_home:
            shutil.rmtree(home, ignore_errors=True)
        if left:
            message = f"processes left behind after stop (SIGKILL did not end them): {left}"
            if sys.exc_info()[0] is None:
                raise LiveAirflowError(message)
            print(f"live_airflow: {message}", file=sys.stderr)  # do not mask the error in flight
