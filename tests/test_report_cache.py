"""The report's per-run content cache (:mod:`dashboard.report.cache`): a later report of a run
draws no chart and runs no analysis again, shows the same content, and never shows an entry of
other inputs or other code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard_support import register_fake_run, sample_forecast
from tests.fits import CASE


def _run_dir(tmp_path: Path, name: str = "r1") -> dict[str, Any]:
    path = tmp_path / name
    path.mkdir()
    return {"id": name, "path": str(path)}


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Count the calls of ``dashboard.report.charts.<name>`` (still drawing the chart)."""
    from dashboard.report import charts

    calls: list[int] = []
    real = getattr(charts, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(charts, name, counted)
    return calls


def _ids(svg: str) -> list[str]:
    return re.findall(r'\bid="([^"]+)"', svg)


def test_a_chart_is_drawn_once_per_run_and_its_ids_stay_unique(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard.report import cache, charts

    calls = _counting(monkeypatch, "horizon_curves")
    run, fc = _run_dir(tmp_path), sample_forecast()
    first = cache.chart(run, "horizon_curves", fc)
    second = cache.chart(run, "horizon_curves", fc)
    assert len(calls) == 1 and first and second
    assert list((Path(run["path"]) / cache.CACHE_DIR).glob("chart-horizon_curves-*.json"))
    # the same drawing, with ids of its own: two copies in one document never share an id
    assert _ids(first) and set(_ids(first)).isdisjoint(_ids(second))
    strip = re.compile(r"\b[rc]\d+-")
    assert strip.sub("", first) == strip.sub("", second) == strip.sub("", charts.horizon_curves(fc))
    for svg in (first, second):  # every reference points at an id of the same chart
        refs = set(re.findall(r'"#([^"]+)"', svg)) | set(re.findall(r"url\(#([^)]+)\)", svg))
        assert refs <= set(_ids(svg))


def test_other_inputs_or_other_code_never_read_an_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard.report import cache

    calls = _counting(monkeypatch, "horizon_curves")
    run, fc = _run_dir(tmp_path), sample_forecast()
    cache.chart(run, "horizon_curves", fc)
    moved = sample_forecast()
    moved["outcomes"][0]["horizons"][0]["p_mean"] += 0.01
    cache.chart(run, "horizon_curves", moved)
    assert len(calls) == 2
    cache.chart(_run_dir(tmp_path, "r2"), "horizon_curves", fc)  # another run: its own entry
    assert len(calls) == 3
    monkeypatch.setattr(cache, "CONTENT_VERSION", cache.CONTENT_VERSION + 1)
    cache.code_version.cache_clear()
    try:
        cache.chart(run, "horizon_curves", fc)
    finally:
        cache.code_version.cache_clear()
    assert len(calls) == 4


def test_an_analysis_is_cached_only_with_a_posterior_and_never_when_it_fails(tmp_path: Path) -> None:
    from types import SimpleNamespace

    import pandas as pd

    from dashboard.report import cache

    run = _run_dir(tmp_path)
    frame = pd.DataFrame({"id": [1, 2], "value": [1.0, 2.0]})
    inputs = SimpleNamespace(run=run, previous_run={"id": "r0"}, case=SimpleNamespace(hash="abc"), observations=frame)
    calls: list[int] = []

    def compute() -> dict[str, Any]:
        calls.append(1)
        return {"n": len(calls)}

    assert cache.analysis(inputs, "explain", compute) == {"n": 1}
    assert cache.analysis(inputs, "explain", compute) == {"n": 2}  # no posterior: nothing to reweight, no entry
    (Path(run["path"]) / "posterior.nc").write_bytes(b"")

    def failing() -> None:
        raise RuntimeError("database locked")

    with pytest.raises(RuntimeError):
        cache.analysis(inputs, "explain", failing)
    assert cache.analysis(inputs, "explain", compute) == {"n": 3}
    assert cache.analysis(inputs, "explain", compute) == {"n": 3}  # read from the run's cache
    other = SimpleNamespace(**{**vars(inputs), "observations": frame.assign(value=[1.0, 3.0])})
    assert cache.analysis(other, "explain", compute) == {"n": 4}  # other observations: computed again


def test_a_later_report_of_a_run_draws_nothing_and_shows_the_same(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard import report
    from dashboard.report import charts
    from indicators.store import Store

    assert cli("init").exit_code == 0
    store = Store.from_env()
    register_fake_run(store, CASE)
    first = report.render(report.build(store, CASE), "html").decode()

    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("a chart was drawn again for a later report of the same run")

    for name in ("horizon_curves", "factor_paths", "indicator_chart", "indicator_legend"):
        monkeypatch.setattr(charts, name, refuse)
    second = report.render(report.build(store, CASE), "html").decode()
    store.close()

    def comparable(text: str) -> str:
        text = re.sub(r"\b[rc]\d+-", "", text)  # chart id prefixes differ per drawing
        return re.sub(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d", "", text)  # when each report was generated

    assert comparable(first) == comparable(second)
    assert second.count('class="chart third"') == first.count('class="chart third"') > 0
    ids = re.findall(r'\bid="([^"]+)"', second)
    assert len(ids) == len(set(ids))
