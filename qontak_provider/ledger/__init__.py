"""The send ledger: what one send left behind, and how a send left in doubt is resolved (no Airflow)."""
