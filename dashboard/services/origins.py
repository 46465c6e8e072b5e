"""One backtest origin: fit as of 31 December of its year on what was recorded by then, and score
the following calendar year. Runs in this process, a spawned process or a Celery worker
(:mod:`dashboard.services.tasks`); :mod:`dashboard.services.backtests` dispatches the origins and
gathers the document."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

Progress = Callable[[float, str], None]

#: Predictive draws per posterior draw for each held-out row.
PER_DRAW = 2


def origin_date(year: int) -> date:
    return date(year, 12, 31)


def window_end(year: int) -> date:
    return date(year + 1, 12, 31)


def evaluate_origin(
    case: Any,
    fit_frame: Any,
    later_frame: Any,
    year: int,
    settings: dict[str, Any],
    per_draw: int = PER_DRAW,
    reviewed: dict[str, Any] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Fit as of origin ``year`` and score the following year (runs in a worker process).

    ``reviewed``: the review records known when the backtest started. Like the case file they
    are today's knowledge (a series confirmed complete through a date is complete through every
    earlier one); each design clips them to its own as-of date, so nothing after the origin
    enters its fit.
    """
    from models.backtest import score_origin
    from models.fit import FitSettings
    from models.predictive import forecast_origin

    fit_settings = FitSettings(**settings)
    forecast = forecast_origin(
        case,
        fit_frame,
        later_frame,
        origin=origin_date(year),
        window_end=window_end(year),
        settings=fit_settings,
        per_draw=per_draw,
        reviewed=reviewed,
        progress=progress,
    )
    scored = score_origin(forecast, case, seed=fit_settings.seed + year)
    return scored | {"ran_on": {"host": socket.gethostname(), "pid": os.getpid()}}


def evaluate_stored_origin(
    case_id: str,
    year: int,
    settings: dict[str, Any],
    *,
    case_hash: str,
    known_at: str,
    per_draw: int = PER_DRAW,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """:func:`evaluate_origin` on the store of this process's environment (a Celery worker's).

    Reads the case, which must still be the one the backtest started with (``case_hash``), and
    the observations as recorded by ``known_at`` (ISO time, when the backtest started), exactly
    as :func:`dashboard.services.backtests.run_backtest` reads them for a local origin.
    """
    from dashboard.services.context import Failure, open_store

    store = open_store()
    try:
        loaded = store.get_case(case_id)
        if loaded.hash != case_hash:
            raise Failure(
                f"the case '{case_id}' changed in the store since the backtest started "
                f"(hash {loaded.hash[:12]}, not {case_hash[:12]}); run the backtest again."
            )
        fit_frame, later, reviewed = frames(store, case_id, year, datetime.fromisoformat(known_at))
    finally:
        store.close()
    return evaluate_origin(loaded.case, fit_frame, later, year, settings, per_draw, reviewed, progress)


def frames(store: Any, case_id: str, year: int, known_at: datetime) -> tuple[Any, Any, dict[str, Any]]:
    """An origin's fit frame (what was recorded by its date), the frame it is scored on, and the
    review records known at ``known_at`` (see :func:`evaluate_origin`)."""
    return (
        store.observations(case_id, as_of=origin_date(year), known_at=known_at),
        store.observations(case_id, known_at=known_at),
        store.reviews(case_id, known_at=known_at),
    )
