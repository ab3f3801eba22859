"""Property tests: whatever a DAG passes in, building yields a sendable request or a payload error.

"Sendable" means: the wire body validates against the API's own request schema (with ``language.code``'s
two-value enum relaxed, as the reference notes explain) and satisfies the template. Nothing but
:class:`QontakPayloadError` may ever escape, and the error must name a field.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import phonenumbers
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from qontak_provider.client.errors import QontakPayloadError
from qontak_provider.client.models import DirectSendRequest, Template
from qontak_provider.client.payload import build_direct_send, normalize_payload, validate_against_template
from qontak_provider.client.phone import is_normalized_phone, mask_phone, normalize_phone

ROOT = Path(__file__).parents[2]
SEEDS: dict[str, dict[str, Any]] = json.loads(
    (ROOT / "tests" / "fixtures" / "seed_payloads.json").read_text()
)


def _relaxed_schema() -> dict[str, Any]:
    schema = json.loads(
        (ROOT / "qontak_provider" / "sandbox" / "data" / "direct_send_request.schema.json").read_text()
    )
    del schema["properties"]["language"]["properties"]["code"]["enum"]
    return schema


VALIDATOR = jsonschema.Draft7Validator(_relaxed_schema())
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _template(template_id: str, body: str, **extra: Any) -> Template:
    return Template.model_validate(
        {
            "id": template_id,
            "name": template_id,
            "language": "id",
            "status": "APPROVED",
            "body": body,
            **extra,
        }
    )


TEMPLATES = [
    _template("plain", "Tanpa variabel."),
    _template("two_vars", "Halo {{1}}, tagihan {{ 2 }} jatuh tempo. {{1}}"),
    _template("image", "Promo {{1}}", header={"format": "IMAGE"}),
    _template("document", "Dokumen.", header={"format": "DOCUMENT"}),
    _template("text_header", "Hi.", header={"format": "TEXT", "text": "Halo"}),
    _template(
        "otp",
        "Kode OTP Anda {{1}}",
        category="AUTHENTICATION",
        buttons=[{"type": "URL", "text": "Salin", "url": "https://www.whatsapp.com/otp/code/?code=otp{{1}}"}],
    ),
    _template(
        "mixed_buttons",
        "Pesanan {{1}}",
        buttons=[
            {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+6221000000"},
            {"type": "URL", "text": "Order", "url": "https://shop.example.com/{{1}}"},
            {"type": "QUICK_REPLY", "text": "Stop"},
        ],
    ),
]

# --------------------------------------------------------------------------------------------- strategies

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["Burhan", "Rp 150.000", "123456", "", " ", "a\nb", "x\ty", "a     b", "0", "1"]),
)
junk = st.recursive(
    scalars | st.binary(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.one_of(st.text(max_size=5), st.integers(-3, 5)), children, max_size=4)
    ),
    max_leaves=10,
)
keys = st.one_of(st.integers(-2, 5), st.sampled_from(["0", "1", "2", "3", " 1 ", "01", "x", "", "1.5"]))
body_values = st.one_of(
    st.none(),
    st.lists(scalars, max_size=4),
    st.dictionaries(keys, scalars, max_size=4),
    st.lists(
        st.fixed_dictionaries(
            {"key": keys, "value_text": scalars},
            optional={"value": scalars, "extra": scalars},
        ),
        max_size=4,
    ),
    junk,
)
button_values = st.one_of(
    st.none(),
    st.lists(scalars, max_size=3),
    st.dictionaries(keys, scalars, max_size=3),
    st.lists(
        st.fixed_dictionaries(
            {"index": keys},
            optional={
                "value": scalars,
                "type": st.one_of(st.none(), st.sampled_from(["url", "URL", "", "x"]), junk),
            },
        ),
        max_size=3,
    ),
    junk,
)
urls = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "https://cdn.qontak.com/uploads/direct/images/x/Gojo_copy.jpeg",
            "https://cdn.example.com/",
            "https://cdn.example.com/a%20b.pdf?x=1",
            "http://cdn.example.com/a.jpg",
            "https://[::1/a.jpg",
            "ftp://x/y",
            "",
        ]
    ),
    st.text(max_size=30),
    junk,
)
phone_chars = st.text(alphabet="0123456789 +-().()/", max_size=20)
phone_numbers = st.one_of(
    phone_chars,
    st.from_regex(r"\A(\+62|62|0)?8[1-9][0-9]{7,10}\Z"),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.text(max_size=20),
    junk,
)
names = st.one_of(st.sampled_from(["Test User", "Budi"]), st.text(max_size=10), junk)
languages = st.one_of(st.none(), st.sampled_from(["id", "en", "en_US", ""]), junk)


def assert_sendable(request: DirectSendRequest, template: Template) -> None:
    wire = request.to_wire()
    VALIDATOR.validate(wire)
    validate_against_template(request, template)
    assert is_normalized_phone(wire["to_number"])
    # A request that is sendable survives the trip through the dict form unchanged.
    assert normalize_payload(wire).to_wire() == wire


# ------------------------------------------------------------------------------------------------ building


@PROPERTY_SETTINGS
@given(
    template=st.sampled_from(TEMPLATES),
    to_number=phone_numbers,
    to_name=names,
    channel=st.one_of(st.just("56b60c3c-0123-46af-958b-32f3ad12ee37"), junk),
    language=languages,
    body=body_values,
    buttons=button_values,
    header_url=urls,
    header_filename=st.one_of(st.none(), st.just("x.pdf"), junk),
)
def test_build_returns_sendable_request_or_payload_error(
    template, to_number, to_name, channel, language, body, buttons, header_url, header_filename
):
    try:
        request = build_direct_send(
            template,
            to_number=to_number,
            to_name=to_name,
            channel_integration_id=channel,
            language=language,
            body=body,
            header_url=header_url,
            header_filename=header_filename,
            buttons=buttons,
        )
    except QontakPayloadError as exc:
        assert exc.field
        event(f"refused: {exc.field.split('[')[0]}")
        return
    event("built")
    assert_sendable(request, template)


good_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=30
).filter(lambda s: s.strip() and "     " not in s)


@PROPERTY_SETTINGS
@given(first=good_text, second=st.one_of(good_text, st.integers()), as_mapping=st.booleans())
def test_valid_friendly_values_always_build(first, second, as_mapping):
    template = TEMPLATES[1]
    body = {"1": first, 2: second} if as_mapping else [first, second]
    request = build_direct_send(
        template, to_number="081234567890", to_name="Budi", channel_integration_id="ch-1", body=body
    )
    assert [p.value_text for p in request.parameters.body or []] == [first, str(second)]
    assert_sendable(request, template)


# ------------------------------------------------------------------------------------------- seed mutations

paths = st.sampled_from(
    [
        ("to_number",),
        ("to_name",),
        ("language",),
        ("language", "code"),
        ("parameters",),
        ("parameters", "body"),
        ("parameters", "body", 0),
        ("parameters", "body", 0, "key"),
        ("parameters", "body", 0, "value_text"),
        ("parameters", "buttons"),
        ("parameters", "buttons", 0, "index"),
        ("parameters", "buttons", 0, "value"),
        ("parameters", "header"),
        ("parameters", "header", "format"),
        ("parameters", "header", "params", 0, "value"),
        ("unknown_field",),
    ]
)


@PROPERTY_SETTINGS
@given(kind=st.sampled_from(sorted(SEEDS)), path=paths, value=st.one_of(junk, phone_numbers))
def test_mutated_seed_payload_is_sendable_or_payload_error(kind, path, value):
    payload = copy.deepcopy(SEEDS[kind])
    target: Any = payload
    for part in path[:-1]:
        try:
            target = target[part]
        except (KeyError, IndexError, TypeError):
            assume(False)
    try:
        target[path[-1]] = value
    except (IndexError, TypeError):
        assume(False)
    try:
        request = normalize_payload(payload)
    except QontakPayloadError as exc:
        assert exc.field
        event("refused")
        return
    event("accepted")
    VALIDATOR.validate(request.to_wire())
    assert is_normalized_phone(request.to_number)


# -------------------------------------------------------------------------------------------------- phones


@PROPERTY_SETTINGS
@given(raw=st.one_of(phone_chars, st.from_regex(r"\A\+?[0-9]{6,16}\Z"), st.integers(0, 10**16), junk))
def test_normalize_phone_is_idempotent_or_refuses(raw):
    try:
        number = normalize_phone(raw)
    except QontakPayloadError as exc:
        assert exc.field == "to_number"
        return
    assert number == normalize_phone(number)
    assert is_normalized_phone(number)


separators = st.sampled_from(["", " ", "-", ".", " - "])


@PROPERTY_SETTINGS
@given(
    operator=st.sampled_from(
        ["811", "812", "813", "821", "822", "852", "853", "857", "858", "878", "895", "896"]
    ),
    rest=st.from_regex(r"\A[0-9]{7,8}\Z"),
    sep=separators,
    style=st.sampled_from(["local", "plus", "bare", "parens", "int"]),
)
def test_every_format_of_an_indonesian_mobile_maps_to_the_same_digits(operator, rest, sep, style):
    national = operator + rest
    assume(phonenumbers.is_valid_number(phonenumbers.parse("+62" + national)))
    first, second = rest[:4], rest[4:]
    formatted = {
        "local": f"0{operator}{sep}{first}{sep}{second}",
        "plus": f"+62{sep}{operator}{sep}{first}{sep}{second}",
        "bare": f"62{sep}{operator}{sep}{first}{sep}{second}",
        "parens": f"(0{operator}) {first}{sep}{second}",
        "int": int("62" + national),
    }[style]
    assert normalize_phone(formatted) == "62" + national


@PROPERTY_SETTINGS
@given(number=st.one_of(st.text(max_size=30), st.integers(), junk))
def test_mask_phone_never_raises_and_hides_the_middle(number):
    masked = mask_phone(number)
    assert isinstance(masked, str)
    assert sum(char.isdigit() for char in masked) <= 8


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_seed_payloads_validate_against_relaxed_schema(kind):
    # Guards the property tests' oracle: the documented payloads must pass it.
    VALIDATOR.validate(SEEDS[kind])
