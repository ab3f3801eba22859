"""Qontak operators: :mod:`qontak_provider.operators.qontak` (lookups, direct send) and the bulk send.

Import the operators from their modules, e.g.
``from qontak_provider.operators.qontak import QontakSendDirectOperator``; this package stays empty so that
importing it (while parsing DAGs) costs nothing.
"""
