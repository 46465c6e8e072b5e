"""A fit stops early once converged (models.fit.Checkpoints, FitSettings.min_draws): when it
looks, what it demands, and that what it keeps is what a fit that never looked begins with."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import arviz as az
import numpy as np
import pytest

from models.fit import CHECK_EVERY, EARLY_STOP_ESS_MARGIN, Checkpoints, FitSettings, Remembered, diagnostics


def _looks(**settings: object) -> Checkpoints:
    """The look schedule of a fit with ``settings`` (it needs no design until it looks)."""
    return Checkpoints(None, FitSettings(**settings), None, "fused", None)  # type: ignore[arg-type]


def _seen(param: float = 1000.0, bulk: float = 2000.0, tail: float = 2000.0, divergences: int = 0) -> dict:
    return {"min_param_ess": param, "min_ess_bulk": bulk, "min_ess_tail": tail, "divergences": divergences}


def test_a_fit_looks_first_after_min_draws_of_every_chain() -> None:
    looks = _looks(draws=4000, tune=2000, min_draws=1000)
    assert looks.at == 1000
    assert not looks.due([2999, 3500])  # the slower chain decides
    assert looks.due([3000, 3001])
    assert not looks.due([3500])  # a chain not yet reporting: no look


@pytest.mark.parametrize(
    "settings",
    [
        {"min_draws": 0},  # switched off
        {"draws": 1000, "min_draws": 1000},  # nothing before the end
        {"draws": 60, "tune": 60},  # the tests' tiny fits
        {"sampler": "pymc"},  # PyMC's sampler runs to its end
    ],
)
def test_no_look_where_a_fit_cannot_stop_early(settings: dict) -> None:
    looks = _looks(**settings)
    assert looks.at is None and not looks.due([10**6, 10**6])


def test_a_failed_look_sets_the_next_where_the_ess_may_reach_the_margin() -> None:
    looks = _looks(draws=4000, min_draws=1000)
    need = EARLY_STOP_ESS_MARGIN * 100 * 2  # per-chain minimum of a parameter, two chains
    # just short: the next look one step later
    assert looks._next(1000, _seen(param=0.9 * need)) == 1000 + CHECK_EVERY
    # half-way: where the ESS, growing with the draws, would reach the margin
    assert looks._next(1000, _seen(param=0.55 * need)) == 2000
    # far short: never more than two steps ahead (an ESS from few draws is noisy)
    assert looks._next(1000, _seen(param=0.1 * need)) == 1000 + 2 * CHECK_EVERY
    # the outcome probabilities' tail ESS counts too
    assert looks._next(1000, _seen(tail=0.55 * EARLY_STOP_ESS_MARGIN * 400)) == 2000
    # every ESS enough (R-hat failed): one step later
    assert looks._next(1000, _seen()) == 1000 + CHECK_EVERY
    # divergent transitions stay: no more looks, the fit is judged at its end
    assert looks._next(1000, _seen(divergences=1)) is None
    # nothing at or after the end
    assert looks._next(3500, _seen(param=0.9 * need)) is None


def test_a_look_that_fails_ends_the_looks_not_the_fit() -> None:
    class Broken:
        def inspect(self) -> None:
            raise RuntimeError("no trace")

    looks = _looks(draws=4000, min_draws=1000)
    assert looks.converged(Broken().inspect, lambda f, m: None) is False
    assert looks.at is None and not looks.due([10**6, 10**6])


def test_the_margin_raises_every_ess_limit() -> None:
    """Diagnostics that pass at the usual limits fail a look's: ESS between 1 and 1.5 times."""
    rng = np.random.default_rng(3)
    shape = (2, 250)  # 500 independent draws: ESS about 500, between 400 and 1.5 * 400
    idata = az.from_dict(
        posterior={"persistence": rng.normal(size=shape)},
        sample_stats={"diverging": np.zeros(shape, dtype=bool), "energy": rng.normal(size=shape)},
    )
    plain = diagnostics(idata)
    assert plain["ok"], plain
    assert 400 <= plain["min_ess_bulk"] < 600
    assert plain["draws"] == 250
    strict = diagnostics(idata, ess_margin=EARLY_STOP_ESS_MARGIN)
    assert not strict["ok"]
    assert any("bulk ESS" in p and "below 600" in p for p in strict["problems"]), strict["problems"]


