"""Calibration on data simulated from the model: credible-interval coverage and rank histograms.

    python benchmarks/calibration.py [--replications 20] [--draws 300] [--tune 300] [--chains 2]
                                     [--jobs N] [--seed 1] [--as-of 2017-12-31]

Each replication simulates a synthetic case (``models.simulate``: two factors, six indicators —
events counts, yearly totals, binary, proportion, ordinal — and two outcomes) with its own true
factor paths, persistences, loadings and intercepts, draws each outcome's hazard parameters
from the model's prior, fits the model (PyMC's sampler, fixed seeds) and records, for every
main quantity, where the truth falls in its posterior:

- ``persistence`` (per factor), ``loading`` (per indicator), ``intercept`` (counts, binary,
  proportion), ``factor_state_last`` (each factor in the as-of quarter, the state forecasts start
  from), ``hazard_intercept`` (per outcome), and ``outcome_probability_1y``: the true probability
  that each outcome happens within a year of the as-of date (true parameters, true factor state,
  averaged over simulated future paths) against the posterior draws of that probability.

Reported per group: coverage of the central 50% and 90% credible intervals with the binomial
95% band for that many trials (``within_band``), and a simulation-based-calibration rank
histogram (Talts et al. 2018): the truth's rank among 99 evenly thinned posterior draws, in 10
bins, which is uniform when the posterior is calibrated, with a chi-square p-value.

Caveats, stated rather than hidden: the hazard parameters are drawn from the prior and the
dataset is kept only if no outcome happened during the observed period (conditioning on the data
keeps the ranks uniform); the indicator parameters come from ``models.simulate``'s own ranges
(persistence 0.8–0.97, loadings 0.5–1.2), not from the model's priors, so for them this is a
frequentist coverage check and exact uniformity is not guaranteed. Continuous indicators are
left out: the model standardises them, so their parameters are on another scale than the truth.
Quantities within a replication are correlated, so the spread of the coverages across runs is
wider than the binomial band suggests.

Prints one table per group, a text rank histogram each, and ends with one JSON line
``{"replications", "settings", "groups": {name: {"n", "coverage_50", "coverage_90", ...}}}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FAMILIES = ("count_events", "count_total", "binary", "proportion", "ordinal", "count_events")
GROUPS = ("persistence", "loading", "intercept", "factor_state_last", "hazard_intercept", "outcome_probability_1y")
RANK_DRAWS = 99
RANK_BINS = 10
FUTURE_PATHS = 4000


def _case_with_hazard(n_outcomes: int, seed: int, truth: Any, case: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Hazard intercepts and effects drawn from the prior, and whether no outcome happened."""
    from models.elicitation import hazard_prior

    prior = hazard_prior(case)
    rng = np.random.default_rng(10_000 + seed)
    for _ in range(200):
        h0 = rng.normal(prior.intercept_mean, prior.intercept_sd)[:n_outcomes]
        effect = (prior.present * rng.normal(prior.effect_mean, np.where(prior.present == 1, prior.effect_sd, 1.0)))[
            :n_outcomes
        ]
        logit = h0[:, None] + effect @ truth.factor_state
        happened = rng.random(logit.shape) < 1 / (1 + np.exp(-logit))
        if not happened.any():
            return h0, effect
    return None


def _true_probability(truth: Any, h0: np.ndarray, effect: np.ndarray, *, cells: int, seed: int) -> np.ndarray:
    """P(each outcome within ``cells`` quarters after the last observed quarter), true parameters."""
    rng = np.random.default_rng(20_000 + seed)
    phi = truth.persistence[:, None]
    f = np.repeat(truth.factor_state[:, -1:], FUTURE_PATHS, axis=1)  # (K, P)
    log_survive = np.zeros((len(h0), FUTURE_PATHS))
    for _ in range(cells):
        f = phi * f + np.sqrt(1 - phi**2) * rng.standard_normal(f.shape)
        logit = h0[:, None] + effect @ f
        log_survive += -np.logaddexp(0.0, logit)
    return (1 - np.exp(log_survive)).mean(axis=1)


