"""The model's version: which statistical model a run was fitted with.

Every run records it (``model_version`` in ``forecast.json`` and in the run row), and the one
forecast loader (:func:`models.document.read_forecast`, through
:mod:`dashboard.services.forecasts`) labels a run fitted with another version as one to refit.
Raise it with every change to the model that changes what a fit gives (:mod:`models.model` and
the modules it builds on). It lives here, apart from :mod:`models.model`, so that the dashboard can
compare versions without importing PyMC.
"""

from __future__ import annotations

MODEL_VERSION = "1.8.0"
