"""``operators/_state.py``: where a task instance keeps its records, and the Variables of Airflow < 3.3.

The Variables are faked here (the Task SDK reaches them through the supervisor); ``tests/matrix`` runs the
same code against real Variables on Airflow 3.0 to 3.2.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

from qontak_provider.operators import _state
from qontak_provider.operators._state import VARIABLE_PREFIX, VariableStateStore, task_state


class FakeVariables:
    """``airflow.sdk.Variable``'s class methods over a dict, remembering how each value was stored."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.descriptions: dict[str, str | None] = {}

    def get(self, key: str, default: Any = KeyError, deserialize_json: bool = False) -> Any:
        if key not in self.values:
            if default is KeyError:  # like Variable.get without a default
                raise KeyError(f"Variable {key} does not exist")
            return default
        return json.loads(self.values[key]) if deserialize_json else self.values[key]

    def set(self, key: str, value: Any, description: str | None = None, serialize_json: bool = False) -> None:
        self.values[key] = json.dumps(value) if serialize_json else str(value)
        self.descriptions[key] = description

    def delete(self, key: str) -> None:
        del self.values[key]


@pytest.fixture
def variables(monkeypatch: pytest.MonkeyPatch) -> FakeVariables:
    fake = FakeVariables()
    monkeypatch.setattr("airflow.sdk.Variable", fake)
    return fake


def ti(**overrides: Any) -> SimpleNamespace:
    fields = {"dag_id": "billing", "run_id": "manual__2026-05-01", "task_id": "send", "map_index": -1}
    return SimpleNamespace(**{**fields, **overrides})


def test_the_task_state_store_is_used_when_airflow_gives_one() -> None:
    store = object()
    assert task_state({"task_state_store": store, "ti": ti()}) is store


@pytest.mark.parametrize(
    "context",
    [{}, {"task_state_store": None}, {"ti": None}, {"ti": ti(run_id="")}, {"ti": SimpleNamespace()}],
    ids=["empty", "no store", "no ti", "ti without a run", "ti without attributes"],
)
def test_without_a_task_instance_there_is_no_store(context: dict[str, Any]) -> None:
    assert task_state(context) is None


def test_before_airflow_3_3_the_records_go_to_variables_named_for_the_task_instance() -> None:
    store = task_state({"ti": ti()})
    assert isinstance(store, VariableStateStore)
    # The name must not change between releases: a retry after an upgrade finds the records of the try before.
    assert (
        store.prefix
        == f"{VARIABLE_PREFIX}.aaa1ca2e62c5acc88f608144"
        == "qontak_state.aaa1ca2e62c5acc88f608144"
    )
    assert store.key("qontak_send") == "qontak_state.aaa1ca2e62c5acc88f608144.qontak_send"
    assert store.description == (
        "Send record of DAG 'billing', run 'manual__2026-05-01', task 'send' (airflow-provider-qontak, "
        "standing in for task_state_store on Airflow < 3.3). Delete it once the run is done."
    )


def test_each_mapped_instance_has_its_own_variables() -> None:
    mapped = task_state({"ti": ti(map_index=3)})
    assert mapped.prefix == "qontak_state.f37681ea3f4e1fd70ae6881b"
    assert mapped.description.startswith(
        "Send record of DAG 'billing', run 'manual__2026-05-01', task 'send'[3] ("
    )
    first = task_state({"ti": ti(map_index=0)})
    assert first.prefix != task_state({"ti": ti()}).prefix
    assert first.description.startswith(
        "Send record of DAG 'billing', run 'manual__2026-05-01', task 'send'[0] ("
    )
    # a map index Airflow did not give as an int (a mock, a lazy value) counts as not mapped
    assert task_state({"ti": ti(map_index="3")}).prefix == task_state({"ti": ti()}).prefix
    assert task_state(
        {"ti": SimpleNamespace(dag_id="billing", run_id="manual__2026-05-01", task_id="send")}
    ).prefix == (task_state({"ti": ti()}).prefix)


def test_records_round_trip_through_json_variables(variables: FakeVariables) -> None:
    store = task_state({"ti": ti()})
    assert store.get("qontak_send") is None
    record = {"state": "attempting", "to": "62812*****890", "at": "2026-05-01T00:00:00+00:00"}
    store.set("qontak_send", record)
    key = "qontak_state.aaa1ca2e62c5acc88f608144.qontak_send"
    assert json.loads(variables.values[key]) == record  # stored as JSON, readable in the Variables UI
    assert variables.descriptions[key] == store.description
    assert store.get("qontak_send") == record
    store.delete("qontak_send")
    assert key not in variables.values and store.get("qontak_send") is None


def test_the_module_says_what_it_exports() -> None:
    assert set(_state.__all__) == {"VARIABLE_PREFIX", "VariableStateStore", "task_state"}


def reminder() -> Any:
    """One direct send of the seed's payment reminder."""
    from qontak_provider.operators.qontak import QontakSendDirectOperator

    return QontakSendDirectOperator(
        task_id="send",
        to_number="0812 3456 7890",
        to_name="Budi",
        template_name="payment_reminder",
        body=["A", "Rp 1", "1 Mei"],
    )


@pytest.mark.qontak_sandbox(rate_limit=0, clock="instant")
def test_the_operators_say_which_variables_hold_their_records(
    qontak_sandbox: Any, variables: FakeVariables, capsys: pytest.CaptureFixture[str]
) -> None:
    from qontak_provider.operators.bulk import QontakBulkSendOperator

    context: dict[str, Any] = {"ti": ti()}
    reminder().execute(context)
    prefix = "qontak_state.aaa1ca2e62c5acc88f608144"
    assert variables.get(f"{prefix}.qontak_send", deserialize_json=True)["state"] == "sent"
    bulk = QontakBulkSendOperator(
        task_id="send",
        recipients=[{"phone": "0812 9876 5432", "name": "B"}],
        template_name="payment_reminder",
        body=["{{ row.name }}", "Rp 1", "1 Mei"],
        rate_per_minute=6000,
    )
    bulk.execute(context)
    logged = capsys.readouterr().out
    assert (
        f"Airflow < 3.3 has no task_state_store: the send record is kept in the Airflow Variable "
        f"{prefix}.qontak_send (delete it once the run is done)." in logged
    )
    assert (
        f"Airflow < 3.3 has no task_state_store: the journal is kept in Airflow Variables "
        f"{prefix}.{bulk.journal_key}* (delete them once the run is done)." in logged
    )
    assert any(key.startswith(f"{prefix}.{bulk.journal_key}") for key in variables.values)
    assert len(qontak_sandbox.sends()) == 2


def test_a_direct_send_without_a_task_instance_says_it_is_not_protected(
    qontak_sandbox: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    reminder().execute({})
    assert (
        "No task instance (execute() called directly): this send is NOT protected against being repeated by "
        "a retry." in capsys.readouterr().out
    )
