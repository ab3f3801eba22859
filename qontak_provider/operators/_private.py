"""Private template fields: what Airflow stores and shows of them after rendering is a masked copy.

Airflow keeps every rendered template field of a task instance (the UI's *Rendered Template* view, the REST
API) and never shows it to the worker's secrets masker unless the value was registered as a secret in the
task's process. Recipients' phone numbers and OTP codes have no place there. An operator using
:class:`PrivateTemplateFields` lists its private fields; right after Airflow rendered them (mapped or not),
each is replaced by the copy :meth:`~PrivateTemplateFields.shown_value` returns, the real value is kept on
the instance for ``execute`` (:meth:`~PrivateTemplateFields.real`), and Airflow serialises the copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from qontak_provider.client.phone import mask_phone

HIDDEN = "***"


def mask_secret_values(value: Any) -> None:
    """Register every text leaf of ``value`` with Airflow's secrets masker (logs then show ``***``)."""
    from airflow.sdk.log import mask_secret

    for leaf in _leaves(value):
        if isinstance(leaf, (str, int)) and not isinstance(leaf, bool) and str(leaf):
            mask_secret(str(leaf))


def _leaves(value: Any) -> Iterable[Any]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


#: Keys of the API's own ``{key, value_text, value}`` / ``{index, type, value}`` dicts that say where a value
#: goes, not what it is: kept, so a hidden body still shows its shape.
_STRUCTURE_KEYS = frozenset({"key", "index", "type"})


def hidden_values(value: Any) -> Any:
    """``value`` with every leaf replaced by ``***`` (mapping keys, list lengths and the API's keys kept)."""
    if isinstance(value, Mapping):
        return {key: item if key in _STRUCTURE_KEYS else hidden_values(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [hidden_values(item) for item in value]
    return None if value is None else HIDDEN


def masked_number(value: Any) -> Any:
    """A phone number as logs show it (``62812*****890``); ``None`` stays ``None``."""
    return None if value is None else mask_phone(value)


class PrivateTemplateFields:
    """
    Operator mixin: hide private template fields from what Airflow stores after rendering.

    Subclasses set :attr:`private_template_fields` and implement :meth:`shown_value`.
    """

    private_template_fields: tuple[str, ...] = ()

    def shown_value(self, field: str, value: Any) -> Any:
        """What Airflow may store and show of ``field``; returning ``value`` itself keeps it as it is."""
        return value

    def _do_render_template_fields(
        self, parent: Any, template_fields: Iterable[str], context: Any, jinja_env: Any, seen_oids: set[int]
    ) -> None:
        # The one hook both paths share: BaseOperator.render_template_fields and, for a mapped task instance,
        # MappedOperator.render_template_fields on the unmapped operator.
        super()._do_render_template_fields(  # type: ignore[misc]
            parent, template_fields, context, jinja_env, seen_oids
        )
        if parent is self:
            self._hide_private_fields()

    def _hide_private_fields(self) -> None:
        real: dict[str, Any] = {}
        for field in self.private_template_fields:
            value = getattr(self, field)
            shown = self.shown_value(field, value)
            if shown is not value:
                real[field] = value
                setattr(self, field, shown)
        self.__dict__["_private_values"] = real

    def real(self, field: str) -> Any:
        """The rendered value of ``field`` (the attribute itself when it was not hidden)."""
        private: dict[str, Any] = self.__dict__.get("_private_values", {})
        return private[field] if field in private else getattr(self, field)
