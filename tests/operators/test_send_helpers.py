"""Pure helpers of the send operators: template cache, fingerprints, masking, summaries."""

from __future__ import annotations

from qontak_provider.client.models import Template
from qontak_provider.ledger.send import payload_fingerprint
from qontak_provider.operators._send import TemplateCache, masked_wire


def test_template_cache_ttl_and_keys():
    now = [0.0]
    cache = TemplateCache(ttl=60, clock=lambda: now[0])
    fetches = []

    def fetch(name):
        def go():
            fetches.append(name)
            return Template(id=name, name=name)

        return go

    assert cache.get_or_fetch(("id", "c", "a"), fetch("a")).id == "a"
    assert cache.get_or_fetch(("id", "c", "a"), fetch("a")).id == "a"
    cache.get_or_fetch(("id", "other_conn", "a"), fetch("a"))
    assert fetches == ["a", "a"]
    now[0] = 61
    cache.get_or_fetch(("id", "c", "a"), fetch("a"))
    assert fetches == ["a", "a", "a"]
    cache.clear()
    cache.get_or_fetch(("id", "c", "a"), fetch("a"))
    assert len(fetches) == 4


def test_fingerprint_is_canonical_and_sensitive():
    a = {"to_number": "6281234567890", "parameters": {"body": [{"key": "1", "value_text": "x"}]}}
    b = {"parameters": {"body": [{"value_text": "x", "key": "1"}]}, "to_number": "6281234567890"}
    assert payload_fingerprint(a) == payload_fingerprint(b)
    c = {**a, "to_number": "6281234567891"}
    assert payload_fingerprint(a) != payload_fingerprint(c)
    assert len(payload_fingerprint(a)) == 64


def test_masked_wire_masks_only_the_number():
    wire = {"to_number": "6281234567890", "to_name": "A"}
    assert masked_wire(wire) == {"to_number": "62812*****890", "to_name": "A"}
    assert wire["to_number"] == "6281234567890"


def test_masked_wire_with_values_hides_every_parameter_value_and_keeps_the_shape():
    wire = {
        "to_number": "6281234567890",
        "to_name": "A",
        "parameters": {"body": [{"key": "1", "value_text": "123456", "value": "otp"}], "buttons": []},
    }
    shown = masked_wire(wire, values=True)
    assert shown["to_number"] == "62812*****890" and shown["to_name"] == "A"
    assert "123456" not in str(shown)
    assert shown["parameters"]["body"][0]["key"] == "1" and shown["parameters"]["buttons"] == []
    assert wire["parameters"]["body"][0]["value_text"] == "123456"  # the payload sent is untouched
    assert masked_wire(wire)["parameters"] == wire["parameters"]  # without values only the number
    assert masked_wire({"parameters": "not a mapping"}, values=True) == {"parameters": "not a mapping"}
