"""What the pages show, prepared from run data and store frames (no Dash components here).

Functions in this module take a run's forecast (the typed document of its ``forecast.json``,
:class:`models.document.ForecastDocument`, or the :class:`~dashboard.services.forecasts.RunForecast`
that :func:`dashboard.services.forecasts.load_forecast` reads it as), run rows and observation
frames from :class:`indicators.store.Store`, and return plain numbers, text and dicts that the
pages turn into components. They never fit a model: a run is read from its saved file.

Definitions used on every page
------------------------------
*Latest run*
    The newest run of the case with status ``ok`` (``Store.latest_run``); a failed fit never
    replaces it.
*Change since the previous run*
    ``p_mean`` of an outcome at a horizon in the latest run minus the same in the ok run created
    just before it, in percentage points.
*Stale*
    A run is stale when records (observations, corrections or retractions) were recorded after
    the run was created; the count of such records is shown. Those records are not in the run.
*Stale case*
    A run fitted on an earlier version of the case (or with another model version) than the one
    stored now: still shown, labelled "... refit the case." (:mod:`dashboard.services.forecasts`).
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import pandas as pd

from dashboard.services import forecasts
from dashboard.services.forecasts import RunForecast, current_run
from indicators.errors import BadInput, RowErrors
from models.document import Diagnostics, ForecastDocument, IndicatorSummary
from models.priors import describe as describe_priors

T = TypeVar("T")

#: Display rules of thumb for the diagnostics table (the run's own ``ok`` flag decides).
DIAGNOSTIC_RULES = (
    ("max_rhat", "Largest R-hat", "≤ 1.01", lambda v: v <= 1.01),
    ("min_ess_bulk", "Smallest bulk ESS of the outcome probabilities", "≥ 400", lambda v: v >= 400),
    ("min_ess_tail", "Smallest tail ESS of the outcome probabilities", "≥ 400", lambda v: v >= 400),
    ("divergences", "Divergent transitions", "0", lambda v: v == 0),
    ("min_bfmi", "Smallest E-BFMI", "≥ 0.3", lambda v: v >= 0.3),
)

#: Fields an analyst may correct, with their labels (the order of the correction dropdown).
CORRECTABLE_FIELDS = {
    "value": "Value",
    "date": "Date",
    "end": "End date",
    "source": "Source",
    "reliability": "Reliability",
    "credibility": "Credibility",
    "note": "Note",
    "indicator": "Indicator",
}

RELIABILITY_MEANING = {
    "A": "completely reliable",
    "B": "usually reliable",
    "C": "fairly reliable",
    "D": "not usually reliable",
    "E": "unreliable",
    "F": "reliability cannot be judged",
}
CREDIBILITY_MEANING = {
    1: "confirmed",
    2: "probably true",
    3: "possibly true",
    4: "doubtful",
    5: "improbable",
    6: "truth cannot be judged",
}

TABLE_COLUMNS = [
    ("id", "Id"),
    ("indicator", "Indicator"),
    ("date", "Date"),
    ("end", "End date"),
    ("value", "Value"),
    ("source", "Source"),
    ("reliability", "Rel."),
    ("credibility", "Cred."),
    ("note", "Note"),
    ("genuine", "P(genuine)"),
    ("surprise", "Surprise"),
    ("recorded_at", "Recorded (UTC)"),
    ("recorded_by", "By"),
]


# ---------------------------------------------------------------------------- store access

_STORES: dict[tuple[str, str], Any] = {}


def get_store() -> Any:
    """The store named by the environment (migrated once), shared within this process."""
    from indicators.store import Store, default_home

    key = (str(default_home()), os.environ.get("HARBINGER_DATABASE_URL", ""))
    store = _STORES.get(key)
    if store is None:
        store = Store.from_env()
        store.upgrade()
        _STORES[key] = store
    return store


def forget_stores() -> None:
    """Drop the cached stores without closing their connections (after a fork: the parent's)."""
    for store in _STORES.values():
        store.engine.dispose(close=False)
    _STORES.clear()


# ---------------------------------------------------------------------------- memo

_MEMO: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_MEMO_LOCK = threading.Lock()
MEMO_SIZE = 256


def cached(key: tuple[Any, ...], build: Callable[[], T]) -> T:
    """``build()``, remembered under ``key`` (the newest :data:`MEMO_SIZE` keys, for every thread).

    Only for results fully determined by their key: what is built from a run's forecast by its
    :attr:`~dashboard.services.forecasts.RunForecast.key` (a run's files are written once), the
    observations in effect by the store and its number of records (records are only ever
    appended: corrections and retractions are new records).
    Results are shared between callers: treat them as read-only.
    """
    with _MEMO_LOCK:
        if key in _MEMO:
            _MEMO.move_to_end(key)
            return _MEMO[key]
    value = build()
    with _MEMO_LOCK:
        _MEMO[key] = value
        while len(_MEMO) > MEMO_SIZE:
            _MEMO.popitem(last=False)
    return value


def forget_cache() -> None:
    """Drop everything :func:`cached` remembers, and the parsed forecasts."""
    with _MEMO_LOCK:
        _MEMO.clear()
    forecasts.forget()


def run_cached(forecast: RunForecast | None, key: tuple[Any, ...], build: Callable[[], T]) -> T:
    """``build()`` remembered per run forecast (its :attr:`~RunForecast.key`) and ``key``; built
    anew each time without a forecast. Results are shared: read-only."""
    if forecast is None:
        return build()
    return cached(("run", forecast.key, *key), build)


def figure_of(forecast: RunForecast, make: Callable[..., Any], **options: Any) -> dict[str, Any]:
    """``make(document, **options)`` (a :mod:`dashboard.figures` function of the forecast's
    document; hashable options) as the plain dict a ``dcc.Graph`` is sent, built once per run and
    options (:func:`run_cached`). Shared: read-only. (Sending a plain dict skips plotly's
    per-response conversion of a ``go.Figure``, ~10 ms for a large figure.)"""
    return run_cached(forecast, (make, *sorted(options.items())), lambda: make(forecast.document, **options).to_dict())


def rows_key(frame: pd.DataFrame) -> tuple[Any, ...]:
    """A frame's columns and rows as a hashable key (for :func:`run_cached`)."""
    return (tuple(frame.columns), *frame.itertuples(index=False, name=None))


def frame_version(frame: pd.DataFrame) -> Any:
    """What identifies ``frame``'s contents in a key: the number of records for a frame of
    :func:`observations_now`, else all its rows (:func:`rows_key`)."""
    n = frame.attrs.get("n_records")
    return ("records", n) if n is not None else rows_key(frame)


def observations_now(store: Any, case_id: str) -> pd.DataFrame:
    """The observations in effect now (``store.observations(case_id)``), re-read only when the
    number of records changed (``frame.attrs["n_records"]``). Shared: read-only."""
    n = store.n_records(case_id)

    def read() -> pd.DataFrame:
        frame = store.observations(case_id)
        frame.attrs["n_records"] = n
        return frame

    return cached(("observations", store.url, case_id, n), read)


def stale_records(store: Any, case_id: str, run: Mapping[str, Any] | None) -> int:
    """How many records the run has not seen: observations, corrections and retractions
    (:func:`records_since`) and reviews (a review turns quarters after it from missing into
    observed zeros or back, so the fit's data changed too) recorded after the run was created.
    Counted once per number of records and reviews."""
    if run is None or run.get("created_at") is None:
        return 0
    key = ("stale", store.url, case_id, run["id"], _iso(run.get("created_at")))
    key += (store.n_records(case_id), store.n_reviews(case_id))
    return cached(
        key,
        lambda: records_since(store.history(case_id), run) + store.reviews_since(case_id, _created(run)),
    )


# ---------------------------------------------------------------------------- runs


def load_forecast(run: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The run's forecast as the plain JSON object of its file, with the row's identity: only for
    :mod:`dashboard.report` until it reads the typed forecast. Everything else reads
    :func:`dashboard.services.forecasts.load_forecast` (this is that loader without a store, so
    the case version is not checked). A new dict on every call."""
    forecast = forecasts.load_forecast(None, run)
    return None if forecast is None else forecast.document.to_json_dict()


def records_since(history: pd.DataFrame, run: Mapping[str, Any] | None) -> int:
    """How many records (of any kind) were recorded after ``run`` was created."""
    if run is None or history is None or history.empty or run.get("created_at") is None:
        return 0
    return int((history["recorded_at"] > _created(run)).sum())


def _created(run: Mapping[str, Any]) -> pd.Timestamp:
    """When ``run`` was created, as an aware UTC timestamp (the store keeps naive UTC)."""
    created = pd.Timestamp(run["created_at"])
    return created.tz_localize("UTC") if created.tzinfo is None else created


def run_state(store: Any, case_id: str) -> dict[str, Any]:
    """What the shell watches: latest ok run id, running fits, number of records. A fit whose
    process has died (killed, out of memory) is marked failed ('interrupted') here, so the page
    stops showing it as running within one poll instead of at the next server start."""
    latest = current_run(store, case_id)
    running = store.runs(case_id, status="running")
    if running and store.fail_stale_runs():
        running = store.runs(case_id, status="running")
    return {
        "latest": latest["id"] if latest else None,
        "running": [r["id"] for r in running],
        "n_records": int(store.n_records(case_id)),
        "n_reviews": int(store.n_reviews(case_id)),
    }


def run_summary(
    run: Mapping[str, Any] | None, forecast: RunForecast | Mapping[str, Any] | None, *, stale_records: int = 0
) -> dict[str, Any]:
    """The identity and health of the run shown: id, as-of, diagnostics and staleness.

    ``forecast`` is the run's :class:`~dashboard.services.forecasts.RunForecast` (from
    :mod:`dashboard.report`, until it reads the typed forecast, the dict of :func:`load_forecast`,
    which carries no case check). Returns ``{"exists", "run_id", "as_of", "n_observations",
    "model_version", "diagnostics_ok", "diagnostics_text", "stale_case", "warnings": [str, ...]}``.
    ``stale_case`` says why the run no longer forecasts the case as stored (an earlier case
    version or another model version; ``None`` when it does). ``warnings`` holds the red labels:
    failed diagnostics ("Diagnostics failed: ... — do not treat as a clean forecast"), the stale
    case ("Run ... was fitted on a different version of case ...; refit the case.") and staleness
    ("Stale: N records made since this run": observations, corrections, retractions and reviews).
    """
    if run is None:
        return {
            "exists": False,
            "run_id": None,
            "as_of": None,
            "n_observations": None,
            "model_version": None,
            "diagnostics_ok": None,
            "diagnostics_text": "",
            "stale_case": None,
            "warnings": [],
        }
    stale_case = forecast.stale if isinstance(forecast, RunForecast) else None
    document = forecast.document if isinstance(forecast, RunForecast) else _document(forecast)
    diag: Diagnostics | Mapping[str, Any] = (
        document.diagnostics if document is not None else (run.get("diagnostics") or {})
    )
    ok = _diag_value(diag, "ok")
    if run.get("diagnostics_ok") is not None:
        ok = bool(run["diagnostics_ok"]) and (ok is None or bool(ok))
    warnings = []
    if ok is False:
        warnings.append(f"Diagnostics failed: {diagnostics_problems(diag)} — do not treat as a clean forecast")
    if forecast is None:
        warnings.append("The saved forecast of this run cannot be read (file missing or damaged)")
    if stale_case:
        warnings.append(stale_case)
    if stale_records > 0:
        noun = "record" if stale_records == 1 else "records"
        warnings.append(f"Stale: {stale_records} {noun} made since this run")
    return {
        "exists": True,
        "run_id": run["id"],
        "as_of": _iso(run.get("as_of")),
        "n_observations": run.get("n_observations"),
        "model_version": run.get("model_version"),
        "diagnostics_ok": ok,
        "diagnostics_text": diagnostics_text(diag),
        "stale_case": stale_case,
        "warnings": warnings,
    }


def diagnostics_problems(diag: Diagnostics | Mapping[str, Any] | None) -> str:
    """The run's own list of problems, or the checks outside the usual thresholds."""
    problems = [str(p) for p in _diag_value(diag, "problems") or []]
    if not problems:
        problems = [
            f"{label} {_num(value)} (want {rule})"
            for key, label, rule, good in DIAGNOSTIC_RULES
            if (value := _diag_value(diag, key)) is not None and not good(value)
        ]
    return "; ".join(problems) if problems else "see the Model page"


def diagnostics_text(diag: Diagnostics | Mapping[str, Any] | None) -> str:
    """One line: R-hat, smallest ESS, divergences, E-BFMI, the draws kept per chain (fewer than
    the settings' when the fit stopped early, having converged) and, for a fit that started from
    an earlier run's posterior, its tuning steps."""
    parts = []
    if (rhat := _diag_value(diag, "max_rhat")) is not None:
        parts.append(f"R-hat ≤ {float(rhat):.3f}")
    ess = [v for k in ("min_ess_bulk", "min_ess_tail") if (v := _diag_value(diag, k)) is not None]
    if ess:
        parts.append(f"ESS ≥ {min(ess):.0f}")
    if (divergences := _diag_value(diag, "divergences")) is not None:
        parts.append(f"{int(divergences)} divergences")
    if (bfmi := _diag_value(diag, "min_bfmi")) is not None:
        parts.append(f"E-BFMI ≥ {_num(bfmi, 2)}")
    if (draws := _diag_value(diag, "draws")) is not None:
        parts.append(f"{int(draws)} draws per chain")
    if _diag_value(diag, "warm_start") and (tune := _diag_value(diag, "tune")) is not None:
        parts.append(f"warm start ({int(tune)} tuning steps)")
    return ", ".join(parts)


#: Which of the run's own problems (:func:`models.fit.diagnostics`' ``problems``, in words)
#: belongs to which row of the diagnostics table: row key -> pattern of the problem's text.
PROBLEM_PATTERNS = {
    "max_rhat": re.compile(r"^R-hat\b"),
    "min_ess_bulk": re.compile(r"^bulk ESS\b"),
    "min_ess_tail": re.compile(r"^tail ESS\b"),
    "min_param_ess": re.compile(r"parameter.*ESS"),
    "divergences": re.compile(r"divergent"),
    "min_bfmi": re.compile(r"E-BFMI"),
}


def diagnostics_rows(diag: Diagnostics | Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Rows of the Model page's diagnostics table: check, value, threshold, status.

    The run's own check decides: a row whose check is among the run's ``problems`` is
    ``"outside"`` (with the problem's words as its value when the document has no number for it,
    as older runs lack the ESS of parameters and factor states), every other ``"ok"``; a failed run without a
    list of problems is judged by the usual thresholds (:data:`DIAGNOSTIC_RULES`). A problem no
    row names gets a row of its own. Status is ``"ok"``, ``"outside"`` or ``"not reported"``.
    """
    problems = [str(p) for p in _diag_value(diag, "problems") or []]
    judged = bool(problems) or _diag_value(diag, "ok") is True
    matched: set[str] = set()

    def problem_for(key: str) -> str | None:
        for p in problems:
            if PROBLEM_PATTERNS[key].search(p):
                matched.add(p)
                return p
        return None

    rows = []
    for key, label, rule, good in DIAGNOSTIC_RULES:
        if key == "divergences":  # after the outcome probabilities' ESS: the parameters', per chain
            param = problem_for("min_param_ess")
            number = re.search(r"ESS (\d+(?:\.\d+)?)", param or "")
            limit = re.search(r"below (\d+)", param or "")
            recorded = _diag_value(diag, "min_param_ess")
            if recorded is not None and not math.isnan(float(recorded)):
                shown = f"{float(recorded):.0f}"
            else:
                shown = number.group(1) if number else ("—" if param is None else param)
            rows.append(
                {
                    "check": "Smallest ESS of parameters and factor states",
                    "value": shown,
                    "threshold": f"≥ {limit.group(1)}" if limit else "≥ 100 per chain",
                    "status": "outside" if param else ("ok" if judged else "not reported"),
                }
            )
        value = _diag_value(diag, key)
        problem = problem_for(key)
        if key == "max_rhat" and value is not None and math.isnan(float(value)):
            # R-hat compares chains: a one-chain run has none, which is not a pass
            rows.append(
                {
                    "check": label,
                    "value": "— (one chain)",
                    "threshold": rule,
                    "status": "outside" if problem else "not reported",
                }
            )
            continue
        if value is None:
            rows.append(
                {
                    "check": label,
                    "value": problem or "—",
                    "threshold": rule,
                    "status": "outside" if problem else "not reported",
                }
            )
            continue
        failed = problem is not None if judged else not good(value)
        rows.append(
            {"check": label, "value": _num(value, 4), "threshold": rule, "status": "outside" if failed else "ok"}
        )
    for p in problems:
        if p not in matched:
            rows.append({"check": p[:1].upper() + p[1:], "value": "—", "threshold": "", "status": "outside"})
    return rows


def failing_quantities(diag: Diagnostics | Mapping[str, Any] | None) -> list[str]:
    """The quantities that miss a limit, worst first, as the run records them (empty when none)."""
    return [str(f) for f in _diag_value(diag, "failing") or []]


def _diag_value(diag: Diagnostics | Mapping[str, Any] | None, key: str) -> Any:
    """A field of the run's diagnostics: the document's, or of the store row's dict."""
    if diag is None:
        return None
    if isinstance(diag, Mapping):
        return diag.get(key)
    return getattr(diag, key, None)


# ---------------------------------------------------------------------------- outcomes


def horizons(forecast: ForecastDocument | Mapping[str, Any] | None) -> list[int]:
    """Every horizon (years) of the forecast's unresolved outcomes, ascending."""
    document = _document(forecast)
    return document.horizon_years if document is not None else []


def outcome_cards(
    forecast: ForecastDocument | Mapping[str, Any],
    *,
    horizon: int,
    previous: ForecastDocument | Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One card per outcome at ``horizon`` years.

    Each card: ``id``, ``question``, ``resolved``, ``resolution_date`` (a date or ``None``), and
    for unresolved outcomes with that horizon ``p_mean``, ``p_05``, ``p_95``, ``mcse``, the
    display texts ``probability`` and ``interval`` (90% credible interval), and the change since
    the ``previous`` forecast ``change_pp`` (percentage points, ``None`` without a previous value)
    with its text ``change``; ``driven_by_prior`` (the forecast hardly moves with the data: label
    it so) and ``moved`` (a sentence on how far the data moved it), from the run's elicitation.
    """
    document, before_run = _document(forecast), _document(previous)
    cards = []
    for o in document.outcomes:
        card: dict[str, Any] = {
            "id": o.id,
            "question": o.question,
            "resolved": o.resolved,
            "resolution_date": o.resolution_date,
            "horizon": horizon,
            "p_mean": None,
            "probability": None,
            "interval": None,
            "change_pp": None,
            "change": None,
            "driven_by_prior": bool(o.elicitation and o.elicitation.driven_by_prior),
            "moved": o.elicitation.moved if o.elicitation else None,
        }
        h = o.horizon(horizon)
        if h is not None and not o.resolved:
            card.update(
                p_mean=h.p_mean,
                p_05=h.p_05,
                p_95=h.p_95,
                mcse=h.mcse,
                probability=fmt_prob(h.p_mean),
                interval=f"90% interval {fmt_prob(h.p_05)} – {fmt_prob(h.p_95)}",
            )
            before = before_run.horizon(o.id, horizon) if before_run is not None else None
            if before_run is None:
                card["change"] = "no previous run to compare"
            elif before is None or before.p_mean is None or h.p_mean is None:
                card["change"] = "not in the previous run"
            else:
                delta = 100.0 * (h.p_mean - before.p_mean)
                card["change_pp"] = delta
                card["change"] = fmt_change(delta) + " since the previous run"
        elif not o.resolved:
            card["change"] = f"no {horizon}-year horizon for this outcome"
        cards.append(card)
    return cards


def elicitation_rows(forecast: ForecastDocument | Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per unresolved outcome with an elicitation (runs of model 1.6.0 on): the elicited 10-year
    range, the prior-predictive and the posterior 10-year probability side by side (texts), the
    power-scaling sensitivity, the "driven by the prior" flag and the sentence on how far the data
    moved it. The report can show the same rows."""
    rows = []
    for o in _document(forecast).outcomes:
        e = o.elicitation
        if e is None or o.resolved:
            continue
        years = str(e.headline_years or 10)
        low, high = e.elicited.get("range_10y" if years == "10" else "range", [None, None])
        pp, post = e.prior_predictive.get(years, {}), e.posterior.get(years, {})
        sens = (e.sensitivity or {}).get(years, {})
        rows.append(
            {
                "outcome": o.id,
                "years": int(years),
                "elicited": f"{fmt_prob(low)} – {fmt_prob(high)}",
                "prior": f"{fmt_prob(pp.get('mean'))} ({fmt_prob(pp.get('p05'))} – {fmt_prob(pp.get('p95'))})",
                "posterior": f"{fmt_prob(post.get('mean'))} ({fmt_prob(post.get('p05'))} – {fmt_prob(post.get('p95'))})",
                "sensitivity": (
                    f"prior {sens['prior']:.3f}, likelihood {sens['likelihood']:.3f}"
                    if sens.get("prior") is not None and sens.get("likelihood") is not None
                    else "—"
                ),
                "driven_by_prior": e.driven_by_prior,
                "moved": e.moved or "",
            }
        )
    return rows


def prior_rows(forecast: ForecastDocument | Mapping[str, Any]) -> dict[str, Any]:
    """The structural priors a run was fitted with, for the Model page and the report:
    ``{"rows": [{name, distribution, value, meaning, overridden, overridable}], "note": str}``.
    A run whose file records none has the defaults of its model version when that version fitted
    every run with them, else no rows and a note saying they were not recorded."""
    doc = _document(forecast)
    record = doc.prior_record()
    if record is None:
        return {
            "rows": [],
            "note": f"Not recorded: this run (model {doc.model_version}) was fitted before runs recorded "
            "their priors; refit to record them.",
        }
    priors = record.priors
    rows = describe_priors(priors.values, priors.overrides)
    if record.source == "recorded":
        note = f"As recorded with the run (priors hash {priors.hash})."
    else:
        note = (
            f"The run's file records no priors; every run of model {doc.model_version} was fitted with these defaults."
        )
    set_by_case = ", ".join(priors.overrides)
    note += f" Set by the case file: {set_by_case}." if set_by_case else " All are the model's defaults."
    return {"rows": rows, "note": note}


def fmt_prob(p: float | None) -> str:
    """A probability as a percentage: '<0.1%', '0.4%', '12%'."""
    if p is None:
        return "—"
    pct = 100.0 * float(p)
    if pct < 0.1:
        return "<0.1%" if pct > 0 else "0%"
    if pct < 10:
        return f"{pct:.1f}%"
    if pct > 99.9:
        return ">99.9%" if pct < 100 else "100%"
    return f"{pct:.0f}%"


def fmt_change(delta_pp: float) -> str:
    """A change in percentage points: '▲ +0.3 pts', '▼ −1.2 pts', 'no change'."""
    if abs(delta_pp) < 0.05:
        return "no change (within ±0.05 pts)"
    if delta_pp > 0:
        return f"▲ +{delta_pp:.1f} pts"
    return f"▼ −{abs(delta_pp):.1f} pts"


# ---------------------------------------------------------------------------- indicators


def forecast_indicator(forecast: ForecastDocument | None, indicator_id: str) -> IndicatorSummary | None:
    """The run's summary of ``indicator_id``; ``None`` without a forecast or when the run has none."""
    if forecast is None:
        return None
    try:
        return forecast.indicator(indicator_id)
    except KeyError:
        return None


def row_flags(forecast: ForecastDocument | None) -> dict[int, dict[str, Any]]:
    """Per observation id: the model's ``genuine`` probability and ``surprise`` flag of its row."""
    if forecast is None:
        return {}
    return {
        oid: {"genuine": row.genuine, "surprise": row.surprise} for oid, row in forecast.rows_by_observation().items()
    }


def surprising_indicators(forecast: ForecastDocument | None) -> list[str]:
    """Indicators with at least one surprise-flagged row, in forecast order."""
    return forecast.surprising_indicators if forecast is not None else []


def default_chart_selection(indicator_ids: list[str], forecast: ForecastDocument | None, *, n: int = 4) -> list[str]:
    """Charts shown first: indicators with surprise flags (up to ``n``), else the first ``n``."""
    flagged = [i for i in surprising_indicators(forecast) if i in indicator_ids][:n]
    return flagged or indicator_ids[:n]


def new_observations(frame: pd.DataFrame, forecast: ForecastDocument | None, indicator_id: str) -> pd.DataFrame:
    """Observations of ``indicator_id`` in effect now that the run's rows do not contain.

    These are recorded (or corrected) after the run, or outside what the run modelled; charts
    show them apart, as "not in this run".
    """
    sub = frame[frame["indicator"] == indicator_id]
    ind = forecast_indicator(forecast, indicator_id)
    if ind is None:
        return sub
    return sub[~sub["id"].isin(list(ind.observation_ids))]


def new_observations_by_indicator(
    frame: pd.DataFrame, forecast: ForecastDocument | None
) -> dict[str, tuple[pd.DataFrame, tuple[Any, ...]]]:
    """:func:`new_observations` of every indicator in ``frame``, each with its :func:`rows_key`."""
    out = {}
    for indicator_id in frame["indicator"].unique():
        sub = new_observations(frame, forecast, str(indicator_id))
        out[str(indicator_id)] = (sub, rows_key(sub))
    return out


def observation_table(
    frame: pd.DataFrame, forecast: ForecastDocument | Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Rows for the observations table (newest date first): text dates, the run's flags per id."""
    flags = row_flags(_document(forecast))
    rows = []
    frame = frame.sort_values(["date", "id"], ascending=False, kind="stable")
    for rec in frame.to_dict("records"):
        oid = int(rec["id"])
        flag = flags.get(oid)
        end = rec["end"]
        rows.append(
            {
                "id": oid,
                "indicator": rec["indicator"],
                "date": _day(rec["date"]),
                "end": "" if end == rec["date"] else _day(end),
                "value": float(rec["value"]),
                "source": rec["source"],
                "reliability": rec["reliability"],
                "credibility": int(rec["credibility"]),
                "note": rec["note"],
                "genuine": None if flag is None or flag["genuine"] is None else round(float(flag["genuine"]), 2),
                "surprise": "" if flag is None else ("yes" if flag["surprise"] else "no"),
                "recorded_at": pd.Timestamp(rec["recorded_at"]).strftime("%Y-%m-%d %H:%M"),
                "recorded_by": rec["recorded_by"],
            }
        )
    return rows


def table_tooltips(rows: list[dict[str, Any]], columns: tuple[str, ...] = ("source", "note")) -> list[dict[str, Any]]:
    """DataTable ``tooltip_data``: the full text of long cells, shown as plain text."""
    return [{c: {"value": str(r.get(c) or ""), "type": "text"} for c in columns if r.get(c)} for r in rows]


def describe_observation(frame: pd.DataFrame, obs_id: int | None) -> str:
    """One line naming the observation ``obs_id`` (the selected table row)."""
    if obs_id is None:
        return "No observation selected: select one in the table (the circle at the left of a row)."
    sub = frame[frame["id"] == int(obs_id)]
    if sub.empty:
        return f"Observation {obs_id} is no longer in effect."
    r = sub.iloc[0]
    period = _day(r["date"]) if r["end"] == r["date"] else f"{_day(r['date'])} – {_day(r['end'])}"
    return f"Observation {int(r['id'])}: {r['indicator']}, {period}, value {r['value']:g}, source {r['source']}"


# ---------------------------------------------------------------------------- writes


def form_row(
    *, indicator: Any, date: Any, end: Any, value: Any, source: Any, reliability: Any, credibility: Any, note: Any
) -> dict[str, Any]:
    """The add form's fields as a store row (blank fields left out, so defaults apply)."""
    raw = {
        "indicator": indicator,
        "date": date,
        "end": end,
        "value": value,
        "source": source,
        "reliability": reliability,
        "credibility": credibility,
        "note": note,
    }
    return {
        k: (v.strip() if isinstance(v, str) else v)
        for k, v in raw.items()
        if v is not None and not (isinstance(v, str) and not v.strip())
    }


def form_errors(exc: BadInput) -> list[str]:
    """Messages for the add form: one per bad field, named by its label."""
    if isinstance(exc, RowErrors):
        return [f"{_error_label(col, reason)}: {reason}." for _, col, reason in exc.errors]
    return [str(exc)]


def _error_label(column: str, reason: str) -> str:
    """What a form error is about: the field's label, or "Duplicate" for a row repeating one
    already recorded (the validator files that under the value)."""
    if reason.startswith("the same observation"):
        return "Duplicate"
    return CORRECTABLE_FIELDS.get(column, column)


def import_upload(store: Any, case_id: str, data: bytes, *, filename: str, actor: str) -> tuple[list[int], list[str]]:
    """Import an uploaded observation CSV all or nothing; errors name the file's lines.

    The same format and rules as ``harbinger observe import`` (:mod:`indicators.observations`).
    Returns the new ids and the lines that name the rows the model will not count because they
    lie outside their indicator's coverage (empty when none do). Raises
    :class:`~indicators.errors.RowErrors` (every bad row with its line in the file) or
    :class:`~indicators.errors.BadInput`; nothing is stored then.
    """
    from indicators.observations import coverage_summary, outside_coverage, parse_csv_bytes

    numbered = parse_csv_bytes(data, where=filename)
    lines = [line for line, _ in numbered]
    try:
        ids = store.add_observations(case_id, [row for _, row in numbered], actor=actor, where=filename)
    except RowErrors as exc:
        # add_observations numbers rows by position; report the file's line numbers instead
        def to_line(pos: int) -> int:
            return lines[pos - 1] if 1 <= pos <= len(lines) else pos

        errors = [
            (
                to_line(pos),
                col,
                re.sub(r"already on line (\d+)", lambda m: f"already on line {to_line(int(m.group(1)))}", reason),
            )
            for pos, col, reason in exc.errors
        ]
        raise RowErrors(filename, errors) from None
    outside = outside_coverage(store.get_case(case_id).case, numbered)
    return ids, coverage_summary(outside, dict(zip(lines, ids)))


def upload_errors(exc: BadInput) -> tuple[str, list[str]]:
    """Headline and one line per bad row ('line 3, column value: reason') of a failed upload."""
    if isinstance(exc, RowErrors):
        rows = [f"line {line}, column '{col}': {reason}" for line, col, reason in exc.errors]
        return f"{exc.where}: {len(exc.errors)} bad row(s); nothing was imported.", rows
    return f"{exc} Nothing was imported.", []


# ---------------------------------------------------------------------------- helpers


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _document(forecast: ForecastDocument | Mapping[str, Any] | None) -> ForecastDocument | None:
    """The typed document of ``forecast``. A dict (the report's, from :func:`load_forecast`, until
    :mod:`dashboard.report` reads the typed forecast) is validated into one."""
    if forecast is None or isinstance(forecast, ForecastDocument):
        return forecast
    return ForecastDocument.model_validate(forecast)


def _day(value: Any) -> str:
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def _num(value: Any, digits: int = 3) -> str:
    if isinstance(value, (int,)) or (isinstance(value, float) and value.is_integer() and abs(value) >= 10):
        return f"{value:.0f}"
    return f"{float(value):.{digits}g}"
