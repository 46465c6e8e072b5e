"""Simulation-based calibration (``models.sbc``): the rank statistics and their bands on ranks made
here (uniform ones pass, a miscalibrated posterior's fail), the simulation of a replication's data
on the template's layout (no fit), and, in the ``slow`` tier, a reduced study of the production
fit (benchmarks/sbc.py runs the full one)."""

from __future__ import annotations

import numpy as np
import pytest

from models import sbc
from models.forecast import Draws
from tests.benchmarks import benchmark
from tests.sbc_support import fit_record, sample_study

L = sbc.RANK_DRAWS


def _ranks_of_posterior(n: int, *, sd: float, shift: float = 0.0, seed: int = 0) -> list[int]:
    """Ranks of truths drawn from N(0, 1) among L draws of a 'posterior' N(shift, sd) that ignores
    the data: calibrated when sd = 1 and shift = 0 (the posterior is then the prior)."""
    rng = np.random.default_rng(seed)
    return [sbc.rank_of(float(rng.normal()), rng.normal(shift, sd, L), rng) for _ in range(n)]


def test_calibrated_ranks_pass_every_test() -> None:
    summary = sbc.rank_summary(_ranks_of_posterior(200, sd=1.0))
    assert summary["n"] == 200 and sum(summary["histogram"]) == 200
    assert summary["chi2_p"] > 0.01, summary
    assert summary["ecdf_in_band"], summary
    lo, hi = summary["bin_band"]
    assert all(lo <= c <= hi for c in summary["histogram"]), summary


def test_an_over_narrow_posterior_is_detected() -> None:
    # Half the prior's sd: the truth falls outside the draws far too often (a U-shaped histogram).
    summary = sbc.rank_summary(_ranks_of_posterior(100, sd=0.5))
    assert summary["chi2_p"] < 1e-4, summary
    assert not summary["ecdf_in_band"], summary
    counts = summary["histogram"]
    assert counts[0] > summary["bin_band"][1] and counts[-1] > summary["bin_band"][1], summary


def test_a_biased_posterior_is_detected_by_its_ecdf() -> None:
    # Shifted by half an sd: ranks pile up low and the ECDF rises too fast. The ECDF test sees a
    # shift spread over many bins that the chi-square test, which ignores the bins' order, may not.
    summary = sbc.rank_summary(_ranks_of_posterior(100, sd=1.0, shift=0.5))
    assert not summary["ecdf_in_band"], summary
    assert sum(summary["histogram"][:5]) > 60, summary


def test_an_over_wide_posterior_is_detected() -> None:
    # Twice the prior's sd: the truth sits in the middle of the draws too often (a hump).
    summary = sbc.rank_summary(_ranks_of_posterior(100, sd=2.0))
    assert summary["chi2_p"] < 1e-4 and not summary["ecdf_in_band"], summary


def test_ties_are_split_at_random_so_a_point_mass_still_ranks_uniformly() -> None:
    rng = np.random.default_rng(3)
    ranks = [sbc.rank_of(0.5, np.full(L, 0.5), rng) for _ in range(2000)]
    assert min(ranks) == 0 and max(ranks) == L
    assert sbc.chi2_p(sbc.rank_histogram(ranks)) > 0.001
    assert sbc.rank_of(2.0, np.array([1.0, 2.0, 3.0]), np.random.default_rng(0)) in (1, 2)
    assert sbc.rank_of(5.0, np.array([1.0, 2.0, 3.0]), rng) == 3


def test_the_bin_band_holds_the_binomial_mass_it_claims() -> None:
    from scipy import stats

    n = 100
    lo, hi = sbc.bin_band(n)
    assert lo < n / sbc.RANK_BINS < hi
    mass = stats.binom.cdf(hi, n, 1 / sbc.RANK_BINS) - stats.binom.cdf(lo - 1, n, 1 / sbc.RANK_BINS)
    assert mass >= sbc.BAND_PROB


def test_the_ecdf_band_is_simultaneous_at_its_probability() -> None:
    # Uniform ranks leave the band in about 1% of studies: far fewer than a pointwise band would.
    rng = np.random.default_rng(11)
    n = 100
    u, lower, upper = sbc.ecdf_band(n)
    assert len(u) == L and np.all(lower <= u) and np.all(u <= upper)
    outside = 0
    for _ in range(400):
        ecdf = sbc.ecdf_of(rng.integers(0, L + 1, n))
        outside += bool(np.any((ecdf < lower - 1e-12) | (ecdf > upper + 1e-12)))
    assert outside / 400 <= 0.03, outside


