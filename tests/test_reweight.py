"""PSIS reweighting (models/reweight.py): weights, the two kinds of rows, extended designs, and
the fast-update API on a saved run. Mostly on fake posteriors (az.from_dict); one tiny real fit
(tests/scenario_support.py) for the saved-run API and the planted outlier's surprise flag."""

from __future__ import annotations

import json
import os
from datetime import date
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import pytest

from models.design import build_design
from models.forecast import draws_of, outcome_forecasts
from models.reweight import (
    Conditioner,
    as_frame,
    design_loglik,
    extended_design,
    future_loglik,
    future_rows,
    psis,
    rebuild,
    reweighted_forecast,
    weighted_mcse,
    weighted_quantiles,
)
from models.simulate import simulate_observations, synthetic_case

AS_OF = date(2016, 6, 30)


def fake_idata(design: Any, *, chains: int = 2, draws: int = 100, seed: int = 0) -> az.InferenceData:
    """A fake posterior with every variable the forecasts read, of the right shapes."""
    rng = np.random.default_rng(seed)
    K, T = len(design.factor_ids), design.grid.n_cells
    I, O = len(design.indicator_ids), len(design.outcome_ids)
    fam = design.family_indicators
    s = (chains, draws)
    post = {
        "factor_state": rng.normal(size=s + (K, T)),
        "persistence": rng.uniform(0.8, 0.95, size=s + (K,)),
        "loading": np.abs(rng.normal(size=s + (I, K))),
        "intercept": rng.normal(size=s + (I,)),
        "hazard_intercept": rng.normal(-4, 0.5, size=s + (O,)),
        "hazard_effect": rng.normal(0.5, 0.3, size=s + (O, K)),
        "count_dispersion": rng.uniform(5, 30, size=s + (len(fam["count"]),)),
        "continuous_sigma": rng.uniform(0.5, 1.0, size=s + (len(fam["continuous"]),)),
        "proportion_kappa": rng.uniform(10, 30, size=s + (len(fam["proportion"]),)),
        "ordinal_cut": np.sort(rng.normal(size=s + (len(fam["ordinal"]), 2)), axis=-1),
    }
    return az.from_dict(posterior=post)


@pytest.fixture(scope="module")
def setup() -> dict[str, Any]:
    case = synthetic_case(n_factors=2, n_indicators=6)
    frame, _ = simulate_observations(case, as_of=AS_OF, seed=3)
    design = build_design(case, frame, as_of=AS_OF)
    idata = fake_idata(design)
    return {"case": case, "frame": frame, "design": design, "idata": idata, "draws": draws_of(design, idata)}


def test_baseline_reproduces_the_runs_forecast_exactly(setup: dict[str, Any]) -> None:
    design, draws = setup["design"], setup["draws"]
    ref, _ = outcome_forecasts(design, draws, seed=5)
    base = Conditioner(design, draws, observations=setup["frame"], seed=5).baseline()
    # the run's elicitation summary (prior against posterior) belongs to the run, not to a reweighting
    assert base.outcomes == [{k: v for k, v in o.items() if k != "elicitation"} for o in ref]
    assert all("elicitation" in o for o in ref if not o["resolved"])


def test_nothing_changed_means_uniform_weights_and_the_same_forecast(setup: dict[str, Any]) -> None:
    c = Conditioner(setup["design"], setup["draws"], observations=setup["frame"], seed=5)
    change, _ = c.loglik_change(setup["frame"])
    assert np.all(change == 0.0)
    same = c.condition(observations_after=setup["frame"])
    assert (
        same.khat == 0.0
        and same.outcomes[0]["horizons"][0]["p_mean"] == c.baseline().outcomes[0]["horizons"][0]["p_mean"]
    )


