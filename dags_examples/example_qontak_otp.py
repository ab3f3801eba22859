"""
Send a one-time password with an AUTHENTICATION template, keeping the code out of the Airflow UI.

The template is picked by name (``otp_login``, seeded in the sandbox); the code fills both the body
placeholder ``{{1}}`` and the template's copy-code button. ``mask_values=True`` treats them as secrets: the
task's rendered template fields show ``***`` and the logs never print the code; the number is masked in
both and in XCom by default. The code comes from the system that will verify it, in the run's config::

    airflow dags trigger example_qontak_otp --conf '{"to_number": "0812-3456-7890", "code": "481516"}'

(The run's config itself is visible to users who may see this DAG's runs: give this DAG to the team that
may see codes, or pass a reference your verifier resolves, see the security page of the docs.)
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
    # [START howto_operator_qontak_send_otp]
    QontakSendDirectOperator(
        task_id="send_otp",
        to_number="{{ params.to_number }}",
        to_name="{{ params.to_name }}",
        template_name="otp_login",
        language="id",
        body={"1": "{{ params.code }}"},
        buttons=["{{ params.code }}"],
        mask_values=True,  # an OTP code: *** in the rendered template fields and the logs
    )
    # [END howto_operator_qontak_send_otp]