def test_the_summary_keeps_every_quantity_ranks_and_fit_records() -> None:
    records = [
        fit_record(
            r,
            {"persistence factor_0": r % (L + 1), "P(1y) outcome_0": (7 * r) % (L + 1)},
            ess={"persistence factor_0": 250.0 if r % 4 else 80.0},
            rhat_max=1.02 if r == 3 else 1.001,
            divergences=2 if r == 5 else 0,
        )
        for r in range(40)
    ]
    doc = sbc.summarise(records)
    q = doc["quantities"]
    assert set(q) == {"persistence factor_0", "P(1y) outcome_0"}
    assert q["persistence factor_0"]["group"] == "persistence" and q["P(1y) outcome_0"]["group"] == "P(1y)"
    assert q["persistence factor_0"]["ranks"] == [r % (L + 1) for r in range(40)]
    assert q["persistence factor_0"]["ess_below_draws"] == 10 and "ess_median" not in q["P(1y) outcome_0"]
    assert (doc["compiles"], doc["processes"], doc["replications"]) == (1, 1, 40)
    assert (doc["fits_with_divergences"], doc["fits_rhat_over_1_01"], doc["divergences"]) == (1, 1, 2)


# ---------------------------------------------------------------------------- one replication's data


def _truth(design) -> Draws:
    """A hand-made one-draw truth for the template's case (no prior sampling: no PyMC here)."""
    rng = np.random.default_rng(5)
    K, T, I, O = len(design.factor_ids), design.grid.n_cells, len(design.indicator_ids), len(design.outcome_ids)
    loading = np.zeros((1, I, K))
    for i, ind in enumerate(design.case.indicators):
        for fac in ind.loadings:
            loading[0, i, design.factor_ids.index(fac)] = 0.8
    fam = design.family_indicators
    levels = design.constants["ordinal_levels"].astype(int)
    return Draws(
        chains=1,
        factor_state=rng.normal(size=(1, K, T)),
        persistence=np.full((1, K), 0.9),
        loading=loading,
        intercept=np.zeros((1, I)),
        hazard_intercept=np.full((1, O), -1.0),
        hazard_effect=np.full((1, O, K), 0.5),
        params={
            "families": [k for k, v in fam.items() if v],
            "count_alpha": np.full((1, len(fam["count"])), 5.0),
            "proportion_kappa": np.full((1, len(fam["proportion"])), 20.0),
            "continuous_sigma": np.full((1, len(fam["continuous"])), 0.5),
            "ordinal_cut": np.sort(rng.normal(size=(1, len(fam["ordinal"]), max(levels) - 1)), axis=-1),
        },
    )


@pytest.fixture(scope="module")
def template():
    return sbc.sbc_design(0)


def test_a_replication_changes_only_data_values_so_one_compiled_model_serves_all(template) -> None:
    truth = _truth(template)
    one = sbc.simulate_design(template, truth, np.random.default_rng(1))
    two = sbc.simulate_design(template, truth, np.random.default_rng(2))
    assert one.shape_key() == template.shape_key() == two.shape_key()
    for name, rows in template.families.items():
        for other in (one, two):
            new = other.families[name]
            assert new.n_rows == rows.n_rows
            for field in ("cells", "weights", "log_w", "mask", "indicator"):
                assert np.array_equal(getattr(new, field), getattr(rows, field)), (name, field)
        if rows.n_rows:
            assert not np.array_equal(one.families[name].y, two.families[name].y), name
    assert one.constants is template.constants
    count = one.families["count"]
    y = count.y[: count.n_rows]
    assert np.all(y >= 0) and np.all(y == np.round(y))
    proportion = one.families["proportion"].y[: one.families["proportion"].n_rows]
    assert np.all((proportion > 0) & (proportion < 1))


def test_a_simulated_outcome_stops_being_at_risk_after_it_happens(template) -> None:
    truth = _truth(template)
    truth.hazard_intercept[:] = 0.0  # a coin a quarter: it happens early, almost surely
    design = sbc.simulate_design(template, truth, np.random.default_rng(4))
    a = template.grid.as_of_cell
    for o in range(len(template.outcome_ids)):
        event = np.flatnonzero(design.outcome_event[o])
        assert len(event) == 1
        assert np.all(design.outcome_at_risk[o, : event[0] + 1] == 1)
        assert np.all(design.outcome_at_risk[o, event[0] + 1 :] == 0)
    truth.hazard_intercept[:] = -50.0  # never
    quiet = sbc.simulate_design(template, truth, np.random.default_rng(4))
    assert quiet.outcome_event.sum() == 0
    assert np.array_equal(quiet.outcome_at_risk[:, : a + 1], np.ones((len(template.outcome_ids), a + 1)))


def test_quantities_name_every_parameter_the_study_ranks(template) -> None:
    truth = _truth(template)
    q = sbc.quantities(template, truth, seed=0)
    groups = {sbc.group_of(name) for name in q}
    assert groups == {"persistence", "factor state", "loading", "count dispersion", "hazard intercept", "P(1y)"}
    assert sum(name.startswith("loading") for name in q) == len(template.indicator_ids)
    assert all(v.shape == (1,) for v in q.values())
    p = [v[0] for name, v in q.items() if name.startswith("P(1y)")]
    assert all(0 < x < 1 for x in p)