def test_rebuild_keeps_the_runs_scales(setup: dict[str, Any]) -> None:
    design, frame = setup["design"], setup["frame"]
    extra = as_frame([{"indicator": "ind_2", "date": "2016-05-01", "value": 9.0}])
    new = rebuild(design, pd.concat([frame, extra], ignore_index=True))
    for name in ("continuous_centre", "continuous_scale", "count_log_rate_centre"):
        np.testing.assert_array_equal(new.constants[name], design.constants[name])
    n = design.families["continuous"].n_rows
    np.testing.assert_allclose(new.families["continuous"].y[:n], design.families["continuous"].y[:n], rtol=1e-12)


def test_a_past_event_joins_its_quarters_count(setup: dict[str, Any]) -> None:
    design, frame = setup["design"], setup["frame"]
    day = pd.Timestamp("2015-08-10")
    extra = as_frame([{"indicator": "ind_0", "date": day, "value": 2}])
    new = rebuild(design, pd.concat([frame, extra], ignore_index=True))
    rows_before = design.rows[
        (design.rows.indicator == "ind_0") & (design.rows.start <= day) & (design.rows.end >= day)
    ]
    rows_after = new.rows[(new.rows.indicator == "ind_0") & (new.rows.start <= day) & (new.rows.end >= day)]
    assert len(rows_before) == len(rows_after) == 1
    assert rows_after["value"].iloc[0] == rows_before["value"].iloc[0] + 2
    assert len(new.rows) == len(design.rows)  # no new row: the quarter's count changed


def test_the_two_row_paths_agree_on_a_past_level_observation(setup: dict[str, Any]) -> None:
    """A binary report in a past quarter: the design-rebuild path and the path used for future rows
    (draw states at past cells) give the same log-likelihood change, draw by draw."""
    design, frame, draws = setup["design"], setup["frame"], setup["draws"]
    extra = as_frame(
        [
            {
                "indicator": "ind_3",
                "date": "2015-11-03",
                "end": "2016-02-20",
                "value": 1,
                "reliability": "C",
                "credibility": 3,
            }
        ]
    )
    via_rebuild = design_loglik(rebuild(design, pd.concat([frame, extra], ignore_index=True)), draws) - design_loglik(
        design, draws
    )
    rows = future_rows(design, extra)
    paths = np.zeros((draws.n, 3, 2, 4))
    via_rows = future_loglik(design, draws, paths, rows)
    np.testing.assert_allclose(via_rows, np.repeat(via_rebuild[:, None], 3, axis=1), rtol=1e-10, atol=1e-10)
    # and that is the mixture likelihood of the row, computed by hand for draw 0
    eta = draws.eta()[0]
    cells, weights = rows.data["binary_cells"][0], rows.data["binary_weights"][0]
    m = (weights * eta[rows.cells[cells], 3]).sum()
    w = 0.85 * 0.9
    by_hand = np.log(w / (1 + np.exp(-m)) + (1 - w) * 0.5)
    assert via_rows[0, 0] == pytest.approx(by_hand, rel=1e-9)


def test_future_rows_use_the_paths_and_group_events_by_quarter(setup: dict[str, Any]) -> None:
    design, draws = setup["design"], setup["draws"]
    extra = as_frame(
        [
            {"indicator": "ind_0", "date": "2016-08-01", "value": 1},
            {"indicator": "ind_0", "date": "2016-09-15", "value": 1},
            {"indicator": "ind_0", "date": "2016-10-01", "end": "2017-09-30", "value": 0},
        ]
    )
    rows = future_rows(design, extra)
    assert rows.n_rows == 2
    grouped = rows.table[rows.table["end"] == pd.Timestamp("2016-09-30")].iloc[0]
    assert grouped["value"] == 2 and sorted(grouped["observation_ids"]) == [-2, -1]
    paths_a = np.zeros((draws.n, 2, 2, 8))
    paths_b = paths_a.copy()
    paths_b[:, 1, 0, :] = 2.0  # factor_0 high on the second path
    a, b = future_loglik(design, draws, paths_a, rows), future_loglik(design, draws, paths_b, rows)
    np.testing.assert_array_equal(a[:, 0], b[:, 0])
    assert not np.allclose(a[:, 1], b[:, 1])


