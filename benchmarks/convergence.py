#!/usr/bin/env python
"""How often does a default fit pass its own diagnostics? Pass rates over seeds and as-of dates.

Run from the repository root (after ``bash scripts/setup.sh``)::

    .venv/bin/python benchmarks/convergence.py                          # 20 seeds, today + 6 origins
    .venv/bin/python benchmarks/convergence.py --seeds 5 --as-of today,2016,2022
    .venv/bin/python benchmarks/convergence.py --as-of today,origins    # every default backtest origin
    .venv/bin/python benchmarks/convergence.py --jobs 2                 # two fits at a time

On the shipped case (a fresh temporary store, as ``harbinger init`` makes it), for each as-of
date and each seed, it fits with the default ``FitSettings`` at that seed, exactly as
``harbinger fit --as-of DATE`` does (the observations the store had recorded by the end of that
day), and judges the fit with the run's own diagnostics (``models.fit.diagnostics``: R-hat, bulk
and tail ESS of the outcome probabilities, parameters and factor states, divergences, E-BFMI).

As-of dates: ``today``, a year ``Y`` (backtest origin ``Y``: 31 December ``Y``, as ``dashboard.services.backtests`` defines it), a date
``YYYY-MM-DD``, or ``origins`` (every default backtest origin). The default is today and every
other default origin, counting back from the latest. Seeds start at the default seed, so the fit
a new user gets at today's date is the first one.

Each as-of date has its own array shapes, so its model is compiled once (in the process that
fits it) and reused for its seeds; ``--jobs N`` fits N as-of dates at a time in separate
processes. Every fit samples ``chains`` chains on up to two cores: on a two-core machine,
``--jobs 1`` measures the seconds a user waits.

Prints one line per fit, a table of pass rates per as-of date with the quantities that failed,
and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import UTC, date, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: The share of fits that must pass.
TARGET = 0.95


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=20, help="seeds per as-of date (default 20)")
    p.add_argument(
        "--first-seed",
        type=int,
        default=None,
        help="seeds are first-seed, first-seed + 1, ... (default: Harbinger's default seed)",
    )
    p.add_argument(
        "--as-of",
        default="today,every-other-origin",
        help="comma-separated: today, a year (backtest origin), YYYY-MM-DD, origins, "
        "every-other-origin (default: today,every-other-origin)",
    )
    p.add_argument(
        "--seed-list",
        default=None,
        help="comma-separated seeds to fit instead of --seeds/--first-seed (e.g. failed ones)",
    )
    p.add_argument(
        "--retry",
        action="store_true",
        help="retry each failing fit as 'harbinger fit' does (FitSettings.retried: twice the tuning, the next "
        "seed) and report the pass rate with that retry too",
    )
    p.add_argument("--jobs", type=int, default=1, help="as-of dates fitted at a time, each in its own process")
    p.add_argument("--draws", type=int, default=None, help="draws per chain (default: Harbinger's default)")
    p.add_argument("--tune", type=int, default=None, help="tuning steps per chain (default: Harbinger's)")
    p.add_argument(
        "--home", default=None, help="an existing HARBINGER_HOME with the shipped case (default: a fresh temporary one)"
    )
    return p.parse_args()


def as_of_dates(spec: str, *, case_start: date, today: date) -> list[tuple[str, date]]:
    """(label, date) of each as-of date in ``spec`` (see the module docstring), in order, once each."""
    from dashboard.services.backtests import default_origins
    from dashboard.services.origins import origin_date

    origins = default_origins(case_start, on=today)
    out: list[tuple[str, date]] = []
    for item in (s.strip() for s in spec.split(",") if s.strip()):
        if item == "today":
            out.append(("today", today))
        elif item == "origins":
            out += [(str(y), origin_date(y)) for y in origins]
        elif item == "every-other-origin":
            out += [(str(y), origin_date(y)) for y in sorted(origins[::-1][::2])]
        elif re.fullmatch(r"\d{4}", item):
            out.append((item, origin_date(int(item))))
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", item):
            out.append((item, date.fromisoformat(item)))
        else:
            raise SystemExit(f"--as-of: {item!r} is not today, a year, YYYY-MM-DD, origins or every-other-origin")
    seen: set[date] = set()
    return [(label, d) for label, d in out if not (d in seen or seen.add(d))]


def fit_as_of(
    label: str,
    as_of: date,
    seeds: list[int],
    sizes: dict[str, int],
    report: Callable[[dict], None] | None = None,
    retry: bool = False,
) -> list[dict]:
    """Fit the shipped case (in ``HARBINGER_HOME``) as of ``as_of`` once per seed; one record per fit.
    With ``retry``, a fit that fails is followed by the retry ``harbinger fit`` would run, whose
    verdict the record keeps under ``retry``."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from indicators.store import Store
    from models.design import build_design
    from models.fit import FitSettings, compiled_for, diagnostics, sample
    from models.forecast import draws_of, outcome_forecasts

    store = Store.from_env()
    case_id = store.case_ids()[0]
    case = store.get_case(case_id).case
    design = build_design(
        case,
        store.observations(case_id, as_of=as_of),
        as_of=as_of,
        reviewed=store.reviews(case_id, as_of=as_of),
    )
    t = time.perf_counter()
    compiled_for(design, FitSettings(**sizes).sampler)  # the compile is not part of a fit's seconds
    print(f"  {label:>10}: model compiled in {time.perf_counter() - t:.0f} s", flush=True)

    def judged(settings: FitSettings) -> dict:
        t = time.perf_counter()
        idata = sample(design, settings)
        seconds = time.perf_counter() - t
        _, prob = outcome_forecasts(design, draws_of(design, idata), seed=settings.seed)
        diag = diagnostics(idata, outcome_probability=prob, observed_periods=design.grid.as_of_cell + 1)
        keys = ("ok", "max_rhat", "min_ess_bulk", "min_ess_tail", "divergences", "min_bfmi", "problems", "failing")
        return {"seconds": round(seconds, 1), **{k: diag[k] for k in keys}}

    records = []
    for seed in seeds:
        settings = FitSettings(seed=seed, **sizes)
        record = {"as_of": label, "date": as_of.isoformat(), "seed": seed, **judged(settings)}
        if retry and not record["ok"]:
            again = settings.retried()
            record["retry"] = {"seed": again.seed, "tune": again.tune, **judged(again)}
        records.append(record)
        if report:
            report(record)
    return records


