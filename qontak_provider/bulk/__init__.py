"""The bulk send: one template fanned out to many recipients, exactly once (no Airflow import).

* :mod:`~qontak_provider.bulk.source`: rows from a list, CSV or JSON-lines file (streamed), and the
  results table;
* :mod:`~qontak_provider.bulk.render`: one row into a validated direct-send request;
* :mod:`~qontak_provider.bulk.journal`: what every row's send became, compact enough for ``task_state_store``;
* :mod:`~qontak_provider.bulk.engine`: the concurrent, paced, journalled run.

:class:`~qontak_provider.operators.bulk.QontakBulkSendOperator` wires it to Airflow.
"""
