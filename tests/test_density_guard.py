"""The fused density is checked against the PyMC graph when a model is compiled, and a fused
density that disagrees is never sampled: the fit falls back to PyTensor's generated density.
(That a fused density which agrees is sampled is tests/test_density.py's slow test.)"""

from __future__ import annotations

import dataclasses
import logging
from datetime import date

import numpy as np
import pytest

from models import density, fit
from models import model as model_module
from models.design import build_design
from models.fit import FitSettings
from models.simulate import simulate_observations, synthetic_case
from tests.test_density import _points, _pymc

AS_OF = date(2016, 12, 31)
TINY = {"draws": 30, "tune": 30, "chains": 2, "seed": 5}


def _design():
    case = synthetic_case(n_factors=1, n_indicators=3, families=("count_events", "binary", "continuous"), n_outcomes=1)
    frame, _ = simulate_observations(case, as_of=AS_OF, seed=3)
    return build_design(case, frame, as_of=AS_OF)


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test compiles its own model (the process-wide cache would hand back another's)."""
    monkeypatch.setattr(fit, "_CACHE", {})


@pytest.mark.slow
@pytest.mark.fit
def test_a_fused_density_that_disagrees_with_the_model_is_not_sampled(
    fresh_cache: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The graph gets a wider prior on the hazard intercepts than the kernel was written with:
    the compile-time check catches it, warns, and the fit samples the graph's density, whose
    log density and gradient with the design's data are the graph's."""
    calibrated = model_module.hazard_prior
    monkeypatch.setattr(
        model_module,
        "hazard_prior",
        lambda case: dataclasses.replace(calibrated(case), intercept_sd=2.0 * calibrated(case).intercept_sd),
    )
    design = _design()
    messages: list[str] = []
    with caplog.at_level(logging.WARNING, logger="models.fit"):
        idata = fit.sample(design, FitSettings(density="fused", **TINY), progress=lambda f, m: messages.append(m))
    problem = fit.compiled_for(design, "nutpie").fused_problem
    assert problem and "at the initial point" in problem
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("disagrees with the PyMC model" in w and "generated density instead" in w for w in warnings), warnings
    assert idata.posterior.attrs["density"] == "pytensor"
    assert any("fused one disagreed" in m for m in messages), messages
    assert np.isfinite(idata.posterior["hazard_intercept"].values).all()
    # what was sampled is the graph's density, with this design's data
    compiled = fit.compiled_for(design, "nutpie")
    evaluate = density.evaluator(compiled.nutpie_model(design, "pytensor"))
    pymc = _pymc(compiled.model)
    for flat, _ in _points(compiled.model, 2, seed=8):
        value, grad = evaluate(flat)
        expected_logp, expected_grad = pymc(flat.copy())
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-7, atol=1e-7)
        assert value == pytest.approx(expected_logp, abs=1e-4)


def test_the_density_comes_from_the_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARBINGER_DENSITY", raising=False)
    assert FitSettings().density == "fused"
    monkeypatch.setenv("HARBINGER_DENSITY", "pytensor")
    assert FitSettings().density == "pytensor"
    assert FitSettings(density="fused").density == "fused"
    monkeypatch.setenv("HARBINGER_DENSITY", "numpy")
    with pytest.raises(ValueError, match="HARBINGER_DENSITY"):
        FitSettings()
    with pytest.raises(ValueError, match="unknown density"):
        FitSettings(density="jax")
