"""The send ledger: what one send leaves behind, what a failed send means, and how a send in doubt ends.

No Airflow here. The direct-send operator gives the ledger Airflow's ``task_state_store`` (any object with
``get``, ``set`` and ``delete``) and turns its errors into Airflow's; the notifier and the bulk engine use
:func:`fate_of` to read a failed send the same way.

The record rules:

* Just before the request leaves, ``{"state": "attempting", ...}`` is stored under :data:`SEND_STATE_KEY`;
  once Qontak answers with a broadcast, ``{"state": "sent", "broadcast_id": ...}``. A send Qontak refused,
  or that provably never reached it, deletes the record: nothing was sent, nothing is in doubt.
* A retry of the same task instance that finds ``sent`` returns that broadcast and sends nothing.
* A retry that finds ``attempting`` (a killed worker, or a send whose answer was lost), or a send that
  fails in doubt now, follows the policy: ``fail`` sends nothing more; ``resend`` sends again (it may arrive
  twice); ``reconcile`` looks for the message in Qontak's broadcast list
  (:class:`~qontak_provider.ledger.reconcile.BroadcastFinder`) and adopts a broadcast proven to be it.

No record holds the full phone number (the store is visible in Airflow's UI and REST API): the number is
masked, and the fingerprint (SHA-256 of the whole wire payload) proves that a retry would send the same
message. See ``docs/explanation/retry_safety.rst``.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from qontak_provider.client.errors import (
    QontakAuthenticationError,
    QontakError,
    QontakNotFoundError,
    QontakPayloadError,
    QontakRateLimitError,
    QontakSendInDoubtError,
    QontakTransportError,
    QontakValidationError,
)
from qontak_provider.client.phone import mask_phone
from qontak_provider.client.timestamps import parse_timestamp, utcnow
from qontak_provider.ledger.reconcile import BroadcastFinder, ReconcileUnavailable

if TYPE_CHECKING:
    from qontak_provider.client.models import Broadcast, DirectSendRequest

__all__ = [
    "IN_DOUBT_POLICIES",
    "SEND_STATE_KEY",
    "Fate",
    "InDoubtUnresolved",
    "LedgerResult",
    "SendLedger",
    "SendRefused",
    "StateStore",
    "attempt_record",
    "fate_of",
    "payload_fingerprint",
    "sent_record",
]

#: Key of the send record in ``context["task_state_store"]``. Renaming it would break in-flight retries.
SEND_STATE_KEY = "qontak_send"

#: What ``on_send_in_doubt`` may say (see the module docstring).
IN_DOUBT_POLICIES: tuple[str, ...] = ("fail", "reconcile", "resend")


class Fate(enum.Enum):
    """What a failed send means for the message."""

    #: Qontak refused it, or it could never be valid: not sent, and sending it again would fail again.
    REFUSED = "refused"
    #: It provably did not reach Qontak (or was rejected before processing): sending it again is safe.
    NOT_SENT = "not_sent"
    #: It may have reached Qontak: sending it again may deliver it twice.
    IN_DOUBT = "in_doubt"


def fate_of(err: BaseException, *, handed_over: bool = True) -> Fate:
    """
    What ``err``, raised by a send, means for the message.

    :param handed_over: whether the request may have been written to the network. Before that, every error
        means not sent (except a request that could never be valid: refused).
    """
    if isinstance(err, QontakPayloadError):
        return Fate.REFUSED
    if not handed_over or isinstance(err, QontakAuthenticationError):
        return Fate.NOT_SENT
    if isinstance(err, QontakSendInDoubtError):
        return Fate.IN_DOUBT
    if isinstance(err, (QontakRateLimitError, QontakTransportError)):
        return Fate.NOT_SENT  # answered 429, or the connection never carried the request
    if isinstance(err, (QontakValidationError, QontakNotFoundError)):
        return Fate.REFUSED
    # An answer we cannot read, or anything unexpected after the request may have left.
    return Fate.IN_DOUBT


def payload_fingerprint(wire: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a request body: equal for every try that would send the same."""
    canonical = json.dumps(wire, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def attempt_record(request: DirectSendRequest, fingerprint: str, started_at: datetime) -> dict[str, Any]:
    """The record written just before the send request leaves."""
    return {
        "state": "attempting",
        "to": mask_phone(request.to_number),
        "template_id": request.message_template_id,
        "channel_integration_id": request.channel_integration_id,
        "fingerprint": fingerprint,
        "started_at": started_at.isoformat(),
    }


def sent_record(attempt: Mapping[str, Any], broadcast: Broadcast, *, how: str = "sent") -> dict[str, Any]:
    """The record written once the broadcast id is known (``how`` is ``sent`` or ``reconciled``)."""
    return {
        **attempt,
        "state": "sent",
        "broadcast_id": broadcast.id,
        "created_at": broadcast.created_at,
        "recorded_by": how,
        "recorded_at": utcnow().isoformat(),
    }


class StateStore(Protocol):
    """What the ledger needs of Airflow's ``task_state_store``."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...


class SendRefused(Exception):
    """Qontak refused the send (or it could never be valid); nothing was sent. Not worth a retry."""


class InDoubtUnresolved(Exception):
    """
    A send may or may not have reached Qontak, and the policy did not resolve it; nothing was sent again.

    :param final: ``True`` when a retry cannot change it (policy ``fail``, nothing to reconcile against, or
        ambiguous); ``False`` when reconcile found no proof *yet* (the list can lag), so a retry may.
    """

    def __init__(self, message: str, *, final: bool) -> None:
        super().__init__(message)
        self.final = final


@dataclass(frozen=True)
class LedgerResult:
    """
    How a send ended.

    :param broadcast: the broadcast that carries the message.
    :param reused: an earlier try had sent it (or reconcile proved it); nothing was sent now.
    """

    broadcast: Broadcast
    reused: bool = False


Log = Callable[[str], None]


class SendLedger:
    """
    Send one message at most once across retries that share ``store``.

    :param store: the task instance's durable store; ``None`` keeps no record (a retry cannot know).
    :param policy: ``on_send_in_doubt``, one of :data:`IN_DOUBT_POLICIES`.
    :param finder: builds the reconciler for attempts since a time (used by policy ``reconcile``).
    :param info: logs a line at INFO; ``warn`` at WARNING.
    """

    def __init__(
        self,
        store: StateStore | None,
        *,
        policy: str,
        finder: Callable[[datetime], BroadcastFinder],
        info: Log,
        warn: Log,
    ) -> None:
        if policy not in IN_DOUBT_POLICIES:
            raise ValueError(
                f"on_send_in_doubt: expected one of {', '.join(IN_DOUBT_POLICIES)}, got {policy!r}."
            )
        self.store = store
        self.policy = policy
        self._finder = finder
        self._info = info
        self._warn = warn

    def already_sent(self) -> bool:
        """Whether an earlier try recorded a broadcast (then :meth:`send` returns it and sends nothing)."""
        record = self.store.get(SEND_STATE_KEY) if self.store is not None else None
        return (
            isinstance(record, Mapping) and record.get("state") == "sent" and bool(record.get("broadcast_id"))
        )

    def send(
        self,
        request: DirectSendRequest,
        fingerprint: str,
        *,
        deliver: Callable[[], Broadcast],
        fetch: Callable[[str], Broadcast],
    ) -> LedgerResult:
        """
        Send ``request`` unless an earlier try did; resolve a send in doubt by the policy.

        :param deliver: sends the request once (the client's own retries included).
        :param fetch: reads a recorded broadcast by id.
        :raises SendRefused: Qontak refused it; nothing was sent.
        :raises InDoubtUnresolved: it may have been sent and the policy did not resolve it.
        :raises QontakError: it was provably not sent (a rate limit, a connect failure): a retry may send.
        """
        record = self.store.get(SEND_STATE_KEY) if self.store is not None else None
        if self.already_sent() and isinstance(record, Mapping):
            return self._reuse(record, fingerprint, fetch)
        if isinstance(record, Mapping) and record.get("state") == "attempting":
            adopted = self._resolve(record, request, fingerprint, self.policy, cause=None)
            if adopted is not None:
                return adopted
        return self._attempt(request, fingerprint, deliver, self.policy)

    def _attempt(
        self, request: DirectSendRequest, fingerprint: str, deliver: Callable[[], Broadcast], policy: str
    ) -> LedgerResult:
        attempt = attempt_record(request, fingerprint, utcnow())
        if self.store is not None:
            # Written before the request leaves: a crash from here on leaves a trace the retry can see.
            self.store.set(SEND_STATE_KEY, attempt)
        try:
            broadcast = deliver()
        except QontakError as err:
            # Anything else (a bug, the task being killed) leaves the "attempting" record for the retry.
            fate = fate_of(err)
            if fate is Fate.IN_DOUBT:
                # The "attempting" record stays, so a later retry knows as well.
                self._warn(f"The send to {attempt['to']} is in doubt: {err}")
                adopted = self._resolve(attempt, request, fingerprint, policy, cause=err)
                if adopted is not None:
                    return adopted
                return self._attempt(request, fingerprint, deliver, "fail")  # explicit "resend" only
            if self.store is not None:
                self.store.delete(SEND_STATE_KEY)
            if fate is Fate.REFUSED:
                raise SendRefused(f"Qontak refused the send, nothing was sent: {err}") from err
            raise
        if self.store is not None:
            self.store.set(SEND_STATE_KEY, sent_record(attempt, broadcast))
        return LedgerResult(broadcast)

    def _reuse(
        self, record: Mapping[str, Any], fingerprint: str, fetch: Callable[[str], Broadcast]
    ) -> LedgerResult:
        broadcast_id = str(record["broadcast_id"])
        if record.get("fingerprint") != fingerprint:
            self._warn(
                f"The arguments rendered differently from the try that sent broadcast {broadcast_id}; it is "
                "NOT sent again. Returning the broadcast that was sent."
            )
        self._info(
            f"An earlier try of this task instance already sent broadcast {broadcast_id} to "
            f"{record.get('to')}; not sending again."
        )
        try:
            broadcast = fetch(broadcast_id)
        except QontakNotFoundError as err:
            raise InDoubtUnresolved(
                f"An earlier try recorded broadcast {broadcast_id}, but Qontak does not find it: {err} "
                f"It is not sent again; delete the task state key {SEND_STATE_KEY!r} to send deliberately.",
                final=True,
            ) from err
        return LedgerResult(broadcast, reused=True)

    def _resolve(
        self,
        record: Mapping[str, Any],
        request: DirectSendRequest,
        fingerprint: str,
        policy: str,
        *,
        cause: Exception | None,
    ) -> LedgerResult | None:
        """The broadcast proven to be the attempted send, or ``None`` when the caller should send again."""
        doubt, how_to_check = _doubt_texts(record, cause)
        if policy == "resend":
            self._warn(f"{doubt} on_send_in_doubt='resend': sending again; it may arrive twice.")
            return None
        if policy == "fail":
            raise InDoubtUnresolved(
                doubt + " It was NOT sent again (on_send_in_doubt='fail')." + how_to_check, final=True
            )
        if record.get("fingerprint") != fingerprint:
            raise InDoubtUnresolved(
                doubt + " The arguments now render to a different message, so the broadcast list cannot "
                "prove what was sent; nothing was sent again." + how_to_check,
                final=True,
            )
        started_at = parse_timestamp(record.get("started_at"))
        if started_at is None:
            raise InDoubtUnresolved(
                doubt + " The attempt has no usable start time." + how_to_check, final=True
            )
        try:
            result = self._finder(started_at).find(request)
        except ReconcileUnavailable as err:
            raise InDoubtUnresolved(
                f"{doubt} Cannot reconcile: {err}. Nothing was sent again." + how_to_check, final=True
            ) from err
        if len(result.proven) == 1:
            broadcast = result.proven[0]
            self._info(f"Reconciled: broadcast {broadcast.id} is the in-doubt send; not sending again.")
            if self.store is not None:
                self.store.set(SEND_STATE_KEY, sent_record(record, broadcast, how="reconciled"))
            return LedgerResult(broadcast, reused=True)
        if result.proven:
            ids = ", ".join(b.id for b in result.proven)
            raise InDoubtUnresolved(
                doubt
                + f" Several broadcasts match it ({ids}); not choosing one, nothing sent again."
                + how_to_check,
                final=True,
            )
        unproven = ""
        if result.unproven:
            candidates = ", ".join(b.id for b in result.unproven)
            unproven = f" Candidates whose log does not show the number yet: {candidates}."
        raise InDoubtUnresolved(
            doubt
            + f" Reconcile scanned {result.scanned} broadcast(s) and found none proven to be it."
            + unproven
            + " Absence in the list is not proof (it can lag), so nothing was sent again; a retry reconciles "
            "again." + how_to_check,
            final=False,
        )


def _doubt_texts(record: Mapping[str, Any], cause: Exception | None) -> tuple[str, str]:
    """What is in doubt, and how to check it and send deliberately: the two halves of every doubt message."""
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
    return doubt, how_to_check
