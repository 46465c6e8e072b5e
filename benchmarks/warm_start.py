#!/usr/bin/env python
"""Refits from the current run's posterior (warm starts) against refits from the prior.

Run from the repository root (after ``bash scripts/setup.sh``)::

    .venv/bin/python benchmarks/warm_start.py                         # warm-tune 0 and 500, 6 seeds
    .venv/bin/python benchmarks/warm_start.py --warm-tune 0,250,500,1000 --seeds 4
    .venv/bin/python benchmarks/warm_start.py --warm-tune 500 --mass-matrix gradient,variance

On the shipped case (a fresh temporary store, as ``harbinger init`` makes it; each design built
as ``harbinger fit`` builds it, from the observations and review records known today): one
default fit as of today (the current run), then one new observation, then for each ``--warm-tune`` value and each
seed a refit of the new data with the default ``FitSettings`` at that seed, started from the
current run's posterior (``models.fit.sample(..., warm_start=...)``, as ``harbinger fit`` and the
dashboard start a refit; its mass matrix estimated from the draws' variances, or with
``--mass-matrix`` also from the gradients) or, for 0, from the prior. Every refit is judged by the run's own
diagnostics (``models.fit.run_judge``). All fits run in this one process, side by side, after one
compile: the seconds are sampling and expansion only (what a long-lived server waits for).

Prints one line per refit, a table per ``--warm-tune`` value (passing refits, median and range of
seconds, median draws kept per chain) with the ratio of each median to the refit from the
prior, and ends with one JSON line. A timing counts only when its refit passed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--warm-tune", default="0,500", help="comma-separated tuning steps of a warm start; 0: the prior")
    estimates = "variance (the draws' variances; the default) and/or gradient (nutpie's gradient-based one)"
    p.add_argument("--mass-matrix", default="variance", help=f"comma-separated estimates of a warm start: {estimates}")
    p.add_argument("--seeds", type=int, default=6, help="refits per kind (default 6)")
    return p.parse_args()


def _kinds(warm_tunes: list[int], estimates: list[str]) -> list[tuple[str, int, bool]]:
    """Each kind of refit measured: its label, warm-up length (0: from the prior) and whether a
    warm start's mass matrix is gradient-based. The prior's is labelled "0"; a warm start's by its
    warm-up, with the estimate when more than one is compared."""
    kinds = []
    for warm_tune in warm_tunes:
        if warm_tune == 0:
            kinds.append(("0", 0, False))
            continue
        for estimate in estimates:
            label = str(warm_tune) if len(estimates) == 1 else f"{warm_tune} {estimate}"
            kinds.append((label, warm_tune, estimate == "gradient"))
    return kinds


def main() -> None:
    args = _args()
    estimates = args.mass_matrix.split(",")
    if not set(estimates) <= {"gradient", "variance"}:
        sys.exit(f"--mass-matrix: {args.mass_matrix!r}; give gradient, variance or both")
    kinds = _kinds([int(v) for v in args.warm_tune.split(",")], estimates)
    os.environ["HARBINGER_HOME"] = tempfile.mkdtemp(prefix="harbinger-warm-")
    subprocess.run([str(Path(sys.executable).parent / "harbinger"), "init"], check=True, capture_output=True)

    from indicators.store import Store
    from models.design import build_design
    from models.fit import FitSettings, compiled_for, run_judge, sample

    store = Store.from_env()
    case_id = store.case_ids()[0]
    case = store.get_case(case_id).case
    as_of = date.today()
    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{v:.1f}' for v in os.getloadavg())}", flush=True)

    design = build_design(
        case,
        store.observations(case_id, as_of=as_of),
        as_of=as_of,
        reviewed=store.reviews(case_id, as_of=as_of),
    )
    compiled_for(design, "nutpie")
    start = time.perf_counter()
    current = sample(design)
    verdict = run_judge(design, FitSettings().seed)(current, 1.0)
    print(f"current run: {time.perf_counter() - start:.1f} s, diagnostics {'ok' if verdict['ok'] else 'FAILED'}")
    if not verdict["ok"]:
        sys.exit("the current run failed its diagnostics: no warm start is measured from it")

    new = {
        "indicator": "russian_airspace_violation",
        "date": (as_of - timedelta(days=3)).isoformat(),
        "value": 1,
        "source": "benchmark",
        "reliability": "B",
        "credibility": 2,
    }
    store.add_observations(case_id, [new], actor="benchmark")
    refit = build_design(
        case,
        store.observations(case_id, as_of=as_of),
        as_of=as_of,
        reviewed=store.reviews(case_id, as_of=as_of),
    )
    first = FitSettings().seed
    rows: list[dict[str, Any]] = []
    for label, warm_tune, gradient in kinds:
        for seed in range(first, first + args.seeds):
            settings = FitSettings(seed=seed, warm_tune=warm_tune, warm_grad_based_mass_matrix=gradient)
            start = time.perf_counter()
            idata = sample(refit, settings, warm_start=current.posterior if warm_tune else None)
            seconds = time.perf_counter() - start
            d = run_judge(refit, seed)(idata, 1.0)
            row = {
                "refit": label,
                "warm_tune": warm_tune,
                "seed": seed,
                "s": round(seconds, 1),
                "tune": int(idata.posterior.attrs["tune"]),
                "draws": int(idata.posterior.sizes["draw"]),
                "steps_per_draw": round(float(idata.sample_stats["n_steps"].mean()), 1),
                "step_size": [round(float(v), 4) for v in idata.sample_stats["step_size"].values[:, -1]],
                "ok": bool(d["ok"]),
                "max_rhat": d["max_rhat"],
                "min_param_ess": d["min_param_ess"],
                "problems": d["problems"],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)

    summary = _summary(rows, [label for label, _, _ in kinds])
    print(
        f"\nRefits after one new observation ({args.seeds} seeds each; load average "
        f"{' '.join(f'{v:.1f}' for v in os.getloadavg())})"
    )
    print(f"  {'refit':>14}  {'passed':>6}  {'median s':>8}  {'range s':>11}  {'draws':>5}  {'vs prior':>8}")
    for label, s in summary.items():
        ratio = f"{s['ratio_to_prior']:.2f}" if s["ratio_to_prior"] is not None else "–"
        median = f"{s['median_s']:.1f}" if s["median_s"] is not None else "–"
        span = f"{s['min_s']:.1f}–{s['max_s']:.1f}" if s["median_s"] is not None else "–"
        print(
            f"  {label:>14}  {s['passed']:>3}/{s['fits']:<2}  {median:>8}  {span:>11}  "
            f"{s['median_draws']:>5}  {ratio:>8}"
        )
    print(json.dumps({"refits": summary, "rows": rows}))


def _summary(rows: list[dict[str, Any]], labels: list[str]) -> dict[str, dict[str, Any]]:
    """Per kind of refit (its label, :func:`_kinds`): passing refits, the median and range of their
    seconds, the median draws kept, and the median's ratio to the refit from the prior's (label
    "0") when both exist."""
    out: dict[str, dict[str, Any]] = {}
    for label in labels:
        mine = [r for r in rows if r["refit"] == label]
        passed = [r["s"] for r in mine if r["ok"]]
        out[label] = {
            "fits": len(mine),
            "passed": len(passed),
            "median_s": statistics.median(passed) if passed else None,
            "min_s": min(passed) if passed else None,
            "max_s": max(passed) if passed else None,
            "median_draws": int(statistics.median(r["draws"] for r in mine)) if mine else 0,
        }
    prior = out.get("0", {}).get("median_s")
    for s in out.values():
        s["ratio_to_prior"] = round(s["median_s"] / prior, 2) if prior and s["median_s"] else None
    return out


if __name__ == "__main__":
    main()
