"""
Send a text template with two body variables, by template id.

``body`` maps placeholder numbers to values; values are templated, so they can come from params, macros
or XCom.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from qontak_provider.operators.qontak import QontakSendDirectOperator

with DAG(
    dag_id="example_qontak_text_variables",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"to_number": "+62 812 3456 7890", "to_name": "Test User", "song": "lagu nusantara"},
    tags=["example", "qontak"],
):
    # [START howto_operator_qontak_send_text]
    QontakSendDirectOperator(
        task_id="send_song_recommendation",
        to_number="{{ params.to_number }}",
        to_name="{{ params.to_name }}",
        # song_recommendation: "Halo {{1}}, terima kasih sudah mendengarkan {{2}} ..."
        template_id="d3e1083c-66ea-410b-b807-1d84182ffa82",
        body={"1": "{{ params.to_name }}", "2": "{{ params.song }}"},
    )
    # [END howto_operator_qontak_send_text]
