"""Build direct-send payloads from friendly arguments and check them against their template.

Pure functions, no I/O: everything here runs before a request is made, so a bad row is refused with a
:class:`~qontak_provider.client.errors.QontakPayloadError` that names the field, what the template expects
and what was given, instead of a WhatsApp message that fails (or goes out wrong) after the send.

* :func:`build_direct_send` assembles a :class:`~qontak_provider.client.models.DirectSendRequest` for a
  :class:`~qontak_provider.client.models.Template` and validates it.
* :func:`normalize_payload` accepts a whole payload dict (the documented seed payloads verbatim).
* :func:`validate_against_template` checks a payload against the template it names.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, TypeGuard
from urllib.parse import unquote, urlsplit

from pydantic import ValidationError

from qontak_provider.client.errors import QontakPayloadError
from qontak_provider.client.models import DirectSendRequest, Template, TemplateStatus
from qontak_provider.client.phone import is_normalized_phone, mask_phone, normalize_phone

__all__ = [
    "MAX_TEXT",
    "build_direct_send",
    "check_text",
    "direct_send_body",
    "language_mismatch",
    "normalize_payload",
    "parse_payload",
    "printable",
    "validate_against_template",
]

# WhatsApp refuses template parameters with new lines, tabs or more than four consecutive spaces
# (Cloud API error 132018); catching it here saves a send that would fail in the broadcast log.
_BAD_PARAM_TEXT_RE = re.compile(r"[\n\r\t]| {5,}")
# Placeholder and button numbers are small; the bound also keeps int() away from huge digit strings.
_DIGITS_RE = re.compile(r"[0-9]{1,6}")
_SEED_BODY_KEYS = frozenset({"key", "value_text", "value"})
_SEED_BUTTON_KEYS = frozenset({"index", "type", "value"})
_HEADER_PARAM_KEYS = ("url", "filename")
#: Longest texts accepted, per kind of field. WhatsApp limits a template body to 1,024 characters, so no one
#: body value can be longer, and a URL button's value to 2,000; the others are generous bounds against junk.
MAX_TEXT = {
    "name": 256,
    "number": 32,
    "id": 128,
    "value_text": 1024,
    "label": 256,
    "button": 2000,
    "url": 2048,
    "filename": 255,
    "type": 32,
}
#: WhatsApp's template language codes: ``id``, ``en``, ``fil``, ``en_US``, ``pt_BR``, ``zh_HK``...
_LANGUAGE_RE = re.compile(r"[A-Za-z]{2,3}(?:[_-][A-Za-z0-9]{2,8}){0,2}")
_MAX_GIVEN_REPR = 80


# ------------------------------------------------------------------------------------------------- build


def build_direct_send(
    template: Template,
    *,
    to_number: str | int,
    to_name: str,
    channel_integration_id: str,
    language: str | None = None,
    body: Mapping[Any, Any] | Sequence[Any] | None = None,
    header_url: str | None = None,
    header_filename: str | None = None,
    buttons: Mapping[Any, Any] | Sequence[Any] | None = None,
    default_region: str = "ID",
) -> DirectSendRequest:
    """
    Build the direct-send request for one recipient of ``template``, validated against the template.

    Body values (``body``), each converted with ``str()``; ``None``, bytes and containers are refused:

    * a mapping ``{"1": "Burhan", 2: "x"}`` of placeholder key (``str`` or ``int``) to value;
    * a list ``["Burhan", "x"]``: the item at position *p* fills placeholder ``{{p+1}}``;
    * the API's own list of ``{"key", "value_text", "value"}`` dicts; ``value`` (a free label) is optional.

    The label ``value`` that the API requires next to each ``value_text`` defaults to ``param_<key>``.

    Button values (``buttons``):

    * a mapping ``{"0": "suffix"}`` of *absolute* 0-based button index (``str`` or ``int``) to value;
    * a list ``["suffix"]``: items fill the template's *dynamic* buttons
      (:attr:`~qontak_provider.client.models.Template.dynamic_button_indexes`) in order, so static buttons
      before them need no placeholder;
    * the API's own list of ``{"index", "type", "value"}`` dicts; a given ``type`` is kept verbatim.

    A derived button ``type`` mirrors the documented examples: ``"url"`` for the code button of an
    AUTHENTICATION template and for OTP / COPY_CODE buttons (the OTP example), ``"URL"`` for the dynamic URL
    button of other templates (the CTA example).

    The header ``format`` comes from the template; its params are ``url`` and ``filename`` (default: the last
    path segment of the URL; omitted when the URL has none). The result always carries ``body`` and
    ``buttons`` lists (empty when there is nothing to fill), and ``header`` only for a media-header template.

    :param template: the template to send, e.g. from ``QontakClient.get_template``.
    :param to_number: recipient phone number in any common format; see
        :func:`~qontak_provider.client.phone.normalize_phone`.
    :param to_name: recipient name shown in Qontak.
    :param channel_integration_id: id of the WhatsApp channel integration to send from.
    :param language: language code; defaults to the template's language.
    :param body: values for the body placeholders ``{{1}}``, ``{{2}}``…
    :param header_url: public ``https://`` URL of the header media, for IMAGE / DOCUMENT / VIDEO headers.
    :param header_filename: file name shown for the header media.
    :param buttons: values for dynamic buttons (URL suffix, OTP code).
    :param default_region: region for phone numbers written without country code.
    :return: the request, ready for ``send_direct``.
    :raises QontakPayloadError: naming the offending field when the arguments cannot make a valid send.
    """
    if not isinstance(template, Template):
        raise QontakPayloadError("template", "a Template (e.g. from get_template)", _type_name(template))
    code = template.language if language is None else language
    if not isinstance(code, str) or not code.strip():
        raise QontakPayloadError(
            "language.code",
            f"a language code (template {template.name!r} has language {template.language!r})",
            _given(code),
        )
    _check_language_code(code)
    parameters: dict[str, Any] = {}
    header = _build_header(template, header_url, header_filename)
    if header is not None:
        parameters["header"] = header
    parameters["body"] = _build_body(body)
    parameters["buttons"] = _build_buttons(template, buttons)

    request = _validate_model(
        {
            "to_name": _required_text("to_name", to_name, "the recipient's name"),
            "to_number": normalize_phone(to_number, default_region),
            "message_template_id": template.id,
            "channel_integration_id": _required_text(
                "channel_integration_id", channel_integration_id, "the id of a WhatsApp channel integration"
            ),
            "language": {"code": code},
            "parameters": parameters,
        }
    )
    validate_against_template(request, template)
    return request


def _build_body(body: object) -> list[dict[str, str]]:
    if body is None:
        return []
    if isinstance(body, Mapping):
        entries: list[tuple[str, object, object]] = [
            (_placeholder_key(key, "parameters.body"), value, None) for key, value in body.items()
        ]
        # Numeric order, like the placeholders themselves and the documented examples.
        entries.sort(key=lambda entry: int(entry[0]))
    elif _is_list(body):
        items = list(body)
        if _mixed(items):
            raise QontakPayloadError(
                "parameters.body",
                "either a list of values or a list of {key, value_text, value} dicts, not both",
                _given(items),
            )
        if items and isinstance(items[0], Mapping):
            entries = [_seed_body_entry(position, item) for position, item in enumerate(items)]
        else:
            entries = [(str(position + 1), value, None) for position, value in enumerate(items)]
    else:
        raise QontakPayloadError(
            "parameters.body",
            "a mapping {'1': value}, a list of values, or a list of {key, value_text, value} dicts",
            _type_name(body),
        )
    result = []
    for position, (key, value, label) in enumerate(entries):
        field = f"parameters.body[{position}]"
        result.append(
            {
                "key": key,
                "value_text": _param_text(f"{field}.value_text", value),
                "value": f"param_{key}" if label is None else _param_text(f"{field}.value", label),
            }
        )
    return result


def _seed_body_entry(position: int, item: Mapping[Any, Any]) -> tuple[str, object, object]:
    field = f"parameters.body[{position}]"
    unknown = set(item) - _SEED_BODY_KEYS
    if unknown:
        raise QontakPayloadError(
            field, "only the keys 'key', 'value_text' and 'value'", sorted(map(str, unknown))
        )
    if "key" not in item or "value_text" not in item:
        raise QontakPayloadError(field, "a dict with 'key' and 'value_text' (and optionally 'value')")
    return _placeholder_key(item["key"], f"{field}.key"), item["value_text"], item.get("value")


def _build_buttons(template: Template, buttons: object) -> list[dict[str, str]]:
    if buttons is None:
        return []
    if isinstance(buttons, Mapping):
        pairs = [(_button_index(index, "parameters.buttons"), value) for index, value in buttons.items()]
        pairs.sort(key=lambda pair: int(pair[0]))
        return [
            _button_entry(template, position, index, value, None)
            for position, (index, value) in enumerate(pairs)
        ]
    if not _is_list(buttons):
        raise QontakPayloadError(
            "parameters.buttons",
            "a mapping {'0': value}, a list of values, or a list of {index, type, value} dicts",
            _type_name(buttons),
        )
    items = list(buttons)
    if _mixed(items):
        raise QontakPayloadError(
            "parameters.buttons",
            "either a list of values or a list of {index, type, value} dicts, not both",
            _given(items),
        )
    if items and isinstance(items[0], Mapping):
        result = []
        for position, item in enumerate(items):
            field = f"parameters.buttons[{position}]"
            unknown = set(item) - _SEED_BUTTON_KEYS
            if unknown:
                raise QontakPayloadError(
                    field, "only the keys 'index', 'type' and 'value'", sorted(map(str, unknown))
                )
            if "index" not in item:
                raise QontakPayloadError(field, "a dict with 'index' (and 'type', 'value')")
            kind = item.get("type")
            if kind is not None and not isinstance(kind, str):
                raise QontakPayloadError(f"{field}.type", "a button type such as 'url'", _given(kind))
            index = _button_index(item["index"], f"{field}.index")
            result.append(_button_entry(template, position, index, item.get("value"), kind))
        return result
    dynamic = template.dynamic_button_indexes
    if len(items) > len(dynamic):
        raise QontakPayloadError(
            "parameters.buttons",
            f"at most {len(dynamic)} value(s): template {template.name!r} "
            f"has dynamic buttons at indexes {dynamic}",
            _given(items),
        )
    return [
        _button_entry(template, position, index, value, None)
        for position, (index, value) in enumerate(zip(dynamic, items, strict=False))
    ]


def _button_entry(
    template: Template, position: int, index: str, value: object, kind: str | None
) -> dict[str, str]:
    entry = {"index": index, "type": kind if kind is not None else _button_type(template, index)}
    if value is not None:
        entry["value"] = _param_text(f"parameters.buttons[{position}].value", value)
    return entry


def _button_type(template: Template, index: str) -> str:
    """The ``type`` to send for the template's button ``index`` (see :func:`build_direct_send`)."""
    position = int(index)
    button = template.buttons[position] if position < len(template.buttons) else None
    kind = ((button.type if button else None) or "").upper()
    if kind in {"OTP", "COPY_CODE"} or (template.category or "").upper() == "AUTHENTICATION":
        return "url"
    # Unknown or static buttons get "URL" too; validation then reports the index itself as the problem.
    return "URL"


