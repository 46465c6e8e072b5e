"""A report's costly content, computed once per run and kept in the run's directory.

A report of a run draws the same charts and runs the same analyses (the case's scenarios and the
explanation of the move since the previous run, both by reweighting the run's draws) every time
it is built; only the cheap parts (identity, warnings, tables read from the store) can change
between two reports of one run. So the costly parts are computed on the first report and kept as
JSON in ``<run directory>/report-cache/``, one file per part: a later report of the run (HTML or
PDF, from the command line or the Reports page) reads them and imports neither matplotlib nor
the models' sampling libraries.

An entry's file name is a digest of everything its value depends on, so a stale entry is never
read, only left unused:

- the run (its id) and the part's own arguments (a chart's forecast data; for an analysis the
  previous run, the case's hash and the observations in effect at the run's as-of date,
  :func:`analysis_key`);
- :func:`code_version`: :data:`CONTENT_VERSION` with a digest of the source of the code that
  computes the content (the report, the services and the models) and the versions of the
  libraries that draw and compute it, so a changed section, chart or model never shows an old
  result.

A value is stored as the JSON round trip of what was computed, and the first report uses that
round trip too, so a report shows the same whether its content came from the cache or not. The
analyses are cached only for a run with a saved posterior (what they read); one that failed
(raised) is not cached, and the next report tries again. A cache that cannot be written (a
read-only store) only costs the time.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Raise when cached content changes in a way the source digest cannot see (e.g. a data file).
CONTENT_VERSION = 1
#: The run directory's subdirectory holding the entries.
CACHE_DIR = "report-cache"
#: Packages whose source computes cached content (their ``.py`` files enter :func:`code_version`).
SOURCE_PACKAGES = ("dashboard/report", "dashboard/services", "models")
#: Libraries whose version enters :func:`code_version` (they draw the charts, compute the analyses).
LIBRARIES = ("matplotlib", "numpy", "scipy", "arviz", "pandas")

log = logging.getLogger(__name__)

_chart_ids = itertools.count(1)
_CHART_ID = re.compile(r'(\bid="|"#|url\(#)(?:c|r)\d+-')


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """Digest of :data:`CONTENT_VERSION`, the source of :data:`SOURCE_PACKAGES` and the versions of
    :data:`LIBRARIES` (computed once per process: a few milliseconds)."""
    from importlib import metadata

    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256(f"report content {CONTENT_VERSION}".encode())
    for package in SOURCE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    for name in LIBRARIES:
        try:
            digest.update(f"{name} {metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name} absent".encode())
    return digest.hexdigest()[:16]


def _entry(run: dict[str, Any], part: str, key: Any) -> Path | None:
    """The file of ``part`` with ``key`` for ``run``; None for a run without a directory."""
    if not run.get("path"):
        return None
    text = json.dumps([code_version(), run.get("id"), part, key], sort_keys=True, default=str)
    return Path(run["path"]) / CACHE_DIR / f"{part}-{hashlib.sha256(text.encode()).hexdigest()[:24]}.json"


def cached(run: dict[str, Any], part: str, key: Any, compute: Callable[[], Any]) -> Any:
    """``compute()`` for ``run`` (its JSON round trip), from the run's cache when it holds this
    ``part`` with this ``key``, else computed and stored. An exception from ``compute`` passes
    through and nothing is stored; a value JSON cannot hold is returned as is, uncached."""
    path = _entry(run, part, key)
    if path is not None:
        try:
            return json.loads(path.read_text(encoding="utf-8"))["value"]
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("report cache: ignoring unreadable %s (%s)", path, exc)
    value = compute()
    try:
        text = json.dumps({"run_id": run.get("id"), "part": part, "value": value}, allow_nan=True)
    except (TypeError, ValueError) as exc:
        log.warning("report cache: %s of run %s cannot be stored as JSON (%s)", part, run.get("id"), exc)
        return value
    if path is not None:
        _write(path, text)
    return json.loads(text)["value"]


def _write(path: Path, text: str) -> None:
    """Write atomically, as the watch list's cache is written (readers in other processes see no
    entry or the whole file)."""
    from dashboard.services.watch import _write_atomically

    try:
        path.parent.mkdir(exist_ok=True)
        _write_atomically(path, text)
    except OSError as exc:
        log.info("report cache: cannot write %s (%s)", path, exc)


def chart(run: dict[str, Any], name: str, *args: Any, **kwargs: Any) -> str | None:
    """``dashboard.report.charts.<name>(*args, **kwargs)``: a chart's SVG, from the run's cache
    when it holds it. The SVG's element ids are given a prefix unique in this process, as
    :func:`dashboard.report.charts._svg` gives them, so charts drawn at different times never
    share an id within one document."""

    def draw() -> str | None:
        from dashboard.report import charts

        return getattr(charts, name)(*args, **kwargs)

    svg = cached(run, f"chart-{name}", [args, kwargs], draw)
    if svg is None:
        return None
    prefix = f"r{next(_chart_ids)}-"
    return _CHART_ID.sub(lambda m: m.group(1) + prefix, svg)


def observations_digest(frame: Any) -> str:
    """Digest of an observations frame (its values, row by row, and its columns)."""
    import pandas as pd

    digest = hashlib.sha256(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:24]


def analysis_key(inputs: Any) -> dict[str, Any] | None:
    """What an analysis of the report's run reads besides the run: the previous good run, the
    case as stored and the observations in effect at the run's as-of date. None when the run
    has no saved posterior (nothing to reweight: the analysis is not cached)."""
    from dashboard.report.exports import POSTERIOR_FILE

    path = inputs.run.get("path")
    if not path or not (Path(path) / POSTERIOR_FILE).is_file():
        return None
    return {
        "previous_run": inputs.previous_run["id"] if inputs.previous_run else None,
        "case_hash": inputs.case.hash,
        "observations": observations_digest(inputs.observations),
    }


def analysis(inputs: Any, part: str, compute: Callable[[], Any]) -> Any:
    """``compute()``, an analysis of the report's run, cached per :func:`analysis_key`."""
    key = analysis_key(inputs)
    if key is None:
        return compute()
    return cached(inputs.run, part, key, compute)


__all__ = ["CACHE_DIR", "CONTENT_VERSION", "analysis", "analysis_key", "cached", "chart", "code_version"]
