"""The fused log density (models.density) is the PyMC model's, value and gradient."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import special

from indicators.case import Case, load_case, shipped_case_path
from models import density
from models.design import build_design
from models.model import build_model
from models.simulate import simulate_observations, synthetic_case
from tests.test_models import shipped_frame


def _shipped_design():
    return build_design(load_case(shipped_case_path()).case, shipped_frame(), as_of=date(2025, 12, 31))


def _all_families_design(priors: dict | None = None):
    """Every indicator family, signed and free loadings, raising, lowering and free effects (and
    the case's ``priors`` overrides, when given)."""
    spec = synthetic_case(n_factors=2, n_indicators=7).model_dump()
    spec["priors"] = priors
    spec["indicators"][2]["loadings"] = {"factor_0": "free", "factor_1": "negative"}  # continuous
    spec["indicators"][5]["loadings"] = {"factor_1": "free"}  # proportion
    spec["outcomes"][0]["effects"] = {"factor_0": "raises", "factor_1": "lowers"}
    spec["outcomes"][1]["effects"] = {"factor_0": "free"}
    case = Case.model_validate(spec)
    frame, _ = simulate_observations(case, as_of=date(2019, 12, 31), seed=4)
    return build_design(case, frame, as_of=date(2019, 12, 31))


def _cross_effects_design():
    """Three factors with cross effects in a chain and a fork (0 -> 1, 2 -> 1, 0 -> 2): factor 1
    has two sources, one of which has a source of its own (the VAR(1) of models.model.var1_paths
    with every term of its gradient)."""
    spec = synthetic_case(n_factors=3, n_indicators=9).model_dump()
    spec["cross_effects"] = [
        {"from_factor": "factor_0", "to_factor": "factor_1", "effect": "lowers", "rationale": "t"},
        {"from_factor": "factor_2", "to_factor": "factor_1", "effect": "raises", "size": [0.1, 0.9], "rationale": "t"},
        {"from_factor": "factor_0", "to_factor": "factor_2", "effect": "raises", "rationale": "t"},
    ]
    case = Case.model_validate(spec)
    frame, _ = simulate_observations(case, as_of=date(2019, 12, 31), seed=4)
    return build_design(case, frame, as_of=date(2019, 12, 31))


def _points(model, n: int, seed: int):
    """Random unconstrained points around the initial point, as nutpie's flat vectors and as PyMC's
    dicts."""
    start = model.initial_point()
    names = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    rng = np.random.default_rng(seed)
    for _ in range(n):
        flat = np.concatenate([start[name].ravel() for name in names])
        flat = flat + rng.normal(0.0, 0.7, flat.size)
        point, at = {}, 0
        for name in names:
            size = start[name].size
            point[name] = flat[at : at + size].reshape(start[name].shape)
            at += size
        yield flat, point


def _pymc(model) -> Any:
    """PyMC's log density and gradient of ``model`` (at its containers' current data) as a function
    of nutpie's flat vector: the graph as PyMC states it, evaluated by PyTensor's Python backend
    (:func:`models.density.reference`, what the fit's guard compares with). The C backend would
    evaluate the same graph after a compile of a minute per model on a cold cache."""
    return density.reference(model)


@pytest.mark.fit  # compiles the model's log density and gradient (PyTensor)
@pytest.mark.parametrize("which", ["shipped", "all_families", "overridden_priors", "cross_effects"])
def test_fused_density_equals_the_pymc_model(which: str) -> None:
    if which == "shipped":  # with the case's cross effects (two sources of military pressure)
        design = _shipped_design()
        assert design.case.cross_effects
    elif which == "cross_effects":
        design = _cross_effects_design()
    else:
        from tests.test_priors import OVERRIDES

        design = _all_families_design(OVERRIDES if which == "overridden_priors" else None)
        # every prior a case may set is set, so each reaches the kernel as it reaches the graph
        changed = design.priors.differences(_all_families_design().priors)
        assert set(changed) == (set(OVERRIDES) if which == "overridden_priors" else set())
    model = build_model(design)
    if which != "shipped":  # every value variable the kernel knows is met by one of the cases
        missing = set(density.VALUE_VARIABLES) - {model.rvs_to_values[rv].name for rv in model.free_RVs}
        assert missing == ({"loading_free"} if which == "cross_effects" else {"cross_effect"})
    arguments = density.kernel_arguments(design, model)
    pymc = _pymc(model)
    values, references = [], []
    for flat, _ in _points(model, 4, seed=11):
        grad = np.empty_like(flat)
        values.append(density.logp_and_grad(flat, grad, *arguments))
        reference, expected = pymc(flat.copy())
        references.append(reference)
        np.testing.assert_allclose(grad, expected, rtol=1e-7, atol=1e-7)
        assert np.abs(expected).max() > 1.0  # the points are not all at a mode
    # PyMC's Beta normalising constant differs from SciPy's log-beta by about 1.4e-6 per factor:
    # a constant, so the log densities agree to that and their differences to rounding.
    np.testing.assert_allclose(values, references, atol=1e-5 * len(design.factor_ids), rtol=0)
    np.testing.assert_allclose(np.diff(values), np.diff(references), atol=1e-8, rtol=0)
    assert np.ptp(values) > 1.0
    if which == "overridden_priors":  # the same points under the default priors give other values
        default = _all_families_design()
        arguments = density.kernel_arguments(default, build_model(default))
        for value, (flat, _) in zip(values, _points(model, 4, seed=11), strict=True):
            assert abs(density.logp_and_grad(flat, np.empty_like(flat), *arguments) - value) > 1e-3


@pytest.mark.fit  # compiles the model's log density and gradient (PyTensor)
def test_fused_density_follows_new_data_without_a_new_kernel() -> None:
    """With another observation the same kernel, given the new arrays, still equals PyMC's."""
    design = _shipped_design()
    model = build_model(design)
    frame = shipped_frame()
    extra = (
        frame[frame.indicator == "leader_summit"]
        .iloc[[0]]
        .assign(id=10**6, date=np.datetime64("2025-11-01"), end=np.datetime64("2025-11-01"), value=2.0)
    )
    after = build_design(design.case, pd.concat([frame, extra]), as_of=date(2025, 12, 31))
    assert after.shape_key() == design.shape_key()
    flat, _ = next(_points(model, 1, seed=3))
    grad = np.empty_like(flat)
    before_logp = density.logp_and_grad(flat, grad, *density.kernel_arguments(design, model))
    after_logp = density.logp_and_grad(flat, grad, *density.kernel_arguments(after, model, after.data()))
    with model:
        pm.set_data(after.data())
    expected_logp, expected_grad = _pymc(model)(flat.copy())
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-7, atol=1e-7)
    assert abs(after_logp - expected_logp) < 1e-4
    assert after_logp != before_logp