def _build_header(template: Template, url: object, filename: object) -> dict[str, Any] | None:
    if url is None:
        if filename is not None:
            raise QontakPayloadError(
                "parameters.header.params.filename",
                "header_url together with header_filename",
                _given(filename),
            )
        return None
    if not template.needs_media_header:
        raise QontakPayloadError(
            "parameters.header",
            f"no header_url: template {template.name!r} has {_describe_header(template)}",
            _given(url),
        )
    if not isinstance(url, str):
        raise QontakPayloadError("parameters.header.params.url", "an https:// URL", _given(url))
    if filename is None:
        filename = _filename_from_url(url)
    elif not isinstance(filename, str):
        raise QontakPayloadError("parameters.header.params.filename", "a file name", _given(filename))
    params = [{"key": "url", "value": url}]
    if filename:
        params.append({"key": "filename", "value": filename})
    return {"format": template.header_format, "params": params}


# --------------------------------------------------------------------------------------------- normalize


def normalize_payload(
    payload: Mapping[str, Any] | DirectSendRequest, *, default_region: str = "ID"
) -> DirectSendRequest:
    """
    Turn a whole direct-send payload into a :class:`DirectSendRequest` with a normalised ``to_number``.

    The documented payloads pass verbatim, and fields they leave out stay out of
    :meth:`DirectSendRequest.to_wire`. Integer ``body[].key`` and ``buttons[].index`` values (some clients
    send them) become strings, as the API documents. Unknown fields are refused, so typos never reach the API.

    :param payload: the body of ``POST /broadcasts/whatsapp/direct`` as a dict, or a request.
    :param default_region: region for a ``to_number`` written without country code.
    :raises QontakPayloadError: naming the field path (e.g. ``parameters.body[0].value_text``).
    """
    if isinstance(payload, DirectSendRequest):
        data: dict[str, Any] = payload.to_wire()
    elif isinstance(payload, Mapping):
        data = _coerce_int_keys(dict(payload))
    else:
        raise QontakPayloadError("payload", "a dict or DirectSendRequest", _type_name(payload))
    if "to_number" in data:
        # Always through normalize_phone, which refuses wrong types: the model would turn bytes into text.
        data["to_number"] = normalize_phone(data["to_number"], default_region)
    return _validate_model(data).keep_order_of(data)