def _worker(args: tuple) -> list[dict]:
    return fit_as_of(*args)


def _print_fit(record: dict) -> None:
    verdict = "ok" if record["ok"] else "FAILED: " + "; ".join(record["problems"])
    worst = f" [{record['failing'][0]}]" if record["failing"] else ""
    print(
        f"  {record['as_of']:>10} seed {record['seed']}: {record['seconds']:5.1f} s, R-hat {record['max_rhat']:.3f}, "
        f"{verdict}{worst}",
        flush=True,
    )
    if "retry" in record:
        again = record["retry"]
        verdict = "ok" if again["ok"] else "FAILED: " + "; ".join(again["problems"])
        print(
            f"  {'':>10} retry seed {again['seed']}, tune {again['tune']}: {again['seconds']:5.1f} s, "
            f"R-hat {again['max_rhat']:.3f}, {verdict}",
            flush=True,
        )


def quantity(failure: str) -> str:
    """The quantity a ``failing`` entry names, without its figures; factor states keep their factor."""
    name = failure.split(" (")[0]
    return re.sub(r"^factor_state\[([^,\]]+), [^\]]+\]$", r"factor_state[\1, ...]", name)


def _with_retry(records: list[dict]) -> int | None:
    """How many fits passed at the first attempt or at their retry (None when none was retried
    although some failed: the run had no --retry)."""
    failed = [r for r in records if not r["ok"]]
    if failed and not all("retry" in r for r in failed):
        return None
    return sum(r["ok"] or r["retry"]["ok"] for r in records)


