"""The sandbox's uploader and directory endpoints, judged by its own checks (raw signed requests)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from sandbox_helpers import Api

PDF = b"%PDF-1.4\n% sandbox upload\n%%EOF\n"
CONTACT_LIST = "534bd3d4-5395-46a9-bfbb-353f3a7721be"


def upload(api: Api, files: Any) -> requests.Response:
    prepared = requests.Request("POST", "http://x/", files=files).prepare()
    return api.request(
        "POST", "file_uploader", raw=prepared.body, headers={"Content-Type": prepared.headers["Content-Type"]}
    )


def messages(response: requests.Response) -> list[str]:
    return response.json()["error"]["messages"]


def test_an_upload_answers_201_with_a_cdn_url_and_is_served_back(api: Api, sandbox: Any) -> None:
    response = upload(api, {"file": ("INV-9.pdf", PDF, "application/pdf")})
    assert response.status_code == 201
    data = response.json()["data"]
    assert data["filename"] == "INV-9.pdf"
    assert data["url"].startswith("https://cdn.qontak.com/uploads/direct/files/") and data["url"].endswith(
        "/INV-9.pdf"
    )
    listed = requests.get(f"{sandbox.url}/_sandbox/uploads", timeout=5).json()
    assert (
        listed["total"] == 1
        and listed["uploads"][0]["url"] == data["url"]
        and "data" not in listed["uploads"][0]
    )
    record = listed["uploads"][0]
    served = requests.get(f"{sandbox.url}/_sandbox/uploads/{record['id']}/INV-9.pdf", timeout=5)
    assert served.content == PDF
    assert (
        requests.get(f"{sandbox.url}/_sandbox/uploads/{record['id']}/other.pdf", timeout=5).status_code == 404
    )


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"document": ("a.pdf", PDF, "application/pdf")}, "file can't be blank"),
        ({"file": ("a.exe", b"MZ", "application/octet-stream")}, "file type .exe is not allowed"),
        ({"file": ("noextension", PDF, "application/pdf")}, "file type .? is not allowed"),
        ({"file": ("empty.pdf", b"", "application/pdf")}, "file is empty"),
    ],
)
def test_the_uploader_refuses_what_whatsapp_cannot_use(
    api: Api, sandbox: Any, files: Any, message: str
) -> None:
    response = upload(api, files)
    assert response.status_code == 422 and messages(response) == [message]
    assert sandbox.uploads() == []


def test_the_uploader_refuses_a_body_that_is_not_multipart(api: Api) -> None:
    response = api.request("POST", "file_uploader", body={"file": "x"})
    assert response.status_code == 422


def test_the_uploader_enforces_its_size_limit(api: Api, sandbox: Any) -> None:
    sandbox.update_settings(upload_max_mb=0.00001)
    response = upload(api, {"file": ("a.pdf", PDF, "application/pdf")})
    assert response.status_code == 422 and messages(response) == ["file size must be at most 1e-05 MB"]


def test_an_unsigned_upload_is_refused_by_the_gateway(sandbox: Any) -> None:
    response = requests.post(
        f"{sandbox.url}/qontak/chat/v1/file_uploader", files={"file": ("a.pdf", PDF)}, timeout=5
    )
    assert response.status_code == 401


def test_template_languages_in_the_examples_shapes(api: Api) -> None:
    full = api.get("templates/languages").json()
    assert {"id", "code", "language"} <= set(full["data"][0]) and full["meta"]["pagination"]["limit"] == 100
    assert {"code": "id", "language": "Indonesian"}.items() <= next(
        item for item in full["data"] if item["code"] == "id"
    ).items()
    short = api.get("templates/language").json()
    assert short["data"][0] == {"name": "English", "value": "en"} and "meta" not in short


def test_contact_lists_and_their_contacts(api: Api, sandbox: Any) -> None:
    summary = api.get(f"contacts/contact_lists/{CONTACT_LIST}").json()["data"]
    assert summary["contacts_count"] == 3 and summary["organization_id"] == sandbox.settings.organization_id
    assert "contacts" not in summary
    contacts = api.get(f"contacts/contact_lists/contacts/{CONTACT_LIST}", params={"limit": 2}).json()
    assert len(contacts["data"]) == 2 and contacts["meta"]["pagination"]["cursor"]["next"]
    assert contacts["data"][0]["extra"]["invoice_no"] == "INV-2026-0101"


@pytest.mark.parametrize("status", [404, 422])
def test_an_unknown_contact_list_follows_the_not_found_variant(api: Api, sandbox: Any, status: int) -> None:
    sandbox.update_settings(not_found_status=status)
    response = api.get("contacts/contact_lists/nope")
    assert response.status_code == status
    if status == 422:
        assert messages(response) == ["Couldn't find contact list with 'id'=nope"]