def parse_payload(payload: Mapping[str, Any] | DirectSendRequest) -> DirectSendRequest:
    """
    Check the shape of a whole direct-send payload, leaving its values as given (no phone normalisation).

    This is what :meth:`QontakClient.send_direct <qontak_provider.client.sync.QontakClient.send_direct>`
    does with a plain dict, so that a documented payload goes over the wire verbatim.

    :raises QontakPayloadError: naming the field path (e.g. ``parameters.body[0].value_text``).
    """
    if isinstance(payload, DirectSendRequest):
        return payload
    if not isinstance(payload, Mapping):
        raise QontakPayloadError("payload", "a dict or DirectSendRequest", _type_name(payload))
    return _validate_model(_coerce_int_keys(dict(payload))).keep_order_of(payload)


def direct_send_body(payload: Mapping[str, Any] | DirectSendRequest) -> dict[str, Any]:
    """Validate a send payload (dict or model) and return the exact JSON body to send."""
    return parse_payload(payload).to_wire()


def _coerce_int_keys(data: dict[str, Any]) -> dict[str, Any]:
    parameters = data.get("parameters")
    if not isinstance(parameters, Mapping):
        return data
    parameters = dict(parameters)
    for section, name in (("body", "key"), ("buttons", "index")):
        items = parameters.get(section)
        if _is_list(items):
            parameters[section] = [
                {**item, name: str(item[name])}
                if isinstance(item, Mapping) and _is_plain_int(item.get(name))
                else item
                for item in items
            ]
    data["parameters"] = parameters
    return data


