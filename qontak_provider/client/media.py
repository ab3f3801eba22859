"""Files for template headers: what WhatsApp accepts for each header format, and the upload's request body.

Qontak's uploader (``POST /qontak/chat/v1/file_uploader``, multipart with a ``file`` field) answers with the
public URL WhatsApp then fetches the media from. The limits below are WhatsApp's for media messages (Cloud
API; the same table in every source we found, see ``docs/howto/files.rst``); Qontak documents none of its
own, so a file inside them may still be refused by the uploader, and that error is reported as Qontak gives
it.

* :func:`media_file` opens what a pipeline has (a local path, an object-storage path with ``open()``, or
  bytes and a file name) as a :class:`MediaFile`, reading nothing yet.
* :meth:`MediaFile.check` refuses, before any request and naming the field, a file that is missing or
  empty, whose type the header format does not take, that is too big, or whose first bytes contradict its
  extension (a ``.pdf`` that is not a PDF).
* :class:`MultipartBody` is the upload's body, streamed in chunks (a 100 MB document is never in memory).

No Airflow import; the only I/O is reading the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote

from qontak_provider.client.errors import QontakPayloadError
from qontak_provider.client.signing import digest_header

if TYPE_CHECKING:
    from qontak_provider.client.models import Template

__all__ = [
    "CHUNK_SIZE",
    "HEADER_MEDIA",
    "PLACEHOLDER_PREFIX",
    "MediaFile",
    "MediaRule",
    "MultipartBody",
    "check_header",
    "media_file",
]

MiB = 1024 * 1024
#: Where :meth:`MediaFile.placeholder_url` points: a reserved domain no request can reach.
PLACEHOLDER_PREFIX = "https://upload.invalid/"
#: Bytes read at a time when hashing or sending a file.
CHUNK_SIZE = 64 * 1024


@dataclass(frozen=True)
class MediaRule:
    """What one header format accepts: MIME types by file extension, and the largest size."""

    types: dict[str, str]
    max_bytes: int

    def describe(self) -> str:
        extensions = ", ".join(sorted(self.types))
        return f"{extensions} up to {self.max_bytes // MiB} MB"


#: WhatsApp's media limits per template header format (extension -> MIME type, largest size).
HEADER_MEDIA: dict[str, MediaRule] = {
    "IMAGE": MediaRule({".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}, 5 * MiB),
    "VIDEO": MediaRule({".mp4": "video/mp4", ".3gp": "video/3gpp"}, 16 * MiB),
    "DOCUMENT": MediaRule(
        {
            ".pdf": "application/pdf",
            ".txt": "text/plain",
            ".doc": "application/msword",
            ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ".xls": "application/vnd.ms-excel",
            ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ".ppt": "application/vnd.ms-powerpoint",
            ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        },
        100 * MiB,
    ),
}

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .doc, .xls, .ppt
_ZIP = b"PK\x03\x04"  # .docx, .xlsx, .pptx
#: How each type's files begin, so that a mislabelled file is refused here rather than by WhatsApp later.
_SIGNATURES: dict[str, tuple[tuple[int, bytes], ...]] = {
    "image/jpeg": ((0, b"\xff\xd8\xff"),),
    "image/png": ((0, b"\x89PNG\r\n\x1a\n"),),
    "video/mp4": ((4, b"ftyp"),),
    "video/3gpp": ((4, b"ftyp"),),
    "application/pdf": ((0, b"%PDF-"),),
    "application/msword": ((0, _OLE),),
    "application/vnd.ms-excel": ((0, _OLE),),
    "application/vnd.ms-powerpoint": ((0, _OLE),),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ((0, _ZIP),),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ((0, _ZIP),),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ((0, _ZIP),),
}
_ALL_TYPES = {ext: mime for rule in HEADER_MEDIA.values() for ext, mime in rule.types.items()}


@dataclass
class MediaFile:
    """
    A file to upload, read lazily: a local path, an object-storage path, or bytes.

    :param filename: the name WhatsApp shows (a document's file name in the chat).
    :param size: its size in bytes, when known without reading it.
    :param argument: the argument it came from, for error messages (e.g. ``header_file``).
    """

    filename: str
    size: int | None
    argument: str = "file"
    _source: Any = field(default=None, repr=False)
    _data: bytes | None = field(default=None, repr=False)
    _sha256: str | None = field(default=None, repr=False)

    def open(self) -> IO[bytes]:
        """A binary stream of the content, from the start."""
        if self._data is not None:
            import io

            return io.BytesIO(self._data)
        with self._reading():
            if isinstance(self._source, (str, os.PathLike)):
                return open(self._source, "rb")
            return self._source.open("rb")

    def chunks(self) -> Iterator[bytes]:
        """The content in chunks of :data:`CHUNK_SIZE`."""
        with self.open() as stream, self._reading():
            while chunk := stream.read(CHUNK_SIZE):
                yield chunk

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """A file that cannot be read (gone since it was checked, no permission) is this argument's error.

        Raised as :class:`QontakPayloadError`, never as the raw ``OSError``: an ``OSError`` from an upload's
        body would read as a lost connection to the HTTP libraries (and be retried), and would stop a bulk
        run instead of failing its row.
        """
        try:
            yield
        except OSError as err:
            reason = err.strerror or type(err).__name__
            raise QontakPayloadError(
                self.argument, "a file that can be read", f"{self.filename}: {reason}"
            ) from None

    def sha256(self) -> str:
        """Hex SHA-256 of the content (read once, then remembered): equal files upload once."""
        if self._sha256 is None:
            digest = hashlib.sha256()
            size = 0
            for chunk in self.chunks():
                digest.update(chunk)
                size += len(chunk)
            self._sha256 = digest.hexdigest()
            self.size = size
        return self._sha256

    def placeholder_url(self) -> str:
        """
        A stand-in ``https`` URL to validate a request with before the file is uploaded; never sent.

        ``.invalid`` is reserved (RFC 2606), so it can reach no server. The path tells files apart (by path,
        or by content for bytes), so that two rows with different files never look like the same message.
        """
        identity = os.fspath(self._source) if isinstance(self._source, (str, os.PathLike)) else None
        if identity is None and self._source is not None:
            identity = str(self._source)
        token = hashlib.sha256((identity or self.sha256()).encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return f"{PLACEHOLDER_PREFIX}{token}/{quote(self.filename)}"

    @property
    def extension(self) -> str:
        return PurePosixPath(self.filename).suffix.lower()

    @property
    def content_type(self) -> str:
        """The MIME type of the file's extension (``application/octet-stream`` when unknown)."""
        return _ALL_TYPES.get(self.extension, "application/octet-stream")

    def check(self, header_format: str | None = None) -> str:
        """
        Refuse a file WhatsApp would not take for ``header_format`` (any media format when ``None``).

        :return: the file's MIME type.
        :raises QontakPayloadError: naming :attr:`argument`, the problem, and what is accepted.
        """
        if header_format is not None and not isinstance(header_format, str):
            raise QontakPayloadError(
                "header_format", "IMAGE, VIDEO or DOCUMENT", f"<{type(header_format).__name__}>"
            )
        if header_format is not None:
            header_format = header_format.strip().upper()  # "document" is the DOCUMENT format
        rules = (
            {header_format: HEADER_MEDIA[header_format]}
            if header_format in HEADER_MEDIA
            else HEADER_MEDIA
            if header_format is None
            else {}
        )
        if not rules:
            raise QontakPayloadError(
                self.argument,
                "nothing: only IMAGE, VIDEO and DOCUMENT headers carry a file",
                self.filename,
                hint=f"The template's header is {header_format}.",
            )
        accepted = "; ".join(f"{fmt}: {rule.describe()}" for fmt, rule in rules.items())
        matching = [(fmt, rule) for fmt, rule in rules.items() if self.extension in rule.types]
        if not matching:
            raise QontakPayloadError(self.argument, f"a file WhatsApp accepts ({accepted})", self.filename)
        fmt, rule = matching[0]
        size = self._measure()
        if size == 0:
            raise QontakPayloadError(self.argument, "a file that is not empty", f"{self.filename} (0 bytes)")
        if size > rule.max_bytes:
            raise QontakPayloadError(
                self.argument,
                f"at most {rule.max_bytes // MiB} MB for a {fmt} header (WhatsApp's limit)",
                f"{self.filename} ({size / MiB:.1f} MB)",
            )
        mime = rule.types[self.extension]
        head = self._head(16)
        signatures = _SIGNATURES.get(mime, ())
        if signatures and not any(head[at : at + len(magic)] == magic for at, magic in signatures):
            raise QontakPayloadError(
                self.argument,
                f"the content of a {self.extension} file ({mime})",
                f"{self.filename} (its first bytes are not those of a {self.extension} file)",
            )
        return mime

    def _measure(self) -> int:
        if self.size is None:
            self.sha256()  # reads it once; the size comes with the hash
        return int(self.size or 0)

    def _head(self, count: int) -> bytes:
        with self.open() as stream:
            return stream.read(count)


def check_header(template: Template, media: MediaFile) -> str:
    """
    Check ``media`` against the header format of ``template``; return the format (``DOCUMENT``, ...).

    :raises QontakPayloadError: the template has no media header, or the file does not fit it.
    """
    fmt = str(template.header.format or "").upper() if template.header is not None else ""
    if fmt not in HEADER_MEDIA:
        raise QontakPayloadError(
            media.argument,
            f"a template with an IMAGE, VIDEO or DOCUMENT header (template {template.name!r} has "
            f"{fmt + ' header' if fmt else 'no header'})",
            media.filename,
        )
    media.check(fmt)
    return fmt


def media_file(
    source: Any, *, filename: str | None = None, argument: str = "file", check: bool = True
) -> MediaFile:
    """
    Open ``source`` as a :class:`MediaFile` without reading it.

    :param source: a local path (``str`` or ``os.PathLike``), an object with ``open("rb")`` and ``name``
        (Airflow's ``ObjectStoragePath`` for S3, GCS, ...), or ``bytes`` (then ``filename`` is required).
    :param filename: the name to show; default: the path's last segment.
    :param argument: the argument it came from, for error messages.
    :param check: ``False`` only names the file (its name and stand-in URL), without asking whether it
        exists or how big it is: for a send that an earlier try already made, whose file may be gone.
    :raises QontakPayloadError: the file does not exist, or bytes came without a file name.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        if not filename:
            raise QontakPayloadError(argument, "a file name with the bytes (filename=...)", None)
        data = bytes(source)
        return MediaFile(
            filename=_clean_name(filename, argument), size=len(data), argument=argument, _data=data
        )
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not path.strip():
            raise QontakPayloadError(argument, "the path of a file", source)
        media = MediaFile(
            filename=_clean_name(filename or os.path.basename(path), argument),
            size=None,
            argument=argument,
            _source=path,
        )
        if check:
            if os.path.isdir(path):
                raise QontakPayloadError(argument, "the path of a file, not of a directory", _shown(path))
            if not os.path.isfile(path):
                raise QontakPayloadError(argument, "the path of an existing file", _shown(path))
            with media._reading():
                media.size = os.path.getsize(path)
        return media
    if hasattr(source, "open"):
        name = filename or getattr(source, "name", None) or PurePosixPath(str(source)).name
        media = MediaFile(
            filename=_clean_name(str(name), argument), size=None, argument=argument, _source=source
        )
        if check:
            try:
                exists = source.exists() if hasattr(source, "exists") else True
            except Exception as err:  # an object store that cannot be reached says so here, before any upload
                raise QontakPayloadError(argument, "a file that can be read", f"{source} ({err})") from err
            if not exists:
                raise QontakPayloadError(argument, "the path of an existing file", str(source))
            media.size = _object_size(source)
        return media
    raise QontakPayloadError(
        argument, "a file path, an ObjectStoragePath or bytes", f"<{type(source).__name__}>"
    )


def _shown(path: str) -> str:
    """A path as error messages show it: whole up to 200 characters, else its start and its end."""
    return path if len(path) <= 200 else f"{path[:120]}...{path[-60:]}"


def _object_size(source: Any) -> int | None:
    try:
        stat = source.stat()
    except Exception:  # not every store reports it; the size is then measured by reading
        return None
    size = stat.get("size") if isinstance(stat, dict) else getattr(stat, "st_size", None)
    return int(size) if isinstance(size, int) else None


def _clean_name(name: str, argument: str) -> str:
    from qontak_provider.client.payload import check_text

    base = PurePosixPath(str(name).replace("\\", "/")).name
    return check_text(argument, base, max_length=255, what="a file name")


@dataclass
class MultipartBody:
    """
    The ``multipart/form-data`` body of an upload: one ``file`` part, streamed.

    :param media: the file.
    :param mime: its MIME type (from :meth:`MediaFile.check`).
    """

    media: MediaFile
    mime: str
    boundary: str = field(default_factory=lambda: "qontak-" + uuid.uuid4().hex)
    _digest: str | None = field(default=None, repr=False)

    def _head(self) -> bytes:
        name = self.media.filename.replace('"', "%22")
        return (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: {self.mime}\r\n\r\n"
        ).encode()

    def _tail(self) -> bytes:
        return f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    @property
    def length(self) -> int:
        return len(self._head()) + self.media._measure() + len(self._tail())

    def chunks(self) -> Iterator[bytes]:
        """The whole body, in chunks; each call starts again (a retried attempt sends it anew).

        :raises QontakPayloadError: the file's size is not the one measured for ``Content-Length`` (it
            changed while it was uploaded): stopped before a byte beyond it is sent.
        """
        declared = self.media._measure()
        sent = 0
        yield self._head()
        for chunk in self.media.chunks():
            sent += len(chunk)
            if sent > declared:
                break
            yield chunk
        if sent != declared:
            raise QontakPayloadError(
                self.media.argument,
                "a file that does not change while it is uploaded",
                f"{self.media.filename}: {sent if sent <= declared else 'more than ' + str(declared)} bytes "
                f"instead of {declared}",
            )
        yield self._tail()

    def stream(self) -> _SizedStream:
        """The body for ``requests``: iterable (it streams) and sized (it goes with a Content-Length)."""
        return _SizedStream(self)

    @property
    def digest(self) -> str:
        """``SHA-256=<base64>`` of the whole body, computed by one streaming pass."""
        if self._digest is None:
            hasher = hashlib.sha256()
            for chunk in self.chunks():
                hasher.update(chunk)
            self._digest = digest_header(hasher.digest())
        return self._digest


class _SizedStream:
    """``requests`` streams an iterable body, with a ``Content-Length`` (not chunked) when it has a length."""

    def __init__(self, body: MultipartBody) -> None:
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        return self._body.chunks()

    def __len__(self) -> int:
        return self._body.length
