"""Documents of simulation-based calibration studies made without a fit (``models.sbc``'s
record and result formats), for the unit and browser tests."""

from __future__ import annotations

import numpy as np

from models import sbc

L = sbc.RANK_DRAWS


def fit_record(index: int, ranks: dict[str, int], **fields) -> dict:
    """One replication's record as ``models.sbc.replicate`` returns it: ``ranks`` and a clean fit
    (one compile, fused density) unless ``fields`` say otherwise."""
    clean = {"ess": {}, "rhat_max": 1.0, "divergences": 0, "density": "fused", "events": 0, "seconds": 1.0}
    return {"index": index, "ranks": ranks, **clean, "compiles": 1, "pid": 1, **fields}


def sample_study(n: int = 40, *, seed: int = 1, names: tuple[str, str] = ("loading a/f", "persistence f")) -> dict:
    """A study's document with two quantities: the first calibrated (uniform ranks), the second
    over-narrow (the truth ranks first or last)."""
    rng = np.random.default_rng(seed)
    records = [
        fit_record(r, {names[0]: int(rng.integers(0, L + 1)), names[1]: int(rng.choice([0, L]))}) for r in range(n)
    ]
    return sbc.summarise(records) | {"settings": {"draws": 300, "tune": 300, "chains": 2}}