def _validate_model(data: dict[str, Any]) -> DirectSendRequest:
    try:
        request = DirectSendRequest.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        field = _loc_path(first["loc"])
        given = None if first["type"] == "missing" else first.get("input")
        if field.startswith("to_number"):
            given = mask_phone(given)
        more = len(errors) - 1
        hint = None
        if more:
            hint = f"{more} more problem(s): " + "; ".join(_loc_path(e["loc"]) for e in errors[1:])
        raise QontakPayloadError(field, _expected_from_pydantic(first), _given(given), hint=hint) from None
    _check_wire_texts(request)
    return request


def _check_wire_texts(request: DirectSendRequest) -> None:
    """Every text of the body: characters that encode, and a length WhatsApp (or sense) allows."""
    check_text("to_name", request.to_name, max_length=MAX_TEXT["name"])
    number = request.to_number
    if _bad_character(number) or len(number) > MAX_TEXT["number"]:
        raise QontakPayloadError("to_number", "a phone number with country code", mask_phone(number))
    for field in ("message_template_id", "channel_integration_id"):
        value = getattr(request, field)
        check_text(field, value, max_length=MAX_TEXT["id"], what="an id")
        if any(ch.isspace() for ch in value):
            raise QontakPayloadError(field, "an id without white space", _given(value))
    _check_language_code(request.language.code)
    parameters = request.parameters
    if parameters.header is not None:
        for position, param in enumerate(parameters.header.params):
            where = f"parameters.header.params[{position}]"
            check_text(f"{where}.key", param.key, max_length=MAX_TEXT["type"])
            limit = MAX_TEXT["filename"] if param.key == "filename" else MAX_TEXT["url"]
            check_text(f"{where}.value", param.value, max_length=limit)
    for position, body in enumerate(parameters.body or []):
        where = f"parameters.body[{position}]"
        check_text(f"{where}.key", body.key, max_length=MAX_TEXT["type"])
        check_text(f"{where}.value_text", body.value_text, max_length=MAX_TEXT["value_text"], lines=True)
        check_text(f"{where}.value", body.value, max_length=MAX_TEXT["label"])
    for position, button in enumerate(parameters.buttons or []):
        where = f"parameters.buttons[{position}]"
        check_text(f"{where}.index", button.index, max_length=MAX_TEXT["type"])
        if button.type is not None:
            check_text(f"{where}.type", button.type, max_length=MAX_TEXT["type"])
        if button.value is not None:
            check_text(f"{where}.value", button.value, max_length=MAX_TEXT["button"])


