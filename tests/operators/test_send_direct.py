"""QontakSendDirectOperator against the sandbox: what goes out, what is refused, dry runs."""

from __future__ import annotations

import copy
import json
import logging
import re

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowFailException
from conftest import SEED_PAYLOADS, api_sends

from qontak_provider.operators.qontak import QontakSendDirectOperator

SONG = "d3e1083c-66ea-410b-b807-1d84182ffa82"  # "Halo {{1}}, ... {{2}} ..."
OTP = "60cccaa0-ccd9-4efd-bdfb-875859c4b50a"
IMAGE = "34d95207-0b48-4ce0-b589-2b7c1519d457"
CTA = "a36ea83e-1b63-41e9-a91b-bad2390531e9"
REJECTED = "d8fae097-d186-58ce-ba14-8294a6a8d765"
IMAGE_URL = SEED_PAYLOADS["image"]["parameters"]["header"]["params"][0]["value"]
SUMMARY_KEYS = {
    "broadcast_id",
    "template_id",
    "template_name",
    "channel_integration_id",
    "to_number",
    "created_at",
    "reused",
    "dry_run",
}


def send(**kwargs):
    kwargs.setdefault("task_id", "send")
    return QontakSendDirectOperator(**kwargs).execute({})


# ------------------------------------------------------------------------------------------ what goes out


@pytest.mark.parametrize("kind", sorted(SEED_PAYLOADS))
def test_seed_payload_verbatim_goes_out_unchanged(qontak_sandbox, kind):
    result = send(payload=copy.deepcopy(SEED_PAYLOADS[kind]))
    (received,) = qontak_sandbox.sends()
    assert received["body"] == SEED_PAYLOADS[kind]
    assert json.dumps(received["body"]) == json.dumps(SEED_PAYLOADS[kind])  # and in the written key order
    assert result["broadcast_id"] == received["broadcast_id"]
    assert set(result) == SUMMARY_KEYS
    assert json.loads(json.dumps(result)) == result


FRIENDLY = {
    "otp": {
        "template_name": "otp_login",
        "body": [{"key": "1", "value_text": "123454321", "value": "otp"}],
        "buttons": [{"index": "0", "type": "url", "value": "123456"}],
    },
    "text_with_variables": {
        "template_id": SONG,
        "body": [
            {"key": "1", "value_text": "Test User", "value": "name"},
            {"key": "2", "value_text": "lagu nusantara", "value": "lagu"},
        ],
    },
    "image": {"template_id": IMAGE, "header_url": IMAGE_URL, "header_filename": "Gojo_copy.jpeg"},
    "cta_url": {"template_id": CTA, "buttons": {"0": "fitur/personalisasi-report-sales"}},
}


@pytest.mark.parametrize("kind", sorted(FRIENDLY))
def test_friendly_arguments_send_the_documented_payload(qontak_sandbox, kind):
    send(to_number="0812-3456-7890", to_name="Test User", **FRIENDLY[kind])
    (received,) = qontak_sandbox.sends()
    seed = SEED_PAYLOADS[kind]
    assert received["body"]["to_number"] == "6281234567890"
    assert received["body"]["channel_integration_id"] == seed["channel_integration_id"]  # from the connection
    assert received["body"]["parameters"].get("body", []) == seed["parameters"].get("body", [])
    assert received["body"]["parameters"].get("buttons", []) == seed["parameters"].get("buttons", [])
    assert received["body"]["parameters"].get("header") == seed["parameters"].get("header")


def test_body_mapping_and_list_forms(qontak_sandbox):
    send(to_number="6281234567890", to_name="A", template_id=SONG, body={"2": "lagu", 1: "Burhan"})
    send(to_number="6281234567890", to_name="A", template_id=SONG, body=["Burhan", "lagu"])
    send(to_number="6281234567890", to_name="A", template_id=SONG, body='{"1": "Burhan", "2": "lagu"}')
    bodies = [s["body"]["parameters"]["body"] for s in qontak_sandbox.sends()]
    assert [[(p["key"], p["value_text"]) for p in b] for b in bodies] == [
        [("1", "Burhan"), ("2", "lagu")]
    ] * 3


