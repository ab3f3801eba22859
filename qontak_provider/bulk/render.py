"""Turn one recipient row into a validated direct-send request (no Airflow).

The parameter templates (``body={"1": "{{ row.name }}"}``, ``header_url``, ``buttons``) are compiled **once**
in a sandboxed Jinja environment and rendered per row with ``row`` bound to the row's dict, so a template
cannot reach Python internals and a 100,000-row file does not compile 100,000 templates. Every request goes
through :func:`~qontak_provider.client.payload.build_direct_send`, i.e. the same number normalisation and
template checks as a single direct send.

The only I/O is a row's ``header_file``: that it exists and fits the template's header (its size and first
bytes). The file is uploaded later, by the engine, right before the row's send; until then the request's
header carries a stand-in URL (:meth:`~qontak_provider.client.media.MediaFile.placeholder_url`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qontak_provider.client.errors import QontakPayloadError
from qontak_provider.client.media import MediaFile, check_header, media_file
from qontak_provider.client.models import DirectSendRequest, Template
from qontak_provider.client.payload import build_direct_send, printable
from qontak_provider.client.phone import mask_phone

__all__ = ["DEFAULT_NAME_COLUMNS", "DEFAULT_NUMBER_COLUMNS", "PreparedRow", "RowRenderer"]

#: Columns tried, in order, for the recipient's number and name when none is named.
DEFAULT_NUMBER_COLUMNS = ("phone", "to_number")
DEFAULT_NAME_COLUMNS = ("name", "to_name")

RowCallable = Callable[[Mapping[str, Any]], Mapping[str, Any]]
_CALLABLE_KEYS = frozenset(
    {"to_number", "to_name", "body", "header_url", "header_filename", "header_file", "buttons"}
)


@dataclass(frozen=True)
class PreparedRow:
    """
    A row ready to send: its position, key, validated request and the masked number for logs; with
    ``media``, the file to upload for its header (the request then carries a stand-in URL).
    """

    index: int
    key: str
    request: DirectSendRequest
    masked_number: str
    media: MediaFile | None = None

    @property
    def to_name(self) -> str:
        return self.request.to_name

    @property
    def to_number(self) -> str:
        return self.request.to_number


def _has_jinja(text: str) -> bool:
    return "{{" in text or "{%" in text


class _Compiled:
    """A value tree whose strings with Jinja syntax are compiled templates, rendered per row."""

    def __init__(self, value: Any, env: Any) -> None:
        self._value = self._compile(value, env)

    def _compile(self, value: Any, env: Any) -> Any:
        if isinstance(value, str):
            return env.from_string(value) if _has_jinja(value) else value
        if isinstance(value, Mapping):
            return {k: self._compile(v, env) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._compile(v, env) for v in value]
        return value

    def render(self, row: Mapping[str, Any]) -> Any:
        return self._render(self._value, row)

    def _render(self, value: Any, row: Mapping[str, Any]) -> Any:
        if hasattr(value, "render") and not isinstance(value, (str, bytes)):
            return value.render(row=row)
        if isinstance(value, dict):
            return {k: self._render(v, row) for k, v in value.items()}
        if isinstance(value, list):
            return [self._render(v, row) for v in value]
        return value


class RowRenderer:
    """
    Build the direct-send request of each row for one template.

    :param template: the template every row is sent with (fetched once by the caller).
    :param channel_integration_id: the WhatsApp channel to send from.
    :param number_column: column holding the phone number; default the first of ``phone``, ``to_number``
        present in the row.
    :param name_column: column holding the recipient's name; default ``name`` or ``to_name``; without one the
        normalised number is used as the name.
    :param key_column: column identifying the row in results and logs; default the row's position.
    :param body: body values: a mapping ``{"1": "{{ row.name }}"}`` or a list, each string a Jinja template
        over ``row``.
    :param body_columns: shortcut for ``body``: the columns filling ``{{1}}``, ``{{2}}``... in order.
    :param header_url: header media URL (Jinja template over ``row``) for IMAGE / DOCUMENT / VIDEO templates.
    :param header_filename: header file name (Jinja template over ``row``).
    :param header_file: the row's header file instead of ``header_url`` (Jinja template over ``row``, e.g.
        ``"{{ row.invoice_path }}"``), opened with ``open_file``.
    :param open_file: turns a rendered ``header_file`` into something
        :func:`~qontak_provider.client.media.media_file` opens (a local path by default; the operator
        passes one that also knows ``s3://`` and other object-storage URLs).
    :param buttons: dynamic button values, as for ``build_direct_send`` (strings are Jinja templates).
    :param row_params: a callable ``row -> dict`` returning any of ``to_number``, ``to_name``, ``body``,
        ``header_url``, ``header_filename``, ``header_file``, ``buttons``; its values win over the options
        above.
    :param default_region: region for numbers written without a country code.
    :param language: language code sent with every row; default the template's own.
    """

    def __init__(
        self,
        template: Template,
        *,
        channel_integration_id: str,
        number_column: str | None = None,
        name_column: str | None = None,
        key_column: str | None = None,
        body: Mapping[Any, Any] | Sequence[Any] | None = None,
        body_columns: Sequence[str] | None = None,
        header_url: str | None = None,
        header_filename: str | None = None,
        header_file: str | None = None,
        open_file: Callable[[str], Any] | None = None,
        buttons: Mapping[Any, Any] | Sequence[Any] | None = None,
        row_params: RowCallable | None = None,
        default_region: str = "ID",
        language: str | None = None,
    ) -> None:
        if body is not None and body_columns is not None:
            raise ValueError("pass either body or body_columns, not both")
        from jinja2 import StrictUndefined
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        # Autoescape off: these are message texts, not HTML. StrictUndefined: a misspelt column is an error
        # for that row, not an empty placeholder sent to a customer.
        env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self.template = template
        self.channel_integration_id = channel_integration_id
        self.number_column = number_column
        self.name_column = name_column
        self.key_column = key_column
        self.body_columns = list(body_columns) if body_columns is not None else None
        self.row_params = row_params
        self.default_region = default_region
        self.language = language
        self._body = _Compiled(body, env) if body is not None else None
        self._header_url = _Compiled(header_url, env) if header_url is not None else None
        self._header_filename = _Compiled(header_filename, env) if header_filename is not None else None
        self._header_file = _Compiled(header_file, env) if header_file is not None else None
        self.open_file = open_file
        self._buttons = _Compiled(buttons, env) if buttons is not None else None

    def key_of(self, index: int, row: Mapping[str, Any]) -> str:
        """The row's key for results and logs: the ``key_column`` value (first 64 characters), else the
        position."""
        if self.key_column is not None and isinstance(row, Mapping):
            value = row.get(self.key_column)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "":
                return printable(str(value))[:64]
        return str(index)

    def masked_number_of(self, row: Mapping[str, Any]) -> str | None:
        """The row's number column, masked (also for a row that cannot be sent); ``None`` when empty."""
        try:
            number = self._pick(row, self.number_column, DEFAULT_NUMBER_COLUMNS)
        except Exception:  # a row that is not even a mapping: nothing to show
            return None
        return None if number in (None, "") else mask_phone(number if isinstance(number, (str, int)) else "")

    def _pick(self, row: Mapping[str, Any], explicit: str | None, defaults: Sequence[str]) -> Any:
        if explicit is not None:
            return row.get(explicit)
        for column in defaults:
            if row.get(column) not in (None, ""):
                return row[column]
        return None

    def prepare(self, index: int, row: Mapping[str, Any]) -> PreparedRow:
        """
        Render and validate ``row``.

        :raises QontakPayloadError: the row cannot be sent (the message names the field); nothing was sent.
        """
        from jinja2 import TemplateError

        if not isinstance(row, Mapping):
            raise QontakPayloadError("row", "a mapping of column names to values", f"<{type(row).__name__}>")
        try:
            params = self._params(row)
        except TemplateError as err:
            raise QontakPayloadError(
                "row", "values for every template placeholder", None, hint=str(err)
            ) from err
        number = params.get("to_number")
        if number in (None, ""):
            column = self.number_column or " or ".join(DEFAULT_NUMBER_COLUMNS)
            raise QontakPayloadError("to_number", f"a phone number in column {column}", None)
        from qontak_provider.client.phone import normalize_phone

        normalized = normalize_phone(number, self.default_region)
        name = params.get("to_name")
        name = normalized if name in (None, "") else str(name)
        media = self._media(params) if params.get("header_file") not in (None, "") else None
        request = build_direct_send(
            self.template,
            to_number=normalized,
            to_name=name,
            channel_integration_id=self.channel_integration_id,
            language=self.language,
            body=params.get("body"),
            header_url=params.get("header_url"),
            header_filename=params.get("header_filename"),
            buttons=params.get("buttons"),
            default_region=self.default_region,
        )
        if media is not None:
            check_header(self.template, media)
        return PreparedRow(index, self.key_of(index, row), request, mask_phone(normalized), media)

    def _media(self, params: dict[str, Any]) -> MediaFile:
        """Open the row's ``header_file`` and put its stand-in URL and file name into ``params``."""
        source = params["header_file"]
        if params.get("header_url") not in (None, ""):
            raise QontakPayloadError(
                "header_file", "nothing when header_url is given: the header is one file or one URL", source
            )
        if isinstance(source, str) and self.open_file is not None:
            source = self.open_file(source)
        name = params.get("header_filename")
        media = media_file(
            source, filename=str(name) if name not in (None, "") else None, argument="header_file"
        )
        params["header_url"], params["header_filename"] = media.placeholder_url(), media.filename
        return media

    def _params(self, row: Mapping[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "to_number": self._pick(row, self.number_column, DEFAULT_NUMBER_COLUMNS),
            "to_name": self._pick(row, self.name_column, DEFAULT_NAME_COLUMNS),
        }
        if self.body_columns is not None:
            missing = [c for c in self.body_columns if c not in row]
            if missing:
                raise QontakPayloadError(
                    "parameters.body", f"columns {self.body_columns}", f"missing {missing}"
                )
            params["body"] = [row[c] for c in self.body_columns]
        elif self._body is not None:
            params["body"] = self._body.render(row)
        if self._header_url is not None:
            params["header_url"] = self._header_url.render(row)
        if self._header_filename is not None:
            params["header_filename"] = self._header_filename.render(row)
        if self._header_file is not None:
            params["header_file"] = self._header_file.render(row)
        if self._buttons is not None:
            params["buttons"] = self._buttons.render(row)
        if self.row_params is not None:
            extra = self.row_params(row)
            if not isinstance(extra, Mapping):
                raise QontakPayloadError("row_params", "a dict of send parameters", type(extra).__name__)
            unknown = set(extra) - _CALLABLE_KEYS
            if unknown:
                raise QontakPayloadError(
                    "row_params", f"keys among {sorted(_CALLABLE_KEYS)}", sorted(unknown)
                )
            params.update(extra)
        return params
