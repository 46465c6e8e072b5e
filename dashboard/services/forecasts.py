"""A run's forecast as every front end reads it: :func:`load_forecast`, the one loader.

A fit writes its forecast once, into the run directory's ``forecast.json``; the file's schema and
parser are :mod:`models.document`. The pages, the command line and the reports read it only
through this module, which adds what the store knows about the run:

Identity
    The store's run row is authoritative for the run's id, as-of date, creation time and
    diagnostics flag; they are put into the document
    (:meth:`~models.document.ForecastDocument.with_identity`).

Stale case or model (:class:`~models.document.ForecastStale`)
    The run is checked against the case as it is stored now and against the model this Harbinger
    runs (:data:`models.version.MODEL_VERSION`). A run fitted on an earlier version of the case
    (the case file was changed and loaded again) or with another model version is still shown —
    it is the newest forecast there is, and a refit takes minutes — but never as if nothing had
    happened: :attr:`RunForecast.stale` holds the sentence saying so, which ends "refit the case."
    The run bar and the Reports page show it as a red label
    (:func:`dashboard.services.views.run_summary`), the Overview above the cards next to its
    Refit button, and ``harbinger forecast`` on standard error. (The report document does not
    yet: :mod:`dashboard.report` still reads :func:`dashboard.services.views.load_forecast`'s
    dict, which is this loader without a store, so without the case check.)

Cache
    A parsed document is immutable, so it is shared, never copied: it is kept per file version
    (path and modification time), run row identity, and case and model version compared; a
    callback re-reads nothing while these stay the same. What is built from a forecast may be
    remembered under :attr:`RunForecast.key` (:func:`dashboard.services.views.run_cached`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dashboard.services.context import as_date
from indicators.errors import BadInput
from models.document import ForecastDocument, ForecastStale, ForecastUnreadable, forecast_path, read_forecast
from models.version import MODEL_VERSION

#: How many parsed forecasts are kept (the current and previous run of a case or two, and a report's).
CACHE_SIZE = 8


@dataclass(frozen=True, eq=False)
class RunForecast:
    """A run's forecast document as the store sees the run."""

    document: ForecastDocument
    """The parsed ``forecast.json``, with the run row's identity put in. Shared: immutable."""
    key: tuple[Any, ...]
    """What identifies this forecast: file version, run row, case and model version compared."""
    stale: str | None = None
    """Why the run no longer forecasts the case as stored (an earlier case version, another model
    version), as one sentence ending "refit the case."; ``None`` when it does."""

    @property
    def run_id(self) -> str:
        return self.document.run_id


def load_forecast(store: Any, run: Mapping[str, Any] | None) -> RunForecast | None:
    """The forecast of an ok run, or ``None`` when there is none to show: no run, a run that is
    not ``ok``, a run without a path, or a missing or unreadable file (:func:`read_run` says why).

    ``store`` gives the stored case the run is checked against; ``None`` checks the model version
    only.
    """
    if not run or run.get("status") != "ok" or not run.get("path"):
        return None
    try:
        return read_run(store, run)
    except ForecastUnreadable:
        return None


def read_run(store: Any, run: Mapping[str, Any]) -> RunForecast:
    """The forecast of ``run`` (a store row with a ``path``); :class:`ForecastUnreadable` (a
    ``ValueError`` naming the file and its first bad field) when its file cannot be read."""
    path = forecast_path(run["path"])
    try:
        mtime_ns = path.stat().st_mtime_ns
    except OSError:
        mtime_ns = None  # read_forecast names the problem
    identity = (
        str(run["id"]),
        _day(run.get("as_of")),
        _flag(run.get("diagnostics_ok")),
        _moment(run.get("created_at")),
    )
    return _read(str(path), mtime_ns, identity, _stored_case_hash(store, run.get("case_id")), MODEL_VERSION)


def forget() -> None:
    """Drop every kept forecast."""
    _read.cache_clear()


@functools.lru_cache(maxsize=CACHE_SIZE)
def _read(
    path: str, mtime_ns: int | None, identity: tuple[Any, ...], case_hash: str | None, model_version: str
) -> RunForecast:
    run_id, as_of, diagnostics_ok, created_at = identity
    try:
        document = read_forecast(path, case_hash=case_hash, model_version=model_version)
        stale = None
    except ForecastStale as exc:
        document, stale = exc.document, str(exc)
    document = document.with_identity(run_id=run_id, as_of=as_of, diagnostics_ok=diagnostics_ok, created_at=created_at)
    return RunForecast(
        document=document, key=("forecast", path, mtime_ns, *identity, case_hash, model_version), stale=stale
    )


def _stored_case_hash(store: Any, case_id: str | None) -> str | None:
    """The hash of the case as stored now; ``None`` without a store or a stored case (not checked)."""
    if store is None or case_id is None:
        return None
    try:
        return store.get_case(case_id).hash
    except BadInput:
        return None


def _day(value: Any) -> date | None:
    return None if value is None else as_date(value)


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _moment(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


# ---------------------------------------------------------------------------- which run


def current_runs(store: Any, case_id: str) -> list[dict[str, Any]]:
    """Good runs, most current first: runs passing their diagnostics before those failing them
    (a failing fit never displaces a passing forecast; it is shown, labelled, only while no run
    passes), then the latest as-of date, then the newest fit (a replay of the past fitted today
    does not displace today's forecast)."""
    runs = store.runs(case_id, status="ok")
    return sorted(
        runs, key=lambda r: (bool(r.get("diagnostics_ok")), as_date(r["as_of"]), r["created_at"]), reverse=True
    )


def current_run(store: Any, case_id: str) -> dict[str, Any] | None:
    """The run the views show: the most current good run (see :func:`current_runs`)."""
    runs = current_runs(store, case_id)
    return runs[0] if runs else None


def previous_ok_run(runs: list[dict[str, Any]], run_id: str) -> dict[str, Any] | None:
    """The run to compare ``run_id`` with: the newest run created before it that finished and
    passed its diagnostics (``runs`` newest first, as the store lists). A run that failed its
    diagnostics is never the baseline of a change; with no passing run before, there is none."""
    ids = [r["id"] for r in runs]
    if run_id not in ids:
        return None
    for r in runs[ids.index(run_id) + 1 :]:
        if r.get("status") == "ok" and r.get("diagnostics_ok"):
            return r
    return None


__all__ = [
    "CACHE_SIZE",
    "RunForecast",
    "current_run",
    "current_runs",
    "forget",
    "load_forecast",
    "previous_ok_run",
    "read_run",
]
