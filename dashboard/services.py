"""What the command line and the dashboard do with the store and the models, in one place.

Each function here reads the store (``indicators``), calls the models' public functions
(``models``), and records the result. Neither the Dash callbacks nor the command line build a
model themselves. A fit is slow: the dashboard calls :func:`fit_case` only from a background
callback, never in a request.

The saved run (``<runs_dir>/<run_id>/``) holds ``posterior.nc`` (the posterior, with its identity
in the attributes) and ``forecast.json`` (everything the pages and reports show; its schema is
documented in :mod:`models.runs`).
"""

from __future__ import annotations

import os
from datetime import date, datetime, timezone
from typing import Any, Callable

from indicators.errors import BadInput

Progress = Callable[[float, str], None]

#: Fit settings, overridable by the environment (e.g. for quick demonstrations and tests).
DEFAULT_SETTINGS = {"draws": 1000, "tune": 1000, "chains": 2, "seed": 20101101, "sampler": "nutpie"}


class FitFailed(RuntimeError):
    """A fit that failed; the previous run is still the one shown."""

    def __init__(self, run_id: str, reason: str):
        self.run_id = run_id
        self.reason = reason
        super().__init__(f"fit {run_id} failed: {reason}; the previous forecast is still shown.")


def default_settings() -> dict[str, Any]:
    """Sampler settings: the defaults, overridden by HARBINGER_DRAWS, _TUNE, _CHAINS, _SEED, _SAMPLER."""
    out = dict(DEFAULT_SETTINGS)
    for key in out:
        env = os.environ.get(f"HARBINGER_{key.upper()}")
        if env:
            out[key] = env if key == "sampler" else int(env)
    return out


def today() -> date:
    return datetime.now(timezone.utc).date()