def test_payload_overrides_for_mapping_over_recipients(qontak_sandbox):
    seed = SEED_PAYLOADS["text_with_variables"]
    without_channel = {k: v for k, v in seed.items() if k != "channel_integration_id"}
    send(payload=without_channel, to_number="+62 812-3456-7001", to_name="Budi")
    (received,) = qontak_sandbox.sends()
    assert received["body"]["to_number"] == "6281234567001"
    assert received["body"]["to_name"] == "Budi"
    assert received["body"]["channel_integration_id"] == qontak_sandbox.channel_integration_id


def test_explicit_channel_and_language_and_region(qontak_sandbox):
    send(
        to_number="(0812) 3456 7890",
        to_name="A",
        template_name="order_update",
        language="en_US",
        body=["A-1", "shipped"],
        channel_integration_id="7e463a6e-4d48-517b-9194-672bde6a4783",
    )
    send(to_number="91234567", to_name="B", template_id=SONG, body=["B", "x"], default_region="SG")
    first, second = qontak_sandbox.sends()
    assert first["body"]["language"] == {"code": "en_US"}
    assert first["message_template_id"] == "83c168c4-7f00-5487-abee-bd5856d6d88a"
    assert first["body"]["channel_integration_id"] == "7e463a6e-4d48-517b-9194-672bde6a4783"
    assert second["to_number"] == "6591234567"


