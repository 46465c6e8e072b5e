"""What the command line and the dashboard do with the store and the models, in one place.

Each function here reads the store (``indicators``), calls the models' public functions
(``models``), and records the result. Neither the Dash callbacks nor the command line build a
model themselves. A fit is slow: the dashboard calls :func:`fit_case` only from a background
callback, never in a request.

The saved run (``<runs_dir>/<run_id>/``) holds ``posterior.nc`` (the posterior, with its identity
in the attributes) and ``forecast.json`` (everything the pages and reports show: the typed
document of :mod:`models.document`, read through :mod:`dashboard.services.forecasts`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from typing import Any

from dashboard.services import progress as fit_progress
from dashboard.services.context import as_date, today
from dashboard.services.forecasts import RunForecast, current_run, current_runs, read_run
from indicators.errors import BadInput
from models.document import ForecastDocument, ForecastUnreadable
from models.settings import SAMPLERS, FitSettings
from models.version import MODEL_VERSION

Progress = Callable[[float, str], None]

#: The fit settings the environment may override (``HARBINGER_DRAWS``, ...), at the model's
#: defaults (:class:`models.settings.FitSettings`, their one definition).
DEFAULT_SETTINGS = {
    key: getattr(FitSettings(), key) for key in ("draws", "tune", "chains", "seed", "sampler", "min_draws", "warm_tune")
}

#: How many fits one request may run: a fit that fails its diagnostics is tried once more with
#: twice the tuning steps and the next seed (``HARBINGER_FIT_ATTEMPTS`` or ``attempts=`` overrides).
#: A failed check is usually one chain stuck for a while; longer adaptation and a new start cure
#: that far more often than a labelled-failing forecast helps an analyst.
DEFAULT_ATTEMPTS = 2


class FitFailed(RuntimeError):
    """A fit that failed; the previous run is still the one shown."""

    def __init__(self, run_id: str, reason: str):
        self.run_id = run_id
        self.reason = reason
        super().__init__(f"fit {run_id} failed: {reason}; the previous forecast is still shown.")


def default_settings() -> dict[str, Any]:
    """Sampler settings: the defaults, overridden by HARBINGER_DRAWS, _MIN_DRAWS, _TUNE, _WARM_TUNE,
    _CHAINS, _SEED, _SAMPLER."""
    out = dict(DEFAULT_SETTINGS)
    for key in out:
        name = f"HARBINGER_{key.upper()}"
        env = os.environ.get(name, "").strip()
        if not env:
            continue
        if key == "sampler":
            if env not in SAMPLERS:
                raise BadInput(f"{name} is {env!r}, not a sampler; unset it or give one of {', '.join(SAMPLERS)}.")
            out[key] = env
        elif env.isdigit():
            out[key] = int(env)
        else:
            raise BadInput(f"{name} is {env!r}, not a whole number; unset it or give one, such as {out[key]}.")
    return out


def _fit_settings(overrides: dict[str, Any]) -> FitSettings:
    merged = default_settings() | {k: v for k, v in overrides.items() if v is not None}
    return FitSettings(**merged)


def fit_attempts(attempts: int | None = None) -> int:
    """The number of fits one request may run (:data:`DEFAULT_ATTEMPTS`, ``HARBINGER_FIT_ATTEMPTS``)."""
    if attempts is None:
        env = os.environ.get("HARBINGER_FIT_ATTEMPTS", "").strip()
        attempts = int(env) if env else DEFAULT_ATTEMPTS
    if attempts < 1:
        raise BadInput(f"--attempts: {attempts} is not a number of fits; give 1 or more.")
    return attempts


def fit_case(
    store: Any,
    case_id: str,
    *,
    as_of: date | None = None,
    progress: Progress | None = None,
    attempts: int | None = None,
    **settings: Any,
) -> str:
    """Fit the case on what the store knew at the end of ``as_of`` (default: today) and record
    the run. Returns the id of the run that the views now show for this fit.

    A fit whose sampler ran but whose diagnostics failed is tried again, up to ``attempts`` fits
    in all (:func:`fit_attempts`), each with twice the previous tuning steps and the next seed;
    every attempt is recorded as its own run. The first passing attempt ends the loop and is
    returned. When every attempt fails its diagnostics the last is returned: the views keep
    showing the previous passing run, if any (:func:`current_runs`), and label the failure.

    On any other failure (including an interrupt) the run is recorded as failed, its partial
    files are removed, and :class:`FitFailed` is raised; the previous run stays the current one.
    """
    total = fit_attempts(attempts)
    fit_settings = _fit_settings(settings)
    run_id = ""
    for attempt in range(1, total + 1):
        say = progress
        if attempt > 1:
            fit_settings = fit_settings.retried()
            failed = store.get_run(run_id)["diagnostics"].get("problems") or ["diagnostics failed"]
            note = (
                f"attempt {attempt} of {total} ({'; '.join(failed)} in the last attempt; now "
                f"{fit_settings.tune} tuning steps, seed {fit_settings.seed})"
            )
            say = _prefixed(progress, note)
            if say is not None:
                say(0.0, note)
        run_id = _fit_once(
            store, case_id, as_of=as_of, progress=say, fit_settings=fit_settings, attempt=(attempt, total)
        )
        if store.get_run(run_id)["diagnostics_ok"]:
            break
    # With HARBINGER_WATCH_AFTER_FIT=1, the watch list of the run the views now show, cached
    # beside its posterior; a few seconds, never raises (dashboard.services.watch.after_fit).
    # Otherwise the dashboard's server computes it when it prepares the run.
    from dashboard.services.watch import after_fit

    after_fit(store, case_id, run_id, progress=progress)
    return run_id


def fit_outcome(store: Any, run_id: str) -> str:
    """How a fit of :func:`fit_case` ended, in one or two sentences for the person who asked."""
    run = store.get_run(run_id)
    if run["diagnostics_ok"]:
        return f"Fit finished: now showing run {run_id}."
    problems = "; ".join(run["diagnostics"].get("problems") or []) or "its diagnostics failed"
    current = current_run(store, run["case_id"])
    kept = (
        f"the previous passing forecast (run {current['id']}) is still shown"
        if current and current["id"] != run_id
        else f"run {run_id} is shown, labelled as failing its diagnostics"
    )
    retried = ", also when retried with more tuning" if (run.get("settings") or {}).get("attempt", 1) > 1 else ""
    return f"Run {run_id} failed its diagnostics ({problems}){retried}; {kept}. Refit to try again."


def _prefixed(progress: Progress | None, note: str) -> Progress | None:
    if progress is None:
        return None
    return lambda fraction, message: progress(fraction, f"{message} · {note}")


def _fit_once(
    store: Any,
    case_id: str,
    *,
    as_of: date | None,
    progress: Progress | None,
    fit_settings: Any,
    attempt: tuple[int, int] = (1, 1),
) -> str:
    """One fit and its run (see :func:`fit_case`); the run's settings record ``attempt`` as
    ``attempt`` (this one) and ``attempts`` (allowed)."""
    import shutil

    from models.design import build_design
    from models.runs import fit_run

    as_of = as_of or today()
    if as_of > today():
        raise BadInput(f"--as-of {as_of} is in the future.")
    loaded = store.get_case(case_id)
    if as_of < loaded.case.start:
        raise BadInput(f"--as-of {as_of} is before the case starts ({loaded.case.start}).")
    store.fail_stale_runs()
    frame = store.observations(case_id, as_of=as_of)
    design = build_design(loaded.case, frame, as_of=as_of, reviewed=store.reviews(case_id, as_of=as_of))
    run_id = store.create_run(
        case_id,
        as_of=as_of,
        case_hash=loaded.hash,
        data_hash=design.data_hash,
        n_observations=design.n_observations,
        model_version=MODEL_VERSION,
        settings=fit_settings.as_dict() | {"attempt": attempt[0], "attempts": attempt[1]},
    )
    directory = store.runs_dir / run_id
    # every reader (any page, any process) follows the fit through its progress file
    progress_file = fit_progress.progress_path(store.runs_dir, run_id)
    say = fit_progress.recorder(
        progress_file, progress, suffix=f" · attempt {attempt[0]} of {attempt[1]}" if attempt[0] > 1 else ""
    )
    try:
        say(0.0, "building the model")
        from models.fit import compiled_for

        say(0.01, "compiling the model")
        compiled_for(design, fit_settings.sampler)  # kept for the sampler: fit_run reuses it
        forecast = fit_run(
            design,
            fit_settings,
            case_hash=loaded.hash,
            run_id=run_id,
            directory=directory,
            progress=_after_compiling(say),
            warm_start=(
                earlier_posterior(store, case_id, loaded.hash, as_of)
                if attempt[0] == 1 and fit_settings.warm_tune > 0
                else None  # a retry, or warm starts turned off: the earlier posterior is not read
            ),
        )
    except BaseException as exc:  # noqa: BLE001 - record every failure, then re-raise as FitFailed
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}"
        store.fail_run(run_id, reason)
        shutil.rmtree(directory, ignore_errors=True)
        fit_progress.clear(progress_file)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise FitFailed(run_id, reason) from exc
    diag = forecast["diagnostics"]
    store.finish_run(run_id, diagnostics=diag, diagnostics_ok=bool(diag["ok"]), path=str(directory))
    fit_progress.clear(progress_file)
    return run_id


def earlier_posterior(store: Any, case_id: str, case_hash: str, as_of: date) -> Any:
    """The posterior a first attempt starts from (:func:`models.fit.sample`'s ``warm_start``): the
    current run's, when it was fitted by this model version on this version of the case at an
    as-of date within :data:`models.warm_start.MAX_DAYS_APART` days; else None (a retry, a first
    fit and a fit far in the past start from the prior)."""
    from pathlib import Path

    from models.runs import load_posterior
    from models.warm_start import MAX_DAYS_APART

    run = current_run(store, case_id)
    if not run or not run.get("path") or run.get("model_version") != MODEL_VERSION:
        return None
    if run.get("case_hash") != case_hash or abs((as_date(run["as_of"]) - as_of).days) > MAX_DAYS_APART:
        return None
    try:
        return load_posterior(Path(run["path"]), case_hash=case_hash).posterior
    except Exception:  # noqa: BLE001 - no earlier posterior to read: the fit starts from the prior
        return None


def _after_compiling(say: Progress) -> Progress:
    """``say`` without the sampler's opening "building the model": the model is built and
    compiled by then, and the bar must not step back."""

    def forward(fraction: float, message: str) -> None:
        if not message.startswith("building the model"):
            say(fraction, message)

    return forward


def forecast_run(store: Any, case_id: str, *, run_id: str | None = None, as_of: date | None = None) -> dict[str, Any]:
    """The run whose forecast ``harbinger forecast`` and the reports show: the named one, else the
    latest good run as of ``as_of`` (its as-of date on or before it), else the latest good run."""
    if run_id is not None:
        run = store.get_run(run_id)
        if run is None or run["case_id"] != case_id:
            raise BadInput(f"--run: no run '{run_id}' for case '{case_id}'.")
        if run["status"] != "ok":
            raise BadInput(
                f"--run: run '{run_id}' is {run['status']}"
                f"{': ' + run['error'] if run.get('error') else ''}; it has no forecast."
            )
        return run
    runs = current_runs(store, case_id)
    if as_of is not None:
        runs = [r for r in runs if as_date(r["as_of"]) == as_of] or [r for r in runs if as_date(r["as_of"]) <= as_of]
    if not runs:
        when = f" as of {as_of}" if as_of else ""
        raise BadInput(
            f"no fitted run{when} for case '{case_id}'; run 'harbinger fit"
            f"{' --as-of ' + as_of.isoformat() if as_of else ''}' first."
        )
    return runs[0]


def select_forecast(store: Any, case_id: str, *, run_id: str | None = None, as_of: date | None = None) -> RunForecast:
    """The forecast of :func:`forecast_run` (:func:`dashboard.services.forecasts.read_run`: the
    row's identity put in, labelled when stale); ``BadInput`` naming the file and its first bad
    field when the run's forecast cannot be read."""
    run = forecast_run(store, case_id, run_id=run_id, as_of=as_of)
    try:
        return read_run(store, run)
    except ForecastUnreadable as exc:
        raise BadInput(str(exc)) from None


def forecast_of(store: Any, case_id: str, *, run_id: str | None = None, as_of: date | None = None) -> dict[str, Any]:
    """:func:`select_forecast` as the plain JSON object of its file, for :mod:`dashboard.report`
    until it reads the typed document (everything else uses :func:`select_forecast`)."""
    return select_forecast(store, case_id, run_id=run_id, as_of=as_of).document.to_json_dict()


def forecast_table(doc: ForecastDocument) -> list[dict[str, Any]]:
    """One row per outcome and horizon (a resolved outcome: one row saying so)."""
    rows = []
    diag = "ok" if doc.diagnostics.ok else "FAILED: " + "; ".join(doc.diagnostics.problems)
    for o in doc.outcomes:
        if o.resolved:
            rows.append(
                {
                    "outcome": o.id,
                    "years": None,
                    "p_mean": None,
                    "p_05": None,
                    "p_95": None,
                    "mcse": None,
                    "status": f"resolved {o.resolution_date}",
                    "diagnostics": diag,
                }
            )
            continue
        for h in o.horizons:
            rows.append(
                {
                    "outcome": o.id,
                    "years": h.years,
                    "p_mean": h.p_mean,
                    "p_05": h.p_05,
                    "p_95": h.p_95,
                    "mcse": h.mcse,
                    "status": "forecast",
                    "diagnostics": diag,
                }
            )
    return rows
