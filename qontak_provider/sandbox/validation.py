"""Validation of direct-send bodies: the upstream JSON schema, then what Qontak checks against its data.

Every problem becomes one human-readable message that starts with the offending field, e.g.
``parameters.body: template 'payment_reminder' has 3 body variables ({{1}}, {{2}}, {{3}}) but 2 were given``.
All problems of a body are reported at once, in the ``messages`` of one 422 envelope.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

WHATSAPP_CHANNELS = frozenset({"wa", "wa_cloud"})
MEDIA_FORMATS = frozenset({"IMAGE", "DOCUMENT", "VIDEO"})
#: Button types whose value is the code of an AUTHENTICATION template, supplied at send time.
CODE_BUTTON_TYPES = frozenset({"OTP", "COPY_CODE"})
#: A WhatsApp template variable: ``{{1}}``, ``{{2}}``... (WhatsApp allows no spaces inside the braces).
_VARIABLE = re.compile(r"\{\{(\d+)\}\}")
#: The one variable a dynamic URL button may carry.
_URL_VARIABLE = "{{1}}"


@cache
def _raw_schema() -> dict[str, Any]:
    text = (
        resources.files("qontak_provider.sandbox")
        .joinpath("data/direct_send_request.schema.json")
        .read_text(encoding="utf-8")
    )
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def direct_send_schema(language_enum: bool = False) -> dict[str, Any]:
    """The gateway's direct-send request schema; unless ``language_enum``, without ``language.code``'s enum.

    The ``id``/``en`` enum is too narrow: templates exist in ``en_US`` and dozens of other languages, and the
    field is documented as "the same as language from template" (reference notes, section 3.1). The variant
    ``language_check="spec_enum"`` keeps it, to play a gateway that enforces the schema as written.
    """
    schema = copy.deepcopy(_raw_schema())
    if not language_enum:
        schema["properties"]["language"]["properties"]["code"].pop("enum", None)
    return schema


@cache
def _validator(language_enum: bool) -> Any:
    from jsonschema import Draft7Validator

    return Draft7Validator(direct_send_schema(language_enum))


def _field_path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def schema_errors(body: Any, *, language_enum: bool = False) -> list[str]:
    """Return one message per schema violation, naming the field (empty when the body conforms).

    :param language_enum: enforce the schema's ``id``/``en`` enum of ``language.code``.
    """
    if not isinstance(body, dict):
        return [f"request body: expected a JSON object, got {type(body).__name__}"]
    messages = []
    for error in sorted(
        _validator(language_enum).iter_errors(body),
        key=lambda e: (list(map(str, e.absolute_path)), e.message),
    ):
        where = _field_path(error.absolute_path)
        if error.validator == "required":
            missing = [name for name in error.validator_value if name not in error.instance]
            for name in missing:
                field = f"{where}.{name}" if where else name
                messages.append(f"{field} is missing; it is required")
        elif error.validator == "type":
            messages.append(
                f"{where or 'request body'}: expected {error.validator_value}, "
                f"got {type(error.instance).__name__} {error.instance!r}"
            )
        elif error.validator == "enum":
            allowed = ", ".join(map(str, error.validator_value))
            messages.append(f"{where}: must be one of {allowed}; got {error.instance!r}")
        else:
            messages.append(f"{where or 'request body'}: {error.message}")
    return messages


# ------------------------------------------------------------------------------------ template reading
# The sandbox reads its raw template dicts itself instead of using the client's models, so that a wrong
# reading of a template on the client side is caught here rather than agreed with.


def body_variables(template: dict[str, Any]) -> list[str]:
    """The distinct variable numbers of the template's body, ascending, e.g. ``["1", "2"]``."""
    numbers = {int(number) for number in _VARIABLE.findall(str(template.get("body") or ""))}
    return [str(number) for number in sorted(numbers)]


def header_format(template: dict[str, Any]) -> str | None:
    """The header's ``format`` in upper case (``TEXT``, ``IMAGE``...), or ``None`` without a header."""
    header = template.get("header")
    if not isinstance(header, dict) or not header.get("format"):
        return None
    return str(header["format"]).upper()