def test_connection_default_region_is_used(qontak_sandbox, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_QONTAK_SG", qontak_sandbox.conn_json(default_region="SG"))
    send(qontak_conn_id="qontak_sg", to_number="91234567", to_name="B", template_id=SONG, body=["B", "x"])
    assert qontak_sandbox.counts() == {"6591234567": 1}


def test_template_fetched_once_per_process(qontak_sandbox):
    for number in ("6281234567001", "6281234567002", "6281234567003"):
        send(to_number=number, to_name="A", template_id=SONG, body=["A", "x"])
    endpoints = qontak_sandbox.stats()["by_endpoint"]
    assert sum(endpoints["GET /templates/{id}/whatsapp"].values()) == 1
    assert api_sends(qontak_sandbox) == 3


# --------------------------------------------------------------------------------- refused before sending

MISTAKES = [
    ("missing OTP button", {"template_id": OTP, "body": ["1"]}, "parameters.buttons[0]"),
    ("too few body values", {"template_id": SONG, "body": ["only one"]}, "parameters.body"),
    ("too many body values", {"template_id": SONG, "body": ["a", "b", "c"]}, "parameters.body"),
    ("new line in a value", {"template_id": SONG, "body": ["a\nb", "c"]}, "parameters.body[0].value_text"),
    ("empty value", {"template_id": SONG, "body": ["  ", "c"]}, "parameters.body[0].value_text"),
    (
        "header on a text template",
        {"template_id": SONG, "body": ["a", "b"], "header_url": IMAGE_URL},
        "parameters.header",
    ),
    ("missing media header", {"template_id": IMAGE}, "parameters.header"),
    (
        "http header url",
        {"template_id": IMAGE, "header_url": "http://example.com/a.jpg"},
        "parameters.header.params.url",
    ),
    (
        "button on a template without",
        {"template_id": SONG, "body": ["a", "b"], "buttons": ["x"]},
        "parameters.buttons",
    ),
    ("bad phone", {"template_id": SONG, "body": ["a", "b"], "to_number": "12345"}, "to_number"),
    ("letters in phone", {"template_id": SONG, "body": ["a", "b"], "to_number": "0812-CALL-ME"}, "to_number"),
    ("empty name", {"template_id": SONG, "body": ["a", "b"], "to_name": " "}, "to_name"),
    ("not a language code", {"template_id": SONG, "body": ["a", "b"], "language": "en US!"}, "language.code"),
    ("unapproved template", {"template_id": REJECTED}, "message_template_id"),
    ("ambiguous name", {"template_name": "order_update", "body": ["a", "b"]}, "language"),
    (
        "name does not match id",
        {"template_id": SONG, "template_name": "otp_login", "body": ["a", "b"]},
        "template_name",
    ),
    ("no template", {"body": ["a", "b"]}, "template_id"),
    ("unknown template name", {"template_name": "no_such_template"}, "no_such_template"),
    ("unknown region", {"template_id": SONG, "body": ["a", "b"], "default_region": "XX"}, "default_region"),
    ("payload with extra field", {"payload": {**SEED_PAYLOADS["otp"], "priority": "high"}}, "priority"),
    ("payload and body", {"payload": SEED_PAYLOADS["otp"], "body": ["1"]}, "body"),
    ("payload not a dict", {"payload": ["x"]}, "payload"),
    ("payload bad phone", {"payload": {**SEED_PAYLOADS["otp"], "to_number": "0000"}}, "to_number"),
]


@pytest.mark.parametrize(("case", "arguments", "field"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_mistakes_are_refused_before_any_send(qontak_sandbox, store, case, arguments, field):
    arguments = {"to_number": "6281234567890", "to_name": "Test User", **arguments}
    if "payload" in arguments:
        arguments.pop("to_number")
        arguments.pop("to_name")
    operator = QontakSendDirectOperator(task_id="send", **arguments)
    with pytest.raises(AirflowFailException) as failure:
        operator.execute({"task_state_store": store})
    message = str(failure.value)
    assert field in message
    assert "nothing was sent" in message
    assert qontak_sandbox.sends() == []
    assert api_sends(qontak_sandbox) == 0
    assert store.data == {}  # no attempt recorded either
    assert "6281234567890" not in message


def test_missing_channel_names_the_field(qontak_sandbox, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_QONTAK_DEFAULT", qontak_sandbox.conn_json(channel_integration_id=None))
    with pytest.raises(AirflowFailException, match="channel_integration_id"):
        send(to_number="6281234567890", to_name="A", template_id=SONG, body=["a", "b"])
    assert api_sends(qontak_sandbox) == 0
    # ... and the operator argument fills the gap.
    send(
        to_number="6281234567890",
        to_name="A",
        template_id=SONG,
        body=["a", "b"],
        channel_integration_id=qontak_sandbox.channel_integration_id,
    )
    assert api_sends(qontak_sandbox) == 1


def test_unknown_policy_is_refused(qontak_sandbox):
    with pytest.raises(AirflowFailException, match="on_send_in_doubt"):
        send(
            to_number="6281234567890",
            to_name="A",
            template_id=SONG,
            body=["a", "b"],
            on_send_in_doubt="maybe",
        )
    assert api_sends(qontak_sandbox) == 0


# ----------------------------------------------------------------------------------------------- dry run


def test_dry_run_validates_logs_masked_and_sends_nothing(qontak_sandbox, caplog, capsys, store):
    caplog.set_level(logging.INFO)
    result = QontakSendDirectOperator(
        task_id="send",
        to_number="0812-3456-7890",
        to_name="A",
        template_id=SONG,
        body=["a", "b"],
        dry_run="{{ 'True' }}".strip("{} '"),  # the text Jinja would render
    ).execute({"task_state_store": store})
    assert result["dry_run"] is True
    assert result["broadcast_id"] is None
    # XCom is shown in the UI: the number is masked there too, unless show_numbers=True
    assert result["to_number"] == result["payload"]["to_number"] == "62812*****890"
    assert result["payload"]["parameters"]["body"][1]["value_text"] == "b"
    assert api_sends(qontak_sandbox) == 0
    assert store.data == {}
    logged = caplog.text + capsys.readouterr().out  # the task logger writes through structlog
    assert "62812*****890" in logged
    assert "6281234567890" not in logged
    with pytest.raises(AirflowFailException, match=r"parameters\.body"):
        send(to_number="0812-3456-7890", to_name="A", template_id=SONG, body=["a"], dry_run=True)


def test_sending_never_logs_the_full_number_or_secret(qontak_sandbox, caplog, capsys, store):
    caplog.set_level(logging.DEBUG)
    QontakSendDirectOperator(
        task_id="send", to_number="0812-3456-7890", to_name="A", template_id=SONG, body=["a", "b"]
    ).execute({"task_state_store": store})
    logged = caplog.text + capsys.readouterr().out
    sending = rf"Sending template 'song_recommendation' \({SONG}\) to 62812\*{{5}}890 via channel "
    assert re.search(sending, logged)
    assert re.search(r"Qontak created broadcast [0-9a-f-]{36} for 62812\*{5}890\.", logged)
    assert "6281234567890" not in logged
    assert qontak_sandbox.client_secret not in logged
    assert "6281234567890" not in json.dumps(store.data)  # the state store is visible in the UI


# ----------------------------------------------------------------------------------- Airflow integration


def test_template_fields_cover_every_argument():
    operator = QontakSendDirectOperator(task_id="send", qontak_conn_id="does_not_exist")
    import inspect

    arguments = set(inspect.signature(QontakSendDirectOperator.__init__).parameters) - {"self", "kwargs"}
    # Privacy is decided when the DAG is written, never by a rendered value: not templated.
    assert arguments - {"show_numbers", "mask_values"} == set(operator.template_fields)


def test_mapping_forms_build():
    with DAG("mapping_forms", schedule=None) as dag:
        QontakSendDirectOperator.partial(task_id="a", template_id=SONG, to_name="A", body=["a", "b"]).expand(
            to_number=["6281234567001", "6281234567002"]
        )
        QontakSendDirectOperator.partial(task_id="b", template_name="payment_reminder").expand_kwargs(
            [{"to_number": "6281234567001", "to_name": "A", "body": ["a", "b", "c"]}]
        )
    assert {t.task_id for t in dag.tasks} == {"a", "b"}


# ------------------------------------------------------------------ what Airflow stores of rendered fields


def rendered(operator: QontakSendDirectOperator, **params) -> QontakSendDirectOperator:
    """The operator after Airflow rendered its template fields (what it stores is then on the attributes)."""
    operator.render_template_fields({"params": params})
    return operator


def test_the_rendered_number_is_stored_masked_and_sent_in_full(qontak_sandbox):
    operator = rendered(
        QontakSendDirectOperator(
            task_id="send", to_number="{{ params.n }}", to_name="Budi", template_id=SONG, body=["Budi", "x"]
        ),
        n="0812-3456-7890",
    )
    assert operator.to_number == "08123****890"  # what the UI shows: masked as in the logs
    assert operator.body == ["Budi", "x"]  # values are not secret unless mask_values
    assert operator.real("to_number") == "0812-3456-7890" and operator.real("body") == ["Budi", "x"]
    result = operator.execute({})
    assert qontak_sandbox.counts() == {"6281234567890": 1}
    assert result["to_number"] == "62812*****890"


def test_show_numbers_keeps_the_rendered_number_as_it_is(qontak_sandbox):
    operator = QontakSendDirectOperator(
        task_id="send", to_number="{{ params.n }}", to_name="A", template_id=SONG, show_numbers=True
    )
    rendered(operator, n="0812-3456-7890")
    assert operator.to_number == "0812-3456-7890" == operator.real("to_number")
    assert operator.shown_value("to_number", None) is None


def test_mask_values_hides_body_and_buttons_keeping_their_shape_and_masks_them_in_logs(qontak_sandbox):
    from airflow.sdk._shared.secrets_masker import redact

    operator = QontakSendDirectOperator(
        task_id="send",
        to_number="0812-3456-7890",
        to_name="A",
        template_name="otp_login",
        body=[{"key": "1", "value_text": "{{ params.code }}", "value": "otp"}],
        buttons=[{"index": "0", "type": "url", "value": "{{ params.code }}"}],
        mask_values=True,
    )
    rendered(operator, code="735911")
    assert operator.body == [{"key": "1", "value_text": "***", "value": "***"}]
    assert operator.buttons == [{"index": "0", "type": "url", "value": "***"}]
    assert redact("the code is 735911") == "the code is ***"  # registered with Airflow's secrets masker
    operator.execute({})
    (sent,) = qontak_sandbox.sends()
    assert sent["body"]["parameters"]["body"][0]["value_text"] == "735911"
    assert sent["body"]["parameters"]["buttons"][0]["value"] == "735911"


def test_mask_values_on_mappings_numbers_and_empty_values():
    from airflow.sdk._shared.secrets_masker import redact

    operator = QontakSendDirectOperator(task_id="send", mask_values=True)
    assert operator.shown_value("body", {"1": 804417, "2": ("x", None)}) == {"1": "***", "2": ["***", None]}
    assert redact("804417") == "***"  # an int leaf is masked too
    assert operator.shown_value("body", None) is None and operator.shown_value("buttons", None) is None
    operator.shown_value("body", [False, ""])
    assert redact("is False") == "is False"  # a flag is no secret: it would be masked in every log line
    plain = QontakSendDirectOperator(task_id="send")
    value = ["481516"]
    assert plain.shown_value("body", value) is value  # without mask_values: shown (and stored) as given


def test_a_payload_is_stored_with_its_number_masked_and_its_values_hidden_with_mask_values(qontak_sandbox):
    payload = copy.deepcopy(SEED_PAYLOADS["otp"])
    payload["to_number"] = "{{ params.n }}"
    operator = rendered(
        QontakSendDirectOperator(task_id="send", payload=payload, mask_values=True), n="+62 812-3456-7890"
    )
    assert operator.payload["to_number"] == "62812*****890"
    assert operator.payload["parameters"]["body"][0] == {"key": "1", "value_text": "***", "value": "***"}
    assert operator.payload["message_template_id"] == SEED_PAYLOADS["otp"]["message_template_id"]
    from airflow.sdk._shared.secrets_masker import redact

    code = SEED_PAYLOADS["otp"]["parameters"]["body"][0]["value_text"]
    assert redact(f"the code is {code}") == "the code is ***"  # registered with Airflow's secrets masker
    operator.execute({})
    (sent,) = qontak_sandbox.sends()
    assert sent["to_number"] == "6281234567890"
    assert sent["body"]["parameters"] == SEED_PAYLOADS["otp"]["parameters"]
    shown = QontakSendDirectOperator(task_id="send", show_numbers=True).shown_value("payload", payload)
    assert shown == payload and shown is not payload  # a copy: the real payload is never changed
    assert QontakSendDirectOperator(task_id="send").shown_value("payload", {"a": 1}) == {"a": 1}


def test_a_payload_rendered_to_json_text_is_stored_masked_too(qontak_sandbox):
    payload = {**copy.deepcopy(SEED_PAYLOADS["otp"]), "to_number": "6281234567890"}
    operator = rendered(
        QontakSendDirectOperator(task_id="send", payload="{{ params.p | tojson }}", mask_values=True),
        p=payload,
    )
    assert isinstance(operator.payload, dict) and operator.payload["to_number"] == "62812*****890"
    code = payload["parameters"]["body"][0]["value_text"]
    assert code not in json.dumps(operator.payload) and "6281234567890" not in json.dumps(operator.payload)
    operator.execute({})  # the JSON text itself is what is sent
    assert qontak_sandbox.counts() == {"6281234567890": 1}
    plain = QontakSendDirectOperator(task_id="send")
    for text in ("not json", "{broken", '["a list"]'):
        assert plain.shown_value("payload", text) == text  # refused by execute(): shown as given


def test_shown_value_leaves_other_fields_and_a_missing_number_as_they_are():
    operator = QontakSendDirectOperator(task_id="send")
    value = {"to_number": "6281234567890"}
    assert operator.shown_value("template_id", value) is value  # not a private field: untouched
    assert operator.shown_value("payload", {"to_number": None, "a": 1}) == {"to_number": None, "a": 1}
