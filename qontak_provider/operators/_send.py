"""Shared pieces of the send operators: a template cache, request preparation and XCom summaries.

Importable helpers (no Airflow import at module level) so that the single-send operator and the bulk-send
operator resolve templates, validate requests and describe results the same way:

* :func:`get_template` / :func:`find_template` fetch a template once per process and connection and keep it
  for :data:`TEMPLATE_CACHE_TTL_SECONDS` (mapped tasks that run in one worker process share it);
* :func:`prepare_direct_send` turns operator arguments (friendly or a whole payload) into a validated
  :class:`~qontak_provider.client.models.DirectSendRequest`, raising
  :class:`~qontak_provider.client.errors.QontakPayloadError` before any send;
* :func:`resolve_template` and :func:`pick_channel` are the one way every sender (direct, bulk, notifier)
  finds its template and channel, and :func:`failing_without_retry` the one way input that can never be
  sent fails a task;
* :func:`masked_wire` and :func:`send_summary` describe a send for logs and XCom.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from qontak_provider.client.errors import QontakPayloadError
from qontak_provider.client.phone import mask_phone

if TYPE_CHECKING:
    from qontak_provider.client.media import MediaFile
    from qontak_provider.client.models import Broadcast, DirectSendRequest, Template
    from qontak_provider.hooks.qontak import QontakHook

__all__ = [
    "TEMPLATE_CACHE_TTL_SECONDS",
    "TemplateCache",
    "as_path",
    "clear_template_cache",
    "failing_without_retry",
    "find_template",
    "get_template",
    "masked_wire",
    "open_header_file",
    "pick_channel",
    "prepare_direct_send",
    "resolve_template",
    "send_summary",
]

#: How long a fetched template is reused. Short: a template edited or re-approved in Qontak is seen again
#: within a minute, while the hundreds of mapped task instances of one DAG run fetch it only once.
TEMPLATE_CACHE_TTL_SECONDS = 60.0


class TemplateCache:
    """
    A small thread-safe TTL cache of templates, keyed by connection id and template id (or name/language).

    :param ttl: seconds an entry stays valid.
    :param clock: monotonic clock (tests inject a fake one).
    """

    def __init__(self, ttl: float = TEMPLATE_CACHE_TTL_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, ...], tuple[float, Template]] = {}

    def get_or_fetch(self, key: tuple[str, ...], fetch: Callable[[], Template]) -> Template:
        """Return the cached template for ``key``, or ``fetch()`` it and remember it."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                return entry[1]
        # Fetch outside the lock: a slow request must not block other threads' cache hits.
        template = fetch()
        with self._lock:
            self._entries[key] = (self._clock() + self.ttl, template)
        return template

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()


#: The process-wide cache used by the operators.
template_cache = TemplateCache()


def clear_template_cache() -> None:
    """Forget every cached template (tests call it; a new template version is also seen after the TTL)."""
    template_cache.clear()


def get_template(hook: QontakHook, template_id: str) -> Template:
    """Get the template ``template_id`` through ``hook``, from the process cache when fresh."""
    return template_cache.get_or_fetch(
        ("id", hook.qontak_conn_id, template_id), lambda: hook.get_template(template_id)
    )


def find_template(hook: QontakHook, name: str, language: str | None = None) -> Template:
    """Find the template called ``name`` (in ``language``) through ``hook``, from the cache when fresh."""
    return template_cache.get_or_fetch(
        ("name", hook.qontak_conn_id, name, language or ""), lambda: hook.find_template(name, language)
    )


_TRUE_TEXT = frozenset({"true", "1", "yes", "on"})
_FALSE_TEXT = frozenset({"false", "0", "no", "off", "", "none"})


