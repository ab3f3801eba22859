"""Recipient readers and the result-table writer of a bulk send (pure streaming I/O, no Airflow).

Rows come from a list of dicts (e.g. an upstream task's XCom) or from a CSV / JSON-lines file read as a
stream, one row at a time, so a million-row file costs no more memory than a thousand-row one. Anything with
an ``open(mode, ...)`` method (``pathlib.Path``, Airflow's ``ObjectStoragePath`` for S3/GCS/...) or a plain
local path string is accepted.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

__all__ = [
    "RESULT_COLUMNS",
    "Openable",
    "ResultWriter",
    "detect_format",
    "iter_rows",
    "open_text",
]

#: Columns of the per-row result table.
RESULT_COLUMNS = ("row", "key", "to_number", "outcome", "broadcast_id", "error")

_CSV_SUFFIXES = (".csv", ".tsv")
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")


@runtime_checkable
class Openable(Protocol):
    """A path-like object that opens itself (``pathlib.Path``, ``ObjectStoragePath``, ...)."""

    def open(self, mode: str = ..., *args: Any, **kwargs: Any) -> IO[Any]: ...


def detect_format(path: object, explicit: str | None = None) -> str:
    """
    Return ``"csv"`` or ``"jsonl"`` for ``path``: ``explicit`` when given, else from the file extension.

    ``.csv`` / ``.tsv`` are CSV (``.tsv`` tab-separated); ``.jsonl``, ``.ndjson`` and ``.json`` are JSON lines
    (one object per line).
    """
    if explicit is not None:
        fmt = explicit.lower()
        if fmt not in ("csv", "tsv", "jsonl"):
            raise ValueError(f"file_format must be 'csv', 'tsv' or 'jsonl', got {explicit!r}")
        return fmt
    name = str(getattr(path, "name", None) or path).lower()
    if name.endswith(".tsv"):
        return "tsv"
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    raise ValueError(
        f"cannot tell the format of {path!s}: use a .csv, .tsv, .jsonl, .ndjson or .json file, or pass "
        "file_format='csv'|'tsv'|'jsonl'"
    )


def _as_openable(path: str | os.PathLike[str] | Openable) -> Any:
    if isinstance(path, (str, os.PathLike)):
        return Path(path)
    return path


@contextmanager
def open_text(path: str | os.PathLike[str] | Openable, mode: str = "r") -> Iterator[IO[str]]:
    """Open ``path`` in text mode (UTF-8, universal new lines as the csv module wants)."""
    handle = _as_openable(path).open(mode, encoding="utf-8", newline="")
    try:
        yield handle
    finally:
        handle.close()


def iter_rows(
    source: str | os.PathLike[str] | Openable | Iterable[Mapping[str, Any]],
    *,
    file_format: str | None = None,
) -> Iterator[dict[str, Any]]:
    """
    Yield the recipient rows of ``source`` one at a time, in order.

    :param source: a list (or any iterable) of mappings, or a path / ``ObjectStoragePath`` to a CSV or
        JSON-lines file. Files are streamed, never read whole.
    :param file_format: ``"csv"``, ``"tsv"`` or ``"jsonl"``; default from the file extension.
    :raises ValueError: a line of a JSON-lines file is not a JSON object (the message names the line).
    """
    if isinstance(source, (str, os.PathLike, Openable)) and not isinstance(source, Mapping):
        yield from _iter_file(source, detect_format(source, file_format))
        return
    for position, row in enumerate(source):
        if not isinstance(row, Mapping):
            raise ValueError(f"recipient {position} is a {type(row).__name__}, expected a mapping")
        yield dict(row)


def _iter_file(path: str | os.PathLike[str] | Openable, fmt: str) -> Iterator[dict[str, Any]]:
    with open_text(path) as handle:
        if fmt in ("csv", "tsv"):
            reader = csv.DictReader(handle, delimiter="\t" if fmt == "tsv" else ",")
            for row in reader:
                # Strip the BOM Excel writes, and keep None (short lines) out of the row.
                yield {(k or "").lstrip("\ufeff").strip(): v for k, v in row.items() if k is not None}
            return
        for line_no, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path!s} line {line_no}: not valid JSON ({err.msg})") from err
            if not isinstance(value, dict):
                raise ValueError(
                    f"{path!s} line {line_no}: expected a JSON object, got {type(value).__name__}"
                )
            yield value


class ResultWriter:
    """
    Stream the per-row result table to a CSV or JSON-lines file (format from the extension).

    Not thread-safe by itself; the bulk engine calls :meth:`write` under its lock.
    """

    def __init__(self, path: str | os.PathLike[str] | Openable, *, file_format: str | None = None) -> None:
        self.path = path
        self.format = detect_format(path, file_format)
        self._cm = open_text(path, "w")
        self._handle = self._cm.__enter__()
        self._csv: Any = None
        if self.format in ("csv", "tsv"):
            self._csv = csv.DictWriter(
                self._handle, fieldnames=RESULT_COLUMNS, delimiter="\t" if self.format == "tsv" else ","
            )
            self._csv.writeheader()
        self.rows = 0

    def write(self, record: Mapping[str, Any]) -> None:
        row = {column: record.get(column) for column in RESULT_COLUMNS}
        if self._csv is not None:
            self._csv.writerow({k: "" if v is None else v for k, v in row.items()})
        else:
            self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        self.rows += 1

    def flush(self) -> None:
        self._handle.flush()

    def close(self) -> None:
        self._cm.__exit__(None, None, None)

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
