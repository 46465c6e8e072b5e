#!/usr/bin/env python
"""How fast a refreshed posterior arrives, side by side with plain PyMC, in one process.

Run from the repository root (after ``bash scripts/setup.sh``)::

    .venv/bin/python benchmarks/refresh.py                 # everything, default settings
    .venv/bin/python benchmarks/refresh.py --skip-scaling  # (a)-(c) only
    .venv/bin/python benchmarks/refresh.py --repeats 3     # warm timings repeated, median shown

On the shipped case (as of today, from a fresh temporary store) it measures:

(a) plain ``pm.sample()`` with PyMC's defaults on the same model (``models.model.build_model``),
    except :data:`PYMC_DRAWS` tuning steps and draws (at its default 1000 + 1000 it fails its
    diagnostics on the shipped case, and an ESS/s ratio is computed only from converged fits),
    cold (first compile, PyTensor's compile cache pointed at an empty directory) and warm (the
    same model sampled again in this process);
(b) Harbinger's fit path (``models.fit.sample`` with the default ``FitSettings``, i.e. nutpie
    with the fused log density of ``models.density`` and a diagonal mass matrix adapted from the
    draws' variances), cold (model built and compiled) and warm (the compiled model reused with
    new data: the warm fit is the refit after one new observation), plus the forecast summaries a
    run computes; then the same refit sampled with PyTensor's generated log density instead, and
    the microseconds of one log density and gradient evaluation of each;
(c) the fast update after one new observation: PSIS reweighting of (b)'s draws
    (``models.reweight.Conditioner``), its seconds, k-hat and its agreement with the warm refit
    (differences in Monte Carlo standard errors);
(d) scaling on synthetic cases with 10x and 100x the observations and 5x and 10x the indicators:
    compile and sampling seconds and peak memory, each in a fresh subprocess.

Efficiency is the minimum bulk ESS over the outcome probabilities and the factor states (through
the as-of quarter) divided by wall seconds. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
#: Tuning steps and draws of plain pm.sample() in (a): enough for it to pass the project's
#: diagnostics on the shipped case (PyMC's default 1000 + 1000 reaches a minimum ESS near 390).
PYMC_DRAWS = 2000
SCALING = {
    # name: (indicators, level observations per quarter) on a 2-factor synthetic case
    "base": (6, 1),
    "obs_x10": (6, 10),
    "obs_x100": (6, 100),
    "indicators_x5": (30, 1),
    "indicators_x10": (60, 1),
}


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--draws", type=int, default=None, help="draws per chain (default: Harbinger's default)")
    p.add_argument("--tune", type=int, default=None, help="tuning steps per chain (default: Harbinger's)")
    p.add_argument("--chains", type=int, default=None, help="chains (default: Harbinger's)")
    p.add_argument("--repeats", type=int, default=1, help="repeat each warm measurement N times")
    p.add_argument("--seed", type=int, default=20101101)
    p.add_argument("--skip-pymc", action="store_true", help="leave out (a), plain pm.sample()")
    p.add_argument("--skip-scaling", action="store_true", help="leave out (d)")
    p.add_argument(
        "--skip-generated",
        action="store_true",
        help="leave out the refit with PyTensor's generated density (its nutpie compile takes a minute)",
    )
    p.add_argument("--only-scaling", action="store_true", help="run (d) alone")
    p.add_argument("--scaling-draws", type=int, default=500, help="draws and tuning steps for (d)")
    p.add_argument(
        "--keep-compile-cache",
        action="store_true",
        help="do not point PyTensor/numba caches at empty directories (cold is then warmer)",
    )
    p.add_argument(
        "--pymc-draws",
        type=int,
        default=PYMC_DRAWS,
        help=f"draws and tuning steps for (a) (default {PYMC_DRAWS}; smaller only for smoke tests)",
    )
    p.add_argument("--scaling-one", default=None, help=argparse.SUPPRESS)  # internal: one (d) case
    return p.parse_args()


def _peak_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the process's own address space, so
    it starts afresh after exec (``ru_maxrss`` would carry the parent's peak into a child)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _min_ess(design, idata) -> dict[str, float]:
    """Minimum bulk ESS over outcome probabilities and factor states through the as-of quarter."""
    import arviz as az
    import xarray as xr

    from models.forecast import draws_of, outcome_forecasts

    _, prob = outcome_forecasts(design, draws_of(design, idata), seed=0)
    ess_p = float(az.ess(xr.Dataset({"p": prob}))["p"].min())
    states = idata.posterior["factor_state"].isel(period=slice(0, design.grid.as_of_cell + 1))
    ess_f = float(az.ess(xr.Dataset({"f": states}))["f"].min())
    return {"outcome_probabilities": ess_p, "factor_states": ess_f, "min": min(ess_p, ess_f)}


def _diag(design, idata) -> dict:
    from models.fit import diagnostics
    from models.forecast import draws_of, outcome_forecasts

    _, prob = outcome_forecasts(design, draws_of(design, idata), seed=0)
    d = diagnostics(idata, outcome_probability=prob, observed_periods=design.grid.as_of_cell + 1)
    return {k: d[k] for k in ("max_rhat", "min_ess_bulk", "divergences", "min_bfmi", "ok", "problems")}


def _evaluation_us(nutpie_models: dict) -> dict[str, float]:
    """Microseconds per log density and gradient evaluation of each of nutpie's compiled models:
    the compiled C callback nutpie calls, timed from here at the same point (median of 5 batches
    of 2000 calls; a ctypes call adds about a microsecond to each)."""
    from models.density import c_call

    out = {}
    for name, model in nutpie_models.items():
        x = np.ascontiguousarray(model.initial_point_func(1), dtype=np.float64)
        grad, logp = np.empty_like(x), np.empty(1)
        call, args = c_call(model, x, grad, logp)
        if call(*args) != 0:
            raise RuntimeError(f"the {name} log density failed at the initial point")
        batches = []
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(2000):
                call(*args)
            batches.append((time.perf_counter() - t) / 2000)
        out[name] = 1e6 * statistics.median(batches)
    return out


def _timed(fn, repeats: int = 1):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _shipped(home: Path):
    """A fresh store with the shipped case; its observations as of today; one new observation."""
    os.environ["HARBINGER_HOME"] = str(home)
    subprocess.run([str(Path(sys.executable).parent / "harbinger"), "init"], check=True, capture_output=True)
    from indicators.store import Store

    store = Store.from_env()
    case_id = store.case_ids()[0]
    case = store.get_case(case_id).case
    as_of = date.today()
    before = store.observations(case_id, as_of=as_of)
    store.add_observations(
        case_id,
        [
            {
                "indicator": "russian_airspace_violation",
                "date": (as_of - timedelta(days=3)).isoformat(),
                "value": 1,
                "source": "benchmark: one new report of an airspace violation",
                "reliability": "B",
                "credibility": 2,
            }
        ],
        actor="benchmark",
    )
    after = store.observations(case_id, as_of=as_of)
    new_rows = after[~after["id"].isin(before["id"])]
    return case, as_of, before, after, new_rows


def _listening(fraction: float, message: str) -> None:
    """A progress listener, as the dashboard and the command line attach one: the sampler's
    progress is then read while it runs, and that reading is part of what a refresh costs."""


def _line(label: str, seconds: float, ess: dict | None = None, diag: dict | None = None) -> None:
    text = f"  {label:<34} {seconds:8.1f} s"
    if ess:
        text += f"   min ESS {ess['min']:7.0f}   ESS/s {ess['min'] / seconds:7.1f}"
    if diag:
        text += "   diagnostics " + ("ok" if diag["ok"] else "FAILED: " + "; ".join(diag["problems"]))
    print(text, flush=True)


def side_by_side(args: argparse.Namespace) -> dict:
    import pymc as pm

    from models import fit
    from models.design import build_design
    from models.fit import FitSettings
    from models.model import build_model
    from models.reweight import Conditioner
    from models.runs import identity, summarise

    home = Path(tempfile.mkdtemp(prefix="harbinger-bench-"))
    case, as_of, before, after, new_rows = _shipped(home)
    settings = FitSettings(
        **{
            k: v
            for k, v in {"draws": args.draws, "tune": args.tune, "chains": args.chains, "seed": args.seed}.items()
            if v is not None
        }
    )
    d0 = build_design(case, before, as_of=as_of)
    d1 = build_design(case, after, as_of=as_of)
    used = {i for ids in d1.rows["observation_ids"] for i in ids}
    if not set(new_rows["id"]) <= used:
        raise SystemExit("the benchmark's new observation is not used by the model (outside its coverage)")
    print(
        f"shipped case '{case.id}' as of {as_of}: {d0.n_observations} observations, "
        f"{len(d0.rows)} model rows, {d0.grid.n_cells} quarters; then one new observation"
    )
    print(f"Harbinger settings: {settings.as_dict()}")
    out: dict = {"case": case.id, "as_of": as_of.isoformat(), "settings": settings.as_dict()}

    if not args.skip_pymc:
        print(f"(a) plain pm.sample() with PyMC's defaults but {args.pymc_draws} tuning steps and draws, same model")
        model = build_model(d0)

        def plain():
            with model:
                sizes = {"draws": args.pymc_draws, "tune": args.pymc_draws} if args.pymc_draws else {}
                return pm.sample(random_seed=args.seed, progressbar=False, compute_convergence_checks=False, **sizes)

        cold_s, idata = _timed(plain)
        ess_cold = _min_ess(d0, idata)
        _line("cold (compile + sample)", cold_s, ess_cold, _diag(d0, idata))
        warm_s, idata = _timed(plain, args.repeats)
        ess_warm = _min_ess(d0, idata)
        diag_a = _diag(d0, idata)
        _line("warm (same model again)", warm_s, ess_warm, diag_a)
        out["pymc"] = {
            "cold_s": round(cold_s, 1),
            "warm_s": round(warm_s, 1),
            "min_ess": round(ess_warm["min"]),
            "ess_per_s": round(ess_warm["min"] / warm_s, 2),
            "cold_ess_per_s": round(ess_cold["min"] / cold_s, 2),
            "diagnostics": diag_a,
            "draws": len(idata.posterior.draw),
            "chains": len(idata.posterior.chain),
        }

    print("(b) Harbinger's fit path (models.fit.sample, default settings)")
    compiles0 = fit.COMPILE_COUNT["n"]
    cold_s, idata = _timed(lambda: fit.sample(d0, settings, progress=_listening))
    ess_cold = _min_ess(d0, idata)
    _line("cold (build + compile + sample)", cold_s, ess_cold, _diag(d0, idata))
    compiles1 = fit.COMPILE_COUNT["n"]
    base_idata = idata

    sampling_s: list[float] = []

    def refit():
        t = time.perf_counter()
        idata = fit.sample(d1, settings, progress=_listening)
        sampling_s.append(time.perf_counter() - t)
        forecast = summarise(d1, idata, identity(d1, "benchmark", settings, "refit"))
        return idata, forecast

    warm_s, (idata1, refit_forecast) = _timed(refit, args.repeats)
    warm_sampling_s = statistics.median(sampling_s)
    recompiles = fit.COMPILE_COUNT["n"] - compiles1
    ess_warm = _min_ess(d1, idata1)
    diag_b = refit_forecast["diagnostics"]
    _line("warm refit, one new observation", warm_s, ess_warm, diag_b)
    print(f"  of which sampling {warm_sampling_s:.1f} s and the forecast summaries {warm_s - warm_sampling_s:.1f} s")
    print(f"  compiles: {compiles1 - compiles0} cold, {recompiles} after the new observation")
    out["harbinger"] = {
        "cold_s": round(cold_s, 1),
        "warm_s": round(warm_s, 1),
        "min_ess": round(ess_warm["min"]),
        "ess_per_s": round(ess_warm["min"] / warm_s, 2),
        "warm_sampling_s": round(warm_sampling_s, 1),
        "sampling_ess_per_s": round(ess_warm["min"] / warm_sampling_s, 2),
        "cold_ess_per_s": round(ess_cold["min"] / cold_s, 2),
        "diagnostics": {
            k: diag_b[k] for k in ("max_rhat", "min_ess_bulk", "divergences", "min_bfmi", "ok", "problems")
        },
    }

    built = fit.compiled_for(d1, "nutpie")
    densities = ("fused",) if args.skip_generated else ("fused", "pytensor")
    if not args.skip_generated:
        print("  the same refit, sampling only, with PyTensor's generated log density instead of the fused kernel")
        generated = dataclasses.replace(settings, density="pytensor")
        gen_s, idata_g = _timed(lambda: fit.sample(d1, generated, progress=_listening), args.repeats)
        ess_g, diag_g = _min_ess(d1, idata_g), _diag(d1, idata_g)
        _line("warm refit sampling, generated density", gen_s, ess_g, diag_g)
        out["harbinger"]["generated_density"] = {
            "warm_sampling_s": round(gen_s, 1),
            "min_ess": round(ess_g["min"]),
            "sampling_ess_per_s": round(ess_g["min"] / gen_s, 2),
            "ok": diag_g["ok"],
        }
    per_eval = _evaluation_us({name: built.nutpie_model(d1, name) for name in densities})
    text = f"  one log density and gradient: fused {per_eval['fused']:.1f} us"
    if "pytensor" in per_eval:
        text += f", generated {per_eval['pytensor']:.1f} us ({per_eval['pytensor'] / per_eval['fused']:.2f}x)"
    print(text)
    out["harbinger"]["evaluation_us"] = {k: round(v, 1) for k, v in per_eval.items()}

    print("(c) fast update: PSIS reweighting of the cold run's draws by the new observation")
    from models.forecast import draws_of

    def fast():
        conditioner = Conditioner(d0, draws_of(d0, base_idata), observations=before, seed=settings.seed)
        return conditioner.condition(add=new_rows)

    fast_s, result = _timed(fast, args.repeats)
    z, pairs = [], []
    for o_fast, o_refit in zip(result.outcomes, refit_forecast["outcomes"]):
        for h_fast, h_refit in zip(o_fast["horizons"], o_refit["horizons"]):
            se = (h_fast["mcse"] ** 2 + h_refit["mcse"] ** 2) ** 0.5
            z.append(abs(h_fast["p_mean"] - h_refit["p_mean"]) / se if se > 0 else 0.0)
            pairs.append((o_fast["id"], h_fast, h_refit))
    outcome_id, h_fast, h_refit = pairs[max(range(len(z)), key=z.__getitem__)]
    worst = (
        f"{outcome_id} {h_fast['years']}y: fast {h_fast['p_mean']:.4f} ± {h_fast['mcse']:.4f}, "
        f"refit {h_refit['p_mean']:.4f} ± {h_refit['mcse']:.4f}"
    )
    print(
        f"  {'reweighting':<34} {fast_s:8.2f} s   k-hat {result.khat:.3f}   "
        f"max |fast - refit| = {max(z):.2f} MCSE ({sum(v <= 2 for v in z)}/{len(z)} within 2)"
    )
    print(f"  largest difference: {worst}")
    print(
        "  (one pair of runs: a difference beyond 2 MCSE happens by chance; benchmarks/mcse.py measures how often "
        "over many seeds)"
    )
    out["fast_update"] = {
        "seconds": round(fast_s, 3),
        "khat": round(result.khat, 3),
        "max_z_vs_refit": round(max(z), 2),
        "within_2_mcse": f"{sum(v <= 2 for v in z)}/{len(z)}",
    }
    out["recompiles_on_new_data"] = recompiles
    return out


def scaling_one(name: str, draws: int) -> None:
    """One scaling case, in its own process: prints a JSON line with seconds and peak memory."""
    from models import fit
    from models.design import build_design
    from models.fit import FitSettings
    from models.simulate import simulate_observations, synthetic_case

    n_ind, per_cell = SCALING[name]
    as_of = date(2024, 12, 31)
    case = synthetic_case(n_factors=2, n_indicators=n_ind, n_outcomes=2)
    frame, _ = simulate_observations(case, as_of=as_of, seed=1, per_cell=per_cell)
    design = build_design(case, frame, as_of=as_of)
    settings = FitSettings(draws=draws, tune=draws, seed=1)
    t = time.perf_counter()
    fit.compiled_for(design, settings.sampler)
    compile_s = time.perf_counter() - t
    t = time.perf_counter()
    idata = fit.sample(design, settings)
    sample_s = time.perf_counter() - t
    ess = _min_ess(design, idata)
    # Sampling time = leapfrog steps x cost per step: the cost per step follows the data's size,
    # the steps per draw the posterior's geometry.
    n_steps = [idata[group]["n_steps"] for group in ("sample_stats", "warmup_sample_stats") if group in idata.groups()]
    steps, draws_done = sum(float(s.sum()) for s in n_steps), sum(int(s.size) for s in n_steps)
    print(
        json.dumps(
            {
                "case": name,
                "indicators": n_ind,
                "observations": int(design.n_observations),
                "model_rows": len(design.rows),
                "compile_s": round(compile_s, 1),
                "sample_s": round(sample_s, 1),
                "min_ess": round(ess["min"]),
                "steps_per_draw": round(steps / draws_done, 1),
                "us_per_step": round(1e6 * sample_s * min(settings.chains, 2) / steps, 1),
                "peak_mb": round(_peak_mb()),
            }
        )
    )


def scaling(args: argparse.Namespace) -> list[dict]:
    print(
        f"(d) scaling on synthetic cases ({args.scaling_draws} draws and tuning steps, 2 chains, each in "
        "a fresh process)"
    )
    rows = []
    for name in SCALING:
        res = subprocess.run(
            [sys.executable, __file__, "--scaling-one", name, "--scaling-draws", str(args.scaling_draws)],
            capture_output=True,
            text=True,
            env=os.environ.copy(),
        )
        if res.returncode != 0:
            print(f"  {name}: failed\n{res.stderr[-2000:]}")
            continue
        row = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append(row)
    base = next((r for r in rows if r["case"] == "base"), None)
    print(
        f"  {'case':<16}{'indicators':>11}{'observations':>13}{'compile s':>10}{'sample s':>9}"
        f"{'steps/draw':>11}{'us/step':>9}{'peak MB':>9}{'obs ratio':>10}{'time ratio':>11}{'mem ratio':>10}"
    )
    for r in rows:
        if base:
            r["observations_ratio"] = round(r["observations"] / base["observations"], 1)
            r["sample_time_ratio"] = round(r["sample_s"] / base["sample_s"], 2)
            r["memory_ratio"] = round(r["peak_mb"] / base["peak_mb"], 2)
        print(
            f"  {r['case']:<16}{r['indicators']:>11}{r['observations']:>13}{r['compile_s']:>10}"
            f"{r['sample_s']:>9}{r['steps_per_draw']:>11}{r['us_per_step']:>9}{r['peak_mb']:>9}"
            f"{r.get('observations_ratio', ''):>10}"
            f"{r.get('sample_time_ratio', ''):>11}{r.get('memory_ratio', ''):>10}"
        )
    return rows


def converged_speedups(out: dict) -> tuple[float | None, float | None]:
    """The refresh's and its sampling's ESS/s over plain ``pm.sample()``'s, computed only when both
    warm fits passed their diagnostics (a ratio of unconverged fits' ESS means nothing); None
    otherwise, or without (a), and the reason is printed."""
    pymc = out.get("pymc")
    if pymc is None:
        return None, None
    failed = [
        name for name, part in (("pm.sample()", pymc), ("Harbinger", out["harbinger"])) if not part["diagnostics"]["ok"]
    ]
    if failed:
        print(f"no ESS/s ratio: the warm fit of {' and '.join(failed)} failed its diagnostics")
        return None, None
    h = out["harbinger"]
    return round(h["ess_per_s"] / pymc["ess_per_s"], 2), round(h["sampling_ess_per_s"] / pymc["ess_per_s"], 2)


def main() -> None:
    args = _args()
    if not args.keep_compile_cache and not args.scaling_one:
        # Cold means cold: PyTensor's C cache and numba's cache start empty (set before importing).
        cache = tempfile.mkdtemp(prefix="harbinger-bench-cache-")
        os.environ["PYTENSOR_FLAGS"] = f"compiledir={cache}/pytensor"
        os.environ["NUMBA_CACHE_DIR"] = f"{cache}/numba"
    sys.path.insert(0, str(ROOT))
    if args.scaling_one:
        scaling_one(args.scaling_one, args.scaling_draws)
        return
    t0 = time.perf_counter()
    if args.only_scaling:
        print(json.dumps({"scaling": scaling(args), "total_s": round(time.perf_counter() - t0, 1)}))
        return
    out = side_by_side(args)
    out["scaling"] = [] if args.skip_scaling else scaling(args)
    speedup, sampling_speedup = converged_speedups(out)
    summary = {
        "refresh_s": out["harbinger"]["warm_s"],
        "speedup_vs_pymc": speedup,
        # sampling alone on both sides (pm.sample() computes no forecast; the refresh above does)
        "sampling_speedup_vs_pymc": sampling_speedup,
        "fast_update_s": out["fast_update"]["seconds"],
        "fast_update_khat": out["fast_update"]["khat"],
        "fast_update_max_z": out["fast_update"]["max_z_vs_refit"],
        "recompiles_on_new_data": out["recompiles_on_new_data"],
        "diagnostics_ok": out["harbinger"]["diagnostics"]["ok"],
        "pymc": out.get("pymc"),
        "harbinger": out["harbinger"],
        "scaling": out["scaling"],
        "total_s": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
