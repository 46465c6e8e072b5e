"""The model nutpie samples with the fused kernel (models.compiled): no compile of the PyMC graph,
one compiled callback for every design, loaded from the disk cache by a new process."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import numpy as np
import pytest

from models import compiled, density
from models.design import build_design
from models.model import build_model
from models.simulate import simulate_observations, synthetic_case

pytestmark = pytest.mark.fit

ORIGINS = (date(2015, 12, 31), date(2018, 12, 31))


def _design(as_of: date):
    case = synthetic_case(n_factors=2, n_indicators=4, families=("count_events", "binary", "continuous"), n_outcomes=1)
    frame, _ = simulate_observations(case, as_of=as_of, seed=3)
    return build_design(case, frame, as_of=as_of)


def test_designs_of_different_shapes_share_one_compiled_callback() -> None:
    """Two backtest origins of a case (different numbers of quarters and rows): one callback,
    compiled (or loaded) at most once, and each model's density is PyMC's at its own data."""
    before = compiled.CALLBACK_BUILDS["n"]
    callbacks = []
    for origin in ORIGINS:
        design = _design(origin)
        model = build_model(design)
        initial = compiled.initial_point_function(model)
        nutpie_model = compiled.fused_model(design, model, initial)
        callbacks.append(nutpie_model.compiled_logp_func)
        fused = density.evaluator(nutpie_model)
        assert density.disagreement(fused, design, model, initial) is None
        value, grad = fused(initial(3))
        assert np.isfinite(value) and grad.shape == (nutpie_model.n_dim,)
    assert len({design.shape_key() for design in map(_design, ORIGINS)}) == 2
    assert callbacks[0] is callbacks[1]
    assert compiled.CALLBACK_BUILDS["n"] - before <= 1


_ONE_PROCESS = """
import json, sys
from datetime import date
import nutpie
from numba.core.dispatcher import Dispatcher

def refuse(*args, **kwargs):
    raise AssertionError("nutpie compiled the PyMC graph")

nutpie.compile_pymc_model = refuse
from models import compiled, density, fit
from tests.test_compiled import _design

design = _design(date(2016, 12, 31))
idata = fit.sample(design, fit.FitSettings(draws=40, tune=40, chains=2, seed=1, density="fused"))
callback = next(iter(compiled._CALLBACKS.values()))
print(json.dumps({
    "callback_cache_hits": callback.cache_hits,
    "kernel_compiled_here": sum(density.logp_and_grad.stats.cache_misses.values()),
    "density": idata.posterior.attrs["density"],
    "variables": sorted(idata.posterior.data_vars),
    "state_shape": list(idata.posterior["factor_state"].shape),
}))
"""


def test_a_second_process_loads_the_compiled_callback_and_never_compiles_the_graph(tmp_path) -> None:
    """Two processes in a row fit with the fused density; nutpie's compile of the PyMC graph is
    made to fail in both. The second finds the callback and the kernel in the disk cache (the
    first may have compiled them or found them there too)."""
    results = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", _ONE_PROCESS], capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, done.stderr[-3000:]
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    second = results[1]
    assert second["callback_cache_hits"] == 1
    assert second["kernel_compiled_here"] == 0
    assert second["density"] == "fused"
    # the posterior carries the model's variables, not only the sampler's coordinates
    assert {"factor_state", "loading", "persistence", "innovation"} <= set(second["variables"])
    assert second["state_shape"][:2] == [2, 40]


def test_progress_counts_the_draws_nutpie_has_made_as_its_public_inspect_does() -> None:
    """The progress reading counts rows of nutpie's raw trace (cheap) instead of converting the
    trace with ``inspect()``; paused mid-run, both give the same number of draws."""
    import time

    import nutpie

    from models.fit import _rows_per_chain

    design = _design(ORIGINS[0])
    model = build_model(design)
    nutpie_model = compiled.fused_model(design, model, compiled.initial_point_function(model))
    sampler = nutpie.sample(
        nutpie_model, draws=3000, tune=300, chains=2, cores=2, seed=1, progress_bar=False, blocking=False
    )
    try:
        time.sleep(1.0)
        sampler.pause()
        counted = _rows_per_chain(sampler)
        partial = sampler.inspect()
        # inspect pads the shorter chains with NaN: count each chain's draws that have a step size
        by_inspect = sum(
            np.isfinite(partial[g]["step_size"].values).sum(axis=1)
            for g in ("warmup_sample_stats", "sample_stats")
            if g in partial.groups()
        )
        assert len(counted) == 2 and min(counted) > 0
        # a chain may finish the draw it was on after pause(): inspect, read second, may hold one
        # more, never fewer
        for rows, seen in zip(counted, by_inspect, strict=True):
            assert rows <= seen <= rows + 1, (counted, by_inspect)
    finally:
        sampler.cancel()