def media_header_format(template: dict[str, Any]) -> str | None:
    """``IMAGE``, ``VIDEO`` or ``DOCUMENT`` when the header is media sent as a URL at send time."""
    kind = header_format(template)
    return kind if kind in MEDIA_FORMATS else None


def template_buttons(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in template.get("buttons") or [] if isinstance(b, dict)]


def button_takes_value(button: dict[str, Any]) -> bool:
    """Whether a send must supply this button's value: a URL with ``{{1}}``, or an OTP / copy-code button."""
    kind = str(button.get("type") or "").upper()
    if kind in CODE_BUTTON_TYPES:
        return True
    return kind == "URL" and _URL_VARIABLE in str(button.get("url") or "")


# ------------------------------------------------------------------------------------------ the checks


@dataclass(frozen=True)
class SendPlan:
    """A direct send that passed validation: the resolved channel and template, and the language asked for."""

    channel: dict[str, Any]
    template: dict[str, Any]
    language: str


def _placeholder_list(keys: list[str]) -> str:
    return ", ".join("{{" + key + "}}" for key in keys)


def _check_body(template: dict[str, Any], params: dict[str, Any]) -> list[str]:
    expected = body_variables(template)
    given = params.get("body") or []
    name = template["name"]
    if len(given) != len(expected):
        if expected:
            plural = "s" if len(expected) != 1 else ""
            wanted = f"{len(expected)} body variable{plural} ({_placeholder_list(expected)})"
        else:
            wanted = "no body variables"
        return [
            f"parameters.body: template '{name}' has {wanted} but {len(given)} "
            f"{'were' if len(given) != 1 else 'was'} given"
        ]
    messages = []
    keys = [str(item.get("key")) for item in given]
    if sorted(keys, key=_numeric) != expected:
        messages.append(
            f"parameters.body: keys must be {', '.join(repr(k) for k in expected)} "
            f"(one per {{{{n}}}} in the body of template '{name}'); got {', '.join(repr(k) for k in keys)}"
        )
    for index, item in enumerate(given):
        if not str(item.get("value_text", "")).strip():
            messages.append(
                f"parameters.body[{index}].value_text: must not be empty "
                f"(it replaces {{{{{item.get('key')}}}}})"
            )
    return messages


def _numeric(key: str) -> tuple[int, str]:
    return (int(key), key) if key.isdigit() else (1_000_000, key)


def _check_header(template: dict[str, Any], params: dict[str, Any]) -> list[str]:
    expected = media_header_format(template)
    header = params.get("header")
    name = template["name"]
    if expected is None:
        if header:
            shown = header_format(template)
            has = f"a {shown} header" if shown else "no header"
            return [
                f"parameters.header: template '{name}' has {has}, which takes no parameters; "
                "remove parameters.header"
            ]
        return []
    if not header:
        return [
            f"parameters.header is missing: template '{name}' has a {expected} header; send "
            f'{{"format": "{expected}", "params": [{{"key": "url", "value": "https://..."}}, '
            f'{{"key": "filename", "value": "..."}}]}}'
        ]
    messages = []
    given_format = str(header.get("format", ""))
    if given_format != expected:
        messages.append(
            f"parameters.header.format: template '{name}' has a {expected} header; got {given_format!r}"
        )
    values = {str(p.get("key")): p.get("value") for p in header.get("params") or [] if isinstance(p, dict)}
    url = values.get("url")
    if not url:
        messages.append(
            f"parameters.header.params: a {{'key': 'url'}} entry with the media URL is required "
            f"for a {expected} header"
        )
    elif urlsplit(str(url)).scheme not in {"http", "https"} or not urlsplit(str(url)).netloc:
        messages.append(f"parameters.header.params.url: must be a public http(s) URL; got {url!r}")
    if expected == "DOCUMENT" and not values.get("filename"):
        messages.append(
            "parameters.header.params: a {'key': 'filename'} entry is required for a DOCUMENT header "
            "(WhatsApp shows it as the document's name)"
        )
    return messages


