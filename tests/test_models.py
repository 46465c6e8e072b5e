"""The model room: design matrices, the PyMC model, forecasts (build-only and fake-posterior tiers)."""

from __future__ import annotations

from datetime import date

import arviz as az
import numpy as np
import pandas as pd
import pytest

from indicators.case import load_case, shipped_case_path
from indicators.resources import data_path
from indicators.reviews import shipped_reviews
from models.design import build_design, genuine_probability
from models.forecast import draws_of, outcome_forecasts
from models.grid import Grid
from models.simulate import simulate_observations, synthetic_case


def shipped_frame() -> pd.DataFrame:
    obs = pd.read_csv(data_path("observations", "northern_territories.csv"))
    obs["id"] = np.arange(1, len(obs) + 1)
    obs["date"] = pd.to_datetime(obs["date"])
    obs["end"] = pd.to_datetime(obs["end"]).fillna(obs["date"])
    return obs


def test_grid_fiscal_year_covers_four_quarters_exactly() -> None:
    grid = Grid.for_case(date(2010, 1, 1), date(2025, 12, 31))
    cells, weights = grid.coverage(date(2016, 4, 1), date(2017, 3, 31))
    assert list(cells) == [grid.cell_of(date(2016, 4, 1)) + k for k in range(4)]
    np.testing.assert_allclose(weights, 1.0)
    assert grid.n_cells % 8 == 0 and grid.as_of_cell == 63
    assert grid.labels[0] == "2010Q1" and grid.labels[63] == "2025Q4"


def test_events_become_counts_per_quarter_with_zeros_inside_coverage() -> None:
    loaded = load_case(shipped_case_path())
    frame = shipped_frame()
    design = build_design(loaded.case, frame, as_of=date(2025, 12, 31), reviewed=shipped_reviews(loaded.case.id))
    rows = design.rows[design.rows.indicator == "leader_summit"]
    # coverage 2012-05-07 .. reviewed through 2025-12-31: one row per quarter from 2012Q2 to 2025Q4
    assert len(rows) == (2025 - 2012) * 4 + 3
    assert rows["value"].sum() == frame.loc[frame.indicator == "leader_summit", "value"].sum()
    assert (rows.loc[rows.start >= "2020-01-01", "value"] == 0).all()  # no summit after 2019
    # an indicator whose record ends (coverage_end) has no rows after it
    dep = design.rows[design.rows.indicator == "island_deployment"]
    assert dep["end"].max() <= pd.Timestamp("2023-12-31")


def test_as_of_excludes_later_observations() -> None:
    loaded = load_case(shipped_case_path())
    frame = shipped_frame()
    as_of = date(2017, 6, 30)
    design = build_design(loaded.case, frame, as_of=as_of)
    assert design.rows["end"].max() <= pd.Timestamp(as_of)
    later = frame[frame["end"] > pd.Timestamp(as_of)]
    assert design.n_observations == len(frame) - len(later)
    excluded = {i for i, _ in design.excluded}
    assert excluded == set(later["id"])
    # japan_hardline_shift resolved 2022-02-23: not yet as of 2017, so at risk with no event
    o = loaded.case.outcome_ids.index("japan_hardline_shift")
    assert design.outcome_event[o].sum() == 0
    assert design.outcome_at_risk[o].sum() == design.grid.as_of_cell + 1


def test_reliability_grades_order_trust() -> None:
    grades = [genuine_probability(g, 2) for g in "ABCD"]
    assert grades == sorted(grades, reverse=True)
    assert genuine_probability("F", 2) < genuine_probability("A", 2)
    assert genuine_probability("B", 5) < genuine_probability("B", 1)


def test_adding_an_observation_changes_data_not_shapes() -> None:
    loaded = load_case(shipped_case_path())
    frame = shipped_frame()
    before = build_design(loaded.case, frame, as_of=date(2025, 12, 31))
    extra = frame.iloc[[0]].copy()
    extra["id"] = 10_000
    extra["date"] = extra["end"] = pd.Timestamp("2025-11-01")
    extra["indicator"] = "island_exercise"
    after = build_design(loaded.case, pd.concat([frame, extra]), as_of=date(2025, 12, 31))
    assert before.shape_key() == after.shape_key()
    assert before.data_hash != after.data_hash


