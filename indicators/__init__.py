"""Observations: the case schema, validation, storage, import/export and time periods.

Knows nothing of PyMC or Dash.
"""
