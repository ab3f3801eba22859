"""Channels and templates the sandbox serves: the built-in seed, and users' own fixture files.

A fixture file is JSON or YAML with this shape (every key but ``id``, ``target_channel``, ``name`` and
``body`` is optional)::

    mode: extend            # or "replace": drop the seed first
    channels:
      - id: 0d9b...         # channel integration id
        target_channel: wa_cloud
        is_active: true
        settings: {account_name: My shop, phone_number: "+6281199990001"}
    templates:
      - id: 7c1e...
        name: order_paid
        language: id
        category: UTILITY
        status: APPROVED
        body: "Halo {{1}}, pembayaran {{2}} sudah kami terima."
        header: {format: IMAGE}
        buttons: [{type: URL, text: Lihat, url: "https://example.com/{{1}}"}]

With ``mode: extend`` (the default) an entry whose id already exists replaces the seeded one.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

FIXTURE_MODES = ("extend", "replace")
_DEFAULT_CREATED_AT = "2024-01-01T00:00:00.000Z"


class FixtureError(ValueError):
    """A fixture file or document is malformed; the message names the entry and the field."""


@dataclass
class Fixtures:
    """The channel integrations and templates of one sandbox, in listing order."""

    channels: list[dict[str, Any]] = field(default_factory=list)
    templates: list[dict[str, Any]] = field(default_factory=list)

    def copy(self) -> Fixtures:
        """Deep copy, so a running sandbox never mutates its pristine fixtures."""
        return Fixtures(copy.deepcopy(self.channels), copy.deepcopy(self.templates))

    def merged(self, other: Fixtures, mode: str = "extend") -> Fixtures:
        """Return these fixtures extended by (or replaced with) ``other``."""
        if mode not in FIXTURE_MODES:
            raise FixtureError(f"mode must be one of {', '.join(FIXTURE_MODES)}; got {mode!r}")
        if mode == "replace":
            return other.copy()
        return Fixtures(
            _merge_by_id(self.channels, other.channels), _merge_by_id(self.templates, other.templates)
        )


def _merge_by_id(base: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged = {item["id"]: item for item in copy.deepcopy(base)}
    for item in copy.deepcopy(extra):
        merged[item["id"]] = item
    return list(merged.values())


def normalize_channel(raw: Any, organization_id: str, where: str) -> dict[str, Any]:
    """Validate one channel entry and fill the fields the API always returns."""
    if not isinstance(raw, dict):
        raise FixtureError(f"{where}: expected an object, got {type(raw).__name__}")
    for key in ("id", "target_channel"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise FixtureError(f"{where}.{key}: required, a non-empty string")
    if "is_active" in raw and not isinstance(raw["is_active"], bool):
        raise FixtureError(f"{where}.is_active: expected true or false")
    channel = {
        "id": raw["id"],
        "target_channel": raw["target_channel"],
        "webhook": raw.get("webhook", raw["id"]),
        "settings": raw.get("settings") or {},
        "organization_id": raw.get("organization_id", organization_id),
        "created_at": raw.get("created_at", _DEFAULT_CREATED_AT),
        "is_active": raw.get("is_active", True),
    }
    channel.update({k: v for k, v in raw.items() if k not in channel})
    return channel


def normalize_template(raw: Any, organization_id: str, where: str) -> dict[str, Any]:
    """Validate one template entry and fill the fields the API always returns."""
    if not isinstance(raw, dict):
        raise FixtureError(f"{where}: expected an object, got {type(raw).__name__}")
    for key in ("id", "name"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise FixtureError(f"{where}.{key}: required, a non-empty string")
    if not isinstance(raw.get("body", ""), str):
        raise FixtureError(f"{where}.body: expected a string")
    header = raw.get("header")
    if header is not None and (not isinstance(header, dict) or not isinstance(header.get("format"), str)):
        raise FixtureError(f"{where}.header: expected null or an object with a 'format' (IMAGE, VIDEO, ...)")
    buttons = raw.get("buttons") or []
    if not isinstance(buttons, list) or not all(isinstance(b, dict) and b.get("type") for b in buttons):
        raise FixtureError(f"{where}.buttons: expected a list of objects with a 'type'")
    status = str(raw.get("status", "APPROVED")).upper()
    template = {
        "id": raw["id"],
        "organization_id": raw.get("organization_id", organization_id),
        "name": raw["name"],
        "language": raw.get("language", "id"),
        "header": header,
        "body": raw.get("body", ""),
        "footer": raw.get("footer"),
        "buttons": buttons,
        "status": status,
        "category": str(raw.get("category", "MARKETING")).upper(),
        "quality_rating": raw.get("quality_rating"),
        "quality_rating_text": raw.get("quality_rating_text", "Neutral" if status == "APPROVED" else None),
    }
    template.update({k: v for k, v in raw.items() if k not in template})
    return template


def fixtures_from_document(
    document: Any, organization_id: str, source: str = "fixtures"
) -> tuple[Fixtures, str]:
    """Validate a parsed fixture document; return the fixtures and their ``mode``."""
    if not isinstance(document, dict):
        raise FixtureError(f"{source}: the top level must be an object with 'channels' and/or 'templates'")
    unknown = set(document) - {"mode", "channels", "templates", "$comment"}
    if unknown:
        raise FixtureError(f"{source}: unknown top-level keys {sorted(unknown)}")
    mode = document.get("mode", "extend")
    if mode not in FIXTURE_MODES:
        raise FixtureError(f"{source}.mode: must be one of {', '.join(FIXTURE_MODES)}; got {mode!r}")
    channels_raw = document.get("channels") or []
    templates_raw = document.get("templates") or []
    if not isinstance(channels_raw, list) or not isinstance(templates_raw, list):
        raise FixtureError(f"{source}: 'channels' and 'templates' must be lists")
    channels = [
        normalize_channel(raw, organization_id, f"{source}.channels[{i}]")
        for i, raw in enumerate(channels_raw)
    ]
    templates = [
        normalize_template(raw, organization_id, f"{source}.templates[{i}]")
        for i, raw in enumerate(templates_raw)
    ]
    for kind, items in (("channels", channels), ("templates", templates)):
        ids = [item["id"] for item in items]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise FixtureError(f"{source}.{kind}: duplicate ids {duplicates}")
    return Fixtures(channels, templates), mode


def read_fixture_file(path: str | Path, organization_id: str) -> tuple[Fixtures, str]:
    """Read a JSON or YAML fixture file (YAML is a superset of JSON, so one parser reads both)."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise FixtureError(f"cannot read fixtures file {path}: {err.strerror}") from err
    try:
        document = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as err:
        raise FixtureError(f"{path}: not valid JSON/YAML: {err}") from err
    return fixtures_from_document(document, organization_id, source=path.name)


