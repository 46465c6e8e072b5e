"""A small backtest document with known scores, for page, figure and browser tests (no sampler).

Two origins of the shipped case, a few rows each, built with :func:`models.backtest.summarise`
exactly as ``harbinger backtest`` builds its document, and saved the way it saves one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CASE = "northern_territories"


def _row(
    indicator: str,
    family: str,
    value: float,
    crps: float,
    pers: float,
    clim: float,
    c50: bool,
    c90: bool,
    pit: float,
    p_pos: float,
    start: str,
) -> dict[str, Any]:
    return {
        "indicator": indicator,
        "family": family,
        "start": start,
        "end": start,
        "value": value,
        "exposure": 1.0,
        "observation_ids": [],
        "pred_mean": value,
        "pred_p05": 0.0,
        "pred_p95": value + 2,
        "crps": crps,
        "crps_persistence": pers,
        "crps_climatology": clim,
        "covered_50": c50,
        "covered_90": c90,
        "pit_covered_50": c50,
        "pit_covered_90": c90,
        "pit": pit,
        "p_positive": p_pos,
    }


def sample_origins() -> list[dict[str, Any]]:
    diag_ok = {"ok": True, "problems": []}
    diag_bad = {"ok": False, "problems": ["R-hat 1.2 above 1.01"]}
    return [
        {
            "origin": 2020,
            "as_of": "2020-12-31",
            "window_end": "2021-12-31",
            "n_observations": 120,
            "data_hash": "a",
            "diagnostics": diag_ok,
            "seconds": 10.0,
            "n_scored": 3,
            "n_unscored": 0,
            "rows": [
                _row("leader_summit", "count", 1, 0.30, 0.60, 0.40, True, True, 0.70, 0.6, "2021-01-01"),
                _row("leader_summit", "count", 0, 0.10, 0.50, 0.20, True, True, 0.20, 0.3, "2021-04-01"),
                _row("asdf_scrambles_russia", "count", 266, 20.0, 10.0, 40.0, False, True, 0.93, 1.0, "2020-04-01"),
            ],
            "outcomes": [
                {
                    "id": "japan_hardline_shift",
                    "as_of": "2020-12-31",
                    "at_risk": True,
                    "happened": False,
                    "p": 0.05,
                    "p_05": 0.01,
                    "p_95": 0.12,
                },
                {
                    "id": "peace_treaty",
                    "as_of": "2020-12-31",
                    "at_risk": True,
                    "happened": False,
                    "p": 0.01,
                    "p_05": 0.001,
                    "p_95": 0.03,
                },
            ],
        },
        {
            "origin": 2021,
            "as_of": "2021-12-31",
            "window_end": "2022-12-31",
            "n_observations": 130,
            "data_hash": "b",
            "diagnostics": diag_bad,
            "seconds": 11.0,
            "n_scored": 2,
            "n_unscored": 1,
            "rows": [
                _row("leader_summit", "count", 2, 0.90, 1.10, 1.00, False, False, 0.99, 0.5, "2022-01-01"),
                _row("russian_statement_tone", "ordinal", 0, 0.40, 2.00, 0.80, True, True, 0.05, 0.9, "2022-03-01"),
            ],
            "outcomes": [
                {
                    "id": "japan_hardline_shift",
                    "as_of": "2021-12-31",
                    "at_risk": True,
                    "happened": True,
                    "p": 0.2,
                    "p_05": 0.05,
                    "p_95": 0.4,
                },
                {
                    "id": "peace_treaty",
                    "as_of": "2021-12-31",
                    "at_risk": True,
                    "happened": False,
                    "p": 0.02,
                    "p_05": 0.002,
                    "p_95": 0.05,
                },
            ],
        },
    ]


def sample_backtest() -> dict[str, Any]:
    """The document ``harbinger backtest`` would save for :func:`sample_origins`."""
    from indicators.case import load_case, shipped_case_path
    from models.backtest import summarise

    case = load_case(shipped_case_path()).case
    origins = sample_origins()
    return {
        "schema": 1,
        "case": CASE,
        "case_hash": "x",
        "model_version": "test",
        "created_at": "2026-01-02T03:04:05+00:00",
        "settings": {"draws": 300, "tune": 300, "chains": 2, "seed": 1, "sampler": "pymc", "per_draw": 2, "jobs": 1},
        "origins": origins,
        "failed_origins": [],
        **summarise(
            origins,
            indicators=[{"id": i.id, "name": i.name, "family": i.family} for i in case.indicators],
            outcomes=[
                {
                    "id": o.id,
                    "question": o.question,
                    "base_rate": o.base_rate.annual,
                    "resolution_date": o.resolved.date.isoformat() if o.resolved else None,
                }
                for o in case.outcomes
                if o.id in ("japan_hardline_shift", "peace_treaty")
            ],
        ),
    }


def save_sample_backtest(home: Path) -> Path:
    from dashboard.services.backtests import save

    return save(home, sample_backtest())


def old_backtest(*, rows: bool = True) -> dict[str, Any]:
    """:func:`sample_backtest` as a backtest saved before the robust skill figures existed: no
    ``summary.skill`` and no outcome ``skill_log_score_base_rate``; ``rows=False`` also drops the
    per-row scores they could be computed from."""
    doc = sample_backtest()
    del doc["summary"]["skill"]
    for o in doc["outcomes"]:
        del o["skill_log_score_base_rate"]
    if not rows:
        for o in doc["origins"]:
            del o["rows"]
    return doc


def save_old_backtest(home: Path, *, rows: bool = True) -> Path:
    from dashboard.services.backtests import save

    return save(home, old_backtest(rows=rows))