def as_bool(name: str, value: object) -> bool:
    """A templated flag: Jinja renders ``{{ params.dry_run }}`` to the text ``"True"``/``"False"``."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE_TEXT | _FALSE_TEXT:
        return value.strip().lower() in _TRUE_TEXT
    from qontak_provider._compat import AirflowFailException

    raise AirflowFailException(f"{name}: expected true or false, got {value!r}.")


def _optional_str(field: str, value: object, what: str) -> str | None:
    """``value`` when it is ``None`` or text that can be sent (see ``check_text``), else a field error."""
    if value is None:
        return None
    from qontak_provider.client.payload import MAX_TEXT, check_text

    return check_text(field, value, max_length=MAX_TEXT["id"], what=what)


def _required_str(field: str, value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        shown_as_is = value is None or isinstance(value, (str, int, float))
        given = value if shown_as_is else f"<{type(value).__name__}>"
        raise QontakPayloadError(field, what, given)
    return value.strip()


def decode_json_argument(field: str, value: Any) -> Any:
    """
    Accept a JSON text where a list or dict is expected.

    Jinja renders ``{{ ti.xcom_pull(...) }}`` to text unless the DAG sets ``render_template_as_native_obj``;
    a text that looks like JSON is decoded instead of being refused.
    """
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            raise QontakPayloadError(
                field, "a list or mapping (or its JSON text)", "<invalid JSON text>"
            ) from None
    return value


def resolve_template(
    hook: QontakHook, *, template_id: object, template_name: object, language: object
) -> Template:
    """
    Return the template named by id or by name (and language), through the cache.

    The one way every sender finds its template: the direct send, the bulk send and the notifier.

    :raises QontakPayloadError: an argument of the wrong type, neither id nor name, or the template found by
        id has another name.
    :raises QontakNotFoundError: no such template (not worth a retry: see :func:`failing_without_retry`).
    """
    template_id = _optional_str("template_id", template_id, "a template id")
    template_name = _optional_str("template_name", template_name, "a template name")
    language = _optional_str("language", language, "a language code such as 'id' or 'en_US'")
    if template_id:
        template = get_template(hook, _required_str("template_id", template_id, "a template id"))
        if template_name and template.name != template_name:
            raise QontakPayloadError(
                "template_name",
                f"{template.name!r}, the name of template {template.id!r} (or leave template_name out)",
                template_name,
            )
        return template
    if template_name:
        name = _required_str("template_name", template_name, "a template name")
        return find_template(hook, name, language or None)
    raise QontakPayloadError("template_id", "a template id, or a template_name (and language)", None)


def pick_channel(*candidates: object) -> str:
    """
    The first channel integration id given (an argument, then the payload's, then the connection's extra).

    :raises QontakPayloadError: none is set, or the first one set is not text.
    """
    channel = next((candidate for candidate in candidates if candidate), None)
    if channel is None:
        raise QontakPayloadError(
            "channel_integration_id",
            "the id of a WhatsApp channel integration, from the argument or the connection's "
            "'channel_integration_id' extra",
            None,
            hint="Neither is set; list the ids with QontakListChannelsOperator.",
        )
    return _required_str("channel_integration_id", channel, "a channel integration id")


def as_path(value: Any) -> Any:
    """A string with a scheme (``s3://``, ``gs://``) becomes an ``ObjectStoragePath``, else a local path."""
    if isinstance(value, str):
        if "://" in value:
            from airflow.sdk import ObjectStoragePath

            return ObjectStoragePath(value)
        from pathlib import Path

        return Path(value)
    return value


def open_header_file(
    source: Any, *, filename: str | None, header_url: object, check: bool = True
) -> MediaFile:
    """
    ``header_file`` as a :class:`~qontak_provider.client.media.MediaFile` (nothing read or uploaded yet).

    :param check: ``False`` names the file without looking at it (it may be gone; see ``media_file``).
    :raises QontakPayloadError: ``header_url`` was given too, or the file does not exist.
    """
    from qontak_provider.client.media import media_file

    if header_url is not None:
        raise QontakPayloadError(
            "header_file", "nothing when header_url is given: the header is one file or one URL", header_url
        )
    name = _optional_str("header_filename", filename, "a file name")
    if isinstance(source, str) and not source.strip():  # what an empty Jinja value renders to
        raise QontakPayloadError("header_file", "the path of a file", source)
    try:
        path = as_path(source)  # bytes pass through: media_file reads them as the file's content
    except (ValueError, ImportError) as err:  # a scheme no installed filesystem serves ("Unsupported ...")
        raise QontakPayloadError(
            "header_file", "a local path or a URL of a filesystem Airflow can open", f"{source} ({err})"
        ) from None
    return media_file(
        path,
        filename=name,
        argument="header_file",
        check=check,
    )


@contextlib.contextmanager
def failing_without_retry(what: str) -> Iterator[None]:
    """
    Turn the errors of input that can never be sent into a task failure without retry.

    A retry would fail the same way: the arguments and the template are what they are.
    """
    from qontak_provider._compat import AirflowFailException
    from qontak_provider.client.errors import QontakNotFoundError

    try:
        yield
    except QontakPayloadError as err:
        raise AirflowFailException(f"Invalid {what}, nothing was sent: {err}") from err
    except QontakNotFoundError as err:
        raise AirflowFailException(f"{what}: not found, nothing was sent: {err}") from err


def prepare_direct_send(
    hook: QontakHook,
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
) -> tuple[DirectSendRequest, Template]:
    """
    Build and validate one direct send from operator arguments; nothing is sent.

    Either friendly arguments (``to_number``, ``to_name``, the template by ``template_id`` or
    ``template_name``, ``body``, ``header_url``/``header_filename``, ``buttons``) or ``payload``, the whole
    documented request body. With ``payload``, explicit ``to_number``, ``to_name`` and
    ``channel_integration_id`` arguments override the payload's (so one payload can be mapped over many
    recipients), a ``template_id`` argument must match it, and the parameter arguments must be left out.
    The channel defaults to the connection's ``channel_integration_id`` extra; the region for numbers
    without country code to the connection's ``default_region``.

    :return: the request (``to_number`` normalised) and the template it was validated against.
    :raises QontakPayloadError: naming the field, what the template expects and what was given.
    :raises QontakNotFoundError: the template does not exist.
    """
    from qontak_provider.client.payload import build_direct_send

    # Types first: a list where a code belongs must be refused here, not crash a lookup or the cache.
    language = _optional_str("language", language, "a language code such as 'id' or 'en_US'")
    template_id = _optional_str("template_id", template_id, "a template id")
    template_name = _optional_str("template_name", template_name, "a template name")
    channel_integration_id = _optional_str(
        "channel_integration_id", channel_integration_id, "a channel integration id"
    )
    default_region = _optional_str("default_region", default_region, "an ISO region code such as 'ID'")
    region = default_region or hook.default_region
    if payload is not None:
        payload = decode_json_argument("payload", payload)
        if not isinstance(payload, Mapping):
            raise QontakPayloadError(
                "payload", "the direct-send body as a dict", f"<{type(payload).__name__}>"
            )
        conflicting = [
            name
            for name, value in (
                ("body", body),
                ("header_url", header_url),
                ("header_filename", header_filename),
                ("buttons", buttons),
                ("template_name", template_name),
                ("language", language),
            )
            if value is not None
        ]
        if conflicting:
            raise QontakPayloadError(
                conflicting[0],
                "nothing: with payload= the parameters come from the payload",
                hint="Pass either payload= or the parameter arguments, not both.",
            )
        return _from_payload(
            hook,
            payload,
            to_number=to_number,
            to_name=to_name,
            template_id=template_id,
            channel_integration_id=channel_integration_id,
            region=region,
        )

    template = resolve_template(hook, template_id=template_id, template_name=template_name, language=language)
    channel = pick_channel(channel_integration_id, hook.default_channel_integration_id)
    request = build_direct_send(
        template,
        to_number=to_number,  # type: ignore[arg-type]  # None is refused inside with a field error
        to_name=to_name,  # type: ignore[arg-type]
        channel_integration_id=channel,
        language=language or None,
        body=decode_json_argument("body", body),
        header_url=header_url or None,
        header_filename=header_filename or None,
        buttons=decode_json_argument("buttons", buttons),
        default_region=region,
    )
    return request, template


def _from_payload(
    hook: QontakHook,
    payload: Mapping[str, Any],
    *,
    to_number: str | int | None,
    to_name: str | None,
    template_id: str | None,
    channel_integration_id: str | None,
    region: str,
) -> tuple[DirectSendRequest, Template]:
    """The request of a whole documented body, with the explicit arguments overriding its values."""
    from qontak_provider.client.payload import normalize_payload, validate_against_template

    data = dict(payload)
    if template_id is not None and data.get("message_template_id") != template_id:
        raise QontakPayloadError(
            "template_id",
            f"the payload's message_template_id {data.get('message_template_id')!r}",
            template_id,
        )
    for name, value in (("to_number", to_number), ("to_name", to_name)):
        if value is not None:
            data[name] = value
    data["channel_integration_id"] = pick_channel(
        channel_integration_id, data.get("channel_integration_id"), hook.default_channel_integration_id
    )
    request = normalize_payload(data, default_region=region)
    template = get_template(hook, request.message_template_id)
    validate_against_template(request, template)
    return request, template


def masked_wire(wire: Mapping[str, Any], *, values: bool = False) -> dict[str, Any]:
    """A copy of a wire payload that is safe to log and show: the phone number masked, and with ``values``
    every parameter value hidden (e.g. an OTP code)."""
    copy = dict(wire)
    if "to_number" in copy:
        copy["to_number"] = mask_phone(copy["to_number"])
    if values and isinstance(copy.get("parameters"), Mapping):
        from qontak_provider.operators._private import hidden_values

        copy["parameters"] = hidden_values(copy["parameters"])
    return copy


def send_summary(
    request: DirectSendRequest,
    template: Template,
    broadcast: Broadcast | None = None,
    *,
    show_number: bool,
    reused: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """
    The JSON-safe XCom value of one direct send (never a secret; the number masked unless ``show_number``).

    :return: ``broadcast_id``, ``template_id``, ``template_name``, ``channel_integration_id``,
        ``to_number`` (normalised; masked unless ``show_number``), ``created_at``, ``reused`` and ``dry_run``.
    """
    return {
        "broadcast_id": broadcast.id if broadcast is not None else None,
        "template_id": request.message_template_id,
        "template_name": template.name,
        "channel_integration_id": request.channel_integration_id,
        "to_number": request.to_number if show_number else mask_phone(request.to_number),
        "created_at": broadcast.created_at if broadcast is not None else None,
        "reused": reused,
        "dry_run": dry_run,
    }
