"""Choosing templates and channels among what Qontak listed."""

from __future__ import annotations

import pytest

from qontak_provider.client.errors import QontakNotFoundError, QontakPayloadError
from qontak_provider.client.lookup import pick_template, select_channels, select_templates
from qontak_provider.client.models import ChannelIntegration, Template

# ------------------------------------------------------------------------------------------ templates


def _template(tid: str, name: str, language: str, status: str = "APPROVED") -> Template:
    return Template(id=tid, name=name, language=language, status=status)


def test_pick_template() -> None:
    templates = [
        _template("1", "otp", "id"),
        _template("2", "otp", "en_US"),
        _template("3", "promo", "id", "REJECTED"),
        _template("4", "promo", "id"),
        _template("5", "dup", "id"),
        _template("6", "dup", "id"),
    ]
    assert pick_template(templates, "otp", "EN_us").id == "2"
    assert pick_template(templates, " OTP ", "id").id == "1"
    assert pick_template(templates, "promo", None).id == "4"  # approved wins over rejected
    with pytest.raises(QontakPayloadError) as info:
        pick_template(templates, "otp", None)
    assert info.value.field == "language" and "en_US" in str(info.value)
    with pytest.raises(QontakPayloadError) as info:
        pick_template(templates, "dup", "id")
    assert info.value.field == "message_template_id"
    # several translations, none of them the language asked for: the caller must choose
    with pytest.raises(QontakPayloadError, match="'ms' is none of them"):
        pick_template(templates, "otp", "ms")
    with pytest.raises(QontakNotFoundError, match="No WhatsApp template named 'nope'"):
        pick_template(templates, "nope", None)


def test_a_name_in_one_language_is_found_whatever_language_is_asked() -> None:
    """Mekari's OTP example sends ``id`` to an ``en_US`` template: the send warns, the lookup finds it."""
    templates = [
        _template("1", "auth_web_1727242109", "en_US"),
        _template("2", "auth_web_1727242109", "en_US", "REJECTED"),
    ]
    assert pick_template(templates, "auth_web_1727242109", "id").id == "1"
    assert pick_template(templates, "auth_web_1727242109", None).id == "1"


def test_select_templates_applies_every_filter_on_our_side() -> None:
    templates = [
        Template(id="1", name="a", language="id", status="APPROVED", category="UTILITY"),
        Template(id="2", name="a", language="en_US", status="REJECTED", category="MARKETING"),
        Template(id="3", name="b", language="id", status="approved", category="marketing"),
    ]
    assert [t.id for t in select_templates(templates)] == ["1", "2", "3"]
    assert [t.id for t in select_templates(templates, status="APPROVED")] == ["1", "3"]
    assert [t.id for t in select_templates(templates, category="MARKETING")] == ["2", "3"]
    assert [t.id for t in select_templates(templates, category=["utility", "x"])] == ["1"]
    assert [t.id for t in select_templates(templates, name=" A ", language="EN_us")] == ["2"]
    assert select_templates(templates, name="a", status="DELETED") == []


def test_select_channels_applies_kind_and_activity_on_our_side() -> None:
    channels = [
        ChannelIntegration(id="1", target_channel="wa_cloud", is_active=True),
        ChannelIntegration(id="2", target_channel="wa", is_active=False),
        ChannelIntegration(id="3", target_channel="email", is_active=True),
    ]
    assert [c.id for c in select_channels(channels, target_channel=None, include_inactive=False)] == [
        "1",
        "3",
    ]
    assert [c.id for c in select_channels(channels, target_channel="WA", include_inactive=True)] == ["2"]
    assert select_channels(channels, target_channel="wa", include_inactive=False) == []