@pytest.mark.fit
def test_a_fit_stops_once_converged_with_the_draws_a_fit_that_never_looked_begins_with(cli) -> None:
    """The shipped case at an early backtest origin: the fit stops at a look, its kept draws pass
    the diagnostics with the margin, and they are the first draws of the same fit run to its end
    (the same chains: looking changes nothing but where they stop)."""
    from indicators.store import Store
    from models import fit
    from models.design import build_design
    from models.forecast import draws_of, outcome_forecasts

    assert cli("init").exit_code == 0
    store = Store.from_env()
    case_id = store.case_ids()[0]
    as_of = date(2015, 12, 31)
    design = build_design(store.get_case(case_id).case, store.observations(case_id, as_of=as_of), as_of=as_of)
    settings = FitSettings(draws=3000, tune=1000, min_draws=500, seed=3)

    judge = Remembered(fit.run_judge(design, settings.seed))
    early = fit.sample(design, settings, judge=judge)
    kept = early.posterior.sizes["draw"]
    assert settings.min_draws <= kept < settings.draws
    assert kept % CHECK_EVERY == 0  # at a look
    prob = outcome_forecasts(design, draws_of(design, early), seed=settings.seed)[1]
    judged = diagnostics(
        early, outcome_probability=prob, observed_periods=design.grid.as_of_cell + 1, ess_margin=EARLY_STOP_ESS_MARGIN
    )
    assert judged["ok"] and judged["draws"] == kept, judged
    # the verdict the run records is the passing look's, and the same as judging the draws anew
    again = diagnostics(early, outcome_probability=prob, observed_periods=design.grid.as_of_cell + 1)
    assert judge.passed(early) == judge.verdict(early) == again
    assert again["tune"] == settings.tune and again["warm_start"] is False

    full = fit.sample(design, replace(settings, min_draws=0))
    assert full.posterior.sizes["draw"] == settings.draws
    for name in ("factor_state", "loading", "hazard_intercept", "count_dispersion"):
        np.testing.assert_array_equal(early.posterior[name].values, full.posterior[name].values[:, :kept])
    np.testing.assert_array_equal(
        early.sample_stats["step_size"].values, full.sample_stats["step_size"].values[:, :kept]
    )


def test_looks_the_chains_outran_are_made_on_the_finished_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fit that ends before its looks are made (a fast fit on a loaded machine) stops where the
    looks would have stopped it: the kept draws depend on the chains alone, not on timing."""
    import nutpie

    from models import fit

    rng = np.random.default_rng(5)
    shape = (2, 3000)
    finished = az.from_dict(
        posterior={"persistence": rng.normal(size=shape)},
        sample_stats={"diverging": np.zeros(shape, dtype=bool), "energy": rng.normal(size=shape)},
    )

    class Done:
        is_finished = True

        def wait(self) -> az.InferenceData:
            return finished

    monkeypatch.setattr(nutpie, "sample", lambda *a, **k: Done())
    seen: list[int] = []

    def judge(idata: az.InferenceData, ess_margin: float = 1.0) -> dict:
        n = idata.posterior.sizes["draw"]
        seen.append(n)
        ok = n >= 2000
        return {"ok": ok, "problems": [] if ok else ["short"], "divergences": 0} | _seen(param=n / 10)

    settings = FitSettings(draws=3000, tune=1000, min_draws=1000)
    looks = Checkpoints(None, settings, None, "pytensor", judge)  # type: ignore[arg-type]
    kept = fit._nutpie_draws(None, settings, looks, None)
    assert seen == [1000, 2000]  # the schedule of a running fit (Checkpoints._next)
    assert kept.posterior.sizes["draw"] == 2000
    np.testing.assert_array_equal(
        kept.posterior["persistence"].values, finished.posterior["persistence"].values[:, :2000]
    )


def _posterior(draws: int, seed: int = 0) -> az.InferenceData:
    rng = np.random.default_rng(seed)
    return az.from_dict(posterior={"persistence": rng.normal(size=(2, draws))})


def test_a_remembered_judge_reads_the_verdict_of_the_draws_it_passed() -> None:
    calls: list[float] = []

    def judge(idata: az.InferenceData, ess_margin: float = 1.0) -> dict:
        calls.append(ess_margin)
        ok = idata.posterior.sizes["draw"] >= 100
        return {"ok": ok, "problems": [] if ok else ["short"], "draws": idata.posterior.sizes["draw"]}

    remembered = Remembered(judge)
    passed = _posterior(100)
    assert remembered(passed, EARLY_STOP_ESS_MARGIN)["ok"]
    passed.posterior.attrs.update(tune=500, warm_start=1)  # what the fit records afterwards
    assert remembered.verdict(passed) == {"ok": True, "problems": [], "draws": 100, "tune": 500, "warm_start": True}
    assert calls == [EARLY_STOP_ESS_MARGIN]  # not judged again

    other = _posterior(100, seed=1)  # other draws are judged, without a margin
    assert remembered.passed(other) is None
    assert remembered.verdict(other)["ok"]
    assert calls == [EARLY_STOP_ESS_MARGIN, 1.0]


def test_a_remembered_judge_judges_again_draws_it_did_not_pass() -> None:
    calls: list[float] = []

    def judge(idata: az.InferenceData, ess_margin: float = 1.0) -> dict:
        calls.append(ess_margin)
        ok = ess_margin <= 1.0  # passes only without the margin
        return {"ok": ok, "problems": [] if ok else ["short"]}

    remembered = Remembered(judge)
    draws = _posterior(50)
    assert not remembered(draws, EARLY_STOP_ESS_MARGIN)["ok"]
    assert remembered.verdict(draws)["ok"]
    assert calls == [EARLY_STOP_ESS_MARGIN, 1.0]
