"""The argument forms docs/reference/arguments.rst shows for QontakSendDirectOperator, checked by dry runs.

A dry run fetches the template, builds and validates the request and returns it without sending, so each
form can be compared with the others against the sandbox's templates.
"""

from __future__ import annotations

import pytest

from qontak_provider.operators.qontak import QontakSendDirectOperator

# [START howto_operator_qontak_body_forms]
body = {"1": "Burhan", "2": "Rp150.000"}  # placeholder number -> value (str or int keys)
body = ["Burhan", "Rp150.000"]  # the first item fills {{1}}
body = [  # the API's own form, as in Qontak's documentation
    {"key": "1", "value_text": "Burhan", "value": "customer_name"},
    {"key": "2", "value_text": "Rp150.000", "value": "amount"},
]
# [END howto_operator_qontak_body_forms]

BODY_FORMS = {
    "mapping": {"1": "Burhan", "2": "Rp150.000"},
    "int keys": {1: "Burhan", 2: "Rp150.000"},
    "list": ["Burhan", "Rp150.000"],
    "api": body,
    "json text": '{"1": "Burhan", "2": "Rp150.000"}',  # what "{{ ... }}" renders to without native objects
}


def dry_run(**arguments) -> dict:
    return QontakSendDirectOperator(task_id="check", dry_run=True, **arguments).execute({})


@pytest.mark.parametrize("form", sorted(BODY_FORMS))
def test_every_body_form_fills_the_same_placeholders(qontak_sandbox, form):
    result = dry_run(
        to_number="0812-3456-7890",
        to_name="Burhan",
        template_name="song_recommendation",
        body=BODY_FORMS[form],
    )
    assert result["dry_run"] is True and result["broadcast_id"] is None
    values = [(p["key"], p["value_text"]) for p in result["payload"]["parameters"]["body"]]
    assert values == [("1", "Burhan"), ("2", "Rp150.000")]
    assert qontak_sandbox.sends() == []  # nothing was sent


@pytest.mark.parametrize(
    "number", ["6281234567890", "+62 812-3456-7890", "0812 3456 7890", "(0812) 3456-7890"]
)
def test_every_way_of_writing_a_number_is_sent_as_digits_with_country_code(qontak_sandbox, number):
    result = dry_run(to_number=number, to_name="Burhan", template_name="song_recommendation", body=["a", "b"])
    assert result["payload"]["to_number"] == "62812*****890"  # masked in XCom; sent as 6281234567890


def test_buttons_as_a_list_or_a_mapping_fill_the_dynamic_url_button(qontak_sandbox):
    recipient = {"to_number": "6281234567890", "to_name": "Test User", "template_name": "feature_link"}
    by_list = dry_run(**recipient, buttons=["x"])
    by_index = dry_run(**recipient, buttons={"0": "x"})
    assert by_list["payload"]["parameters"]["buttons"] == by_index["payload"]["parameters"]["buttons"]
    assert by_list["payload"]["parameters"]["buttons"][0]["value"] == "x"
