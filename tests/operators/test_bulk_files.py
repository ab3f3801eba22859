"""QontakBulkSendOperator with a file per row (``header_file``), and with a contact list as its input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from qontak_provider.client.errors import QontakServerError
from qontak_provider.operators.bulk import QontakBulkSendOperator

INVOICE_TEMPLATE = "380d1355-0a65-4dc5-be82-308ee7619910"  # invoice_document: DOCUMENT header, no variables
CONTACT_LIST = "534bd3d4-5395-46a9-bfbb-353f3a7721be"
pytestmark = pytest.mark.qontak_sandbox(rate_limit=0, clock="instant")


def pdf(text: str) -> bytes:
    return f"%PDF-1.4\n% {text}\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".encode()


@pytest.fixture
def invoices(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for number in ("INV-1", "INV-2", "INV-3"):
        paths[number] = tmp_path / f"{number}.pdf"
        paths[number].write_bytes(pdf(number))
    return paths


def rows(invoices: dict[str, Path]) -> list[dict[str, Any]]:
    return [
        {"id": "C1", "phone": "081200000001", "name": "Budi", "invoice": str(invoices["INV-1"])},
        {"id": "C2", "phone": "081200000002", "name": "Siti", "invoice": str(invoices["INV-2"])},
        # the same statement to a second contact of the same company: one upload for both
        {"id": "C3", "phone": "081200000003", "name": "Andi", "invoice": str(invoices["INV-2"])},
        {"id": "C4", "phone": "081200000004", "name": "Dewi", "invoice": str(invoices["INV-3"])},
    ]


def bulk(recipients: Any, **kwargs: Any) -> QontakBulkSendOperator:
    kwargs.setdefault("template_id", INVOICE_TEMPLATE)
    kwargs.setdefault("header_file", "{{ row.invoice }}")
    kwargs.setdefault("key_column", "id")
    kwargs.setdefault("rate_per_minute", 6000)  # these tests are not about pacing: no waiting for it
    return QontakBulkSendOperator(task_id="bulk", recipients=recipients, **kwargs)


def url_of(send: dict[str, Any]) -> str:
    return {p["key"]: p["value"] for p in send["body"]["parameters"]["header"]["params"]}["url"]


def test_each_row_gets_its_own_file_and_each_content_is_uploaded_once(
    qontak_sandbox: Any, store: Any, invoices: dict[str, Path]
) -> None:
    result = bulk(rows(invoices), max_concurrency=4).execute({"task_state_store": store})
    assert result["sent"] == 4
    uploads = {u["url"]: u for u in qontak_sandbox.uploads()}
    assert sorted(u["filename"] for u in uploads.values()) == ["INV-1.pdf", "INV-2.pdf", "INV-3.pdf"]
    by_number = {s["to_number"]: uploads[url_of(s)]["data"] for s in qontak_sandbox.sends()}
    assert by_number == {
        "6281200000001": pdf("INV-1"),
        "6281200000002": pdf("INV-2"),
        "6281200000003": pdf("INV-2"),
        "6281200000004": pdf("INV-3"),
    }


def test_a_row_whose_file_is_missing_is_invalid_and_the_others_are_sent(
    qontak_sandbox: Any, store: Any, invoices: dict[str, Path], tmp_path: Path
) -> None:
    data = rows(invoices)
    data[1]["invoice"] = str(tmp_path / "missing.pdf")
    result = bulk(data, max_invalid_ratio=None, results_path=str(tmp_path / "results.jsonl")).execute(
        {"task_state_store": store}
    )
    assert result["sent"] == 3 and result["invalid"] == 1
    text = (tmp_path / "results.jsonl").read_text()
    assert "header_file: expected the path of an existing file" in text


def test_a_row_invalid_for_a_missing_file_is_sent_by_the_retry_once_the_file_exists(
    qontak_sandbox: Any, store: Any, invoices: dict[str, Path], tmp_path: Path
) -> None:
    """The file is outside the input: its row is checked again by the next try, not taken as settled."""
    late = tmp_path / "INV-late.pdf"
    data = rows(invoices)
    data[1]["invoice"] = str(late)
    with pytest.raises(AirflowFailException, match="1 of 4 rows are invalid"):
        bulk(data).execute({"task_state_store": store})
    assert len(qontak_sandbox.sends()) == 3
    late.write_bytes(pdf("INV-late"))
    result = bulk(data).execute({"task_state_store": store, "ti": _Try(2)})
    assert result["sent"] == 1 and result["skipped_already_sent"] == 3 and result["invalid"] == 0
    assert qontak_sandbox.counts() == {f"628120000000{n}": 1 for n in (1, 2, 3, 4)}


def test_a_retry_after_the_sends_does_not_need_the_files_any_more(
    qontak_sandbox: Any, store: Any, invoices: dict[str, Path]
) -> None:
    """Sent rows are reported as sent even when their files were deleted (a retry on another worker)."""
    bulk(rows(invoices)).execute({"task_state_store": store})
    for path in invoices.values():
        path.unlink()
    result = bulk(rows(invoices)).execute({"task_state_store": store, "ti": _Try(2)})
    assert result["skipped_already_sent"] == 4 and result["invalid"] == 0 and result["sent"] == 0
    assert len(qontak_sandbox.sends()) == 4


class _Try:
    """The part of a task instance the bulk operator reads: which try this is."""

    def __init__(self, try_number: int) -> None:
        self.try_number = try_number


def test_a_file_that_fails_to_upload_fails_only_its_rows_and_a_retry_sends_them(
    qontak_sandbox: Any, store: Any, invoices: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    op = bulk(rows(invoices))
    upload = op.hook.client.upload_file

    def flaky(media: Any, **kwargs: Any) -> Any:
        if media.filename == "INV-2.pdf":
            raise QontakServerError("Qontak answered POST /qontak/chat/v1/file_uploader with HTTP 502")
        return upload(media, **kwargs)

    monkeypatch.setattr(op.hook.client, "upload_file", flaky)
    with pytest.raises(AirflowException, match="2 rows could not be sent"):
        op.execute({"task_state_store": store})
    assert sorted(s["to_number"] for s in qontak_sandbox.sends()) == ["6281200000001", "6281200000004"]
    retry = bulk(rows(invoices)).execute({"task_state_store": store})  # the next try of the task
    assert retry["sent"] == 2 and retry["skipped_already_sent"] == 2
    assert sorted(qontak_sandbox.counts().values()) == [1, 1, 1, 1]


def test_a_template_without_a_media_header_makes_every_row_invalid(
    qontak_sandbox: Any, store: Any, invoices: dict[str, Path]
) -> None:
    with pytest.raises(Exception, match="rows are invalid"):
        bulk(rows(invoices), template_id="d3e1083c-66ea-410b-b807-1d84182ffa82", body=["x", "y"]).execute(
            {"task_state_store": store}
        )
    assert qontak_sandbox.uploads() == [] and qontak_sandbox.sends() == []


def test_a_contact_list_is_the_input(qontak_sandbox: Any, store: Any) -> None:
    op = QontakBulkSendOperator(
        task_id="bulk",
        contact_list_id=CONTACT_LIST,
        template_name="payment_reminder",
        body={"1": "{{ row.customer_name }}", "2": "{{ row.amount }}", "3": "31 Desember"},
    )
    result = op.execute({"task_state_store": store})
    assert result["sent"] == 3
    bodies = {
        s["to_number"]: s["body"]["parameters"]["body"][0]["value_text"] for s in qontak_sandbox.sends()
    }
    assert bodies == {"6281234567801": "Budi", "6281234567802": "Siti", "6281234567803": "Andi"}


def test_recipients_or_a_contact_list_exactly() -> None:
    with pytest.raises(ValueError, match="exactly one of recipients and contact_list_id"):
        QontakBulkSendOperator(task_id="b", template_name="x")
    with pytest.raises(ValueError, match="exactly one"):
        QontakBulkSendOperator(task_id="b", template_name="x", recipients=[], contact_list_id="y")


def test_a_contact_list_that_changed_between_tries_is_not_matched_to_the_journal(
    qontak_sandbox: Any, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows are journalled by position: a contact added in front would shift every row after it."""

    def op() -> QontakBulkSendOperator:
        return QontakBulkSendOperator(
            task_id="bulk",
            contact_list_id=CONTACT_LIST,
            template_name="payment_reminder",
            body={"1": "{{ row.customer_name }}", "2": "{{ row.amount }}", "3": "31 Desember"},
        )

    first = op()
    first.execute({"task_state_store": store})
    second = op()
    listed = second.hook.get_contact_list(CONTACT_LIST)
    grown = listed.model_copy(update={"contacts_count": (listed.contacts_count or 0) + 1})
    monkeypatch.setattr(type(second.hook), "get_contact_list", lambda hook, _id: grown)
    with pytest.raises(Exception, match="refusing to guess"):
        second.execute({"task_state_store": store})
    assert len(qontak_sandbox.sends()) == 3  # nothing sent again, nobody skipped by a shifted position