def test_psis_weights_and_khat() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=4000)
    lw, k = psis(-0.5 * (x - 0.3) ** 2 + 0.5 * x**2)  # N(0, 1) draws reweighted to N(0.3, 1)
    w = np.exp(lw)
    assert w.sum() == pytest.approx(1.0) and k < 0.5
    assert (w * x).sum() == pytest.approx(0.3, abs=0.05)
    _, k_bad = psis(-0.5 * (x - 4.0) ** 2 + 0.5 * x**2)  # far in the tail: unreliable
    assert k_bad > 0.7
    lw, k = psis(np.full((5, 3), 2.0))
    assert k == 0.0 and np.allclose(np.exp(lw), 1 / 15)


def test_weighted_mcse_matches_the_spread_of_weighted_estimates_from_correlated_chains() -> None:
    """Self-normalised estimates from autocorrelated chains (AR(1), rho 0.95: about 40 draws per
    independent one) under uneven weights: the reported MCSE matches the spread of the estimates
    over 300 replications. An MCSE that ignored the autocorrelation would be about 6x too small."""
    rng = np.random.default_rng(3)
    reps, chains, n, rho = 300, 2, 500, 0.95
    e = rng.standard_normal((reps, chains, n))
    x = np.empty_like(e)
    x[..., 0] = e[..., 0]
    for t in range(1, n):
        x[..., t] = rho * x[..., t - 1] + np.sqrt(1 - rho**2) * e[..., t]
    x = x.reshape(reps, -1)
    p = 1 / (1 + np.exp(-x)) + 0.3 * rng.standard_normal(x.shape)
    w = np.exp(0.7 * x)
    w /= w.sum(axis=1, keepdims=True)
    means = (w * p).sum(axis=1)
    mcse = np.array([weighted_mcse(x.shape[1] * w[r] * (p[r] - means[r]), chains) for r in range(reps)])
    ratio = means.std(ddof=1) / np.sqrt(np.mean(mcse**2))
    assert 0.85 < ratio < 1.2, ratio
    # uniform weights: exactly the run's own MCSE
    grid = p[0].reshape(chains, -1)
    assert weighted_mcse(p[0] - p[0].mean(), chains) == pytest.approx(float(np.ravel(az.mcse(grid))[0]))
    assert weighted_mcse(np.zeros(10), 2) == 0.0


def test_weighted_quantiles_follow_the_weights() -> None:
    x = np.arange(10.0)
    w = np.full(10, 0.1)
    assert weighted_quantiles(x, w, [0.5])[0] == pytest.approx(4.5)
    w = np.zeros(10)
    w[[2, 8]] = 0.5
    lo, hi = weighted_quantiles(x, w, [0.05, 0.95])
    assert lo == pytest.approx(2.0) and hi == pytest.approx(8.0)


@pytest.mark.fit  # compiles the model's log density and gradient (PyTensor)
def test_extended_design_adds_future_rows_and_builds(setup: dict[str, Any]) -> None:
    from models.model import build_model

    design, frame = setup["design"], setup["frame"]
    extra = as_frame(
        [
            {"indicator": "ind_2", "date": "2019-01-10", "value": 1.0},
            {"indicator": "ind_0", "date": "2016-12-01", "value": 2},
        ]
    )
    ext = extended_design(design, frame, extra)
    assert ext.grid.n_cells > design.grid.n_cells and ext.grid.n_cells % 8 == 0
    assert ext.grid.as_of == design.as_of
    assert ext.outcome_at_risk.shape[1] == ext.grid.n_cells
    assert ext.outcome_at_risk[:, design.grid.as_of_cell + 1 :].sum() == 0
    assert ext.families["continuous"].n_rows == design.families["continuous"].n_rows + 1
    assert ext.families["count"].n_rows == design.families["count"].n_rows + 1
    model = build_model(ext)
    assert np.isfinite(model.compile_logp()(model.initial_point()))


