"""Header files: what WhatsApp accepts per header format, checked before any request; the streamed body."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from qontak_provider.client.errors import QontakPayloadError
from qontak_provider.client.media import (
    CHUNK_SIZE,
    HEADER_MEDIA,
    PLACEHOLDER_PREFIX,
    MultipartBody,
    check_header,
    media_file,
)
from qontak_provider.client.models import Template

PDF = b"%PDF-1.4\n% a small invoice\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 32
DOCX = b"PK\x03\x04" + b"\x00" * 32


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def template(fmt: str | None) -> Template:
    header = {"format": fmt} if fmt else None
    return Template.model_validate({"id": "t1", "name": "invoice_document", "header": header, "body": "Hi."})


def refusal(call: Any) -> str:
    with pytest.raises(QontakPayloadError) as caught:
        call()
    return str(caught.value)


# ------------------------------------------------------------------------------------------------ accepted


@pytest.mark.parametrize(
    ("name", "data", "fmt", "mime"),
    [
        ("invoice.pdf", PDF, "DOCUMENT", "application/pdf"),
        ("INVOICE.PDF", PDF, "DOCUMENT", "application/pdf"),
        ("notes.txt", b"plain text", "DOCUMENT", "text/plain"),
        (
            "report.docx",
            DOCX,
            "DOCUMENT",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        ("promo.png", PNG, "IMAGE", "image/png"),
        ("promo.jpeg", JPEG, "IMAGE", "image/jpeg"),
        ("clip.mp4", MP4, "VIDEO", "video/mp4"),
    ],
)
def test_files_whatsapp_takes_pass_with_their_type(
    tmp_path: Path, name: str, data: bytes, fmt: str, mime: str
) -> None:
    media = media_file(write(tmp_path, name, data))
    assert media.check(fmt) == mime
    assert media.check(None) == mime  # any media header
    assert media.filename == name and media.size == len(data)


def test_bytes_need_a_file_name_and_are_checked_the_same(tmp_path: Path) -> None:
    assert "filename=" in refusal(lambda: media_file(PDF))
    media = media_file(PDF, filename="INV-1.pdf", argument="header_file")
    assert media.check("DOCUMENT") == "application/pdf"
    assert media.sha256() == hashlib.sha256(PDF).hexdigest()


def test_an_object_with_open_and_name_is_read_lazily() -> None:
    class StoragePath:
        name = "INV-9.pdf"
        opened = 0

        def exists(self) -> bool:
            return True

        def stat(self) -> dict[str, int]:
            return {"size": len(PDF)}

        def open(self, mode: str) -> Any:
            import io

            StoragePath.opened += 1
            return io.BytesIO(PDF)

    media = media_file(StoragePath())
    assert StoragePath.opened == 0 and media.size == len(PDF) and media.filename == "INV-9.pdf"
    assert media.check("DOCUMENT") == "application/pdf"


# ------------------------------------------------------------------------------------------------ refused


def test_a_missing_file_is_refused_naming_the_argument(tmp_path: Path) -> None:
    message = refusal(lambda: media_file(tmp_path / "nope.pdf", argument="header_file"))
    assert message.startswith("header_file:") and "existing file" in message


def test_an_object_store_that_says_the_file_is_not_there_is_refused() -> None:
    class Gone:
        name = "x.pdf"

        def exists(self) -> bool:
            return False

        def open(self, mode: str) -> Any:
            raise AssertionError("must not be read")

    assert "existing file" in refusal(lambda: media_file(Gone()))


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    assert "not empty" in refusal(lambda: media_file(write(tmp_path, "empty.pdf", b"")).check("DOCUMENT"))


@pytest.mark.parametrize(
    ("name", "fmt"), [("invoice.pdf", "IMAGE"), ("promo.png", "DOCUMENT"), ("a.gif", None)]
)
def test_a_type_the_header_does_not_take_is_refused_listing_what_it_takes(
    tmp_path: Path, name: str, fmt: str | None
) -> None:
    data = PDF if name.endswith(".pdf") else PNG
    message = refusal(lambda: media_file(write(tmp_path, name, data)).check(fmt))
    assert name in message and "WhatsApp accepts" in message
    if fmt:
        assert HEADER_MEDIA[fmt].describe() in message


def test_a_file_bigger_than_whatsapp_takes_is_refused_with_both_sizes(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    with path.open("wb") as out:
        out.write(PNG)
        out.truncate(5 * 1024 * 1024 + 1)  # sparse: one byte over WhatsApp's 5 MB for images
    message = refusal(lambda: media_file(path).check("IMAGE"))
    assert "at most 5 MB" in message and "5.0 MB" in message


def test_content_that_contradicts_its_extension_is_refused(tmp_path: Path) -> None:
    message = refusal(
        lambda: media_file(write(tmp_path, "invoice.pdf", b"<html>not a pdf")).check("DOCUMENT")
    )
    assert "first bytes are not those of a .pdf file" in message


def test_a_template_without_a_media_header_takes_no_file(tmp_path: Path) -> None:
    media = media_file(write(tmp_path, "invoice.pdf", PDF), argument="header_file")
    assert check_header(template("DOCUMENT"), media) == "DOCUMENT"
    assert "no header" in refusal(lambda: check_header(template(None), media))
    assert "TEXT header" in refusal(lambda: check_header(template("TEXT"), media))


@pytest.mark.parametrize("name", ["../../etc/passwd.pdf", "dir\\evil.pdf"])
def test_file_names_keep_only_their_last_segment(name: str) -> None:
    assert media_file(PDF, filename=name).filename in ("passwd.pdf", "evil.pdf")


def test_a_file_name_with_control_characters_is_refused() -> None:
    assert "header_file" in refusal(
        lambda: media_file(PDF, filename="inv\x00oice.pdf", argument="header_file")
    )


@pytest.mark.parametrize("value", [None, 42, ["a.pdf"], "  "])
def test_a_source_of_the_wrong_kind_is_refused(value: Any) -> None:
    refusal(lambda: media_file(value, argument="header_file"))


# ------------------------------------------------------------------------------------------------ the body


def test_the_multipart_body_is_streamed_sized_and_digested(tmp_path: Path) -> None:
    data = PDF + b"x" * (3 * CHUNK_SIZE)
    media = media_file(write(tmp_path, 'in"voice.pdf', data))
    body = MultipartBody(media, media.check("DOCUMENT"))
    chunks = list(body.chunks())
    whole = b"".join(chunks)
    assert len(chunks) >= 5  # head, at least four chunks of the file, tail: never the file in one piece
    assert body.length == len(whole) == len(body.stream())
    assert b"".join(body.stream()) == whole  # re-iterable: a retried attempt sends it anew
    assert body.digest == "SHA-256=" + base64.b64encode(hashlib.sha256(whole).digest()).decode()
    assert body.content_type == f"multipart/form-data; boundary={body.boundary}"
    assert whole.startswith(f"--{body.boundary}\r\n".encode())
    assert b'name="file"; filename="in%22voice.pdf"' in whole and b"Content-Type: application/pdf" in whole
    assert whole.endswith(f"\r\n--{body.boundary}--\r\n".encode())
    assert data in whole


def test_placeholder_urls_are_https_unreachable_and_tell_files_apart(tmp_path: Path) -> None:
    a = media_file(write(tmp_path, "a.pdf", PDF))
    b = media_file(write(tmp_path, "b.pdf", PDF))
    url = a.placeholder_url()
    assert url.startswith(PLACEHOLDER_PREFIX) and url.startswith("https://upload.invalid/")
    assert url.endswith("/a.pdf") and url != b.placeholder_url()
    assert url == media_file(tmp_path / "a.pdf").placeholder_url()  # the same file: the same stand-in
    assert (
        media_file(PDF, filename="x.pdf").placeholder_url()
        == media_file(PDF, filename="x.pdf").placeholder_url()
    )


def test_a_directory_an_empty_path_and_a_long_path_get_messages_of_their_own(tmp_path: Path) -> None:
    with pytest.raises(
        QontakPayloadError, match="header_file: expected the path of a file, not of a directory"
    ):
        media_file(tmp_path, argument="header_file")
    long = str(tmp_path / ("x" * 9_000) / "INV-1.pdf")  # a 10,000-character path
    with pytest.raises(QontakPayloadError, match="the path of an existing file") as info:
        media_file(long, argument="header_file")
    assert len(str(info.value)) < 300 and long[-40:] in str(info.value)


def test_the_header_format_is_read_in_any_case_and_must_be_text(tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    path.write_bytes(b"%PDF-1.4\n%%EOF\n")
    assert media_file(path).check("document") == "application/pdf"
    with pytest.raises(
        QontakPayloadError, match="header_format: expected IMAGE, VIDEO or DOCUMENT, got '<list>'"
    ):
        media_file(path).check(["DOCUMENT"])  # type: ignore[arg-type]


def test_a_file_that_vanishes_is_this_arguments_error_whenever_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.pdf"
    path.write_bytes(b"%PDF-1.4\n%%EOF\n")
    media = media_file(path, argument="header_file")
    path.unlink()
    with pytest.raises(
        QontakPayloadError, match=r"header_file: expected a file that can be read, got 'a\.pdf: "
    ):
        media.sha256()
    with pytest.raises(QontakPayloadError, match="a file that can be read"):
        media.open()


def test_naming_a_file_without_checking_it_reads_nothing(tmp_path: Path) -> None:
    gone = tmp_path / "gone" / "INV-9.pdf"
    named = media_file(gone, argument="header_file", check=False)
    assert named.filename == "INV-9.pdf" and named.size is None
    assert named.placeholder_url() == media_file(str(gone), check=False).placeholder_url()
