"""Operators for the Mekari Qontak Chat WhatsApp API: look up channels and templates, send one message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from qontak_provider.defaults import DEFAULT_CONN_ID
from qontak_provider.operators._private import PrivateTemplateFields
from qontak_provider.operators._send import as_bool

if TYPE_CHECKING:
    from airflow.sdk import Context

    from qontak_provider.client.media import MediaFile
    from qontak_provider.client.models import Broadcast, DirectSendRequest, Template
    from qontak_provider.hooks.qontak import QontakHook
    from qontak_provider.ledger.send import SendLedger

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
    and the resulting broadcast id in ``task_state_store`` (on Airflow 3.0 to 3.2, which have none, in an
    Airflow Variable) and, on a retry of the same task instance,
    returns the recorded broadcast instead of sending again. A send whose outcome is unknown follows
    ``on_send_in_doubt``. See :doc:`/explanation/retry_safety`.

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
    :param header_filename: file name shown for the header media; default: the URL's (or the file's) last
        segment. (templated)
    :param header_file: a file for the header instead of ``header_url``: a local path, an ``s3://``,
        ``gs://``... URL (read through ``ObjectStoragePath``), or bytes. It is checked against the
        template's header format and WhatsApp's limits before anything is sent, uploaded to Qontak right
        before the send, and not uploaded again by a retry that finds the earlier upload. See
        :doc:`/howto/files`. (templated)
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
        "header_file",
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
        header_file: Any = None,
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
        self.header_file = header_file
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
        mapping = _payload_mapping(value) if field == "payload" else None
        if mapping is None:
            return value
        shown = dict(mapping)
        if not self.show_numbers and "to_number" in shown:
            shown["to_number"] = masked_number(shown["to_number"])
        if self.mask_values and isinstance(shown.get("parameters"), Mapping):
            mask_secret_values(shown["parameters"])
            shown["parameters"] = hidden_values(shown["parameters"])
        return shown

    # ----------------------------------------------------------------------------------------------- build

    def prepare_request(self) -> tuple[DirectSendRequest, Template]:
        """
        Build the request from the (rendered) arguments and validate it against its template; send nothing.

        With ``header_file`` the request carries a stand-in header URL until the file is uploaded at send
        time; the file itself is checked here.

        :raises AirflowFailException: the input cannot make a valid send (no retry: it would fail again).
        """
        request, template, _ = self._prepare(check_file=True)
        return request, template

    def _prepare(self, *, check_file: bool) -> tuple[DirectSendRequest, Template, MediaFile | None]:
        from qontak_provider.operators._send import failing_without_retry, prepare_direct_send

        with failing_without_retry("Qontak direct send"):
            media = self._header_media(check=check_file)
            header_url, header_filename = self.header_url, self.header_filename
            if media is not None:
                header_url, header_filename = media.placeholder_url(), media.filename
            request, template = prepare_direct_send(
                self.hook,
                to_number=self.real("to_number"),
                to_name=self.to_name,
                template_id=self.template_id,
                template_name=self.template_name,
                language=self.language,
                channel_integration_id=self.channel_integration_id,
                body=self.real("body"),
                header_url=header_url,
                header_filename=header_filename,
                buttons=self.real("buttons"),
                payload=self.real("payload"),
                default_region=self.default_region,
            )
        return request, template, media

    def _header_media(self, *, check: bool) -> MediaFile | None:
        """
        ``header_file`` opened and checked against its template (nothing uploaded), or ``None``.

        :param check: ``False`` once an earlier try sent the message: the file is then only named (its
            stand-in URL keeps the request's fingerprint), never read, and may be gone.
        """
        if self.header_file is None:
            return None
        from qontak_provider.client.errors import QontakPayloadError
        from qontak_provider.client.media import check_header
        from qontak_provider.operators._send import open_header_file, resolve_template

        if self.real("payload") is not None:
            raise QontakPayloadError(
                "header_file", "nothing: with payload= the header comes from the payload", "<a file>"
            )
        if not check:
            return open_header_file(
                self.header_file, filename=self.header_filename, header_url=self.header_url, check=False
            )
        template = resolve_template(
            self.hook, template_id=self.template_id, template_name=self.template_name, language=self.language
        )
        media = open_header_file(self.header_file, filename=self.header_filename, header_url=self.header_url)
        check_header(template, media)
        return media

    # --------------------------------------------------------------------------------------------- execute

    def execute(self, context: Context) -> dict[str, Any]:
        from qontak_provider._compat import AirflowFailException
        from qontak_provider.client.payload import language_mismatch
        from qontak_provider.ledger.send import IN_DOUBT_POLICIES

        policy = self.on_send_in_doubt
        if policy not in IN_DOUBT_POLICIES:
            raise AirflowFailException(
                f"on_send_in_doubt: expected one of {', '.join(IN_DOUBT_POLICIES)}, got {policy!r}."
            )
        dry_run = as_bool("dry_run", self.dry_run)
        # A retry after the send returns it; the file it carried is not needed (nor checked) again.
        sent_before = not dry_run and self.header_file is not None and self._ledger(context).already_sent()
        request, template, media = self._prepare(check_file=not sent_before)
        mismatch = language_mismatch(template, request.language.code)
        if mismatch:
            self.log.warning("%s", mismatch)
        if dry_run:
            if media is not None:
                self.log.info(
                    "Dry run: would upload %s (%s bytes) for the header.", media.filename, media.size
                )
            return self._dry_run(request, template)
        return self._send_once(context, request, template, media)

    def _dry_run(self, request: DirectSendRequest, template: Template) -> dict[str, Any]:
        from qontak_provider.client.phone import mask_phone
        from qontak_provider.operators._send import masked_wire

        wire = request.to_wire()
        shown = masked_wire(wire, values=self.mask_values)
        self.log.info(
            "Dry run: would send template %r (%s) to %s: %s",
            template.name,
            template.id,
            mask_phone(request.to_number),
            shown,
        )
        if self.show_numbers:
            shown["to_number"] = wire["to_number"]
        return {**self._summary(request, template, dry_run=True), "payload": shown}

    def _send_once(
        self, context: Context, request: DirectSendRequest, template: Template, media: MediaFile | None
    ) -> dict[str, Any]:
        """Send through the send ledger, so that a retry of this task instance never sends it twice."""
        from qontak_provider._compat import AirflowException, AirflowFailException
        from qontak_provider.client.phone import mask_phone
        from qontak_provider.ledger.send import (
            SEND_STATE_KEY,
            InDoubtUnresolved,
            SendRefused,
            payload_fingerprint,
        )
        from qontak_provider.operators._state import VariableStateStore

        ledger = self._ledger(context)
        store = ledger.store
        if store is None:
            self.log.warning(
                "No task instance (execute() called directly): this send is NOT protected against being "
                "repeated by a retry."
            )
        elif isinstance(store, VariableStateStore):
            self.log.info(
                "Airflow < 3.3 has no task_state_store: the send record is kept in the Airflow Variable %s "
                "(delete it once the run is done).",
                store.key(SEND_STATE_KEY),
            )
        masked = mask_phone(request.to_number)
        # The fingerprint is the request's before the upload (stand-in URL): the same in every try.
        fingerprint = payload_fingerprint(request.to_wire())
        if media is not None and not ledger.already_sent():
            request = self._with_uploaded_file(store, request, template, media)

        def deliver() -> Broadcast:
            self.log.info(
                "Sending template %r (%s) to %s via channel %s.",
                template.name,
                template.id,
                masked,
                request.channel_integration_id,
            )
            broadcast = self.hook.send_direct(request)
            self.log.info("Qontak created broadcast %s for %s.", broadcast.id, masked)
            return broadcast

        try:
            result = ledger.send(request, fingerprint, deliver=deliver, fetch=self.hook.get_broadcast)
        except SendRefused as err:
            raise AirflowFailException(str(err)) from err
        except InDoubtUnresolved as err:
            raise (AirflowFailException if err.final else AirflowException)(str(err)) from err
        return self._summary(request, template, result.broadcast, reused=result.reused)

    def _ledger(self, context: Context) -> SendLedger:
        """The send ledger of this task instance (its records in ``task_state_store``, or a Variable)."""
        from qontak_provider.ledger.reconcile import BroadcastFinder
        from qontak_provider.ledger.send import SendLedger
        from qontak_provider.operators._state import task_state

        return SendLedger(
            task_state(context),
            policy=self.on_send_in_doubt,
            finder=lambda since: BroadcastFinder(self.hook.client, since),
            info=self.log.info,
            warn=self.log.warning,
        )

    def _with_uploaded_file(
        self, store: Any, request: DirectSendRequest, template: Template, media: MediaFile
    ) -> DirectSendRequest:
        """Upload ``header_file`` (unless an earlier try did) and point the request's header at it."""
        from qontak_provider._compat import AirflowFailException
        from qontak_provider.client.errors import QontakValidationError
        from qontak_provider.client.payload import with_header_media
        from qontak_provider.ledger.upload import upload_once
        from qontak_provider.operators._send import failing_without_retry

        fmt = str(template.header.format if template.header is not None else "").upper()
        with failing_without_retry("header_file"):
            try:
                uploaded = upload_once(
                    store,
                    media,
                    lambda: self.hook.upload_file(media, header_format=fmt),
                    info=self.log.info,
                )
            except QontakValidationError as err:  # the uploader refused the file: it would refuse it again
                raise AirflowFailException(f"Qontak refused header_file, nothing was sent: {err}") from err
            return with_header_media(request, uploaded.url, media.filename)

    def _summary(
        self,
        request: DirectSendRequest,
        template: Template,
        broadcast: Broadcast | None = None,
        **flags: bool,
    ) -> dict[str, Any]:
        from qontak_provider.operators._send import send_summary

        return send_summary(request, template, broadcast, show_number=self.show_numbers, **flags)


def _payload_mapping(value: Any) -> Mapping[str, Any] | None:
    """The payload as a mapping: a dict, or JSON text (what Jinja renders from an XCom dict) that is sent."""
    if isinstance(value, str):
        from qontak_provider.client.errors import QontakPayloadError
        from qontak_provider.operators._send import decode_json_argument

        try:
            value = decode_json_argument("payload", value)
        except QontakPayloadError:
            return None  # refused by execute(): nothing is sent
    return value if isinstance(value, Mapping) else None
