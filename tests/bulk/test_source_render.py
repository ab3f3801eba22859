from __future__ import annotations

import csv
import json

import pytest

from qontak_provider.bulk.render import RowRenderer
from qontak_provider.bulk.source import ResultWriter, detect_format, iter_rows
from qontak_provider.client.errors import QontakPayloadError

from .conftest import CHANNEL, seed_template


def test_detect_format():
    assert detect_format("a.CSV") == "csv" and detect_format("a.tsv") == "tsv"
    assert detect_format("x/a.ndjson") == "jsonl" and detect_format("a.json") == "jsonl"
    assert detect_format("a.txt", "JSONL") == "jsonl"
    with pytest.raises(ValueError, match="cannot tell"):
        detect_format("a.txt")
    with pytest.raises(ValueError, match="file_format"):
        detect_format("a.csv", "xml")


def test_csv_tsv_and_jsonl_stream(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("\ufeffphone,name\n0812,A\n0813,B\n", encoding="utf-8")
    assert list(iter_rows(path)) == [{"phone": "0812", "name": "A"}, {"phone": "0813", "name": "B"}]
    tsv = tmp_path / "r.tsv"
    tsv.write_text("phone\tname\n0812\tA\n")
    assert list(iter_rows(str(tsv))) == [{"phone": "0812", "name": "A"}]
    jl = tmp_path / "r.jsonl"
    jl.write_text('{"phone": 62812}\n\n{"phone": "0813"}\n')
    rows = iter_rows(jl)
    assert next(rows) == {"phone": 62812}  # a generator: nothing read ahead
    assert list(rows) == [{"phone": "0813"}]


@pytest.mark.parametrize(
    ("text", "match"), [("{bad\n", "line 1: not valid JSON"), ("[1]\n", "expected a JSON object")]
)
def test_jsonl_errors_name_the_line(tmp_path, text, match):
    path = tmp_path / "r.jsonl"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        list(iter_rows(path))


def test_list_source_and_bad_items():
    assert list(iter_rows([{"a": 1}])) == [{"a": 1}]
    with pytest.raises(ValueError, match="recipient 1"):
        list(iter_rows([{"a": 1}, "x"]))


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_result_writer(tmp_path, suffix):
    path = tmp_path / f"out.{suffix}"
    with ResultWriter(path) as writer:
        writer.write({"row": 0, "key": "k", "outcome": "sent", "broadcast_id": "b", "extra": 1})
        writer.flush()
    text = path.read_text()
    if suffix == "csv":
        rows = list(csv.DictReader(text.splitlines()))
        assert rows[0]["outcome"] == "sent" and rows[0]["error"] == ""
    else:
        assert json.loads(text)["broadcast_id"] == "b"


def renderer(**kwargs):
    return RowRenderer(seed_template("payment_reminder"), channel_integration_id=CHANNEL, **kwargs)


def test_body_templates_render_per_row():
    r = renderer(
        body={"1": "{{ row.name }}", "2": "{{ row.amount }}", "3": "{{ row.due | default('soon') }}"},
        key_column="id",
    )
    p = r.prepare(3, {"id": "C1", "phone": "0812 1234 5678", "name": "Budi", "amount": "Rp 10"})
    assert p.key == "C1" and p.to_number == "6281212345678" and p.masked_number == "62812*****678"
    assert [b.value_text for b in p.request.parameters.body] == ["Budi", "Rp 10", "soon"]
    assert p.to_name == "Budi" and p.index == 3
    assert r.prepare(4, {"phone": "081212345678", "name": "x", "amount": 1}).key == "4"


def test_templates_are_compiled_once(monkeypatch):
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    calls = []
    original = ImmutableSandboxedEnvironment.from_string
    monkeypatch.setattr(
        ImmutableSandboxedEnvironment,
        "from_string",
        lambda self, *a, **k: calls.append(a) or original(self, *a, **k),
    )
    r = renderer(body=["{{ row.name }}", "{{ row.amount }}", "fixed"])
    for i in range(20):
        r.prepare(i, {"phone": "081212345678", "name": f"n{i}", "amount": i})
    assert len(calls) == 2


def test_body_columns_number_and_name_columns_and_defaults():
    r = renderer(body_columns=["n", "a", "d"], number_column="hp", name_column="nm")
    p = r.prepare(0, {"hp": 6281212345678.0, "nm": "", "n": "x", "a": 1, "d": "2025"})
    assert p.to_number == "6281212345678" and p.to_name == "6281212345678"
    with pytest.raises(QontakPayloadError, match="missing"):
        r.prepare(0, {"hp": "081212345678", "n": "x"})
    with pytest.raises(ValueError, match="either"):
        renderer(body={"1": "x"}, body_columns=["a"])


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ({"name": "x"}, "to_number"),
        ({"phone": "12", "name": "x"}, "to_number"),
        ({"phone": "081212345678"}, "placeholder"),  # StrictUndefined: row.name missing
    ],
)
def test_invalid_rows_raise_payload_errors(row, match):
    r = renderer(body={"1": "{{ row.name }}", "2": "a", "3": "b"})
    with pytest.raises(QontakPayloadError, match=match):
        r.prepare(0, row)


def test_row_params_callable_wins_and_is_checked():
    r = renderer(body=["a", "b", "c"], row_params=lambda row: {"body": [row["x"], "2", "3"], "to_name": "Z"})
    p = r.prepare(0, {"phone": "081212345678", "x": "from callable"})
    assert p.request.parameters.body[0].value_text == "from callable" and p.to_name == "Z"
    with pytest.raises(QontakPayloadError, match="keys among"):
        renderer(row_params=lambda row: {"nope": 1}).prepare(0, {"phone": "081212345678"})
    with pytest.raises(QontakPayloadError, match="dict"):
        renderer(row_params=lambda row: ["x"]).prepare(0, {"phone": "081212345678"})


def test_header_url_template_for_media_templates():
    r = RowRenderer(
        seed_template("promo_image"),
        channel_integration_id=CHANNEL,
        header_url="https://cdn.example.com/{{ row.img }}.png",
        buttons=None,
    )
    p = r.prepare(0, {"phone": "081212345678", "img": "a1"})
    assert p.request.parameters.header is not None
    assert "a1.png" in json.dumps(p.request.to_wire())
