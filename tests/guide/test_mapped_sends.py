"""The mapped sends docs/howto/send_to_many.rst shows, under ``airflow dags test`` against the sandbox."""

from __future__ import annotations

import pytest

from tests.guide.test_customer_reminder import airflow_env, dags_test

__all__ = ["airflow_env"]  # the fixture, shared with the testing guide's example

pytestmark = pytest.mark.airflow


@pytest.mark.qontak_sandbox(rate_limit=0)
def test_each_mapped_instance_sends_one_message(airflow_env, qontak_sandbox):
    result = dags_test(airflow_env, "mapped_sends")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    assert qontak_sandbox.counts() == {
        "6281234567001": 1,
        "6281234567002": 1,
        "6281234567003": 1,
        "6281234567004": 1,
    }
    templates = sorted(send["template_name"] for send in qontak_sandbox.sends())
    assert templates == ["payment_reminder"] * 2 + ["song_recommendation"] * 2
