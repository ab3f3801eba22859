"""Pydantic models of what goes over the wire.

Tolerant reader, strict writer: response models keep unknown fields (``extra="allow"``) and default what the
sources show as optional, so a new field on the server never breaks a DAG; the request model writes exactly
the documented direct-send body.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

#: Path prefix of every Qontak Chat endpoint on the Mekari gateway.
API_PREFIX = "/qontak/chat/v1"

_PLACEHOLDER_RE = re.compile(r"\{\{\s*(\d+)\s*\}\}")


class _Wire(BaseModel):
    """Base of response models: keeps unknown fields, ignores nothing."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class BroadcastStatus(str, Enum):
    """Delivery status of one message, as in broadcast logs and ``message_status_count``."""

    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        """Position on the ladder pending < sent < delivered < read; failed ranks lowest."""
        return _STATUS_RANK[self]

    @classmethod
    def parse(cls, value: str | None) -> BroadcastStatus:
        """Map a log status to the enum; an empty or unknown status counts as pending (the log fills late)."""
        try:
            return cls((value or "pending").lower())
        except ValueError:
            return cls.PENDING


_STATUS_RANK = {
    BroadcastStatus.FAILED: -1,
    BroadcastStatus.PENDING: 0,
    BroadcastStatus.SENT: 1,
    BroadcastStatus.DELIVERED: 2,
    BroadcastStatus.READ: 3,
}


class TemplateStatus(str, Enum):
    """Review status of a WhatsApp template."""

    APPROVED = "APPROVED"
    IN_APPEAL = "IN_APPEAL"
    PENDING = "PENDING"
    REJECTED = "REJECTED"
    PENDING_DELETION = "PENDING_DELETION"
    DELETED = "DELETED"
    DISABLED = "DISABLED"


class HeaderFormat(str, Enum):
    """Header formats a direct send can fill (text headers carry no parameters)."""

    IMAGE = "IMAGE"
    DOCUMENT = "DOCUMENT"
    VIDEO = "VIDEO"


# --------------------------------------------------------------------------------------------------- reads


class CursorInfo(_Wire):
    next: Any = None
    prev: Any = None


class Pagination(_Wire):
    """``meta.pagination`` of list responses; ``offset`` is 1-based on the first page."""

    offset: int | None = None
    limit: int | None = None
    total: int | None = None
    cursor: CursorInfo | None = None


class ChannelIntegration(_Wire):
    """A channel integration (``GET /integrations``); WhatsApp ones have ``target_channel`` wa or wa_cloud."""

    id: str
    target_channel: str | None = None
    webhook: str | None = None
    settings: dict[str, Any] | None = None
    organization_id: str | None = None
    created_at: str | None = None
    is_active: bool = True


class TemplateHeader(_Wire):
    format: str | None = None
    example: Any = None
    text: str | None = None


class TemplateButton(_Wire):
    type: str | None = None
    text: str | None = None
    url: str | None = None
    example: Any = None
    phone_number: str | None = None


class Template(_Wire):
    """A WhatsApp message template (``GET /templates/whatsapp``)."""

    id: str
    name: str
    language: str | None = None
    header: TemplateHeader | None = None
    body: str | None = None
    footer: str | None = None
    buttons: list[TemplateButton] = Field(default_factory=list)
    status: str | None = None
    category: str | None = None
    organization_id: str | None = None
    quality_rating: Any = None
    quality_rating_text: str | None = None

    @property
    def body_placeholders(self) -> list[str]:
        """The distinct ``{{n}}`` placeholder keys of the body, in numeric order, e.g. ``["1", "2"]``."""
        keys = {int(k) for k in _PLACEHOLDER_RE.findall(self.body or "")}
        return [str(k) for k in sorted(keys)]

    @property
    def header_format(self) -> str | None:
        """``IMAGE``, ``DOCUMENT``, ``VIDEO``, ``TEXT`` or ``None`` when the template has no header."""
        if self.header is None or not self.header.format:
            return None
        return self.header.format.upper()

    @property
    def needs_media_header(self) -> bool:
        return self.header_format in {f.value for f in HeaderFormat}

    @property
    def dynamic_button_indexes(self) -> list[str]:
        """Indexes (0-based, as strings) of buttons whose value is supplied at send time.

        URL buttons whose URL ends in a ``{{1}}`` placeholder take a suffix, and the copy-code / one-tap
        buttons of AUTHENTICATION templates take the code; static URL, phone and quick-reply buttons take
        nothing.
        """
        indexes = []
        for index, button in enumerate(self.buttons):
            kind = (button.type or "").upper()
            dynamic_url = kind == "URL" and bool(_PLACEHOLDER_RE.search(button.url or ""))
            if dynamic_url or kind in {"OTP", "COPY_CODE"}:
                indexes.append(str(index))
        return indexes


class TemplateLanguage(_Wire):
    """A language WhatsApp templates may be written in (``GET /templates/languages``)."""

    code: str
    language: str | None = None
    id: str | None = None


class ContactList(_Wire):
    """A contact list (``GET /contacts/contact_lists/{id}``), e.g. one uploaded from a spreadsheet."""

    id: str
    name: str | None = None
    organization_id: str | None = None
    source_type: str | None = None
    contacts_count: int | None = None
    contacts_count_success: int | None = None
    contacts_count_failed: int | None = None
    contact_variables: list[str] = Field(default_factory=list)
    progress: str | None = None
    created_at: str | None = None
    finished_at: str | None = None


