"""Send a WhatsApp template message through Qontak when a task or DAG run changes state."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseNotifier

from qontak_provider.defaults import DEFAULT_CONN_ID

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context

    from qontak_provider.client.media import MediaFile
    from qontak_provider.client.models import DirectSendRequest, Template, UploadedFile
    from qontak_provider.hooks.qontak import QontakConnectionConfig, QontakHook

__all__ = [
    "DAG_FAILURE_BODY",
    "DEFAULT_MAX_PARAM_LENGTH",
    "TASK_FAILURE_BODY",
    "QontakNotifier",
    "send_qontak_notification",
]

#: Body values for the recommended task-alert template (six placeholders, see ``docs/howto/alerts.rst``):
#: ``{{1}}`` task id, ``{{2}}`` DAG id, ``{{3}}`` run id, ``{{4}}`` try number, ``{{5}}`` exception,
#: ``{{6}}`` log URL.
TASK_FAILURE_BODY: dict[str, str] = {
    "1": "{{ ti.task_id }}",
    "2": "{{ dag.dag_id }}",
    "3": "{{ run_id }}",
    "4": "{{ ti.try_number }}",
    "5": "{{ exception if exception is defined and exception else 'no exception' }}",
    "6": "{{ ti.log_url }}",
}

#: Body values for the same template used as a DAG-level callback, whose context has no task instance:
#: ``{{1}}`` says which part failed, ``{{5}}`` carries the reason Airflow gives (e.g. ``task_failure``).
DAG_FAILURE_BODY: dict[str, str] = {
    "1": "(whole run)",
    "2": "{{ dag.dag_id }}",
    "3": "{{ run_id }}",
    "4": "-",
    "5": "{{ reason if reason is defined and reason else 'failed' }}",
    "6": "{{ dag_run.run_type if dag_run is defined and dag_run else '-' }}",
}

#: Rendered body values are cut to this many characters: an exception text can be long, while a WhatsApp
#: template body as a whole is limited to 1024 characters.
DEFAULT_MAX_PARAM_LENGTH = 160

_WHITESPACE_RE = re.compile(r"\s+")

#: What ``_render`` passes as the DAG of an object without rendering settings: render strings.
_STRING_RENDERING = SimpleNamespace(render_template_as_native_obj=False)


class QontakNotifier(BaseNotifier):
    """
    Send a WhatsApp template message to one or more numbers through Qontak, e.g. when a task fails.

    Use it as an ``on_failure_callback`` (or any other ``on_*_callback``) of a task or DAG. The body values
    are Jinja templates rendered with the callback's context, so a message can say which DAG, task, run and
    try failed, why, and where the log is:

    .. code-block:: python

        from qontak_provider.notifications.qontak import TASK_FAILURE_BODY, QontakNotifier

        BashOperator(
            task_id="load",
            bash_command="exit 1",
            on_failure_callback=QontakNotifier(
                to_numbers=["0812-3456-7890", "+6281298765432"],
                template_name="airflow_task_alert",
                language="en_US",
                body=TASK_FAILURE_BODY,
            ),
        )

    The template is fetched once per notification and every message is checked against it before anything
    is sent. **A failure to notify never fails or hides anything else:** errors are logged (phone numbers
    masked) and swallowed, so the task's own failure stays the one reported.

    Nothing is read or fetched when the notifier is built, so it is cheap to create while parsing DAGs.

    :param to_numbers: recipient phone number(s): a list, or one string with numbers separated by commas or
        semicolons. Any common format; numbers without country code use the connection's
        ``default_region``. (templated)
    :param template_id: id of the WhatsApp template to send. Give this or ``template_name``. (templated)
    :param template_name: name of an APPROVED template, looked up once per notification. (templated)
    :param language: template language code, e.g. ``en_US``; used to pick the template by name among its
        translations, and sent as the message language. Default: the template's own. (templated)
    :param body: values of the body placeholders: a mapping ``{"1": "{{ dag.dag_id }}", ...}`` or a list
        (item *p* fills ``{{p+1}}``). Values are rendered, then white space (new lines included, which
        WhatsApp refuses) is collapsed and each value is cut to ``max_param_length``. (templated)
    :param buttons: values of dynamic buttons (URL suffix, code), see
        :func:`~qontak_provider.client.payload.build_direct_send`. (templated)
    :param header_url: media URL for templates with an IMAGE, VIDEO or DOCUMENT header. (templated)
    :param header_filename: file name shown for a media header. (templated)
    :param header_file: a file to attach instead of ``header_url`` (a local path, an ``s3://``... URL, or
        bytes), e.g. the report a failed task wrote: checked, then uploaded once per notification. (templated)
    :param channel_integration_id: WhatsApp channel to send from; default: the connection's
        ``channel_integration_id`` extra. (templated)
    :param to_name: recipient name recorded in Qontak. (templated)
    :param qontak_conn_id: :ref:`Qontak connection id <howto/connection:qontak>`. (templated)
    :param max_param_length: longest rendered body value, in characters; longer ones end with ``…``.
    """

    template_fields: Sequence[str] = (
        "qontak_conn_id",
        "to_numbers",
        "template_id",
        "template_name",
        "language",
        "body",
        "buttons",
        "header_url",
        "header_filename",
        "header_file",
        "channel_integration_id",
        "to_name",
    )

    def __init__(
        self,
        *,
        to_numbers: str | Sequence[str],
        template_id: str | None = None,
        template_name: str | None = None,
        language: str | None = None,
        body: Mapping[str, Any] | Sequence[Any] | None = None,
        buttons: Mapping[str, Any] | Sequence[Any] | None = None,
        header_url: str | None = None,
        header_filename: str | None = None,
        header_file: Any = None,
        channel_integration_id: str | None = None,
        to_name: str = "Airflow alerts",
        qontak_conn_id: str = DEFAULT_CONN_ID,
        max_param_length: int = DEFAULT_MAX_PARAM_LENGTH,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if bool(template_id) == bool(template_name):
            raise ValueError("QontakNotifier needs exactly one of template_id and template_name.")
        if not to_numbers:
            raise ValueError("QontakNotifier needs at least one number in to_numbers.")
        if max_param_length < 1:
            raise ValueError(f"max_param_length must be at least 1, got {max_param_length}.")
        self.qontak_conn_id = qontak_conn_id
        self.to_numbers = to_numbers
        self.template_id = template_id
        self.template_name = template_name
        self.language = language
        self.body = body
        self.buttons = buttons
        self.header_url = header_url
        self.header_filename = header_filename
        self.header_file = header_file
        self.channel_integration_id = channel_integration_id
        self.to_name = to_name
        self.max_param_length = max_param_length

    def __repr__(self) -> str:
        if self.template_id:
            template = f"template_id={self.template_id!r}"
        else:
            template = f"template_name={self.template_name!r}"
        return f"{type(self).__name__}({template}, qontak_conn_id={self.qontak_conn_id!r})"

    @cached_property
    def hook(self) -> QontakHook:
        """The Qontak hook (built lazily: the connection is read when the first message is sent)."""
        from qontak_provider.hooks.qontak import QontakHook

        return QontakHook(qontak_conn_id=self.qontak_conn_id)

    # ------------------------------------------------------------------------------------------ rendering

    def render_template_fields(self, context: Context, jinja_env: jinja2.Environment | None = None) -> None:
        """
        Render the templated fields; fall back to a plain sandboxed Jinja environment when the DAG has none.

        A DAG-level callback may get a serialized DAG without ``get_template_env`` (apache/airflow issue
        #64649, seen with ``airflow dags test``); rendering must not fail the notification for that.
        """
        if jinja_env is None:
            dag = context.get("dag")
            if dag is not None and not hasattr(dag, "get_template_env"):
                jinja_env = self.get_template_env(dag=None)
        super().render_template_fields(context, jinja_env)

    def _render(self, template: Any, context: Any, dag: Any = None) -> Any:
        # Whether to render native objects is the DAG's ``render_template_as_native_obj``; a serialized DAG
        # has it (and is honoured), an object without it renders strings instead of failing the notification.
        dag = dag or context.get("dag")
        if dag is not None and not hasattr(dag, "render_template_as_native_obj"):
            dag = _STRING_RENDERING  # not None: BaseNotifier._render would read the context's DAG again
        return super()._render(template, context, dag)

    # ---------------------------------------------------------------------------------------------- notify

    def notify(self, context: Context) -> None:
        """Send the message to every number; log, never raise, when something goes wrong."""
        try:
            hook = self.hook
            config = hook.config
            template = self._fetch_template(hook)
            attachment = self._header_media(template)
            requests = self._build_requests(template, config, attachment)
            if attachment is not None and requests:  # uploaded only once every message is known to be valid
                media, fmt = attachment
                requests = _with_file(requests, hook.upload_file(media, header_format=fmt), media)
        except Exception as err:
            self._log_failure(err)
            return
        for request in requests:
            try:
                broadcast = hook.send_direct(request)
            except Exception as err:
                self._log_failure(err, request.to_number)
            else:
                self._log_sent(request.to_number, broadcast.id)

    async def async_notify(self, context: Context) -> None:
        """Send the message like :meth:`notify`, without blocking the event loop (for the triggerer)."""
        try:
            hook = self.hook
            config = await hook.aget_config()
            client = await hook.get_async_client()
        except Exception as err:
            self._log_failure(err)
            return
        async with client:
            try:
                if self.template_id:
                    template = await client.get_template(str(self.template_id))
                else:
                    template = await client.find_template(str(self.template_name), self.language or None)
                # Checking a file may stat an object store: not on the triggerer's event loop.
                attachment = await asyncio.to_thread(self._header_media, template)
                requests = self._build_requests(template, config, attachment)
                if attachment is not None and requests:
                    media, fmt = attachment
                    requests = _with_file(requests, await client.upload_file(media, header_format=fmt), media)
            except Exception as err:
                self._log_failure(err)
                return
            for request in requests:
                try:
                    broadcast = await client.send_direct(request)
                except Exception as err:
                    self._log_failure(err, request.to_number)
                else:
                    self._log_sent(request.to_number, broadcast.id)

    # ----------------------------------------------------------------------------------------------- helpers

    def _fetch_template(self, hook: QontakHook) -> Template:
        from qontak_provider.operators._send import resolve_template

        return resolve_template(
            hook, template_id=self.template_id, template_name=self.template_name, language=self.language
        )

    def _header_media(self, template: Template) -> tuple[MediaFile, str] | None:
        """``header_file`` opened and checked against the template, and the header format; not uploaded."""
        if self.header_file is None:
            return None
        from qontak_provider.client.media import check_header
        from qontak_provider.operators._send import open_header_file

        media = open_header_file(self.header_file, filename=self.header_filename, header_url=self.header_url)
        return media, check_header(template, media)

    def _build_requests(
        self,
        template: Template,
        config: QontakConnectionConfig,
        attachment: tuple[MediaFile, str] | None = None,
    ) -> list[DirectSendRequest]:
        """
        Build and validate every message before sending (or uploading) anything, so a bad argument sends
        nothing.

        :param attachment: ``header_file``, checked; the messages carry its stand-in URL until it is uploaded.
        """
        header = (attachment[0].placeholder_url(), attachment[0].filename) if attachment else None
        from qontak_provider.client.payload import build_direct_send
        from qontak_provider.operators._send import pick_channel

        channel = pick_channel(self.channel_integration_id, config.channel_integration_id)
        from qontak_provider.client.errors import QontakPayloadError
        from qontak_provider.client.phone import normalize_phone

        body = self._clean_values(self.body)
        requests: dict[str, DirectSendRequest] = {}
        for raw in self._raw_numbers():
            try:
                number = normalize_phone(raw, config.default_region)
            except QontakPayloadError as err:
                # One bad number must not keep the others from being alerted; the error masks the number.
                self._log_failure(err)
                continue
            if number in requests:
                continue  # the same person listed twice (e.g. in two formats) gets one message
            requests[number] = build_direct_send(
                template,
                to_number=number,
                to_name=str(self.to_name),
                channel_integration_id=channel,
                language=self.language or None,
                body=body,
                header_url=header[0] if header else self.header_url or None,
                header_filename=header[1] if header else self.header_filename or None,
                buttons=self.buttons,
            )  # no default_region: the number is already normalized above
        built = list(requests.values())
        if built:
            from qontak_provider.client.payload import language_mismatch

            mismatch = language_mismatch(template, self.language or None)
            if mismatch:
                self.log.warning("%s", mismatch)
        return built

    def _raw_numbers(self) -> list[Any]:
        raw: Any = self.to_numbers
        if isinstance(raw, str):
            items: list[Any] = re.split(r"[,;]", raw)
        elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
            items = [raw]  # native rendering turns "{{ var }}" holding one number into an int
        elif isinstance(raw, Iterable) and not isinstance(raw, (Mapping, bytes)):
            items = list(raw)
        else:
            got = type(raw).__name__
            raise ValueError(f"to_numbers: expected phone numbers (text or a list), got {got}.")
        # Numbers other than text go to normalize_phone as they are: it knows a float such as 6281234567890.0.
        numbers = [item.strip() if isinstance(item, str) else item for item in items if str(item).strip()]
        if not numbers:
            raise ValueError("to_numbers rendered to no phone number.")
        return numbers

    def _clean_values(self, values: Mapping[Any, Any] | Sequence[Any] | None) -> Any:
        """Make rendered body values acceptable to WhatsApp: one line, not empty, not too long."""
        if values is None or isinstance(values, (str, bytes)):
            return values
        if isinstance(values, Mapping):
            return {key: self._clean_text(value) for key, value in values.items()}
        if values and isinstance(values[0], Mapping):
            return values  # the API's own {key, value_text, value} form is passed through as given
        return [self._clean_text(value) for value in values]

    def _clean_text(self, value: Any) -> Any:
        if value is None or isinstance(value, (Mapping, list, tuple, set, bytes)):
            return value  # left for the payload builder to refuse with a precise message
        text = _WHITESPACE_RE.sub(" ", str(value)).strip() or "-"
        if len(text) > self.max_param_length:
            text = text[: self.max_param_length - 1].rstrip() + "…"
        return text

    def _log_sent(self, number: str, broadcast_id: str) -> None:
        from qontak_provider.client.phone import mask_phone

        self.log.info("Qontak notification sent to %s (broadcast %s).", mask_phone(number), broadcast_id)

    def _log_failure(self, err: BaseException, number: str | None = None) -> None:
        from qontak_provider.client.phone import mask_phone
        from qontak_provider.ledger.send import Fate, fate_of

        target = f" to {mask_phone(number)}" if number else ""
        if number and fate_of(err) is Fate.IN_DOUBT:
            # Said so, because "could not be sent" would be wrong if it arrived; a callback is never retried.
            what = f"Qontak notification{target} may or may not have been sent; it is not sent again"
        else:
            what = f"Qontak notification{target} could not be sent"
        # Only the error's own text: our errors never carry secrets and mask phone numbers; no traceback,
        # which would show local variables' values in some log formatters.
        self.log.error("%s (the original failure is unaffected): %s: %s", what, type(err).__name__, err)


def _with_file(
    requests: list[DirectSendRequest], uploaded: UploadedFile, media: MediaFile
) -> list[DirectSendRequest]:
    """The validated messages, their media header pointing at the uploaded file."""
    from qontak_provider.client.payload import with_header_media

    return [with_header_media(request, uploaded.url, media.filename) for request in requests]


#: Functional-style alias, like ``send_slack_notification``.
send_qontak_notification = QontakNotifier
