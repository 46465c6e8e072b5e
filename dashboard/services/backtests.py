"""Rolling-origin backtests of a case: refit as of past dates, score what followed, save the scores.

Origins are years. Origin ``Y`` is a fit as of the end of 31 December ``Y`` on exactly what the
store had recorded by then (the bitemporal ``Store.observations(case, as_of=...)``: later
records, corrections and retractions are invisible to it); it is scored on the observations of
periods ending in the following calendar year, as recorded now (with every later correction),
against the persistence and climatology baselines fitted on the same information as the model
(:mod:`models.backtest`), and on the outcomes that were unresolved at the origin. The default
origins are one per year from the fifth calendar year of the case (four full years of data)
to the last year whose scored window has ended by today.

Origins run in separate processes (``concurrent.futures`` with the ``spawn`` start method; each
process builds its own model, a few seconds per distinct array shape, and loads the compiled
density from the disk cache all processes share, :mod:`models.compiled`), ``jobs`` at a time; ``jobs=1`` runs in this process and reports sampling progress.
With a ``broker`` (the team's ``HARBINGER_REDIS_URL``), each origin is instead a Celery task
(:mod:`dashboard.services.tasks`) run by whichever ``harbinger worker`` is free: the worker reads
the case and the observations from its own store (the same database and ``HARBINGER_HOME``, as
recorded when the backtest started: :func:`evaluate_stored_origin`), fits and scores the origin
with :func:`evaluate_origin` and returns its result; this process gathers them, shows progress as
they run and end, and writes the same document. Each origin records where it ran (``ran_on``).
The document is saved as JSON under ``HARBINGER_HOME/backtests/`` (schema in
:func:`run_backtest`); the Backtest page and ``harbinger backtest --latest`` read the newest one.

Caveat that no code can remove: the case file itself (indicator definitions, coverage windows,
priors, elicited base rates) is today's, written with hindsight; only the observations are
replayed as of each origin.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from datetime import UTC, date, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from dashboard.services.context import today
from dashboard.services.origins import PER_DRAW, evaluate_origin, frames, origin_date, window_end
from indicators.errors import BadInput

Progress = Callable[[float, str], None]

DIRECTORY = "backtests"
SCHEMA_VERSION = 1
#: Years of data before the first default origin.
WARMUP_YEARS = 4


def default_origins(case_start: date, *, on: date | None = None) -> list[int]:
    """One origin per year from the case's fifth calendar year to the last year whose scored
    window (the following calendar year) has ended by ``on`` (default: today)."""
    on = on or today()
    first = case_start.year + WARMUP_YEARS
    last = on.year - 1 if window_end(on.year - 1) <= on else on.year - 2
    return list(range(first, last + 1))


def parse_origins(text: str | None, *, case_start: date, on: date | None = None) -> list[int]:
    """Origins from ``A..B`` (every year from A to B), ``Y`` or ``Y1,Y2,...``; None: the defaults."""
    on = on or today()
    if text is None or not text.strip():
        years = default_origins(case_start, on=on)
        if not years:
            raise BadInput(
                f"no default origins: the case starts {case_start} and needs {WARMUP_YEARS} years of "
                "data and a full scored year; give --origins."
            )
        return years
    spec = text.strip()
    m = re.fullmatch(r"(\d{4})\s*\.\.\s*(\d{4})", spec)
    if m:
        a, b = int(m.group(1)), int(m.group(2))
        if a > b:
            raise BadInput(f"--origins: '{spec}' runs backwards; write the earlier year first (e.g. {b}..{a}).")
        years = list(range(a, b + 1))
    elif re.fullmatch(r"\d{4}(\s*,\s*\d{4})*", spec):
        years = sorted({int(y) for y in re.split(r"\s*,\s*", spec)})
    else:
        raise BadInput(f"--origins: '{spec}' is not a year range like 2014..2024 or a list of years like 2016,2019.")
    for y in years:
        if origin_date(y) < case_start:
            raise BadInput(
                f"--origins: {y} is before the case starts ({case_start}); the first possible origin "
                f"is {case_start.year}."
            )
        if window_end(y) > on:
            last = on.year - 1 if window_end(on.year - 1) <= on else on.year - 2
            raise BadInput(
                f"--origins: the year scored for origin {y} ({y + 1}) has not ended yet; the last "
                f"possible origin is {last}."
            )
    return years


def directory(home: Path) -> Path:
    path = Path(home) / DIRECTORY
    path.mkdir(parents=True, exist_ok=True)
    return path


def saved_backtests(home: Path, case_id: str) -> list[Path]:
    """Saved backtest files of a case, newest first."""
    path = Path(home) / DIRECTORY
    if not path.exists():
        return []
    return sorted(path.glob(f"backtest-{case_id}-*.json"), reverse=True)


def latest_backtest(home: Path, case_id: str) -> dict[str, Any] | None:
    """The newest saved backtest of a case (with its ``file``), or None; its skill figures are
    completed by :func:`with_skill` when it was saved before they existed."""
    for path in saved_backtests(home, case_id):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        doc["file"] = str(path)
        return with_skill(doc)
    return None


#: What each summary of the skill across indicators is, in a line an analyst can act on; the
#: definitions are in :mod:`models.backtest`. Shown by the Backtest page, the CLI and the report.
SKILL_SUMMARIES = (
    (
        "mean_of_ratios",
        "mean of ratios",
        "each indicator's CRPS as a share of its climatology CRPS, averaged over indicators: every indicator "
        "counts the same, so one indicator with a tiny climatology CRPS can swing it (the count target's figure).",
    ),
    (
        "pooled",
        "pooled",
        "the model's CRPS summed over every held-out row against the baseline's sum: one small-scale indicator "
        "cannot swing it, but the largest-scale series (scrambles) weigh most.",
    ),
    (
        "median",
        "median",
        "the middle indicator's skill: one outlier indicator cannot move it; it says whether most indicators "
        "beat the baseline, not by how much overall.",
    ),
)
SKILL_ADVICE = (
    "When they disagree in sign, one indicator (or one large-scale series) is driving the mean of ratios "
    "(or the pooled figure): look at the per-indicator table before trusting either."
)


def with_skill(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with the skill figures of :func:`models.backtest.summarise` that it lacks, computed
    from its saved per-row and per-outcome scores (a backtest saved before those figures existed);
    ``summary.skill.from_saved_rows`` is then true. A document without rows gets none (the front
    ends show "—"); a malformed one is returned as it is, for its reader to report."""
    from models.backtest import outcome_skill, skill, skill_summary

    summary = doc.get("summary")
    outcomes = doc.get("outcomes")
    origins = doc.get("origins")
    if not isinstance(summary, dict) or not isinstance(outcomes, list) or not isinstance(origins, list):
        return doc
    for o in outcomes:
        if isinstance(o, dict) and "skill_log_score_base_rate" not in o:
            value = skill(o.get("log_score"), o.get("log_score_base_rate"))
            o["skill_log_score_base_rate"] = None if value is None else round(value, 4)
    if "skill" not in summary:
        rows = [r for o in origins if isinstance(o, dict) for r in o.get("rows") or [] if isinstance(r, dict)]
        if rows:
            summary["skill"] = skill_summary(rows) | {
                "outcomes": outcome_skill([o for o in outcomes if isinstance(o, dict)]),
                "from_saved_rows": True,
            }
    return doc


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def skill_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The skill against each baseline by summary, over all indicators then per family: one dict per
    (group, summary) with ``group``, ``summary`` (its label), ``persistence``, ``climatology`` and
    ``over`` (how many indicators or rows it is over); [] when the document has no skill figures."""
    skill = (doc.get("summary") or {}).get("skill")
    if not skill:
        return []
    groups = [("all indicators", skill.get("all") or {})]
    groups += [(f"{family} indicators", g) for family, g in sorted((skill.get("families") or {}).items())]
    out = []
    for name, g in groups:
        pers, clim = g.get("persistence") or {}, g.get("climatology") or {}
        for key, label, _ in SKILL_SUMMARIES:
            if key == "pooled":
                over = _count(g.get("n_rows", 0), "row")
            elif key == "median" and pers.get("median_n") != clim.get("median_n"):
                over = f"{pers.get('median_n', 0)} / {clim.get('median_n', 0)} indicators"
            elif key == "median":
                over = _count(pers.get("median_n", 0), "indicator")
            else:
                over = _count(g.get("mean_of_ratios_n", g.get("n_indicators", 0)), "indicator")
            out.append(
                {
                    "group": name,
                    "summary": label,
                    "persistence": pers.get(key),
                    "climatology": clim.get(key),
                    "over": over,
                }
            )
    return out


def save(home: Path, doc: dict[str, Any]) -> Path:
    stamp = doc["created_at"].replace("-", "").replace(":", "")[:15] + "Z"
    path = directory(home) / f"backtest-{doc['case']}-{stamp}.json"
    n = 1
    while path.exists():
        n += 1
        path = path.with_name(f"backtest-{doc['case']}-{stamp}-{n}.json")
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    tmp.replace(path)
    return path


def _worker(args: tuple) -> dict[str, Any]:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return evaluate_origin(*args)


def _run_here(
    tasks: list[tuple], jobs: int, report: Progress, finished: Callable[[int, dict[str, Any] | None, str | None], None]
) -> int:
    """Run ``tasks`` (:func:`evaluate_origin`'s arguments) on this machine, ``jobs`` at a time: in
    this process (reporting sampling progress) or in spawned processes; returns the jobs used."""
    total = len(tasks)
    jobs = max(1, min(int(jobs), total))
    report(0.0, f"0 of {total} origins ({jobs} at a time)")
    if jobs == 1:
        for k, task in enumerate(tasks):
            year = task[3]

            def inner(fraction: float, message: str, k: int = k, year: int = year) -> None:
                report((k + min(fraction, 0.99)) / total, f"origin {year} ({k + 1} of {total}): {message}")

            try:
                finished(year, evaluate_origin(*task, progress=inner), None)
            except Exception as exc:  # noqa: BLE001 - one failed origin is reported, the rest still run
                finished(year, None, f"{type(exc).__name__}: {exc}")
    else:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            pending = {pool.submit(_worker, task): task[3] for task in tasks}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        year = pending.pop(fut)
                        try:
                            finished(year, fut.result(), None)
                        except Exception as exc:  # noqa: BLE001 - as above
                            finished(year, None, f"{type(exc).__name__}: {exc}")
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    return jobs


def run_backtest(
    store: Any,
    case_id: str,
    *,
    origins: list[int],
    jobs: int = 1,
    settings: dict[str, Any],
    per_draw: int = PER_DRAW,
    progress: Progress | None = None,
    broker: str | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Run every origin, summarise, save under ``HARBINGER_HOME/backtests/``; returns (path, document).

    ``broker``: the Redis URL of the team's Celery workers (``HARBINGER_REDIS_URL``); the origins
    run there instead of in this machine's processes, and ``jobs`` is not used.

    Document (JSON, stable; extra keys may be added)::

        {"schema": 1, "case", "case_hash", "model_version", "created_at" (UTC ISO),
         "settings": {draws, tune, chains, seed, sampler, per_draw, jobs (null on Celery workers),
                      executor ("local" or "celery"), workers (the Celery workers that took backtest
                      origins when it started; [] when local)},
         "origins": [{"origin": year, "as_of", "window_end", "n_observations", "data_hash",
                      "diagnostics": {..., "ok", "problems"}, "seconds", "n_scored", "n_unscored",
                      "ran_on": {"host", "pid"} (the process that fitted it),
                      "rows": [{"indicator", "family", "start", "end", "value", "exposure",
                                "observation_ids", "pred_mean", "pred_p05", "pred_p95", "crps",
                                "crps_persistence", "crps_climatology", "covered_50",
                                "covered_90", "pit_covered_50", "pit_covered_90", "pit", "p_positive"}],
                      "outcomes": [{"id", "as_of", "at_risk", "happened", "p", "p_05", "p_95"}]}],
         "failed_origins": [{"origin", "error"}],
         "indicators": [{"id", "name", "family", "n", "crps", "crps_persistence", "crps_climatology",
                         "skill_persistence", "skill_climatology", "coverage_50", "coverage_90",
                         "mean_value", "origins", "pit"}],
         "outcomes": [{"id", "question", "resolution_date", "n", "events", "brier", "log_score",
                       "brier_base_rate", "log_score_base_rate", "base_rate", "skill_brier_base_rate",
                       "skill_log_score_base_rate",
                       "probabilities": [{"origin", "as_of", "at_risk", "happened", "p", "p_05", "p_95"}]}],
         "summary": {"n_origins", "n_rows", "coverage_50", "coverage_90", "coverage_50_randomised",
                     "coverage_90_randomised", "coverage_50_band", "coverage_90_band",
                     "count": {"n_indicators", "n_rows", "crps_relative_to_climatology",
                               "crps_persistence_relative_to_climatology", "skill_persistence",
                               "skill_climatology", "n_better_than_persistence",
                               "n_better_than_climatology", "coverage_50", "coverage_90"},
                     "skill": {"all": GROUP, "families": {family: GROUP},
                               "outcomes": {"n_forecasts", "brier", "log_score"} (pooled skill
                               against the elicited base rate),
                               "from_saved_rows" (only when completed on reading: :func:`with_skill`)},
                     "pit_histogram": {"edges", "counts"},
                     "pit_band", "reliability_indicators": [...], "reliability_outcomes": [...],
                     "origins_failing_diagnostics": [...]},
         "targets": [{"id", "target", "value", "met", "detail"}]}

    where ``GROUP`` is ``{"n_indicators", "n_rows", "mean_of_ratios_n", "persistence": SKILLS,
    "climatology": SKILLS}``
    and ``SKILLS`` is ``{"mean_of_ratios", "pooled", "median", "median_n"}``; each outcome also
    has ``skill_log_score_base_rate``. Every score is defined in :mod:`models.backtest`.
    """
    from models.backtest import summarise
    from models.model import MODEL_VERSION

    report = progress or (lambda f, m: None)
    loaded = store.get_case(case_id)
    case = loaded.case
    known_at = datetime.now(UTC)
    created = known_at.replace(microsecond=0)
    results: dict[int, dict[str, Any]] = {}
    failures: list[dict[str, Any]] = []
    total = len(origins)
    t0 = time.monotonic()

    def finished(year: int, result: dict[str, Any] | None, error: str | None) -> None:
        if result is not None:
            results[year] = result
        else:
            failures.append({"origin": year, "error": error})
        done = len(results) + len(failures)
        what = f"origin {year} {'done' if result is not None else 'FAILED: ' + str(error)[:60]}"
        report(done / total, f"{done} of {total} origins ({what}; {time.monotonic() - t0:.0f} s)")

    workers: list[str] = []
    if broker:
        from dashboard.services import tasks as celery_tasks

        def running(status: dict[int, dict[str, Any]]) -> None:
            done = len(results) + len(failures)
            busy = [s for s in status.values() if s["state"] == "running"]
            hosts = {s["hostname"] for s in busy}
            fraction = (done + sum(min(s["fraction"], 0.99) for s in busy)) / total
            report(
                fraction,
                f"{done} of {total} origins ({len(busy)} running on {len(hosts)} worker(s), "
                f"{len(status) - len(busy)} queued; {time.monotonic() - t0:.0f} s)",
            )

        calls = [
            (
                y,
                {
                    "case_id": case_id,
                    "year": y,
                    "settings": dict(settings),
                    "case_hash": loaded.hash,
                    "known_at": known_at.isoformat(),
                    "per_draw": per_draw,
                },
            )
            for y in origins
        ]
        report(0.0, f"0 of {total} origins (sending them to the Celery workers)")
        workers = celery_tasks.run_origins(broker, calls, finished=finished, running=running)
        jobs_used: int | None = None
    else:
        tasks = []
        for y in origins:
            fit_frame, later, reviewed = frames(store, case_id, y, known_at)
            tasks.append((case, fit_frame, later, y, settings, per_draw, reviewed))
        jobs_used = _run_here(tasks, jobs, report, finished)
    if not results:
        from dashboard.services.context import Failure

        raise Failure("every backtest origin failed: " + "; ".join(f"{f['origin']}: {f['error']}" for f in failures))
    ordered = [results[y] for y in sorted(results)]
    doc = {
        "schema": SCHEMA_VERSION,
        "case": case_id,
        "case_hash": loaded.hash,
        "model_version": MODEL_VERSION,
        "created_at": created.isoformat(),
        "settings": dict(settings)
        | {"per_draw": per_draw, "jobs": jobs_used, "executor": "celery" if broker else "local", "workers": workers},
        "origins": ordered,
        "failed_origins": sorted(failures, key=lambda f: f["origin"]),
        **summarise(
            ordered,
            indicators=[{"id": i.id, "name": i.name, "family": i.family} for i in case.indicators],
            outcomes=[
                {
                    "id": o.id,
                    "question": o.question,
                    "base_rate": o.base_rate.annual,
                    "resolution_date": o.resolved.date.isoformat() if o.resolved else None,
                }
                for o in case.outcomes
            ],
        ),
    }
    path = save(store.home, doc)
    report(1.0, f"{len(results)} of {total} origins scored in {time.monotonic() - t0:.0f} s; saved {path.name}")
    return path, doc
