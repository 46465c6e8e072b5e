"""What the command line and the dashboard do with runs for analysis: scenarios, explanations
("why it moved"), alerts and surprise flags.

Like :mod:`dashboard.services.runs`, functions here read the store, call the models' public functions
and return plain data; nothing here builds a PyMC model. The models are imported inside the
functions that need them (they load the sampler's libraries), so importing this module is cheap.

Runs are identified as in :mod:`dashboard.services.runs`: the *current* run is the most current good
run (latest as-of date, then newest fit); the *previous* run is the next one in that order.

Reconstructing a run's data
---------------------------
Reweighting needs the observations a run was fitted on. They are read back from the store as of
the run's as-of date and as recorded when the run was created (``Store.observations(...,
known_at=...)``), and their hash is checked against the run's data hash; a run whose data cannot
be reconstructed (or whose posterior file is missing) cannot be reweighted, and the message says
so.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboard.services.context import as_date
from dashboard.services.forecasts import current_run, previous_ok_run, read_run
from dashboard.services.views import fmt_prob
from indicators import alerts as alert_store
from indicators.errors import BadInput
from models.document import ForecastDocument, ForecastUnreadable

Progress = Callable[[float, str], None]

EXPLAIN_CACHE = "explain-from-{run}.json"
_CONTEXTS: dict[str, Any] = {}


class AnalysisUnavailable(RuntimeError):
    """The analysis cannot be done for this run (no posterior, data not reconstructible)."""


# ---------------------------------------------------------------------------- runs


def baseline_run(store: Any, case_id: str, run: dict[str, Any]) -> dict[str, Any] | None:
    """The run ``run``'s change is measured from: the newest run before it that passed its
    diagnostics (:func:`previous_ok_run`); with none, the newest earlier finished run, whose
    failure every view then states (``from_diagnostics_ok``)."""
    runs = store.runs(case_id)
    found = previous_ok_run(runs, run["id"])
    if found is not None:
        return found
    ids = [r["id"] for r in runs]
    earlier = runs[ids.index(run["id"]) + 1 :] if run["id"] in ids else []
    return next((r for r in earlier if r.get("status") == "ok"), None)


def pick_run(store: Any, case_id: str, run_id: str | None, *, option: str = "--run") -> dict[str, Any]:
    """The named ok run of the case, or the current run."""
    if run_id is None:
        run = current_run(store, case_id)
        if run is None:
            raise BadInput(f"no fitted run for case '{case_id}'; run 'harbinger fit' first.")
        return run
    run = store.get_run(run_id)
    if run is None or run["case_id"] != case_id:
        raise BadInput(f"{option}: no run '{run_id}' for case '{case_id}'.")
    if run["status"] != "ok":
        raise BadInput(f"{option}: run '{run_id}' is {run['status']}; it has no forecast.")
    return run


def run_forecast(store: Any, run: dict[str, Any]) -> ForecastDocument:
    """The run's forecast document (:func:`dashboard.services.forecasts.read_run`);
    :class:`AnalysisUnavailable` when its file cannot be read."""
    try:
        return read_run(store, run).document
    except ForecastUnreadable as exc:
        raise AnalysisUnavailable(str(exc)) from None


def run_observations(store: Any, run: dict[str, Any]) -> Any:
    """The observations the run read (as of its as-of date, as recorded when it was created)."""
    return store.observations(run["case_id"], as_of=as_date(run["as_of"]), known_at=run["created_at"])


@dataclass
class RunContext:
    run: dict[str, Any]
    observations: Any
    conditioner: Any
    settings: dict[str, Any]


def run_context(store: Any, case_id: str, run: dict[str, Any]) -> RunContext:
    """The run's posterior draws with its design and data, ready for reweighting (cached)."""
    cached = _CONTEXTS.get(run["id"])
    if cached is not None:
        return cached
    from models.design import build_design
    from models.forecast import draws_of
    from models.reweight import Conditioner
    from models.runs import RunMismatch, load_posterior

    posterior = Path(run["path"]) / "posterior.nc"
    if not posterior.exists():
        raise AnalysisUnavailable(f"run {run['id']} has no saved posterior ({posterior}); refit to make one.")
    loaded = store.get_case(case_id)
    try:
        idata = load_posterior(Path(run["path"]), case_hash=loaded.hash)
    except RunMismatch as exc:
        raise AnalysisUnavailable(str(exc)) from None
    frame = run_observations(store, run)
    reviewed = store.reviews(case_id, as_of=as_date(run["as_of"]), known_at=run["created_at"])
    design = build_design(loaded.case, frame, as_of=as_date(run["as_of"]), reviewed=reviewed)
    if design.data_hash != run["data_hash"]:
        raise AnalysisUnavailable(
            f"the observations run {run['id']} was fitted on cannot be reconstructed "
            "from the store (data hash differs); refit."
        )
    settings = dict(run.get("settings") or {})
    conditioner = Conditioner(
        design,
        draws_of(design, idata),
        observations=frame,
        seed=int(settings.get("seed", 0)),
        posterior=idata.posterior,
    )
    ctx = RunContext(run=run, observations=frame, conditioner=conditioner, settings=settings)
    if len(_CONTEXTS) >= 2:
        _CONTEXTS.pop(next(iter(_CONTEXTS)))
    _CONTEXTS[run["id"]] = ctx
    return ctx


