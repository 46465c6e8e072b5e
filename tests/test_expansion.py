"""The expansion of nutpie's draws into the model's variables (models.compiled.Expansion): the
model's graph vectorized over draws gives, draw by draw, what the graph itself gives, for the
factor paths of both kinds (AR(1) without cross effects, VAR(1) with them) and in blocks of draws
smaller than the posterior."""

from __future__ import annotations

from datetime import date

import numpy as np
import pymc as pm
import pytest
import xarray as xr
from pytensor.compile.mode import Mode

from indicators.case import Case
from models import compiled
from models.design import build_design
from models.model import build_model
from models.simulate import simulate_observations, synthetic_case

AS_OF = date(2012, 12, 31)


def _design(cross_effects: bool):
    spec = synthetic_case(
        n_factors=2, n_indicators=5, families=("count_events", "binary", "proportion", "ordinal"), n_outcomes=1
    ).model_dump()
    if cross_effects:
        spec["cross_effects"] = [
            {
                "from_factor": "factor_0",
                "to_factor": "factor_1",
                "effect": "raises",
                "size": [0.1, 0.6],
                "rationale": "t",
            }
        ]
    case = Case.model_validate(spec)
    frame, _ = simulate_observations(case, as_of=AS_OF, seed=5)
    return build_design(case, frame, as_of=AS_OF)


def _draws(model: pm.Model, chains: int, draws: int) -> xr.Dataset:
    """Unconstrained draws scattered around the model's initial point."""
    point = model.initial_point()
    rng = np.random.default_rng(1)
    variables = {}
    for rv in model.free_RVs:
        name = model.rvs_to_values[rv].name
        start = np.asarray(point[name])
        dims = tuple(f"{name}_dim_{i}" for i in range(start.ndim))
        variables[name] = (("chain", "draw", *dims), start + 0.3 * rng.standard_normal((chains, draws, *start.shape)))
    return xr.Dataset(variables, coords={"chain": range(chains), "draw": range(draws)})


@pytest.mark.parametrize("cross_effects", [False, True], ids=["ar1", "var1"])
def test_the_vectorized_expansion_is_the_graph_draw_by_draw(cross_effects: bool, monkeypatch) -> None:
    design = _design(cross_effects)
    model = build_model(design)
    expansion = compiled.Expansion(model)
    monkeypatch.setattr(compiled.Expansion, "BLOCK", 7)  # several blocks, the last one short
    posterior = _draws(model, chains=2, draws=10)
    got = expansion.posterior(posterior, design.data())

    assert ("factor_transition" in got) is cross_effects
    assert {"factor_state", "loading", "persistence", "intercept", "hazard_effect"} <= set(got.data_vars)
    values = [model.rvs_to_values[rv] for rv in model.free_RVs]
    with model:
        pm.set_data(design.data())
        one_draw = pm.pytensorf.compile(
            values, expansion.outputs, on_unused_input="ignore", mode=Mode(linker="py", optimizer=None)
        )
    for chain, draw in [(0, 0), (0, 6), (1, 7), (1, 9)]:
        expected = one_draw(*(posterior[v.name].values[chain, draw] for v in values))
        for var, want in zip(expansion.outputs, expected, strict=True):
            assert got[var.name].dims[:2] == ("chain", "draw")
            np.testing.assert_allclose(
                got[var.name].values[chain, draw], want, rtol=1e-12, atol=1e-12, err_msg=var.name
            )
