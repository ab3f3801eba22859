export AIRFLOW_CONN_QONTAK_DEFAULT='{
  "conn_type": "qontak",
  "host": "https://api.mekari.com",
  "login": "your-hmac-client-id",
  "password": "your-hmac-client-secret",
  "extra": {
    "channel_integration_id": "56b60c3c-0123-46af-958b-32f3ad12ee37",
    "timeout": 30,
    "rate_per_minute": 60
  }
}'
