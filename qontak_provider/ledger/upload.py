"""A file uploaded by an earlier try of a task instance is not uploaded again (no Airflow here).

The direct-send operator uploads its ``header_file`` before the send. If that try then fails (the send
was refused for a rate limit, the worker died), the retry finds the upload in the task's durable store
and sends with the same URL. The record is keyed by the file's SHA-256: a file that changed between tries
is uploaded anew. An upload creates no message, so nothing here can send twice; the record only saves the
upload (and keeps the URL, and so the request's fingerprint, the same across tries).

The record holds the uploaded file's public URL, which the Airflow UI shows with the task's state: it is
the URL WhatsApp fetches the file from, no secret, but anyone with it can download the file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from qontak_provider.client.models import UploadedFile
from qontak_provider.client.timestamps import utcnow

if TYPE_CHECKING:
    from qontak_provider.client.media import MediaFile
    from qontak_provider.ledger.send import StateStore

__all__ = ["UPLOAD_STATE_KEY", "upload_once"]

#: Key of the upload record in the task's durable store.
UPLOAD_STATE_KEY = "qontak_upload"


def upload_once(
    store: StateStore | None,
    media: MediaFile,
    upload: Callable[[], UploadedFile],
    *,
    info: Callable[[str], None],
) -> UploadedFile:
    """
    The upload of ``media``: the one an earlier try recorded for the same content, else a new one.

    :param store: the task instance's durable store; ``None`` records nothing.
    :param upload: uploads ``media`` (called at most once).
    :param info: logs a line at INFO.
    """
    digest = media.sha256()
    record: Any = store.get(UPLOAD_STATE_KEY) if store is not None else None
    if isinstance(record, Mapping) and record.get("sha256") == digest and record.get("url"):
        info(f"An earlier try uploaded {media.filename} already ({record['url']}); not uploading it again.")
        return UploadedFile(url=str(record["url"]), filename=record.get("filename"))
    uploaded = upload()
    if store is not None:
        store.set(
            UPLOAD_STATE_KEY,
            {
                "sha256": digest,
                "filename": uploaded.filename or media.filename,
                "url": uploaded.url,
                "uploaded_at": utcnow().isoformat(),
            },
        )
    info(f"Uploaded {media.filename} ({media.size} bytes) to {uploaded.url}.")
    return uploaded
