"""Hostile input is normal input: fuzzers over every argument of the hook, both operators and the notifier.

Each input either works, or is refused with the documented validation error naming the field, before any
request; nothing crashes, and a bad row never aborts a bulk run. The examples are derandomized in CI (the
``ci`` Hypothesis profile, see ``tests/conftest.py``); ``HYPOTHESIS_PROFILE=dev`` searches at random.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qontak_provider.bulk.engine import BulkSender, MemoryStore
from qontak_provider.bulk.render import RowRenderer
from qontak_provider.client.errors import QontakPayloadError
from qontak_provider.client.models import DirectSendRequest
from qontak_provider.client.payload import direct_send_body
from qontak_provider.notifications.qontak import QontakNotifier
from qontak_provider.operators._send import clear_template_cache
from qontak_provider.operators.qontak import QontakSendDirectOperator
from tests.fuzz.fakes import CHANNEL, FakeHook
from tests.fuzz.strategies import SEEDS, junk, plausible_or_junk

EXAMPLES = 1000
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: Field names a validation error may start with: the API's own (``parameters.body[1].value_text``) and the
#: operators' argument names; an unknown key of a payload is named as it was given.
KNOWN_FIELD = re.compile(
    r"(to_number|to_name|message_template_id|channel_integration_id|language(\.code)?|template_id|"
    r"template_name|payload|row|row_params|default_region|dry_run|on_send_in_doubt|mask_values|"
    r"header_url|header_filename|body|buttons|parameters(\.(body|buttons|header))?([\w.]|\[\d+\])*)"
)


def assert_names_the_field(err: BaseException, given: Any = None) -> None:
    """A documented validation error: a QontakPayloadError whose message starts with the field it names."""
    assert isinstance(err, QontakPayloadError), f"{type(err).__name__}: {err}"
    field = err.field
    assert field and str(err).startswith(f"{field}: expected "), str(err)
    if not KNOWN_FIELD.fullmatch(field):  # an unknown key, named as the caller wrote it
        assert "does not document it" in str(err) and isinstance(given, dict), str(err)


def assert_refused_by_the_operator(err: AirflowFailException, given: Any = None) -> None:
    text = str(err)
    cause = err.__cause__
    if text.startswith("Qontak direct send: not found, nothing was sent: "):
        return
    if isinstance(cause, QontakPayloadError):
        assert text.startswith("Invalid Qontak direct send, nothing was sent: "), text
        assert_names_the_field(cause, given)
        return
    assert re.match(r"^(dry_run|on_send_in_doubt): expected ", text), text


PAYLOAD_KEYS = [
    "to_name",
    "to_number",
    "message_template_id",
    "channel_integration_id",
    "language",
    "parameters",
]


def assert_valid_wire(body: dict[str, Any]) -> None:
    """What a send that went out carried: the documented shape, and text that encodes."""
    DirectSendRequest.model_validate(body)
    json.dumps(body, ensure_ascii=False).encode("utf-8")


@st.composite
def mutated_payloads(draw: st.DrawFn) -> Any:
    """A documented payload with junk at one to three places (or junk instead of the payload)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(junk)
    payload = copy.deepcopy(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 3))):
        where = draw(
            st.sampled_from(
                [*PAYLOAD_KEYS, "parameters.body", "parameters.buttons", "parameters.header", "extra"]
            )
        )
        value = draw(junk)
        if where.startswith("parameters.") and isinstance(payload.get("parameters"), dict):
            payload["parameters"][where.split(".", 1)[1]] = value
        elif where == "extra":
            payload[draw(st.sampled_from(["name", "priority", "Language"]))] = value
        else:
            payload[where] = value
    return payload


# ----------------------------------------------------------------------------------------------- the hook


@FUZZ
@given(payload=mutated_payloads())
def test_hook_send_direct_sends_or_names_the_field(payload: Any) -> None:
    """``QontakClient.send_direct`` (what ``QontakHook.send_direct`` calls) validates before any request."""
    try:
        body = direct_send_body(payload)
    except Exception as err:
        assert_names_the_field(err, payload)
        return
    assert_valid_wire(body)


# ------------------------------------------------------------------------------------- the direct operator


class FuzzedSendOperator(QontakSendDirectOperator):
    """The operator with the in-memory hook."""

    fake = FakeHook()

    @property
    def hook(self) -> Any:  # type: ignore[override]
        return self.fake