# ---------------------------------------------------------------------------- scenarios


def scenario_specs(store: Any, case_id: str) -> list[Any]:
    """The case file's scenarios, then the saved ones."""
    from models.scenarios import ScenarioSpec

    case = store.get_case(case_id).case
    specs = [ScenarioSpec.from_case(s) for s in case.scenarios]
    for row in alert_store.list_scenarios(store, case_id):
        specs.append(
            ScenarioSpec(
                id=row["name"],
                name=row["name"],
                description=row["description"],
                observations=list(row["observations"]),
                origin="saved",
                source=f"saved by {row['created_by']}",
            )
        )
    return specs


def find_scenario(store: Any, case_id: str, name: str) -> Any:
    for spec in scenario_specs(store, case_id):
        if name in (spec.id, spec.name):
            return spec
    known = ", ".join(s.id for s in scenario_specs(store, case_id)) or "none"
    raise BadInput(f"no scenario '{name}' in case '{case_id}' (scenarios: {known}).")


def scenario_list(store: Any, case_id: str) -> list[dict[str, Any]]:
    """Rows for ``harbinger scenario list``."""
    return [
        {
            "id": s.id,
            "name": s.name,
            "origin": s.origin,
            "observations": len(s.observations),
            "description": s.description,
        }
        for s in scenario_specs(store, case_id)
    ]


def adhoc_spec(store: Any, case_id: str, *, name: str, description: str, observations: list[dict[str, Any]]) -> Any:
    """A validated ad-hoc scenario (not saved)."""
    from models.scenarios import ScenarioSpec

    case = store.get_case(case_id).case
    clean = alert_store.validate_scenario(case, name or "ad-hoc scenario", observations)
    return ScenarioSpec(
        id=name or "ad-hoc scenario",
        name=name or "ad-hoc scenario",
        description=description or "",
        observations=clean,
        origin="ad hoc",
    )