def test_reweighted_forecast_api_on_a_saved_run(synthetic_home: Any) -> None:
    """The fast update the dashboard can show at once: a saved run conditioned on one new report."""
    from tests.scenario_support import CASE_ID

    f = synthetic_home
    from dashboard.services import analysis as sa
    from models.runs import load_posterior

    store = f.store()
    run = store.get_run(f.run_b)
    frame = sa.run_observations(store, run)
    case = store.get_case(CASE_ID).case
    idata = load_posterior(run["path"])
    as_of = run["as_of"]
    same, k0 = reweighted_forecast(case, idata, [], as_of, observations=frame)
    with open(os.path.join(run["path"], "forecast.json"), encoding="utf-8") as fh:
        saved = json.load(fh)
    assert k0 == 0.0
    assert [h["p_mean"] for h in same[0]["horizons"]] == [h["p_mean"] for h in saved["outcomes"][0]["horizons"]]

    # ind_4 (ordinal: low, mid, high) reflects factor_0, which raises outcome_0. A "high" report
    # must leave outcome_0 likelier than a "low" one (both reweight the same draws, so the
    # comparison does not hang on how far one report moves a small fit's Monte Carlo mean).
    def report(level: int) -> list[dict]:
        return [{"indicator": "ind_4", "date": as_of.isoformat(), "value": level, "reliability": "A", "credibility": 1}]

    moved, k = reweighted_forecast(case, idata, report(2), as_of, observations=frame)
    lowered, k_low = reweighted_forecast(case, idata, report(0), as_of, observations=frame)
    assert k <= 0.7 and k_low <= 0.7
    assert moved[0]["horizons"][0]["p_mean"] > lowered[0]["horizons"][0]["p_mean"]
    with pytest.raises(ValueError, match="observations"):
        reweighted_forecast(case, idata, report(2), as_of)
    store.close()


def test_planted_outlier_is_flagged(synthetic_home: Any) -> None:
    """25 events in one quarter of a series averaging under 2: flagged as a surprise in the run,
    in `observe list` (beside its reliability grade) and in the Indicators table."""
    from click.testing import CliRunner

    from dashboard.cli.main import main

    f = synthetic_home
    store = f.store()
    with open(os.path.join(store.get_run(f.run_b)["path"], "forecast.json"), encoding="utf-8") as fh:
        forecast = json.load(fh)
    rows = [r for ind in forecast["indicators"] for r in ind["rows"] if f.outlier_id in r["observation_ids"]]
    assert len(rows) == 1 and rows[0]["surprise"] is True and rows[0]["p_at_least"] < 0.025
    flagged = sum(r["surprise"] for ind in forecast["indicators"] for r in ind["rows"])
    total = sum(len(ind["rows"]) for ind in forecast["indicators"])
    assert flagged < 0.15 * total  # flags stay rare

    out = CliRunner().invoke(main, ["observe", "list", "--indicator", "ind_0", "--format", "json"])
    assert out.exit_code == 0, out.stderr
    listed = json.loads(out.stdout)
    cols = list(listed[0])
    assert cols.index("surprise") == cols.index("credibility") + 1 and cols.index("reliability") + 1 == cols.index(
        "credibility"
    )
    mine = next(r for r in listed if r["id"] == f.outlier_id)
    assert mine["surprise"] == "yes" and mine["reliability"] == "B" and mine["pit"] > 0.97

    from dashboard.services import views
    from tests.scenario_support import page_modules, plain

    views.forget_stores()
    page = page_modules().indicators
    data, _tips, _sel, note = plain(page.render_table)(None, None, "synthetic")
    assert "PIT" in note and f.run_b in note
    row = next(r for r in data if r["id"] == f.outlier_id)
    assert row["surprise"] == "yes" and row["pit"] == mine["pit"]
    keys = [k for k, _ in page.table_columns()]
    assert keys.index("surprise") + 2 == keys.index("reliability")
    views.forget_stores()
    store.close()
