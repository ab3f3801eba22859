"""Testing a task without Airflow around it, as docs/howto/testing.rst shows: ``execute`` and the fixture."""

from __future__ import annotations

# [START howto_testing_execute_directly]
from qontak_provider.operators.qontak import QontakSendDirectOperator


def test_reminder_arguments(qontak_sandbox):
    result = QontakSendDirectOperator(
        task_id="send",
        to_number="0812-3456-7890",
        to_name="Budi",
        template_name="payment_reminder",
        body={"1": "Budi", "2": "Rp 250.000", "3": "31 Januari"},
    ).execute({})
    assert result["broadcast_id"] == qontak_sandbox.sends()[0]["broadcast_id"]


# [END howto_testing_execute_directly]
