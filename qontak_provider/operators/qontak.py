"""Operators for the Mekari Qontak Chat WhatsApp API: look up channels and templates, send one message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from qontak_provider.defaults import DEFAULT_CONN_ID
from qontak_provider.operators._idempotency import IN_DOUBT_POLICIES, SEND_STATE_KEY
from qontak_provider.operators._private import PrivateTemplateFields
from qontak_provider.operators._send import as_bool

if TYPE_CHECKING:
    from datetime import datetime

    from airflow.sdk import Context

    from qontak_provider.client.models import Broadcast, DirectSendRequest, Template
    from qontak_provider.hooks.qontak import QontakHook

__all__ = ["QontakListChannelsOperator", "QontakListTemplatesOperator", "QontakSendDirectOperator"]


class _QontakBaseOperator(BaseOperator):
    """Common part of the Qontak operators: the connection id and the hook."""

    template_fields: Sequence[str] = ("qontak_conn_id",)
    ui_color = "#25d366"

    def __init__(self, *, qontak_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.qontak_conn_id = qontak_conn_id

    @cached_property
    def hook(self) -> QontakHook:
        """The :class:`~qontak_provider.hooks.qontak.QontakHook` of ``qontak_conn_id``, built on first use."""
        from qontak_provider.hooks.qontak import QontakHook

        return QontakHook(qontak_conn_id=self.qontak_conn_id)


class QontakListChannelsOperator(_QontakBaseOperator):
    """
    List the channel integrations of the Qontak account, for XCom.

    Downstream tasks (or ``expand()``) read the ids from the returned list, e.g. to pick the WhatsApp
    number to send from.

    .. code-block:: python

        channels = QontakListChannelsOperator(task_id="channels", target_channel="wa_cloud")

    :param target_channel: only this kind of channel, e.g. ``wa_cloud`` (WhatsApp Cloud API) or ``wa``
        (on-premise WhatsApp Business API); all kinds when empty. (templated)
    :param include_inactive: also list channel integrations that are switched off. (templated)
    :param qontak_conn_id: :ref:`Qontak connection id <howto/connection:qontak>`. (templated)
    :return: a list of channel integrations as JSON-safe dicts (``id``, ``target_channel``, ``settings``,
        ``is_active``, ...).
    """

    template_fields: Sequence[str] = ("target_channel", "include_inactive", "qontak_conn_id")

    def __init__(
        self,
        *,
        target_channel: str | None = None,
        include_inactive: bool = False,
        qontak_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(qontak_conn_id=qontak_conn_id, **kwargs)
        self.target_channel = target_channel
        self.include_inactive = include_inactive

    def execute(self, context: Context) -> list[dict[str, Any]]:
        include_inactive = as_bool("include_inactive", self.include_inactive)
        target = self.target_channel or None
        # Both filters are applied by the client on our side too, whatever the server did with them.
        channels = self.hook.list_channels(target_channel=target, include_inactive=include_inactive)
        self.log.info(
            "Found %d channel integration(s)%s%s.",
            len(channels),
            f" of kind {target!r}" if target else "",
            " (inactive included)" if include_inactive else "",
        )
        return [channel.model_dump(mode="json") for channel in channels]


class QontakListTemplatesOperator(_QontakBaseOperator):
    """
    List WhatsApp message templates, for XCom.

    .. code-block:: python

        templates = QontakListTemplatesOperator(task_id="templates", category="UTILITY", language="id")

    :param status: only templates with this review status; ``APPROVED`` by default (WhatsApp delivers only
        approved templates); ``None`` or empty lists every status. (templated)
    :param category: only this category (``AUTHENTICATION``, ``MARKETING``, ``UTILITY``) or any of a list of
        them. (templated)
    :param language: only this language code, e.g. ``id`` or ``en_US``. (templated)
    :param name: only templates with exactly this name. (templated)
    :param qontak_conn_id: :ref:`Qontak connection id <howto/connection:qontak>`. (templated)
    :return: a list of templates as JSON-safe dicts (``id``, ``name``, ``language``, ``status``,
        ``category``, ``header``, ``body``, ``buttons``, ...).
    """

    template_fields: Sequence[str] = ("status", "category", "language", "name", "qontak_conn_id")

    def __init__(
        self,
        *,
        status: str | None = "APPROVED",
        category: str | list[str] | None = None,
        language: str | None = None,
        name: str | None = None,
        qontak_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(qontak_conn_id=qontak_conn_id, **kwargs)
        self.status = status
        self.category = category
        self.language = language
        self.name = name

    def execute(self, context: Context) -> list[dict[str, Any]]:
        templates = self.hook.list_templates(
            status=self.status or None,
            category=self.category or None,
            name=self.name or None,
            language=self.language or None,
        )
        self.log.info(
            "Found %d template(s) (status=%s, category=%s, language=%s, name=%s).",
            len(templates),
            self.status or "any",
            self.category or "any",
            self.language or "any",
            self.name or "any",
        )
        return [template.model_dump(mode="json") for template in templates]


class QontakSendDirectOperator(PrivateTemplateFields, _QontakBaseOperator):
    """
    Send one WhatsApp template message (Qontak direct send), validated before sending and safe to retry.

    The template is fetched once (and cached for a minute per worker process, so mapped task instances share
    it); the request is built and checked against it before any send, and a mistake fails the task without
    retries, naming the field, what the template expects and what was given. Phone numbers are normalised
    (``0812-3456-7890`` -> ``6281234567890``) and masked in logs.

    Under Airflow retries the operator never sends a second message by accident: it records the attempt
    and the resulting broadcast id in ``task_state_store`` and, on a retry of the same task instance,
    returns the recorded broadcast instead of sending again. A send whose outcome is unknown follows
    ``on_send_in_doubt``. See :doc:`retry_safety`.

    .. code-block:: python

        QontakSendDirectOperator(
            task_id="send_otp",
            to_number="0812-3456-7890",
            to_name="Burhan",
            template_name="otp_login",
            body={"1": "123456"},
            buttons=["123456"],
        )

    :param to_number: recipient phone number in any usual format; digits with country code are sent.
        (templated)
    :param to_name: recipient name shown in Qontak. (templated)
    :param template_id: id of the WhatsApp template. (templated)
    :param template_name: name of the template, instead of ``template_id``. (templated)
    :param language: language code; defaults to the template's own. Also picks the template when
        ``template_name`` exists in several languages. (templated)
    :param channel_integration_id: WhatsApp channel integration to send from; defaults to the connection's
        ``channel_integration_id`` extra. (templated)
    :param body: values of the body placeholders: a mapping ``{"1": "Burhan"}``, a list ``["Burhan"]`` (the
        first fills ``{{1}}``), or the API's list of ``{"key", "value_text", "value"}`` dicts. (templated)
    :param header_url: public ``https://`` URL of the header image, document or video. (templated)
    :param header_filename: file name shown for the header media; default: the URL's last segment.
        (templated)
    :param buttons: values of dynamic buttons (URL suffix, OTP code): a list filling the dynamic buttons in
        order, a mapping ``{"0": "suffix"}`` by button index, or the API's list of
        ``{"index", "type", "value"}`` dicts. (templated)
    :param payload: the whole documented request body of ``POST /broadcasts/whatsapp/direct`` instead of the
        arguments above; it is validated against its template and its number normalised the same way.
        ``to_number``, ``to_name`` and ``channel_integration_id`` arguments override its values. (templated)
    :param default_region: region of numbers written without country code; defaults to the connection's
        ``default_region`` extra (``ID``). (templated)
    :param dry_run: build and validate the request and log it (number masked), but send nothing.
        (templated)
    :param on_send_in_doubt: what to do when an earlier try (or this one) may or may not have sent the
        message: ``"fail"`` (default; never sends a second message), ``"reconcile"`` (search Qontak's
        broadcast list for the message and adopt it when proven; otherwise fail) or ``"resend"`` (send
        again: the recipient may get the message twice). (templated)
    :param show_numbers: show the recipient's full number in XCom and in the rendered template fields the
        UI shows; by default both carry it masked (``62812*****890``), as the logs do.
    :param mask_values: treat the body and button values as secrets, e.g. an OTP code: the rendered
        template fields show ``***`` for them, and Airflow's secrets masker hides them in logs.
    :param qontak_conn_id: :ref:`Qontak connection id <howto/connection:qontak>`. (templated)
    :return: ``{"broadcast_id", "template_id", "template_name", "channel_integration_id", "to_number",
        "created_at", "reused", "dry_run"}`` (``to_number`` masked unless ``show_numbers``); ``reused`` is
        true when an earlier try had already sent it. A dry run also returns the ``payload`` it would send,
        its number masked (and its values, with ``mask_values``).
    """

    template_fields: Sequence[str] = (
        "to_number",
        "to_name",
        "template_id",
        "template_name",
        "language",
        "channel_integration_id",
        "body",
        "header_url",
        "header_filename",
        "buttons",
        "payload",
        "default_region",
        "dry_run",
        "on_send_in_doubt",
        "qontak_conn_id",
    )
    template_fields_renderers = {"body": "json", "buttons": "json", "payload": "json"}
    private_template_fields = ("to_number", "payload", "body", "buttons")

    def __init__(
        self,
        *,
        to_number: str | int | None = None,
        to_name: str | None = None,
        template_id: str | None = None,
        template_name: str | None = None,
        language: str | None = None,
        channel_integration_id: str | None = None,
        body: Mapping[Any, Any] | Sequence[Any] | str | None = None,
        header_url: str | None = None,
        header_filename: str | None = None,
        buttons: Mapping[Any, Any] | Sequence[Any] | str | None = None,
        payload: Mapping[str, Any] | str | None = None,
        default_region: str | None = None,
        dry_run: bool = False,
        on_send_in_doubt: str = "fail",
        show_numbers: bool = False,
        mask_values: bool = False,
        qontak_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(qontak_conn_id=qontak_conn_id, **kwargs)
        self.to_number = to_number
        self.to_name = to_name
        self.template_id = template_id
        self.template_name = template_name
        self.language = language
        self.channel_integration_id = channel_integration_id
        self.body = body
        self.header_url = header_url
        self.header_filename = header_filename
        self.buttons = buttons
        self.payload = payload
        self.default_region = default_region
        # Shadows BaseOperator.dry_run(), a template-rendering debug helper nothing in Airflow 3 calls; the
        # argument name is what DAG authors expect.
        self.dry_run = dry_run  # type: ignore[method-assign,assignment]
        self.on_send_in_doubt = on_send_in_doubt
        self.show_numbers = show_numbers
        self.mask_values = mask_values

    def shown_value(self, field: str, value: Any) -> Any:
        """The number masked (unless ``show_numbers``), the values hidden (with ``mask_values``)."""
        from qontak_provider.operators._private import hidden_values, mask_secret_values, masked_number

        if field in ("body", "buttons"):
            if not self.mask_values or value is None:
                return value
            mask_secret_values(value)
            return hidden_values(value)
        if field == "to_number":
            return value if self.show_numbers or value is None else masked_number(value)
        if field == "payload" and isinstance(value, Mapping):
            shown = dict(value)
            if not self.show_numbers and "to_number" in shown:
                shown["to_number"] = masked_number(shown["to_number"])
            if self.mask_values and isinstance(shown.get("parameters"), Mapping):
                mask_secret_values(shown["parameters"])
                shown["parameters"] = hidden_values(shown["parameters"])
            return shown
        return value

    # ----------------------------------------------------------------------------------------------- build

    def prepare_request(self) -> tuple[DirectSendRequest, Template]:
        """
        Build the request from the (rendered) arguments and validate it against its template; send nothing.

        :raises AirflowFailException: the input cannot make a valid send (no retry: it would fail again).
        """
        from airflow.sdk.exceptions import AirflowFailException

        from qontak_provider.client.errors import QontakNotFoundError, QontakPayloadError
        from qontak_provider.operators._send import prepare_direct_send

        try:
            return prepare_direct_send(
                self.hook,
                to_number=self.real("to_number"),
                to_name=self.to_name,
                template_id=self.template_id,
                template_name=self.template_name,
                language=self.language,
                channel_integration_id=self.channel_integration_id,
                body=self.real("body"),
                header_url=self.header_url,
                header_filename=self.header_filename,
                buttons=self.real("buttons"),
                payload=self.real("payload"),
                default_region=self.default_region,
            )
        except QontakPayloadError as err:
            raise AirflowFailException(f"Invalid Qontak direct send, nothing was sent: {err}") from err
        except QontakNotFoundError as err:
            raise AirflowFailException(f"Template not found, nothing was sent: {err}") from err

    # --------------------------------------------------------------------------------------------- execute

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from qontak_provider.client.payload import language_mismatch
        from qontak_provider.client.phone import mask_phone
        from qontak_provider.operators._send import masked_wire, payload_fingerprint

        policy = self.on_send_in_doubt
        if policy not in IN_DOUBT_POLICIES:
            raise AirflowFailException(
                f"on_send_in_doubt: expected one of {', '.join(IN_DOUBT_POLICIES)}, got {policy!r}."
            )
        dry_run = as_bool("dry_run", self.dry_run)

        request, template = self.prepare_request()
        mismatch = language_mismatch(request, template)
        if mismatch:
            self.log.warning("%s", mismatch)
        wire = request.to_wire()
        masked = mask_phone(request.to_number)
        if dry_run:
            self.log.info(
                "Dry run: would send template %r (%s) to %s: %s",
                template.name,
                template.id,
                masked,
                masked_wire(wire, values=self.mask_values),
            )
            shown = masked_wire(wire, values=self.mask_values)
            if self.show_numbers:
                shown["to_number"] = wire["to_number"]
            return {**self._summary(request, template, dry_run=True), "payload": shown}

        store = context.get("task_state_store")
        if store is None:
            self.log.warning(
                "task_state_store is not available (Airflow < 3.3 or execute() called directly): this send "
                "is NOT protected against being repeated by an Airflow retry."
            )
        fingerprint = payload_fingerprint(wire)
        if store is not None:
            record = store.get(SEND_STATE_KEY)
            if isinstance(record, dict) and record.get("state") == "sent" and record.get("broadcast_id"):
                return self._reuse(record, request, template, fingerprint)
            if isinstance(record, dict) and record.get("state") == "attempting":
                resolved = self._resolve_in_doubt(
                    store,
                    record=record,
                    request=request,
                    template=template,
                    fingerprint=fingerprint,
                    policy=policy,
                    cause=None,
                )
                if resolved is not None:
                    return resolved
        return self._send(store, request, template, fingerprint, policy)

    def _send(
        self,
        store: Any,
        request: DirectSendRequest,
        template: Template,
        fingerprint: str,
        policy: str,
    ) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from qontak_provider.client.errors import (
            QontakAuthenticationError,
            QontakError,
            QontakNotFoundError,
            QontakPayloadError,
            QontakRateLimitError,
            QontakTransportError,
            QontakValidationError,
        )
        from qontak_provider.client.phone import mask_phone
        from qontak_provider.client.timestamps import utcnow
        from qontak_provider.operators._idempotency import attempt_record, sent_record

        attempt = attempt_record(request, fingerprint, utcnow())
        if store is not None:
            # Written before the request leaves: a crash from here on leaves a trace the retry can see.
            store.set(SEND_STATE_KEY, attempt)
        self.log.info(
            "Sending template %r (%s) to %s via channel %s.",
            template.name,
            template.id,
            mask_phone(request.to_number),
            request.channel_integration_id,
        )
        try:
            broadcast = self.hook.send_direct(request)
        except (
            QontakAuthenticationError,
            QontakNotFoundError,
            QontakValidationError,
            QontakRateLimitError,
            QontakTransportError,
            QontakPayloadError,
        ) as err:
            # Qontak answered "no" (or the connection never opened): nothing was sent, nothing is in doubt.
            if store is not None:
                store.delete(SEND_STATE_KEY)
            if isinstance(err, (QontakValidationError, QontakPayloadError, QontakNotFoundError)):
                raise AirflowFailException(f"Qontak refused the send, nothing was sent: {err}") from err
            raise
        except QontakError as err:
            # QontakSendInDoubtError, or an answer we cannot read: the message may have gone out. The
            # "attempting" record stays, so a later retry knows as well.
            self.log.warning("The send to %s is in doubt: %s", mask_phone(request.to_number), err)
            resolved = self._resolve_in_doubt(
                store,
                record=attempt,
                request=request,
                template=template,
                fingerprint=fingerprint,
                policy=policy,
                cause=err,
            )
            if resolved is not None:
                return resolved
            return self._send(store, request, template, fingerprint, "fail")  # explicit "resend" only
        if store is not None:
            store.set(SEND_STATE_KEY, sent_record(attempt, broadcast))
        self.log.info("Qontak created broadcast %s for %s.", broadcast.id, mask_phone(request.to_number))
        return self._summary(request, template, broadcast)

    def _summary(
        self,
        request: DirectSendRequest,
        template: Template,
        broadcast: Broadcast | None = None,
        **flags: bool,
    ) -> dict[str, Any]:
        from qontak_provider.operators._send import send_summary

        return send_summary(request, template, broadcast, show_number=self.show_numbers, **flags)

    # ------------------------------------------------------------------------------------ retries, doubt

    def _reuse(
        self, record: dict[str, Any], request: DirectSendRequest, template: Template, fingerprint: str
    ) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from qontak_provider.client.errors import QontakNotFoundError

        broadcast_id = str(record["broadcast_id"])
        if record.get("fingerprint") != fingerprint:
            self.log.warning(
                "The arguments rendered differently from the try that sent broadcast %s; it is NOT sent "
                "again. Returning the broadcast that was sent.",
                broadcast_id,
            )
        self.log.info(
            "An earlier try of this task instance already sent broadcast %s to %s; not sending again.",
            broadcast_id,
            record.get("to"),
        )
        try:
            broadcast = self.hook.get_broadcast(broadcast_id)
        except QontakNotFoundError as err:
            raise AirflowFailException(
                f"An earlier try recorded broadcast {broadcast_id}, but Qontak does not find it: {err} "
                f"It is not sent again; delete the task state key {SEND_STATE_KEY!r} to send deliberately."
            ) from err
        return self._summary(request, template, broadcast, reused=True)

    def _resolve_in_doubt(
        self,
        store: Any,
        *,
        record: dict[str, Any],
        request: DirectSendRequest,
        template: Template,
        fingerprint: str,
        policy: str,
        cause: Exception | None,
    ) -> dict[str, Any] | None:
        """
        Apply ``on_send_in_doubt`` to an attempt without a known broadcast.

        :return: the summary of a broadcast proven to be the attempted send (reconcile), or ``None`` when the
            caller should send (resend).
        :raises AirflowFailException: policy ``fail``, or reconcile could not prove it (and it is ambiguous).
        :raises AirflowException: reconcile found nothing yet (retryable: the list may catch up).
        """
        from airflow.sdk.exceptions import AirflowException, AirflowFailException

        from qontak_provider.client.timestamps import parse_timestamp
        from qontak_provider.ledger.reconcile import BroadcastFinder, ReconcileUnavailable
        from qontak_provider.operators._idempotency import sent_record

        started = record.get("started_at")
        where = "this try" if cause is not None else "an earlier try of this task instance"
        doubt = (
            f"The send of template {record.get('template_id')} to {record.get('to')} started by {where} at "
            f"{started} may or may not have reached Qontak"
            + (f" ({cause})" if cause is not None else " (no broadcast id was recorded)")
            + "."
        )
        how_to_check = (
            f" Check Qontak's broadcast list (QontakHook.list_broadcasts(), or the Qontak inbox) for a "
            f"broadcast created after {started} to that recipient. To send deliberately anyway, re-run with "
            f"on_send_in_doubt='resend', or delete the task state key {SEND_STATE_KEY!r} of this task "
            "instance (UI, or DELETE /api/v2/dags/<dag_id>/dagRuns/<run_id>/taskInstances/<task_id>/"
            f"state-store/{SEND_STATE_KEY}) and clear the task."
        )
        if policy == "resend":
            self.log.warning("%s on_send_in_doubt='resend': sending again; it may arrive twice.", doubt)
            return None
        if policy == "fail":
            raise AirflowFailException(
                doubt + " It was NOT sent again (on_send_in_doubt='fail')." + how_to_check
            )

        # reconcile
        if record.get("fingerprint") != fingerprint:
            raise AirflowFailException(
                doubt
                + " The arguments now render to a different message, so the broadcast list cannot prove "
                "what was sent; nothing was sent again." + how_to_check
            )
        started_at: datetime | None = parse_timestamp(started)
        if started_at is None:
            raise AirflowFailException(doubt + " The attempt has no usable start time." + how_to_check)
        finder = BroadcastFinder(self.hook.client, started_at)
        try:
            result = finder.find(request)
        except ReconcileUnavailable as err:
            raise AirflowFailException(
                f"{doubt} Cannot reconcile: {err}. Nothing was sent again." + how_to_check
            ) from err
        if len(result.proven) == 1:
            broadcast: Broadcast = result.proven[0]
            self.log.info("Reconciled: broadcast %s is the in-doubt send; not sending again.", broadcast.id)
            if store is not None:
                store.set(SEND_STATE_KEY, sent_record(record, broadcast, how="reconciled"))
            return self._summary(request, template, broadcast, reused=True)
        if len(result.proven) > 1:
            ids = ", ".join(b.id for b in result.proven)
            raise AirflowFailException(
                doubt
                + f" Several broadcasts match it ({ids}); not choosing one, nothing sent again."
                + how_to_check
            )
        unproven = ""
        if result.unproven:
            unproven = (
                " Candidates whose log does not show the number yet: "
                + ", ".join(b.id for b in result.unproven)
                + "."
            )
        raise AirflowException(
            doubt
            + f" Reconcile scanned {result.scanned} broadcast(s) and found none proven to be it."
            + unproven
            + " Absence in the list is not proof (it can lag), so nothing was sent again; a retry reconciles "
            "again." + how_to_check
        )