def check_text(
    field: str, value: object, *, max_length: int, what: str = "a text", lines: bool = False
) -> str:
    """
    ``value`` if it is text that can be sent: a ``str``, every character encodable (no lone surrogate), no
    control character (new lines and tabs only where ``lines``), at most ``max_length`` characters.

    :raises QontakPayloadError: naming ``field``.
    """
    if not isinstance(value, str):
        raise QontakPayloadError(field, what, _given(value))
    bad = _bad_character(value, lines=lines)
    if bad is not None:
        raise QontakPayloadError(field, f"{what} without {bad}", _given(value))
    if len(value) > max_length:
        raise QontakPayloadError(
            field, f"{what} of at most {max_length} characters", f"<{len(value)} characters>"
        )
    return value


def _bad_character(text: str, *, lines: bool = False) -> str | None:
    """What is wrong with a character of ``text``, or ``None``."""
    for char in text:
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            return "a lone surrogate (half of an emoji, e.g. cut off a longer text)"
        if unicodedata.category(char) == "Cc" and not (lines and char in "\n\r\t"):
            return f"control characters (U+{code:04X})"
    return None


def printable(text: str) -> str:
    """``text`` with lone surrogates and control characters replaced by ``?``: safe for logs and keys."""
    return "".join("?" if _bad_character(char) else char for char in text) if _bad_character(text) else text


def _loc_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "payload"


