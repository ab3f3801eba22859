"""Uploads, the generic request and the typed directory helpers, both clients, over real sockets.

Against the sandbox: what a pipeline does (upload an invoice, list languages, read a contact list, call an
operation without a typed method). Against the scripted fault server: what is repeated and what is not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faultserver import FakeTime, FaultServer, Reply, error, ok, open_client

from qontak_provider.client.errors import (
    QontakEndpointUnavailableError,
    QontakNotFoundError,
    QontakPayloadError,
    QontakSendInDoubtError,
    QontakValidationError,
)
from qontak_provider.client.signing import body_digest

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n% invoice INV-2026-0101\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CONTACT_LIST = "534bd3d4-5395-46a9-bfbb-353f3a7721be"
SEEDS = json.loads((Path(__file__).parents[1] / "fixtures" / "seed_payloads.json").read_text())


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def on_sandbox(kind: str, qontak_sandbox: Any) -> Iterator[Any]:
    facade = open_client(kind, qontak_sandbox.url)
    facade.client._auth = type(facade.client._auth)(qontak_sandbox.client_id, qontak_sandbox.client_secret)
    yield facade
    facade.close()


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as srv:
        yield srv


@pytest.fixture
def on_faults(kind: str, server: FaultServer) -> Iterator[Any]:
    facade = open_client(kind, server.url, FakeTime(), timeout=0.3, connect_timeout=0.5)
    yield facade
    facade.close()


# -------------------------------------------------------------------------------------------- the sandbox


def test_an_invoice_is_uploaded_once_and_served_back(
    on_sandbox: Any, qontak_sandbox: Any, tmp_path: Path
) -> None:
    path = tmp_path / "INV-2026-0101.pdf"
    path.write_bytes(PDF)
    uploaded = on_sandbox.upload_file(path, header_format="DOCUMENT")
    assert uploaded.filename == "INV-2026-0101.pdf"
    assert uploaded.url.startswith("https://cdn.qontak.com/uploads/direct/files/")
    (record,) = qontak_sandbox.uploads()
    assert record["sha256"] == hashlib.sha256(PDF).hexdigest() and record["data"] == PDF
    assert record["url"] == uploaded.url and record["content_type"] == "application/pdf"
    import requests

    served = requests.get(
        f"{qontak_sandbox.url}/_sandbox/uploads/{record['id']}/{record['filename']}", timeout=5
    )
    assert served.content == PDF and served.headers["content-type"] == "application/pdf"


def test_bytes_upload_with_a_file_name(on_sandbox: Any, qontak_sandbox: Any) -> None:
    uploaded = on_sandbox.upload_file(PDF, filename="statement.pdf")
    assert uploaded.filename == "statement.pdf" and len(qontak_sandbox.uploads()) == 1


def test_a_file_whatsapp_would_refuse_is_not_uploaded(on_sandbox: Any, qontak_sandbox: Any) -> None:
    with pytest.raises(QontakPayloadError, match=r"file: expected the content of a \.pdf"):
        on_sandbox.upload_file(b"<html>", filename="x.pdf")
    with pytest.raises(QontakPayloadError, match="WhatsApp accepts"):
        on_sandbox.upload_file(PDF, filename="invoice.pdf", header_format="IMAGE")
    assert (
        qontak_sandbox.uploads() == []
        and qontak_sandbox.stats()["by_endpoint"].get("POST /file_uploader") is None
    )


@pytest.mark.qontak_sandbox(upload_max_mb=0.00001)
def test_the_uploaders_own_refusal_is_a_validation_error_naming_its_reason(on_sandbox: Any) -> None:
    with pytest.raises(QontakValidationError, match="file size must be at most"):
        on_sandbox.upload_file(PDF, filename="invoice.pdf")


def test_template_languages_across_pages(on_sandbox: Any) -> None:
    languages = on_sandbox.list_template_languages()
    codes = {language.code for language in languages}
    assert {"id", "en", "en_US", "ms"} <= codes and len(languages) == 63
    assert next(lang for lang in languages if lang.code == "id").language == "Indonesian"


def test_a_contact_list_and_its_contacts_as_bulk_rows(on_sandbox: Any) -> None:
    contact_list = on_sandbox.get_contact_list(CONTACT_LIST)
    assert contact_list.name == "pelanggan_jatuh_tempo" and contact_list.contacts_count == 3
    assert "invoice_no" in contact_list.contact_variables
    contacts = on_sandbox.list_contacts(CONTACT_LIST)
    assert [c.full_name for c in contacts] == ["Budi Santoso", "Siti Rahayu", "Andi Wijaya"]
    row = contacts[0].as_row()
    assert row["phone"] == "6281234567801" and row["name"] == "Budi Santoso"
    assert row["invoice_no"] == "INV-2026-0101" and row["contact_id"] == contacts[0].id
    assert [c.id for c in on_sandbox.iter_contacts(CONTACT_LIST)] == [c.id for c in contacts]


@pytest.mark.parametrize("status", [404, 422])
def test_an_unknown_contact_list_is_not_found_whatever_the_code(
    on_sandbox: Any, qontak_sandbox: Any, status: int
) -> None:
    qontak_sandbox.update_settings(not_found_status=status)
    with pytest.raises(QontakNotFoundError, match="contact list 'nope'"):
        on_sandbox.get_contact_list("nope")


def test_request_reaches_an_operation_without_a_typed_method(on_sandbox: Any) -> None:
    answer = on_sandbox.request("GET", "/qontak/chat/v1/templates/language")
    assert answer["status"] == "success" and {"name": "Indonesian", "value": "id"} in answer["data"]
    with pytest.raises(QontakEndpointUnavailableError, match="GET /qontak/chat/v1/rooms"):
        on_sandbox.request("GET", "rooms", params={"status": "unresolved"})


def test_request_sends_a_direct_send_like_send_direct(on_sandbox: Any, qontak_sandbox: Any) -> None:
    answer = on_sandbox.request("POST", "broadcasts/whatsapp/direct", json=SEEDS["otp"])
    assert answer["data"]["id"] and qontak_sandbox.counts() == {SEEDS["otp"]["to_number"]: 1}


def test_iter_pages_walks_every_page(on_sandbox: Any) -> None:
    pages = on_sandbox.iter_pages("templates/whatsapp")
    assert [len(page) for page in pages] == [100, 30]  # the client asks for 100 per page
    names = {item["name"] for page in pages for item in page}
    assert "page_two_notice" in names


# ---------------------------------------------------------------------------------------------- the faults


def test_an_upload_is_retried_like_a_read_with_the_whole_body_each_time(
    on_faults: Any, server: FaultServer
) -> None:
    server.script(
        error(502, "bad gateway"),
        ok({"filename": "a.pdf", "url": "https://cdn.qontak.com/x/a.pdf"}, status=201),
    )
    uploaded = on_faults.upload_file(PDF, filename="a.pdf")
    assert uploaded.url == "https://cdn.qontak.com/x/a.pdf"
    first, second = server.requests
    assert first.body == second.body and PDF in first.body
    assert first.headers["Content-Length"] == str(len(first.body))
    assert first.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert first.headers["Digest"] == body_digest(first.body)
    assert "Transfer-Encoding" not in first.headers


def test_a_large_file_is_streamed_whole(on_faults: Any, server: FaultServer, tmp_path: Path) -> None:
    path = tmp_path / "annual-report.pdf"
    with path.open("wb") as out:
        out.write(PDF)
        out.truncate(12 * 1024 * 1024)
    server.script(ok({"filename": path.name, "url": "https://cdn.qontak.com/x/r.pdf"}, status=201))
    on_faults.upload_file(path, header_format="DOCUMENT")
    (request,) = server.requests
    assert len(request.body) > 12 * 1024 * 1024 and request.headers["Digest"] == body_digest(request.body)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_a_write_that_may_have_arrived_is_never_repeated(
    on_faults: Any, server: FaultServer, method: str
) -> None:
    server.script(error(500, "oops"))
    with pytest.raises(QontakSendInDoubtError, match="may or may not have taken effect"):
        on_faults.request(method, "contact_block", json={"room_id": "r-1", "reason": "opted out"})
    assert len(server.requests) == 1
    assert json.loads(server.requests[0].body) == {"room_id": "r-1", "reason": "opted out"}


def test_a_read_through_request_is_retried(on_faults: Any, server: FaultServer) -> None:
    server.script(error(503, "busy"), ok([{"name": "UTILITY"}]))
    assert on_faults.request("GET", "templates/category")["data"] == [{"name": "UTILITY"}]
    assert len(server.requests) == 2 and all(r.signature_error is None for r in server.requests)


def test_request_sends_the_query_signed(on_faults: Any, server: FaultServer) -> None:
    server.script(ok([]))
    on_faults.request("GET", "rooms", params={"status": "unresolved", "channels": ["wa", "wa_cloud"]})
    (request,) = server.requests
    assert request.path == "/qontak/chat/v1/rooms?channels%5B%5D=wa&channels%5B%5D=wa_cloud&status=unresolved"
    assert request.signature_error is None


def test_an_empty_answer_to_a_delete_is_an_empty_envelope(on_faults: Any, server: FaultServer) -> None:
    server.script(Reply(204, b""))
    assert on_faults.request("DELETE", "contact_block/c-1") == {}


def test_request_refuses_a_bad_method_or_path_before_any_request(on_faults: Any, server: FaultServer) -> None:
    with pytest.raises(QontakPayloadError, match="method"):
        on_faults.request("TRACE", "rooms")
    with pytest.raises(QontakPayloadError, match="path"):
        on_faults.request("GET", "https://evil.example/rooms")
    assert server.requests == []


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda c: c.request("GET", "rooms/\ud83d"), "path"),  # half an emoji, cut off a longer text
        (lambda c: c.request("GET", "rooms", params={"status": "\ud83d"}), "params['status']"),
        (lambda c: c.request("GET", "rooms", params={1: "x"}), "params"),
        (lambda c: c.request("GET", "rooms", params={"limit": float("nan")}), "params['limit']"),
        (lambda c: c.request("GET", "rooms", params={"tags": [{"a": 1}]}), "params['tags']"),
        (lambda c: c.request("POST", "contact_block", json={"ids": {1, 2}}), "json"),
        (lambda c: c.request("POST", "contact_block", json={"score": float("nan")}), "json"),
        (lambda c: c.request("POST", "contact_block", json={"reason": "\udc00"}), "json"),
        (lambda c: list(c.iter_pages("rooms", params={"q": "\x00"})), "params['q']"),
        (lambda c: c.get_contact_list(None), "contact_list_id"),
        (lambda c: c.get_contact_list("a" * 10_000), "contact_list_id"),
    ],
    ids=[
        "surrogate path",
        "surrogate param",
        "non-text key",
        "NaN param",
        "dict in a list param",
        "set body",
        "NaN body",
        "surrogate body",
        "NUL param",
        "None id",
        "10,000-character id",
    ],
)
def test_hostile_input_to_the_gateway_is_refused_naming_the_field_before_any_request(
    on_faults: Any, server: FaultServer, call: Any, field: str
) -> None:
    with pytest.raises(QontakPayloadError) as info:
        call(on_faults)
    assert str(info.value).startswith(f"{field}: expected"), str(info.value)
    assert len(str(info.value)) < 400 and server.requests == []


class _Changing:
    """An object-store file whose content changes between reads (rewritten while it is uploaded)."""

    name = "statement.pdf"

    def __init__(self, *contents: bytes) -> None:
        self.contents = list(contents)

    def exists(self) -> bool:
        return True

    def stat(self) -> dict[str, int]:
        return {"size": len(self.contents[0])}

    def open(self, mode: str = "rb") -> Any:
        import io

        return io.BytesIO(self.contents.pop(0) if len(self.contents) > 1 else self.contents[0])


def test_a_file_gone_since_its_check_is_this_arguments_error_and_nothing_is_sent(
    on_faults: Any, server: FaultServer, tmp_path: Path
) -> None:
    from qontak_provider.client.media import media_file

    path = tmp_path / "INV-1.pdf"
    path.write_bytes(PDF)
    media = media_file(path, argument="header_file")
    path.unlink()  # deleted between the check and the upload (another task cleaned up)
    with pytest.raises(
        QontakPayloadError, match=r"header_file: expected a file that can be read, got 'INV-1.pdf: "
    ):
        on_faults.upload_file(media, header_format="DOCUMENT")
    assert server.requests == []


@pytest.mark.parametrize("change", [b"% appended while uploading\n", None])
def test_a_file_that_changes_while_it_is_uploaded_is_stopped_and_not_retried(
    on_faults: Any, server: FaultServer, change: bytes | None
) -> None:
    from qontak_provider.client.media import media_file

    changed = PDF + change if change else PDF[:-10]
    media = media_file(_Changing(PDF, changed), argument="header_file")
    server.default = lambda _r: ok({"filename": "statement.pdf", "url": "https://cdn.qontak.com/x/s.pdf"})
    with pytest.raises(QontakPayloadError, match="a file that does not change while it is uploaded"):
        on_faults.upload_file(media, header_format="DOCUMENT")
    assert len(server.requests) <= 1  # not retried (a cut-off body may or may not be recorded)
