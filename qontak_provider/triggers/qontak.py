"""Trigger that waits, in the triggerer, until Qontak broadcasts are delivered or read."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from qontak_provider.client.tracking import (
    DeliveryTracker,
    TrackingOptions,
    drive_async,
    poll_backoff,
    poll_steps,
)
from qontak_provider.defaults import DEFAULT_CONN_ID

if TYPE_CHECKING:
    from qontak_provider.client.aio import AsyncQontakClient

#: Consecutive failed polls (429, 5xx, network) after which the trigger gives up with an error event.
DEFAULT_MAX_POLL_FAILURES = 8


class QontakBroadcastTrigger(BaseTrigger):
    """
    Poll Qontak until the given broadcasts reach the target status, one of them fails, or time runs out.

    It uses the asynchronous client (httpx) with the same HMAC signing, retry and rate-limit policy as the
    synchronous one; every request is signed afresh. Failed polls (429, 5xx, network errors left after the
    client's own retries) are retried after a capped exponential backoff that honours ``rate_limit_reset``.
    The trigger keeps no state between runs: a second copy, or a restart, starts over and reaches the same
    result. It yields exactly one event and returns:

    * ``{"status": "success", "summary": {...}, "summary_line": "..."}``;
    * ``{"status": "failed", "message": "<WhatsApp error texts, masked numbers>", "summary": {...}}``;
    * ``{"status": "timeout", "message": "... still unread: <ids>", "summary": {...}}``;
    * ``{"status": "error", "message": "..."}`` for API errors that polling cannot fix (e.g. HTTP 401).

    :param broadcast_ids: the broadcast ids to follow.
    :param qontak_conn_id: the Qontak connection.
    :param target_status: ``"delivered"`` (read counts too) or ``"read"``.
    :param max_failed_ratio: share of failed messages tolerated (0.0 to 1.0).
    :param poke_interval: seconds between polls.
    :param end_time: unix time after which the trigger reports a timeout; ``None`` waits indefinitely.
    :param detail_threshold: with at most this many unsettled broadcasts, read details instead of the list.
    :param max_log_requests: most logs read at the end for status times.
    :param max_poll_failures: consecutive failed polls tolerated before an error event.
    :param min_backoff: shortest wait after a failed poll, in seconds.
    :param use_list: read the broadcast list at all (the sensor passes ``False`` once it proved
        unavailable to these credentials).
    """

    def __init__(
        self,
        *,
        broadcast_ids: list[str],
        qontak_conn_id: str = DEFAULT_CONN_ID,
        target_status: str = "delivered",
        max_failed_ratio: float = 0.0,
        poke_interval: float = 30.0,
        end_time: float | None = None,
        detail_threshold: int = 3,
        max_log_requests: int = 25,
        max_poll_failures: int = DEFAULT_MAX_POLL_FAILURES,
        min_backoff: float = 1.0,
        use_list: bool = True,
    ) -> None:
        super().__init__()
        self.broadcast_ids = [str(b) for b in broadcast_ids]
        self.qontak_conn_id = qontak_conn_id
        self.target_status = target_status
        self.max_failed_ratio = float(max_failed_ratio)
        self.poke_interval = float(poke_interval)
        self.end_time = float(end_time) if end_time is not None else None
        self.detail_threshold = int(detail_threshold)
        self.max_log_requests = int(max_log_requests)
        self.max_poll_failures = int(max_poll_failures)
        self.min_backoff = float(min_backoff)
        self.use_list = bool(use_list)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the class path and the JSON-able keyword arguments that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "broadcast_ids": list(self.broadcast_ids),
                "qontak_conn_id": self.qontak_conn_id,
                "target_status": self.target_status,
                "max_failed_ratio": self.max_failed_ratio,
                "poke_interval": self.poke_interval,
                "end_time": self.end_time,
                "detail_threshold": self.detail_threshold,
                "max_log_requests": self.max_log_requests,
                "max_poll_failures": self.max_poll_failures,
                "min_backoff": self.min_backoff,
                "use_list": self.use_list,
            },
        )

    def _tracker(self) -> DeliveryTracker:
        return DeliveryTracker(
            self.broadcast_ids,
            target_status=self.target_status,
            max_failed_ratio=self.max_failed_ratio,
            options=TrackingOptions(
                detail_threshold=self.detail_threshold,
                max_log_requests=self.max_log_requests,
                use_list=self.use_list,
            ),
        )

    def _remaining(self) -> float:
        return float("inf") if self.end_time is None else self.end_time - time.time()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until there is one result, then yield it as the only event."""
        from qontak_provider.hooks.qontak import QontakHook

        client: AsyncQontakClient | None = None
        try:
            tracker = self._tracker()
            client = await QontakHook(qontak_conn_id=self.qontak_conn_id).get_async_client()
            payload = await self._poll_until_done(tracker, client)
        except asyncio.CancelledError:
            # The triggerer cancels on shutdown, reassignment or when the task is killed: stop quietly and
            # let the cancellation through (the finally block closes the connection pool).
            self.log.info("Qontak broadcast trigger cancelled; %d broadcast(s)", len(self.broadcast_ids))
            raise
        except Exception as err:  # a bad connection or an API error polling cannot fix
            payload = {"status": "error", "message": f"{type(err).__name__}: {err}{_hint(err)}"}
        finally:
            if client is not None:
                await client.aclose()
        # Yielded after the client is closed, so nothing is left open whatever the consumer does next.
        yield TriggerEvent(payload)

    async def _poll_until_done(self, tracker: DeliveryTracker, client: AsyncQontakClient) -> dict[str, Any]:
        from qontak_provider.client.errors import (
            QontakRateLimitError,
            QontakServerError,
            QontakTransportError,
        )

        failures = 0
        while True:
            try:
                await drive_async(poll_steps(tracker), client)
            except (QontakRateLimitError, QontakServerError, QontakTransportError) as err:
                self._log_notices(tracker)
                failures += 1
                if failures > self.max_poll_failures:
                    return {
                        "status": "error",
                        "message": f"Polling Qontak failed {failures} times in a row; last error: {err}",
                        "summary": tracker.summary("pending"),
                    }
                delay = poll_backoff(
                    failures,
                    self.poke_interval,
                    reset_after=getattr(err, "reset_after", None),
                    floor=self.min_backoff,
                )
                if delay >= self._remaining():
                    return self._timeout(tracker)
                self.log.warning(
                    "Polling Qontak failed (%s); poll %d failed in a row, next try in %.1f s",
                    type(err).__name__,
                    failures,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            failures = 0
            self._log_notices(tracker)
            outcome = tracker.outcome()
            if outcome == "success":
                return {
                    "status": "success",
                    "summary": tracker.summary("success"),
                    "summary_line": tracker.summary_line(),
                }
            if outcome == "failed":
                return {
                    "status": "failed",
                    "message": tracker.failure_message(),
                    "summary": tracker.summary("failed"),
                    "summary_line": tracker.summary_line(),
                }
            remaining = self._remaining()
            if remaining <= 0:
                return self._timeout(tracker)
            self.log.info("%s; %s", tracker.summary_line(), tracker.still_waiting_message())
            await asyncio.sleep(max(0.0, min(self.poke_interval, remaining)))

    def _log_notices(self, tracker: DeliveryTracker) -> None:
        for notice in tracker.take_notices():
            self.log.warning("%s", notice)

    def _timeout(self, tracker: DeliveryTracker) -> dict[str, Any]:
        return {
            "status": "timeout",
            "message": (
                f"Timed out waiting for {len(tracker.ids)} broadcast(s) to be {tracker.target}; "
                f"{tracker.still_waiting_message()} ({tracker.summary_line()})"
            ),
            "summary": tracker.summary("timeout"),
            "summary_line": tracker.summary_line(),
        }


def _hint(err: Exception) -> str:
    """What to do about an error the trigger cannot fix by polling, where we know more than the error."""
    from qontak_provider._compat import AirflowNotFoundException

    if isinstance(err, AirflowNotFoundException):
        return (
            ". The trigger could not read the connection. Under `airflow dags test`, Airflow 3.3.2 cannot "
            "hand a connection stored in the metadata database (UI, `airflow connections add`) to the "
            "in-process trigger: export it as AIRFLOW_CONN_<CONN_ID> (or use a secrets backend), or run the "
            "sensor with deferrable=False. A real triggerer needs the connection in a place it can read too."
        )
    return ""
