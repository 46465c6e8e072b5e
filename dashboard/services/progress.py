"""How far a running fit has got, for every reader: the stage, a fraction and an estimate.

A fit (:func:`dashboard.services.runs.fit_case`, whoever started it: the dashboard's Refit, its
first-fit trigger, ``harbinger fit`` or a worker) writes its progress into
``<runs_dir>/<run_id>.progress.json``, beside its run directory, which stays the fit's own
(:func:`recorder`), at most once a second and at every change of stage, and removes it when the
run ends. :func:`fit_progress` reads it back for the case's running fit, so any page
opened mid-fit shows the same bar.

Stages, from the progress messages of :mod:`models.fit` and :func:`~dashboard.services.runs.fit_case`:

=============  ==========================================================================
building       the run is recorded and the model built (``building the model``)
compiling      the model compiled for the sampler (``compiling the model``)
tuning         warm-up draws (``sampling: N of M draws`` with N below chains × tune)
sampling       the posterior draws
summarising    diagnostics and forecasts computed and saved (``sampling done``,
               ``computing forecasts``)
=============  ==========================================================================

A retried fit (its diagnostics failed) says ``attempt 2 of 2`` after its message; the stage reads
the same and the attempt is shown beside it. The estimate is the duration of the case's last
finished fit (``finished_at`` − ``created_at`` of its newest ok run) less the time this one has
run.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROGRESS_SUFFIX = ".progress.json"
#: The most often a fit rewrites its progress file within one stage (seconds).
WRITE_EVERY_S = 1.0

STAGES = ("building", "compiling", "tuning", "sampling", "summarising")
STAGE_TEXT = {
    "building": "Building the model",
    "compiling": "Compiling the model",
    "tuning": "Tuning the sampler (warm-up)",
    "sampling": "Sampling the posterior",
    "summarising": "Summarising: diagnostics and forecasts",
    "starting": "Starting the fit",
}

_DRAWS = re.compile(r"sampling: (\d+) of (\d+) draws")
_ATTEMPT = re.compile(r"attempt (\d+) of (\d+)")

Progress = Callable[[float, str], None]


def progress_path(runs_dir: Path | str, run_id: str) -> Path:
    """Where the fit of ``run_id`` records its progress."""
    return Path(runs_dir) / f"{run_id}{PROGRESS_SUFFIX}"


def recorder(
    path: Path, progress: Progress | None, *, suffix: str = "", clock: Callable[[], float] = time.monotonic
) -> Progress:
    """``progress`` (may be ``None``), also writing each reading to ``path`` (:func:`progress_path`)
    (its message followed by ``suffix``, e.g. " · attempt 2 of 2"): at most every
    :data:`WRITE_EVERY_S` seconds, and always when the stage changes. Writing is best effort: a
    failure to write never stops the fit."""
    state: dict[str, Any] = {"at": None, "stage": None}

    def say(fraction: float, message: str) -> None:
        if progress is not None:
            progress(fraction, message)
        stage = stage_of(message)
        now = clock()
        if stage == state["stage"] and state["at"] is not None and now - state["at"] < WRITE_EVERY_S:
            return
        state.update(at=now, stage=stage)
        write(path, fraction, message + suffix)

    return say


def write(path: Path, fraction: float, message: str) -> None:
    """Record a reading (atomically: readers never see half a file)."""
    try:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(
            json.dumps({"fraction": float(fraction), "message": str(message), "at": datetime.now(UTC).isoformat()}),
            encoding="utf-8",
        )
        tmp.replace(path)
    except OSError:
        pass


def clear(path: Path) -> None:
    """Remove a finished run's progress file."""
    try:
        Path(path).unlink(missing_ok=True)
    except OSError:
        pass


