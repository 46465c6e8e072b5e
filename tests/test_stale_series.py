"""Stale series are missing, not zero; coverage windows and fiscal-year totals of events."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from indicators.case import load_case, shipped_case_path
from indicators.reviews import reviewed_through, shipped_reviews, stale_series, staleness
from models.design import build_design
from tests.test_models import shipped_frame

TODAY = date(2026, 12, 4)


def _case():
    return load_case(shipped_case_path()).case


def test_quarters_after_the_newest_record_are_missing_not_zero() -> None:
    case = _case()
    frame = shipped_frame()
    design = build_design(case, frame, as_of=TODAY)
    for iid in ("china_russia_joint_sea", "china_russia_joint_air_patrol", "leader_summit"):
        rows = design.rows[design.rows.indicator == iid]
        last = design.reviewed_through[iid]
        assert last is not None
        assert rows["end"].max() <= pd.Timestamp(last), iid
        assert not (rows["start"] >= "2026-01-01").any(), iid


def test_case_whose_last_record_is_four_quarters_old() -> None:
    """A case reviewed through 2025-12-31, fitted as of 2026-12-04: the four 2026 quarters are
    missing (no rows, so no zeros), and every open-coverage series is reported stale."""
    case = _case()
    frame = shipped_frame()
    reviews = shipped_reviews(case.id)
    design = build_design(case, frame, as_of=TODAY, reviewed=reviews)
    count = design.rows[design.rows.family == "count"]
    open_ids = [i.id for i in case.indicators if i.aggregation == "events" and i.coverage_end is None]
    assert len(open_ids) == 8
    in_2026 = count[count.indicator.isin(open_ids) & (count.end >= "2026-01-01")]
    assert in_2026.empty  # 32 invented zero rows before this change
    # through 2025Q4 the reviews keep the zeros the analyst confirmed
    summit = count[count.indicator == "leader_summit"]
    assert summit["end"].max() == pd.Timestamp("2025-12-31")
    assert (summit.loc[summit.start >= "2020-01-01", "value"] == 0).all()
    stale = stale_series(case, frame, reviews, today=TODAY)
    assert {s.indicator for s in stale} == set(open_ids)
    assert all(s.days == (TODAY - date(2025, 12, 31)).days for s in stale)
    assert "missing, not zero" in stale[0].sentence()
    # a review record through a later date brings the quarters back, as confirmed zeros
    later = build_design(case, frame, as_of=TODAY, reviewed=reviews | {"leader_summit": date(2026, 9, 30)})
    s2 = later.rows[later.rows.indicator == "leader_summit"]
    assert s2["end"].max() == pd.Timestamp("2026-09-30") and s2["value"].iloc[-3:].sum() == 0
    assert later.data_hash != design.data_hash
    assert not any(
        s.indicator == "leader_summit"
        for s in stale_series(case, frame, reviews | {"leader_summit": date(2026, 9, 30)}, today=TODAY)
    )


def test_stale_threshold_is_configurable(monkeypatch) -> None:
    case = _case()
    frame = shipped_frame()
    reviews = shipped_reviews(case.id)
    monkeypatch.setenv("HARBINGER_STALE_DAYS", "400")
    assert stale_series(case, frame, reviews, today=TODAY) == []
    assert len(staleness(case, frame, reviews, today=TODAY)) == 8
    # default: two quarters
    monkeypatch.delenv("HARBINGER_STALE_DAYS")
    assert stale_series(case, frame, reviews, today=date(2026, 5, 1)) == []


def test_reviewed_through_is_newest_record_or_review() -> None:
    case = _case()
    frame = shipped_frame()
    through = reviewed_through(case, frame)
    joint = frame[frame.indicator == "china_russia_joint_air_patrol"]
    assert through["china_russia_joint_air_patrol"] == joint["end"].max().date()
    assert (
        reviewed_through(case, frame, {"china_russia_joint_air_patrol": date(2020, 1, 1)})[
            "china_russia_joint_air_patrol"
        ]
        == joint["end"].max().date()
    )


def test_coverage_window_ending_on_an_event_is_no_sliver() -> None:
    """japan_pm_change: coverage_end 2024-10-01 is the date of its last event. The one-day cell
    2024Q4 joins 2024Q3's row instead of being a one-day window holding that event."""
    case = _case()
    design = build_design(case, shipped_frame(), as_of=date(2025, 12, 31))
    rows = design.rows[design.rows.indicator == "japan_pm_change"]
    last = rows.iloc[-1]
    assert last["start"] == pd.Timestamp("2024-07-01") and last["end"] == pd.Timestamp("2024-10-01")
    assert last["value"] == 1
    fam = design.families["count"]
    j = int(last["row"])
    w = fam.weights[j][fam.weights[j] > 0]
    np.testing.assert_allclose(w, [1.0, 1 / 92])
    assert (rows["end"] - rows["start"]).dt.days.min() > 40


def test_fiscal_year_count_of_events_is_a_total_over_its_quarters() -> None:
    case = _case()
    frame = shipped_frame()
    design = build_design(case, frame, as_of=date(2025, 12, 31), reviewed=shipped_reviews(case.id))
    rows = design.rows[design.rows.indicator == "russian_airspace_violation"]
    fy21 = rows[rows.start == "2021-04-01"]
    assert len(fy21) == 1 and fy21.iloc[0]["end"] == pd.Timestamp("2022-03-31") and fy21.iloc[0]["value"] == 2
    fam = design.families["count"]
    j = int(fy21.iloc[0]["row"])
    assert (fam.weights[j] > 0).sum() == 4
    np.testing.assert_allclose(fam.weights[j][:4], 1.0)
    # no separate zero rows for the quarters the total covers
    inside = rows[(rows.start > "2021-04-01") & (rows.start < "2022-04-01")]
    assert inside.empty
    # every event is counted once
    assert rows["value"].sum() == frame.loc[frame.indicator == "russian_airspace_violation", "value"].sum()


def test_explain_names_time_passing_and_review_changes() -> None:
    from models.explain import context_changes

    old = {"leader_summit": date(2025, 12, 31), "china_russia_joint_sea": date(2025, 12, 31)}
    new = {"leader_summit": date(2026, 11, 30), "china_russia_joint_sea": date(2025, 12, 31)}
    items = context_changes(date(2025, 12, 31), TODAY, old, new)
    kinds = [c["kind"] for c in items]
    assert kinds[0] == "time" and "+4 quarter(s)" in items[0]["label"]
    review = next(c for c in items if c["kind"] == "review")
    assert review["indicator"] == "leader_summit" and "2025-12-31 → 2026-11-30" in review["label"]
    assert any(c["kind"] == "missing" for c in items)
    assert context_changes(TODAY, TODAY, new, new) == []


def test_explain_table_names_the_remainder() -> None:
    from dashboard.services.analysis import explain_table

    doc = {
        "items": [],
        "outcomes": [
            {"outcome": "peace_treaty", "years": 1, "total_pp": 1.0, "total_log_odds": 0.1, "unexplained_pp": 1.0}
        ],
        "context": [{"kind": "time", "label": "time passing: as of 2025-12-31 → 2026-12-04"}],
    }
    last = explain_table(doc)[-1]
    assert "time passing" in last["what"] and "unexplained" not in last["what"]
