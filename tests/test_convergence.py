"""The vectorised convergence statistics agree with ArviZ's, quantity by quantity."""

import arviz as az
import numpy as np
import pytest
import xarray as xr

from models import convergence


def _arviz(draws: np.ndarray) -> dict[str, np.ndarray]:
    data = xr.Dataset({"x": (("chain", "draw", "q"), np.moveaxis(draws, 0, 2))})
    table = az.summary(data, kind="diagnostics", round_to="none")
    return {name: table[name].to_numpy() for name in ("r_hat", "ess_bulk", "ess_tail")}


def _ar1(rng: np.random.Generator, n_chains: int, n_draws: int, rho: float) -> np.ndarray:
    noise = rng.normal(size=(n_chains, n_draws))
    out = np.empty_like(noise)
    out[:, 0] = noise[:, 0]
    for t in range(1, n_draws):
        out[:, t] = rho * out[:, t - 1] + np.sqrt(1 - rho**2) * noise[:, t]
    return out


def _mixed_quantities(n_chains: int, n_draws: int) -> np.ndarray:
    rng = np.random.default_rng(11)
    quantities = [
        rng.normal(size=(n_chains, n_draws)),  # independent draws
        _ar1(rng, n_chains, n_draws, 0.9),  # autocorrelated
        _ar1(rng, n_chains, n_draws, 0.995),  # barely mixing
        _ar1(rng, n_chains, n_draws, 0.5) + np.arange(n_chains)[:, None],  # chains disagree
        np.exp(3 * rng.normal(size=(n_chains, n_draws))),  # heavy right tail
        rng.integers(0, 3, size=(n_chains, n_draws)).astype(float),  # many ties
        (rng.random((n_chains, n_draws)) < 0.03).astype(float),  # a rare binary event
        np.zeros((n_chains, n_draws)),  # no spread (absent loading)
        -_ar1(rng, n_chains, n_draws, -0.6),  # anticorrelated draws
    ]
    return np.stack(quantities)


@pytest.mark.parametrize("n_chains,n_draws", [(2, 1500), (4, 301), (2, 40)])
def test_rhat_and_ess_match_arviz_summary(n_chains, n_draws):
    draws = _mixed_quantities(n_chains, n_draws)
    ours, theirs = convergence.summary(draws), _arviz(draws)
    for name in ("r_hat", "ess_bulk", "ess_tail"):
        assert np.array_equal(np.isnan(ours[name]), np.isnan(theirs[name])), name
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-9, equal_nan=True, err_msg=name)
    # the cases are not all alike: the test would notice a statistic that ignored its input
    assert np.nanmax(ours["r_hat"]) > 1.1 and np.nanmin(ours["ess_bulk"]) < 100 < np.nanmax(ours["ess_bulk"])


def test_a_quantity_with_a_missing_draw_has_no_statistics_and_spoils_no_other():
    draws = _mixed_quantities(2, 200)
    draws[1, 0, 17] = np.nan
    out = convergence.summary(draws)
    assert all(np.isnan(out[name][1]) for name in out)
    clean = convergence.summary(np.delete(draws, 1, axis=0))
    for name in out:
        np.testing.assert_allclose(np.delete(out[name], 1), clean[name], equal_nan=True)


def test_one_chain_has_ess_but_no_rhat():
    draws = _mixed_quantities(1, 300)
    out, theirs = convergence.summary(draws), _arviz(draws)
    assert np.isnan(out["r_hat"]).all()
    np.testing.assert_allclose(out["ess_bulk"], theirs["ess_bulk"], rtol=1e-9)
