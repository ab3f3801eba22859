"""Airflow notifiers of the Qontak provider (see :mod:`qontak_provider.notifications.qontak`)."""