@pytest.mark.fit  # builds the model and evaluates its log density and gradient (PyTensor)
@pytest.mark.parametrize("which", ["shipped", "synthetic"])
def test_model_builds_with_finite_logp_and_gradient(which: str) -> None:
    from models import density
    from models.model import build_model

    if which == "shipped":
        case = load_case(shipped_case_path()).case
        frame, as_of = shipped_frame(), date(2025, 12, 31)
    else:
        case = synthetic_case(n_factors=2, n_indicators=6)
        as_of = date(2020, 6, 30)
        frame, _ = simulate_observations(case, as_of=as_of, seed=3)
    design = build_design(case, frame, as_of=as_of)
    model = build_model(design)
    point = model.initial_point()
    flat = np.concatenate([point[model.rvs_to_values[rv].name].ravel() for rv in model.free_RVs])
    # the graph as PyMC states it, by PyTensor's Python backend (no C compile; models.density.reference)
    logp, grad = density.reference(model)(flat)
    assert np.isfinite(logp) and grad.shape == flat.shape
    assert np.isfinite(grad).all()
    assert list(model.coords["factor"]) == case.factor_ids
    assert list(model.coords["indicator"]) == case.indicator_ids
    assert model.named_vars_to_dims["loading"] == ("indicator", "factor")


def test_ar1_paths_follow_the_recursion_exactly() -> None:
    """The doubling scan gives f[t] = phi f[t-1] + sqrt(1 - phi^2) z[t], with f[0] = z[0]."""
    import pytensor.tensor as pt

    from models.model import ar1_paths

    rng = np.random.default_rng(4)
    phi = np.array([0.3, 0.9, 0.995])
    z = rng.normal(size=(3, 75))  # not a power of two, so the last doubling step is partial
    expected = np.zeros_like(z)
    expected[:, 0] = z[:, 0]
    for t in range(1, z.shape[1]):
        expected[:, t] = phi * expected[:, t - 1] + np.sqrt(1 - phi**2) * z[:, t]
    got = ar1_paths(pt.as_tensor(phi), pt.as_tensor(z), z.shape[1]).eval()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_signed_loadings_keep_their_halfnormal_prior() -> None:
    """A signed loading is sampled unfolded, as |Normal(0, 1)|: the prior is still HalfNormal(1)."""
    import pymc as pm
    from scipy import stats

    from models.model import build_model

    case = synthetic_case(n_factors=2, n_indicators=6)
    frame, _ = simulate_observations(case, as_of=date(2020, 6, 30), seed=3)
    model = build_model(build_design(case, frame, as_of=date(2020, 6, 30)))
    draws = pm.draw(model["loading"], draws=4000, random_seed=1)  # (draws, I, K)
    signed = draws[:, 0, 0]  # ind_0 loads positive on factor_0
    assert (signed >= 0).all()
    assert stats.kstest(signed, stats.halfnorm(scale=1.0).cdf).pvalue > 0.01
    assert (draws[:, 0, 1] == 0).all()  # no loading where the case names none


def test_capacity_pads_large_families_by_at_most_a_quarter() -> None:
    from models.design import capacity

    assert [capacity(n) for n in (0, 1, 16, 17, 100, 256)] == [16, 16, 16, 32, 128, 256]
    for n in range(257, 5000, 7):
        assert n <= capacity(n) <= 1.25 * n + 1
    assert capacity(685) == capacity(685 + 80) == 768  # a year of new rows fits the same shapes


def test_diagnostics_judge_unrounded_r_hat() -> None:
    """R-hat 1.012 fails the 1.01 check (a summary rounded to two decimals would show 1.01)."""
    from models.fit import diagnostics

    rng = np.random.default_rng(0)
    base = rng.normal(size=(2, 2000))
    for shift in np.linspace(0.0, 0.5, 101):
        x = base + np.array([[0.0], [shift]])
        rhat = float(az.rhat(x))
        if 1.011 < rhat < 1.015:
            break
    else:
        pytest.fail("no shift gave an R-hat between 1.011 and 1.015")
    idata = az.from_dict(
        posterior={"persistence": x, "innovation": base[:, :, None]},
        sample_stats={"diverging": np.zeros((2, 2000), dtype=bool), "energy": rng.normal(size=(2, 2000))},
    )
    diag = diagnostics(idata)
    assert diag["max_rhat"] == pytest.approx(rhat, abs=1e-4)
    assert not diag["ok"] and any("R-hat" in p for p in diag["problems"])


