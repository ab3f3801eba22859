qontak-sandbox --port 0 --clock instant --rate-limit 0 > sandbox.log 2>&1 &
until grep -q '^export AIRFLOW_CONN_QONTAK_DEFAULT=' sandbox.log; do sleep 0.2; done
eval "$(grep '^export AIRFLOW_CONN_QONTAK_DEFAULT=' sandbox.log)"
airflow dags test example_qontak_quickstart