def run_scenario(
    store: Any,
    case_id: str,
    spec: Any,
    *,
    run_id: str | None = None,
    refit: bool = True,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """A scenario against a run (default: the current run). Reweighting first; when its k-hat is
    above 0.7 and ``refit``, the model is fitted again with the hypothetical observations (slow:
    call from a background job or the command line). Returns the JSON document."""
    from models.fit import FitSettings
    from models.scenarios import run_scenario as model_run_scenario

    run = pick_run(store, case_id, run_id)
    ctx = run_context(store, case_id, run)
    settings = None
    if refit:
        keep = {k: v for k, v in ctx.settings.items() if k in FitSettings.__dataclass_fields__}
        settings = FitSettings(**keep)
    result = model_run_scenario(ctx.conditioner, spec, refit_settings=settings, progress=progress)
    return {
        "case": case_id,
        "run_id": run["id"],
        "as_of": as_date(run["as_of"]).isoformat(),
        "diagnostics_ok": bool(run.get("diagnostics_ok")),
        **result.as_dict(),
    }


def scenario_table(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per outcome and horizon (for tables and CSV)."""
    rows = []
    for r in doc["results"]:
        b, s, d = r["baseline"], r["scenario"], r["difference"]
        rows.append(
            {
                "outcome": r["outcome"],
                "years": r["years"],
                "baseline": fmt_prob(b["p_mean"]),
                "baseline_90": f"{fmt_prob(b['p_05'])}–{fmt_prob(b['p_95'])}",
                "scenario": fmt_prob(s["p_mean"]),
                "scenario_90": f"{fmt_prob(s['p_05'])}–{fmt_prob(s['p_95'])}",
                "change_pts": f"{d['pp']:+.2f}",
                "change_mc90": f"{d['low_pp']:+.2f}..{d['high_pp']:+.2f}",
                "method": r["method"],
                "khat": r["khat"],
                "reliable": "yes" if r["reliable"] else "NO",
            }
        )
    return rows


# ---------------------------------------------------------------------------- explanations


def explain_runs(
    store: Any,
    case_id: str,
    *,
    from_run: str | None = None,
    to_run: str | None = None,
    refit: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Why the forecast moved from ``from_run`` (default: the previous run) to ``to_run``
    (default: the current run). Cached in the newer run's directory (without refits)."""
    from models.explain import explain

    to = pick_run(store, case_id, to_run, option="--to")
    if from_run is None:
        frm = baseline_run(store, case_id, to)
        if frm is None:
            raise BadInput(f"run {to['id']} has no earlier run to compare with; give --from RUN.")
    else:
        frm = pick_run(store, case_id, from_run, option="--from")
    if frm["id"] == to["id"]:
        raise BadInput("--from and --to name the same run.")
    cache = Path(to["path"]) / EXPLAIN_CACHE.format(run=frm["id"])
    if not refit and cache.exists():
        try:
            return json.loads(cache.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
    ctx = run_context(store, case_id, to)
    before = run_forecast(store, frm)
    old_frame = run_observations(store, frm)
    refit_fn = _refit_function(store, case_id, ctx, progress) if refit else None
    doc = explain(ctx.conditioner, old_frame, [o.model_dump(mode="json") for o in before.outcomes], refit=refit_fn)
    doc["context"] = _context(store, case_id, frm, to, old_frame, ctx.conditioner.design)
    doc = {
        "case": case_id,
        "from_run": frm["id"],
        "to_run": to["id"],
        "from_as_of": as_date(frm["as_of"]).isoformat(),
        "to_as_of": as_date(to["as_of"]).isoformat(),
        "same_case_version": frm["case_hash"] == to["case_hash"],
        "from_diagnostics_ok": bool(frm.get("diagnostics_ok")),
        **doc,
    }
    if not refit:
        try:
            cache.write_text(json.dumps(doc), encoding="utf-8")
        except OSError:
            pass
    return doc


def _context(
    store: Any, case_id: str, frm: dict[str, Any], to: dict[str, Any], old_frame: Any, new_design: Any
) -> list[dict[str, Any]]:
    """:func:`models.explain.context_changes` of two runs: time passing and reviewed-through
    changes, each run's reviews read as the store held them when the run was created."""
    from indicators.reviews import reviewed_through
    from models.explain import context_changes

    case = new_design.case
    old_reviews = store.reviews(case_id, as_of=as_date(frm["as_of"]), known_at=frm["created_at"])
    new_reviews = store.reviews(case_id, as_of=as_date(to["as_of"]), known_at=to["created_at"])
    clip = lambda m, d: {k: (min(v, d) if v is not None else None) for k, v in m.items()}  # noqa: E731
    old_through = clip(reviewed_through(case, old_frame, old_reviews), as_date(frm["as_of"]))
    new_through = clip(reviewed_through(case, run_observations(store, to), new_reviews), as_date(to["as_of"]))
    return context_changes(as_date(frm["as_of"]), as_date(to["as_of"]), old_through, new_through)


def _refit_function(store: Any, case_id: str, ctx: RunContext, progress: Progress | None) -> Callable:
    from models.design import build_design
    from models.fit import FitSettings, sample
    from models.forecast import draws_of, outcome_forecasts

    keep = {k: v for k, v in ctx.settings.items() if k in FitSettings.__dataclass_fields__}
    settings = FitSettings(**keep)
    design = ctx.conditioner.design

    def refit(frame: Any) -> list[dict[str, Any]]:
        d = build_design(design.case, frame, as_of=design.as_of, reviewed=design.reviewed)
        idata = sample(d, settings, progress=progress)
        outcomes, _ = outcome_forecasts(d, draws_of(d, idata), seed=settings.seed)
        return outcomes

    return refit


def explain_table(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat rows: per outcome and horizon, the total, each item's contribution, the remainder."""
    rows = []
    for o in doc["outcomes"]:
        key = (o["outcome"], o["years"])
        rows.append(
            {
                "outcome": key[0],
                "years": key[1],
                "what": "total change",
                "pts": o["total_pp"],
                "log_odds": o["total_log_odds"],
                "method": "",
                "khat": None,
            }
        )
        for it in doc["items"]:
            c = next((c for c in it["contributions"] if (c["outcome"], c["years"]) == key), None)
            if c is None:
                continue
            rows.append(
                {
                    "outcome": key[0],
                    "years": key[1],
                    "what": it["label"],
                    "pts": c["pp"],
                    "log_odds": c["log_odds"],
                    "method": it["method"] + ("" if it["reliable"] or it["method"] == "refit" else " (UNRELIABLE)"),
                    "khat": it["khat"],
                }
            )
        context = doc.get("context") or []
        what = (
            ("not from observations: " + "; ".join(c["label"] for c in context)) if context else "unexplained remainder"
        )
        rows.append(
            {
                "outcome": key[0],
                "years": key[1],
                "what": what,
                "pts": o["unexplained_pp"],
                "log_odds": None,
                "method": "",
                "khat": None,
            }
        )
    return rows


# ---------------------------------------------------------------------------- alerts


def evaluate_alert(alert: dict[str, Any], current: float | None, previous: float | None) -> dict[str, Any]:
    """Whether ``alert`` fired between a previous and a current probability (see
    :mod:`indicators.alerts` for the rules)."""
    t, kind = float(alert["threshold"]), alert["kind"]
    fired = False
    if current is not None and previous is not None:
        if kind == "above":
            fired = previous < t <= current
        elif kind == "below":
            fired = previous >= t > current
        else:
            fired = abs(current - previous) > t
    if current is None:
        state = "no forecast"
    elif kind == "change":
        state = "no previous run" if previous is None else f"moved {100 * (current - previous):+.1f} pts"
    else:
        state = "at or above" if current >= t else "below"
    what = {
        "above": f"rises to {100 * t:g}% or more",
        "below": f"falls below {100 * t:g}%",
        "change": f"moves by more than {100 * t:g} pts",
    }[kind]
    message = (
        f"{alert['outcome']} within {alert['horizon_years']:g} years {what}: "
        + ("FIRED, " if fired else "")
        + ("no forecast" if current is None else f"now {100 * current:.1f}%")
        + ("" if previous is None else f", previously {100 * previous:.1f}%")
    )
    return {
        "id": alert["id"],
        "outcome": alert["outcome"],
        "years": alert["horizon_years"],
        "kind": kind,
        "threshold": t,
        "previous": previous,
        "current": current,
        "fired": bool(fired),
        "state": state,
        "message": message,
    }


def check_alerts(store: Any, case_id: str) -> dict[str, Any]:
    """Every active alert evaluated on the current run against the previous one."""
    now = current_run(store, case_id)
    before = baseline_run(store, case_id, now) if now is not None else None
    current = run_forecast(store, now) if now is not None else None
    previous = run_forecast(store, before) if before is not None else None
    out = []
    for a in alert_store.list_alerts(store, case_id):
        at = (a["outcome"], a["horizon_years"])
        out.append(evaluate_alert(a, current.p_at(*at) if current else None, previous.p_at(*at) if previous else None))
    return {
        "case": case_id,
        "run_id": now["id"] if now else None,
        "previous_run_id": before["id"] if before else None,
        "alerts": out,
        "fired": [a for a in out if a["fired"]],
    }


def parse_threshold(text: Any) -> float:
    """A threshold given in percent ('20', '20%', '2.5') as a probability (0.2, 0.025)."""
    s = str(text).strip().rstrip("%").strip()
    try:
        value = float(s)
    except ValueError:
        raise BadInput(f"threshold '{text}' is not a number of percent (e.g. 20 for 20%).") from None
    if not 0 < value < 100:
        raise BadInput(f"threshold {value:g}% must lie strictly between 0 and 100.")
    return value / 100.0


# ---------------------------------------------------------------------------- surprise flags


def observation_flags(forecast: ForecastDocument | None) -> dict[int, dict[str, Any]]:
    """Per observation id: the run's ``surprise`` flag and ``pit`` of the row it is in."""
    if forecast is None:
        return {}
    return {oid: {"surprise": row.surprise, "pit": row.pit} for oid, row in forecast.rows_by_observation().items()}


def with_surprise_columns(frame: Any, forecast: ForecastDocument | None) -> Any:
    """``frame`` (store observations) with ``surprise`` (yes/no, blank when the run did not
    model the observation) and ``pit`` after ``reliability``/``credibility``."""
    flags = observation_flags(forecast)
    out = frame.copy()
    surprise = [("yes" if flags[i]["surprise"] else "no") if i in flags else None for i in out["id"]]
    pit = [flags[i]["pit"] if i in flags else None for i in out["id"]]
    at = list(out.columns).index("credibility") + 1 if "credibility" in out.columns else len(out.columns)
    out.insert(at, "surprise", surprise)
    out.insert(at + 1, "pit", pit)
    return out