def test_diagnostics_judge_factor_states_through_the_as_of_quarter_not_innovations() -> None:
    """Chains that disagree about a factor state in an observed quarter fail the run; the same
    disagreement in a quarter after the as-of date (no data), or in one innovation, does not."""
    from models.fit import diagnostics

    rng = np.random.default_rng(1)
    shape = (2, 1000)

    def idata(states: np.ndarray, innovation: np.ndarray):
        return az.from_dict(
            posterior={"persistence": rng.normal(size=shape + (1,)), "factor_state": states, "innovation": innovation},
            sample_stats={"diverging": np.zeros(shape, dtype=bool), "energy": rng.normal(size=shape)},
            dims={"persistence": ["factor"], "factor_state": ["factor", "period"], "innovation": ["factor", "period"]},
        )

    def stuck_at(period: int) -> np.ndarray:
        x = rng.normal(size=shape + (1, 8))
        x[1, :, 0, period] += 0.5  # the second chain sits elsewhere in this quarter
        return x

    clean = rng.normal(size=shape + (1, 8))
    observed = diagnostics(idata(stuck_at(3), clean), observed_periods=6)
    assert not observed["ok"] and observed["max_rhat"] > 1.05
    assert observed["failing"][0].startswith("factor_state[0, 3] (R-hat 1.")  # it says which quantity
    future = diagnostics(idata(stuck_at(7), clean), observed_periods=6)
    assert future["ok"] and future["max_rhat"] < 1.01, future
    innovation = diagnostics(idata(clean, stuck_at(3)), observed_periods=6)
    assert innovation["ok"], innovation
    everything = diagnostics(idata(stuck_at(7), clean))  # no as-of quarter given: every state counts
    assert not everything["ok"]


def test_fit_settings_name_mass_matrix_options_nutpie_accepts() -> None:
    """The default asks nutpie for the variance-based diagonal mass matrix (nutpie's own default
    is gradient-based) estimated over 400-draw windows, shorter when tuning is short; the low-rank
    option carries its cutoff. Each option is set on the nutpie settings object that
    ``nutpie.sample`` would build, so a renamed option fails here."""
    from nutpie import _lib

    from models.fit import FitSettings, _mass_matrix_options

    windows = {"window_switch_freq": 400, "mass_matrix_switch_freq": 400}
    default = _mass_matrix_options(FitSettings())
    assert default == {"use_grad_based_mass_matrix": False, **windows}
    low_rank = _mass_matrix_options(FitSettings(low_rank_mass_matrix=True, mass_matrix_eigval_cutoff=10.0))
    assert low_rank == {"low_rank_modified_mass_matrix": True, "mass_matrix_eigval_cutoff": 10.0, **windows}
    assert _mass_matrix_options(FitSettings(tune=600))["window_switch_freq"] == 200
    assert _mass_matrix_options(FitSettings(tune=100))["mass_matrix_switch_freq"] == 80
    for options in (default, low_rank):
        options = dict(options)
        kind = (
            _lib.PyNutsSettings.LowRank
            if options.pop("low_rank_modified_mass_matrix", False)
            else _lib.PyNutsSettings.Diag
        )
        nuts = kind(1)
        for name, value in options.items():
            setattr(nuts, name, value)
            assert getattr(nuts, name) == value