#: Namespace of the ids of generated seed templates (uuid5 of ``<name>/<language>``).
_GENERATED_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://qontak-sandbox.invalid/templates/")


def generated_templates(spec: dict[str, Any], first: int, last: int) -> list[dict[str, Any]]:
    """
    Filler templates ``first`` to ``last`` (1-based, inclusive) of the seed's ``generated_templates`` spec.

    Template ``n`` takes family ``(n - 1) % len(families)``, where ``{n}`` becomes its 3-digit number
    within that family, and status ``statuses[(n - 1) % len(statuses)]``; its id is a uuid5 of name and
    language, so every load yields the same templates.
    """
    families: list[dict[str, Any]] = spec["families"]
    statuses: list[str] = spec["statuses"]
    templates = []
    for number in range(first, last + 1):
        family = families[(number - 1) % len(families)]
        label = f"{(number - 1) // len(families) + 1:03d}"
        template = {
            key: value.replace("{n}", label) if isinstance(value, str) else copy.deepcopy(value)
            for key, value in family.items()
        }
        template["status"] = statuses[(number - 1) % len(statuses)]
        name_and_language = f"{template['name']}/{template.get('language', 'id')}"
        template["id"] = str(uuid.uuid5(_GENERATED_NAMESPACE, name_and_language))
        templates.append(template)
    return templates


def _expand_generated(document: dict[str, Any]) -> dict[str, Any]:
    """The seed document with each ``{"$generated": {"from": a, "to": b}}`` entry replaced by its fillers."""
    spec = document.pop("generated_templates")
    templates: list[dict[str, Any]] = []
    for entry in document["templates"]:
        if "$generated" in entry:
            templates += generated_templates(spec, entry["$generated"]["from"], entry["$generated"]["to"])
        else:
            templates.append(entry)
    return {**document, "templates": templates}


def seed_fixtures(organization_id: str) -> Fixtures:
    """The built-in seed: the channel and templates of the official seed payloads, and many more."""
    text = resources.files("qontak_provider.sandbox").joinpath("data/seed.json").read_text(encoding="utf-8")
    document = _expand_generated(json.loads(text))
    fixtures, _ = fixtures_from_document(document, organization_id, source="seed.json")
    return fixtures


def load_fixtures(organization_id: str, path: str | Path | None = None, *, document: Any = None) -> Fixtures:
    """Return the seed, extended or replaced by a fixture file or an already parsed document."""
    fixtures = seed_fixtures(organization_id)
    if path is not None:
        extra, mode = read_fixture_file(path, organization_id)
        fixtures = fixtures.merged(extra, mode)
    if document is not None:
        extra, mode = fixtures_from_document(document, organization_id)
        fixtures = fixtures.merged(extra, mode)
    return fixtures