@pytest.mark.parametrize("x", [0.05, 0.5, 1.0, 3.7, 9.99, 10.0, 25.3, 851.0, 1e6])
def test_digamma_matches_scipy(x: float) -> None:
    from models.families.numerics import digamma

    assert digamma(x) == pytest.approx(special.digamma(x), rel=1e-14, abs=1e-14)


@pytest.mark.fit  # compiles the fused kernel (numba; 20-25 s until its cache is warm)
def test_fused_density_stays_finite_as_persistence_nears_one() -> None:
    """Far out on the persistence's log-odds (u = 40: phi rounds to 1), a trajectory of the sampler
    still gets a finite density and gradient, and the gradient is continuous with nearby points:
    1 - phi^2 is taken as (1 - phi)(1 + phi), never as a difference that rounds to zero."""
    design = _shipped_design()
    model = build_model(design)
    arguments = density.kernel_arguments(design, model)
    flat, _ = next(_points(model, 1, seed=5))
    at = int(density.structure(design, model).offsets[density.PERSISTENCE])
    grads = []
    for u in (20.0, 40.0, 60.0):
        x = flat.copy()
        x[at] = u
        grad = np.empty_like(x)
        logp = density.logp_and_grad(x, grad, *arguments)
        assert np.isfinite(logp) and np.isfinite(grad).all()
        grads.append(grad[at])
    # d logp / du tends to the prior's -b = -2 plus a vanishing data term
    assert grads[2] == pytest.approx(-2.0, abs=1e-6)
    assert abs(grads[1] + 2.0) < abs(grads[0] + 2.0) + 1e-6