def test_fit_settings_load_without_the_sampler() -> None:
    """The fit defaults have one definition (models.settings) that the command line and the
    dashboard read without loading PyMC, so `harbinger --help` and the pages start quickly."""
    import subprocess
    import sys

    code = (
        "import sys, dashboard.services.runs as r, dashboard.cli.main; "
        "print(sorted(m for m in ('pymc', 'pytensor', 'nutpie') if m in sys.modules)); print(r.DEFAULT_SETTINGS)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "[]"
    from models.settings import FitSettings

    keys = ("draws", "tune", "chains", "seed", "sampler", "min_draws", "warm_tune")
    assert out[1] == str({k: getattr(FitSettings(), k) for k in keys})


def test_sampler_progress_is_read_only_for_a_listener_and_at_most_every_few_seconds(monkeypatch) -> None:
    """Reading nutpie's progress copies the trace so far on the sampling cores: without a
    listener (and no early stop: these settings are too short for one) it is never read, with
    one at most every ``READ_EVERY_S`` seconds, and the listener hears how many draws are done."""
    import time
    from types import SimpleNamespace

    import nutpie

    from models import fit

    class Running:
        """A stand-in for nutpie's background sampler that finishes after ``seconds``."""

        def __init__(self, seconds: float) -> None:
            self.until, self.reads = time.monotonic() + seconds, 0

        @property
        def is_finished(self) -> bool:
            return time.monotonic() >= self.until

        def inspect(self) -> az.InferenceData:
            self.reads += 1
            return az.from_dict(posterior={"x": np.zeros((2, 30))})

        def wait(self) -> az.InferenceData:
            return az.from_dict(posterior={"x": np.zeros((2, 100))})

    compiled = SimpleNamespace(
        nutpie_model=lambda design, used, report, whitening=None: "model with data",
        density_used=lambda requested: requested,
        expanded=lambda idata, design: idata,
    )
    monkeypatch.setattr(fit, "compiled_for", lambda design, sampler: compiled)
    monkeypatch.setattr(fit, "PROGRESS_EVERY_S", 0.5)
    monkeypatch.setattr(fit, "READ_EVERY_S", 0.5)
    design = SimpleNamespace(data=dict)
    settings = fit.FitSettings(draws=100, tune=100)
    runs: list[Running] = []

    def start(*args, **kwargs):
        runs.append(Running(1.6))
        return runs[-1]

    monkeypatch.setattr(nutpie, "sample", start)
    fit.sample(design, settings)
    assert runs[-1].reads == 0
    heard: list[str] = []
    fit.sample(design, settings, progress=lambda fraction, message: heard.append(message))
    assert 1 <= runs[-1].reads <= 3
    assert "sampling: 60 of 400 draws" in heard and heard[-1] == "sampling done"


def _fake_posterior(design, *, chains: int = 2, draws: int = 50, seed: int = 0) -> az.InferenceData:
    rng = np.random.default_rng(seed)
    K, T = len(design.factor_ids), design.grid.n_cells
    I, O = len(design.indicator_ids), len(design.outcome_ids)
    shape = (chains, draws)
    return az.from_dict(
        posterior={
            "factor_state": rng.normal(size=shape + (K, T)),
            "persistence": rng.uniform(0.8, 0.95, size=shape + (K,)),
            "loading": rng.normal(size=shape + (I, K)),
            "intercept": rng.normal(size=shape + (I,)),
            "hazard_intercept": rng.normal(-4, 0.5, size=shape + (O,)),
            "hazard_effect": rng.normal(0, 0.5, size=shape + (O, K)),
        }
    )


def test_forecasts_are_probabilities_that_never_decrease_with_horizon() -> None:
    loaded = load_case(shipped_case_path())
    design = build_design(loaded.case, shipped_frame(), as_of=date(2017, 6, 30))
    draws = draws_of(design, _fake_posterior(design))
    outcomes, prob = outcome_forecasts(design, draws, seed=1)
    for o in outcomes:
        assert not o["resolved"]  # as of 2017 nothing was resolved yet
        means = [h["p_mean"] for h in o["horizons"]]
        assert means == sorted(means)
        for h in o["horizons"]:
            assert 0.0 <= h["p_05"] <= h["p_25"] <= h["p_50"] <= h["p_75"] <= h["p_95"] <= 1.0
            assert h["mcse"] > 0
    assert prob.sizes["outcome_horizon"] == 4 * len(outcomes)


def test_resolved_outcome_is_not_forecast() -> None:
    loaded = load_case(shipped_case_path())
    design = build_design(loaded.case, shipped_frame(), as_of=date(2025, 12, 31))
    outcomes, _ = outcome_forecasts(design, draws_of(design, _fake_posterior(design)), seed=1)
    hard = next(o for o in outcomes if o["id"] == "japan_hardline_shift")
    assert hard["resolved"] and hard["horizons"] == [] and hard["resolution_date"] == "2022-02-23"
