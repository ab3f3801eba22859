"""The sandbox's uploader and directory endpoints: files, template languages, contact lists.

* ``POST /file_uploader`` takes ``multipart/form-data`` with a ``file`` part, as Mekari's OpenAPI file
  describes, and answers ``201 {"status": "success", "data": {"filename", "url"}}``. The URL has the shape of
  Qontak's CDN URLs (``https://cdn.qontak.com/uploads/direct/files/<id>/<name>``) because WhatsApp needs an
  ``https`` URL; the file itself is served back by the sandbox at ``/_sandbox/uploads/<id>/<name>``.
  Its checks are its own, written from WhatsApp's published limits, not the client's: a missing part, an
  empty file, a type WhatsApp does not take in template headers, or more than ``upload_max_mb`` is a 422.
* ``GET /templates/languages`` (paged) and ``GET /templates/language`` serve the lists of the OpenAPI
  examples; ``GET /contacts/contact_lists/{id}`` and ``GET /contacts/contact_lists/contacts/{id}`` serve
  the contact lists of ``data/directory.json``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from qontak_provider.client.models import API_PREFIX
from qontak_provider.sandbox import views
from qontak_provider.sandbox.gateway import SANDBOX_PREFIX
from qontak_provider.sandbox.runtime import SandboxRuntime, log

__all__ = ["CDN_PREFIX", "register_media_routes"]

#: Where the URLs the uploader returns point, like Qontak's own.
CDN_PREFIX = "https://cdn.qontak.com/uploads/direct/files"
#: File types WhatsApp takes in IMAGE, VIDEO and DOCUMENT template headers, by extension (sandbox's copy).
UPLOAD_TYPES = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "mp4": "video/mp4",
    "3gp": "video/3gpp",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
CONTACT_LIST = "contact list"


@cache
def directory() -> dict[str, Any]:
    """The static data of the directory endpoints (``data/directory.json``)."""
    text = (
        resources.files("qontak_provider.sandbox").joinpath("data/directory.json").read_text(encoding="utf-8")
    )
    data: dict[str, Any] = json.loads(text)
    return data


def _contact_list(contact_list_id: str) -> dict[str, Any] | None:
    return next((c for c in directory()["contact_lists"] if c["id"] == contact_list_id), None)


def _runtime(request: Request) -> SandboxRuntime:
    runtime: SandboxRuntime = request.app.state.runtime
    return runtime


async def _upload(request: Request) -> Response:
    runtime = _runtime(request)
    try:
        form = await request.form()
    except Exception as err:  # not multipart at all: Qontak answers 422 too
        return views.error(422, [f"file: expected multipart/form-data with a file part ({err})"])
    part = form.get("file")
    if not isinstance(part, UploadFile):
        return views.error(422, ["file can't be blank"])
    filename = (part.filename or "").strip()
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension not in UPLOAD_TYPES:
        return views.error(422, [f"file type .{extension or '?'} is not allowed"])
    data = await part.read()
    if not data:
        return views.error(422, ["file is empty"])
    limit = runtime.settings.upload_max_mb * 1024 * 1024
    if len(data) > limit:
        return views.error(422, [f"file size must be at most {runtime.settings.upload_max_mb:g} MB"])
    upload_id = str(uuid.uuid4())
    url = f"{CDN_PREFIX}/{upload_id}/{quote(filename)}"
    record = {
        "id": upload_id,
        "filename": filename,
        "content_type": UPLOAD_TYPES[extension],
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "url": url,
    }
    state = runtime.state
    with state.lock:
        state.uploads[upload_id] = {**record, "data": data}
    log.info("201 file upload: %s (%d bytes) -> %s", filename, len(data), url)
    return views.success({"filename": filename, "url": url}, status=201)


def register_media_routes(app: FastAPI, list_response: Any) -> None:
    """Add the uploader, the directory endpoints and the sandbox's upload inspection to ``app``."""

    @app.post(API_PREFIX + "/file_uploader")
    async def upload(request: Request) -> Response:
        return await _upload(request)

    @app.get(API_PREFIX + "/templates/languages")
    async def template_languages(request: Request) -> Response:
        return list_response(request, list(directory()["languages"]), 100)

    @app.get(API_PREFIX + "/templates/language")
    async def template_language(request: Request) -> Response:
        return views.success(list(directory()["language_short"]))

    @app.get(API_PREFIX + "/contacts/contact_lists/{contact_list_id}")
    async def contact_list(request: Request, contact_list_id: str) -> Response:
        found = _contact_list(contact_list_id)
        if found is None:
            return views.unknown_id(
                _runtime(request).settings.not_found_status, CONTACT_LIST, contact_list_id
            )
        summary = {key: value for key, value in found.items() if key != "contacts"}
        summary["organization_id"] = _runtime(request).settings.organization_id
        summary["contacts_count"] = summary["contacts_count_success"] = len(found["contacts"])
        summary["contacts_count_failed"] = 0
        return views.success(summary)

    @app.get(API_PREFIX + "/contacts/contact_lists/contacts/{contact_list_id}")
    async def contacts(request: Request, contact_list_id: str) -> Response:
        found = _contact_list(contact_list_id)
        if found is None:
            return views.unknown_id(
                _runtime(request).settings.not_found_status, CONTACT_LIST, contact_list_id
            )
        rows = [
            {
                **contact,
                "account_uniq_id": contact["phone_number"],
                "authority": "own",
                "channel": "unknown",
                "status": "success",
                "error_messages": {},
                "is_valid": True,
                "is_blocked": False,
            }
            for contact in found["contacts"]
        ]
        return list_response(request, rows, 100)

    @app.get(SANDBOX_PREFIX + "/uploads")
    async def uploads(request: Request) -> Response:
        state = _runtime(request).state
        with state.lock:
            listed = [{k: v for k, v in u.items() if k != "data"} for u in state.uploads.values()]
        return views.json_response({"uploads": listed, "total": len(listed)})

    @app.get(SANDBOX_PREFIX + "/uploads/{upload_id}/{filename}")
    async def uploaded_file(request: Request, upload_id: str, filename: str) -> Response:
        found = _runtime(request).state.uploads.get(upload_id)
        if found is None or found["filename"] != filename:
            return views.not_found()
        return Response(found["data"], media_type=found["content_type"])
