"""Backtests: scores on known inputs, baselines, the predictive sampler, the page and figures, and a
tiny real backtest of the shipped case through the command line (2 origins, PyMC, few draws)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from models import backtest as bt
from tests.backtest_support import old_backtest, sample_backtest, save_old_backtest, save_sample_backtest
from tests.dashboard_support import text_of
from tests.fits import fit_args
from tests.fits import harbinger as _run

# ---------------------------------------------------------------------------- scores


def test_crps_of_a_point_mass_is_the_absolute_error() -> None:
    assert bt.crps_samples(np.full((1, 50), 3.0), np.array([5.0]))[0] == pytest.approx(2.0)
    assert bt.crps_samples(np.array([[7.0]]), np.array([4.5]))[0] == pytest.approx(2.5)
    assert bt.crps_samples(np.full((2, 10), 1.0), np.array([1.0, 0.0])) == pytest.approx([0.0, 1.0])


def test_crps_matches_the_energy_form_and_the_normal_closed_form() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 40))
    y = np.array([0.3, -1.0, 2.0])
    energy = np.abs(x - y[:, None]).mean(1) - 0.5 * np.abs(x[:, :, None] - x[:, None, :]).mean((1, 2))
    assert bt.crps_samples(x, y) == pytest.approx(energy, rel=1e-12)
    # N(0, 1) through 20 000 evenly spaced quantiles: CRPS at y is z(2Φ(z)-1) + 2φ(z) - 1/√π.
    q = stats.norm.ppf((np.arange(20_000) + 0.5) / 20_000)[None, :]
    for z in (0.0, 1.5):
        exact = z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi)
        assert bt.crps_samples(q, np.array([z]))[0] == pytest.approx(exact, abs=2e-4)


def test_interval_coverage_counts() -> None:
    samples = np.tile(np.arange(100.0), (6, 1))  # draws 0..99: central 90% is [4, 94], 50% is [24, 74]
    lo, hi = bt.interval_bounds(samples[:1], 0.9)
    assert (lo[0], hi[0]) == (4.0, 94.0)
    y = np.array([3.0, 4.0, 50.0, 94.0, 95.0, 24.0])
    assert bt.covered(samples, y, 0.9).tolist() == [False, True, True, True, False, True]
    assert bt.covered(samples, y, 0.5).tolist() == [False, False, True, False, False, True]
    summary = bt.score_rows(samples, y, rng=np.random.default_rng(1))
    assert summary["covered_90"].sum() == 4 and summary["covered_50"].sum() == 2


def test_pit_is_randomised_for_ties_and_uniform_for_a_calibrated_forecast() -> None:
    rng = np.random.default_rng(2)
    zeros = np.zeros((4, 10))
    pit = bt.pit_values(zeros, np.array([0.0, 1.0, -1.0, 0.0]), rng=rng)
    assert pit[1] == 1.0 and pit[2] == 0.0 and 0 <= pit[0] <= 1 and pit[0] != pit[3]
    # Poisson(3) forecasts of Poisson(3) values: randomised PIT uniform despite the ties.
    samples = rng.poisson(3.0, size=(2000, 400)).astype(float)
    y = rng.poisson(3.0, size=2000).astype(float)
    pit = bt.pit_values(samples, y, rng=rng)
    counts = bt.pit_histogram(pit)["counts"]
    assert stats.chisquare(counts).pvalue > 0.001
    randomised_90 = bt.score_rows(samples, y, rng=rng)["pit_covered_90"].mean()
    assert randomised_90 == pytest.approx(0.9, abs=0.03)


def test_brier_and_log_score() -> None:
    assert bt.brier(0.2, 1) == pytest.approx(0.64)
    assert bt.brier(np.array([0.1, 0.9]), np.array([0, 1])) == pytest.approx([0.01, 0.01])
    assert bt.log_score(0.25, 1) == pytest.approx(np.log(4))
    assert bt.log_score(0.25, 0) == pytest.approx(-np.log(0.75))
    assert np.isfinite(bt.log_score(0.0, 1))  # clipped, not infinite


def test_skill_scores() -> None:
    assert bt.skill(0.5, 1.0) == pytest.approx(0.5)
    assert bt.skill(2.0, 1.0) == pytest.approx(-1.0)
    assert bt.skill(0.3, 0.0) is None and bt.skill(None, 1.0) is None


def test_reliability_bins() -> None:
    p = [0.05, 0.05, 0.15, 0.95, 0.95]
    y = [0, 1, 0, 1, 1]
    bins = bt.reliability_bins(p, y)
    assert [(b["lo"], b["n"], b["mean_forecast"], b["observed"]) for b in bins] == [
        (0.0, 2, 0.05, 0.5),
        (0.1, 1, 0.15, 0.0),
        (0.9, 2, 0.95, 1.0),
    ]
    assert all(b["band"][0] <= b["mean_forecast"] <= b["band"][1] for b in bins)


# ---------------------------------------------------------------------------- baselines

ENDS = [
    date(2019, 3, 31),
    date(2019, 6, 30),
    date(2019, 9, 30),
    date(2019, 12, 31),
    date(2020, 3, 31),
    date(2020, 6, 30),
    date(2020, 9, 30),
    date(2020, 12, 31),
]


def test_count_persistence_uses_the_last_years_rate() -> None:
    values = [0, 0, 0, 0, 2, 1, 0, 1]  # 4 events in the last four quarters
    rng = np.random.default_rng(3)
    draws = bt.count_persistence_samples(
        values, [1.0] * 8, ENDS, [1.0, 0.5], origin=date(2020, 12, 31), n=20_000, rng=rng
    )
    assert draws.shape == (2, 20_000)
    assert draws[0].mean() == pytest.approx(1.0, abs=0.03)
    assert draws[1].mean() == pytest.approx(0.5, abs=0.03)
    quiet = bt.count_persistence_samples(
        [3, 0, 0, 0, 0], [1.0] * 5, ENDS[3:], [1.0], origin=date(2020, 12, 31), rng=rng
    )
    assert (quiet == 0).all()  # nothing last year: persistence forecasts nothing, with certainty
    # A fiscal-year total (exposure 4 quarters): the last value again.
    fy = bt.count_persistence_samples(
        [250, 300],
        [4.0, 4.0],
        [date(2019, 3, 31), date(2020, 3, 31)],
        [4.0],
        origin=date(2020, 12, 31),
        n=20_000,
        rng=rng,
    )
    assert fy.mean() == pytest.approx(300, rel=0.01)


def test_count_climatology_uses_the_historical_rate_and_spread() -> None:
    values = np.array([0, 0, 6, 0, 2, 0, 0, 0], dtype=float)
    rate, inv_alpha = bt.count_climatology_params(values, np.ones(8))
    assert rate == pytest.approx(1.0)
    assert inv_alpha == pytest.approx(((values - 1) ** 2 - 1).sum() / 8)  # over-dispersed: 4.0
    draws = bt.count_climatology_samples(values, np.ones(8), [1.0], n=50_000, rng=np.random.default_rng(4))
    assert draws.mean() == pytest.approx(1.0, abs=0.06)
    assert draws.var() == pytest.approx(1.0 + inv_alpha, rel=0.15)
    # Under-dispersed history: Poisson.
    assert bt.count_climatology_params([1, 1, 1, 1], [1, 1, 1, 1]) == (1.0, 0.0)


def test_level_baselines() -> None:
    pers = bt.level_persistence_samples([2, 3, 1], [date(2020, 1, 5), date(2020, 9, 1), date(2020, 3, 1)], 2)
    assert pers.tolist() == [[3.0], [3.0]]
    clim = bt.level_climatology_samples([0, 4], 3, n=1000, rng=np.random.default_rng(5))
    assert set(np.unique(clim)) == {0.0, 4.0} and clim.shape == (3, 1000)


# ---------------------------------------------------------------------------- summary


def test_summary_of_known_rows() -> None:
    doc = sample_backtest()
    ind = {i["id"]: i for i in doc["indicators"]}
    ls = ind["leader_summit"]
    assert ls["n"] == 3
    assert ls["crps"] == pytest.approx(1.3 / 3, abs=1e-4)
    assert ls["crps_persistence"] == pytest.approx(2.2 / 3, abs=1e-4)
    assert ls["skill_persistence"] == pytest.approx(1 - 1.3 / 2.2, abs=1e-4)
    assert ls["coverage_50"] == pytest.approx(2 / 3, abs=1e-4) and ls["coverage_90"] == pytest.approx(2 / 3, abs=1e-4)
    assert ind["asdf_scrambles_russia"]["skill_persistence"] == pytest.approx(-1.0)
    assert ind["asdf_scrambles_russia"]["skill_climatology"] == pytest.approx(0.5)
    assert ind["island_deployment"]["n"] == 0 and ind["island_deployment"]["crps"] is None
    count = doc["summary"]["count"]
    assert count["n_indicators"] == 2 and count["n_better_than_persistence"] == 1
    model_rel = (1.3 / 1.6 + 0.5) / 2
    pers_rel = (2.2 / 1.6 + 0.25) / 2
    assert count["skill_persistence"] == pytest.approx(1 - model_rel / pers_rel, abs=1e-4)
    assert doc["summary"]["coverage_90"] == pytest.approx(0.8)
    assert doc["summary"]["origins_failing_diagnostics"] == [2021]
    assert sum(doc["summary"]["pit_histogram"]["counts"]) == 5
    targets = {t["id"]: t for t in doc["targets"]}
    assert targets["crps_vs_persistence"]["met"] is True
    assert targets["coverage_90"]["met"] is True and targets["coverage_90"]["value"] == pytest.approx(0.8)
    hard = next(o for o in doc["outcomes"] if o["id"] == "japan_hardline_shift")
    assert hard["n"] == 2 and hard["events"] == 1
    assert hard["brier"] == pytest.approx((0.05**2 + 0.8**2) / 2, abs=1e-5)
    assert hard["log_score"] == pytest.approx((-np.log(0.95) - np.log(0.2)) / 2, abs=1e-4)
    assert hard["brier_base_rate"] == pytest.approx((0.05**2 + 0.95**2) / 2, abs=1e-5)
    assert [p["happened"] for p in hard["probabilities"]] == [False, True]


# ---------------------------------------------------------------------------- skill across indicators


def _rows(indicator: str, family: str, crps: float, pers: float, clim: float) -> list[dict[str, Any]]:
    row = {"indicator": indicator, "family": family, "crps": crps, "crps_persistence": pers, "crps_climatology": clim}
    return [dict(row), dict(row)]


def _misleading_rows() -> list[dict[str, Any]]:
    """Two rows each of: a large count series the model scores at half climatology's CRPS, a tiny
    one (climatology CRPS 0.01) it scores ten times worse, and a continuous one it halves. The
    mean of ratios says the model is far worse than both baselines; pooled, it is better."""
    return [
        *_rows("big", "count", 10.0, 12.0, 20.0),
        *_rows("tiny", "count", 0.1, 0.02, 0.01),
        *_rows("level", "continuous", 1.0, 1.0, 2.0),
    ]


def test_pooled_and_median_skill_are_not_swung_by_one_tiny_baseline() -> None:
    g = bt.skill_group(_misleading_rows())
    assert (g["n_indicators"], g["n_rows"], g["mean_of_ratios_n"]) == (3, 6, 3)
    clim, pers = g["climatology"], g["persistence"]
    # model / climatology per indicator: 0.5, 10, 0.5 (mean 11/3); summed CRPS: 22.2 against 44.02
    assert clim["mean_of_ratios"] == pytest.approx(1 - 11 / 3, abs=1e-4)  # -2.667
    assert clim["pooled"] == pytest.approx(1 - 22.2 / 44.02, abs=1e-4)  # +0.496
    assert clim["median"] == pytest.approx(0.5) and clim["median_n"] == 3  # of 0.5, -9, 0.5
    # persistence / climatology: 0.6, 2, 0.5 (mean 3.1/3); persistence's summed CRPS 26.04
    assert pers["mean_of_ratios"] == pytest.approx(1 - 11 / 3.1, abs=1e-4)  # -2.548
    assert pers["pooled"] == pytest.approx(1 - 22.2 / 26.04, abs=1e-4)  # +0.147
    assert pers["median"] == pytest.approx(0.0) and pers["median_n"] == 3  # of 1/6, -4, 0
    assert clim["mean_of_ratios"] < 0 < clim["pooled"] and pers["mean_of_ratios"] < 0 < pers["pooled"]


def test_skill_per_family_and_the_count_target_share_one_mean_of_ratios() -> None:
    extra = dict(value=1.0, covered_50=True, covered_90=True, pit_covered_50=True, pit_covered_90=True, pit=0.5)
    rows = [dict(r, p_positive=0.5, **extra) for r in _misleading_rows()]
    doc = bt.summarise(
        [{"origin": 2020, "rows": rows, "outcomes": []}],
        indicators=[{"id": i, "family": f} for i, f in (("big", "count"), ("tiny", "count"), ("level", "continuous"))],
        outcomes=[],
    )
    fam = doc["summary"]["skill"]["families"]
    assert set(fam) == {"count", "continuous"} and doc["summary"]["skill"]["all"]["n_rows"] == 6
    count = fam["count"]
    assert count["climatology"]["mean_of_ratios"] == pytest.approx(1 - 10.5 / 2, abs=1e-4)  # -4.25
    assert count["climatology"]["pooled"] == pytest.approx(1 - 20.2 / 40.02, abs=1e-4)  # +0.495
    assert count["persistence"]["mean_of_ratios"] == pytest.approx(1 - 5.25 / 1.3, abs=1e-4)  # -3.038
    assert count["persistence"]["pooled"] == pytest.approx(1 - 20.2 / 24.04, abs=1e-4)  # +0.160
    assert count["persistence"]["median"] == pytest.approx((1 / 6 - 4) / 2, abs=1e-4)
    assert fam["continuous"]["persistence"]["pooled"] == 0.0 and fam["continuous"]["climatology"]["median"] == 0.5
    # today's count figure is the same mean of ratios
    assert doc["summary"]["count"]["skill_persistence"] == count["persistence"]["mean_of_ratios"]
    assert doc["summary"]["count"]["skill_climatology"] == count["climatology"]["mean_of_ratios"]


def test_pooled_and_median_skill_are_undefined_without_a_baseline() -> None:
    assert bt.pooled_skill([], []) is None
    assert bt.pooled_skill([0.5], [0.0]) is None
    median, n = bt.median_skill([1.0, 2.0, 3.0], [0.0, 4.0, 2.0])  # skills -, 0.5, -0.5
    assert median == pytest.approx(0.0) and n == 2
    assert bt.median_skill([], []) == (None, 0)


def test_outcome_skill_against_the_elicited_base_rate() -> None:
    outcomes = [
        {
            "base_rate": 0.1,
            "probabilities": [
                {"at_risk": True, "happened": False, "p": 0.2},
                {"at_risk": True, "happened": True, "p": 0.5},
                {"at_risk": False, "happened": False, "p": None},
            ],
        },
        {"base_rate": 0.02, "probabilities": [{"at_risk": True, "happened": False, "p": 0.01}]},
    ]
    got = bt.outcome_skill(outcomes)
    assert got["n_forecasts"] == 3
    assert got["brier"] == pytest.approx(1 - (0.04 + 0.25 + 0.0001) / (0.01 + 0.81 + 0.0004), abs=1e-4)
    model = -np.log(0.8) - np.log(0.5) - np.log(0.99)
    base = -np.log(0.9) - np.log(0.1) - np.log(0.98)
    assert got["log_score"] == pytest.approx(1 - model / base, abs=1e-4)
    assert bt.outcome_skill([]) == {"n_forecasts": 0, "brier": None, "log_score": None}
    hard = next(o for o in sample_backtest()["outcomes"] if o["id"] == "japan_hardline_shift")
    log_model, log_base = (-np.log(0.95) - np.log(0.2)) / 2, (-np.log(0.95) - np.log(0.05)) / 2
    assert hard["skill_log_score_base_rate"] == pytest.approx(1 - log_model / log_base, abs=1e-3)


def test_an_old_backtest_gets_its_skill_from_its_saved_rows() -> None:
    from dashboard.services.backtests import skill_rows, with_skill

    new, old = sample_backtest(), with_skill(old_backtest())
    assert old["summary"]["skill"].pop("from_saved_rows") is True
    assert old["summary"]["skill"] == new["summary"]["skill"]
    assert [o["skill_log_score_base_rate"] for o in old["outcomes"]] == pytest.approx(
        [o["skill_log_score_base_rate"] for o in new["outcomes"]], abs=1e-3
    )
    bare = with_skill(old_backtest(rows=False))
    assert "skill" not in bare["summary"] and skill_rows(bare) == []
    # the sample's count indicators: +0.19 as a mean of ratios, -0.75 pooled (1 - 21.3 / 12.2)
    count = {r["summary"]: r for r in skill_rows(new) if r["group"] == "count indicators"}
    assert count["mean of ratios"]["persistence"] == pytest.approx(0.1923)
    assert count["pooled"]["persistence"] == pytest.approx(1 - 21.3 / 12.2, abs=1e-4)
    assert count["median"]["over"] == "2 indicators" and count["pooled"]["over"] == "4 rows"


# ---------------------------------------------------------------------------- predictive sampler


def _fake_draws(design: Any, *, n: int = 4000, alpha: float = 1e6) -> Any:
    """Posterior draws with known values: zero loadings, intercept log(2) for every indicator."""
    from models.forecast import Draws

    K, T = len(design.factor_ids), design.grid.n_cells
    I, O = len(design.indicator_ids), len(design.outcome_ids)
    fam = design.family_indicators
    params = {
        "families": [k for k, v in fam.items() if v],
        "count_alpha": np.full((n, len(fam["count"])), alpha),
        "continuous_sigma": np.full((n, len(fam["continuous"])), 0.5),
        "proportion_kappa": np.full((n, len(fam["proportion"])), 30.0),
        "ordinal_cut": np.tile(np.array([-0.7, 0.7]), (n, max(len(fam["ordinal"]), 1), 1)),
    }
    return Draws(
        chains=2,
        factor_state=np.zeros((n, K, T)),
        persistence=np.full((n, K), 0.9),
        loading=np.zeros((n, I, K)),
        intercept=np.full((n, I), np.log(2.0)),
        hazard_intercept=np.full((n, O), -3.0),
        hazard_effect=np.zeros((n, O, K)),
        params=params,
    )


def test_predictive_samples_follow_the_likelihood_on_held_out_rows() -> None:
    from models.design import build_design
    from models.predictive import held_out_rows, history_rows, predictive_samples
    from models.simulate import simulate_observations, synthetic_case

    case = synthetic_case(n_factors=1, n_indicators=3, families=("count_events", "count_total", "binary"), n_outcomes=1)
    origin, end = date(2016, 12, 31), date(2017, 12, 31)
    frame, _ = simulate_observations(case, as_of=end, seed=4)
    known = frame[frame["end"] <= pd.Timestamp(origin)]
    design = build_design(case, known, as_of=origin)
    held = held_out_rows(case, frame, origin=origin, window_end=end, reviewed={"ind_0": end})
    # events (reviewed complete through the window's end): one row per quarter of 2017; total:
    # calendar 2016 ended before the window, so none; binary: one row per observation dated in 2017.
    by = held.groupby("indicator").size().to_dict()
    in_2017 = ((frame["indicator"] == "ind_2") & (frame["date"].dt.year == 2017)).sum()
    assert by["ind_0"] == 4 and "ind_1" not in by and by["ind_2"] == in_2017 > 0
    assert (held["end"].dt.date > origin).all() and (held["end"].dt.date <= end).all()
    assert held.loc[held.indicator == "ind_0", "exposure"].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert (history_rows(design)["end"].dt.date <= origin).all()

    draws = _fake_draws(design)
    samples = predictive_samples(design, draws, held, per_draw=2, seed=1)
    assert samples.shape == (len(held), 8000)
    counts = samples[(held.indicator == "ind_0").to_numpy()]
    assert counts.mean() == pytest.approx(2.0, abs=0.05)  # Poisson-like with rate exp(log 2) per quarter
    assert counts.var() == pytest.approx(2.0, rel=0.1)
    binary = samples[(held.indicator == "ind_2").to_numpy()]
    assert set(np.unique(binary)) <= {0.0, 1.0}
    assert binary.mean() == pytest.approx(2 / 3, abs=0.03)  # expit(log 2)
    # A fiscal-year-like total straddling the origin covers four quarters: mean 4 x 2.
    straddle = pd.DataFrame(
        [
            {
                "family": "count",
                "indicator": "ind_1",
                "start": pd.Timestamp("2016-07-01"),
                "end": pd.Timestamp("2017-06-30"),
            }
        ]
    )
    assert predictive_samples(design, draws, straddle, seed=2).mean() == pytest.approx(8.0, abs=0.15)


def test_outcome_probability_draws_match_a_constant_hazard() -> None:
    from models.design import build_design
    from models.predictive import outcome_probability_draws
    from models.simulate import simulate_observations, synthetic_case

    case = synthetic_case(n_factors=1, n_indicators=1, families=("count_events",), n_outcomes=1)
    frame, _ = simulate_observations(case, as_of=date(2016, 12, 31), seed=5)
    design = build_design(case, frame, as_of=date(2016, 12, 31))
    p = outcome_probability_draws(design, _fake_draws(design, n=50), years=1)
    h = 1 / (1 + np.exp(3.0))
    assert p.shape == (50, 1)
    assert p == pytest.approx(1 - (1 - h) ** 4)


# ---------------------------------------------------------------------------- origins


def test_origins_parse_and_default() -> None:
    from dashboard.services.backtests import default_origins, parse_origins
    from indicators.errors import BadInput

    start, on = date(2010, 1, 1), date(2026, 11, 29)
    assert default_origins(start, on=on) == list(range(2014, 2025))
    assert parse_origins(None, case_start=start, on=on) == list(range(2014, 2025))
    assert parse_origins("2016..2018", case_start=start, on=on) == [2016, 2017, 2018]
    assert parse_origins("2019, 2016", case_start=start, on=on) == [2016, 2019]
    for bad, words in (
        ("2018..2016", "backwards"),
        ("2016-2018", "not a year range"),
        ("2025", "has not ended"),
        ("2008", "before the case starts"),
    ):
        with pytest.raises(BadInput, match=words) as err:
            parse_origins(bad, case_start=start, on=on)
        assert str(err.value).startswith("--origins")


def test_bad_origins_on_the_command_line_exit_2_and_change_nothing(cli, harbinger_home) -> None:
    assert cli("init").exit_code == 0
    res = cli("backtest", "--origins", "2016..20x")
    assert res.exit_code == 2
    assert "--origins" in res.stderr and "not a year range" in res.stderr
    assert not (harbinger_home / "backtests").exists() or not any((harbinger_home / "backtests").iterdir())


def test_latest_without_a_backtest_says_how_to_run_one(cli) -> None:
    assert cli("init").exit_code == 0
    res = cli("backtest", "--latest")
    assert res.exit_code == 1
    assert "run 'harbinger backtest' first" in res.stderr


def test_latest_prints_the_newest_saved_backtest(cli, harbinger_home) -> None:
    assert cli("init").exit_code == 0
    path = save_sample_backtest(harbinger_home)
    res = cli("backtest", "--latest", "--format", "json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert [o["origin"] for o in doc["origins"]] == [2020, 2021]
    assert all("rows" not in o for o in doc["origins"])
    assert str(path) in res.stderr
    table = cli("backtest", "--latest")
    assert "leader_summit" in table.stdout and "DIAGNOSTICS FAILED for origins 2021" in table.stdout
    assert "target coverage_90: met" in table.stdout


def test_latest_json_has_the_robust_skill(cli, harbinger_home) -> None:
    assert cli("init").exit_code == 0
    save_sample_backtest(harbinger_home)
    doc = json.loads(cli("backtest", "--latest", "--format", "json").stdout)
    skill = doc["summary"]["skill"]
    assert skill["families"]["count"]["persistence"]["pooled"] == pytest.approx(1 - 21.3 / 12.2, abs=1e-4)
    assert skill["all"]["climatology"]["median_n"] == 3 and "from_saved_rows" not in skill
    assert skill["outcomes"]["n_forecasts"] == 4 and skill["outcomes"]["brier"] is not None
    assert all("skill_log_score_base_rate" in o and "skill_brier_base_rate" in o for o in doc["outcomes"])


def test_latest_shows_an_old_backtest_with_skill_from_its_rows(cli, harbinger_home) -> None:
    assert cli("init").exit_code == 0
    save_old_backtest(harbinger_home)
    doc = json.loads(cli("backtest", "--latest", "--format", "json").stdout)
    assert doc["summary"]["skill"]["from_saved_rows"] is True
    assert doc["summary"]["skill"]["families"]["count"]["persistence"]["pooled"] == pytest.approx(-0.7459)
    table = cli("backtest", "--latest")
    assert table.exit_code == 0, table.stderr
    assert "count indicators    pooled          -0.746" in table.stdout
    assert "computed now from the saved per-row scores" in table.stdout
    assert "brier_skill_vs_elicited" in table.stdout and "pooled over 4 forecasts" in table.stdout


def test_latest_shows_an_old_backtest_without_rows(cli, harbinger_home) -> None:
    assert cli("init").exit_code == 0
    save_old_backtest(harbinger_home, rows=False)
    res = cli("backtest", "--latest")
    assert res.exit_code == 0, res.stderr
    assert "— (this backtest holds no per-row scores" in res.stdout and "leader_summit" in res.stdout


# ---------------------------------------------------------------------------- page and figures


def test_figures_carry_the_documents_values() -> None:
    from dashboard import backtest_figures as bf

    doc = sample_backtest()
    fig = bf.scores_figure(doc)
    model = next(t for t in fig.data if t.name == "Model")
    pers = next(t for t in fig.data if t.name == "Persistence")
    assert set(model.y) == {"asdf_scrambles_russia", "leader_summit", "russian_statement_tone"}
    by_id = dict(zip(model.y, model.x, strict=True))
    assert by_id["leader_summit"] == pytest.approx(1.3 / 1.6, abs=1e-3)
    assert dict(zip(pers.y, pers.x, strict=True))["asdf_scrambles_russia"] == pytest.approx(0.25)

    pit = bf.pit_figure(doc)
    bars = next(t for t in pit.data if t.name == "PIT")
    assert sum(bars.y) == 5
    assert next(t for t in pit.data if t.name == "Uniform").y[0] == pytest.approx(0.5)

    rel = bf.reliability_figure(doc)
    names = [t.name for t in rel.data]
    assert "Perfect reliability" in names and "Events in a quarter" in names and "Outcomes within a year" in names
    outcomes = next(t for t in rel.data if t.name == "Outcomes within a year")
    assert sum(c[0] for c in outcomes.customdata) == 4

    prob = bf.probability_figure(doc, outcome_id="japan_hardline_shift")
    line = next(t for t in prob.data if t.name == "P(within a year)")
    assert list(line.x) == ["2020-12-31", "2021-12-31"]
    assert list(line.y) == pytest.approx([5.0, 20.0])
    assert list(line.marker.symbol) == ["circle", "star"]
    assert prob.layout.shapes[0].x0 == "2022-02-23"
    assert "resolved 2022-02-23" in prob.layout.annotations[0].text
    treaty = bf.probability_figure(doc, outcome_id="peace_treaty")
    assert not treaty.layout.shapes


@pytest.fixture
def backtest_page(cli):
    import dash  # noqa: F401

    from dashboard.web import app as shell

    assert cli("init").exit_code == 0
    shell.create_app("northern_territories")
    return sys.modules["dashboard.web.pages.backtest"]


def test_page_without_a_backtest_says_how_to_run_one(backtest_page) -> None:
    render = getattr(backtest_page.render_backtest, "__wrapped__", backtest_page.render_backtest)
    text = text_of(render(None, "northern_territories"))
    assert "No backtest yet" in text and "harbinger backtest" in text


def test_page_shows_scores_targets_and_labels_failed_diagnostics(backtest_page, harbinger_home) -> None:
    save_sample_backtest(harbinger_home)
    render = getattr(backtest_page.render_backtest, "__wrapped__", backtest_page.render_backtest)
    text = text_of(render(None, "northern_territories"))
    assert "Sampler diagnostics failed for origins 2021" in text
    assert "Met:" in text and "measured 0.800" in text
    assert "leader_summit" in text and "+0.41" in text  # skill vs persistence 1 - 1.3/2.2
    assert "0.321" in text  # Brier of japan_hardline_shift
    assert "not scored" in text  # indicators with no held-out rows say so
    assert "Skill against baselines: mean of ratios / pooled / median" in text
    assert "Brier skill vs elicited base rate" in text and "Skill against the elicited base rate, pooled" in text


def test_page_shows_the_skill_of_an_old_backtest(backtest_page, harbinger_home) -> None:
    save_old_backtest(harbinger_home)
    render = getattr(backtest_page.render_backtest, "__wrapped__", backtest_page.render_backtest)
    page = render(None, "northern_territories")
    table = _find(page, backtest_page.SKILL_TABLE)
    rows = [[text_of(td) for td in tr.children] for tr in table.children[1].children]
    count = {r[1]: r for r in rows if r[0] == "count indicators"}
    assert count["mean of ratios"][2:] == ["+0.19", "+0.34", "2 indicators"]
    assert count["pooled"][2:] == ["-0.75", "+0.49", "4 rows"]
    assert count["median"][2:] == ["-0.30", "+0.34", "2 indicators"]
    text = text_of(page)
    assert "Computed now from the saved per-row scores" in text
    assert "one outlier indicator cannot move it" in text and "can swing it" in text
    assert "+0.29" in text  # japan_hardline_shift's Brier skill against its elicited base rate


def test_page_shows_dashes_for_an_old_backtest_without_rows(backtest_page, harbinger_home) -> None:
    save_old_backtest(harbinger_home, rows=False)
    render = getattr(backtest_page.render_backtest, "__wrapped__", backtest_page.render_backtest)
    page = render(None, "northern_territories")
    rows = [[text_of(td) for td in tr.children] for tr in _find(page, backtest_page.SKILL_TABLE).children[1].children]
    assert rows == [["all indicators", "—", "—", "—", "—"]]
    assert "no per-row scores" in text_of(page) and "leader_summit" in text_of(page)


def _find(component: Any, id_: str) -> Any:
    """The component with id ``id_`` in a tree of Dash components."""
    if isinstance(component, (list, tuple)):
        return next((f for c in component if (f := _find(c, id_)) is not None), None)
    if getattr(component, "id", None) == id_:
        return component
    children = getattr(component, "children", None)
    return None if children is None or isinstance(children, str) else _find(children, id_)


# ---------------------------------------------------------------------------- a tiny real backtest


@pytest.mark.fit
def test_tiny_real_backtest_of_the_shipped_case(tmp_path: Path) -> None:
    """Its own fits: one per origin (a backtest refits the case as of each origin, two at once),
    tiny ones on the production path (nutpie with the fused density)."""
    home = tmp_path / "bt"
    assert _run(home, "init").returncode == 0
    res = _run(
        home,
        "backtest",
        "--origins",
        "2016..2017",
        *fit_args(attempts=None, sampler="nutpie"),
        "--jobs",
        "2",
        "--format",
        "json",
        timeout=1500,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "2 of 2 origins" in res.stderr  # progress
    doc = json.loads(res.stdout)
    assert [o["origin"] for o in doc["origins"]] == [2016, 2017]
    assert [o["as_of"] for o in doc["origins"]] == ["2016-12-31", "2017-12-31"]
    # Each origin saw only what was recorded by its date.
    assert doc["origins"][0]["n_observations"] < doc["origins"][1]["n_observations"]
    for ind in doc["indicators"]:
        assert {"id", "crps", "crps_persistence", "crps_climatology", "coverage_50", "coverage_90"} <= set(ind)
    scored = [i for i in doc["indicators"] if i["n"]]
    assert {"asdf_scrambles_russia", "leader_summit", "russian_statement_tone"} <= {i["id"] for i in scored}
    for ind in scored:
        assert ind["crps"] >= 0 and 0 <= ind["coverage_50"] <= ind["coverage_90"] <= 1
    # Indicators whose record starts later (joint air patrols from 2019) are not scored.
    assert next(i for i in doc["indicators"] if i["id"] == "china_russia_joint_air_patrol")["n"] == 0
    outcomes = {o["id"]: o for o in doc["outcomes"]}
    assert {"brier", "log_score"} <= set(outcomes["japan_hardline_shift"])
    assert outcomes["japan_hardline_shift"]["n"] == 2 and outcomes["japan_hardline_shift"]["events"] == 0
    # Tiny fits fail their diagnostics and the document says so.
    assert doc["summary"]["origins_failing_diagnostics"] == [2016, 2017]
    saved = list((home / "backtests").glob("backtest-northern_territories-*.json"))
    assert len(saved) == 1
    full = json.loads(saved[0].read_text())
    rows = full["origins"][0]["rows"]
    assert rows and all("2017-01-01" <= r["end"] <= "2017-12-31" for r in rows)
    table = _run(home, "backtest", "--latest")
    assert table.returncode == 0 and "target crps_vs_persistence" in table.stdout