def _check_buttons(template: dict[str, Any], params: dict[str, Any]) -> list[str]:
    buttons = template_buttons(template)
    given = params.get("buttons") or []
    by_index = {str(item.get("index")): item for item in given}
    name = template["name"]
    messages = []
    for index, item in enumerate(given):
        position = str(item.get("index"))
        if not position.isdigit() or int(position) >= len(buttons):
            messages.append(
                f"parameters.buttons[{index}].index: template '{name}' has "
                f"{len(buttons)} button(s); there is no button {position!r}"
            )
    for number, button in enumerate(buttons):
        if not button_takes_value(button):
            continue  # values for static buttons are ignored, like WhatsApp does
        position = str(number)
        item = by_index.get(position)
        if item is None or not str(item.get("value") or "").strip():
            kind, url = button.get("type"), button.get("url")
            target = f" ({kind} {url!r})" if url else f" ({kind})"
            messages.append(
                f"parameters.buttons: template '{name}' button {position}{target} needs a value; "
                "send "
                f'{{"index": "{position}", "type": "url", "value": "..."}}'
            )
    return messages


def _check_language(body: dict[str, Any]) -> list[str]:
    if not str(body["language"].get("code") or "").strip():
        return ["language.code: must not be empty (the language of the template, e.g. 'id' or 'en_US')"]
    return []


def check_send(
    body: dict[str, Any], channels: dict[str, dict[str, Any]], templates: dict[str, dict[str, Any]]
) -> SendPlan | list[str]:
    """Check a schema-valid body against the account's data; return the plan or the list of problems."""
    messages: list[str] = []
    channel_id = body["channel_integration_id"]
    channel = channels.get(channel_id)
    if channel is None:
        messages.append(f"channel_integration_id: channel integration {channel_id!r} was not found")
    elif channel.get("target_channel") not in WHATSAPP_CHANNELS:
        messages.append(
            f"channel_integration_id: channel integration {channel_id!r} is a "
            f"{channel.get('target_channel')!r} channel, not WhatsApp (wa or wa_cloud)"
        )
    elif not channel.get("is_active", True):
        messages.append(f"channel_integration_id: channel integration {channel_id!r} is not active")

    template_id = body["message_template_id"]
    raw_template = templates.get(template_id)
    if raw_template is None:
        messages.append(f"message_template_id: template {template_id!r} was not found")
    else:
        status = str(raw_template.get("status") or "")
        if status.upper() != "APPROVED":
            messages.append(
                f"message_template_id: template '{raw_template['name']}' ({template_id}) is {status}; "
                "only APPROVED templates can be sent"
            )
        else:
            params = body.get("parameters") or {}
            messages += _check_body(raw_template, params)
            messages += _check_header(raw_template, params)
            messages += _check_buttons(raw_template, params)
    messages += _check_language(body)
    if not any(ch.isdigit() for ch in body["to_number"]):
        messages.append(
            "to_number: expected a phone number with country code, e.g. 6281234567890; "
            f"got {body['to_number']!r}"
        )
    if messages:
        return messages
    assert channel is not None and raw_template is not None  # for mypy: both were found above
    return SendPlan(channel=channel, template=raw_template, language=str(body["language"]["code"]))


def translation_for(
    template: dict[str, Any], language: str, templates: Iterable[dict[str, Any]]
) -> dict[str, Any] | None:
    """The template WhatsApp sends for ``language``: this one, an APPROVED one of the same name, or ``None``.

    WhatsApp looks templates up by name and language, so a sibling translation saves a send whose
    ``language.code`` differs from the template's own language (``language_check="template"``).
    """
    if template.get("language") == language:
        return template
    return next(
        (
            t
            for t in templates
            if t.get("name") == template.get("name")
            and t.get("language") == language
            and str(t.get("status") or "").upper() == "APPROVED"
        ),
        None,
    )


def missing_translation_text(template: dict[str, Any], language: str) -> str:
    """WhatsApp's error text (from the spec's log example) when no translation exists."""
    return (
        f"The template ({template['name']}) does not exist in the specified language "
        f"({language}) and locale (), or the template has not been approved"
    )
