"""A refit starts from an earlier posterior (models.warm_start, models.compiled.Whitening): the
sampler's coordinates are whitened by it and its density is the model's, unchanged."""

from __future__ import annotations

import json
from datetime import date

import arviz as az
import numpy as np
import pytest
import xarray as xr

from models import compiled, density, warm_start
from models.design import build_design
from models.model import build_model
from models.simulate import simulate_observations, synthetic_case


def _design(as_of: date):
    case = synthetic_case(n_factors=2, n_indicators=4, families=("count_events", "binary", "continuous"), n_outcomes=1)
    frame, _ = simulate_observations(case, as_of=as_of, seed=3)
    return build_design(case, frame, as_of=as_of)


@pytest.fixture
def mass_matrices(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each nutpie fit started in the test was asked for the gradient-based mass matrix."""
    import nutpie

    asked: list[bool] = []
    sample = nutpie.sample

    def recorded(*args, **kwargs):
        asked.append(kwargs["use_grad_based_mass_matrix"])
        return sample(*args, **kwargs)

    monkeypatch.setattr(nutpie, "sample", recorded)
    return asked


def test_a_whitening_maps_points_both_ways() -> None:
    rng = np.random.default_rng(1)
    w = compiled.Whitening(rng.normal(size=5), rng.uniform(0.1, 3, size=5), np.zeros((0, 5)))
    x = rng.normal(size=(3, 5))
    np.testing.assert_allclose(w.to_model(w.to_sampler(x)), x)
    assert compiled.Whitening.identity(5).is_identity and not w.is_identity


@pytest.mark.fit
def test_the_whitened_density_is_the_models_at_the_mapped_point() -> None:
    """nutpie's callback in whitened coordinates: log p(shift + scale z), gradient scale * grad."""
    design = _design(date(2016, 12, 31))
    model = build_model(design)
    initial = compiled.initial_point_function(model)
    plain = compiled.fused_model(design, model, initial)
    rng = np.random.default_rng(2)
    n = plain.n_dim
    w = compiled.Whitening(rng.normal(scale=0.3, size=n), rng.uniform(0.2, 2.0, size=n), np.zeros((0, n)))
    whitened = compiled.fused_model(design, model, initial, whitening=w)
    assert whitened.compiled_logp_func is plain.compiled_logp_func  # one callback for both
    at_x, at_z = density.evaluator(plain), density.evaluator(whitened)
    for _ in range(3):
        z = rng.normal(scale=0.5, size=n)
        lp_x, g_x = at_x(w.to_model(z))
        lp_z, g_z = at_z(z)
        assert lp_z == pytest.approx(lp_x, rel=1e-12)
        np.testing.assert_allclose(g_z, w.scale * g_x, rtol=1e-10, atol=1e-12)
    # the chains start from the earlier draws, in the sampler's coordinates
    starts = rng.normal(size=(4, n))
    w = compiled.Whitening(w.shift, w.scale, starts)
    point = compiled.fused_model(design, model, initial, whitening=w).initial_point_func(7)
    assert any(np.allclose(w.to_model(point), s) for s in starts)


def test_an_earlier_posterior_is_matched_by_name_and_coordinate() -> None:
    """A new quarter's innovations and a variable the earlier fit lacked get their prior's scale
    and start at 0; an unfolded coordinate is whitened by its magnitude."""
    names = ["innovation", "loading_unfolded", "count_overdispersion_unfolded"]
    shapes = [(2, 3), (2,), (1,)]
    slices = [slice(0, 6), slice(6, 8), slice(8, 9)]
    coords = {"factor": ["a", "b"], "period": ["q1", "q2", "q3"]}
    rng = np.random.default_rng(3)
    draws = (2, 50)
    innovation = 5.0 + 0.5 * rng.normal(size=(*draws, 2, 2))
    loading = np.where(rng.uniform(size=(*draws, 2)) < 0.5, -1.0, 1.0) * (2.0 + 0.1 * rng.normal(size=(*draws, 2)))
    earlier = xr.Dataset(
        {
            "innovation": (("chain", "draw", "factor", "period"), innovation),
            "loading_unfolded": (("chain", "draw", "loading_unfolded_dim_0"), loading),
        },
        coords={"factor": ["a", "b"], "period": ["q1", "q2"]},
    )
    w = warm_start.whitening(earlier, (names, slices, shapes), coords, seed=1)
    assert w is not None
    shift = w.shift[:6].reshape(2, 3)
    scale = w.scale[:6].reshape(2, 3)
    np.testing.assert_allclose(shift[:, :2], innovation.mean(axis=(0, 1)))
    np.testing.assert_allclose(scale[:, :2], innovation.std(axis=(0, 1)))
    np.testing.assert_array_equal(shift[:, 2], 0.0)  # the new quarter: its prior
    np.testing.assert_array_equal(scale[:, 2], 1.0)
    np.testing.assert_allclose(w.shift[6:8], np.abs(loading).mean(axis=(0, 1)))  # one mode, not between
    assert w.shift[8] == 0.0 and w.scale[8] == 1.0  # not in the earlier posterior
    assert w.starts.shape == (warm_start.STARTS, 9)
    assert np.isfinite(w.starts).all() and (w.starts[:, [2, 5, 8]] == 0.0).all()
    # nothing in common: no warm start
    assert (
        warm_start.whitening(
            earlier.rename({"innovation": "x", "loading_unfolded": "y"}), (names, slices, shapes), coords
        )
        is None
    )


def test_draws_in_whitened_coordinates_are_returned_in_the_models() -> None:
    """nutpie's draws of a whitened model, mapped back variable by variable."""

    class Fused:
        shape_info = (["a", "b"], [slice(0, 2), slice(2, 3)], [(2,), ()])
        whitening = compiled.Whitening(np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0]), np.zeros((0, 3)))

    rng = np.random.default_rng(4)
    za, zb = rng.normal(size=(2, 5, 2)), rng.normal(size=(2, 5))
    idata = az.from_dict(posterior={"a": za, "b": zb})
    out = compiled.to_model(idata, Fused())  # type: ignore[arg-type]
    np.testing.assert_allclose(out.posterior["a"].values, [1.0, 2.0] + np.array([10.0, 20.0]) * za)
    np.testing.assert_allclose(out.posterior["b"].values, 3.0 + 30.0 * zb)
    np.testing.assert_array_equal(idata.posterior["a"].values, za)  # the input is left as it was


