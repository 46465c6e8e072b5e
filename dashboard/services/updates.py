"""The fast update: the current run's forecast given what was recorded since it, in seconds.

After an analyst adds, corrects or retracts observations, a full refit takes a while. Meanwhile
the current run's posterior draws are reweighted by the likelihood of the changed data
(Pareto-smoothed importance sampling, :class:`models.reweight.Conditioner`): observations dated
up to the run's as-of date replace the run's data in its window; observations dated after it are
conditioned on through the run's simulated future paths. The result is labelled a fast update,
with its k-hat; above :data:`models.reweight.KHAT_MAX` it is marked unreliable and only the refit
counts.

A fast update is computed once per (run, number of records) and cached, so pages can ask for it
on every render.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from dashboard.services.analysis import AnalysisUnavailable, run_context
from dashboard.services.context import as_date
from dashboard.services.forecasts import current_run

_CACHE: dict[tuple[str, int], dict[str, Any]] = {}
_LOCK = threading.Lock()


def fast_update(store: Any, case_id: str) -> dict[str, Any] | None:
    """The reweighted forecast of the current run given the records made since it, or ``None``
    when there is no run or nothing was recorded since.

    Returns ``{"run_id", "records", "khat", "reliable", "seconds", "outcomes"` (the
    ``forecast.json`` outcome format), "ignored": [[observation id, reason], ...]}``, or
    ``{"run_id", "records", "error"}`` when the run cannot be reweighted (e.g. no saved posterior).
    """
    run = current_run(store, case_id)
    if run is None:
        return None
    n_records = int(store.n_records(case_id))
    history = store.history(case_id)
    created = pd.Timestamp(run["created_at"])
    created = created.tz_localize("UTC") if created.tzinfo is None else created
    since = int((history["recorded_at"] > created).sum()) if not history.empty else 0
    if since == 0:
        return None
    key = (run["id"], n_records)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    started = time.perf_counter()
    try:
        ctx = run_context(store, case_id, run)
    except AnalysisUnavailable as exc:
        result: dict[str, Any] = {"run_id": run["id"], "records": since, "error": str(exc)}
    else:
        as_of = as_date(run["as_of"])
        now = store.observations(case_id, as_of=max(as_of, datetime.now(UTC).date()))
        known = now["id"].isin(ctx.observations["id"])  # records the run read (still in effect)
        # Everything new (added, or a correction's new record) is conditioned on as an addition;
        # what the run read and is still in effect stays its data (retracted rows drop out).
        reweighted = ctx.conditioner.condition(
            observations_after=now[known & (now["date"].dt.date <= as_of)], add=now[~known] if (~known).any() else None
        )
        result = {
            "run_id": run["id"],
            "records": since,
            "khat": round(float(reweighted.khat), 3),
            "reliable": bool(reweighted.reliable),
            "seconds": round(time.perf_counter() - started, 2),
            "outcomes": reweighted.outcomes,
            "ignored": [list(x) for x in reweighted.ignored],
        }
    with _LOCK:
        if len(_CACHE) > 8:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = result
    return result


__all__ = ["fast_update"]
