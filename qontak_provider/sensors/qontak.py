"""Sensor that waits until Qontak WhatsApp broadcasts are delivered (or read)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from qontak_provider._compat import AirflowException, AirflowFailException, AirflowSensorTimeout, get_conf
from qontak_provider.client.tracking import (
    DeliveryTracker,
    TrackingOptions,
    drive_sync,
    poll_steps,
    validate_ratio,
)
from qontak_provider.defaults import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from airflow.sdk import Context

    from qontak_provider.hooks.qontak import QontakHook

#: Extra time the triggerer's own deadline allows beyond ``timeout``, so that the trigger's timeout event
#: (which names the unsettled broadcasts) arrives before Airflow's generic deferral timeout.
DEFERRAL_GRACE_SECONDS = 60.0


class QontakBroadcastSensor(BaseSensorOperator):
    """
    Wait until Qontak WhatsApp broadcasts reach a delivery status.

    Works in the three sensor modes: ``mode="poke"`` (holds a worker slot, sleeps between polls),
    ``mode="reschedule"`` (frees the slot between polls) and ``deferrable=True`` (polls in the triggerer with
    :class:`~qontak_provider.triggers.qontak.QontakBroadcastTrigger`). With many broadcasts it reads the
    broadcast list, which reports up to 100 broadcasts per request, and it only asks about broadcasts that
    are not settled yet (see :mod:`qontak_provider.client.tracking`).

    By default the task fails without retrying (:class:`~airflow.sdk.exceptions.AirflowFailException`) as
    soon as one message fails; the error names the broadcast, the masked number and WhatsApp's error text.
    ``max_failed_ratio`` tolerates a share of failures; ``max_failed_ratio=1.0`` never fails on delivery
    failures, so a downstream ``@task.branch`` can choose a fallback from the result. A log that is still
    empty (Qontak fills it asynchronously) counts as pending.

    The result (XCom) is a summary::

        {"outcome": "success", "target_status": "delivered",
         "counts": {"pending": 0, "sent": 0, "delivered": 1, "read": 0, "failed": 0},
         "broadcasts": {"<id>": {"status": "delivered", "settled": true,
                                 "message_counts": {...},
                                 "status_times": {"sent": "2026-...Z", "delivered": "2026-...Z",
                                                  "read": null, "failed": null},
                                 "errors": []}},
         "failed_ids": [], "unsettled_ids": [], "not_found_ids": []}

    .. code-block:: python

        wait = QontakBroadcastSensor(
            task_id="wait_delivered",
            broadcast_ids=send.output,  # {"broadcast_id": ...}, a list of them, or {"broadcast_ids": [...]}
            target_status="delivered",
            deferrable=True,
            poke_interval=10,
            timeout=600,
        )

    :param broadcast_ids: one broadcast id, a list of ids, or the XCom output of the send operators
        (``{"broadcast_id": ...}``, a list of such dicts from a mapped task, or ``{"broadcast_ids": [...]}``
        from the bulk operator). (templated)
    :param qontak_conn_id: :ref:`Qontak connection id <howto/connection:qontak>`. (templated)
    :param target_status: ``"delivered"`` (default; ``read`` counts as delivered) or ``"read"``. (templated)
    :param max_failed_ratio: share of failed messages tolerated, from ``0.0`` (default: any failure fails
        the task) to ``1.0`` (failures are only reported).
    :param deferrable: poll in the triggerer instead of a worker; default
        ``[operators] default_deferrable``.
    :param detail_threshold: with at most this many unsettled broadcasts, read each broadcast's detail
        instead of listing broadcasts.
    :param max_log_requests: most broadcast logs read at the end for status times (failed broadcasts' logs
        are always read for their error texts).
    """

    template_fields: Sequence[str] = ("broadcast_ids", "qontak_conn_id", "target_status")
    ui_color = "#25d366"

    def __init__(
        self,
        *,
        broadcast_ids: Any,
        qontak_conn_id: str = DEFAULT_CONN_ID,
        target_status: str = "delivered",
        max_failed_ratio: float = 0.0,
        deferrable: bool = get_conf().getboolean("operators", "default_deferrable", fallback=False),
        detail_threshold: int = 3,
        max_log_requests: int = 25,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.broadcast_ids = broadcast_ids
        self.qontak_conn_id = qontak_conn_id
        self.target_status = target_status
        self.max_failed_ratio = validate_ratio(max_failed_ratio)
        self.deferrable = deferrable
        self.detail_threshold = detail_threshold
        self.max_log_requests = max_log_requests
        self._tracker: DeliveryTracker | None = None

    @cached_property
    def hook(self) -> QontakHook:
        """The Qontak hook (the connection is read on first use, not here)."""
        from qontak_provider.hooks.qontak import QontakHook

        return QontakHook(qontak_conn_id=self.qontak_conn_id)

    @property
    def tracker(self) -> DeliveryTracker:
        """Delivery state of this try, built from the rendered ``broadcast_ids`` on first use."""
        if self._tracker is None:
            try:
                self._tracker = DeliveryTracker(
                    self.broadcast_ids,
                    target_status=self.target_status,
                    max_failed_ratio=self.max_failed_ratio,
                    options=TrackingOptions(
                        detail_threshold=self.detail_threshold, max_log_requests=self.max_log_requests
                    ),
                )
            except ValueError as err:
                raise AirflowFailException(str(err)) from err
        return self._tracker

    # ------------------------------------------------------------------------------------------- poking

    def poke(self, context: Context) -> PokeReturnValue | bool:
        """Poll Qontak once; return the summary when every broadcast is settled."""
        from qontak_provider.client.errors import (
            QontakError,
            QontakRateLimitError,
            QontakServerError,
            QontakTransportError,
        )

        tracker = self.tracker
        try:
            drive_sync(poll_steps(tracker), self.hook.client)
        except (QontakRateLimitError, QontakServerError, QontakTransportError) as err:
            # The client already retried with backoff; the next poke comes after poke_interval.
            self.log.warning("Polling Qontak failed, trying again at the next poke: %s", err)
            return False
        except QontakError as err:
            raise AirflowException(str(err)) from err
        finally:
            for notice in tracker.take_notices():
                self.log.warning("%s", notice)
        outcome = tracker.outcome()
        if outcome == "failed":
            self.log.error("%s", tracker.summary_line())
            raise AirflowFailException(tracker.failure_message())
        if outcome == "success":
            summary = tracker.summary()  # its outcome: success
            self._log_result(summary, tracker.summary_line())
            return PokeReturnValue(is_done=True, xcom_value=summary)
        self.log.info("%s; %s", tracker.summary_line(), tracker.still_waiting_message())
        return False

    def execute(self, context: Context) -> Any:
        """Poke (poke/reschedule mode), or poke once and defer to the trigger (deferrable mode)."""
        self._tracker = None
        if not self.deferrable:
            try:
                return super().execute(context)
            except AirflowSensorTimeout as err:  # raised after a poke: the tracker exists
                raise AirflowSensorTimeout(f"{err} {self.tracker.still_waiting_message()}") from err
        result = self.poke(context)
        if isinstance(result, PokeReturnValue) and result.is_done:
            return result.xcom_value
        from qontak_provider.triggers.qontak import QontakBroadcastTrigger

        tracker = self.tracker
        self.defer(
            trigger=QontakBroadcastTrigger(
                broadcast_ids=tracker.ids,
                qontak_conn_id=self.qontak_conn_id,
                target_status=tracker.target,
                max_failed_ratio=self.max_failed_ratio,
                poke_interval=float(self.poke_interval),
                end_time=time.time() + float(self.timeout),
                detail_threshold=self.detail_threshold,
                max_log_requests=self.max_log_requests,
                # What this poke learnt about the list holds for the trigger too (asked once per task).
                use_list=tracker.list_unavailable is None,
            ),
            method_name="execute_complete",
            timeout=timedelta(
                seconds=float(self.timeout) + float(self.poke_interval) + DEFERRAL_GRACE_SECONDS
            ),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Finish after the trigger's event: return the summary, or fail / time out with its message."""
        if not event:
            raise AirflowException("The Qontak broadcast trigger ended without an event.")
        status = event.get("status")
        if status == "success":
            summary = event.get("summary") or {}
            self._log_result(summary, event.get("summary_line", ""))
            return summary
        message = str(event.get("message") or "no details")
        if event.get("summary_line"):
            self.log.info("%s", event["summary_line"])
        if status == "failed":
            raise AirflowFailException(message)
        if status == "timeout":
            raise AirflowSensorTimeout(message)
        raise AirflowException(f"Waiting for the Qontak broadcasts failed: {message}")

    def _log_result(self, summary: dict[str, Any], line: str) -> None:
        self.log.info("Broadcasts settled: %s", line)
        for broadcast_id, info in (summary.get("broadcasts") or {}).items():
            for error in info.get("errors") or []:
                # Tolerated failures (max_failed_ratio) are reported, not hidden; numbers are masked.
                self.log.warning(
                    "Broadcast %s failed for %s: %s", broadcast_id, error.get("recipient"), error.get("error")
                )
