"""The watch list of a run: which indicator to collect next (value of information) and which
next-quarter observation would trip a warning (tripwires); the computation is
:mod:`models.watch`.

Computed once per run and kept in the run's directory as ``watch.json`` (:data:`WATCH_FILE`):

- when the dashboard's server prepares a run that has become current
  (:func:`dashboard.web.app.prepare_run_content`, in the background once no fit runs), through
  :func:`prepared`. The computation takes a few seconds (``benchmarks/watch.py``), which a fit
  leaves to the server rather than adding them to the wait for its forecast;
- at the end of each fit (:func:`after_fit`, called by :func:`dashboard.services.runs.fit_case`)
  when ``HARBINGER_WATCH_AFTER_FIT=1``, for someone who fits from the command line and reads the
  watch list or reports without a server;
- on demand when a run has none: :func:`watch_document` (the command line and the report:
  computes and waits) or :func:`start_background` (the page and the API: a thread in the server,
  while they say so).

Readers take the cached document and derive what they show with :func:`watch_view`: the ranking
of indicators for an outcome and horizon and the tripwires at a threshold (from the document's
curves, in milliseconds: no reweighting), with when each indicator was last observed and recorded
(read from the store at that moment, so it is current even for an older document). The report's
section is :func:`report_section`.

A document belongs to its run (``run_id``) and to the version of the computation
(:data:`models.watch.WATCH_VERSION`); any other is computed again.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dashboard.services.analysis import AnalysisUnavailable, parse_threshold, run_context
from dashboard.services.forecasts import current_run
from indicators import alerts as alert_store
from indicators.errors import BadInput

Progress = Callable[[float, str], None]

WATCH_FILE = "watch.json"
#: Set to 1 (or "on") to compute the watch list at the end of each fit (:func:`after_fit`).
AFTER_FIT_SWITCH = "HARBINGER_WATCH_AFTER_FIT"
#: Options named in bad-input messages, by front end.
CLI_OPTIONS = {"outcome": "--outcome", "horizon": "--horizon", "threshold": "--threshold", "period": "--period"}
API_OPTIONS = {"outcome": "outcome", "horizon": "horizon", "threshold": "threshold", "period": "period"}

#: A failed computation is tried again by the next reader after this many seconds (it may have
#: failed on something passing, e.g. a locked database), not at every page poll.
RETRY_AFTER_S = 300.0

_LOCK = threading.Lock()
_RUNNING: dict[str, threading.Thread] = {}
_FAILED: dict[str, tuple[str, float]] = {}  # run id: (reason, when)
log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- the cache


def cache_path(run: dict[str, Any]) -> Path:
    return Path(run["path"]) / WATCH_FILE


def read_cached(run: dict[str, Any]) -> dict[str, Any] | None:
    """The run's cached document, or None when it has none (or one of another run or version)."""
    from models.watchlist import WATCH_VERSION

    if not run.get("path"):
        return None
    try:
        doc = json.loads(cache_path(run).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("run_id") != run["id"] or doc.get("version") != WATCH_VERSION:
        return None
    return doc


def compute(store: Any, case_id: str, run: dict[str, Any], *, progress: Progress | None = None) -> dict[str, Any]:
    """Compute the run's document (from its posterior, :func:`models.watch.watch`) and cache it.

    Raises :class:`~dashboard.services.analysis.AnalysisUnavailable` when the run cannot be
    reweighted (no saved posterior, data not reconstructible)."""
    from models.watch import watch

    started = time.perf_counter()
    ctx = run_context(store, case_id, run)
    doc = watch(ctx.conditioner, seed=int(ctx.settings.get("seed", 0)), progress=progress)
    doc = {
        "run_id": run["id"],
        "case": case_id,
        "diagnostics_ok": bool(run.get("diagnostics_ok")),
        "model_version": run.get("model_version"),
        "computed_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **doc,
        "seconds_total": round(time.perf_counter() - started, 2),
    }
    _write_atomically(cache_path(run), json.dumps(doc))
    with _LOCK:
        _FAILED.pop(run["id"], None)
    return doc


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def pick_run(store: Any, case_id: str, run_id: str | None = None) -> dict[str, Any]:
    """The named ok run of the case, or the current run (as the pages show it)."""
    from dashboard.services.analysis import pick_run as pick

    return pick(store, case_id, run_id)


def watch_document(
    store: Any, case_id: str, *, run_id: str | None = None, progress: Progress | None = None
) -> dict[str, Any]:
    """The run's document (default: the current run): the cached one, else computed now (a few
    seconds; for the command line and the report)."""
    run = pick_run(store, case_id, run_id)
    return read_cached(run) or compute(store, case_id, run, progress=progress)


def status(run: dict[str, Any] | None) -> str:
    """``ready``, ``computing``, ``failed: REASON``, ``missing`` (or ``no run``)."""
    if run is None:
        return "no run"
    if read_cached(run) is not None:
        return "ready"
    with _LOCK:
        thread = _RUNNING.get(run["id"])
        if thread is not None and thread.is_alive():
            return "computing"
        failed = _FAILED.get(run["id"])
        if failed is not None and time.monotonic() - failed[1] < RETRY_AFTER_S:
            return f"failed: {failed[0]}"
    return "missing"


def start_background(store: Any, case_id: str, run: dict[str, Any]) -> bool:
    """Compute the run's document in a thread of this process unless it is cached or being
    computed; returns whether a computation is (now) running. Failures are kept for
    :func:`status` and logged."""
    if read_cached(run) is not None:
        return False
    with _LOCK:
        thread = _RUNNING.get(run["id"])
        if thread is not None and thread.is_alive():
            return True
        _FAILED.pop(run["id"], None)

        def work() -> None:
            try:
                compute(store, case_id, run)
            except Exception as exc:  # noqa: BLE001 - a background job reports, never raises
                log.warning("the watch list of run %s could not be computed: %s", run["id"], exc)
                _fail(run["id"], exc)
            finally:
                with _LOCK:
                    _RUNNING.pop(run["id"], None)

        thread = threading.Thread(target=work, name=f"harbinger-watch-{run['id']}", daemon=True)
        _RUNNING[run["id"]] = thread
        thread.start()
    return True


def after_fit(store: Any, case_id: str, run_id: str, *, progress: Progress | None = None) -> None:
    """Compute the watch list of ``run_id`` when ``HARBINGER_WATCH_AFTER_FIT`` is 1 and it is the
    run the views now show (a fit that failed its diagnostics while a passing run exists is not).
    Never raises: a fit's result does not depend on it, and a missing document is computed
    on first demand."""
    if os.environ.get(AFTER_FIT_SWITCH, "0").strip().lower() not in ("1", "on", "yes", "true"):
        return
    try:
        run = current_run(store, case_id)
        if run is None or run["id"] != run_id or read_cached(run) is not None:
            return
        say = None if progress is None else (lambda _f, message: progress(1.0, message))
        compute(store, case_id, run, progress=say)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.warning("the watch list of run %s was not computed after its fit: %s", run_id, exc)
        _fail(run_id, exc)


def prepared(store: Any, case_id: str, run: dict[str, Any]) -> None:
    """The run's document cached, computed in a thread of this process unless it is cached
    already; waits for it (or for the same computation started by a page). Never raises: a
    failure is kept for :func:`status` and logged, and the page or report tries again."""
    if start_background(store, case_id, run):
        with _LOCK:
            thread = _RUNNING.get(run["id"])
        if thread is not None:
            thread.join()


def _fail(run_id: str, exc: Exception) -> None:
    with _LOCK:
        _FAILED[run_id] = (str(exc) or type(exc).__name__, time.monotonic())


# ---------------------------------------------------------------------------- what readers show


def last_seen(store: Any, case_id: str) -> dict[str, dict[str, Any]]:
    """Per indicator, from the observations in effect now: the end of the latest observed period
    (``last_observed``), when the latest of them was recorded (``last_recorded``) and how many
    there are. An indicator never observed has Nones."""
    frame = store.observations(case_id)
    out: dict[str, dict[str, Any]] = {}
    if frame.empty:
        return out
    for iid, group in frame.groupby("indicator"):
        ends, rec = group["end"].dropna(), group["recorded_at"].dropna()
        out[str(iid)] = {
            "last_observed": ends.max().date().isoformat() if len(ends) else None,
            "last_recorded": rec.max().isoformat(timespec="seconds") if len(rec) else None,
            "observations": len(group),
        }
    return out


def reviewed_through(store: Any, case_id: str) -> dict[str, dict[str, Any]]:
    """Per open-coverage indicator, as known now: the date through which its record was last
    confirmed complete (``date``, None if never), how many days ago, and whether that is longer
    than the stale limit (:func:`dashboard.services.reviews.stale_view`)."""
    from dashboard.services.reviews import stale_view

    return {
        s["indicator"]: {"date": s["reviewed_through"], "days": s["days"], "stale": s["stale"]}
        for s in stale_view(store, case_id)["series"]
    }


def validate(
    case: Any, as_of: Any, outcome: str | None, years: float | None, names: dict[str, str] = CLI_OPTIONS
) -> tuple[list[str], int]:
    """The outcomes to show (those unresolved as of the run's ``as_of``) and the horizon, or
    BadInput naming the option."""
    from dashboard.services.context import as_date

    day = as_date(as_of)
    offered = {o.id: list(o.horizons) for o in case.outcomes if o.resolved is None or o.resolved.date > day}
    if outcome is not None:
        if outcome not in case.outcome_ids:
            raise BadInput(
                f"{names['outcome']}: unknown outcome '{outcome}' (outcomes: {', '.join(case.outcome_ids)})."
            )
        if outcome not in offered:
            resolved = case.outcome(outcome).resolved
            when = f" on {resolved.date}" if resolved is not None else ""
            raise BadInput(f"{names['outcome']}: outcome '{outcome}' is resolved{when}; it has no forecast to watch.")
        chosen = [outcome]
    else:
        chosen = list(offered)
    if not chosen:
        raise BadInput("every outcome of the case is resolved; there is no forecast to watch.")
    all_years = sorted({y for o in chosen for y in offered[o]})
    if years is None:
        return chosen, all_years[0]
    if float(years) != int(years) or int(years) not in all_years:
        where = f"of '{outcome}'" if outcome is not None else "of any outcome"
        raise BadInput(
            f"{names['horizon']}: {years:g} years is not a horizon {where} (horizons: "
            f"{', '.join(str(y) for y in all_years)} years)."
        )
    return [o for o in chosen if int(years) in offered[o]], int(years)


def watch_view(
    store: Any,
    case_id: str,
    doc: dict[str, Any],
    *,
    outcome: str | None = None,
    years: float | None = None,
    threshold: float | None = None,
    period: str | None = None,
    names: dict[str, str] = CLI_OPTIONS,
) -> dict[str, Any]:
    """What the page, the command and the API show (one shape for all three)::

        {"case", "run_id", "as_of", "diagnostics_ok", "computed_at", "seconds", "report_grade",
         "period": {"id", "label", "start", "end"}, "periods": [...], "years",
         "outcomes": [{"outcome", "question", "years", "p_mean", "sd",
                       "ranking": [{"rank" (None: not ranked, k-hat), "indicator", "name",
                                    "mean_abs_change", "mcse", "sd_reduction", "sd_reduction_mcse",
                                    "by_period": {period: mean_abs_change}, "khat_max",
                                    "unreliable_share", "reliable", "last_observed",
                                    "last_recorded", "observations", "coverage_end"}],
                       "tripwires": [TRIPWIRES]}],
         "alerts": [{"id", "outcome", "years", "kind", "threshold", "tripwires": [TRIPWIRES]}]}

    TRIPWIRES is :func:`tripwire_set`: ``{"source": "default"|"threshold"|"alert N", "level",
    "direction": "above"|"below", "sentences": [...], "no_crossing": [indicator ids],
    "entries": [...]}``. Probabilities are fractions. ``threshold`` (a probability) replaces the
    default tripwire level of each outcome (:func:`models.watchlist.default_level`); every active alert
    on the outcomes shown adds its own, at its own horizon (a "change" alert: both ways). Bad
    ``outcome`` / ``years`` / ``period`` raise BadInput naming the option (``names``).
    """
    from models.watchlist import PERIODS, TRIPWIRE_PERIOD, default_level, find_target, ranking

    case = store.get_case(case_id).case
    outcomes, years = validate(case, doc["as_of"], outcome, years, names)
    period_id = period or TRIPWIRE_PERIOD
    if period_id not in {p.id for p in PERIODS}:
        raise BadInput(
            f"{names['period']}: unknown period '{period_id}' (periods: {', '.join(p.id for p in PERIODS)})."
        )
    seen = last_seen(store, case_id)
    coverage = {i["id"]: i.get("coverage_end") for i in doc["indicators"]}
    reviewed = reviewed_through(store, case_id)
    out_outcomes = []
    for oid in outcomes:
        target = find_target(doc, oid, years)
        if target is None:
            continue
        rows = ranking(doc, oid, years, period=period_id)
        for r in rows:
            r.update({"last_observed": None, "last_recorded": None, "observations": 0} | seen.get(r["indicator"], {}))
            r["coverage_end"] = coverage.get(r["indicator"])
            r["reviewed_through"] = reviewed.get(r["indicator"])
        level = float(threshold) if threshold is not None else default_level(float(target["p_mean"]))
        wires = (
            []
            if level is None
            else [tripwire_set(doc, oid, years, level, source="threshold" if threshold is not None else "default")]
        )
        out_outcomes.append(
            {
                "outcome": oid,
                "question": target["question"],
                "years": years,
                "p_mean": target["p_mean"],
                "sd": target["sd"],
                "ranking": rows,
                "tripwires": wires,
            }
        )
    chosen_period = next(p for p in doc["periods"] if p["id"] == period_id)
    shown = outcome_alerts(store, case_id, doc, outcomes=set(outcomes) if outcome is not None else None)
    return {
        "case": case_id,
        "run_id": doc["run_id"],
        "as_of": doc["as_of"],
        "diagnostics_ok": doc.get("diagnostics_ok"),
        "computed_at": doc.get("computed_at"),
        "seconds": doc.get("seconds_total", doc.get("seconds")),
        "report_grade": doc["settings"]["report_grade"],
        "khat_max": doc["settings"]["khat_max"],
        "draws": doc["settings"]["draws"],
        "period": chosen_period,
        "periods": doc["periods"],
        "years": years,
        "outcomes": out_outcomes,
        "alerts": shown,
    }


def outcome_alerts(
    store: Any, case_id: str, doc: dict[str, Any], *, outcomes: set[str] | None = None
) -> list[dict[str, Any]]:
    """Every active alert (on ``outcomes``, default all) with the tripwires of its level(s), at
    its own horizon: "above"/"below" at its threshold, "change" at the forecast plus and minus it."""
    from models.watchlist import find_target

    out = []
    for a in alert_store.list_alerts(store, case_id):
        if outcomes is not None and a["outcome"] not in outcomes:
            continue
        target = find_target(doc, a["outcome"], a["horizon_years"])
        if target is None or float(a["horizon_years"]) != int(a["horizon_years"]):
            continue
        years = int(a["horizon_years"])
        if a["kind"] == "change":
            levels = [
                lvl for lvl in (target["p_mean"] + a["threshold"], target["p_mean"] - a["threshold"]) if 0.0 < lvl < 1.0
            ]
        else:
            levels = [float(a["threshold"])]
        out.append(
            {
                "id": a["id"],
                "outcome": a["outcome"],
                "years": years,
                "kind": a["kind"],
                "threshold": a["threshold"],
                "p_mean": target["p_mean"],
                "tripwires": [
                    tripwire_set(doc, a["outcome"], years, round(lvl, 6), source=f"alert {a['id']}") for lvl in levels
                ],
            }
        )
    return out


def tripwire_set(doc: dict[str, Any], outcome: str, years: int, level: float, *, source: str) -> dict[str, Any]:
    """The tripwires of every indicator at ``level``, with their sentences."""
    from models.watchlist import find_target, sentence, tripwires

    target = find_target(doc, outcome, years)
    up = float(target["p_mean"]) < level
    entries = tripwires(doc, outcome, years, level)
    label = next(p["label"] for p in doc["periods"] if p["id"] == "next_quarter")
    for e in entries:
        e["sentence"] = sentence(e, outcome, years, level, up=up, period_label=label)
    return {
        "source": source,
        "level": level,
        "direction": "above" if up else "below",
        "sentences": [e["sentence"] for e in entries if e["crosses"]],
        "no_crossing": [e["indicator"] for e in entries if not e["crosses"]],
        "entries": entries,
    }


def ranking_table(view: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat rows for ``harbinger watch --format table``: changes in probability points."""
    rows = []
    other = next((p["id"] for p in view["periods"] if p["id"] != view["period"]["id"]), None)
    for o in view["outcomes"]:
        for r in o["ranking"]:
            rows.append(
                {
                    "outcome": o["outcome"],
                    "years": o["years"],
                    "rank": r["rank"] if r["rank"] is not None else "—",
                    "indicator": r["indicator"],
                    "change_pts": _pts(r["mean_abs_change"]),
                    "mc_err_pts": _pts(r["mcse"]),
                    **({f"{other}_pts": _pts(r["by_period"].get(other))} if other else {}),
                    "sd_cut_pts": _pts(r["sd_reduction"]),
                    "khat_typical": r["khat_median"],
                    "khat_over_0.7_pct": round(100 * (r["unreliable_share"] or 0.0), 1)
                    if r["reliable"]
                    else f"{100 * (r['unreliable_share'] or 0.0):.0f} (UNRELIABLE)",
                    "last_observed": r["last_observed"] or "never",
                    "last_recorded": (r["last_recorded"] or "")[:10],
                    "reviewed_through": (r.get("reviewed_through") or {}).get("date") or "",
                }
            )
    return rows


def _pts(p: float | None) -> float | None:
    return None if p is None else round(100 * p, 3)


def parse_years(text: Any, names: dict[str, str] = CLI_OPTIONS) -> float | None:
    """A horizon in years from text (None for none), or BadInput naming the option."""
    if text is None or str(text).strip() == "":
        return None
    try:
        value = float(str(text).strip())
    except ValueError:
        raise BadInput(f"{names['horizon']}: '{str(text)[:40]}' is not a number of years.") from None
    if not 0 < value < float("inf"):
        raise BadInput(f"{names['horizon']}: {str(text)[:40]} is not a positive number of years.")
    return value


def parse_level(text: Any, names: dict[str, str] = CLI_OPTIONS) -> float | None:
    """A tripwire threshold given in percent, as a probability (None for none)."""
    if text is None or str(text).strip() == "":
        return None
    try:
        return parse_threshold(text)
    except BadInput as exc:
        raise BadInput(f"{names['threshold']}: {exc}") from None


def current_view(store: Any, case_id: str, **options: Any) -> tuple[str, dict[str, Any] | None, dict[str, Any] | None]:
    """For the page and the API, which never wait: ``(status, view, run)`` of the current run;
    the view when the document is cached, else None (and a background computation started)."""
    run = current_run(store, case_id)
    if run is None:
        return "no run", None, None
    doc = read_cached(run)
    if doc is None:
        names = options.get("names", CLI_OPTIONS)
        validate(store.get_case(case_id).case, run["as_of"], options.get("outcome"), options.get("years"), names)
        period = options.get("period")
        from models.watchlist import PERIOD_IDS

        if period is not None and period not in PERIOD_IDS:
            raise BadInput(f"{names['period']}: unknown period '{period}' (periods: {', '.join(PERIOD_IDS)}).")
        state = status(run)
        if not state.startswith("failed"):
            start_background(store, case_id, run)
            state = "computing"
        return state, None, run
    return "ready", watch_view(store, case_id, doc, **options), run


def report_section(
    store: Any, case_id: str, *, run_id: str | None = None, years: float | None = None
) -> dict[str, Any]:
    """The data of the report's watch-list section for a run (default: the current run), computed
    if not cached: the view at the shortest horizon (or ``years``), every outcome, default
    tripwire levels and the user's alerts. For :mod:`dashboard.report` (not wired in yet)."""
    try:
        doc = watch_document(store, case_id, run_id=run_id)
    except AnalysisUnavailable as exc:
        return {"available": False, "reason": str(exc)}
    view = watch_view(store, case_id, doc, years=years)
    return {"available": True, **view}


__all__ = [
    "WATCH_FILE",
    "after_fit",
    "compute",
    "current_view",
    "last_seen",
    "prepared",
    "ranking_table",
    "read_cached",
    "report_section",
    "start_background",
    "status",
    "tripwire_set",
    "watch_document",
    "watch_view",
]
