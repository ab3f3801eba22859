"""Property: whatever arguments a DAG passes, the operator either sends a payload the sandbox accepts or
fails with a validation error naming the field, before any request; nothing else escapes."""

from __future__ import annotations

import re

import pytest
from airflow.sdk.exceptions import AirflowFailException
from conftest import api_sends
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qontak_provider.operators.qontak import QontakSendDirectOperator

VIDEO = "70332b74-e9bd-4829-bb31-c46924e7d3ff"  # VIDEO header, body {{1}} {{2}} {{3}}
FIELD_RE = re.compile(
    r"^Invalid Qontak direct send, nothing was sent: "
    r"(to_number|to_name|default_region|language(\.code)?|parameters\.(body|buttons|header)[\w.\[\]]*)"
    r": expected "
)

phones = st.one_of(
    st.from_regex(r"\+?[0-9 \-().]{0,20}", fullmatch=True),
    st.sampled_from(["6281234567890", "0812-3456-7890", "+1 415 555 2671", "81234567890", "", "abc"]),
    st.integers(min_value=-1, max_value=10**16),
    st.none(),
)
texts = st.one_of(st.text(max_size=12), st.integers(), st.floats(allow_nan=False), st.none(), st.booleans())
bodies = st.one_of(
    st.lists(texts, max_size=4),
    st.dictionaries(
        st.one_of(st.sampled_from(["1", "2", "3", "4", "0", "x"]), st.integers(-1, 4)), texts, max_size=4
    ),
    st.none(),
    st.text(max_size=5),
)
urls = st.one_of(
    st.sampled_from(
        ["https://cdn.example.com/v.mp4", "http://cdn.example.com/v.mp4", "https://", "ftp://x/y"]
    ),
    st.text(max_size=10),
    st.none(),
)


@pytest.mark.qontak_sandbox(rate_limit=0)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    to_number=phones,
    to_name=st.one_of(st.text(max_size=8), st.none()),
    body=bodies,
    header_url=urls,
    region=st.sampled_from([None, "ID", "US", "SG", "xx", "zz"]),
)
@example(
    to_number="0812-3456-7890",
    to_name="A",
    body=["a", 2, 3.5],
    header_url="https://cdn.example.com/v.mp4",
    region=None,
)
def test_any_input_is_sent_or_refused_naming_the_field(
    qontak_sandbox, to_number, to_name, body, header_url, region
):
    before_api, before_accepted = api_sends(qontak_sandbox), len(qontak_sandbox.sends())
    operator = QontakSendDirectOperator(
        task_id="send",
        to_number=to_number,
        to_name=to_name,
        template_id=VIDEO,
        body=body,
        header_url=header_url,
        default_region=region,
    )
    try:
        result = operator.execute({})
    except AirflowFailException as failure:
        assert FIELD_RE.match(str(failure)), str(failure)
        assert api_sends(qontak_sandbox) == before_api  # refused before any request
        return
    # Sent: the sandbox (which validates against the OpenAPI schema and the template) accepted it.
    assert len(qontak_sandbox.sends()) == before_accepted + 1
    assert qontak_sandbox.sends()[-1]["broadcast_id"] == result["broadcast_id"]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(to_number=phones, body=bodies)
def test_dry_run_never_raises_anything_but_a_field_error(qontak_sandbox, to_number, body):
    operator = QontakSendDirectOperator(
        task_id="send",
        to_number=to_number,
        to_name="A",
        template_id=VIDEO,
        body=body,
        header_url="https://cdn.example.com/v.mp4",
        dry_run=True,
    )
    try:
        result = operator.execute({})
    except AirflowFailException as failure:
        assert FIELD_RE.match(str(failure)), str(failure)
    else:
        assert result["dry_run"] is True and result["payload"]["to_number"] == result["to_number"]
    assert api_sends(qontak_sandbox) == 0
