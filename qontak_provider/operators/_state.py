"""Where a task instance keeps what must survive its retries: ``task_state_store``, or a Variable before 3.3.

The send operators record what they sent so that an Airflow retry (or a task cleared after a crash) never
sends a message twice. Airflow 3.3 gives every task instance a durable ``task_state_store``. Airflow 3.0 to
3.2 have none; the only durable store a task can write there is an Airflow Variable, which also survives a
killed worker and a cleared task. So on those versions each record goes to a Variable named after a hash of
the task instance (``qontak_state.<hash>.<key>``): visible in the UI's Variables page, holding what the task
state store would (masked numbers, fingerprints, row positions), never a number or a secret.

Variables are not removed with the DAG run: delete them (``airflow variables delete``, or the UI) once the
run is done; ``docs/explanation/retry_safety.rst`` says how.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["VARIABLE_PREFIX", "VariableStateStore", "task_state"]

#: Prefix of the Variables that stand in for ``task_state_store`` on Airflow 3.0 to 3.2.
VARIABLE_PREFIX = "qontak_state"


class VariableStateStore:
    """
    ``task_state_store``'s ``get``/``set``/``delete`` over Airflow Variables, for one task instance.

    :param dag_id: the task instance's DAG id.
    :param run_id: its DAG run id.
    :param task_id: its task id.
    :param map_index: its map index (-1 when not mapped).
    """

    def __init__(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> None:
        identity = json.dumps([dag_id, run_id, task_id, map_index])
        self.prefix = f"{VARIABLE_PREFIX}.{hashlib.sha256(identity.encode()).hexdigest()[:24]}"
        self.description = (
            f"Send record of DAG {dag_id!r}, run {run_id!r}, task {task_id!r}"
            + (f"[{map_index}]" if map_index >= 0 else "")
            + " (airflow-provider-qontak, standing in for task_state_store on Airflow < 3.3). Delete it once "
            "the run is done."
        )

    def key(self, name: str) -> str:
        """The Variable name of the record ``name``."""
        return f"{self.prefix}.{name}"

    def get(self, name: str) -> Any:
        from airflow.sdk import Variable

        return Variable.get(self.key(name), default=None, deserialize_json=True)

    def set(self, name: str, value: Any) -> None:
        from airflow.sdk import Variable

        Variable.set(self.key(name), value, description=self.description, serialize_json=True)

    def delete(self, name: str) -> None:
        from airflow.sdk import Variable

        Variable.delete(self.key(name))


def task_state(context: Mapping[str, Any]) -> Any:
    """
    The durable store of the running task instance: ``task_state_store`` (Airflow 3.3+), else a
    :class:`VariableStateStore`; ``None`` when there is no task instance (``execute()`` called directly).
    """
    store = context.get("task_state_store")
    if store is not None:
        return store
    ti = context.get("ti")
    if ti is None or not getattr(ti, "run_id", None):
        return None
    map_index = getattr(ti, "map_index", -1)
    return VariableStateStore(
        str(ti.dag_id), str(ti.run_id), str(ti.task_id), map_index if isinstance(map_index, int) else -1
    )
