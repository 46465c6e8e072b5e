#!/usr/bin/env python
"""Are the reported Monte Carlo standard errors right? Independent refits against their MCSE.

Run from the repository root (after ``bash scripts/setup.sh``)::

    .venv/bin/python benchmarks/mcse.py                  # 12 seeds, default settings (~12 minutes)
    .venv/bin/python benchmarks/mcse.py --seeds 20 --first-seed 101

Every outcome probability Harbinger shows carries an MCSE, and the fast update is judged by
whether it lands within 2 MCSE of the refit. One pair of runs cannot say whether an MCSE is
right; many independent runs can. On the shipped case (as of today, fresh temporary store), for
each seed ``s`` in turn, with the default ``FitSettings`` at seed ``s``:

1. fit the observations as they are (the *before* run) and compute its forecast;
2. record one new observation (the same one ``benchmarks/refresh.py`` uses) and compute the fast
   update: PSIS reweighting of the before run's draws (``models.reweight.Conditioner``);
3. refit with the new observation (the *after* run) and compute its forecast.

Then, per outcome and horizon:

- ``sd/mcse`` for the before runs, the after runs and the fast updates: the standard deviation of
  ``p_mean`` across seeds over the root-mean-square reported MCSE. Near 1 when the MCSE is right,
  above 1 when it is too small. With n seeds the ratio itself is uncertain by about
  ``1/sqrt(2(n-1))`` (21% at 12 seeds);
- the fast update's bias: the mean fast ``p_mean`` minus the mean after-run ``p_mean``, in standard
  errors of that difference;
- the share of seeds whose fast update is within 2 combined MCSE of the same seed's refit
  (95.4% when both MCSEs are right and the reweighting is unbiased), and the mean squared ``z``
  (1 when right).

Prints a table and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EXPECTED_WITHIN_2 = 0.9545


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=12, help="number of independent seeds (default 12)")
    p.add_argument("--first-seed", type=int, default=1, help="seeds are first-seed, first-seed + 1, ...")
    p.add_argument("--draws", type=int, default=None, help="draws per chain (default: Harbinger's default)")
    p.add_argument("--tune", type=int, default=None, help="tuning steps per chain (default: Harbinger's)")
    p.add_argument("--chains", type=int, default=None, help="chains (default: Harbinger's)")
    return p.parse_args()


def _table(outcomes: list[dict]) -> dict[str, tuple[float, float]]:
    return {f"{o['id']}@{h['years']}y": (h["p_mean"], h["mcse"]) for o in outcomes for h in o["horizons"]}


def _ratio(runs: list[dict], key: str) -> float:
    p = np.array([r[key][0] for r in runs])
    mcse = np.array([r[key][1] for r in runs])
    rms = float(np.sqrt(np.mean(mcse**2)))
    return float(p.std(ddof=1) / rms) if rms > 0 else float("nan")


def summarise(before: list[dict], fast: list[dict], after: list[dict]) -> dict:
    """Per outcome-horizon calibration figures over seeds (each list: one table per seed)."""
    n = len(after)
    rows, z_all = {}, []
    for key in after[0]:
        pf = np.array([r[key][0] for r in fast])
        pa = np.array([r[key][0] for r in after])
        se = np.array([np.hypot(f[key][1], a[key][1]) for f, a in zip(fast, after)])
        z = np.where(se > 0, (pf - pa) / np.where(se > 0, se, 1.0), 0.0)
        z_all.extend(z.tolist())
        spread = np.sqrt(pf.var(ddof=1) / n + pa.var(ddof=1) / n)
        rows[key] = {
            "p_mean_after": round(float(pa.mean()), 4),
            "sd_over_mcse_before": round(_ratio(before, key), 2),
            "sd_over_mcse_after": round(_ratio(after, key), 2),
            "sd_over_mcse_fast": round(_ratio(fast, key), 2),
            "fast_bias_z": round(float((pf.mean() - pa.mean()) / spread), 2) if spread > 0 else 0.0,
            "within_2": round(float(np.mean(np.abs(z) <= 2)), 3),
            "mean_z2": round(float(np.mean(z**2)), 2),
        }
    z_all = np.array(z_all)
    return {
        "outcome_horizons": rows,
        "within_2": round(float(np.mean(np.abs(z_all) <= 2)), 3),
        "expected_within_2": EXPECTED_WITHIN_2,
        "mean_z2": round(float(np.mean(z_all**2)), 2),
    }


def main() -> None:
    args = _args()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from refresh import _shipped

    from models.design import build_design
    from models.fit import FitSettings, diagnostics, sample
    from models.forecast import draws_of, outcome_forecasts
    from models.reweight import Conditioner

    home = Path(tempfile.mkdtemp(prefix="harbinger-mcse-"))
    case, as_of, before_obs, after_obs, new_rows = _shipped(home)
    d0 = build_design(case, before_obs, as_of=as_of)
    d1 = build_design(case, after_obs, as_of=as_of)
    sizes = {k: v for k, v in {"draws": args.draws, "tune": args.tune, "chains": args.chains}.items() if v is not None}
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    shown = {k: v for k, v in FitSettings(**sizes).as_dict().items() if k != "seed"}
    print(
        f"shipped case '{case.id}' as of {as_of}: {d0.n_observations} observations, then one new observation; "
        f"{len(seeds)} seeds from {seeds[0]}, settings {shown}; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    before, fast, after, failed, khats = [], [], [], [], []
    t0 = time.perf_counter()
    for i, seed in enumerate(seeds, 1):
        settings = FitSettings(seed=seed, **sizes)
        idata0 = sample(d0, settings)
        draws0 = draws_of(d0, idata0)
        out0, prob0 = outcome_forecasts(d0, draws0, seed=seed)
        result = Conditioner(d0, draws0, observations=before_obs, seed=seed).condition(add=new_rows)
        idata1 = sample(d1, settings)
        out1, prob1 = outcome_forecasts(d1, draws_of(d1, idata1), seed=seed)
        ok = tuple(
            diagnostics(idata, outcome_probability=prob, observed_periods=d.grid.as_of_cell + 1)["ok"]
            for idata, prob, d in ((idata0, prob0, d0), (idata1, prob1, d1))
        )
        failed += [f"{seed} {name}" for name, good in zip(("before", "after"), ok) if not good]
        before.append(_table(out0))
        fast.append(_table(result.outcomes))
        after.append(_table(out1))
        khats.append(result.khat)
        print(
            f"  seed {seed} ({i}/{len(seeds)}): k-hat {result.khat:.2f}, diagnostics "
            f"{'ok' if all(ok) else 'FAILED (' + ', '.join(n for n, g in zip(('before', 'after'), ok) if not g) + ')'}"
            f", {time.perf_counter() - t0:.0f} s so far",
            flush=True,
        )
    if len(seeds) < 2:
        raise SystemExit("at least two seeds are needed to compare a spread with the MCSE")
    figures = summarise(before, fast, after)
    print(
        f"\n{'outcome@horizon':<36} {'p after':>8} {'sd/mcse: before':>16} {'after':>6} {'fast':>6} "
        f"{'fast bias z':>11} {'within 2':>8} {'mean z^2':>8}"
    )
    for key, r in figures["outcome_horizons"].items():
        print(
            f"{key:<36} {r['p_mean_after']:8.4f} {r['sd_over_mcse_before']:16.2f} {r['sd_over_mcse_after']:6.2f} "
            f"{r['sd_over_mcse_fast']:6.2f} {r['fast_bias_z']:+11.2f} {r['within_2']:8.2f} {r['mean_z2']:8.2f}"
        )
    print(
        f"fast update within 2 MCSE of the same seed's refit: {figures['within_2']:.1%} of outcome-horizons "
        f"(expected {EXPECTED_WITHIN_2:.1%} if the MCSEs are right); mean z^2 {figures['mean_z2']:.2f} (expected 1)"
    )
    print(
        f"fits failing diagnostics: {len(failed)} of {2 * len(seeds)}" + (f" ({', '.join(failed)})" if failed else "")
    )
    print(
        json.dumps(
            {
                "seeds": seeds,
                "settings": shown,
                **figures,
                "khat_max": round(max(khats), 3),
                "fits_failing_diagnostics": failed,
                "total_s": round(time.perf_counter() - t0, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
