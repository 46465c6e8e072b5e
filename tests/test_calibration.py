"""Calibration on simulated data (`slow` tier): a reduced run of benchmarks/calibration.py.

Eight replications of simulate-and-fit (PyMC's sampler, 200 draws after 300 tuning steps, two
chains, fixed seeds; about 25 s of CPU each), run two at a time. The truth of every main quantity
must fall in its posterior credible intervals at close to the nominal rates, and its ranks among
the posterior draws must not be far from uniform. Quantities within one replication are
correlated (the same factor paths drive them), so the bands here are wider than binomial ones;
a model that ignored the data (coverage near 100%) or was overconfident (far below nominal)
fails them.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.fit]

ROOT = Path(__file__).resolve().parents[1]
REPLICATIONS = 8
SETTINGS = {"draws": 200, "tune": 300, "chains": 2, "seed": 7, "sampler": "pymc"}


def _benchmark():
    """``benchmarks/calibration.py`` imported by name, so worker processes can import it too."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("benchmarks.calibration")


@pytest.fixture(scope="module")
def study():
    bench = _benchmark()
    records, groups = bench.run_study(REPLICATIONS, SETTINGS, jobs=2, first_seed=1)
    return bench, records, groups


def test_every_group_is_measured(study) -> None:
    bench, records, groups = study
    assert set(groups) == set(bench.GROUPS) | {"all"}
    assert groups["persistence"]["n"] == 2 * REPLICATIONS
    assert groups["outcome_probability_1y"]["n"] == 2 * REPLICATIONS
    assert groups["all"]["n"] == len(records)
    assert sum(groups["all"]["rank_histogram"]) == len(records)
    assert all(0 <= r["rank"] <= bench.RANK_DRAWS for r in records)


def test_credible_intervals_cover_the_truth_at_close_to_nominal_rates(study) -> None:
    _, _, groups = study
    every = groups["all"]
    assert 0.80 <= every["coverage_90"] <= 0.98, every
    assert 0.35 <= every["coverage_50"] <= 0.68, every
    assert every["rank_chi2_p"] > 0.001, every
    # The forecast-relevant quantities on their own: the state forecasts start from, and the
    # one-year outcome probability.
    assert groups["factor_state_last"]["coverage_90"] >= 0.7, groups["factor_state_last"]
    assert groups["outcome_probability_1y"]["coverage_90"] >= 0.7, groups["outcome_probability_1y"]