@pytest.mark.fit
def test_harbinger_fit_starts_from_the_current_run_when_it_is_near(fitted_home, cli, mass_matrices) -> None:
    """``harbinger fit`` after a run: its first attempt starts from that run's posterior, with the
    warm-up of ``--warm-tune`` (never more than ``--tune``) and the mass matrix of
    ``FitSettings.warm_grad_based_mass_matrix`` (the draws' variances, as a fit from the prior);
    ``--warm-tune 0`` and a fit a year away start from the prior."""
    import re

    from tests.fits import fit_args

    def fit(*extra: str) -> tuple[az.InferenceData, dict]:
        """The new run's posterior and the diagnostics its forecast document (and so every page
        and report) shows."""
        result = cli("fit", *fit_args(), *extra)
        run = fitted_home / "runs" / re.search(r"run (r\S+) \(as of", result.output).group(1)
        diagnostics = json.loads((run / "forecast.json").read_text())["diagnostics"]
        return az.from_netcdf(str(run / "posterior.nc")), diagnostics

    warm, diagnostics = fit()
    assert warm.posterior.attrs["warm_start"] == 1
    assert warm.posterior.attrs["tune"] == 60  # the tiny fit's --tune, below the default --warm-tune
    assert diagnostics["warm_start"] is True and diagnostics["tune"] == 60
    cold, diagnostics = fit("--warm-tune", "0")
    assert cold.posterior.attrs["warm_start"] == 0
    assert diagnostics["warm_start"] is False
    far, _ = fit("--as-of", "2024-06-30")
    assert far.posterior.attrs["warm_start"] == 0
    assert mass_matrices == [False, False, False]  # the draws' variances, warm or not


@pytest.mark.fit
def test_a_warm_start_estimates_its_mass_matrix_as_its_settings_say(mass_matrices) -> None:
    """``FitSettings.warm_grad_based_mass_matrix`` is the warm start's choice alone: a fit from
    the prior keeps ``grad_based_mass_matrix``."""
    from models.fit import FitSettings, sample

    design = _design(date(2016, 12, 31))
    tiny = FitSettings(draws=60, tune=60, min_draws=0, warm_tune=30, warm_grad_based_mass_matrix=True)
    earlier = sample(design, tiny)
    warm = sample(design, tiny, warm_start=earlier.posterior)
    assert warm.posterior.attrs["warm_start"] == 1 and warm.posterior.attrs["tune"] == 30
    assert mass_matrices == [False, True]
