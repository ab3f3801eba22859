from __future__ import annotations

import json
from pathlib import Path

import pytest

from qontak_provider.client.models import Template

SEED = Path(__file__).resolve().parents[2] / "qontak_provider" / "sandbox" / "data" / "seed.json"
CHANNEL = "56b60c3c-0123-46af-958b-32f3ad12ee37"


def seed_template(name: str, language: str = "id") -> Template:
    for item in json.loads(SEED.read_text())["templates"]:
        if item["name"] == name and item.get("language", "id") == language:
            return Template.model_validate(item)
    raise KeyError(name)


@pytest.fixture
def reminder() -> Template:
    return seed_template("payment_reminder")
