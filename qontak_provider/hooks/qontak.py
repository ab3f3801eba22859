"""Airflow hook for the Mekari Qontak Chat WhatsApp API."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from qontak_provider._compat import BaseHook
from qontak_provider.defaults import (
    DEFAULT_BASE_URL,
    DEFAULT_CONN_ID,
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_DEADLINE_SECONDS,
    DEFAULT_RATE_PER_MINUTE,
    DEFAULT_REGION,
    DEFAULT_TIMEOUT_SECONDS,
)

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from qontak_provider.client.aio import AsyncQontakClient
    from qontak_provider.client.models import (
        Broadcast,
        BroadcastLogEntry,
        ChannelIntegration,
        Contact,
        ContactList,
        DirectSendRequest,
        Template,
        TemplateLanguage,
        UploadedFile,
    )
    from qontak_provider.client.sync import QontakClient


@dataclass(frozen=True)
class QontakConnectionConfig:
    """
    Everything the client needs, read from an Airflow connection of type ``qontak``.

    The secret is excluded from ``repr`` so that logging a config never leaks it.
    """

    client_id: str
    client_secret: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    deadline: float = DEFAULT_DEADLINE_SECONDS
    rate_per_minute: float = DEFAULT_RATE_PER_MINUTE
    channel_integration_id: str | None = None
    default_region: str = DEFAULT_REGION

    @classmethod
    def from_connection(
        cls, conn: Connection, extra: Mapping[str, Any] | None = None
    ) -> QontakConnectionConfig:
        """
        Build the config from a connection; raise :class:`ValueError` naming the field that is wrong.

        :param conn: the Airflow connection.
        :param extra: the connection's extra as a dict (passed in by async callers that read it without
            blocking); default ``conn.extra_dejson``.
        """
        if extra is None:
            extra = {key.removeprefix(_FORM_PREFIX): value for key, value in conn.extra_dejson.items()}
        extra = dict(extra)
        if not conn.login:
            raise ValueError(f"Connection {conn.conn_id!r}: 'Client ID' (login) is empty.")
        if not conn.password:
            raise ValueError(f"Connection {conn.conn_id!r}: 'Client Secret' (password) is empty.")
        return cls(
            client_id=conn.login,
            client_secret=conn.password,
            base_url=base_url_from_connection(conn.host, conn.port, conn.schema),
            timeout=_positive_number(extra, "timeout", DEFAULT_TIMEOUT_SECONDS, conn.conn_id),
            deadline=_positive_number(extra, "deadline", DEFAULT_DEADLINE_SECONDS, conn.conn_id),
            rate_per_minute=_positive_number(extra, "rate_per_minute", DEFAULT_RATE_PER_MINUTE, conn.conn_id),
            channel_integration_id=(str(extra["channel_integration_id"]).strip() or None)
            if extra.get("channel_integration_id")
            else None,
            default_region=str(extra.get("default_region") or DEFAULT_REGION).upper(),
        )


def parse_extra(conn: Connection) -> dict[str, Any]:
    """
    The connection's extra as a dict, without Airflow's masking (the extras hold no secret).

    Keys written by an older form as ``extra__qontak__<name>`` are read as ``<name>``.

    :raises ValueError: the extra is not a JSON object.
    """
    raw = conn.extra
    if not raw:
        return {}
    try:
        extra = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except (TypeError, ValueError):
        raise ValueError(f"Connection {conn.conn_id!r}: the extra is not valid JSON.") from None
    if not isinstance(extra, dict):
        raise ValueError(f"Connection {conn.conn_id!r}: the extra must be a JSON object.")
    return {key.removeprefix(_FORM_PREFIX): value for key, value in extra.items()}


#: Prefix of extra keys stored by connection forms of older Airflow versions.
_FORM_PREFIX = "extra__qontak__"


def base_url_from_connection(host: str | None, port: int | None = None, schema: str | None = None) -> str:
    """
    Turn the connection's Base URL field into a base URL.

    Empty means Mekari's production gateway. The host may carry a scheme (``http://127.0.0.1:8789`` for the
    sandbox). The URI connection form splits ``scheme://host:port`` into host and port, so the port is put
    back; the ``schema`` field may name the scheme when the host has none.
    """
    host = (host or "").strip().rstrip("/")
    if not host:
        return DEFAULT_BASE_URL
    if "://" in host:
        scheme, _, rest = host.partition("://")
    else:
        scheme, rest = (schema if schema in {"http", "https"} else "https"), host
    if port and ":" not in rest.split("/", 1)[0]:
        netloc, slash, path = rest.partition("/")
        rest = f"{netloc}:{port}{slash}{path}"
    return f"{scheme}://{rest}"


def _positive_number(extra: Mapping[str, Any], key: str, default: float, conn_id: str | None) -> float:
    raw = extra.get(key)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"Connection {conn_id!r}: extra {key!r} must be a number, got {raw!r}.") from None
    if value <= 0:
        raise ValueError(f"Connection {conn_id!r}: extra {key!r} must be greater than 0, got {raw!r}.")
    return value


def _client_arguments(config: QontakConnectionConfig) -> dict[str, Any]:
    """Keyword arguments shared by the sync and async clients built from one connection."""
    return {
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "base_url": config.base_url,
        "timeout": config.timeout,
        "deadline": config.deadline,
        "connect_timeout": DEFAULT_CONNECT_TIMEOUT_SECONDS,
        "rate_per_minute": config.rate_per_minute,
    }


class QontakHook(BaseHook):
    """
    Interact with the Mekari Qontak Chat WhatsApp API through Mekari's HMAC-signed gateway.

    The connection holds the HMAC client id (login), client secret (password), the base URL (host; empty
    means ``https://api.mekari.com``) and extras ``channel_integration_id``, ``timeout``, ``deadline``,
    ``rate_per_minute`` and ``default_region``. Nothing is read or fetched until a method is called, so the
    hook is cheap to build while parsing DAGs.

    .. code-block:: python

        hook = QontakHook(qontak_conn_id="qontak_default")
        template = hook.find_template("payment_reminder", language="id")
        broadcast = hook.send_direct(payload)

    :param qontak_conn_id: :ref:`Qontak connection id <howto/connection:qontak>`.
    :param timeout: read timeout in seconds; overrides the connection's ``timeout`` extra.
    :param rate_per_minute: direct-send pacing; overrides the connection's ``rate_per_minute`` extra.
    """

    conn_name_attr = "qontak_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "qontak"
    hook_name = "Qontak"

    # Airflow 3.0 and 3.1 build the connection form from these two; 3.2 and later read the same fields from
    # the provider info's ``conn-fields`` and ``ui-field-behaviour`` (get_provider_info.py, their one home).

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The connection form's extra fields, for Airflow 3.0 and 3.1 (from the provider info)."""
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import IntegerField, StringField
        from wtforms.validators import Optional

        from qontak_provider.get_provider_info import connection_type_info

        widgets: dict[str, Any] = {}
        for name, spec in connection_type_info()["conn-fields"].items():
            schema = spec["schema"]
            # The 3.0/3.1 form knows text and integer fields only; the hook validates every value itself.
            field = IntegerField if {"integer", "number"} & set(schema["type"]) else StringField
            widgets[name] = field(
                lazy_gettext(spec["label"]),
                widget=BS3TextFieldWidget(),
                validators=[Optional()],
                description=spec["description"],
                default=schema.get("default"),
            )
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hidden, relabelled and placeholder fields of the connection form, for Airflow 3.0 and 3.1."""
        from qontak_provider.get_provider_info import connection_type_info

        behaviour = connection_type_info()["ui-field-behaviour"]
        return {
            "hidden_fields": list(behaviour["hidden-fields"]),
            "relabeling": dict(behaviour["relabeling"]),
            "placeholders": dict(behaviour["placeholders"]),
        }

    def __init__(
        self,
        qontak_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        rate_per_minute: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.qontak_conn_id = qontak_conn_id
        self.timeout = timeout
        self.rate_per_minute_override = rate_per_minute

    def __repr__(self) -> str:
        return f"{type(self).__name__}(qontak_conn_id={self.qontak_conn_id!r})"

    # ----------------------------------------------------------------------------------------- configuration

    @cached_property
    def config(self) -> QontakConnectionConfig:
        """The connection's settings, read once."""
        return self._apply_overrides(
            QontakConnectionConfig.from_connection(self.get_connection(self.qontak_conn_id))
        )

    def _apply_overrides(self, config: QontakConnectionConfig) -> QontakConnectionConfig:
        from dataclasses import replace

        if self.timeout is not None:
            config = replace(config, timeout=self.timeout)
        if self.rate_per_minute_override is not None:
            config = replace(config, rate_per_minute=self.rate_per_minute_override)
        return config

    @property
    def default_channel_integration_id(self) -> str | None:
        """The connection's default WhatsApp channel integration id, if set."""
        return self.config.channel_integration_id

    @property
    def rate_per_minute(self) -> float:
        """Direct sends per minute this hook paces to."""
        return self.config.rate_per_minute

    @property
    def default_region(self) -> str:
        """Region used to read phone numbers written without a country code."""
        return self.config.default_region

    # --------------------------------------------------------------------------------------------- clients

    @cached_property
    def client(self) -> QontakClient:
        """The synchronous client: one pooled :class:`requests.Session`, paced sends."""
        from qontak_provider.client.sync import QontakClient

        return QontakClient(**_client_arguments(self.config))

    def get_conn(self) -> QontakClient:
        """Return the synchronous client (the conventional hook accessor)."""
        return self.client

    async def aget_config(self) -> QontakConnectionConfig:
        """
        Read the connection without blocking the event loop (for triggers and async notifiers).

        The extra is parsed here rather than with ``extra_dejson``, whose secret masking is a blocking call
        to the supervisor on Airflow < 3.3.2 (and the extras hold no secret).
        """
        from qontak_provider._compat import aget_connection

        conn = await aget_connection(self.qontak_conn_id, hook=self)
        return self._apply_overrides(QontakConnectionConfig.from_connection(conn, parse_extra(conn)))

    async def get_async_client(self) -> AsyncQontakClient:
        """
        Build an asynchronous client (httpx) from the connection; the caller closes it (``async with``).

        It shares signing, retry and pacing policy with the synchronous client.
        """
        from qontak_provider.client.aio import AsyncQontakClient

        return AsyncQontakClient(**_client_arguments(await self.aget_config()))

    # ------------------------------------------------------------------------------------------- endpoints

    def list_channels(
        self, target_channel: str | None = None, *, include_inactive: bool = False
    ) -> list[ChannelIntegration]:
        """
        List channel integrations (every page).

        :param target_channel: only this channel kind, e.g. ``wa_cloud`` or ``wa``.
        :param include_inactive: also list inactive integrations.
        """
        return self.client.list_channels(target_channel=target_channel, include_inactive=include_inactive)

    def list_templates(
        self,
        *,
        status: str | None = None,
        category: str | list[str] | None = None,
        name: str | None = None,
        language: str | None = None,
        query: str | None = None,
    ) -> list[Template]:
        """
        List WhatsApp message templates (every page).

        :param status: e.g. ``APPROVED``.
        :param category: one category or a list, e.g. ``AUTHENTICATION``.
        :param name: exact template name.
        :param language: template language code, e.g. ``id`` or ``en_US``.
        :param query: free-text search passed to Qontak.
        """
        return self.client.list_templates(
            status=status, category=category, name=name, language=language, query=query
        )

    def get_template(self, template_id: str) -> Template:
        """Get one WhatsApp template by id."""
        return self.client.get_template(template_id)

    def find_template(self, name: str, language: str | None = None) -> Template:
        """Find one template by name (and language when the name exists in several)."""
        return self.client.find_template(name, language)

    def send_direct(self, payload: Mapping[str, Any] | DirectSendRequest) -> Broadcast:
        """
        Send one template message (``POST /broadcasts/whatsapp/direct``); return the created broadcast.

        The payload may be the documented JSON as a plain dict. Sends are paced at the connection's rate and
        repeated only when Qontak cannot have processed them; a send that may have reached Qontak raises
        :class:`~qontak_provider.client.errors.QontakSendInDoubtError` instead of risking a second message.
        """
        return self.client.send_direct(payload)

    def get_broadcast(self, broadcast_id: str) -> Broadcast:
        """Get a broadcast with its ``message_status_count``."""
        return self.client.get_broadcast(broadcast_id)

    def get_broadcast_log(self, broadcast_id: str) -> list[BroadcastLogEntry]:
        """Get a broadcast's per-recipient log (every page); empty while Qontak has not filled it yet."""
        return self.client.get_broadcast_log(broadcast_id)

    def list_broadcasts(self, **filters: Any) -> list[Broadcast]:
        """List WhatsApp broadcasts (every page), newest first; ``filters`` are Qontak's query parameters."""
        return self.client.list_broadcasts(**filters)

    # ----------------------------------------------------------------------------- files, directory, more

    def upload_file(
        self, source: Any, *, filename: str | None = None, header_format: str | None = None
    ) -> UploadedFile:
        """
        Upload a file for a template header and return its public URL and file name.

        .. code-block:: python

            uploaded = QontakHook().upload_file("/data/invoices/INV-0101.pdf", header_format="DOCUMENT")
            # uploaded.url, uploaded.filename -> header_url, header_filename of a send

        :param source: a local path, an ``ObjectStoragePath`` (S3, GCS, ...), or bytes with ``filename``.
        :param filename: the file name the recipient sees; default: the path's last segment.
        :param header_format: ``IMAGE``, ``VIDEO`` or ``DOCUMENT``: the file must fit WhatsApp's limits for
            it (see :doc:`/howto/files`); any of them when empty.
        :raises QontakPayloadError: the file is missing, empty, too big, of a type the header does not
            take, or not what its extension says (nothing was uploaded).
        """
        return self.client.upload_file(source, filename=filename, header_format=header_format)

    def list_template_languages(self) -> list[TemplateLanguage]:
        """Every language a WhatsApp template may be written in: ``code`` (e.g. ``en_US``) and name."""
        return self.client.list_template_languages()

    def get_contact_list(self, contact_list_id: str) -> ContactList:
        """One contact list: its name, number of contacts and variables."""
        return self.client.get_contact_list(contact_list_id)

    def iter_contacts(self, contact_list_id: str) -> Iterator[Contact]:
        """The contacts of a contact list, fetched page by page (``Contact.as_row()`` makes a bulk row)."""
        return self.client.iter_contacts(contact_list_id)

    def request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> dict[str, Any]:
        """
        Call any operation of the Qontak Chat API, signed like every other call (see
        :doc:`/reference/gateway`).

        .. code-block:: python

            categories = QontakHook().request("GET", "templates/category")["data"]
            QontakHook().request("POST", "contact_block", json={"room_id": room_id, "reason": "opted out"})

        A GET is retried on transient failures; any other method is never repeated once it may have
        reached Qontak (a lost answer raises
        :class:`~qontak_provider.client.errors.QontakSendInDoubtError`).

        :param method: ``GET``, ``POST``, ``PUT``, ``PATCH`` or ``DELETE``.
        :param path: the operation's path, with or without ``/qontak/chat/v1``.
        :param params: the query (signed with the request).
        :param json: the JSON body.
        :return: Qontak's whole answer, ``{"status", "data", "meta"}``.
        """
        return self.client.request(method, path, params=params, json=json)

    def iter_pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[list[Any]]:
        """The ``data`` of a list operation, page by page (every page, with the provider's page rule)."""
        return self.client.iter_pages(path, params)

    # ------------------------------------------------------------------------------------------------ test

    def test_connection(self) -> tuple[bool, str]:
        """
        Make one cheap authenticated read and explain what went wrong if it fails.

        :return: ``(True, message)`` when the credentials work, else ``(False, explanation)``.
        """
        from qontak_provider.client.errors import QontakAuthenticationError, QontakError

        try:
            config = self.config
        except Exception as err:
            return False, str(err)
        try:
            channels = self.client.list_channels()
        except QontakAuthenticationError as err:
            return False, self._explain_auth_failure(err, config)
        except QontakError as err:
            return False, f"Qontak at {config.base_url} answered with an error: {err}"
        except Exception as err:
            return False, f"Could not reach Qontak at {config.base_url}: {type(err).__name__}: {err}"
        whatsapp = [c for c in channels if (c.target_channel or "").startswith("wa")]
        message = (
            f"Connected to {config.base_url} as client id {config.client_id!r}: "
            f"{len(channels)} channel integration(s), {len(whatsapp)} WhatsApp."
        )
        if config.channel_integration_id and all(c.id != config.channel_integration_id for c in channels):
            message += (
                f" Warning: the default channel integration id {config.channel_integration_id!r}"
                " is not among them."
            )
        return True, message

    def _explain_auth_failure(self, err: Exception, config: QontakConnectionConfig) -> str:
        status = getattr(err, "status_code", None)
        reasons = [
            f"Qontak refused the credentials (HTTP {status}). Likely causes:",
            f"(1) the Client ID {config.client_id!r} or the Client Secret is wrong, or belongs to the "
            "staging Developer Center (api.mekari.io) rather than production;",
        ]
        skew = self.client.server_time_skew()
        if skew is None:
            reasons.append(
                "(2) this machine's clock differs from Mekari's by 300 s or more (the signed Date header "
                "is checked; the server sent no Date to compare);"
            )
        else:
            verdict = "too far off: fix NTP on this machine" if abs(skew) >= 300 else "within the limit"
            reasons.append(
                f"(2) clock skew: this machine's clock is {skew:+.0f} s from the server's Date "
                f"({verdict}; Mekari allows under 300 s);"
            )
        reasons.append(
            "(3) the credential lacks the scope qontak-chat:all (or "
            "qontak-chat:broadcasts:whatsapp:direct for sends), or the Qontak account lacks the Admin "
            "and Supervisor users Mekari requires."
        )
        return " ".join(reasons)
