export AIRFLOW_CONN_QONTAK_DEFAULT='qontak://http://sandbox-client-id:sandbox-client-secret@127.0.0.1:8789/?channel_integration_id=56b60c3c-0123-46af-958b-32f3ad12ee37'
