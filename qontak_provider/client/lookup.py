"""Choosing among what Qontak listed: templates by name, language, status and category; channels.

Filters the server may ignore are applied again here, on our side, so that every result is what was asked
whatever the server did with the query (pure functions over the parsed models; no I/O).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from qontak_provider.client.errors import QontakNotFoundError, QontakPayloadError
from qontak_provider.client.models import ChannelIntegration, Template

T = TypeVar("T", bound=Template)


def _fold(text: str | None) -> str:
    return (text or "").strip().casefold()


def _as_list(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def select_templates(
    templates: Iterable[T],
    *,
    name: str | None = None,
    language: str | None = None,
    status: str | None = None,
    category: str | Sequence[str] | None = None,
) -> list[T]:
    """
    Keep the templates with exactly this name and language (case-insensitive), this status, and one of
    these categories; ``None`` means any.
    """
    categories = {_fold(c) for c in _as_list(category) or ()}
    return [
        t
        for t in templates
        if (name is None or _fold(t.name) == _fold(name))
        and (language is None or _fold(t.language) == _fold(language))
        and (status is None or _fold(t.status) == _fold(status))
        and (not categories or _fold(t.category) in categories)
    ]


def _approved_first(templates: list[T]) -> list[T]:
    approved = [t for t in templates if _fold(t.status) == "approved"]
    return approved or templates


def pick_template(templates: Sequence[T], name: str, language: str | None) -> T:
    """
    Choose the one template called ``name`` that a send should use.

    An ``APPROVED`` copy wins over others of the same name (deleted or rejected copies are common). The
    ``language`` picks among translations; when the name exists in one language only, that template is
    returned even if ``language`` differs from it (the caller sends the code as given and warns: Mekari's
    own OTP example sends ``id`` to an ``en_US`` template). Among several languages, none of them
    ``language``, the caller must choose.

    :raises QontakNotFoundError: no template has that name.
    :raises QontakPayloadError: the name exists in several languages (none given, or none the given one),
        or several templates share name and language.
    """
    named = select_templates(templates, name=name)
    if not named:
        raise QontakNotFoundError(
            f"No WhatsApp template named {name!r}. Check the name in Qontak (Settings > WhatsApp templates).",
            status_code=None,
        )
    exact = select_templates(named, language=language) if language is not None else []
    candidates = _approved_first(exact or named)
    languages = sorted({t.language or "?" for t in candidates})
    if len(languages) > 1:
        given = f" ({language!r} is none of them)" if language is not None else ""
        raise QontakPayloadError(
            "language",
            f"one of {languages}: template {name!r} exists in several languages{given}",
            language,
            hint="Pass the language of the template to use.",
        )
    if len(candidates) == 1:
        return candidates[0]
    ids = ", ".join(t.id for t in candidates)
    raise QontakPayloadError(
        "message_template_id",
        f"a unique template; {name!r} matches several ({ids})",
        hint="Pass the template id instead of its name.",
    )


def select_channels(
    channels: Iterable[ChannelIntegration], *, target_channel: str | None, include_inactive: bool
) -> list[ChannelIntegration]:
    """Keep the integrations of kind ``target_channel`` (any when ``None``), active ones unless asked."""
    return [
        c
        for c in channels
        if (target_channel is None or _fold(c.target_channel) == _fold(target_channel))
        and (include_inactive or c.is_active)
    ]
