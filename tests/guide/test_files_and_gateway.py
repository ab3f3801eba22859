"""The code docs/howto/files.rst and docs/reference/gateway.rst show, run as written.

The file snippets run against the sandbox (its uploader keeps what it took). The gateway snippet calls
operations the sandbox does not serve (rooms, contact blocks), so it runs against the fault server, which
answers what the test scripts and records every request it got.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qontak_provider.operators.qontak import QontakSendDirectOperator
from tests.integration.faultserver import CLIENT_ID, SECRET, FaultServer, ok

PDF = b"%PDF-1.4\n% INV-2026-0101 for Budi\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def send_invoice_operator() -> QontakSendDirectOperator:
    # [START howto_operator_qontak_send_file]
    send_invoice = QontakSendDirectOperator(
        task_id="send_invoice",
        to_number="{{ params.phone }}",
        to_name="{{ params.name }}",
        template_name="invoice_document",  # a template with a DOCUMENT header
        header_file="{{ params.invoices }}/{{ ds }}/INV-2026-0101.pdf",  # or "s3://bucket/invoices/..."
        header_filename="INV-2026-0101.pdf",  # what the recipient sees; default: the file's name
    )
    # [END howto_operator_qontak_send_file]
    return send_invoice


def test_one_message_with_a_file(qontak_sandbox: Any, tmp_path: Path) -> None:
    (tmp_path / "2026-12-01").mkdir()
    (tmp_path / "2026-12-01" / "INV-2026-0101.pdf").write_bytes(PDF)
    operator = send_invoice_operator()
    context: dict[str, Any] = {
        "params": {"phone": "0812-3456-7890", "name": "Budi", "invoices": str(tmp_path)},
        "ds": "2026-12-01",
    }
    operator.render_template_fields(context)
    operator.execute(context)
    (upload,) = qontak_sandbox.uploads()
    (send,) = qontak_sandbox.sends()
    assert upload["data"] == PDF
    header = {p["key"]: p["value"] for p in send["body"]["parameters"]["header"]["params"]}
    assert header == {"url": upload["url"], "filename": "INV-2026-0101.pdf"}


def test_upload_without_sending(qontak_sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data" / "invoices").mkdir(parents=True)
    (tmp_path / "data" / "invoices" / "INV-2026-0101.pdf").write_bytes(PDF)
    monkeypatch.chdir(tmp_path)  # the snippet's path, relative to here
    # [START howto_hook_qontak_upload_file]
    from qontak_provider.hooks.qontak import QontakHook

    uploaded = QontakHook().upload_file("data/invoices/INV-2026-0101.pdf", header_format="DOCUMENT")
    print(uploaded.url, uploaded.filename)  # use them as header_url and header_filename
    # [END howto_hook_qontak_upload_file]
    assert qontak_sandbox.uploads()[0]["url"] == uploaded.url and qontak_sandbox.sends() == []


def gateway_calls(room_id: str) -> list[Any]:
    resolved = []
    # [START howto_hook_qontak_gateway]
    from qontak_provider.hooks.qontak import QontakHook

    hook = QontakHook()
    categories = hook.request("GET", "templates/category")["data"]
    for page in hook.iter_pages("rooms", params={"status": "resolved", "limit": 100}):
        resolved.extend(page)
    hook.request("POST", "contact_block", json={"room_id": room_id, "reason": "opted out"})
    # [END howto_hook_qontak_gateway]
    return [categories, resolved]


def test_any_gateway_operation(monkeypatch: pytest.MonkeyPatch) -> None:
    rooms = [{"id": f"r-{n}"} for n in range(100)]
    with FaultServer() as server:
        server.script(
            ok([{"name": "UTILITY"}]),
            ok(rooms),  # a full page: the next one is asked for
            ok([{"id": "r-100"}]),  # a short page ends the list
            ok({"room_id": "r-7"}),
        )
        conn = {"conn_type": "qontak", "host": server.url, "login": CLIENT_ID, "password": SECRET}
        monkeypatch.setenv("AIRFLOW_CONN_QONTAK_DEFAULT", json.dumps(conn))
        categories, resolved = gateway_calls("r-7")
    assert categories == [{"name": "UTILITY"}] and len(resolved) == 101
    calls = [(r.method, r.path.split("?")[0]) for r in server.requests]
    assert calls == [
        ("GET", "/qontak/chat/v1/templates/category"),
        ("GET", "/qontak/chat/v1/rooms"),
        ("GET", "/qontak/chat/v1/rooms"),
        ("POST", "/qontak/chat/v1/contact_block"),
    ]
    assert "status=resolved" in server.requests[1].path and "offset=2" in server.requests[2].path
    assert server.requests[3].json == {"room_id": "r-7", "reason": "opted out"}
    assert all(r.signature_error is None for r in server.requests)
