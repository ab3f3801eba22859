"""QontakNotifier with ``header_file``: one upload per notification, sent to every number, sync and async."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from qontak_provider.notifications.qontak import QontakNotifier

INVOICE_TEMPLATE = "380d1355-0a65-4dc5-be82-308ee7619910"  # invoice_document: DOCUMENT header
REPORT = b"%PDF-1.4\n% the failed load's report\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "load-report.pdf"
    path.write_bytes(REPORT)
    return path


def notifier(**kwargs: Any) -> QontakNotifier:
    return QontakNotifier(
        to_numbers=["0812 3456 7890", "0812 9876 5432"], template_id=INVOICE_TEMPLATE, **kwargs
    )


def urls(sandbox: Any) -> set[str]:
    return {
        next(p["value"] for p in s["body"]["parameters"]["header"]["params"] if p["key"] == "url")
        for s in sandbox.sends()
    }


def test_the_file_is_uploaded_once_and_sent_to_every_number(qontak_sandbox: Any, report: Path) -> None:
    notifier(header_file=str(report)).notify({})
    (upload,) = qontak_sandbox.uploads()
    assert upload["data"] == REPORT and len(qontak_sandbox.sends()) == 2
    assert urls(qontak_sandbox) == {upload["url"]}


def test_the_async_notifier_does_the_same(qontak_sandbox: Any, report: Path) -> None:
    asyncio.run(notifier(header_file=str(report)).async_notify({}))
    assert len(qontak_sandbox.uploads()) == 1 and len(qontak_sandbox.sends()) == 2
    assert urls(qontak_sandbox) == {qontak_sandbox.uploads()[0]["url"]}


def test_a_missing_file_is_logged_and_nothing_is_sent(
    qontak_sandbox: Any, tmp_path: Path, capsys: Any
) -> None:
    notifier(header_file=str(tmp_path / "nope.pdf")).notify({})  # must not raise
    assert qontak_sandbox.uploads() == [] and qontak_sandbox.sends() == []
    assert "header_file: expected the path of an existing file" in capsys.readouterr().out


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(
    "mistake",
    [{"to_numbers": ["12"]}, {"channel_integration_id": ["not", "an", "id"]}],
    ids=["no usable number", "a list as channel"],
)
def test_nothing_is_uploaded_when_no_message_could_be_sent(
    qontak_sandbox: Any, report: Path, mode: str, mistake: dict[str, Any]
) -> None:
    """The file is public once uploaded: it is uploaded only for messages that passed their checks."""
    arguments = {
        "to_numbers": ["0812 3456 7890"],
        "template_id": INVOICE_TEMPLATE,
        "header_file": str(report),
    }
    alert = QontakNotifier(**{**arguments, **mistake})
    if mode == "sync":
        alert.notify({})
    else:
        asyncio.run(alert.async_notify({}))
    assert qontak_sandbox.uploads() == [] and qontak_sandbox.sends() == []


def test_the_file_name_sent_is_the_checked_one(qontak_sandbox: Any, report: Path) -> None:
    notifier(header_file=str(report), header_filename="reports/Laporan Gagal.pdf").notify({})
    (send, _other) = qontak_sandbox.sends()
    params = {p["key"]: p["value"] for p in send["body"]["parameters"]["header"]["params"]}
    assert params["filename"] == "Laporan Gagal.pdf" == qontak_sandbox.uploads()[0]["filename"]
