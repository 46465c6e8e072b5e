#!/usr/bin/env python
"""How long the watch list takes after a fit of the shipped case (the target: at most 10 s).

Run from the repository root::

    .venv/bin/python benchmarks/watch.py                       # fit the shipped case (default settings), then time
    .venv/bin/python benchmarks/watch.py --home DIR            # a HARBINGER_HOME whose current run is such a fit
    .venv/bin/python benchmarks/watch.py --home DIR --keep     # fit there if it has none, and keep it for next time

The figure is the wall time of :func:`dashboard.services.watch.compute` as it runs at the end of
a fit (:func:`dashboard.services.watch.after_fit`): the run's posterior read from its file, its
design rebuilt and checked against its data, the forecast's future paths simulated, every
indicator's value of information and tripwire curves computed, and ``watch.json`` written. Every
repeat starts cold (no run context held in memory). Only a fit that passed its sampler diagnostics
counts: with a failing one the script says so and prints no figure (exit 1). With ``--home`` (no
fit in this process) one untimed computation first loads the libraries and the posterior file as
the fit would have. The default fit is
Harbinger's (nutpie, 4000 draws after 2000 tuning steps, two chains; HARBINGER_* variables and
the options below change it), as of today, on the shipped observations. The last line printed is
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT_S = 10.0


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--home",
        type=Path,
        default=None,
        help="HARBINGER_HOME to use (its current run, when it passed its diagnostics; else a fit there)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary HARBINGER_HOME (printed)")
    p.add_argument("--repeats", type=int, default=3, help="timed computations (median shown)")
    p.add_argument("--draws", type=int, default=None, help="draws per chain of the fit (default: Harbinger's)")
    p.add_argument("--tune", type=int, default=None, help="tuning steps per chain (default: Harbinger's)")
    p.add_argument("--chains", type=int, default=None, help="chains (default: Harbinger's)")
    p.add_argument("--seed", type=int, default=None, help="the fit's seed (default: Harbinger's)")
    return p.parse_args()


def _store(home: Path) -> tuple[object, str]:
    """The store in ``home``, with the shipped case and observations loaded when it has none."""
    os.environ["HARBINGER_HOME"] = str(home)
    os.environ.pop("HARBINGER_DATABASE_URL", None)
    from indicators.case import load_case, shipped_case_path
    from indicators.resources import data_path
    from indicators.store import Store

    store = Store.from_env()
    store.upgrade()
    loaded = load_case(shipped_case_path())
    case_id = loaded.case.id
    if case_id not in store.case_ids():
        store.load_case(loaded, actor="benchmarks/watch.py")
    if not store.n_records(case_id):
        store.import_csv(case_id, data_path("observations", f"{case_id}.csv"), actor="benchmarks/watch.py")
    return store, case_id


def main() -> int:
    args = _args()
    temporary = args.home is None
    home = args.home or Path(tempfile.mkdtemp(prefix="harbinger-watch-bench-")) / "home"
    os.environ["HARBINGER_WATCH_AFTER_FIT"] = "0"  # timed below, not inside the fit
    store, case_id = _store(home)

    from dashboard.services import analysis, watch
    from dashboard.services.runs import current_run, fit_case

    run = current_run(store, case_id)
    fitted_here = False
    if run is None or not run.get("diagnostics_ok"):
        settings = {
            k: v
            for k, v in (("draws", args.draws), ("tune", args.tune), ("chains", args.chains), ("seed", args.seed))
            if v is not None
        }
        print(f"fitting the shipped case in {home} {settings or '(default settings)'} ...", flush=True)
        started = time.perf_counter()
        run_id = fit_case(store, case_id, **settings)
        print(f"fit {run_id}: {time.perf_counter() - started:.0f} s", flush=True)
        run = store.get_run(run_id)
        fitted_here = True
    diag = run["diagnostics"]
    print(
        f"run {run['id']} as of {run['as_of']}: {run['settings']}; max R-hat {diag.get('max_rhat')}, "
        f"min bulk ESS {diag.get('min_ess_bulk')}, {diag.get('divergences')} divergences"
    )
    if not run["diagnostics_ok"]:
        print(f"the fit failed its diagnostics ({'; '.join(diag.get('problems') or [])}): no figure counts.")
        return 1

    if not fitted_here:
        # right after a fit its process has imported every library the run's files need and the
        # posterior file is in the page cache: one untimed computation puts this process there
        analysis._CONTEXTS.clear()
        watch.compute(store, case_id, run)
    times, cpu, inner, loads, doc = [], [], [], [], None
    for _ in range(max(1, args.repeats)):
        analysis._CONTEXTS.clear()  # cold, as right after a fit: the posterior is read from its file
        started, started_cpu = time.perf_counter(), time.process_time()
        doc = watch.compute(store, case_id, run)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        inner.append(doc["seconds"])
        loads.append(os.getloadavg()[0])
    assert doc is not None
    median = statistics.median(times)
    n_values = sum(p["n_values"] for i in doc["indicators"] for p in i["periods"].values())
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(
        f"posterior: {doc['settings']['draws']} draws x {doc['settings']['paths']} paths; "
        f"{len(doc['indicators'])} indicators x 2 periods, {n_values} values reweighted, "
        f"{len(doc['targets'])} outcome horizons"
    )
    print(
        f"watch list after the fit: {median:.2f} s median of {len(times)} "
        f"({', '.join(f'{t:.2f}' for t in times)}); of which value of information and tripwires "
        f"{statistics.median(inner):.2f} s, the rest reading the run"
    )
    print(
        f"CPU time (both threads): {statistics.median(cpu):.2f} s median "
        f"({', '.join(f'{t:.2f}' for t in cpu)}); load average during the repeats "
        f"{min(loads):.1f}-{max(loads):.1f} (wall time grows with the load: the machine is shared)"
    )
    print(f"limit {LIMIT_S:.0f} s: {'met' if median <= LIMIT_S else 'MISSED'}")
    if temporary and not args.keep:
        shutil.rmtree(home.parent, ignore_errors=True)
    elif fitted_here or args.keep:
        print(f"HARBINGER_HOME kept: {home}")
    print(
        json.dumps(
            {
                "watch_s": round(median, 2),
                "watch_runs_s": [round(t, 2) for t in times],
                "cpu_s": round(statistics.median(cpu), 2),
                "compute_s": round(statistics.median(inner), 2),
                "draws": doc["settings"]["draws"],
                "paths": doc["settings"]["paths"],
                "values": n_values,
                "run_id": run["id"],
                "diagnostics_ok": True,
                "cpus": os.cpu_count(),
                "load_1min": round(load[0], 2),
                "limit_s": LIMIT_S,
                "met": median <= LIMIT_S,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
