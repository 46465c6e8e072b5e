"""The shipped Northern Territories case and its observations are valid and consistent.

Reads only files shipped in ``data/`` (never ../shared); the CSV is rebuilt by the maintainer
tool data/build_observations.py, which these tests do not run.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date

import pytest

from indicators.case import load_case, shipped_case_path
from indicators.resources import data_path

HEADER = ["indicator", "date", "end", "value", "source", "reliability", "credibility", "note", "recorded_at"]

REQUIRED_FACTORS = {"military_pressure", "diplomatic_engagement", "china_alignment"}
REQUIRED_INDICATORS = {
    "asdf_scrambles_russia",
    "china_russia_joint_sea",
    "china_russia_joint_air_patrol",
    "china_russia_joint_naval_patrol",
    "island_deployment",
    "island_exercise",
    "leader_summit",
    "russian_leader_island_visit",
    "japan_sanctions_package",
    "russian_statement_tone",
}
EVENT_INDICATORS = REQUIRED_INDICATORS - {"asdf_scrambles_russia", "russian_statement_tone"}
REQUIRED_OUTCOMES = {"territorial_transfer", "peace_treaty", "japan_hardline_shift", "russian_military_escalation"}


@pytest.fixture(scope="module")
def case():
    return load_case(shipped_case_path("northern_territories")).case


@pytest.fixture(scope="module")
def rows():
    path = data_path("observations", "northern_territories.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        assert header == HEADER
        body = list(reader)
    assert body, "the shipped observations file is empty"
    assert all(len(r) == len(HEADER) for r in body), "a row has the wrong number of columns"
    return [dict(zip(HEADER, r, strict=True)) for r in body]


def _day(text: str) -> date:
    assert len(text) == 10, f"{text!r} is not an ISO YYYY-MM-DD date"
    return date.fromisoformat(text)


# ---------------------------------------------------------------- the case file
def test_case_identity(case):
    assert case.id == "northern_territories"
    assert case.start == date(2010, 1, 1)


def test_case_has_required_ids(case):
    assert set(case.factor_ids) >= REQUIRED_FACTORS
    assert set(case.indicator_ids) >= REQUIRED_INDICATORS
    assert set(case.outcome_ids) >= REQUIRED_OUTCOMES
    assert len(case.indicators) >= 10
    assert len(case.scenarios) >= 4


def test_required_indicator_kinds(case):
    scr = case.indicator("asdf_scrambles_russia")
    assert (scr.family, scr.aggregation) == ("count", "total")
    for iid in EVENT_INDICATORS:
        ind = case.indicator(iid)
        assert (ind.family, ind.aggregation) == ("count", "events"), iid
        assert ind.coverage_start is not None, iid
    tone = case.indicator("russian_statement_tone")
    assert (tone.family, tone.aggregation) == ("ordinal", "level")
    assert 3 <= len(tone.levels) <= 5
    assert tone.coding and len(tone.coding) > 200


def test_factor_anchors_and_identifiability(case):
    anchors = {"military_pressure": "asdf_scrambles_russia", "diplomatic_engagement": "leader_summit"}
    for f in case.factors:
        assert f.meaning.strip()
        assert "higher" in f.meaning.lower(), f"{f.id}: meaning must state the sign convention"
        assert case.indicator(f.anchor).loadings[f.id] == "positive"
        if f.id in anchors:
            assert f.anchor == anchors[f.id]
        loading = [i for i in case.indicators if f.id in i.loadings]
        assert len(loading) >= 3, f"{f.id} has fewer than 3 indicators"
    assert case.factors[[f.id for f in case.factors].index("china_alignment")].anchor in {
        "china_russia_joint_sea",
        "china_russia_joint_air_patrol",
    }
    for ind in case.indicators:
        assert 1 <= len(ind.loadings) <= 2, ind.id


def test_outcomes(case):
    for o in case.outcomes:
        assert o.horizons == [1, 3, 5, 10]
        assert o.base_rate.reasoning.strip()
        assert o.resolution_criteria.strip()
    hard = case.outcome("japan_hardline_shift")
    assert hard.resolved is not None and hard.resolved.date == date(2022, 2, 23)
    assert hard.resolved.evidence.strip()
    esc = case.outcome("russian_military_escalation").resolution_criteria.lower()
    assert "not count" in esc and "fishing" in esc and "airspace" in esc
    for oid in ("territorial_transfer", "peace_treaty", "russian_military_escalation"):
        assert case.outcome(oid).resolved is None


def test_scenarios(case):
    for s in case.scenarios:
        assert s.source.strip(), s.id
        for h in s.observations:
            assert 0 <= h.months_ahead <= 120
    ids = {s.id for s in case.scenarios}
    assert {
        "vostok_japan_enemy",
        "etorofu_air_defence_helicopters",
        "japan_cuts_economic_cooperation",
        "pm_tenure_cut_short",
    } <= ids


# ---------------------------------------------------------------- the observations
def test_every_row_has_a_source_and_grades(rows):
    for r in rows:
        assert r["source"].strip(), r
        assert r["note"].strip(), r
        assert r["reliability"] in {"A", "B", "C", "D", "E", "F"}, r
        assert r["credibility"] in {"1", "2", "3", "4", "5", "6"}, r


def test_indicators_exist(case, rows):
    known = set(case.indicator_ids)
    unknown = {r["indicator"] for r in rows} - known
    assert not unknown, f"rows for indicators not in the case: {sorted(unknown)}"


def test_every_indicator_has_rows(case, rows):
    counts = Counter(r["indicator"] for r in rows)
    assert all(counts[i] > 0 for i in case.indicator_ids), counts


def test_values_in_range(case, rows):
    for r in rows:
        ind = case.indicator(r["indicator"])
        v = float(r["value"])
        lo, hi = ind.value_range
        assert lo <= v <= hi, r
        if ind.integer_valued:
            assert v == int(v), r


def test_dates(case, rows):
    for r in rows:
        start = _day(r["date"])
        assert start >= case.start, r
        end = _day(r["end"]) if r["end"] else None
        if end is not None:
            assert end >= start, r
        recorded = _day(r["recorded_at"])
        assert recorded >= (end or start), r


def test_event_rows_inside_coverage(case, rows):
    for r in rows:
        ind = case.indicator(r["indicator"])
        if ind.aggregation == "events":
            assert _day(r["date"]) >= ind.coverage_start, r


def test_fiscal_year_totals(rows):
    for r in rows:
        if r["indicator"] in ("asdf_scrambles_russia", "asdf_scrambles_china"):
            start, end = _day(r["date"]), _day(r["end"])
            assert (start.month, start.day) == (4, 1), r
            assert end == date(start.year + 1, 3, 31), r
    years = [r["date"] for r in rows if r["indicator"] == "asdf_scrambles_russia"]
    assert len(years) == len(set(years)), "one observation per fiscal year"


def test_grades_follow_confidence_mapping(rows):
    allowed = {("B", "2"), ("C", "3"), ("D", "4")}
    for r in rows:
        assert (r["reliability"], r["credibility"]) in allowed, r


def test_no_duplicate_rows(rows):
    full = Counter(tuple(r[c] for c in HEADER) for r in rows)
    assert all(n == 1 for n in full.values())
    keys = Counter((r["indicator"], r["date"], r["end"], r["source"]) for r in rows)
    dup = [k for k, n in keys.items() if n > 1]
    assert not dup, dup


def test_statement_tone_rows_carry_their_reasoning(case, rows):
    levels = case.indicator("russian_statement_tone").levels
    tone = [r for r in rows if r["indicator"] == "russian_statement_tone"]
    assert tone
    for r in tone:
        level = int(r["value"])
        assert f"Coded {level} ({levels[level]})" in r["note"], r