@pytest.mark.slow
@pytest.mark.fit
def test_nutpie_calls_the_fused_density_with_the_data_it_was_given() -> None:
    """The wiring: the C callback nutpie samples with (``models.compiled``) reads the data of the
    design it was built for and equals PyMC's log density and gradient (the generated density of
    the fall-back is held to the same in tests/test_density_guard.py, which compiles it anyway).
    Then a short fused fit that really samples."""
    from models.fit import FitSettings, compiled_for, sample

    design = _shipped_design()
    frame = shipped_frame()
    extra = (
        frame[frame.indicator == "leader_summit"]
        .iloc[[0]]
        .assign(id=10**6, date=np.datetime64("2025-11-01"), end=np.datetime64("2025-11-01"), value=3.0)
    )
    after = build_design(design.case, pd.concat([frame, extra]), as_of=date(2025, 12, 31))
    assert after.shape_key() == design.shape_key() and after.data_hash != design.data_hash
    compiled = compiled_for(design, "nutpie")
    assert compiled.fused_problem is None  # the check when the model was built found the two densities equal
    model = compiled.model
    with model:
        pm.set_data(after.data())
    pymc = _pymc(model)
    evaluate = density.evaluator(compiled.nutpie_model(after, "fused"))
    for flat, _ in _points(model, 2, seed=8):
        logp, grad = evaluate(flat)
        expected_logp, expected_grad = pymc(flat.copy())
        np.testing.assert_allclose(grad, expected_grad, rtol=1e-7, atol=1e-7)
        assert logp == pytest.approx(expected_logp, abs=1e-4)
    idata = sample(after, FitSettings(draws=60, tune=60, seed=2, density="fused"))
    assert idata.posterior.attrs["density"] == "fused"
    persistence = idata.posterior["persistence"].values
    assert persistence.shape[:2] == (2, 60) and np.isfinite(persistence).all()
    assert np.ptp(persistence) > 0


@pytest.mark.fit  # compiles the model's log density and gradient (PyTensor)
def test_fused_density_equals_the_pymc_model_from_poisson_to_very_overdispersed_counts() -> None:
    """Every count series at one over-dispersion, from none (alpha at its ceiling: the model's
    initial point) through the switch to Stirling's series (alpha 10) to alpha 0.25, and with
    the ceiling at 1e12 (Poisson to twelve digits): the kernel's density and gradient still equal
    the graph's, and both stay finite."""
    import dataclasses

    shipped = _shipped_design()
    poisson = dataclasses.replace(shipped, priors=shipped.priors.replace(count_dispersion_max=1e12))
    for design in (shipped, poisson):
        model = build_model(design)
        arguments = density.kernel_arguments(design, model)
        at = density.structure(design, model)
        v = density.VALUE_VARIABLES.index("count_overdispersion_unfolded")
        start, end = at.offsets[v], at.ends[v]
        pymc = _pymc(model)
        for overdispersion in (0.0, 1e-7, 1e-3, 0.05, 0.3162, 0.32, 2.0):
            for flat, _ in _points(model, 2, seed=21):
                flat[start:end] = overdispersion
                grad = np.empty_like(flat)
                logp = density.logp_and_grad(flat, grad, *arguments)
                where = f"over-dispersion {overdispersion}, ceiling {design.priors.count_dispersion_max:g}"
                assert np.isfinite(logp) and np.isfinite(grad).all(), where
                expected_logp, expected_grad = pymc(flat.copy())
                np.testing.assert_allclose(grad, expected_grad, rtol=1e-7, atol=1e-7, err_msg=where)
                assert logp == pytest.approx(expected_logp, abs=1e-4), where


@pytest.mark.parametrize("alpha", [0.3, 2.0, 9.999, 10.0, 37.0, 1e3, 1e6, 1e12])
@pytest.mark.parametrize("y", [0.0, 1.0, 7.0, 23.5, 851.0])
def test_count_likelihood_is_the_negative_binomial_and_tends_to_the_poisson(alpha: float, y: float) -> None:
    from scipy import stats

    from models.families.count import count_loglik
    from models.likelihood import NUMPY

    mu = 480.0 if y > 100 else 3.2
    lp = float(
        count_loglik(
            NUMPY,
            np.array([mu]),
            np.array([1.0]),
            np.array(y),
            np.array(alpha),
            log_y_factorial=special.gammaln(y + 1.0),
        )
    )
    if alpha <= 1e6:  # SciPy's own negative binomial keeps about 9 digits there
        p = alpha / (alpha + mu)
        reference = (
            special.gammaln(y + alpha)
            - special.gammaln(alpha)
            - special.gammaln(y + 1.0)
            + alpha * np.log(p)
            + y * np.log1p(-p)
        )
        assert lp == pytest.approx(reference, abs=1e-9 if alpha < 1e6 else 1e-6)
    else:
        assert lp == pytest.approx(
            stats.poisson.logpmf(y, mu) if y == int(y) else y * np.log(mu) - mu - special.gammaln(y + 1.0), abs=1e-6
        )
