"""Bayesian machinery: from validated frames to posteriors, forecasts, scenarios and backtests.

Knows nothing of the database or Dash.
"""
