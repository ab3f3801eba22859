"""Send one WhatsApp template to many recipients: :class:`QontakBulkSendOperator`."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from qontak_provider.defaults import DEFAULT_CONN_ID
from qontak_provider.operators._private import PrivateTemplateFields

if TYPE_CHECKING:
    from collections import Counter

    from airflow.sdk import Context

    from qontak_provider.bulk.engine import BulkReport, BulkSender, JournalStore
    from qontak_provider.bulk.render import PreparedRow, RowRenderer
    from qontak_provider.client.models import Template
    from qontak_provider.hooks.qontak import QontakHook


class QontakBulkSendOperator(PrivateTemplateFields, BaseOperator):
    """
    Send one WhatsApp template message to every recipient of a list or a file, exactly once.

    Rows are streamed from ``recipients``, rendered (Jinja over ``row``, compiled once), validated against the
    template exactly like a direct send, and sent concurrently at the connection's rate. Invalid rows are
    reported and skipped, and a row with the same number and message as an earlier one is sent once and
    reported as a duplicate. Every row is journalled in ``context["task_state_store"]`` (on Airflow 3.0 to
    3.2, in Airflow Variables) before its request
    leaves, so an Airflow retry (after an exception or a killed worker) sends exactly the rows that never
    left and never sends a row twice. Rows whose send is in doubt are reported, not repeated, and by default
    fail the task once every other row is done.

    .. seealso::
        :doc:`/howto/send_to_many` for sizing, :doc:`/explanation/retry_safety` for the exactly-once
        guarantees and :doc:`/reference/benchmarks` for figures.

    .. code-block:: python

        QontakBulkSendOperator(
            task_id="remind",
            recipients=ObjectStoragePath("s3://bucket/reminders/{{ ds }}.csv", conn_id="aws_default"),
            template_name="payment_reminder",
            language="id",
            body={"1": "{{ row.name }}", "2": "{{ row.amount }}", "3": "{{ row.due_date }}"},
            results_path="s3://bucket/reminders/{{ ds }}-results.csv",
        )

    :param recipients: a list of dicts (e.g. an upstream task's XCom), or a CSV / JSON-lines file given as an
        ``ObjectStoragePath`` or a path string (``s3://...`` strings become ``ObjectStoragePath``). Files are
        streamed. (templated)
    :param contact_list_id: instead of ``recipients``, a Qontak contact list: its contacts are read page by
        page, each as a row with ``phone``, ``name``, ``email``, ``contact_id`` and the list's variables as
        columns (``{{ row.company }}``); rows are keyed by ``contact_id``. (templated)
    :param template_id: id of the WhatsApp template. (templated)
    :param template_name: name of the template, instead of ``template_id``. (templated)
    :param language: language of ``template_name`` when the name exists in several. (templated)
    :param channel_integration_id: channel to send from; default the connection's. (templated)
    :param number_column: column with the phone number; default ``phone`` or ``to_number``.
    :param name_column: column with the recipient's name; default ``name`` or ``to_name``.
    :param key_column: column identifying rows in results and logs; default the row position (0-based).
    :param body: body values, ``{"1": "{{ row.name }}"}`` or a list; strings are Jinja templates over
        ``row``, rendered per row (not by Airflow).
    :param body_columns: columns filling ``{{1}}``, ``{{2}}``... in order (instead of ``body``).
    :param header_url: header media URL for IMAGE / DOCUMENT / VIDEO templates (Jinja over ``row``).
    :param header_filename: header media file name (Jinja over ``row``).
    :param header_file: the row's header file instead of ``header_url`` (Jinja over ``row``, e.g.
        ``"{{ row.invoice_path }}"``): a local path or an ``s3://``, ``gs://``... URL. Each file is checked
        when its row is read, uploaded right before that row's send (each distinct content once per run,
        concurrently with the other sends), and a failed upload fails that row only. See :doc:`/howto/files`.
    :param buttons: dynamic button values (strings are Jinja over ``row``).
    :param row_params: callable ``row -> dict`` with any of ``to_number``, ``to_name``, ``body``,
        ``header_url``, ``header_filename``, ``buttons``; wins over the options above. It must be
        deterministic: a retry re-renders the rows.
    :param file_format: ``csv``, ``tsv`` or ``jsonl``; default from the file extension.
    :param max_invalid_ratio: share of invalid rows tolerated (default 0.05). Valid rows are sent as the
        file streams; when the run ends above this share the task fails without retry (the input must be
        fixed). ``None`` never fails on invalid rows.
    :param max_concurrency: requests in flight at most (sender threads sharing one pacer and connection pool).
    :param rate_per_minute: sends per minute; default the connection's ``rate_per_minute`` (60).
    :param results_path: where to write the per-row table (row, key, masked number, outcome, broadcast id,
        error); ``.csv``/``.tsv`` or ``.jsonl``, ``ObjectStoragePath`` or string. (templated)
    :param max_xcom_ids: broadcast ids returned in XCom at most (for the delivery sensor); beyond it
        ``broadcast_ids_truncated`` is true and the full list is in ``results_path``.
    :param progress_interval: seconds between progress lines in the task log.
    :param checkpoint_interval: seconds between journal writes that record results when no row is being
        handed over (every hand-over stores them too).
    :param journal_key: ``task_state_store`` key of the journal. (templated)
    :param resend_unconfirmed: after a killed worker, send again the rows that were in flight when no
        broadcast proves they were sent (may duplicate if Qontak's list lags); default report them in doubt.
    :param resend_in_doubt: send again every row in doubt, also those an earlier try recorded in doubt: the
        deliberate way to resend them, by setting it and clearing the task. Their recipients may get the
        message twice. (templated)
    :param send_duplicates: send every row, even one with the same number and message as an earlier row
        (default: such a row is reported as ``duplicate`` and not sent).
    :param fail_on_in_doubt: when rows are in doubt, fail the task (without retry) after every other row is
        done, listing them and how to resend them (default); ``False`` only warns.
    :param show_numbers: keep ``recipients`` as rendered in the template fields the UI shows; by default a
        list of rows (which holds phone numbers) is shown as its row count only. Files are shown by path.
    :param qontak_conn_id: :ref:`Qontak connection id <howto/connection:qontak>`. (templated)
    :return: counts per outcome (``sent``, ``failed``, ``invalid``, ``in_doubt``, ``duplicate``,
        ``skipped_already_sent``), ``rows``, ``broadcast_ids`` (capped), ``broadcast_ids_truncated``,
        ``in_doubt_keys`` (row keys, never numbers), ``results_path`` and timing.
    """

    template_fields: Sequence[str] = (
        "recipients",
        "contact_list_id",
        "template_id",
        "template_name",
        "language",
        "channel_integration_id",
        "results_path",
        "journal_key",
        "resend_in_doubt",
        "qontak_conn_id",
    )
    private_template_fields = ("recipients",)
    ui_color = "#25d366"

    def __init__(
        self,
        *,
        recipients: Any = None,
        contact_list_id: str | None = None,
        template_id: str | None = None,
        template_name: str | None = None,
        language: str | None = None,
        channel_integration_id: str | None = None,
        number_column: str | None = None,
        name_column: str | None = None,
        key_column: str | None = None,
        body: Mapping[Any, Any] | Sequence[Any] | None = None,
        body_columns: Sequence[str] | None = None,
        header_url: str | None = None,
        header_filename: str | None = None,
        header_file: str | None = None,
        buttons: Mapping[Any, Any] | Sequence[Any] | None = None,
        row_params: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
        file_format: str | None = None,
        max_invalid_ratio: float | None = 0.05,
        max_concurrency: int = 8,
        rate_per_minute: float | None = None,
        results_path: Any = None,
        max_xcom_ids: int = 1000,
        progress_interval: float = 10.0,
        checkpoint_interval: float = 5.0,
        journal_key: str = "qontak_bulk",
        resend_unconfirmed: bool = False,
        resend_in_doubt: bool | str = False,
        send_duplicates: bool = False,
        fail_on_in_doubt: bool = True,
        show_numbers: bool = False,
        qontak_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (recipients is None) == (contact_list_id is None):
            raise ValueError("QontakBulkSendOperator needs exactly one of recipients and contact_list_id")
        self.recipients = recipients
        self.contact_list_id = contact_list_id
        self.template_id = template_id
        self.template_name = template_name
        self.language = language
        self.channel_integration_id = channel_integration_id
        self.number_column = number_column
        self.name_column = name_column
        self.key_column = key_column
        self.body = body
        self.body_columns = body_columns
        self.header_url = header_url
        self.header_filename = header_filename
        self.header_file = header_file
        self.buttons = buttons
        self.row_params = row_params
        self.file_format = file_format
        self.max_invalid_ratio = max_invalid_ratio
        self.max_concurrency = max_concurrency
        self.rate_per_minute = rate_per_minute
        self.results_path = results_path
        self.max_xcom_ids = max_xcom_ids
        self.progress_interval = progress_interval
        self.checkpoint_interval = checkpoint_interval
        self.journal_key = journal_key
        self.resend_unconfirmed = resend_unconfirmed
        self.resend_in_doubt = resend_in_doubt
        self.send_duplicates = send_duplicates
        self.fail_on_in_doubt = fail_on_in_doubt
        self.show_numbers = show_numbers
        self.qontak_conn_id = qontak_conn_id

    @cached_property
    def hook(self) -> QontakHook:
        """The Qontak hook (built on first use, never at DAG parse time)."""
        from qontak_provider.hooks.qontak import QontakHook

        return QontakHook(qontak_conn_id=self.qontak_conn_id, rate_per_minute=self.rate_per_minute)

    def shown_value(self, field: str, value: Any) -> Any:
        """A list of rows is shown as its length: rows hold phone numbers (unless ``show_numbers``)."""
        if field != "recipients" or self.show_numbers or not _is_rows(value):
            return value
        return f"[{len(value)} recipient rows, not shown: they hold phone numbers (show_numbers=True shows)]"

    # ------------------------------------------------------------------------------------------ helpers

    def _source(self) -> tuple[Any, int | None, str]:
        """The row source, its length when known, and a fingerprint of it."""
        if self.contact_list_id is not None:  # "" is an id that is refused by name
            contact_list = str(self.contact_list_id)
            contacts = self.hook.get_contact_list(contact_list)  # a wrong id fails here, before any send
            contact_rows = (contact.as_row() for contact in self.hook.iter_contacts(contact_list))
            # Rows are journalled by position: a list that changed between tries (a contact added or
            # removed, the list re-imported) must not match the journal, or rows would shift.
            version = f"{contacts.contacts_count}:{contacts.finished_at}:{contacts.created_at}"
            return contact_rows, contacts.contacts_count, f"contact_list:{contact_list}:{version}"
        recipients = self.real("recipients")
        if isinstance(recipients, (str, os.PathLike)) or hasattr(recipients, "open"):
            from qontak_provider.operators._send import as_path

            path = as_path(recipients)
            return path, None, f"file:{path!s}"
        if isinstance(recipients, Mapping):
            raise ValueError("recipients must be a list of dicts or a file path, not a single dict")
        rows = list(recipients)  # a copy: the caller's list is not held while the rows are sent
        digest = hashlib.sha256()
        for row in rows:
            digest.update(json.dumps(row, sort_keys=True, default=str).encode())
            digest.update(b"\n")
        return rows, len(rows), f"list:{len(rows)}:{digest.hexdigest()[:16]}"

    def _fingerprint(self, template: Template, channel: str, source_id: str) -> str:
        parts = [template.id, channel, source_id, self.number_column, self.key_column]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]  # all text or None

    def _store(self, context: Context) -> JournalStore:
        from qontak_provider.operators._state import VariableStateStore, task_state

        store = task_state(context)
        if store is None:
            from qontak_provider.bulk.engine import MemoryStore

            self.log.warning(
                "No task instance (execute() called directly): progress is kept in memory only, so a retry "
                "would start over"
            )
            return MemoryStore()
        if isinstance(store, VariableStateStore):
            self.log.info(
                "Airflow < 3.3 has no task_state_store: the journal is kept in Airflow Variables %s* "
                "(delete them once the run is done).",
                store.key(self.journal_key),
            )
        return store  # task_state_store or a VariableStateStore: both have the JournalStore methods

    def _reconciler(self) -> Callable[[PreparedRow, float | None], tuple[str | None, str | None]]:
        """Find, in Qontak's broadcast list, the broadcast an earlier try made for a row (or ``None``)."""
        from datetime import datetime, timezone

        from qontak_provider.ledger.reconcile import BroadcastFinder, ReconcileUnavailable

        finder: BroadcastFinder | None = None
        unavailable: list[str] = []

        def reconcile(prepared: PreparedRow, since: float | None) -> tuple[str | None, str | None]:
            nonlocal finder
            if unavailable:
                return None, unavailable[0]
            if finder is None:
                start = datetime.fromtimestamp(since or 0.0, tz=timezone.utc)
                finder = BroadcastFinder(self.hook.client, start)
            try:
                found = finder.find(prepared.request)
            except ReconcileUnavailable as err:
                unavailable.append(str(err))
                self.log.warning("Rows an earlier try left unconfirmed stay in doubt: %s", err)
                return None, unavailable[0]
            if len(found.proven) == 1:
                return found.proven[0].id, None
            if found.proven:
                return None, f"several broadcasts match it ({', '.join(b.id for b in found.proven)})"
            return None, "Qontak's broadcast list shows no such message (yet)"

        return reconcile

    # ------------------------------------------------------------------------------------------ execute

    def execute(self, context: Context) -> dict[str, Any]:
        from qontak_provider.bulk.source import ResultWriter, iter_rows
        from qontak_provider.client.payload import language_mismatch
        from qontak_provider.operators._send import (
            as_path,
            failing_without_retry,
            pick_channel,
            resolve_template,
        )

        with failing_without_retry("Qontak bulk send"):
            template = resolve_template(
                self.hook,
                template_id=self.template_id,
                template_name=self.template_name,
                language=self.language,
            )
            channel = pick_channel(self.channel_integration_id, self.hook.default_channel_integration_id)
        mismatch = language_mismatch(template, self.language or None)
        if mismatch:
            self.log.warning("%s (sent with every row)", mismatch)
        with failing_without_retry("Qontak bulk send input"):  # e.g. an unknown contact list
            source, total, source_id = self._source()
        ti = context.get("ti")
        try_number = int(getattr(ti, "try_number", 1) or 1)
        writer = ResultWriter(as_path(self.results_path)) if self.results_path else None
        self.log.info(
            "Bulk send of template %r (%s) to %s rows at %s/min, %d in flight at most (try %d)",
            template.name,
            template.language,
            total if total is not None else "a stream of",
            self.hook.rate_per_minute or "unlimited",
            self.max_concurrency,
            try_number,
        )
        sender = self._sender(
            renderer=self._renderer(template, channel),
            store=self._store(context),
            fingerprint=self._fingerprint(template, channel, source_id),
            total=total,
            writer=writer,
            try_number=try_number,
        )
        from qontak_provider._compat import AirflowFailException
        from qontak_provider.bulk.engine import JournalMismatch

        try:
            report = sender.run(iter_rows(source, file_format=self.file_format))
        except JournalMismatch as err:  # the same input is needed, not another try
            raise AirflowFailException(f"Qontak bulk send, nothing was sent: {err}") from err
        finally:
            if writer is not None:
                writer.close()
        self._judge(report)
        result = report.as_dict()
        result["results_path"] = str(self.results_path) if self.results_path else None
        result["template_id"] = template.id
        return result

    def _renderer(self, template: Template, channel: str) -> RowRenderer:
        from qontak_provider.bulk.render import RowRenderer
        from qontak_provider.operators._send import as_path

        key_column = self.key_column or ("contact_id" if self.contact_list_id else None)
        return RowRenderer(
            template,
            channel_integration_id=channel,
            number_column=self.number_column,
            name_column=self.name_column,
            key_column=key_column,
            body=self.body,
            body_columns=self.body_columns,
            header_url=self.header_url,
            header_filename=self.header_filename,
            header_file=self.header_file,
            open_file=as_path,
            buttons=self.buttons,
            row_params=self.row_params,
            default_region=self.hook.default_region,
            language=self.language or None,
        )

    def _judge(self, report: BulkReport) -> None:
        """
        Fail the task when the run must not look green: too many invalid rows, rows left to resend (a retry
        sends them), rows in doubt (unless ``fail_on_in_doubt=False``). Every other row has been done.
        """
        from qontak_provider._compat import AirflowException, AirflowFailException

        rows = max(report.rows, 1)
        invalid = report.counts["invalid"]
        if self.max_invalid_ratio is not None and invalid / rows > self.max_invalid_ratio:
            raise AirflowFailException(
                f"{invalid} of {report.rows} rows are invalid ({100.0 * invalid / rows:.1f}% > "
                f"max_invalid_ratio {100.0 * self.max_invalid_ratio:.1f}%); {_sent_phrase(report.counts)}. "
                "See the task log or results_path for the reasons; fix the input and clear the task to "
                "continue."
            )
        if report.resend_pending:
            raise AirflowException(
                f"{report.resend_pending} rows could not be sent (rate limit or connection failures that "
                "Qontak never processed); a retry of this task sends them, and only them."
            )
        duplicates = report.counts["duplicate"]
        if duplicates:
            self.log.warning(
                "%d row(s) repeat an earlier row's number and message: each recipient got the message once "
                "(send_duplicates=True sends every row).",
                duplicates,
            )
        if report.counts["in_doubt"]:
            message = self._in_doubt_message(report)
            if self.fail_on_in_doubt:
                raise AirflowFailException(message)
            self.log.warning("%s", message)

    def _in_doubt_message(self, report: BulkReport) -> str:
        """The count, the rows (keys and masked numbers) and how to resend them deliberately."""
        in_doubt = report.counts["in_doubt"]
        for row in report.in_doubt:
            self.log.warning(
                "In doubt: row %s (%s): %s", row["key"], row["to_number"] or "no number", row["reason"]
            )
        listed = ", ".join(str(row["key"]) for row in report.in_doubt[:10])
        more = f" and {in_doubt - 10} more" if in_doubt > 10 else ""
        table = f"results_path {self.results_path}" if self.results_path else "the task log above"
        return (
            f"{in_doubt} row(s) are in doubt: Qontak may or may not have sent them, so they were NOT sent "
            f"again (rows {listed}{more}; every row is in {table}). Every other row is done. Check those "
            "recipients in the Qontak inbox or the broadcast list. To resend them deliberately (their "
            "recipients may get the message twice), set resend_in_doubt=True on this task (it is templated, "
            "e.g. '{{ params.resend_in_doubt }}') and clear it: only the rows in doubt are sent again. "
            "fail_on_in_doubt=False only warns."
        )

    def _sender(
        self,
        *,
        renderer: Any,
        store: JournalStore,
        fingerprint: str,
        total: int | None,
        writer: Any,
        try_number: int,
    ) -> BulkSender:
        from qontak_provider.bulk.engine import BulkSender, RowResult
        from qontak_provider.operators._send import as_bool

        log = self.log

        def on_result(result: RowResult) -> None:
            if writer is not None:
                writer.write(result.as_dict())
            if result.outcome in ("invalid", "failed", "in_doubt"):
                # The number is already masked; the error text never holds secrets.
                log.warning(
                    "Row %s (%s): %s: %s",
                    result.key,
                    result.to_number or "no number",
                    result.outcome,
                    result.error,
                )
            self.on_row_result(result)

        return BulkSender(
            send=self.hook.client.send_direct,
            prepare=renderer.prepare,
            key_of=renderer.key_of,
            number_of=renderer.masked_number_of,
            store=store,
            journal_key=self.journal_key,
            fingerprint=fingerprint,
            max_concurrency=self.max_concurrency,
            checkpoint_interval=self.checkpoint_interval,
            progress_interval=self.progress_interval,
            total=total,
            on_result=on_result,
            reconcile=self._reconciler(),
            resend_unconfirmed=self.resend_unconfirmed,
            resend_in_doubt=as_bool("resend_in_doubt", self.resend_in_doubt),
            send_duplicates=self.send_duplicates,
            upload=lambda media, fmt: self.hook.client.upload_file(media, header_format=fmt),
            max_ids=self.max_xcom_ids,
            try_number=try_number,
            logger=log,
        )

    def on_row_result(self, result: Any) -> None:
        """Called with every row's result (under the engine's lock); a hook for subclasses."""


def _sent_phrase(counts: Counter[str]) -> str:
    """``"no row was sent"``, ``"the 1 valid row was sent"``, ``"the 3 valid rows were sent"``."""
    sent = counts["sent"]
    if not sent:
        return "no row was sent"
    return "the 1 valid row was sent" if sent == 1 else f"the {sent} valid rows were sent"


def _is_rows(value: Any) -> bool:
    """A list of rows (not a path, a file, or a single mapping)."""
    if isinstance(value, (str, bytes, os.PathLike, Mapping)):
        return False  # an ObjectStoragePath is none of these, and no Sequence either: not rows
    return isinstance(value, Sequence) or hasattr(value, "__len__")
