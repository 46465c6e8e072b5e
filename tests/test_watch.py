"""The watch list's computation (models/watch.py) and reading (models/watchlist.py), on fake
posteriors: the batched PSIS and Monte Carlo errors equal arviz's, the count shortcut equals the
model's likelihood, a value reweighted here equals the same report run as a scenario, the
preposterior average is the current forecast, and on a synthetic case an indicator that tells about
an outcome ranks above one that is noise. Tripwires are read off handmade curves."""

from __future__ import annotations

from datetime import date
from typing import Any

import arviz as az
import numpy as np
import pytest

from models.simulate import simulate_observations, synthetic_case
from models.watch import (
    _count_logliks,
    _generic_logliks,
    candidate_rows,
    mcse_columns,
    psis_rows,
    watch,
)
from models.watchlist import PERIODS, default_level, ranking, sentence, target_key, tripwires
from tests.watch_support import conditioner

AS_OF = date(2016, 6, 30)
NEXT_QUARTER = PERIODS[0]


# ---------------------------------------------------------------------------- batched PSIS and MCSE


def test_psis_rows_equals_psis_row_by_row() -> None:
    from models.reweight import psis

    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 3000))
    rows = np.stack(
        [
            -0.5 * (x[0] - 0.3) ** 2 + 0.5 * x[0] ** 2,  # mild
            -0.5 * (x[1] - 3.0) ** 2 + 0.5 * x[1] ** 2,  # far in the tail: k-hat > 0.7
            2.0 * x[2],
            np.full(3000, 1.5),  # constant: uniform weights, k-hat 0
            np.round(x[4], 1),  # ties at the cut-off: the one-by-one path
            rng.standard_t(2, size=3000),
        ]
    )
    lw, k = psis_rows(rows)
    w, k_w = psis_rows(rows, as_weights=True)
    for g in range(len(rows)):
        ref_lw, ref_k = psis(rows[g])
        np.testing.assert_allclose(lw[g], ref_lw, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(w[g], np.exp(ref_lw), rtol=1e-9, atol=1e-15)
        assert k[g] == pytest.approx(ref_k, rel=1e-9, abs=1e-12) and k_w[g] == k[g]
    assert k[1] > 0.7 and k[3] == 0.0


def test_mcse_columns_equals_arviz() -> None:
    rng = np.random.default_rng(2)
    chains, draws = 2, 500
    cols = []
    for phi in (0.0, 0.5, 0.9, -0.3):
        x = np.empty((chains, draws))
        for c in range(chains):
            e = rng.normal(size=draws)
            for t in range(1, draws):
                e[t] += phi * e[t - 1]
            x[c] = e
        cols.append(x.reshape(-1))
    cols.append(np.zeros(chains * draws))  # constant
    u = np.stack(cols, axis=1)
    got = mcse_columns(u, chains)
    for j in range(u.shape[1]):
        ref = float(np.ravel(az.mcse(u[:, j].reshape(chains, -1), method="mean"))[0])
        assert got[j] == pytest.approx(ref, rel=1e-9, abs=1e-15)


# ---------------------------------------------------------------------------- likelihoods and conditioning


@pytest.fixture(scope="module")
def synthetic() -> dict[str, Any]:
    case = synthetic_case(n_factors=2, n_indicators=6)
    frame, _ = simulate_observations(case, as_of=AS_OF, seed=3)
    return {"case": case, "frame": frame, "cond": conditioner(case, frame, AS_OF, draws=150)}


def test_the_count_shortcut_equals_the_models_likelihood(synthetic: dict[str, Any]) -> None:
    cond = synthetic["cond"]
    design = cond.design
    for iid, period in (("ind_0", PERIODS[0]), ("ind_1", PERIODS[1])):  # events and totals
        rows = candidate_rows(design, iid, period, [0, 1, 3, 7, 40])
        paths = cond.paths(rows.last_cell - design.grid.as_of_cell)
        np.testing.assert_allclose(
            _count_logliks(design, cond.draws, paths, rows),
            _generic_logliks(design, cond.draws, paths, rows),
            rtol=1e-9,
            atol=1e-9,
        )


def test_a_value_reweighted_here_equals_the_same_report_as_a_scenario(synthetic: dict[str, Any]) -> None:
    """The tripwire curve at a value is the forecast the scenario machinery gives for a report of
    that value (A1, over the three months after the as-of date): same draws, paths and weights."""
    cond = synthetic["cond"]
    doc = watch(cond, indicators=["ind_0", "ind_3"])
    start, end = NEXT_QUARTER.dates(AS_OF)
    for ind in doc["indicators"]:
        curve = ind["curve"]
        for j in (0, len(curve["values"]) - 1):
            v = curve["values"][j]
            result = cond.condition(
                add=[
                    {
                        "indicator": ind["id"],
                        "date": start,
                        "end": end,
                        "value": v,
                        "reliability": "A",
                        "credibility": 1,
                    }
                ]
            )
            assert curve["khat"][j] == pytest.approx(result.khat, abs=1e-3)
            for key, p in curve["p"].items():
                outcome, years = key.split("@")
                assert p[j] == pytest.approx(result.horizon(outcome, int(years))["p_mean"], abs=2e-4)


def test_the_preposterior_average_is_the_current_forecast(synthetic: dict[str, Any]) -> None:
    """Averaged over the report's predictive, the conditioned probability is the current one (to
    the PSIS smoothing, the tail left out and Monte Carlo error)."""
    doc = watch(synthetic["cond"], indicators=["ind_0", "ind_3", "ind_4"])
    for ind in doc["indicators"]:
        curve = ind["curve"]
        pi = np.asarray(curve["predictive"])
        assert pi.sum() == pytest.approx(1.0)
        for t in doc["targets"]:
            p = np.asarray(curve["p"][t["key"]])
            se = np.asarray(curve["mcse"][t["key"]])
            assert abs((pi * p).sum() - t["p_mean"]) <= 3 * (pi * se).sum() + 1e-4


def test_the_document_has_every_indicator_period_and_target(synthetic: dict[str, Any]) -> None:
    doc = watch(synthetic["cond"])
    case = synthetic["case"]
    assert [i["id"] for i in doc["indicators"]] == case.indicator_ids
    assert {t["key"] for t in doc["targets"]} == {target_key(o.id, h) for o in case.outcomes for h in o.horizons}
    for ind in doc["indicators"]:
        assert set(ind["periods"]) == {p.id for p in PERIODS}
        for per in ind["periods"].values():
            for v in per["voi"].values():
                assert v["mean_abs_change"] >= 0 and v["mcse"] >= 0
        assert len(ind["curve"]["values"]) == len(ind["curve"]["p"]["outcome_0@1"])
    ordinal = next(i for i in doc["indicators"] if i["family"] == "ordinal")
    assert set(ordinal["curve"]["values"]) <= {0.0, 1.0, 2.0}
    binary = next(i for i in doc["indicators"] if i["family"] == "binary")
    assert binary["curve"]["values"] == [0.0, 1.0] and binary["periods"]["next_quarter"]["grid"] == "exact"


# ---------------------------------------------------------------------------- checked against truth


def _signal_and_noise_case() -> tuple[Any, Any]:
    """Two count indicators of one factor, which raises outcome_0: 'signal' reflects the factor
    strongly, 'noise' not at all (in the fake posterior below)."""
    from indicators.case import Case

    start = date(2010, 1, 1)
    case = Case.model_validate(
        {
            "id": "signal_noise",
            "name": "signal and noise",
            "description": "synthetic",
            "start": start,
            "factors": [{"id": "f", "name": "f", "meaning": "synthetic", "anchor": "signal"}],
            "indicators": [
                {
                    "id": "signal",
                    "name": "Signal",
                    "description": "reflects f",
                    "unit": "events",
                    "family": "count",
                    "aggregation": "events",
                    "coverage_start": start,
                    "loadings": {"f": "positive"},
                },
                {
                    "id": "noise",
                    "name": "Noise",
                    "description": "reflects nothing",
                    "unit": "events",
                    "family": "count",
                    "aggregation": "events",
                    "coverage_start": start,
                    "loadings": {"f": "free"},
                },
            ],
            "outcomes": [
                {
                    "id": "outcome_0",
                    "question": "Outcome?",
                    "resolution_criteria": "synthetic",
                    "horizons": [1, 3],
                    "base_rate": {"annual": 0.05, "reasoning": "synthetic"},
                    "effects": {"f": "raises"},
                }
            ],
            "scenarios": [],
        }
    )
    frame, _ = simulate_observations(case, as_of=AS_OF, seed=4)
    return case, frame


def test_an_informative_indicator_ranks_above_noise() -> None:
    case, frame = _signal_and_noise_case()
    cond = conditioner(
        case, frame, AS_OF, draws=200, loading=[[1.2], [0.0]], hazard_effect=[[1.0]], hazard_intercept=-3.0
    )
    doc = watch(cond)
    for years in (1, 3):
        rows = {r["indicator"]: r for r in ranking(doc, "outcome_0", years)}
        signal, noise = rows["signal"], rows["noise"]
        assert signal["rank"] == 1 and noise["rank"] == 2
        gap = signal["mean_abs_change"] - noise["mean_abs_change"]
        assert gap > 4 * np.hypot(signal["mcse"], noise["mcse"])
        assert noise["mean_abs_change"] < 0.2 * signal["mean_abs_change"]
        assert signal["sd_reduction"] > noise["sd_reduction"]
    # more events of the signal mean a higher probability: the tripwire is "this many or more"
    target = next(t for t in doc["targets"] if t["key"] == "outcome_0@1")
    signal_curve = next(i for i in doc["indicators"] if i["id"] == "signal")["curve"]
    trusted = [p for p, k in zip(signal_curve["p"]["outcome_0@1"], signal_curve["khat"], strict=True) if k <= 0.7]
    assert len(trusted) > 10 and trusted == sorted(trusted)
    level = (target["p_mean"] + max(trusted)) / 2
    wires = {e["indicator"]: e for e in tripwires(doc, "outcome_0", 1, level)}
    assert wires["signal"]["crosses"] and wires["signal"]["direction"] == "at_least"
    assert not wires["noise"]["crosses"]


# ---------------------------------------------------------------------------- reading: tripwires


def _doc(
    p: list[float],
    *,
    khat: list[float] | None = None,
    mcse: float = 0.001,
    p_now: float = 0.03,
    values: list[float] | None = None,
    family: str = "count",
) -> dict[str, Any]:
    values = values if values is not None else [float(v) for v in range(len(p))]
    n = len(values)
    return {
        "settings": {"khat_max": 0.7},
        "targets": [{"key": "esc@1", "outcome": "esc", "years": 1, "p_mean": p_now, "sd": 0.01, "question": "?"}],
        "indicators": [
            {
                "id": "drills",
                "name": "Island drill",
                "unit": "drills",
                "family": family,
                "levels": None,
                "curve": {
                    "values": values,
                    "predictive": [1.0 / n] * n,
                    "khat": khat or [0.1] * n,
                    "p": {"esc@1": p},
                    "mcse": {"esc@1": [mcse] * n},
                },
            }
        ],
    }


def test_a_rising_curve_gives_at_least_its_first_crossing_value() -> None:
    doc = _doc([0.02, 0.03, 0.045, 0.06, 0.08])
    (e,) = tripwires(doc, "esc", 1, 0.05)
    assert e["crosses"] and e["direction"] == "at_least" and e["value"] == 3.0 and e["reliable"]
    assert e["chance"] == pytest.approx(0.4) and e["p"] == pytest.approx(0.06)
    assert sentence(e, "esc", 1, 0.05, up=True) == "watch for: ≥ 3 drills next quarter (Island drill) → esc 1y above 5%"


def test_a_falling_curve_gives_at_most_and_a_level_below_reads_downward() -> None:
    doc = _doc([0.08, 0.05, 0.03, 0.02, 0.01], p_now=0.03)
    (up,) = tripwires(doc, "esc", 1, 0.06)
    assert up["direction"] == "at_most" and up["value"] == 0.0
    assert sentence(up, "esc", 1, 0.06, up=True).startswith("watch for: no drills next quarter")
    (up,) = tripwires(doc, "esc", 1, 0.045)
    assert up["direction"] == "at_most" and up["value"] == 1.0
    assert sentence(up, "esc", 1, 0.045, up=True).startswith("watch for: ≤ 1 drills next quarter")
    (down,) = tripwires(doc, "esc", 1, 0.025)  # below the forecast: which values take it under
    assert down["direction"] == "at_least" and down["value"] == 3.0
    assert "below 2.5%" in sentence(down, "esc", 1, 0.025, up=False)


def test_no_plausible_value_crossing_is_an_answer() -> None:
    doc = _doc([0.02, 0.03, 0.035, 0.04, 0.045])
    (e,) = tripwires(doc, "esc", 1, 0.05)
    assert not e["crosses"]
    assert sentence(e, "esc", 1, 0.05, up=True) == "Island drill: no plausible value next quarter takes esc 1y above 5%"
    doc = _doc([0.02, 0.03, 0.04, 0.045, 0.09])
    doc["indicators"][0]["curve"]["predictive"] = [0.5, 0.3, 0.1999, 0.0000999, 0.0000001]
    (e,) = tripwires(doc, "esc", 1, 0.05)  # only a value with a one-in-ten-million chance crosses
    assert not e["crosses"]


def test_values_where_reweighting_fails_do_not_count_unless_nothing_else_crosses() -> None:
    doc = _doc([0.02, 0.03, 0.06, 0.01, 0.07], khat=[0.1, 0.2, 0.3, 1.5, 0.4])
    (e,) = tripwires(doc, "esc", 1, 0.05)
    assert e["direction"] == "at_least" and e["value"] == 2.0 and e["reliable"]
    doc = _doc([0.02, 0.03, 0.04, 0.045, 0.07], khat=[0.1, 0.2, 0.3, 0.5, 1.2])
    (e,) = tripwires(doc, "esc", 1, 0.05)
    assert e["crosses"] and not e["reliable"] and e["value"] == 4.0
    assert "k-hat above 0.7" in sentence(e, "esc", 1, 0.05, up=True)


def test_noise_within_the_monte_carlo_error_does_not_break_a_tripwire() -> None:
    doc = _doc([0.02, 0.03, 0.052, 0.049, 0.07], mcse=0.002)
    (e,) = tripwires(doc, "esc", 1, 0.05)
    assert e["direction"] == "at_least" and e["value"] == 2.0
    doc = _doc([0.02, 0.06, 0.02, 0.01, 0.005], mcse=0.001)  # crosses only at 1: clearly not at 0 or 2
    (e,) = tripwires(doc, "esc", 1, 0.05)
    assert e["direction"] == "values" and e["values"] == [1.0]


def test_ordinal_and_binary_values_read_as_levels() -> None:
    doc = _doc([0.08, 0.05, 0.03], family="ordinal")
    doc["indicators"][0]["levels"] = ["closed", "guarded", "open"]
    (e,) = tripwires(doc, "esc", 1, 0.06)
    assert "≤ closed (0)" in sentence(e, "esc", 1, 0.06, up=True)
    doc = _doc([0.02, 0.07], family="binary")
    (e,) = tripwires(doc, "esc", 1, 0.05)
    assert "a report of 1 (yes)" in sentence(e, "esc", 1, 0.05, up=True)


def test_the_default_level_is_a_round_level_clearly_above_the_forecast() -> None:
    assert default_level(0.032) == 0.05
    assert default_level(0.045) == 0.075  # 5% is too close to 4.5% to mean a real rise
    assert default_level(0.0124) == 0.02
    assert default_level(0.001) == 0.005
    assert default_level(0.2) == 0.25
    assert default_level(0.985) is None


def test_the_reported_monte_carlo_errors_match_the_spread_over_posteriors() -> None:
    """Twenty independent fake posteriors of the signal-and-noise case: the spread of each estimate
    over them is the Monte Carlo error each reports (the value of information of the informative
    indicator, its sd reduction, a point of its tripwire curve). Measured over 30: spread / error
    1.06, 0.84 and 1.02; for a value of information near zero (the noise) the error is about twice
    the spread, the linearisation of an absolute value at its kink being conservative."""
    from models.design import build_design
    from models.forecast import draws_of
    from models.reweight import Conditioner
    from tests.watch_support import fake_idata

    case, frame = _signal_and_noise_case()
    design = build_design(case, frame, as_of=AS_OF)
    estimates: dict[str, list[float]] = {"voi": [], "sd_reduction": [], "curve": []}
    errors: dict[str, list[float]] = {"voi": [], "sd_reduction": [], "curve": []}
    for seed in range(20):
        idata = fake_idata(
            design, draws=150, seed=seed, loading=[[1.2], [0.0]], hazard_effect=[[1.0]], hazard_intercept=-3.0
        )
        doc = watch(
            Conditioner(design, draws_of(design, idata), observations=frame, seed=100 + seed),
            indicators=["signal"],
            seed=seed,
        )
        (ind,) = doc["indicators"]
        v = ind["periods"]["next_quarter"]["voi"]["outcome_0@1"]
        estimates["voi"].append(v["mean_abs_change"])
        errors["voi"].append(v["mcse"])
        estimates["sd_reduction"].append(v["sd_reduction"])
        errors["sd_reduction"].append(v["sd_reduction_mcse"])
        estimates["curve"].append(ind["curve"]["p"]["outcome_0@1"][3])
        errors["curve"].append(ind["curve"]["mcse"]["outcome_0@1"][3])
    for key in estimates:
        ratio = np.std(estimates[key], ddof=1) / np.mean(errors[key])
        assert 0.6 < ratio < 1.6, (key, ratio)
