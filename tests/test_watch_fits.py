"""The watch list on real fits of the synthetic case of tests/scenario_support.py, whose truth is
known: outcome_0's hazard rises with factor_0 and outcome_1's with factor_1, each not at all with
the other factor; ind_0, ind_2 and ind_4 reflect factor_0, ind_1, ind_3 and ind_5 factor_1.

- With ``HARBINGER_WATCH_AFTER_FIT=1`` (as these fits are made), the list is computed at the end
  of each fit (dashboard.services.runs.fit_case) and cached.
- The indicators of an outcome's factor are worth more than those of the other factor (noise for
  it). On these small fits (the outcomes never happened, so their effects are learned from the
  elicited priors and the few data) that shows clearly for outcome_1; the sharper check of one
  strongly informative indicator against pure noise is tests/test_watch.py's, on a fake posterior.
- A tripwire found by reweighting agrees, within Monte Carlo error, with a refit that has the
  report at the tripwire value as data (slow: one more fit).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.scenario_support import CASE_ID

pytestmark = pytest.mark.fit


@pytest.fixture
def shared(synthetic_runs: Any) -> Any:
    """Run B of the session's synthetic fits (tests/conftest.py), the current run."""
    store = synthetic_runs.store()
    yield {"store": store, "run": store.get_run(synthetic_runs.run_b)}
    store.close()


def test_the_watch_list_is_computed_at_the_end_of_the_fit_when_asked(shared: dict[str, Any]) -> None:
    from dashboard.services.runs import current_run
    from dashboard.services.watch import read_cached

    run = shared["run"]
    assert current_run(shared["store"], CASE_ID)["id"] == run["id"]
    doc = read_cached(run)
    assert doc is not None and doc["run_id"] == run["id"] and doc["settings"]["draws"] == 600


FACTOR_1 = ("ind_1", "ind_3", "ind_5")


def test_the_indicators_of_an_outcomes_factor_rank_above_the_others(shared: dict[str, Any]) -> None:
    from dashboard.services.watch import watch_document
    from models.watchlist import ranking

    rows = ranking(watch_document(shared["store"], CASE_ID), "outcome_1", 1)
    assert rows[0]["indicator"] in FACTOR_1 and rows[0]["rank"] == 1
    own = [r for r in rows if r["indicator"] in FACTOR_1]
    other = [r for r in rows if r["indicator"] not in FACTOR_1]
    gap = sum(r["mean_abs_change"] for r in own) - sum(r["mean_abs_change"] for r in other)
    assert gap > 3 * np.sqrt(sum(r["mcse"] ** 2 for r in rows))


@pytest.mark.slow
def test_a_tripwire_agrees_with_a_refit_at_its_value(shared: dict[str, Any]) -> None:
    """Reweighting's probability at the tripwire value against a refit with that report as data
    (:func:`models.reweight.extended_design`: the model samples the report's quarters)."""
    from dashboard.services.analysis import run_context
    from dashboard.services.watch import watch_document
    from models.fit import FitSettings, sample
    from models.forecast import draws_of
    from models.reweight import extended_design
    from models.scenarios import forecast_extended
    from models.watch import REPORT_GRADE
    from models.watchlist import PERIODS, tripwires

    store, run = shared["store"], shared["run"]
    doc = watch_document(store, CASE_ID)
    ctx = run_context(store, CASE_ID, run)
    # the clearest move a trusted next-quarter value makes (in Monte Carlo errors), over every
    # indicator and one-year forecast; the level halfway to it has a tripwire to check
    best = None
    for target in (t for t in doc["targets"] if t["years"] == 1):
        for ind in doc["indicators"]:
            curve = ind["curve"]
            p = np.asarray(curve["p"][target["key"]], dtype=float)
            z = (p - target["p_mean"]) / np.asarray(curve["mcse"][target["key"]], dtype=float)
            z[np.asarray(curve["khat"], dtype=float) > 0.5] = 0.0
            j = int(np.argmax(np.abs(z)))
            if best is None or abs(z[j]) > abs(best[0]):
                best = (z[j], target, ind["id"], p[j])
    z, target, indicator, p_far = best
    assert abs(z) > 3, "a report should move some forecast clearly where reweighting holds"
    outcome, p_now = target["outcome"], target["p_mean"]
    level = (p_now + p_far) / 2
    wire = next(e for e in tripwires(doc, outcome, 1, level) if e["indicator"] == indicator)
    assert wire["crosses"] and wire["reliable"] and wire["direction"] in ("at_least", "at_most")

    start, end = PERIODS[0].dates(ctx.conditioner.design.as_of)
    report = [
        {
            "indicator": indicator,
            "date": start,
            "end": end,
            "value": wire["value"],
            "reliability": REPORT_GRADE[0],
            "credibility": REPORT_GRADE[1],
        }
    ]
    design = extended_design(ctx.conditioner.design, ctx.observations, report)
    settings = FitSettings(**{k: v for k, v in ctx.settings.items() if k in FitSettings.__dataclass_fields__})
    draws = draws_of(design, sample(design, settings))
    refit = forecast_extended(design, draws, seed=ctx.conditioner.seed, paths=ctx.conditioner.n_paths)
    h = refit.horizon(outcome, 1)
    error = np.hypot(wire["mcse"], h["mcse"])
    print(
        f"{indicator} {wire['direction']} {wire['value']:g} -> {outcome}@1 across {level:.4f} (now {p_now:.4f}): "
        f"reweighting {wire['p']:.4f} ± {wire['mcse']:.4f} (k-hat {wire['khat']}), refit {h['p_mean']:.4f} ± "
        f"{h['mcse']:.4f}"
    )
    assert abs(h["p_mean"] - wire["p"]) <= 3 * error, (h, wire)