def read(path: Path) -> dict[str, Any] | None:
    """The last reading written to ``path``, or ``None``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def stage_of(message: str, settings: Mapping[str, Any] | None = None) -> str:
    """The stage a progress message belongs to (see the module's table); ``settings`` (the run's:
    chains, tune) separate tuning from sampling draws."""
    text = (message or "").lower()
    found = _DRAWS.search(text)
    if found:
        done = int(found.group(1))
        warmup = _warmup(settings)
        return "tuning" if warmup is not None and done < warmup else "sampling"
    if "computing forecasts" in text or "sampling done" in text or "summar" in text or "watch list" in text:
        return "summarising"
    if text.startswith("sampling"):
        return "tuning" if _warmup(settings) else "sampling"
    if "compil" in text:
        return "compiling"
    if "building" in text:
        return "building"
    return "starting"


def _warmup(settings: Mapping[str, Any] | None) -> int | None:
    if not settings:
        return None
    try:
        return int(settings.get("chains") or 1) * int(settings["tune"])
    except (KeyError, TypeError, ValueError):
        return None


def _seconds(a: Any, b: Any) -> float | None:
    if a is None or b is None:
        return None
    a, b = _moment(a), _moment(b)
    return (b - a).total_seconds()


def _moment(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def last_duration(runs: list[Mapping[str, Any]]) -> float | None:
    """Seconds the newest finished ok run took (``runs`` newest first, as the store lists them).

    A first attempt is preferred: a retry reuses the compiled model of its process, so it is
    shorter than a fit that starts afresh (as every fit requested from the dashboard does)."""
    finished = [
        (r, _seconds(r.get("created_at"), r.get("finished_at")))
        for r in runs
        if r.get("status") == "ok" and r.get("finished_at") is not None
    ]
    finished = [(r, s) for r, s in finished if s is not None and s > 0]
    first = [s for r, s in finished if int((r.get("settings") or {}).get("attempt") or 1) == 1]
    return first[0] if first else (finished[0][1] if finished else None)


def fmt_duration(seconds: float) -> str:
    """'40 s', '3 min', '1 h 5 min'."""
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{max(5, round(seconds / 5) * 5):.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def fit_progress(store: Any, case_id: str, *, now: datetime | None = None) -> dict[str, Any] | None:
    """The case's running fit as the progress bar shows it, or ``None`` when none runs.

    ``{"run_id", "stage", "stage_text", "percent" (0..100), "message", "attempt" (text or None),
    "elapsed_s", "estimate_s" (the last fit's duration or None), "remaining_s", "text"}``;
    ``text`` is the one line under the bar, e.g. "Tuning the sampler (warm-up) · 35% · about
    3 min left (the last fit took 5 min)".
    """
    runs = store.runs(case_id)
    running = [r for r in runs if r.get("status") == "running"]
    if not running:
        return None
    run = running[0]
    reading = read(progress_path(store.runs_dir, run["id"])) or {}
    message = str(reading.get("message") or "")
    settings = run.get("settings") or {}
    stage = stage_of(message, settings) if message else "starting"
    percent = round(100 * max(0.0, min(1.0, float(reading.get("fraction") or 0.0))))
    attempt = _ATTEMPT.search(message)
    now = now or datetime.now(UTC)
    elapsed = _seconds(run.get("created_at"), now) or 0.0
    estimate = last_duration([r for r in runs if r is not run])
    remaining = None if estimate is None else estimate - elapsed
    parts = [STAGE_TEXT[stage]]
    if attempt:
        parts.append(f"attempt {attempt.group(1)} of {attempt.group(2)} (the last failed its diagnostics)")
    draws = _DRAWS.search(message)
    if draws:
        parts.append(f"{draws.group(1)} of {draws.group(2)} draws")
    parts.append(f"{percent}%")
    if estimate is None:
        parts.append(f"running {fmt_duration(elapsed)}; no earlier fit to estimate from")
    elif remaining is not None and remaining > 0:
        parts.append(f"about {fmt_duration(remaining)} left (the last fit took {fmt_duration(estimate)})")
    else:
        parts.append(f"taking longer than the last fit ({fmt_duration(estimate)})")
    return {
        "run_id": run["id"],
        "stage": stage,
        "stage_text": STAGE_TEXT[stage],
        "percent": percent,
        "message": message,
        "attempt": attempt.group(0) if attempt else None,
        "elapsed_s": elapsed,
        "estimate_s": estimate,
        "remaining_s": remaining,
        "text": " · ".join(parts),
    }


__all__ = [
    "PROGRESS_SUFFIX",
    "STAGES",
    "clear",
    "fit_progress",
    "fmt_duration",
    "last_duration",
    "progress_path",
    "read",
    "recorder",
    "stage_of",
    "write",
]
