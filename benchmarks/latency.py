#!/usr/bin/env python
"""Latency a user feels: every row of the latency table, on the shipped case, each measured as a
person meets it.

Run from the repository root (after ``bash scripts/setup.sh``)::

    .venv/bin/python benchmarks/latency.py                          # every row (the backtest: 10-45 min)
    .venv/bin/python benchmarks/latency.py --skip backtest_default_s --skip pymc_ess_ratio
    .venv/bin/python benchmarks/latency.py --only pdf_report_s --only html_report_s --home DIR

Rows (JSON key, target):

``fresh_install_fit_s`` (60 s)
    ``harbinger fit`` in a fresh process right after ``harbinger init`` in a new home, with
    PyTensor's and numba's compile caches pointed at empty directories (a fresh install).
``cold_process_fit_s`` (25 s)
    ``harbinger fit`` in another fresh process after one new observation, with those caches now
    warm (a person running the command again the next day).
``warm_refit_s`` (15 s)
    In one process (as the dashboard's server): a fit, one new observation, then the refit,
    timed (:func:`dashboard.services.runs.fit_case`: sampling, the forecast's summaries, the run
    recorded; the watch list is the server's to prepare); the compiled model is reused.
``scenario_refit_s`` (30 s)
    In that process: the case's first scenario fitted again with its hypothetical observations
    (:func:`models.scenarios.refit_scenario`, what a scenario whose reweighting is unreliable
    runs).
``fast_update_s`` (1 s)
    In that process: the refit prepared as the dashboard's server prepares a new current run
    (:func:`dashboard.web.app.prepare_run_content`: its posterior held in memory), then the
    forecast reweighted by one more new observation (:func:`dashboard.services.updates.fast_update`);
    the figure with nothing prepared (the posterior read from its file) is printed beside it.
``backtest_default_s`` (600 s)
    ``harbinger backtest`` with its defaults, in a fresh process.
``pdf_report_s`` (10 s), ``html_report_s`` (3 s)
    ``harbinger report`` of the shipped case with two runs (the second with a new observation,
    so every section has content), each in a fresh process: of the run after the dashboard's
    server prepared it (its charts and analyses written to the run directory by
    :func:`dashboard.web.app.prepare_run_content`, run here in a fresh process), which the key
    holds, and of the run with nothing prepared (the report computes them), printed beside it.
``pymc_ess_ratio``
    Minimum bulk ESS per second of the warm refit against plain ``pm.sample()`` (PyMC's defaults,
    warm: the same model sampled a second time) on the same data; computed only when both fits
    passed their diagnostics.

A timing counts only when the fit it times passed its diagnostics: a row whose fit failed says
so in the table and its key holds null (the seconds are kept under ``rows``). Fit seconds include
any automatic retry ``harbinger fit`` makes, since a user waits for it. The last line printed is
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
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
sys.path.append(str(ROOT / "benchmarks"))  # after ROOT: benchmarks/dashboard.py is not the package

from refresh import _diag, _min_ess, _peak_mb, _timed  # noqa: E402  (benchmarks/refresh.py's helpers)

#: key: (what is timed, target seconds or None)
ROWS: dict[str, tuple[str, float | None]] = {
    "cold_process_fit_s": ("first fit in a new process, warm disk cache", 25.0),
    "fresh_install_fit_s": ("first fit after a fresh install (empty compile caches)", 60.0),
    "warm_refit_s": ("refit after one new observation, same process", 15.0),
    "scenario_refit_s": ("scenario refit (first case scenario)", 30.0),
    "fast_update_s": ("fast update after one new observation, run prepared", 1.0),
    "backtest_default_s": ("default backtest (harbinger backtest)", 600.0),
    "pdf_report_s": ("PDF report of the shipped case (two runs), run prepared", 10.0),
    "html_report_s": ("HTML report, run prepared", 3.0),
    "pymc_ess_ratio": ("ESS/s of the warm refit over plain pm.sample()", None),
}
#: Rows measured by `harbinger fit` in fresh processes (they make the home the others use).
FIT_ROWS = ("fresh_install_fit_s", "cold_process_fit_s")
#: Rows measured in one long-lived process (--warm-process).
WARM_ROWS = ("warm_refit_s", "scenario_refit_s", "fast_update_s", "pymc_ess_ratio")
REPORT_ROWS = ("pdf_report_s", "html_report_s")


def _args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--skip", action="append", default=[], choices=list(ROWS), metavar="ROW", help="leave out ROW")
    p.add_argument("--only", action="append", default=[], choices=list(ROWS), metavar="ROW", help="measure only ROW")
    p.add_argument(
        "--home",
        type=Path,
        default=None,
        help="an existing HARBINGER_HOME with two passing runs of the shipped case for the report rows "
        "(then the fit rows are not measured there; default: a new temporary home made by the fit rows)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary home and caches (printed)")
    p.add_argument("--repeats", type=int, default=1, help="report timings repeated, median shown")
    p.add_argument("--pymc-draws", type=int, default=None, help="draws and tuning of plain pm.sample() (smoke tests)")
    p.add_argument("--warm-process", type=Path, default=None, help=argparse.SUPPRESS)  # internal
    p.add_argument("--warm-rows", default="", help=argparse.SUPPRESS)  # internal
    args = p.parse_args(argv)
    unknown = set(args.skip) & set(args.only)
    if unknown:
        p.error(f"both skipped and only: {', '.join(sorted(unknown))}")
    return args


def selected(args: argparse.Namespace) -> list[str]:
    """The rows to measure, in the table's order."""
    rows = [r for r in ROWS if (not args.only or r in args.only) and r not in args.skip]
    return rows


