"""``harbinger backtest``: rolling-origin refits as of past dates, scored on what followed.

``--format json`` prints the saved document (schema in :func:`dashboard.services.backtests.run_backtest`)
without the per-row details of each origin (``rows``), which stay in the saved file; the file's
path is printed on stderr. ``--latest`` prints the newest saved backtest without refitting.

With ``HARBINGER_REDIS_URL`` set, the origins are sent as Celery tasks to the team's ``harbinger
worker`` processes (``--jobs`` is then not used: the workers' number and concurrency decide how
many run at once) and gathered here; ``--local`` runs them on this machine instead.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import click

from dashboard.cli.support import DENSITY_OPTION, Env, emit, pass_env
from dashboard.services.context import Failure
from dashboard.services.runs import SAMPLERS

FORMATS = ("table", "json")


def _jobs_default() -> int:
    return os.cpu_count() or 1


def progress_printer() -> Any:
    """A one-line progress bar on stderr, redrawn when the percentage or the stage changes (at
    most once a second otherwise), so stdout stays clean for JSON."""
    state = {"key": None, "at": 0.0}

    def report(fraction: float, message: str) -> None:
        pct = int(fraction * 100)
        key = (pct, message.split(":")[0])
        now = time.monotonic()
        if key == state["key"] and now - state["at"] < 1.0:
            return
        state["key"], state["at"] = key, now
        bar = "#" * (pct // 4) + "-" * (25 - pct // 4)
        sys.stderr.write(f"\r[{bar}] {pct:3d}% {message[:70]:<70}{chr(10) if fraction >= 1 else ''}")
        sys.stderr.flush()

    return report


def public_document(doc: dict[str, Any]) -> dict[str, Any]:
    """The document as printed by ``--format json``: each origin without its per-row details."""
    out = {k: v for k, v in doc.items() if k != "origins"}
    out["origins"] = [{k: v for k, v in o.items() if k != "rows"} for o in doc.get("origins", [])]
    return out


def _fmt(x: Any, pct: bool = False) -> Any:
    if x is None:
        return None
    return f"{100 * x:.0f}%" if pct else round(float(x), 3)


def _dash(x: Any) -> str:
    return "—" if x is None else f"{x:+.3f}"


def print_skill(doc: dict[str, Any]) -> None:
    """The skill against the baselines by summary (mean of ratios, pooled, median), each explained."""
    from dashboard.services.backtests import SKILL_ADVICE, SKILL_SUMMARIES, skill_rows

    rows = skill_rows(doc)
    click.echo("skill against baselines (1 - model CRPS / baseline CRPS; above 0: the model is better):")
    if not rows:
        click.echo("  — (this backtest holds no per-row scores to compute it from)")
    else:
        emit(
            [
                {
                    "indicators": r["group"],
                    "summary": r["summary"],
                    "vs_persistence": _dash(r["persistence"]),
                    "vs_climatology": _dash(r["climatology"]),
                    "over": r["over"],
                }
                for r in rows
            ],
            "table",
        )
        if (doc["summary"].get("skill") or {}).get("from_saved_rows"):
            click.echo("(computed now from the saved per-row scores: the backtest was saved before these figures)")
    for _, label, meaning in SKILL_SUMMARIES:
        click.echo(f"  {label}: {meaning}")
    click.echo(f"  {SKILL_ADVICE}")


def print_tables(doc: dict[str, Any]) -> None:
    s = doc["settings"]
    origins = [o["origin"] for o in doc["origins"]]
    click.echo(
        f"backtest of case {doc['case']}: origins {', '.join(map(str, origins))} "
        f"(each fitted on what was recorded by 31 Dec of that year, scored on the next year); "
        f"sampler {s.get('sampler')}, {s.get('draws')} draws, {s.get('tune')} tune, {s.get('chains')} chains"
    )
    if s.get("executor") == "celery":
        ran = sorted({f"{o['ran_on']['host']}:{o['ran_on']['pid']}" for o in doc["origins"] if o.get("ran_on")})
        click.echo(f"origins fitted by Celery workers, in {len(ran)} process(es): {', '.join(ran)}")
    failing = doc["summary"].get("origins_failing_diagnostics") or []
    if failing:
        click.echo(f"DIAGNOSTICS FAILED for origins {', '.join(map(str, failing))}: their fits are not clean")
    for f in doc.get("failed_origins") or []:
        click.echo(f"origin {f['origin']} FAILED: {f['error']}")
    click.echo("")
    emit(
        [
            {
                "indicator": i["id"],
                "family": i["family"],
                "n": i["n"],
                "crps": _fmt(i["crps"]),
                "persistence": _fmt(i["crps_persistence"]),
                "climatology": _fmt(i["crps_climatology"]),
                "skill_pers": _fmt(i["skill_persistence"]),
                "skill_clim": _fmt(i["skill_climatology"]),
                "cov50": _fmt(i["coverage_50"], True),
                "cov90": _fmt(i["coverage_90"], True),
            }
            for i in doc["indicators"]
        ],
        "table",
    )
    click.echo("")
    print_skill(doc)
    click.echo("")
    emit(
        [
            {
                "outcome": o["id"],
                "forecasts": o["n"],
                "events": o["events"],
                "brier": o["brier"],
                "brier_base_rate": o["brier_base_rate"],
                "log_score": o["log_score"],
                "log_score_base_rate": o["log_score_base_rate"],
                "brier_skill_vs_elicited": _fmt(o.get("skill_brier_base_rate")),
                "log_skill_vs_elicited": _fmt(o.get("skill_log_score_base_rate")),
            }
            for o in doc["outcomes"]
        ],
        "table",
    )
    pooled = ((doc["summary"].get("skill") or {}).get("outcomes")) or {}
    click.echo(
        f"outcomes against the elicited base rate, pooled over {pooled.get('n_forecasts', '—')} forecasts: "
        f"Brier skill {_dash(pooled.get('brier'))}, log-score skill {_dash(pooled.get('log_score'))} "
        "(base rate: the case's elicited annual probability; skill above 0: the model beats it)"
    )
    click.echo("")
    summ = doc["summary"]
    click.echo(
        f"held-out rows: {summ['n_rows']}; coverage of 50% intervals {_fmt(summ['coverage_50'], True)}, "
        f"of 90% intervals {_fmt(summ['coverage_90'], True)} (randomised, nominal if calibrated: "
        f"{_fmt(summ.get('coverage_50_randomised'), True)}, {_fmt(summ.get('coverage_90_randomised'), True)})"
    )
    for t in doc["targets"]:
        state = "not measurable" if t["met"] is None else ("met" if t["met"] else "MISSED")
        click.echo(f"target {t['id']}: {state} (value {t['value']}) — {t['target']}; {t['detail']}")


def register(main: click.Group) -> None:
    @main.command()
    @click.option(
        "--origins",
        default=None,
        metavar="A..B",
        help="Origin years: a range 2014..2024, a year, or a list 2016,2019 (default: every year "
        "from the case's fifth to the last whose following year has ended).",
    )
    @click.option(
        "--draws",
        type=click.IntRange(10, 100000),
        default=None,
        help="Posterior draws per chain (default: the fit default).",
    )
    @click.option(
        "--tune",
        type=click.IntRange(10, 100000),
        default=None,
        help="Warm-up draws per chain (default: the fit default).",
    )
    @click.option("--chains", type=click.IntRange(1, 16), default=None, help="Chains (default: the fit default).")
    @click.option("--seed", type=int, default=None, help="Random seed (default fixed, so backtests repeat).")
    @click.option("--sampler", type=click.Choice(SAMPLERS), default=None, help="Sampler (default: the fit default).")
    @DENSITY_OPTION
    @click.option(
        "--jobs",
        type=click.IntRange(1, 256),
        default=None,
        help="Origins fitted at once, each in its own process (default: the number of cores); "
        "not used when the origins go to Celery workers.",
    )
    @click.option(
        "--local",
        is_flag=True,
        help="Fit the origins on this machine even when HARBINGER_REDIS_URL is set (by default they "
        "are then sent to the team's 'harbinger worker' processes).",
    )
    @click.option("--latest", is_flag=True, help="Print the newest saved backtest instead of running one.")
    @click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help="Output format."
    )
    @pass_env
    def backtest(
        env: Env,
        origins: str | None,
        draws: int | None,
        tune: int | None,
        chains: int | None,
        seed: int | None,
        sampler: str | None,
        density: str | None,
        jobs: int | None,
        local: bool,
        latest: bool,
        fmt: str,
    ) -> None:
        """Refit as of past dates with only what was recorded then, and score what followed.

        Scores each indicator's next-year observations (CRPS, 50%/90% interval coverage, PIT)
        against persistence and climatology baselines, and the outcomes (Brier, log score).
        Saves the result under HARBINGER_HOME/backtests/ for the Backtest page. With
        HARBINGER_REDIS_URL set, the origins run on the team's 'harbinger worker' processes.
        """
        from dashboard.services import backtests, tasks
        from dashboard.services.runs import default_settings

        store = env.store
        case_id = env.case_id
        if latest:
            doc = backtests.latest_backtest(store.home, case_id)
            if doc is None:
                raise Failure(f"no saved backtest for case '{case_id}'; run 'harbinger backtest' first.")
        else:
            case = store.get_case(case_id).case
            years = backtests.parse_origins(origins, case_start=case.start)
            settings = default_settings() | {
                k: v
                for k, v in dict(
                    draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler, density=density
                ).items()
                if v is not None
            }
            broker = None if local else tasks.redis_url()
            if broker:
                broker = tasks.require_url(broker)
                click.echo(
                    f"sending {len(years)} origin(s) to the harbinger workers on Redis "
                    f"{tasks.safe_url(broker)} (--local runs them here)",
                    err=True,
                )
            path, doc = backtests.run_backtest(
                store,
                case_id,
                origins=years,
                jobs=jobs or _jobs_default(),
                settings=settings,
                progress=progress_printer(),
                broker=broker,
            )
            doc["file"] = str(path)
        click.echo(f"backtest saved in {doc['file']}", err=True)
        if fmt == "json":
            click.echo(json.dumps(public_document(doc), indent=2))
        else:
            print_tables(doc)
