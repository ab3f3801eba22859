"""QontakListChannelsOperator and QontakListTemplatesOperator against the sandbox."""

from __future__ import annotations

import json
import logging

import pytest
from airflow.sdk.exceptions import AirflowFailException

from qontak_provider.operators.qontak import (
    QontakListChannelsOperator,
    QontakListTemplatesOperator,
    QontakSendDirectOperator,
)

INACTIVE_CHANNEL = "e13c1628-ab17-5c3a-a3bf-1eab91111688"


def test_list_channels_active_only_by_default_and_json_safe(qontak_sandbox):
    channels = QontakListChannelsOperator(task_id="c").execute({})
    assert json.loads(json.dumps(channels)) == channels
    assert channels and all(c["is_active"] for c in channels)
    assert INACTIVE_CHANNEL not in {c["id"] for c in channels}


def test_list_channels_include_inactive_and_target_channel(qontak_sandbox):
    every = QontakListChannelsOperator(task_id="c", include_inactive=True).execute({})
    assert INACTIVE_CHANNEL in {c["id"] for c in every}
    cloud = QontakListChannelsOperator(task_id="c", target_channel="wa_cloud").execute({})
    assert {c["target_channel"] for c in cloud} == {"wa_cloud"}
    assert qontak_sandbox.channel_integration_id in {c["id"] for c in cloud}
    cloud_all = QontakListChannelsOperator(
        task_id="c",
        target_channel="wa_cloud",
        include_inactive="True",  # as Jinja renders a flag
    ).execute({})
    assert {c["id"] for c in cloud_all} == {c["id"] for c in cloud} | {INACTIVE_CHANNEL}


def test_list_templates_approved_by_default(qontak_sandbox):
    approved = QontakListTemplatesOperator(task_id="t").execute({})
    assert approved and {t["status"] for t in approved} == {"APPROVED"}
    everything = QontakListTemplatesOperator(task_id="t", status=None).execute({})
    assert {"REJECTED", "PENDING"} <= {t["status"] for t in everything}
    assert json.loads(json.dumps(everything)) == everything


def test_list_templates_filters(qontak_sandbox):
    auth = QontakListTemplatesOperator(task_id="t", category="AUTHENTICATION").execute({})
    assert auth and {t["category"] for t in auth} == {"AUTHENTICATION"}
    english = QontakListTemplatesOperator(task_id="t", language="en_US").execute({})
    assert english and {t["language"] for t in english} == {"en_US"}
    named = QontakListTemplatesOperator(task_id="t", name="order_update").execute({})
    assert sorted(t["language"] for t in named) == ["en_US", "id"]
    one = QontakListTemplatesOperator(task_id="t", name="order_update", language="id").execute({})
    assert [t["id"] for t in one] == ["c3a08e21-a685-569a-a266-1f4be11b6bd5"]
    rejected = QontakListTemplatesOperator(task_id="t", status="REJECTED", name="flash_sale").execute({})
    assert [t["name"] for t in rejected] == ["flash_sale"]


def test_lookup_operators_template_fields_and_cheap_init():
    # A connection id that does not exist: __init__ must not look it up (DAG parsing stays offline).
    channels = QontakListChannelsOperator(task_id="c", qontak_conn_id="does_not_exist")
    templates = QontakListTemplatesOperator(task_id="t", qontak_conn_id="does_not_exist")
    assert set(channels.template_fields) == {"target_channel", "include_inactive", "qontak_conn_id"}
    assert set(templates.template_fields) == {"status", "category", "language", "name", "qontak_conn_id"}
    assert templates.status == "APPROVED"


def test_the_log_says_what_was_asked_and_found(qontak_sandbox, caplog, capsys):
    caplog.set_level(logging.INFO)
    approved = QontakListTemplatesOperator(task_id="t", category="UTILITY").execute({})
    channels = QontakListChannelsOperator(
        task_id="c", target_channel="wa_cloud", include_inactive=True
    ).execute({})
    everything = QontakListChannelsOperator(task_id="c").execute({})
    logged = caplog.text + capsys.readouterr().out  # the task logger writes through structlog
    assert (
        f"Found {len(approved)} template(s) (status=APPROVED, category=UTILITY, language=any, name=any)."
        in logged
    )
    assert f"Found {len(channels)} channel integration(s) of kind 'wa_cloud' (inactive included)." in logged
    assert f"Found {len(everything)} channel integration(s)." in logged


def test_a_flag_that_is_not_a_boolean_is_refused_by_name():
    with pytest.raises(
        AirflowFailException, match=r"^include_inactive: expected true or false, got 'maybe'\.$"
    ):
        QontakListChannelsOperator(task_id="c", include_inactive="maybe").execute({})
    with pytest.raises(AirflowFailException, match=r"^dry_run: expected true or false, got 'perhaps'\.$"):
        QontakSendDirectOperator(task_id="s", to_number="0812", template_id="t", dry_run="perhaps").execute(
            {}
        )


def test_the_lookup_operators_use_the_connection_given(qontak_sandbox, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_QONTAK_OTHER", qontak_sandbox.conn_json())
    channels = QontakListChannelsOperator(task_id="c", qontak_conn_id="qontak_other")
    templates = QontakListTemplatesOperator(task_id="t", qontak_conn_id="qontak_other")
    assert channels.hook.qontak_conn_id == templates.hook.qontak_conn_id == "qontak_other"
    assert channels.execute({}) and templates.execute({})