def _rank(draws: np.ndarray, truth: float) -> int:
    idx = np.linspace(0, len(draws) - 1, RANK_DRAWS).round().astype(int)
    return int((draws[idx] < truth).sum())


def replicate(seed: int, settings: dict[str, Any], as_of: date = date(2017, 12, 31)) -> list[dict[str, Any]]:
    """One simulated dataset, fitted: where each true quantity falls in its posterior."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from models.design import build_design
    from models.fit import FitSettings, sample
    from models.forecast import draws_of
    from models.predictive import outcome_probability_draws
    from models.simulate import simulate_observations, synthetic_case

    case = synthetic_case(n_factors=2, n_indicators=len(FAMILIES), families=FAMILIES, n_outcomes=2)
    for attempt in range(20):
        frame, truth = simulate_observations(case, as_of=as_of, seed=1000 * seed + attempt)
        hazard = _case_with_hazard(len(case.outcomes), 1000 * seed + attempt, truth, case)
        if hazard is not None:
            break
    else:  # pragma: no cover - the prior makes a quiet past likely
        raise RuntimeError(f"replication {seed}: every simulated past had an outcome")
    h0, effect = hazard
    design = build_design(case, frame, as_of=as_of)
    idata = sample(design, FitSettings(**(settings | {"seed": settings.get("seed", 1) + seed})))
    draws = draws_of(design, idata)
    T = truth.factor_state.shape[1]
    assert design.grid.as_of_cell == T - 1
    out: list[dict[str, Any]] = []

    def add(group: str, name: str, samples: np.ndarray, value: float) -> None:
        lo50, hi50, lo90, hi90 = np.quantile(samples, [0.25, 0.75, 0.05, 0.95])
        out.append(
            {
                "replication": seed,
                "group": group,
                "name": name,
                "truth": float(value),
                "mean": float(samples.mean()),
                "rank": _rank(samples, value),
                "covered_50": bool(lo50 <= value <= hi50),
                "covered_90": bool(lo90 <= value <= hi90),
            }
        )

    for k, fac in enumerate(case.factor_ids):
        add("persistence", fac, draws.persistence[:, k], truth.persistence[k])
        add("factor_state_last", fac, draws.factor_state[:, k, T - 1], truth.factor_state[k, T - 1])
    for i, ind in enumerate(case.indicators):
        for k in np.flatnonzero(truth.loading[i]):
            add("loading", f"{ind.id}/{case.factor_ids[k]}", draws.loading[:, i, k], truth.loading[i, k])
        if ind.family in ("count", "binary", "proportion"):
            add("intercept", ind.id, draws.intercept[:, i], truth.intercept[i])
    p_draws = outcome_probability_draws(design, draws, years=1, paths=32, seed=seed)
    p_true = _true_probability(truth, h0, effect, cells=4, seed=seed)
    for o, oc in enumerate(case.outcomes):
        add("hazard_intercept", oc.id, draws.hazard_intercept[:, o], h0[o])
        add("outcome_probability_1y", oc.id, p_draws[:, o], p_true[o])
    return out


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Coverage with binomial bands and rank histograms, per group and over all groups."""
    from scipy import stats

    from models.backtest import binomial_band

    groups: dict[str, Any] = {}
    for g in GROUPS + ("all",):
        rs = [r for r in records if g == "all" or r["group"] == g]
        n = len(rs)
        if not n:
            continue
        c50 = float(np.mean([r["covered_50"] for r in rs]))
        c90 = float(np.mean([r["covered_90"] for r in rs]))
        b50, b90 = binomial_band(0.5, n), binomial_band(0.9, n)
        counts = np.histogram([r["rank"] for r in rs], bins=RANK_BINS, range=(0, RANK_DRAWS + 1))[0]
        chi2 = stats.chisquare(counts) if n >= RANK_BINS else None
        groups[g] = {
            "n": n,
            "coverage_50": round(c50, 4),
            "coverage_90": round(c90, 4),
            "band_50": [round(x, 4) for x in b50],
            "band_90": [round(x, 4) for x in b90],
            "within_band_50": bool(b50[0] <= c50 <= b50[1]),
            "within_band_90": bool(b90[0] <= c90 <= b90[1]),
            "rank_histogram": [int(c) for c in counts],
            "rank_chi2_p": None if chi2 is None else round(float(chi2.pvalue), 4),
        }
    return groups