def summarise(records: list[dict], labels: list[str], default_seed: int) -> dict[str, Any]:
    """Pass rates per as-of date and overall, and how often each quantity failed."""
    per_as_of = {}
    for label in labels:
        mine = [r for r in records if r["as_of"] == label]
        if not mine:
            continue
        failed = collections.Counter(q for r in mine if not r["ok"] for q in {quantity(f) for f in r["failing"]})
        per_as_of[label] = {
            "date": mine[0]["date"],
            "fits": len(mine),
            "passed": sum(r["ok"] for r in mine),
            "pass_rate": round(sum(r["ok"] for r in mine) / len(mine), 3),
            "median_s": round(sorted(r["seconds"] for r in mine)[len(mine) // 2], 1),
            "failed_seeds": [r["seed"] for r in mine if not r["ok"]],
            "passed_with_retry": _with_retry(mine),
            "failing_quantities": dict(failed.most_common()),
        }
    overall = collections.Counter(q for r in records if not r["ok"] for q in {quantity(f) for f in r["failing"]})
    passed = sum(r["ok"] for r in records)
    default_today = [r["ok"] for r in records if r["as_of"] == "today" and r["seed"] == default_seed]
    return {
        "fits": len(records),
        "passed": passed,
        "passed_with_retry": _with_retry(records),
        "pass_rate": round(passed / len(records), 3) if records else None,
        "target": TARGET,
        "target_met": bool(records) and passed / len(records) >= TARGET,
        "default_seed_today_ok": default_today[0] if default_today else None,
        "per_as_of": per_as_of,
        "failing_quantities": dict(overall.most_common()),
    }


def _shipped_home(home: str | None) -> Path:
    if home:
        os.environ["HARBINGER_HOME"] = home
        return Path(home)
    path = Path(tempfile.mkdtemp(prefix="harbinger-convergence-"))
    os.environ["HARBINGER_HOME"] = str(path)
    subprocess.run([str(Path(sys.executable).parent / "harbinger"), "init"], check=True, capture_output=True)
    return path


def main() -> None:
    args = _args()
    sys.path.insert(0, str(ROOT))
    from indicators.store import Store
    from models.fit import FitSettings

    home = _shipped_home(args.home)
    store = Store.from_env()
    case = store.get_case(store.case_ids()[0]).case
    today = datetime.now(UTC).date()
    dates = as_of_dates(args.as_of, case_start=case.start, today=today)
    sizes = {k: v for k, v in {"draws": args.draws, "tune": args.tune}.items() if v is not None}
    default_seed = FitSettings().seed
    first = default_seed if args.first_seed is None else args.first_seed
    seeds = (
        [int(x) for x in args.seed_list.split(",") if x.strip()]
        if args.seed_list
        else list(range(first, first + args.seeds))
    )
    shown = {k: v for k, v in FitSettings(**sizes).as_dict().items() if k != "seed"}
    print(
        f"shipped case '{case.id}' in {home}: {len(seeds)} seeds from {seeds[0]} at {len(dates)} as-of dates "
        f"({', '.join(label for label, _ in dates)}); settings {shown}; jobs {args.jobs}; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )

    t0 = time.perf_counter()
    records: list[dict] = []
    tasks = [(label, d, seeds, sizes, None, args.retry) for label, d in dates]
    if args.jobs <= 1:
        for label, d, task_seeds, task_sizes, _, retry in tasks:
            records += fit_as_of(label, d, task_seeds, task_sizes, report=_print_fit, retry=retry)
    else:
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as pool:
            for done in as_completed([pool.submit(_worker, task) for task in tasks]):
                for record in done.result():
                    _print_fit(record)
                records += done.result()
    figures = summarise(records, [label for label, _ in dates], default_seed)

    print(f"\n{'as of':>10} {'date':>10} {'passed':>9} {'rate':>6} {'median s':>8}  failing quantities (fits)")
    for label, row in figures["per_as_of"].items():
        failing = ", ".join(f"{q} ({n})" for q, n in row["failing_quantities"].items()) or "-"
        print(
            f"{label:>10} {row['date']:>10} {row['passed']:>4}/{row['fits']:<4} {row['pass_rate']:6.0%} "
            f"{row['median_s']:8.1f}  {failing}"
        )
    print(f"{'all':>10} {'':>10} {figures['passed']:>4}/{figures['fits']:<4} {figures['pass_rate']:6.0%}")
    if figures["passed_with_retry"] is not None and args.retry:
        print(f"with the automatic retry: {figures['passed_with_retry']}/{figures['fits']} passed")
    print(
        f"pass rate {figures['pass_rate']:.1%} against a target of {TARGET:.0%} "
        f"({'met' if figures['target_met'] else 'NOT met'}); the default seed at today's date "
        f"{'passes' if figures['default_seed_today_ok'] else 'fails' if figures['default_seed_today_ok'] is False else 'was not fitted'}"
    )
    print(
        json.dumps(
            {
                "case": case.id,
                "seeds": seeds,
                "settings": shown,
                "jobs": args.jobs,
                **figures,
                "fits_detail": records,
                "total_s": round(time.perf_counter() - t0, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