def test_the_benchmark_draws_a_histogram_per_quantity(tmp_path) -> None:
    bench = benchmark("sbc")
    records = [
        fit_record(r, {"loading a/f": r % (L + 1), "P(1y) o": (3 * r) % (L + 1)}, ess={"loading a/f": 300.0})
        for r in range(30)
    ]
    doc = sbc.summarise(records)
    path = tmp_path / "ranks.png"
    bench.plot_ranks(doc, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = bench.table(doc)
    assert len(lines) == 3 and lines[1].startswith("loading a/f")


# ---------------------------------------------------------------------------- what the dashboard shows


def test_the_shipped_study_has_every_quantity_over_at_least_100_replications(tmp_path) -> None:
    from dashboard.services.calibration import latest_sbc

    doc = latest_sbc(tmp_path)  # an empty home: the shipped result
    assert doc is not None and doc["file"].endswith("calibration/sbc.json")
    assert doc["replications"] >= 100 and doc["compiles"] == doc["processes"]
    groups = {q["group"] for q in doc["quantities"].values()}
    assert {"factor state", "loading", "count dispersion", "P(1y)"} <= groups
    for name, q in doc["quantities"].items():
        assert len(q["ranks"]) == q["n"] == doc["replications"], name
        assert q == q | sbc.rank_summary(q["ranks"]), name  # the stored tests are those of the ranks


def test_a_rerun_in_the_home_replaces_the_shipped_study(tmp_path) -> None:
    import json

    from dashboard.services.calibration import home_result_path, latest_sbc

    path = home_result_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(sample_study()))
    doc = latest_sbc(tmp_path)
    assert doc["file"] == str(path) and doc["replications"] == 40
    path.write_text("{not json")
    assert latest_sbc(tmp_path)["file"] != str(path)  # unreadable: the shipped one


def test_the_sbc_figure_draws_each_histogram_with_its_band_and_flags_the_miscalibrated() -> None:
    from dashboard import backtest_figures as bf

    doc = sample_study()
    fig = bf.sbc_figure(doc)
    bars = [t for t in fig.data if t.type == "bar"]
    assert [b.name for b in bars] == ["loading a/f", "persistence f"]
    assert [list(b.y) for b in bars] == [q["histogram"] for q in doc["quantities"].values()]
    assert bars[0].marker.color != bars[1].marker.color  # the U-shaped one in the alert colour
    lo, hi = doc["quantities"]["persistence f"]["bin_band"]
    bands = [sh for sh in fig.layout.shapes if sh.type == "rect"]
    assert len(bands) == 2 and (bands[1].y0, bands[1].y1) == (lo, hi) and bands[1].layer == "below"
    uniform = [sh for sh in fig.layout.shapes if sh.type == "line"]
    assert [sh.y0 for sh in uniform] == [doc["quantities"][n]["n"] / doc["bins"] for n in doc["quantities"]]


# ---------------------------------------------------------------------------- the study (slow)

#: The reduced study: 20 replications at the benchmark's settings, loose bands.
SLOW_REPLICATIONS = 20


@pytest.mark.slow
@pytest.mark.fit
def test_the_production_fit_is_calibrated_on_draws_from_its_prior(monkeypatch: pytest.MonkeyPatch) -> None:
    """20 prior draws, fitted by nutpie with the fused density (one compile), ranked: no quantity's
    χ² p-value below 0.001 and every ECDF inside its simultaneous 99.9% band. A sampler or density
    that got the posterior wrong (too narrow, shifted) fails this (see the tests above)."""
    from models import fit

    # in this process (jobs=1) the study counts from an empty cache, whatever other tests compiled
    monkeypatch.setattr(fit, "_CACHE", {})
    monkeypatch.setitem(fit.COMPILE_COUNT, "n", 0)
    result = sbc.run_study(SLOW_REPLICATIONS, jobs=1, seed=2)
    assert result["compiles"] == 1, result["compiles"]
    assert result["densities"] == ["fused"]
    failing = {}
    for name, q in result["quantities"].items():
        loose = sbc.rank_summary(q["ranks"], prob=0.999)
        if q["chi2_p"] < 0.001 or not loose["ecdf_in_band"]:
            failing[name] = (q["chi2_p"], q["histogram"])
    assert not failing, failing


def test_the_backtest_page_says_how_many_fits_of_the_study_failed_the_convergence_checks() -> None:
    from dashboard.services.calibration import convergence_text

    records = [fit_record(r, {"persistence f": r % (L + 1)}) for r in range(8)]
    records[0] |= {"rhat_max": 1.05, "divergences": 3}
    records[1] |= {"rhat_max": 1.02}
    doc = sbc.summarise(records)
    assert convergence_text(doc) == (
        "Of the 8 fits, 2 had an R-hat above 1.01 and 1 had divergent transitions (3 in all); "
        "every fit's ranks are counted."
    )
    assert convergence_text({"replications": 8}) == ""  # a study that recorded neither