def run_study(
    replications: int,
    settings: dict[str, Any],
    *,
    jobs: int = 1,
    first_seed: int = 1,
    as_of: date = date(2017, 12, 31),
    progress: Any = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run ``replications`` simulate-and-fit replications; returns (records, per-group summary)."""
    seeds = list(range(first_seed, first_seed + replications))
    records: list[dict[str, Any]] = []
    if jobs <= 1:
        for k, s in enumerate(seeds):
            records += replicate(s, settings, as_of)
            if progress:
                progress(k + 1, len(seeds))
    else:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            for k, rec in enumerate(pool.map(replicate, seeds, [settings] * len(seeds), [as_of] * len(seeds))):
                records += rec
                if progress:
                    progress(k + 1, len(seeds))
    return records, summarise(records)


def text_histogram(counts: list[int], width: int = 40) -> list[str]:
    top = max(counts) or 1
    expected = sum(counts) / len(counts)
    lines = []
    for b, c in enumerate(counts):
        lo, hi = b * (RANK_DRAWS + 1) // len(counts), (b + 1) * (RANK_DRAWS + 1) // len(counts) - 1
        bar = "#" * round(width * c / top)
        lines.append(f"  ranks {lo:2d}-{hi:2d} | {bar:<{width}} {c:3d}")
    lines.append(f"  (uniform: {expected:.1f} per bin)")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replications", type=int, default=20)
    ap.add_argument("--draws", type=int, default=300)
    ap.add_argument("--tune", type=int, default=300)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1, help="first replication's seed")
    ap.add_argument("--jobs", type=int, default=1, help="replications fitted at once (processes)")
    ap.add_argument("--as-of", default="2017-12-31")
    args = ap.parse_args(argv)
    settings = {"draws": args.draws, "tune": args.tune, "chains": args.chains, "seed": 7, "sampler": "pymc"}
    t0 = time.monotonic()

    def progress(done: int, total: int) -> None:
        print(f"\r{done} of {total} replications ({time.monotonic() - t0:.0f} s)", end="", file=sys.stderr, flush=True)

    _records, groups = run_study(
        args.replications,
        settings,
        jobs=args.jobs,
        first_seed=args.seed,
        as_of=date.fromisoformat(args.as_of),
        progress=progress,
    )
    print(file=sys.stderr)
    print(f"{'group':<24} {'n':>4} {'cov50':>6} {'band50':>13} {'cov90':>6} {'band90':>13} {'rank chi2 p':>11}")
    for g, s in groups.items():
        print(
            f"{g:<24} {s['n']:>4} {s['coverage_50']:>6.2f} {s['band_50'][0]:>6.2f}-{s['band_50'][1]:<6.2f} "
            f"{s['coverage_90']:>6.2f} {s['band_90'][0]:>6.2f}-{s['band_90'][1]:<6.2f} "
            f"{'' if s['rank_chi2_p'] is None else s['rank_chi2_p']:>11}"
        )
    for g, s in groups.items():
        print(f"\nrank histogram: {g}")
        print("\n".join(text_histogram(s["rank_histogram"])))
    print(
        json.dumps(
            {
                "replications": args.replications,
                "settings": settings,
                "seconds": round(time.monotonic() - t0),
                "groups": groups,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
