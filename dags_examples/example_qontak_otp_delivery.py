"""
Send a one-time password, wait for WhatsApp to deliver it, and fall back when it cannot.

The flow: send the code the verifying system passed in the run's config with the AUTHENTICATION template
``otp_login``, wait in the triggerer (``deferrable=True``) until it is delivered, then branch:
``notify_success`` when it arrived, ``fallback_other_channel`` when WhatsApp reported it failed (e.g. the
number is not on WhatsApp).

The code never travels through XCom (which the UI shows) and ``mask_values=True`` keeps it out of the
rendered template fields and the logs; the summaries downstream carry masked numbers only.

``max_failed_ratio=1.0`` makes the sensor *report* a failed delivery instead of failing the task, so the
branch can act on it; a timeout still fails the sensor (then nothing downstream runs). Try the fallback
against the sandbox with its undeliverable magic number::

    airflow dags test example_qontak_otp_delivery --conf '{"to_number": "6281100000001", "code": "271828"}'
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from qontak_provider.operators.qontak import QontakSendDirectOperator
from qontak_provider.sensors.qontak import QontakBroadcastSensor

with DAG(
    dag_id="example_qontak_otp_delivery",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "to_number": Param("6281234567890", type="string"),
        "to_name": Param("Test User", type="string"),
        "code": Param("314159", type="string", pattern=r"^[0-9]{4,8}$"),
    },
    tags=["example", "qontak"],
):
    send_otp = QontakSendDirectOperator(
        task_id="send_otp",
        to_number="{{ params.to_number }}",
        to_name="{{ params.to_name }}",
        template_name="otp_login",
        language="id",
        body={"1": "{{ params.code }}"},
        buttons={"0": "{{ params.code }}"},
        mask_values=True,  # an OTP code: *** in the rendered template fields and the logs
    )

    wait_delivery = QontakBroadcastSensor(
        task_id="wait_delivery",
        broadcast_ids=send_otp.output,
        target_status="delivered",
        max_failed_ratio=1.0,  # report failures in the result; the branch below handles them
        deferrable=True,
        poke_interval=1,
        timeout=300,
    )

    @task.branch
    def delivered_or_fallback(summary: dict) -> str:
        failed = summary["failed_ids"]
        return "fallback_other_channel" if failed else "notify_success"

    @task
    def notify_success(summary: dict) -> None:
        for broadcast_id, info in summary["broadcasts"].items():
            when = info["status_times"].get("delivered") or "unknown time"
            print(f"OTP DELIVERED: broadcast {broadcast_id} {info['status']} at {when}")

    @task
    def fallback_other_channel(summary: dict) -> None:
        # Replace with an SMS or e-mail task; the error text says why WhatsApp could not deliver.
        for broadcast_id, info in summary["broadcasts"].items():
            for error in info["errors"]:
                print(f"OTP broadcast {broadcast_id} failed for {error['recipient']}: {error['error']}")
        print("FALLBACK: sending the code through another channel")

    branch = delivered_or_fallback(wait_delivery.output)
    branch >> [notify_success(wait_delivery.output), fallback_other_channel(wait_delivery.output)]
