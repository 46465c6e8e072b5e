"""Real fits of small synthetic cases (`slow` tier): what the model learns from evidence.

- a report graded F (reliability cannot be judged, credibility cannot be judged) moves an
  outcome less than the same report graded A (completely reliable, confirmed);
- parameter recovery: on data simulated from the model with known factors and loadings, the 90%
  credible intervals cover the truth at close to the nominal rate.

The grading test fits on the production path (nutpie with the fused density), the recovery test
with PyMC's own sampler; both with fixed seeds.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from models.design import build_design, genuine_probability
from models.fit import FitSettings, sample
from models.forecast import draws_of, outcome_forecasts
from models.simulate import simulate_observations, synthetic_case

pytestmark = [pytest.mark.slow, pytest.mark.fit]

AS_OF = date(2020, 12, 31)


def _p_one_year(case, frame, settings: FitSettings) -> float:
    design = build_design(case, frame, as_of=AS_OF)
    draws = draws_of(design, sample(design, settings))
    outcomes, _ = outcome_forecasts(design, draws, seed=5)
    return outcomes[0]["horizons"][0]["p_mean"]


def test_a_grade_f_report_moves_the_outcome_less_than_the_same_report_graded_a() -> None:
    # A strong elicited effect of the factor on the outcome (odds ratio 2-4 per sd), so that what the
    # report does to the factor shows in the outcome well above the Monte Carlo error of three fits.
    case = synthetic_case(
        n_factors=1,
        n_indicators=3,
        families=("count_events", "binary", "continuous"),
        n_outcomes=1,
        effect_odds_ratio=(2.0, 4.0),
    )
    frame, _ = simulate_observations(case, as_of=AS_OF, seed=11)
    settings = FitSettings(draws=500, tune=500, chains=2, seed=3, sampler="nutpie")
    # The report: 8 events of the anchor indicator (which raises the outcome) in the last quarter,
    # far above its usual rate. Not a hundred: a report that far out is one the model's mixture
    # (genuine or not) takes for a false one even when graded A, and it moves nothing either way.
    usual = frame.loc[frame.indicator == "ind_0", "value"].sum() / (AS_OF.year - case.start.year) / 4
    assert usual < 1
    report = pd.DataFrame(
        [
            {
                "id": 100_000,
                "indicator": "ind_0",
                "date": pd.Timestamp("2020-11-15"),
                "end": pd.Timestamp("2020-11-15"),
                "value": 8.0,
                "source": "test report",
                "note": "",
                "reliability": "A",
                "credibility": 1,
            }
        ]
    )
    graded_f = report.assign(reliability="F", credibility=6)
    assert genuine_probability("F", 6) < genuine_probability("A", 1)

    p_base = _p_one_year(case, frame, settings)
    p_a = _p_one_year(case, pd.concat([frame, report], ignore_index=True), settings)
    p_f = _p_one_year(case, pd.concat([frame, graded_f], ignore_index=True), settings)

    assert p_a > p_base + 0.02, (p_base, p_a)  # a clear move: from about 5% to about 10%
    assert abs(p_f - p_base) < 0.5 * abs(p_a - p_base), (p_base, p_a, p_f)


def _coverage(samples: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Whether each truth lies in its central 90% interval; samples (D, ...) against truth (...)."""
    lo, hi = np.quantile(samples, [0.05, 0.95], axis=0)
    return (truth >= lo) & (truth <= hi)


def test_parameter_recovery_covers_the_truth_at_close_to_the_nominal_rate() -> None:
    case = synthetic_case(
        n_factors=2, n_indicators=8, families=("count_events", "binary", "proportion", "count_total"), n_outcomes=2
    )
    frame, truth = simulate_observations(case, as_of=AS_OF, seed=21, per_cell=2)
    design = build_design(case, frame, as_of=AS_OF)
    idata = sample(design, FitSettings(draws=500, tune=600, chains=2, seed=8, sampler="pymc"))
    draws = draws_of(design, idata)
    T = truth.factor_state.shape[1]

    covered_states = _coverage(draws.factor_state[:, :, :T], truth.factor_state)
    present = truth.loading != 0
    covered_loadings = _coverage(draws.loading, truth.loading)[present]
    covered_persistence = _coverage(draws.persistence, truth.persistence)
    everything = np.concatenate([covered_states.ravel(), covered_loadings, covered_persistence])

    # Factor states are autocorrelated, so their coverage varies more than a binomial's: the
    # band is wide, but a model that ignored the data (near 100%) or was overconfident (far
    # below 90%) fails it.
    assert 0.75 <= covered_states.mean() <= 0.99, covered_states.mean()
    assert covered_loadings.mean() >= 0.6, covered_loadings.mean()
    assert 0.78 <= everything.mean() <= 0.98, everything.mean()
    # And the posterior tracks the factors: posterior means correlate with the true paths.
    for k in range(truth.factor_state.shape[0]):
        r = np.corrcoef(draws.factor_state[:, k, :T].mean(axis=0), truth.factor_state[k])[0, 1]
        assert r > 0.8, (k, r)