def test_a_file_gone_before_its_upload_makes_its_rows_invalid_and_the_run_goes_on(
    qontak_sandbox: Any, store: Any, invoices: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    op = bulk(rows(invoices))
    upload = op.hook.client.upload_file
    kept = invoices["INV-2"].read_bytes()

    def cleaned_up_first(media: Any, **kwargs: Any) -> Any:
        if media.filename == "INV-2.pdf":
            invoices["INV-2"].unlink()  # another task removed it after the row was checked
        return upload(media, **kwargs)

    monkeypatch.setattr(op.hook.client, "upload_file", cleaned_up_first)
    with pytest.raises(AirflowFailException, match="2 of 4 rows are invalid"):
        op.execute({"task_state_store": store})
    assert sorted(s["to_number"] for s in qontak_sandbox.sends()) == ["6281200000001", "6281200000004"]
    invoices["INV-2"].write_bytes(kept)
    retry = bulk(rows(invoices)).execute({"task_state_store": store, "ti": _Try(2)})
    assert retry["sent"] == 2 and retry["skipped_already_sent"] == 2 and retry["invalid"] == 0
    assert sorted(qontak_sandbox.counts().values()) == [1, 1, 1, 1]


@pytest.mark.parametrize(
    ("contact_list_id", "said"),
    [("", "contact_list_id: expected a non-empty id"), ("no-such-list", "not found, nothing was sent")],
)
def test_an_empty_or_unknown_contact_list_fails_without_retry(
    qontak_sandbox: Any, store: Any, contact_list_id: str, said: str
) -> None:
    op = QontakBulkSendOperator(
        task_id="bulk",
        contact_list_id=contact_list_id,
        template_name="payment_reminder",
        body=["a", "b", "c"],
    )
    with pytest.raises(AirflowFailException, match=said):
        op.execute({"task_state_store": store})
    assert qontak_sandbox.sends() == []


def test_a_header_file_url_of_a_filesystem_is_opened_through_it(
    qontak_sandbox: Any, store: Any, invoices: dict[str, Path]
) -> None:
    data = [{"id": "C1", "phone": "081200000001", "name": "Budi", "invoice": f"file://{invoices['INV-1']}"}]
    result = bulk(data).execute({"task_state_store": store})
    assert result["sent"] == 1 and qontak_sandbox.uploads()[0]["data"] == pdf("INV-1")


def test_contact_list_rows_are_keyed_by_contact_id(qontak_sandbox: Any, store: Any, tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    QontakBulkSendOperator(
        task_id="bulk",
        contact_list_id=CONTACT_LIST,
        template_name="payment_reminder",
        body={"1": "{{ row.customer_name }}", "2": "{{ row.amount }}", "3": "31 Desember"},
        results_path=str(results),
        rate_per_minute=6000,
    ).execute({"task_state_store": store})
    import json

    keys = [json.loads(line)["key"] for line in results.read_text().splitlines()]
    from qontak_provider.sandbox.media import directory

    (listed,) = [c for c in directory()["contact_lists"] if c["id"] == CONTACT_LIST]
    assert keys == [c["id"] for c in listed["contacts"]] and all(keys)
