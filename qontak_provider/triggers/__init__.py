"""Triggers of the Qontak provider."""