def _expected_from_pydantic(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "this required field"
    if kind == "extra_forbidden":
        return "no such field (the direct-send API does not document it)"
    return str(error["msg"]).replace("Input should be", "").strip() or kind


# ---------------------------------------------------------------------------------------------- validate


def validate_against_template(request: DirectSendRequest | Mapping[str, Any], template: Template) -> None:
    """
    Check that ``request`` can be sent with ``template``; raise on the first problem.

    Checked: template id and approval (a template without ``status`` is not judged), a language code that
    looks like one (it may differ from the template's: see :func:`language_mismatch`), recipient number
    already normalised, non-empty name and channel, one body value per
    placeholder with text WhatsApp accepts, header present exactly for media-header templates with the
    right format and an ``https://`` URL, and a value for every dynamic button and none for others.
    Button ``type`` is not judged beyond being non-empty, because the API's own examples disagree on it.

    Field names follow the API (``parameters.body[1].value_text``); a dynamic button left without a value
    is reported as ``parameters.buttons[<template button index>]``.

    :param request: the request (a dict goes through :func:`normalize_payload` first).
    :param template: the template ``request.message_template_id`` names.
    :raises QontakPayloadError: naming the field, what the template expects and what was given.
    """
    if not isinstance(request, DirectSendRequest):
        request = normalize_payload(request)
    name = template.name
    if request.message_template_id != template.id:
        raise QontakPayloadError(
            "message_template_id", f"{template.id!r} (template {name!r})", request.message_template_id
        )
    status = (template.status or "").upper()
    if status and status != TemplateStatus.APPROVED.value:
        raise QontakPayloadError(
            "message_template_id",
            f"an APPROVED template; template {name!r} is {template.status}",
            request.message_template_id,
            hint="WhatsApp only delivers approved templates.",
        )
    _check_language_code(request.language.code)
    if not is_normalized_phone(request.to_number):
        raise QontakPayloadError(
            "to_number",
            "digits with country code and no '+', e.g. 6281234567890",
            mask_phone(request.to_number),
            hint="Use normalize_phone() or build_direct_send().",
        )
    if not request.to_name.strip():
        raise QontakPayloadError("to_name", "the recipient's name (not empty)", request.to_name)
    if not request.channel_integration_id.strip():
        raise QontakPayloadError("channel_integration_id", "the id of a WhatsApp channel integration", "")
    _check_body(request, template)
    _check_header(request, template)
    _check_buttons(request, template)


def _check_body(request: DirectSendRequest, template: Template) -> None:
    params = request.parameters.body or []
    expected = template.body_placeholders
    given = [param.key for param in params]
    if sorted(given) != sorted(expected) or len(set(given)) != len(given):
        placeholders = "no placeholders"
        if expected:
            placeholders = "placeholders " + ", ".join("{{" + key + "}}" for key in expected)
        raise QontakPayloadError(
            "parameters.body",
            f"{_count(len(expected), 'value')} with keys {expected} "
            f"(template {template.name!r} has {placeholders})",
            given,
        )
    for position, param in enumerate(params):
        _check_param_text(f"parameters.body[{position}].value_text", param.value_text)


def _check_header(request: DirectSendRequest, template: Template) -> None:
    header = request.parameters.header
    name = template.name
    if header is None:
        if template.needs_media_header:
            raise QontakPayloadError(
                "parameters.header",
                f"a {template.header_format} header with a url (template {name!r} has a media header)",
                hint="Pass header_url.",
            )
        return
    if not template.needs_media_header:
        raise QontakPayloadError(
            "parameters.header",
            f"no header: template {name!r} has {_describe_header(template)}",
            header.format.value,
        )
    if header.format.value != template.header_format:
        raise QontakPayloadError(
            "parameters.header.format",
            f"{template.header_format!r}, the header format of template {name!r}",
            header.format.value,
        )
    values: dict[str, str] = {}
    for position, param in enumerate(header.params):
        if param.key not in _HEADER_PARAM_KEYS or param.key in values:
            raise QontakPayloadError(
                f"parameters.header.params[{position}].key",
                "'url' and 'filename', each at most once",
                param.key,
            )
        values[param.key] = param.value
    url = values.get("url")
    if url is None or not _is_https_url(url):
        raise QontakPayloadError(
            "parameters.header.params.url",
            "a public https:// URL of the media",
            _given(url),
            hint="WhatsApp must fetch it within about 2 seconds; upload the file first if it is not public.",
        )
    if "filename" in values and not values["filename"].strip():
        raise QontakPayloadError(
            "parameters.header.params.filename", "a file name (not empty)", values["filename"]
        )
    if header.format.value == "DOCUMENT" and "filename" not in values:
        # WhatsApp shows a document under its file name; Qontak refuses a DOCUMENT header without one.
        raise QontakPayloadError(
            "parameters.header.params.filename",
            f"a file name for the DOCUMENT header of template {name!r} (WhatsApp shows the document "
            "under it)",
            hint=f"The URL {_given(url)!r} ends in no file name: pass header_filename (e.g. 'invoice.pdf').",
        )


def _check_buttons(request: DirectSendRequest, template: Template) -> None:
    params = request.parameters.buttons or []
    dynamic = template.dynamic_button_indexes
    seen: set[str] = set()
    for position, param in enumerate(params):
        field = f"parameters.buttons[{position}]"
        if param.index not in dynamic or param.index in seen:
            raise QontakPayloadError(
                f"{field}.index",
                f"one of the dynamic button indexes {dynamic} of template {template.name!r}, each once "
                f"(it has {_count(len(template.buttons), 'button')})",
                param.index,
            )
        seen.add(param.index)
        if param.type is not None and not param.type.strip():
            raise QontakPayloadError(f"{field}.type", "a button type such as 'url'", param.type)
        if param.value is None:
            raise QontakPayloadError(
                f"{field}.value", "the value for the dynamic button (URL suffix or code)"
            )
        _check_param_text(f"{field}.value", param.value)
    for index in dynamic:
        if index not in seen:
            button = template.buttons[int(index)]
            raise QontakPayloadError(
                f"parameters.buttons[{index}]",
                f"a value for dynamic {button.type} button {index} ({button.text!r}) "
                f"of template {template.name!r}",
                sorted(seen),
            )


def with_header_media(request: DirectSendRequest, url: str, filename: str) -> DirectSendRequest:
    """
    ``request`` with its media header pointing at ``url`` (an uploaded file) under ``filename``.

    The request was built and validated with a stand-in URL (see
    :meth:`~qontak_provider.client.media.MediaFile.placeholder_url`), so every other field was checked
    before the upload; only the header's ``url`` and ``filename`` change.

    :raises QontakPayloadError: the request has no media header, or the uploader's URL is not ``https``.
    """
    header = request.parameters.header
    if header is None or header.format.value not in ("IMAGE", "VIDEO", "DOCUMENT"):
        raise QontakPayloadError("header_file", "a template with an IMAGE, VIDEO or DOCUMENT header", None)
    if not _is_https_url(url):
        raise QontakPayloadError("parameters.header.params.url", "the uploader's https:// URL", _given(url))
    params = [{"key": "url", "value": url}, {"key": "filename", "value": filename}]
    updated = request.model_copy(deep=True)
    updated.parameters.header = header.model_validate({"format": header.format, "params": params})
    return updated.keep_order_of(request._written) if request._written is not None else updated


def language_mismatch(template: Template, code: str | None) -> str | None:
    """
    The warning to log when a send asks for language ``code`` and ``template`` has another, else ``None``.

    The code is sent as given: Mekari's own OTP example sends ``id`` to a template its guide lists as
    ``en_US``, and which reading the server enforces is unknown. The risk is named instead: WhatsApp looks
    templates up by name and language and may fail the message in the broadcast log.
    """
    own = template.language
    if own is None or not code or code.casefold() == own.casefold():
        return None
    return (
        f"language.code {code!r} differs from the language of template {template.name!r} ({own!r}); it is "
        f"sent as given, but WhatsApp may fail the message in the broadcast log if the template does not "
        f"exist in {code!r}. Leave the language out to use the template's own."
    )


# ----------------------------------------------------------------------------------------------- helpers


def _check_language_code(code: str) -> None:
    if not _LANGUAGE_RE.fullmatch(code):
        raise QontakPayloadError(
            "language.code",
            "a WhatsApp language code such as 'id', 'en' or 'en_US'",
            _given(code),
        )


def _check_param_text(field: str, text: str) -> None:
    if not text.strip():
        raise QontakPayloadError(field, "a non-empty text (WhatsApp rejects empty parameters)", text)
    if _BAD_PARAM_TEXT_RE.search(text):
        raise QontakPayloadError(
            field,
            "text without new lines, tabs or more than 4 consecutive spaces (WhatsApp rejects them)",
            _given(text),
        )


def _param_text(field: str, value: object) -> str:
    """Convert a friendly scalar value to the text sent; refuse values whose ``str()`` would be nonsense."""
    if value is None or isinstance(value, (bytes, bytearray, Mapping, list, tuple, set, frozenset)):
        raise QontakPayloadError(field, "a text, number or date value", _given(value))
    if isinstance(value, float) and not math.isfinite(value):
        raise QontakPayloadError(field, "a finite number", _given(value))
    try:
        return str(value)
    except Exception as exc:  # an object whose __str__ fails must still give a payload error
        raise QontakPayloadError(field, "a value that converts to text", _type_name(value)) from exc


def _required_text(field: str, value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise QontakPayloadError(field, f"{what} (a non-empty string)", _given(value))
    return value


def _placeholder_key(key: object, field: str) -> str:
    """``1``, ``"1"`` and ``" 01 "`` all name placeholder ``{{1}}``."""
    if _is_plain_int(key) and key > 0:
        return str(key)
    if isinstance(key, str) and _DIGITS_RE.fullmatch(key.strip()) and int(key) > 0:
        return str(int(key))
    raise QontakPayloadError(field, "a placeholder number such as '1' or 1", _given(key))


def _button_index(index: object, field: str) -> str:
    """``0``, ``"0"`` and ``" 00 "`` all name the first button."""
    if _is_plain_int(index) and index >= 0:
        return str(index)
    if isinstance(index, str) and _DIGITS_RE.fullmatch(index.strip()):
        return str(int(index))
    raise QontakPayloadError(field, "a 0-based button index such as '0' or 0", _given(index))


def _is_plain_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_list(value: object) -> TypeGuard[Sequence[Any]]:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))


def _mixed(items: list[Any]) -> bool:
    kinds = {isinstance(item, Mapping) for item in items}
    return len(kinds) > 1


def _filename_from_url(url: str) -> str:
    """The unquoted last path segment of ``url``; empty when there is none (or the URL does not parse)."""
    try:
        path = urlsplit(url).path
    except ValueError:  # e.g. an unclosed IPv6 bracket; validation reports the URL itself
        return ""
    return unquote(path.rsplit("/", 1)[-1])


def _is_https_url(url: str) -> bool:
    if url != url.strip() or any(char.isspace() for char in url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme == "https" and bool(host)


def _describe_header(template: Template) -> str:
    header_format = template.header_format
    if header_format is None:
        return "no header"
    return f"a {header_format} header (only media headers take a url)"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _type_name(value: object) -> str:
    return f"<{type(value).__name__}>"


def _given(value: object) -> object:
    """What to show as "given": scalars as they are (long text cut), containers and objects by type name."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value if len(value) <= _MAX_GIVEN_REPR else value[:_MAX_GIVEN_REPR] + "…"
    if isinstance(value, list) and len(value) <= 10 and all(isinstance(v, (str, int)) for v in value):
        return [_given(v) for v in value]
    return _type_name(value)
