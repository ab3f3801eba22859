export AIRFLOW_CONN_QONTAK_DEFAULT='qontak://https://your-hmac-client-id:your-hmac-client-secret@api.mekari.com/?channel_integration_id=56b60c3c-0123-46af-958b-32f3ad12ee37'