class Contact(_Wire):
    """A contact of a contact list (``GET /contacts/contact_lists/contacts/{contact_list_id}``)."""

    id: str
    phone_number: str | None = None
    full_name: str | None = None
    email: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    channel_integration_id: str | None = None
    is_valid: bool | None = None
    is_blocked: bool | None = None
    created_at: str | None = None

    def as_row(self) -> dict[str, Any]:
        """
        The contact as a row for :class:`~qontak_provider.operators.bulk.QontakBulkSendOperator`:
        ``phone``, ``name``, ``contact_id``, ``email`` and the list's variables (``extra``) as columns.
        """
        return {
            **{str(key): value for key, value in self.extra.items()},
            "phone": self.phone_number,
            "name": self.full_name,
            "email": self.email,
            "contact_id": self.id,
        }


class UploadedFile(_Wire):
    """What Qontak's uploader (``POST /file_uploader``) answers: the public URL of the file and its name."""

    url: str
    filename: str | None = None


class MessageStatusCount(_Wire):
    """Per-broadcast message counters, kept in step with the log."""

    pending: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    failed: int = 0


class Broadcast(_Wire):
    """A broadcast (the object a direct send creates; ``data.id`` is the broadcast id)."""

    id: str
    name: str | None = None
    organization_id: str | None = None
    channel_integration_id: str | None = None
    contact_list_id: str | None = None
    contact_id: str | None = None
    target_channel: str | None = None
    parameters: dict[str, Any] | None = None
    created_at: str | None = None
    send_at: str | None = None
    execute_status: str | None = None
    execute_type: str | None = None
    message_status_count: MessageStatusCount = Field(default_factory=MessageStatusCount)
    message_template: dict[str, Any] | None = None
    message_broadcast_error: Any = None


class BroadcastLogEntry(_Wire):
    """One recipient's row of a broadcast log."""

    id: str | None = None
    organization_id: str | None = None
    messages_broadcast_id: str | None = None
    contact_phone_number: str | None = None
    contact_full_name: str | None = None
    status: str | None = None
    whatsapp_message_id: str | None = None
    whatsapp_error_message: str | None = None
    messages_response: Any = None
    messages: Any = None
    created_at: str | None = None
    is_pacing: bool | None = None
    channel_integration_id: str | None = None

    @property
    def broadcast_status(self) -> BroadcastStatus:
        return BroadcastStatus.parse(self.status)

    @property
    def error_text(self) -> str | None:
        """WhatsApp's error text, or ``None`` when the log says ``n/a``."""
        text = (self.whatsapp_error_message or "").strip()
        return None if text.lower() in {"", "n/a"} else text


# -------------------------------------------------------------------------------------------------- writes


class _Strict(BaseModel):
    """Base of request models: unknown fields are an error, so typos never reach the API."""

    model_config = ConfigDict(extra="forbid")


class Language(_Strict):
    code: str


class HeaderParam(_Strict):
    key: str
    value: str


class HeaderParameters(_Strict):
    format: HeaderFormat
    params: list[HeaderParam] = Field(default_factory=list)


class BodyParam(_Strict):
    key: str
    value_text: str
    value: str


class ButtonParam(_Strict):
    index: str
    type: str | None = None
    value: str | None = None


class SendParameters(_Strict):
    header: HeaderParameters | None = None
    body: list[BodyParam] | None = None
    buttons: list[ButtonParam] | None = None


class DirectSendRequest(_Strict):
    """Body of ``POST /broadcasts/whatsapp/direct``, exactly as documented."""

    to_name: str
    to_number: str
    message_template_id: str
    channel_integration_id: str
    language: Language
    parameters: SendParameters = Field(default_factory=SendParameters)
    #: The payload the caller wrote, when there was one: its key order is kept on the wire.
    _written: Any = PrivateAttr(default=None)

    def keep_order_of(self, written: Any) -> DirectSendRequest:
        """Remember ``written`` (the caller's payload) so :meth:`to_wire` lays keys out in its order."""
        self._written = written
        return self

    def to_wire(self) -> dict[str, Any]:
        """The JSON body: fields the caller left unset stay absent, so a seed payload round-trips verbatim.

        Fields set to ``None`` are left out as well: the API schema allows no ``null`` anywhere in this body.
        Keys follow the order of the payload the caller wrote, when there was one (we promise "verbatim").
        """
        wire = self.model_dump(mode="json", exclude_unset=True, exclude_none=True)
        wire.setdefault("parameters", {})  # required by the schema even for templates without variables
        return _ordered_like(wire, self._written) if self._written is not None else wire


def _ordered_like(value: Any, written: Any) -> Any:
    """``value`` with its dict keys in the order of ``written`` (recursively); new keys keep their place."""
    if isinstance(value, dict) and isinstance(written, dict):
        keys = [k for k in written if k in value] + [k for k in value if k not in written]
        return {k: _ordered_like(value[k], written.get(k)) for k in keys}
    if isinstance(value, list) and isinstance(written, list):
        return [_ordered_like(v, written[i] if i < len(written) else None) for i, v in enumerate(value)]
    return value
