"""The direct send's argument layer word for word: which field each mistake names, and what it expected.

A refused argument fails the task without retry before any request; the message is all a DAG author gets,
so its field name and its "expected" part are asserted whole, through dry runs against the sandbox.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from qontak_provider.operators.qontak import QontakSendDirectOperator

SEEDS = json.loads((Path(__file__).parents[1] / "fixtures" / "seed_payloads.json").read_text())
TEXT = SEEDS["text_with_variables"]
PREFIX = "Invalid Qontak direct send, nothing was sent: "
FRIENDLY = {"to_number": "081234567890", "to_name": "Budi", "template_name": "song_recommendation"}


def dry_run(**arguments: Any) -> dict[str, Any]:
    return QontakSendDirectOperator(task_id="check", dry_run=True, **arguments).execute({})


def refusal(**arguments: Any) -> str:
    with pytest.raises(AirflowFailException) as info:
        dry_run(**arguments)
    text = str(info.value)
    assert text.startswith(PREFIX), text
    return text[len(PREFIX) :]


@pytest.mark.parametrize(
    ("field", "what"),
    [
        ("language", "a language code such as 'id' or 'en_US'"),
        ("template_id", "a template id"),
        ("template_name", "a template name"),
        ("channel_integration_id", "a channel integration id"),
        ("default_region", "an ISO region code such as 'ID'"),
    ],
)
def test_a_list_where_text_belongs_is_refused_naming_the_field(
    qontak_sandbox: Any, field: str, what: str
) -> None:
    arguments = {**FRIENDLY, "body": ["a", "b"], field: ["id", "en"]}
    assert refusal(**arguments) == f"{field}: expected {what}, got ['id', 'en']"
    assert qontak_sandbox.sends() == []


@pytest.mark.parametrize(
    "argument",
    [
        {"body": ["a", "b"]},
        {"header_url": "https://example.com/a.pdf"},
        {"header_filename": "a.pdf"},
        {"buttons": ["x"]},
        {"template_name": "song_recommendation"},
        {"language": "id"},
    ],
    ids=lambda a: next(iter(a)),
)
def test_a_parameter_argument_beside_payload_is_refused_naming_it(
    qontak_sandbox: Any, argument: dict[str, Any]
) -> None:
    (name,) = argument
    assert refusal(payload=TEXT, **argument) == (
        f"{name}: expected nothing: with payload= the parameters come from the payload. "
        "Pass either payload= or the parameter arguments, not both."
    )


def test_payload_must_be_a_dict_and_a_template_id_must_match_it(qontak_sandbox: Any) -> None:
    assert refusal(payload=[TEXT]) == "payload: expected the direct-send body as a dict, got '<list>'"
    other = "00000000-0000-0000-0000-000000000000"
    own = TEXT["message_template_id"]
    assert refusal(payload=TEXT, template_id=other) == (
        f"template_id: expected the payload's message_template_id {own!r}, got {other!r}"
    )
    assert dry_run(payload=TEXT, template_id=own)["template_id"] == own


def test_the_payloads_channel_is_used_unless_an_argument_overrides_it(qontak_sandbox: Any) -> None:
    own = dry_run(payload={**TEXT, "channel_integration_id": "ch-of-the-payload"})
    assert own["channel_integration_id"] == "ch-of-the-payload"
    overridden = dry_run(payload=TEXT, channel_integration_id="ch-of-the-argument")
    assert overridden["channel_integration_id"] == "ch-of-the-argument"
    without = {k: v for k, v in TEXT.items() if k != "channel_integration_id"}
    assert dry_run(payload=without)["channel_integration_id"] == qontak_sandbox.channel_integration_id


@pytest.mark.parametrize("text", ["{not json", "[1, 2"])
def test_json_text_that_does_not_decode_is_refused_naming_the_field(qontak_sandbox: Any, text: str) -> None:
    assert refusal(**FRIENDLY, body=text) == (
        "body: expected a list or mapping (or its JSON text), got '<invalid JSON text>'"
    )
    assert refusal(**FRIENDLY, body=["a", "b"], buttons=text).startswith(
        "buttons: expected a list or mapping"
    )
    assert refusal(payload=text).startswith("payload: expected a list or mapping (or its JSON text)")


def test_json_text_of_a_list_is_decoded(qontak_sandbox: Any) -> None:
    result = dry_run(**FRIENDLY, body='["Burhan", "Rp150.000"]')
    assert [p["value_text"] for p in result["payload"]["parameters"]["body"]] == ["Burhan", "Rp150.000"]


def test_a_header_file_and_a_header_url_together_are_refused(qontak_sandbox: Any, tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    path.write_bytes(b"%PDF-1.4\n%%EOF\n")
    arguments = {"to_number": "081234567890", "to_name": "Budi", "template_name": "invoice_document"}
    assert refusal(**arguments, header_file=str(path), header_url="https://example.com/a.pdf") == (
        "header_file: expected nothing when header_url is given: the header is one file or one URL, "
        "got 'https://example.com/a.pdf'"
    )
    assert refusal(**arguments, header_file="nosuchfs://bucket/a.pdf").startswith(
        'header_file: expected a local path or a URL of a filesystem Airflow can open, got "nosuchfs://'
        "bucket/a.pdf ("  # then the reason, in Airflow's words
    )


def test_what_a_dry_run_returns_and_what_a_send_returns(qontak_sandbox: Any) -> None:
    """XCom of both: the flags, the template, the number masked unless show_numbers, values hidden on ask."""
    arguments = {**FRIENDLY, "body": ["Burhan", "Rp150.000"]}
    dry = dry_run(**arguments)
    assert (dry["dry_run"], dry["reused"], dry["template_name"]) == (True, False, "song_recommendation")
    assert dry["to_number"] == dry["payload"]["to_number"] == "62812*****890"
    shown = dry_run(**arguments, show_numbers=True)
    assert shown["to_number"] == shown["payload"]["to_number"] == "6281234567890"
    hidden = dry_run(**arguments, mask_values=True)
    assert "Burhan" not in json.dumps(hidden["payload"]) and "Rp150.000" not in json.dumps(hidden["payload"])
    sent = QontakSendDirectOperator(task_id="send", **arguments).execute({})
    (received,) = qontak_sandbox.sends()
    assert (sent["dry_run"], sent["reused"], sent["broadcast_id"]) == (False, False, received["broadcast_id"])
    assert sent["created_at"] and sent["template_name"] == "song_recommendation"
    assert sent["to_number"] == "62812*****890"


def test_header_url_and_header_filename_reach_the_header(qontak_sandbox: Any) -> None:
    arguments = {"to_number": "081234567890", "to_name": "Budi", "template_name": "invoice_document"}
    result = dry_run(
        **arguments, header_url="https://cdn.example.com/x/INV-1.pdf", header_filename="Tagihan.pdf"
    )
    params = {p["key"]: p["value"] for p in result["payload"]["parameters"]["header"]["params"]}
    assert params == {"url": "https://cdn.example.com/x/INV-1.pdf", "filename": "Tagihan.pdf"}


def test_a_header_filename_that_is_not_a_name_is_refused_naming_it(qontak_sandbox: Any) -> None:
    arguments = {"to_number": "081234567890", "template_name": "invoice_document", "header_file": b"%PDF-1.4"}
    said = refusal(**arguments, header_filename=["a.pdf"])
    assert said == "header_filename: expected a file name, got ['a.pdf']"
    blank = {**arguments, "header_file": "  "}
    assert refusal(**blank) == "header_file: expected the path of a file, got '  '"
    assert qontak_sandbox.sends() == [] and qontak_sandbox.uploads() == []


def test_a_payloads_national_number_follows_the_operators_region(qontak_sandbox: Any) -> None:
    payload = {**TEXT, "to_number": "9123 4567"}
    result = QontakSendDirectOperator(
        task_id="send", payload=payload, default_region="SG", show_numbers=True
    ).execute({})
    assert result["to_number"] == "6591234567"
    assert [s["to_number"] for s in qontak_sandbox.sends()] == ["6591234567"]


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ({"template_id": "   "}, "template_id: expected a template id, got '   '"),
        ({"template_name": "  "}, "template_name: expected a template name, got '  '"),
        ({}, "template_id: expected a template id, or a template_name (and language)"),
    ],
    ids=["blank id", "blank name", "neither"],
)
def test_a_template_that_is_not_named_is_refused_word_for_word(
    qontak_sandbox: Any, arguments: dict[str, Any], said: str
) -> None:
    assert refusal(to_number="081234567890", to_name="Budi", body=["a", "b"], **arguments) == said
    assert qontak_sandbox.sends() == []


def test_no_channel_anywhere_is_refused_word_for_word(
    qontak_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_QONTAK_DEFAULT", qontak_sandbox.conn_json(channel_integration_id=None))
    assert refusal(**FRIENDLY, body=["a", "b"]) == (
        "channel_integration_id: expected the id of a WhatsApp channel integration, from the argument or the "
        "connection's 'channel_integration_id' extra. Neither is set; list the ids with "
        "QontakListChannelsOperator."
    )


def test_a_connection_channel_that_is_not_text_is_refused_naming_it(
    qontak_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_QONTAK_DEFAULT", qontak_sandbox.conn_json(channel_integration_id=["a", "b"])
    )
    said = refusal(**FRIENDLY, body=["a", "b"])
    assert said.startswith("channel_integration_id: expected "), said
