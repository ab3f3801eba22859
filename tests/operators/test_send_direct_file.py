"""``QontakSendDirectOperator(header_file=...)``: checked first, uploaded once, sent with its URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from conftest import api_sends

from qontak_provider.client.errors import QontakRateLimitError
from qontak_provider.ledger.send import SEND_STATE_KEY
from qontak_provider.ledger.upload import UPLOAD_STATE_KEY
from qontak_provider.operators.qontak import QontakSendDirectOperator

INVOICE_TEMPLATE = "380d1355-0a65-4dc5-be82-308ee7619910"  # invoice_document: DOCUMENT header, no variables
SONG = "d3e1083c-66ea-410b-b807-1d84182ffa82"  # song_recommendation: no header
NUMBER = "6281234567890"
PDF = b"%PDF-1.4\n% INV-2026-0101 for Budi\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def invoice(tmp_path: Path) -> Path:
    path = tmp_path / "INV-2026-0101.pdf"
    path.write_bytes(PDF)
    return path


def operator(**kwargs: Any) -> QontakSendDirectOperator:
    arguments = {"task_id": "send", "to_number": NUMBER, "to_name": "Budi", "template_id": INVOICE_TEMPLATE}
    return QontakSendDirectOperator(**{**arguments, **kwargs})


def header_of(send: dict[str, Any]) -> dict[str, str]:
    params = send["body"]["parameters"]["header"]["params"]
    return {p["key"]: p["value"] for p in params}


def test_the_file_is_uploaded_and_the_message_carries_its_url(
    qontak_sandbox: Any, store: Any, invoice: Path
) -> None:
    result = operator(header_file=str(invoice)).execute({"task_state_store": store})
    (upload,) = qontak_sandbox.uploads()
    (send,) = qontak_sandbox.sends()
    assert upload["data"] == PDF and upload["filename"] == "INV-2026-0101.pdf"
    assert header_of(send) == {"url": upload["url"], "filename": "INV-2026-0101.pdf"}
    assert result["broadcast_id"] == send["broadcast_id"]
    assert store.get(UPLOAD_STATE_KEY)["url"] == upload["url"]


def test_header_filename_names_the_file_for_the_recipient(
    qontak_sandbox: Any, store: Any, invoice: Path
) -> None:
    operator(header_file=invoice, header_filename="Tagihan Desember.pdf").execute({"task_state_store": store})
    assert header_of(qontak_sandbox.sends()[0])["filename"] == "Tagihan Desember.pdf"


def test_bytes_are_a_file_too(qontak_sandbox: Any, store: Any) -> None:
    operator(header_file=PDF, header_filename="INV-7.pdf").execute({"task_state_store": store})
    assert qontak_sandbox.uploads()[0]["filename"] == "INV-7.pdf" and len(qontak_sandbox.sends()) == 1


def test_a_retry_after_a_failed_send_does_not_upload_again(
    qontak_sandbox: Any, store: Any, invoice: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = operator(header_file=str(invoice))

    def refused(payload: Any) -> Any:
        raise QontakRateLimitError("slow down")  # provably not sent: the next try sends

    monkeypatch.setattr(first.hook, "send_direct", refused)
    with pytest.raises(QontakRateLimitError):
        first.execute({"task_state_store": store})
    assert len(qontak_sandbox.uploads()) == 1 and store.get(SEND_STATE_KEY) is None
    operator(header_file=str(invoice)).execute({"task_state_store": store})
    assert len(qontak_sandbox.uploads()) == 1  # the earlier upload is reused
    assert header_of(qontak_sandbox.sends()[0])["url"] == qontak_sandbox.uploads()[0]["url"]


def test_a_retry_after_a_successful_send_neither_uploads_nor_sends(
    qontak_sandbox: Any, store: Any, invoice: Path
) -> None:
    first = operator(header_file=str(invoice)).execute({"task_state_store": store})
    again = operator(header_file=str(invoice)).execute({"task_state_store": store})
    assert again == {**first, "reused": True}
    assert len(qontak_sandbox.uploads()) == 1 and len(qontak_sandbox.sends()) == 1


def test_a_changed_file_is_uploaded_anew(
    qontak_sandbox: Any, store: Any, invoice: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = operator(header_file=str(invoice))
    monkeypatch.setattr(
        first.hook, "send_direct", lambda payload: (_ for _ in ()).throw(QontakRateLimitError("x"))
    )
    with pytest.raises(QontakRateLimitError):
        first.execute({"task_state_store": store})
    invoice.write_bytes(PDF.replace(b"Budi", b"Siti"))
    operator(header_file=str(invoice)).execute({"task_state_store": store})
    assert len(qontak_sandbox.uploads()) == 2


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"template_id": SONG}, "header_file"),  # the template has no media header
        ({"header_url": "https://cdn.example.com/x.pdf"}, "header_file"),  # one file or one URL
        ({"header_file": "/no/such/invoice.pdf"}, "header_file"),
        ({"header_file": b"<html>", "header_filename": "x.pdf"}, "header_file"),
        ({"header_file": ["a.pdf"]}, "header_file"),
    ],
)
def test_a_file_that_cannot_be_sent_fails_before_any_request(
    qontak_sandbox: Any, store: Any, invoice: Path, arguments: dict[str, Any], field: str
) -> None:
    arguments = {"header_file": str(invoice), **arguments}
    with pytest.raises(AirflowFailException, match=f"{field}:"):
        operator(**arguments).execute({"task_state_store": store})
    assert qontak_sandbox.uploads() == [] and api_sends(qontak_sandbox) == 0


@pytest.mark.qontak_sandbox(upload_max_mb=0.00001)
def test_an_upload_qontak_refuses_fails_without_retry_and_sends_nothing(
    qontak_sandbox: Any, store: Any, invoice: Path
) -> None:
    with pytest.raises(AirflowFailException, match="file size must be at most"):
        operator(header_file=str(invoice)).execute({"task_state_store": store})
    assert api_sends(qontak_sandbox) == 0 and store.get(SEND_STATE_KEY) is None


def test_an_upload_that_failed_for_now_is_retryable(
    qontak_sandbox: Any, store: Any, invoice: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    op = operator(header_file=str(invoice))
    monkeypatch.setattr(
        op.hook, "upload_file", lambda *a, **k: (_ for _ in ()).throw(QontakRateLimitError("x"))
    )
    with pytest.raises(QontakRateLimitError) as caught:
        op.execute({"task_state_store": store})
    assert not isinstance(caught.value, AirflowException)
    assert api_sends(qontak_sandbox) == 0 and store.get(SEND_STATE_KEY) is None


def test_a_dry_run_checks_the_file_and_uploads_nothing(qontak_sandbox: Any, invoice: Path) -> None:
    result = operator(header_file=str(invoice), dry_run=True).execute({})
    assert qontak_sandbox.uploads() == [] and api_sends(qontak_sandbox) == 0
    header = result["payload"]["parameters"]["header"]["params"]
    assert {p["key"]: p["value"] for p in header}["filename"] == "INV-2026-0101.pdf"


def test_a_retry_after_the_send_returns_it_without_the_file(
    qontak_sandbox: Any, store: Any, invoice: Path
) -> None:
    """The retry may run on another worker, or after the file was cleaned up: the message was sent."""
    first = operator(header_file=str(invoice)).execute({"task_state_store": store})
    invoice.unlink()
    again = operator(header_file=str(invoice)).execute({"task_state_store": store})
    assert again["reused"] is True and again["broadcast_id"] == first["broadcast_id"]
    assert len(qontak_sandbox.sends()) == 1 and len(qontak_sandbox.uploads()) == 1


def test_without_an_earlier_send_a_missing_file_is_still_refused(
    qontak_sandbox: Any, store: Any, tmp_path: Path
) -> None:
    with pytest.raises(AirflowFailException, match="header_file: expected the path of an existing file"):
        operator(header_file=str(tmp_path / "gone.pdf")).execute({"task_state_store": store})
    assert qontak_sandbox.sends() == [] and qontak_sandbox.uploads() == []


def test_the_file_name_sent_is_the_one_checked_and_uploaded(
    qontak_sandbox: Any, store: Any, invoice: Path
) -> None:
    operator(header_file=invoice, header_filename="tagihan/Desember.pdf").execute({"task_state_store": store})
    assert header_of(qontak_sandbox.sends()[0])["filename"] == "Desember.pdf"
    assert qontak_sandbox.uploads()[0]["filename"] == "Desember.pdf"


@pytest.mark.parametrize(
    ("header_file", "said"),
    [
        ("", "header_file: expected the path of a file"),
        ("nosuchfs://bucket/a.pdf", "a filesystem Airflow can open"),
    ],
)
def test_an_empty_or_unopenable_header_file_fails_without_retry(
    qontak_sandbox: Any, store: Any, header_file: str, said: str
) -> None:
    with pytest.raises(AirflowFailException, match=said):
        operator(header_file=header_file).execute({"task_state_store": store})
    assert qontak_sandbox.sends() == [] and qontak_sandbox.uploads() == []


def test_a_retry_after_the_send_with_a_file_name_returns_it_without_the_file(
    qontak_sandbox: Any, store: Any, invoice: Path
) -> None:
    """The name given is part of what was sent: the retry must recognise the same request without the file."""
    arguments = {"header_file": str(invoice), "header_filename": "Tagihan Desember.pdf"}
    first = operator(**arguments).execute({"task_state_store": store})
    invoice.unlink()
    again = operator(**arguments).execute({"task_state_store": store})
    assert again["reused"] is True and again["broadcast_id"] == first["broadcast_id"]
    assert len(qontak_sandbox.sends()) == 1


def test_a_file_gone_between_its_check_and_its_upload_fails_without_retry(
    qontak_sandbox: Any, store: Any, invoice: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    op = operator(header_file=str(invoice))
    prepare = op._prepare

    def prepare_then_remove(**kwargs: Any) -> Any:
        prepared = prepare(**kwargs)
        invoice.unlink()  # e.g. a cleanup task removing the reports while this one runs
        return prepared

    monkeypatch.setattr(op, "_prepare", prepare_then_remove)
    with pytest.raises(AirflowFailException, match=r"^Invalid header_file, nothing was sent: header_file: "):
        op.execute({"task_state_store": store})
    assert qontak_sandbox.uploads() == [] and api_sends(qontak_sandbox) == 0


def test_header_file_beside_payload_is_refused_word_for_word(qontak_sandbox: Any, store: Any) -> None:
    payload = {"to_number": NUMBER, "to_name": "Budi", "message_template_id": SONG}
    with pytest.raises(AirflowFailException) as caught:
        QontakSendDirectOperator(task_id="send", payload=payload, header_file=PDF).execute(
            {"task_state_store": store}
        )
    assert str(caught.value) == (
        "Invalid Qontak direct send, nothing was sent: header_file: expected nothing: with payload= the "
        "header comes from the payload, got '<a file>'"
    )