# ---------------------------------------------------------------------------- the table


def summarise(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The JSON summary: one key per row (seconds, or the ratio), null when not measured or when
    the fit it times failed its diagnostics; ``rows`` keeps every row's details."""
    out: dict[str, Any] = {}
    for key in ROWS:
        row = rows.get(key)
        value = None if row is None else row.get("value")
        out[key] = value if row is not None and row.get("ok", True) else None
    out["targets_met"] = {
        key: (out[key] <= target)
        for key, (_, target) in ROWS.items()
        if target is not None and out.get(key) is not None
    }
    out["rows"] = rows
    return out


def table(rows: dict[str, dict[str, Any]]) -> list[str]:
    """The printed table: what, target, measured, whether met, and a note (failing diagnostics
    said in words)."""
    lines = [f"  {'row':<22} {'what':<52} {'target':>8} {'measured':>10}  {'':<7} note"]
    for key, (label, target) in ROWS.items():
        row = rows.get(key)
        target_text = "" if target is None else f"≤ {target:g} s"
        if row is None:
            lines.append(f"  {key:<22} {label:<52} {target_text:>8} {'–':>10}  {'':<7} not measured")
            continue
        value = row.get("value")
        unit = "x" if key == "pymc_ess_ratio" else " s"
        measured = "–" if value is None else f"{value:.2f}{unit}" if value < 10 else f"{value:.1f}{unit}"
        if not row.get("ok", True):
            verdict = "FAILED"
        elif target is None or value is None:
            verdict = ""
        else:
            verdict = "met" if value <= target else "missed"
        lines.append(f"  {key:<22} {label:<52} {target_text:>8} {measured:>10}  {verdict:<7} {row.get('note', '')}")
    return lines


# ---------------------------------------------------------------------------- measuring


def _harbinger() -> str:
    return str(Path(sys.executable).parent / "harbinger")


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    """Wall seconds of ``cmd`` in a fresh process, and its result (stderr shown when it fails);
    the process's CPU seconds (steadier than the wall time on a shared machine) are in
    ``result.cpu_s``."""
    t, cpu = time.perf_counter(), _cpu_children()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    res.cpu_s = _cpu_children() - cpu  # type: ignore[attr-defined]
    if res.returncode != 0:
        print(f"  {' '.join(cmd[1:3])} failed (exit {res.returncode}):\n{res.stderr[-2000:]}", flush=True)
    return seconds, res


def _store(home: Path) -> Any:
    os.environ["HARBINGER_HOME"] = str(home)
    os.environ.pop("HARBINGER_DATABASE_URL", None)
    from indicators.store import Store

    return Store.from_env()


def _new_observation(store: Any, case_id: str, days_ago: int) -> None:
    """One new report of an air-space violation, dated ``days_ago`` before today."""
    store.add_observations(
        case_id,
        [
            {
                "indicator": "russian_airspace_violation",
                "date": (date.today() - timedelta(days=days_ago)).isoformat(),
                "value": 1,
                "source": "benchmark: one new report of an air-space violation",
                "reliability": "B",
                "credibility": 2,
            }
        ],
        actor="benchmark",
    )


def _start(diagnostics: dict[str, Any] | None) -> str:
    """How a fit started: from an earlier run's posterior (a warm start) or from the prior, and
    its tuning steps (from the run's diagnostics)."""
    diagnostics = diagnostics or {}
    how = "warm start" if diagnostics.get("warm_start") else "from the prior"
    return f"{how}, {diagnostics.get('tune', '?')} tuning steps"


def _fit_row(home: Path, env: dict[str, str], label: str) -> dict[str, Any]:
    """Time ``harbinger fit`` in a fresh process; its diagnostics from the runs it recorded."""
    store = _store(home)
    case_id = store.case_ids()[0]
    before = {r["id"] for r in store.runs(case_id)}
    seconds, res = _run([_harbinger(), "fit"], env)
    runs = [r for r in store.runs(case_id) if r["id"] not in before]
    store.close()
    ok = res.returncode == 0 and bool(runs) and bool(runs[0].get("diagnostics_ok"))
    note = (f"{len(runs)} attempt(s)" if runs else "no run recorded") + f", CPU {res.cpu_s:.0f} s"
    attempts = sorted(runs, key=lambda r: r["created_at"])
    kept = [str((r.get("diagnostics") or {}).get("draws", "?")) for r in attempts]
    if kept:
        note += f"; draws kept per chain {' then '.join(kept)}"
        note += f"; attempt 1 {_start(attempts[0].get('diagnostics'))}"
    for n, run in enumerate(attempts, start=1):  # what failed, attempt by attempt (a retry may pass)
        if not run.get("diagnostics_ok"):
            problems = "; ".join((run.get("diagnostics") or {}).get("problems") or [run.get("status", "")])
            note += f"; attempt {n} diagnostics FAILED: {problems}"
    print(f"  {label}: {seconds:.1f} s ({note})", flush=True)
    return {
        "value": round(seconds, 2),
        "cpu_s": round(res.cpu_s, 1),
        "ok": ok,
        "note": note,
        "runs": [r["id"] for r in runs],
    }


def fit_rows(args: argparse.Namespace, rows: list[str], home: Path, cache: Path) -> dict[str, dict[str, Any]]:
    """The fresh-process fits; they leave ``home`` with two runs (the second after a new
    observation), which the report rows use."""
    out: dict[str, dict[str, Any]] = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARBINGER_")}
    env["HARBINGER_HOME"] = str(home)
    if "fresh_install_fit_s" in rows:
        # a fresh install: the compile caches start empty (they then stay for the next fit)
        env["PYTENSOR_FLAGS"] = f"compiledir={cache}/pytensor"
        env["NUMBA_CACHE_DIR"] = f"{cache}/numba"
    subprocess.run([_harbinger(), "init"], env=env, check=True, capture_output=True)
    print("(1) fits in fresh processes (`harbinger fit`, default settings)", flush=True)
    first = _fit_row(home, env, "fresh install, first fit" if "fresh_install_fit_s" in rows else "first fit")
    if "fresh_install_fit_s" in rows:
        out["fresh_install_fit_s"] = first
    store = _store(home)
    _new_observation(store, store.case_ids()[0], days_ago=3)
    store.close()
    second = _fit_row(home, env, "new process, warm disk cache, one new observation")
    if "cold_process_fit_s" in rows:
        out["cold_process_fit_s"] = second
    return out


#: In a fresh process: what the dashboard's server does when a run becomes current
#: (dashboard.web.app.prepare_run_content), for the case and run given as arguments.
PREPARE = "import sys; from dashboard.web.app import prepare_run_content; prepare_run_content(sys.argv[1], sys.argv[2])"


def report_rows(args: argparse.Namespace, rows: list[str], home: Path) -> dict[str, dict[str, Any]]:
    """`harbinger report` in fresh processes: of a run the dashboard's server prepared (its
    content read from the run directory), and of a run with nothing prepared (the content
    computed by the report)."""
    from dashboard.report.cache import CACHE_DIR

    env = {k: v for k, v in os.environ.items() if not k.startswith("HARBINGER_")}
    env["HARBINGER_HOME"] = str(home)
    store = _store(home)
    case_id = store.case_ids()[0]
    runs = store.runs(case_id)
    good = [r for r in runs if r.get("status") == "ok" and r.get("diagnostics_ok")]
    store.close()
    ok = len(good) >= 2
    note_runs = f"{len(good)} passing run(s) of {len(runs)}"
    out_dir = Path(tempfile.mkdtemp(prefix="harbinger-latency-reports-"))
    print(f"(2) reports in fresh processes (`harbinger report`; {note_runs})", flush=True)
    out: dict[str, dict[str, Any]] = {}
    for key, fmt in (("pdf_report_s", "pdf"), ("html_report_s", "html")):
        if key not in rows:
            continue
        first, prepared, cpu1, cpu2 = [], [], [], []
        for _ in range(args.repeats):
            cmd = [_harbinger(), "report", "--format", fmt, "--output", str(out_dir / f"report.{fmt}"), "--force"]
            if good:
                shutil.rmtree(Path(good[0]["path"]) / CACHE_DIR, ignore_errors=True)
            s1, r1 = _run(cmd, env)  # nothing prepared: the report computes its content
            if good:
                shutil.rmtree(Path(good[0]["path"]) / CACHE_DIR, ignore_errors=True)
                prepare = [sys.executable, "-c", PREPARE, case_id, good[0]["id"]]
                _, p_r = _run(prepare, env)  # what the dashboard's server does in the background
                ok = ok and p_r.returncode == 0
            s2, r2 = _run(cmd, env)
            ok = ok and r1.returncode == 0 and r2.returncode == 0
            first.append(s1)
            prepared.append(s2)
            cpu1.append(r1.cpu_s)
            cpu2.append(r2.cpu_s)
        s1, s2 = statistics.median(first), statistics.median(prepared)
        c1, c2 = statistics.median(cpu1), statistics.median(cpu2)
        size = (out_dir / f"report.{fmt}").stat().st_size if (out_dir / f"report.{fmt}").exists() else 0
        note = (
            f"CPU {c2:.1f} s; with nothing prepared (the run's content computed by the report) "
            f"{s1:.1f} s, CPU {c1:.1f} s; {size:,} bytes"
        )
        print(
            f"  {fmt}: report of a prepared run {s2:.1f} s (CPU {c2:.1f} s), nothing prepared {s1:.1f} s (CPU {c1:.1f} s)"
        )
        out[key] = {
            "value": round(s2, 2),
            "cpu_s": round(c2, 2),
            "unprepared_s": round(s1, 2),
            "unprepared_cpu_s": round(c1, 2),
            "ok": ok,
            "note": note,
        }
    shutil.rmtree(out_dir, ignore_errors=True)
    return out


def warm_rows(args: argparse.Namespace, rows: list[str], home: Path) -> dict[str, dict[str, Any]]:
    """Run :func:`warm_process` in a child process (its own compile, its own memory)."""
    cmd = [sys.executable, __file__, "--warm-process", str(home), "--warm-rows", ",".join(rows)]
    if args.pymc_draws:
        cmd += ["--pymc-draws", str(args.pymc_draws)]
    print("(3) one long-lived process: fit, then refit, fast update, scenario refit", flush=True)
    res = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    lines = res.stdout.strip().splitlines()
    for line in lines[:-1]:
        print(line, flush=True)
    if res.returncode != 0 or not lines:
        print(f"  the warm process failed (exit {res.returncode})", flush=True)
        return {}
    return json.loads(lines[-1])


def warm_process(home: Path, rows: list[str], pymc_draws: int | None) -> None:
    """In this process: the rows of :data:`WARM_ROWS` asked for; prints a JSON line of them."""
    import pymc as pm

    from dashboard.services import analysis as sa
    from dashboard.services.runs import fit_case
    from dashboard.services.updates import fast_update
    from models.fit import FitSettings
    from models.runs import load_posterior
    from models.scenarios import ScenarioSpec, refit_scenario

    os.environ["HARBINGER_HOME"] = str(home)
    subprocess.run([_harbinger(), "init"], check=True, capture_output=True)
    store = _store(home)
    case_id = store.case_ids()[0]
    out: dict[str, dict[str, Any]] = {}
    t = time.perf_counter()
    fit_case(store, case_id)
    print(f"  first fit in this process (compiles): {time.perf_counter() - t:.1f} s", flush=True)
    _new_observation(store, case_id, days_ago=2)
    refit_s, run_id = _timed(lambda: fit_case(store, case_id))
    run = store.get_run(run_id)
    ok = bool(run.get("diagnostics_ok"))
    ctx = sa.run_context(store, case_id, run)
    design = ctx.conditioner.design
    ess = _min_ess(design, load_posterior(Path(run["path"])))
    note = (
        f"min ESS {ess['min']:.0f}, {ess['min'] / refit_s:.1f} ESS/s (sampling, summaries, run recorded); "
        f"{run['diagnostics'].get('draws', '?')} draws kept per chain, {_start(run['diagnostics'])}"
    )
    if not ok:
        note += "; diagnostics FAILED: " + "; ".join(run["diagnostics"].get("problems") or [])
    print(f"  warm refit: {refit_s:.1f} s ({note})", flush=True)
    if "warm_refit_s" in rows:
        out["warm_refit_s"] = {"value": round(refit_s, 2), "ok": ok, "note": note, "run": run_id}

    if "fast_update_s" in rows:
        from dashboard.services import updates
        from dashboard.web.app import prepare_run_content

        # what the dashboard's server does when the refit becomes current, before anyone adds
        # the next observation (dashboard.web.app.start_preparing)
        sa._CONTEXTS.clear()
        prepared_in, _ = _timed(lambda: prepare_run_content(case_id, run_id))
        _new_observation(store, case_id, days_ago=1)
        prepared_s, doc = _timed(lambda: fast_update(store, case_id))
        # the same with nothing prepared: the posterior read from its file
        sa._CONTEXTS.clear()
        updates._CACHE.clear()
        cold_s, _ = _timed(lambda: fast_update(store, case_id))
        good = doc is not None and "error" not in doc
        note = (
            f"run prepared by the server ({prepared_in:.1f} s in the background); with nothing "
            f"prepared (posterior read from its file) {cold_s:.2f} s; k-hat {doc['khat']}"
            if good
            else f"failed: {(doc or {}).get('error')}"
        )
        print(f"  fast update: {prepared_s:.2f} s ({note})", flush=True)
        out["fast_update_s"] = {
            "value": round(prepared_s, 3),
            "unprepared_s": round(cold_s, 3),
            "ok": good and ok,
            "note": note,
        }

    if "scenario_refit_s" in rows:
        loaded = store.get_case(case_id)
        spec = ScenarioSpec.from_case(loaded.case.scenarios[0])
        # the run's own settings, as dashboard.services.analysis.run_scenario refits with them
        settings = FitSettings(**{k: v for k, v in ctx.settings.items() if k in FitSettings.__dataclass_fields__})
        scen_s, result = _timed(lambda: refit_scenario(ctx.conditioner, spec, settings))
        diag = result.as_dict().get("refit_diagnostics") or {}
        scen_ok = bool(diag.get("ok"))
        note = f"scenario '{spec.id}', {diag.get('draws', '?')} draws kept per chain, {_start(diag)}" + (
            "" if scen_ok else "; diagnostics FAILED: " + "; ".join(diag.get("problems") or [])
        )
        print(f"  scenario refit: {scen_s:.1f} s ({note})", flush=True)
        out["scenario_refit_s"] = {"value": round(scen_s, 2), "ok": scen_ok, "note": note}

    if "pymc_ess_ratio" in rows:
        from models.model import build_model

        model = build_model(design)
        sizes = {"draws": pymc_draws, "tune": pymc_draws} if pymc_draws else {}

        def plain() -> Any:
            with model:
                return pm.sample(random_seed=1, progressbar=False, compute_convergence_checks=False, **sizes)

        cold_s, _ = _timed(plain)
        warm_s, idata = _timed(plain)
        pymc_ess, pymc_diag = _min_ess(design, idata), _diag(design, idata)
        ratio = (ess["min"] / refit_s) / (pymc_ess["min"] / warm_s)
        both = ok and bool(pymc_diag["ok"])
        note = (
            f"pm.sample() warm {warm_s:.1f} s (cold {cold_s:.1f} s), min ESS {pymc_ess['min']:.0f}, "
            f"{pymc_ess['min'] / warm_s:.1f} ESS/s"
        )
        if not both:
            note += "; not both fits passed their diagnostics, so no ratio"
        print(f"  ESS/s ratio: {ratio:.1f}x ({note})", flush=True)
        out["pymc_ess_ratio"] = {"value": round(ratio, 2), "ok": both, "note": note}
    store.close()
    print(f"  peak memory of this process {_peak_mb():.0f} MB", flush=True)
    print(json.dumps(out))


def backtest_row(home: Path) -> dict[str, Any]:
    """`harbinger backtest` with its defaults in a fresh process; counts only when every origin's
    fit passed its diagnostics."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARBINGER_")}
    env["HARBINGER_HOME"] = str(home)
    subprocess.run([_harbinger(), "init"], env=env, check=True, capture_output=True)
    print("(4) the default backtest (`harbinger backtest`)", flush=True)
    seconds, res = _run([_harbinger(), "backtest", "--local"], env)  # the default --jobs: one per core
    saved = sorted((home / "backtests").glob("backtest-*.json"), key=lambda p: p.stat().st_mtime)
    summary = json.loads(saved[-1].read_text())["summary"] if saved and res.returncode == 0 else {}
    failing = summary.get("origins_failing_diagnostics")
    ok = res.returncode == 0 and failing == []
    note = f"{summary.get('n_origins', '?')} origins" + (f"; diagnostics FAILED at {failing}" if failing else "")
    print(f"  backtest: {seconds:.0f} s ({note})", flush=True)
    return {"value": round(seconds, 1), "ok": ok, "note": note}


def main(argv: list[str] | None = None) -> None:
    args = _args(argv)
    if args.warm_process:
        warm_process(args.warm_process, [r for r in args.warm_rows.split(",") if r], args.pymc_draws)
        return
    rows = selected(args)
    load = os.getloadavg()
    print(f"latency of {', '.join(rows)}; {os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f}", flush=True)
    t0 = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="harbinger-latency-"))
    home = args.home or scratch / "home"
    measured: dict[str, dict[str, Any]] = {}
    try:
        if args.home is None and (set(rows) & set(FIT_ROWS + REPORT_ROWS)):
            measured |= fit_rows(args, rows, home, scratch / "cache")
        if set(rows) & set(REPORT_ROWS):
            measured |= report_rows(args, rows, home)
        if set(rows) & set(WARM_ROWS):
            measured |= warm_rows(args, [r for r in rows if r in WARM_ROWS], scratch / "warm-home")
        if "backtest_default_s" in rows:
            measured["backtest_default_s"] = backtest_row(scratch / "backtest-home")
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    load = os.getloadavg()
    print(f"\nLatency ({os.cpu_count()} CPUs, load average at the end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f})")
    for line in table(measured):
        print(line)
    summary = summarise(measured)
    summary["load_average"] = [round(x, 1) for x in load]
    summary["total_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