@FUZZ
@given(
    to_number=plausible_or_junk("0812-3456-7890", "+62 812 3456 7890", 6281234567890, 6281234567890.0),
    to_name=plausible_or_junk("Budi", "مرحبا"),
    template=st.sampled_from(
        [
            {"template_id": "d3e1083c-66ea-410b-b807-1d84182ffa82"},  # body {{1}} {{2}}
            {"template_name": "otp_login"},  # AUTHENTICATION, a code button
            {"template_id": "380d1355-0a65-4dc5-be82-308ee7619910"},  # DOCUMENT header
            {"template_name": "order_update"},  # two languages
            {"template_name": "no_such_template"},
        ]
    ),
    language=plausible_or_junk(None, "id", "en_US"),
    body=plausible_or_junk(None, ["Budi", "lagu"], {"1": "123456"}),
    buttons=plausible_or_junk(None, ["123456"]),
    header_url=plausible_or_junk(None, "https://cdn.qontak.com/uploads/direct/files/x/invoice.pdf"),
    header_filename=plausible_or_junk(None, "invoice.pdf"),
    channel=plausible_or_junk(None, CHANNEL),
    region=plausible_or_junk(None, "ID", "US"),
    dry_run=plausible_or_junk(False, True, "False"),
    use_payload=st.booleans(),
    payload=mutated_payloads(),
)
def test_direct_operator_sends_or_names_the_field(
    to_number,
    to_name,
    template,
    language,
    body,
    buttons,
    header_url,
    header_filename,
    channel,
    region,
    dry_run,
    use_payload,
    payload,
) -> None:
    clear_template_cache()
    fake = FuzzedSendOperator.fake
    before = len(fake.sent)
    arguments: dict[str, Any] = {"to_number": to_number, "to_name": to_name, "default_region": region}
    if use_payload:
        arguments["payload"] = payload
    else:
        arguments |= {
            **template,
            "language": language,
            "body": body,
            "buttons": buttons,
            "header_url": header_url,
            "header_filename": header_filename,
            "channel_integration_id": channel,
            "dry_run": dry_run,
        }
    try:
        result = FuzzedSendOperator(task_id="fuzz", **arguments).execute({})
    except AirflowFailException as err:
        assert_refused_by_the_operator(err, payload if use_payload else None)
        assert len(fake.sent) == before  # refused before any request
        return
    assert len(fake.sent) in (before, before + 1)
    if len(fake.sent) > before:
        assert_valid_wire(fake.sent[-1])
    json.dumps(result)  # XCom-safe


# --------------------------------------------------------------------------------------- the bulk engine


def bulk_rows() -> st.SearchStrategy[list[dict[str, Any]]]:
    row = st.fixed_dictionaries(
        {
            "phone": plausible_or_junk("0812-3456-7890", 81234567890.0, "6281234567890"),
            "name": plausible_or_junk("Budi", "😀"),
            "amount": plausible_or_junk("Rp 1", 10000, 1.5),
            "due": plausible_or_junk("1 Mei", None),
        },
        optional={"id": plausible_or_junk("C1", 7)},
    )
    return st.lists(st.one_of(row, junk), min_size=1, max_size=6)


@FUZZ
@given(data=bulk_rows())
def test_bulk_rows_are_sent_or_invalid_and_never_abort_the_run(data: list[Any]) -> None:
    fake = FakeHook()
    renderer = RowRenderer(
        fake.get_template("f18e84b3-8bcb-536d-81e9-e2d5ab7f7fd8"),  # payment_reminder: {{1}} {{2}} {{3}}
        channel_integration_id=CHANNEL,
        body={"1": "{{ row.name }}", "2": "{{ row.amount }}", "3": "{{ row.due }}"},
        key_column="id",
    )
    results: list[Any] = []
    report = BulkSender(
        send=fake.send_direct,
        prepare=renderer.prepare,
        key_of=renderer.key_of,
        number_of=renderer.masked_number_of,
        store=MemoryStore(),
        on_result=results.append,
        max_concurrency=2,
    ).run(data)
    assert report.rows == len(data) == len(results)
    assert set(report.counts) <= {"sent", "invalid", "duplicate"}, report.counts
    assert report.counts["sent"] == len(fake.sent)
    for result in results:
        if result.outcome == "invalid":
            assert re.match(r"^[\w.\[\]]+: expected ", result.error), result.error
        json.dumps(result.as_dict())
    for body in fake.sent:
        assert_valid_wire(body)


# -------------------------------------------------------------------------------------------- the notifier


class FuzzedNotifier(QontakNotifier):
    fake = FakeHook()

    @property
    def hook(self) -> Any:  # type: ignore[override]
        return self.fake


@FUZZ
@given(
    numbers=plausible_or_junk("0812-3456-7890", ["+62 812 3456 7890", "0813 1111 2222"], "x;y,z"),
    body=plausible_or_junk(["a", "b", "c", "d", "e", "f"], {"1": "{{ 1 + 1 }}"}),
    language=plausible_or_junk("en_US", None),
    buttons=plausible_or_junk(None),
    header_url=plausible_or_junk(None),
    to_name=plausible_or_junk("Airflow alerts"),
)
def test_notifier_never_raises_and_sends_only_valid_messages(
    numbers, body, language, buttons, header_url, to_name
):
    fake = FuzzedNotifier.fake
    before = len(fake.sent)
    try:
        notifier = FuzzedNotifier(
            to_numbers=numbers,
            template_name="airflow_task_alert",
            language=language,
            body=body,
            buttons=buttons,
            header_url=header_url,
            to_name=to_name,
        )
    except (ValueError, TypeError) as err:  # refused when the DAG is parsed, naming the argument
        assert re.search(r"to_numbers|template|max_param_length|to_name", str(err)), str(err)
        return
    notifier.notify({})  # must not raise, whatever it was given
    for body_sent in fake.sent[before:]:
        assert_valid_wire(body_sent)


@pytest.mark.parametrize(
    ("payload_change", "field"),
    [
        ({"to_name": "Budi \ud83d"}, "to_name"),
        ({"to_name": "x" * 10_000}, "to_name"),
        ({"to_name": "bell\x07"}, "to_name"),
        ({"channel_integration_id": "56b60c3c\n"}, "channel_integration_id"),
    ],
)
def test_the_issues_crashes_are_refused_naming_the_field(payload_change: dict[str, Any], field: str) -> None:
    with pytest.raises(QontakPayloadError) as info:
        direct_send_body({**SEEDS["otp"], **payload_change})
    assert info.value.field == field
