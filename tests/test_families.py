"""The registry of indicator families (models.families): it agrees with the case schema and the
model, and every family's parts work on a synthetic case that holds it. A new family is checked
here as soon as it is in the registry; tests/test_density.py holds its kernel to the PyMC model."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from indicators.case import FAMILIES as SCHEMA_FAMILIES
from indicators.case import FAMILY_RULES
from models.design import build_design
from models.families import FAMILIES, NAMES, family, row_logliks
from models.forecast import Draws
from models.likelihood import NUMPY
from models.model import build_model
from models.predictive import predictive_samples
from models.simulate import _FAMILY_CYCLE, simulate_observations, synthetic_case


def test_the_registry_is_the_case_schemas_families() -> None:
    assert NAMES == SCHEMA_FAMILIES
    for fam in FAMILIES:
        assert family(fam.name) is fam
        assert fam.aggregations == FAMILY_RULES[fam.name].aggregations
        assert fam.integer == FAMILY_RULES[fam.name].integer
    for ind in synthetic_case(n_indicators=len(_FAMILY_CYCLE)).indicators:
        assert family(ind.family).integer == ind.integer_valued
    with pytest.raises(ValueError, match="unknown indicator family"):
        family("nonsense")


def test_every_family_has_its_model_variables_kernel_and_synthetic_kind() -> None:
    from models import density, fit

    for fam in FAMILIES:
        assert fam.kernel is not None, fam.name
        for name, _ in fam.value_variables:
            assert name in density.VALUE_VARIABLES
        assert fam.intercept_variable is None or fam.intercept_variable in dict(fam.value_variables)
        assert set(fam.monitored) <= set(fit.MONITORED)
        assert set(fam.monitored) <= set(fam.draw_params.values())
        assert fam.synthetic and set(fam.synthetic) <= set(_FAMILY_CYCLE)
    assert len(density.VALUE_VARIABLES) == len(set(density.VALUE_VARIABLES))
    assert sorted(k for fam in FAMILIES for k in fam.synthetic.values()) == list(range(len(_FAMILY_CYCLE)))


def _design_and_draws(n_draws: int = 30):
    """A synthetic case with one indicator of every kind, and random draws of its parameters."""
    case = synthetic_case(n_factors=2, n_indicators=len(_FAMILY_CYCLE))
    frame, _ = simulate_observations(case, as_of=date(2016, 12, 31), seed=3)
    design = build_design(case, frame, as_of=date(2016, 12, 31))
    rng = np.random.default_rng(1)
    fam = design.family_indicators
    # Each family's parameters with the shapes the model gives them, positive and increasing
    # along their last axis (dispersions, scales and precisions are positive, cutpoints ordered).
    model = build_model(design)
    params: dict = {"families": [k for k, v in fam.items() if v]}
    for f in FAMILIES:
        for key, name in f.draw_params.items():
            shape = tuple(int(n) for n in model[name].shape.eval())
            params[key] = np.cumsum(rng.gamma(5.0, 0.5, (n_draws, *shape)), axis=-1)
    K, T, I, O = 2, design.grid.n_cells, len(case.indicators), len(case.outcomes)
    draws = Draws(
        chains=2,
        factor_state=rng.normal(size=(n_draws, K, T)),
        persistence=rng.uniform(0.8, 0.95, (n_draws, K)),
        loading=rng.normal(0.6, 0.2, (n_draws, I, K)),
        intercept=rng.normal(0.0, 0.5, (n_draws, I)),
        hazard_intercept=rng.normal(-3.0, 0.3, (n_draws, O)),
        hazard_effect=rng.normal(0.3, 0.1, (n_draws, O, K)),
        params=params,
    )
    return design, draws


def test_every_familys_rows_likelihood_and_predictive_draws() -> None:
    design, draws = _design_and_draws()
    ll = row_logliks(NUMPY, draws.params, draws.eta(), design.data(), batched=True)
    one = row_logliks(
        NUMPY,
        {k: v[0] if isinstance(v, np.ndarray) else v for k, v in draws.params.items()},
        draws.eta()[0],
        design.data(),
    )
    assert list(ll) == list(NAMES)
    for fam in FAMILIES:
        rows = design.families[fam.name]
        assert rows.n_rows > 0, fam.name
        assert np.isfinite(ll[fam.name]).all() and (ll[fam.name][:, rows.n_rows :] == 0).all()
        np.testing.assert_allclose(one[fam.name], ll[fam.name][0], rtol=1e-12)
    held = design.rows.groupby("family").head(2).reset_index(drop=True)
    samples = predictive_samples(design, draws, held, seed=2)
    assert samples.shape == (len(held), draws.n) and np.isfinite(samples).all()
    for rec, s in zip(held.itertuples(index=False), samples, strict=True):
        ind = design.case.indicator(rec.indicator)
        low, high = ind.value_range
        assert (s >= low).all() and (s <= high).all(), rec.family
        if family(rec.family).integer:
            assert (s == np.round(s)).all(), rec.family


def test_every_familys_constants_round_trip_its_values() -> None:
    design, _ = _design_and_draws()
    for fam in FAMILIES:
        rows = design.families[fam.name]
        table = design.rows[design.rows["family"] == fam.name]
        unit = fam.to_unit(rows.y[: rows.n_rows], design.constants, rows.local[: rows.n_rows])
        np.testing.assert_allclose(unit, table["value"].to_numpy(), rtol=1e-12, atol=1e-12)
        back = [
            fam.standardise(v, design.constants, k)
            for v, k in zip(table["value"], rows.local[: rows.n_rows], strict=True)
        ]
        np.testing.assert_allclose(back, rows.y[: rows.n_rows], rtol=1e-9, atol=1e-9)
