"""
Send a one-time password with an AUTHENTICATION template.

The template is picked by name (``otp_login``, seeded in the sandbox); the code fills both the body
placeholder ``{{1}}`` and the template's copy-code button. Trigger it with a config to send elsewhere::

    airflow dags trigger example_qontak_otp --conf '{"to_number": "0812-3456-7890", "code": "481516"}'
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from qontak_provider.operators.qontak import QontakSendDirectOperator

with DAG(
    dag_id="example_qontak_otp",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={
        "to_number": Param("0812-3456-7890", type="string"),
        "to_name": Param("Test User", type="string"),
        "code": Param("123456", type="string"),
    },
    tags=["example", "qontak"],
):
    QontakSendDirectOperator(
        task_id="send_otp",
        to_number="{{ params.to_number }}",
        to_name="{{ params.to_name }}",
        template_name="otp_login",
        language="id",
        body={"1": "{{ params.code }}"},
        buttons=["{{ params.code }}"],
    )
