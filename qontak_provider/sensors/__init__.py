"""Sensors of the Qontak provider."""
