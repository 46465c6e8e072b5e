"""Rebuild the shipped observations of the Northern Territories case from the reference data.

Maintainer tool (the tests never run it; they must not read ../shared)::

    python data/build_observations.py --reference ../shared/reference-data \
        --output data/observations/northern_territories.csv [--left-out LEFT_OUT.md]

Every row of every reference CSV gets an explicit decision below: either it becomes one
observation (with the case's indicator id, the value that indicator counts, dates converted as
data/README.md describes, the reference source text kept exactly, and a grade mapped from the
reference confidence), or it is left out with a reason. A reference row with no decision, or a
decision with no reference row, stops the build, so nothing is dropped silently when the
reference data change. ``--left-out`` writes the Markdown table of left-out rows that
data/README.md carries.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import re
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

HEADER = ["indicator", "date", "end", "value", "source", "reliability", "credibility", "note", "recorded_at"]
CASE_START = date(2010, 1, 1)

# Reference confidence -> (Admiralty reliability, credibility).
GRADES = {"high": ("B", 2), "medium": ("C", 3), "low": ("D", 4)}

# Order of indicators in the output (the case file's order).
ORDER = [
    "asdf_scrambles_russia",
    "russian_airspace_violation",
    "island_deployment",
    "island_exercise",
    "island_buildup_announcement",
    "leader_summit",
    "two_plus_two_meeting",
    "economic_cooperation_milestone",
    "russian_statement_tone",
    "russian_leader_island_visit",
    "japan_sanctions_package",
    "russian_countermeasure",
    "japan_pm_change",
    "china_russia_joint_sea",
    "china_russia_joint_air_patrol",
    "china_russia_joint_naval_patrol",
    "asdf_scrambles_china",
]

TONE_LEVELS = ["closed", "hard-line", "guarded", "engaged", "conciliatory"]


@dataclass(frozen=True)
class Keep:
    """Keep a reference row as an observation of ``indicator``."""

    indicator: str
    value: float | None = None  # None: the reference value; events rows usually give 1
    note: str = ""  # added after the reference description
    recorded_at: str | None = None  # None: the default rule for the row's kind
    date: str | None = None  # override of the converted start date
    end: str | None = None  # override of the converted end date ("" = single day)


@dataclass(frozen=True)
class Drop:
    """Leave a reference row out, for a stated reason."""

    reason: str


def tone(level: int, reasoning: str) -> Keep:
    return Keep("russian_statement_tone", value=level, note=f"Coded {level} ({TONE_LEVELS[level]}): {reasoning}")


PARTIAL = (
    "Partial fiscal-year figure; left out because the full fiscal-year total of the same "
    "series is kept and the partial total would double-count the same scrambles."
)
TOTAL_ALL = (
    "Scrambles against all countries; left out because it is the sum of the kept Russia and "
    "China series plus others, so it would count the same scrambles twice."
)
FY2009 = (
    "FY2009 runs 2009-04-01..2010-03-31 and starts before the case (2010-01-01); the model's "
    "grid starts at the case start, so the whole year's total would be forced into Jan-Mar 2010."
)

# Decisions keyed by (file, reference date, reference indicator).
D: dict[tuple[str, str, str], Keep | Drop] = {}

# ---------------------------------------------------------------- scrambles.csv
for fy in range(2009, 2025):
    D[("scrambles.csv", f"FY{fy}", "asdf_scrambles_total")] = Drop(TOTAL_ALL)
    if fy == 2009:
        D[("scrambles.csv", "FY2009", "asdf_scrambles_russia")] = Drop(FY2009)
        D[("scrambles.csv", "FY2009", "asdf_scrambles_china")] = Drop(FY2009)
    else:
        D[("scrambles.csv", f"FY{fy}", "asdf_scrambles_russia")] = Keep("asdf_scrambles_russia")
        D[("scrambles.csv", f"FY{fy}", "asdf_scrambles_china")] = Keep("asdf_scrambles_china")
D[("scrambles.csv", "FY2012", "asdf_scrambles_russia")] = Keep(
    "asdf_scrambles_russia", note="Reference caveat: one AFP 2013 piece gives 247; 248 (Kyodo, AFP 2014) kept."
)
D[("scrambles.csv", "FY2014", "asdf_scrambles_northern_air_defense_force")] = Drop(
    "Scrambles by one regional command (Northern Air Defense Force), one year only; a subset of the "
    "scrambles already counted, mostly against Russian aircraft, so it would double-count."
)
D[("scrambles.csv", "FY2022", "asdf_scrambles_ufo_other")] = Drop(
    "Scrambles against unidentified objects: not Russian or Chinese activity; one year only."
)
for key in [
    ("FY2010-H1", "asdf_scrambles_russia"),
    ("FY2010-H1", "asdf_scrambles_total"),
    ("FY2012-Q1Q3", "asdf_scrambles_total"),
    ("FY2012-Q1Q3", "asdf_scrambles_russia"),
    ("FY2012-Q1Q3", "asdf_scrambles_china"),
    ("FY2013-Q1Q3", "asdf_scrambles_total"),
    ("FY2014-Q1", "asdf_scrambles_russia"),
    ("FY2014-H1", "asdf_scrambles_total"),
    ("FY2014-H1", "asdf_scrambles_russia"),
    ("FY2014-H1", "asdf_scrambles_china"),
    ("FY2014-Q1Q3", "asdf_scrambles_russia"),
    ("FY2015-Q1", "asdf_scrambles_russia"),
    ("FY2015-H1", "asdf_scrambles_russia"),
    ("FY2015-Q1Q3", "asdf_scrambles_russia"),
    ("FY2016-H1", "asdf_scrambles_total"),
    ("FY2016-Q1Q3", "asdf_scrambles_russia"),
    ("FY2017-H1", "asdf_scrambles_russia"),
    ("FY2017-Q1Q3", "asdf_scrambles_russia"),
    ("FY2018-Q1", "asdf_scrambles_russia"),
    ("FY2018-H1", "asdf_scrambles_russia"),
    ("FY2018-Q1Q3", "asdf_scrambles_total"),
    ("FY2020-H1", "asdf_scrambles_russia"),
    ("FY2020-Q1Q3", "asdf_scrambles_russia"),
    ("FY2021-Q1Q3", "asdf_scrambles_russia"),
    ("FY2022-Q1", "asdf_scrambles_russia"),
    ("FY2023-Q1", "asdf_scrambles_russia"),
    ("FY2023-Q1Q3", "asdf_scrambles_russia"),
    ("FY2024-H1", "asdf_scrambles_russia"),
]:
    D[("scrambles.csv", *key)] = Drop(PARTIAL)
D[("scrambles.csv", "2008-02-09", "russia_airspace_violation_event")] = Drop(
    "Before the case start (2010-01-01); kept in the README as evidence that no Russian violation "
    "happened between 2008-02 and 2013-02."
)
D[("scrambles.csv", "2013-02-07", "russia_airspace_violation_event")] = Keep(
    "russian_airspace_violation", value=1, note="One violation (two Su-27 together, ~1 min)."
)
D[("scrambles.csv", "2013-08-22", "russia_airspace_violation_event")] = Keep(
    "russian_airspace_violation", value=1, note="One violation reported (two Tu-95 together); Russia denied."
)
D[("scrambles.csv", "2015-09-15", "russia_airspace_violation_event")] = Keep(
    "russian_airspace_violation", value=1, note="The only violation in FY2015."
)
D[("scrambles.csv", "2019-06-20", "russia_airspace_violation_event")] = Keep(
    "russian_airspace_violation", value=2, note="Two violations on one day (reference value 2)."
)
D[("scrambles.csv", "FY2021", "russia_airspace_violation_count")] = Keep(
    "russian_airspace_violation",
    value=2,
    recorded_at="2022-04-29",
    note="Fiscal-year count over FY2021 (dates of the two violations not in the reference); "
    "recorded_at = Taro Kono blog 2022-04-29, the dated source of the FY2021 figures.",
)
D[("scrambles.csv", "FY2023", "russia_airspace_violation_count")] = Keep(
    "russian_airspace_violation",
    value=1,
    recorded_at="2024-04-24",
    note="Fiscal-year count over FY2023 (date not in the reference); recorded_at = Stars and Stripes 2024-04-24.",
)
D[("scrambles.csv", "2024-09-23", "russia_airspace_violation_event")] = Keep(
    "russian_airspace_violation", value=3, note="Three violations by one Il-38 on one day (reference value 3)."
)
D[("scrambles.csv", "1967-2023", "airspace_violations_total_cumulative")] = Drop(
    "Cumulative 1967-2023 total, mostly before the case start; cannot be split by year. Used only "
    "in the base-rate reasoning of russian_military_escalation."
)
D[("scrambles.csv", "1958-2021-07-19", "asdf_scrambles_cumulative")] = Drop(
    "Cumulative scrambles since 1958, all countries; not a period total of the case."
)

# ---------------------------------------------------------------- military_islands.csv
M = "military_islands.csv"
D[(M, "2011-02", "deployment_plan_announced")] = Keep(
    "island_buildup_announcement", value=1, note="Plan announced (Yakhont, Tor-M2, Mi-28), not a deployment."
)
D[(M, "2011-02", "official_visit_military")] = Keep(
    "island_buildup_announcement",
    value=1,
    note="Defence Minister's visit with announcement of re-equipment of the 18th Machine-Gun Artillery Division.",
)
D[(M, "2014-04-18", "military_construction_plan")] = Keep(
    "island_buildup_announcement", value=1, note="Construction plan (>150 facilities); reference value 150 is its size."
)
D[(M, "2014-08-12", "exercise_on_islands_troops")] = Keep(
    "island_exercise", value=1, note="One drill, Aug 12-16; reference value 1000 is the troop number (>1,000)."
)
D[(M, "2014-09", "infrastructure_dual_use")] = Drop(
    "Opening of the civil Yasny airport on Iturup; its military use is recorded by the 2018-02 decree "
    "row (island_buildup_announcement), and the Ivanov visit is not a President/PM visit."
)
D[(M, "2015-07-24", "rearmament_statement")] = Keep(
    "island_buildup_announcement", value=1, note="Rearmament and construction of military towns announced."
)
D[(M, "2015-11-10", "military_construction_plan")] = Keep(
    "island_buildup_announcement",
    value=1,
    note="Construction of two bases announced; reference value 220 is the object count.",
)
D[(M, "2015-12-01", "military_construction_plan")] = Keep(
    "island_buildup_announcement",
    value=1,
    note="Plan for 392 buildings (reference value 392); announced intention, not a verified completion.",
)
D[(M, "2016-03", "deployment_plan_announced")] = Keep(
    "island_buildup_announcement",
    value=1,
    note="Bal/Bastion and Eleron-3 deployment plan announced; day of the statement unknown, so the month is the interval.",
)
D[(M, "2016-11-22", "antiship_missile_deployment")] = Keep(
    "island_deployment",
    value=2,
    note="Two deployments: Bal on Kunashiri and Bastion on Etorofu (one event per system per island).",
)
D[(M, "2017-02-22", "division_deployment_plan")] = Keep(
    "island_buildup_announcement", value=1, note="Plan to place a division on the Kurils in 2017; announced intention."
)
D[(M, "2018-02", "dual_use_airfield_decree")] = Keep(
    "island_buildup_announcement", value=1, note="Decree allowing military aircraft at Yasny (Iturup); day not given."
)
D[(M, "2018-03-26", "fighter_deployment")] = Keep(
    "island_exercise",
    value=1,
    note="First landing of two Su-35S on Iturup during a training flight: training activity, not yet a deployment "
    "(the deployment is the 2018-08-03 row).",
)
D[(M, "2018-07-31", "japan_request_demilitarize")] = Drop(
    "A Japanese request made at the 2018-07-31 2+2, which is itself kept (two_plus_two_meeting); not a Russian action."
)
D[(M, "2018-08-03", "fighter_deployment")] = Keep(
    "island_deployment", value=1, note="Su-35S flight on trial combat duty at Yasny (Iturup), 2-month rotation."
)
D[(M, "2018-12-17", "barracks_construction")] = Keep(
    "island_buildup_announcement", value=1, note="Troops to move into 4 new barracks complexes (reference value 4)."
)
D[(M, "2019-03-12", "exercise_on_islands_troops")] = Keep(
    "island_exercise",
    value=1,
    note="One drill (~500 troops, reference value 500); the undated 'previous week >350 troops' drill is not counted.",
)
D[(M, "2019-08-05", "exercise_on_islands_event")] = Keep(
    "island_exercise", value=1, note="Live-firing exercise on Kunashir, Aug 5-10."
)
D[(M, "2019-09-02", "deployment_plan_document")] = Drop(
    "Plan for Paramushir and Matua, northern/central Kurils, not the disputed islands; an internal document, not a deployment."
)
D[(M, "2020-09-29", "exercise_on_islands_troops")] = Keep(
    "island_exercise",
    value=1,
    note="Exercise of >1,500 troops (reference value 1500) announced for the Kurils; counted as on the islands because "
    "Japan protested it as such.",
)
D[(M, "2020-12-01", "air_defense_deployment")] = Keep(
    "island_deployment", value=1, note="S-300V4 long-range air defence on combat duty on Iturup."
)
D[(M, "by 2020-12", "air_defense_deployment")] = Drop(
    "Tor-M2 on Iturup 'before' S-300V4 arrived: no start date or month given, so the deployment cannot be dated "
    "(an interval from an unknown start would be a guess)."
)
D[(M, "2020-12-21", "military_construction_progress")] = Keep(
    "island_buildup_announcement",
    value=1,
    note="Construction milestone (>25 structures commissioned, 51 planned; reference value 25).",
)
D[(M, "2021-02-26", "exercise_on_islands_troops")] = Keep(
    "island_exercise", value=1, note="One drill, >1,000 troops (reference value 1000)."
)
D[(M, "2021-12-02", "antiship_missile_deployment")] = Drop(
    "Bastion on Matua, central Kurils, not one of the disputed islands."
)
D[(M, "2022-03-10", "exercise_on_islands_event")] = Keep(
    "island_exercise",
    value=1,
    note="SAM firing drill; date 'around 2022-03-10' as given by the reference (a Thursday).",
)
D[(M, "2022-03-25", "exercise_on_islands_troops")] = Keep(
    "island_exercise", value=1, note="One drill, >3,000 troops (reference value 3000)."
)
D[(M, "2022-09-01", "exercise_on_islands_event")] = Keep(
    "island_exercise",
    value=1,
    recorded_at="2022-09-03",
    note="Vostok-2022 drills on Etorofu and Kunashiri; recorded_at = 2022-09-03, when drills on the islands were announced.",
)
D[(M, "2023-03-22", "antiship_missile_deployment")] = Drop(
    "Bastion on Paramushir, northern Kurils, not one of the disputed islands."
)
D[(M, "2023-08-31", "air_defense_withdrawal")] = Drop(
    "A withdrawal (S-300V4 gone from Etorofu and Kunashiri): not a deployment, and the case has no indicator for "
    "withdrawals; the date is of the imagery report, the withdrawal happened some time after Sept 2022."
)
D[(M, "1995/2011/2018", "troops_on_disputed_islands")] = Drop(
    "A troop level (~3,500) stated for three different years; a stock, not an event, and one figure cannot "
    "inform a time path."
)

# ---------------------------------------------------------------- exercises_joint.csv
X = "exercises_joint.csv"
for d in [
    "2012-04-22",
    "2013-07-05",
    "2014-05-20",
    "2015-05",
    "2015-08-20",
    "2016-09-12",
    "2017-07",
    "2017-09-18",
    "2019-04-29",
    "2021-10-14",
    "2022-12-21",
    "2023-07-20",
    "2024-07-12",
    "2024-09",
    "2025-08-01",
]:
    D[(X, d, "china_russia_joint_sea")] = Keep("china_russia_joint_sea", value=1)
D[(X, "2020", "china_russia_joint_sea")] = Drop(
    "A recorded absence (no Joint Sea in 2020); under 'events' aggregation a year inside coverage with no "
    "event already counts as zero, so an explicit zero over 2020 would count that zero twice."
)
D[(X, "2018-09-11", "russia_strategic_exercise_troops")] = Drop(
    "Vostok-2018 size (claimed troop number): a strategic exercise on the mainland, not a Joint Sea exercise, not "
    "on the islands; troop claims are not comparable across exercises. Used in the Vostok scenario's framing only."
)
D[(X, "2022-09-01", "russia_strategic_exercise_troops")] = Drop(
    "Vostok-2022 size; its drills on Etorofu and Kunashiri are kept from military_islands.csv (island_exercise), "
    "so keeping this row too would count the same event twice."
)
D[(X, "2023-06-05", "russia_pacific_fleet_exercise")] = Drop(
    "Pacific Fleet exercise size; one row of a kind with no series (no comparable earlier figures)."
)
D[(X, "2024-09-10", "russia_strategic_exercise_troops")] = Drop(
    "Ocean-2024 size; a global exercise, not Joint Sea; China's part there is recorded by the 2024-09 "
    "Northern/Interaction-2024 row."
)
for d in [
    "2019-07-23",
    "2020-12-22",
    "2021-11-19",
    "2022-05-24",
    "2022-11-30",
    "2023-06-06",
    "2023-12-14",
    "2024-07-24",
    "2024-11-29",
    "2025-12-09",
]:
    D[(X, d, "china_russia_joint_air_patrol")] = Keep("china_russia_joint_air_patrol", value=1)
D[(X, "2024-07-24", "china_russia_joint_air_patrol")] = Keep(
    "china_russia_joint_air_patrol", value=1, note="Reference value 8 is the patrol's number; not near Japan (Alaska)."
)
D[(X, "2024-11-29", "china_russia_joint_air_patrol")] = Keep(
    "china_russia_joint_air_patrol",
    value=1,
    note="Reference value 9 is the inferred patrol number (reference caveat 5).",
)
for d in ["2021-10-17", "2022-09", "2023-07-28", "2024-07", "2024-09", "2025-08"]:
    D[(X, d, "china_russia_joint_naval_patrol")] = Keep("china_russia_joint_naval_patrol", value=1)
TRANSITS = (
    "Russian warship strait transits are left out as an indicator: the reference lists a selection of notable "
    "transits (2012, 2018, 2022), not a complete record, so periods without a listed transit cannot be read "
    "as zero; the 2021-10 joint transit is counted as joint naval patrol #1."
)
for key in [
    ("2022-03-10", "russia_warships_transit_tsugaru"),
    ("2022-03-13", "russia_warships_transit_soya"),
    ("2022-03", "russia_amphibious_ships_transit"),
    ("2012-07-01", "russia_warships_transit_soya"),
    ("2018-09-01", "russia_warships_transit_soya"),
    ("2022-03-14", "russia_warships_transit_soya_subs"),
    ("2022-08-20", "russia_warships_transit_soya"),
]:
    D[(X, *key)] = Drop(TRANSITS)
D[(X, "2024-09-12", "russia_encirclement_flight")] = Drop(
    "A single encirclement flight (did not enter airspace); no series of such flights in the reference; the "
    "scrambles it caused are in the FY2024 total."
)
for fy in ("FY2006", "FY2007", "FY2008"):
    D[(X, fy, "russia_navy_strait_transits_published")] = Drop("Before the case start (2010-01-01).")

# ---------------------------------------------------------------- summits.csv
S = "summits.csv"
D[(S, "2010-11-13", "japan_russia_summit")] = Drop(
    "Before leader_summit's coverage_start (2012-05-07): the 2010-2011 summit record is incomplete (this meeting "
    "was Kan and Medvedev's 'second', the first is not in the reference). Medvedev's words are kept as a "
    "russian_statement_tone row from this same reference row."
)
# The 2010-11-13 row also yields a tone observation; see TONE_EXTRA below.
for d in ["2012-06-18", "2012-09-08"]:
    D[(S, d, "japan_russia_summit")] = Keep("leader_summit", value=1)
for d in [
    "2013-04-29",
    "2013-06-17",
    "2013-09-05",
    "2013-10-07",
    "2014-02-08",
    "2014-10-17",
    "2014-11-09",
    "2015-09-28",
    "2015-11-15",
    "2016-05-06",
    "2016-09-02",
    "2016-11-19",
    "2016-12-15",
    "2017-04-27",
    "2017-07-07",
    "2017-09-07",
    "2017-11-10",
    "2018-05-26",
    "2018-09-10",
    "2018-11-14",
    "2018-12-01",
    "2019-01-22",
    "2019-06-29",
    "2019-09-05",
]:
    D[(S, d, "abe_putin_meeting")] = Keep(
        "leader_summit", value=1, note="Reference value is the cumulative Abe-Putin meeting number."
    )
D[(S, "2016-12-15", "abe_putin_meeting")] = Keep(
    "leader_summit",
    value=1,
    note="One visit over two days (Nagato Dec 15, Tokyo Dec 16) counted once; reference value 16 is the meeting number.",
)
D[(S, "2006-2007", "abe_putin_meetings_first_term")] = Drop("Before the case start; inferred count with no dates.")
D[(S, "2012-12_to_2019-09", "abe_putin_meetings_second_term")] = Drop(
    "A derived total of the 24 dated meetings already kept one by one; keeping it would double-count."
)
D[(S, "2020-09-29", "japan_russia_leader_phone_call")] = Drop(
    "A phone call, not an in-person summit. Its content (reaffirming the 2018 Singapore agreement) is kept as a "
    "russian_statement_tone row (see TONE_EXTRA)."
)
D[(S, "2021-10-07", "japan_russia_leader_phone_call")] = Drop(
    "A phone call, not an in-person summit. Its content is kept as a russian_statement_tone row (see TONE_EXTRA)."
)
D[(S, "2019-09_to_2025-12", "japan_russia_inperson_summits_count")] = Drop(
    "A recorded absence of summits after 2019-09-05; under 'events' aggregation periods inside coverage with no "
    "event already count as zero. It is the evidence that leader_summit's record is complete to 2025-12."
)

# ---------------------------------------------------------------- diplomacy_statements.csv
P = "diplomacy_statements.csv"
D[(P, "2010-11-01", "russian_leader_visit_islands")] = Keep("russian_leader_island_visit", value=1)
D[(P, "2012-07", "russian_leader_visit_islands")] = Keep(
    "russian_leader_island_visit", value=1, note="Day not in the reference: the month is the interval."
)
D[(P, "2014-09", "russian_leader_visit_islands")] = Drop(
    "Visit by the Kremlin chief of staff, not the President or Prime Minister; visits by other officials are not "
    "recorded completely in the reference (his earlier Kuril trips are not listed), so the indicator is limited to "
    "the President and Prime Minister."
)
D[(P, "2015-08-22", "russian_leader_visit_islands")] = Keep("russian_leader_island_visit", value=1)
D[(P, "2019-08-02", "russian_leader_visit_islands")] = Keep("russian_leader_island_visit", value=1)
D[(P, "2021-07-26", "russian_leader_visit_islands")] = Keep("russian_leader_island_visit", value=1)
D[(P, "2013-04-29", "joint_statement_peace_treaty")] = tone(
    3,
    "joint statement instructing the foreign ministries to accelerate talks on a 'mutually acceptable' solution: "
    "a new negotiating step, no commitment to a transfer.",
)
D[(P, "2013-11-02", "two_plus_two_meeting")] = Keep("two_plus_two_meeting", value=1)
D[(P, "2016-05-06", "new_approach_8point_plan")] = Drop(
    "Same event as summits.csv 2016-05-06 (kept as a summit and coded for tone) and economic_cooperation.csv "
    "2016-05-06 (kept as the 8-point-plan milestone); a third copy would double-count."
)
D[(P, "2016-09-01", "putin_statement_bloomberg")] = tone(
    2,
    "'We don't trade in territories' paired with 'compromise possible' and the 1956 declaration being ratified: "
    "an opening paired with an explicit refusal, no new step.",
)
D[(P, "2016-12-16", "joint_economic_activity_agreement")] = Keep(
    "economic_cooperation_milestone",
    value=1,
    note="The December 2016 package (joint economic activity framework; ~80 documents incl. 68 commercial; $1bn "
    "RDIF-JBIC fund, see the economic_cooperation.csv rows of that day) counted as one milestone. Not coded "
    "for tone: joint economic agreements are counted here, not in russian_statement_tone.",
)
D[(P, "2017-03-20", "two_plus_two_meeting")] = Keep("two_plus_two_meeting", value=1)
D[(P, "2017-06-01", "putin_statement_us_bases")] = tone(
    1,
    "a transfer could bring US bases onto the islands, the Russian build-up counters the US: a security "
    "condition Japan cannot meet, talks left open.",
)
D[(P, "2018-07-31", "two_plus_two_meeting")] = Keep("two_plus_two_meeting", value=1)
D[(P, "2018-09-12", "putin_peace_treaty_offer")] = tone(
    2,
    "proposes a peace treaty by year-end 'without any preconditions', i.e. setting the territory aside "
    "(Tokyo: territory first). Elements of 3 (new proposal) and 2 (territory set aside): tie-break takes 2.",
)
D[(P, "2018-11-14", "singapore_agreement_1956_basis")] = tone(
    4,
    "Putin agrees with Abe to accelerate the treaty talks on the basis of the 1956 Joint Declaration, which "
    "provides for the transfer of Habomai and Shikotan: first commitment to a basis including a transfer.",
)
D[(P, "2018-12-20", "putin_statement_us_bases")] = tone(
    1,
    "questions Japan's sovereignty over US-base decisions and says crucial decisions are hard without an "
    "answer: a US-alliance condition Japan cannot meet, talks left open.",
)
D[(P, "2020-02-13", "constitutional_ban_alienation")] = tone(
    0,
    "Putin 'likes the idea' of a constitutional ban on alienating Russian territory: endorses a legal bar to "
    "any transfer.",
)
D[(P, "2020-07-01", "constitutional_ban_alienation")] = Drop(
    "Result of the nationwide vote, not a leader's statement; the leader's endorsement is coded at 2020-02-13 and "
    "the ban is recorded in the outcomes' base-rate reasoning (outcomes.csv has the same fact)."
)
D[(P, "2022-03-07", "japan_hardline_statement")] = Drop(
    "A Japanese statement of wording; the case codes only Russian leaders' tone, and Japan's shift is the resolved "
    "outcome japan_hardline_shift (2022-02-23)."
)
D[(P, "2022-03-21", "russia_suspends_peace_talks")] = tone(
    0,
    "Russian MFA: no intention to continue peace-treaty talks with 'unfriendly' Japan: ends the talks. (The same "
    "decision's measures are counted once in russian_countermeasure from sanctions_countermeasures.csv.)",
)
D[(P, "2022-04-22", "bluebook_illegally_occupied")] = Drop(
    "Japanese wording (Diplomatic Bluebook); no indicator for Japanese statements; Japan's shift is the resolved "
    "outcome japan_hardline_shift."
)
D[(P, "2022-09-05", "russia_terminates_visa_free_agreements")] = Drop(
    "Same decision as sanctions_countermeasures.csv 2022-09-05 russia_countermeasure, which is kept."
)
D[(P, "2022-12-16", "japan_nss_russia_concern")] = Drop(
    "Japanese strategy document; no indicator for Japanese doctrine; after the resolved hard-line shift."
)

# ---------------------------------------------------------------- economic_cooperation.csv
E = "economic_cooperation.csv"
D[(E, "2016-05-06", "eight_point_plan_proposed")] = Keep(
    "economic_cooperation_milestone", value=1, note="8-point plan proposed (reference value 8 = areas)."
)
D[(E, "2016-12-13", "documents_expected_visit")] = Drop("An expectation before the visit, not a milestone.")
for ind in ("documents_signed_putin_visit", "commercial_documents_signed", "joint_investment_fund_usd"):
    D[(E, "2016-12-16", ind)] = Drop(
        "Part of the December 2016 package, counted once as the diplomacy_statements.csv 2016-12-16 "
        "joint_economic_activity_agreement row (one milestone per day)."
    )
D[(E, "2017-06", "business_mission_islands")] = Keep(
    "economic_cooperation_milestone",
    value=1,
    note="First business mission to the islands; the reference dates it 2017-06 ('summer 2017'), so June is the interval.",
)
D[(E, "2017-09-07", "joint_economic_activity_priority_areas")] = Keep(
    "economic_cooperation_milestone", value=1, note="Five priority areas agreed (reference value 5)."
)
D[(E, "2017-10-27", "business_mission_islands")] = Keep(
    "economic_cooperation_milestone",
    value=1,
    note="Second business mission, Oct 27-30 (reference value 2 = its number).",
)
D[(E, "2018-05-26", "projects_under_8point_plan")] = Drop(
    "A status report ('about 100 projects'), not a new milestone."
)
D[(E, "2018-10-05", "onsite_survey_islands")] = Keep(
    "economic_cooperation_milestone",
    value=1,
    note="Third public-private survey, Oct 2-5 (reference value 3 = its number); dated as the reference dates it.",
)
D[(E, "2019-06-29", "joint_activity_business_plans_agreed")] = Keep(
    "economic_cooperation_milestone",
    value=1,
    note="Two business plans agreed (reference value 2) at one summit: one milestone.",
)
D[(E, "2019-10-30", "pilot_tour_participants")] = Keep(
    "economic_cooperation_milestone", value=1, note="Pilot tour, Oct 30-Nov 3 (reference value 44 = participants)."
)
D[(E, "2019-08-15", "japan_russia_tourist_flow_target")] = Drop("A Russian target for 2023, not a milestone.")
D[(E, "2021-07-26", "special_economic_zone_proposal")] = Drop(
    "A unilateral Russian proposal made during Mishustin's island visit, which Japan protested; not a bilateral "
    "cooperation step. The visit is kept (russian_leader_island_visit) and the proposal is coded for tone "
    "(see TONE_EXTRA)."
)
D[(E, "2022-03-21", "joint_economic_activity_status")] = Drop(
    "Same decision as sanctions_countermeasures.csv 2022-03-21 russia_countermeasure, which is kept."
)
D[(E, "1992-2022", "visa_free_exchange_program")] = Drop(
    "A programme period mostly before the case; its termination is kept as the 2022-09-05 russia_countermeasure row."
)

# ---------------------------------------------------------------- sanctions_countermeasures.csv
C = "sanctions_countermeasures.csv"
D[(C, "2014-03-18", "japan_sanctions_package")] = Keep("japan_sanctions_package", value=1)
D[(C, "2014-04-29", "japan_visa_bans_individuals")] = Keep(
    "japan_sanctions_package", value=1, note="Visa bans on 23 individuals (reference value 23)."
)
D[(C, "2014-08-05", "japan_asset_freeze_individuals")] = Keep(
    "japan_sanctions_package", value=1, note="Asset freezes on 40 individuals and 2 entities (reference value 40)."
)
D[(C, "2014-09-24", "japan_sanctions_package")] = Keep(
    "japan_sanctions_package", value=1, note="One package; reference value 5 = banks barred from issuing securities."
)
D[(C, "2022-02-23", "japan_sanctions_package")] = Keep("japan_sanctions_package", value=1)
D[(C, "2022-02-26", "japan_sanctions_package")] = Keep("japan_sanctions_package", value=1)
D[(C, "2022-03-01", "japan_asset_freeze_leadership")] = Keep(
    "japan_sanctions_package", value=1, note="Asset freezes on Russia's leadership; export ban to 49 entities."
)
D[(C, "2022-03-03", "japan_bank_asset_freeze")] = Keep(
    "japan_sanctions_package", value=1, note="Four more banks (reference value 7 = cumulative banks)."
)
D[(C, "2022-03-16", "japan_mfn_revocation")] = Keep("japan_sanctions_package", value=1)
D[(C, "2022-03-18", "japan_asset_freeze_individuals")] = Keep(
    "japan_sanctions_package",
    value=1,
    note="15 more individuals and 9 entities added (reference value 76 = cumulative individuals); source is a news digest.",
)
D[(C, "2022-04-08", "japan_expels_diplomats")] = Keep(
    "japan_sanctions_package",
    value=1,
    note="Expulsion of 8 diplomats and coal phase-out announced the same day: one event.",
)
D[(C, "2022-04-12", "japan_asset_freeze_individuals")] = Keep(
    "japan_sanctions_package",
    value=1,
    note="398 more individuals and 28 entities, investment and import bans (reference value 499 = cumulative).",
)
D[(C, "2021", "russia_share_japan_coal_imports")] = Drop("A trade share (context), not an indicator of the case.")
D[(C, "2022-03-21", "russia_countermeasure")] = Keep("russian_countermeasure", value=1)
D[(C, "2022-04-27", "russia_expels_diplomats")] = Keep(
    "russian_countermeasure", value=1, note="8 Japanese diplomats expelled (reference value 8)."
)
D[(C, "2022-05-04", "russia_entry_ban_japanese")] = Keep(
    "russian_countermeasure", value=1, note="Entry ban on 63 Japanese (reference value 63)."
)
D[(C, "2022-09-05", "russia_countermeasure")] = Keep(
    "russian_countermeasure", value=1, note="One decision terminating two agreements (reference value 2 = agreements)."
)
D[(C, "2022-06-07", "russia_countermeasure_fishing_pact")] = Keep("russian_countermeasure", value=1)
D[(C, "2021-12", "fishing_pact_quota_tons")] = Drop(
    "A fishing quota (context for the 2022-06-07 suspension), not an indicator."
)
D[(C, "2023-01-22", "russia_countermeasure_fishing_pact")] = Drop(
    "Continuation of the 2022-06-07 suspension (no date for talks), not a new decision."
)

# ---------------------------------------------------------------- outcomes.csv
O = "outcomes.csv"
D[(O, "as of 2025-12", "territorial_transfer_occurred")] = Drop(
    "Outcome status (no transfer through 2025): used for territorial_transfer's base rate and as its censoring; not an observation."
)
D[(O, "as of 2025-12", "peace_treaty_signed")] = Drop(
    "Outcome status (no treaty through 2025): used for peace_treaty's base rate and censoring; not an observation."
)
D[(O, "2020-07-01", "russian_constitution_bans_alienation")] = Drop(
    "Used in the base-rate reasoning of territorial_transfer and peace_treaty; Putin's endorsement is coded for tone."
)
D[(O, "2020-08-28", "abe_resignation_announced")] = Drop(
    "Announcement of Abe's resignation; the change of prime minister is counted on the day Suga took office (2020-09-16)."
)
D[(O, "2020-09-16", "abe_leaves_office_suga_takes_office")] = Keep("japan_pm_change", value=1)
D[(O, "2021-10-04", "kishida_takes_office")] = Keep("japan_pm_change", value=1)
D[(O, "2024-10-01", "ishiba_takes_office")] = Keep("japan_pm_change", value=1)
D[(O, "2012-12-26", "abe_second_term_begins")] = Keep("japan_pm_change", value=1, note="Abe succeeds Noda.")
D[(O, "2014-03-18", "japan_first_sanctions_on_russia")] = Drop(
    "Same event as sanctions_countermeasures.csv 2014-03-18 japan_sanctions_package, which is kept."
)
D[(O, "2022-02-23", "japan_policy_shift_hardline")] = Drop(
    "The resolution of outcome japan_hardline_shift (its evidence is in the case file); the sanctions of that day are "
    "kept from sanctions_countermeasures.csv."
)
D[(O, "2022-03-21", "russia_suspends_peace_talks")] = Drop(
    "Same event as sanctions_countermeasures.csv 2022-03-21 (russian_countermeasure) and diplomacy_statements.csv "
    "2022-03-21 (tone), which are kept."
)
D[(O, "2022-04-22", "japan_bluebook_illegally_occupied")] = Drop(
    "Same as diplomacy_statements.csv 2022-04-22 (left out there)."
)
D[(O, "2022-05-04", "russia_bans_kishida_entry")] = Drop(
    "Same event as sanctions_countermeasures.csv 2022-05-04 russia_entry_ban_japanese, which is kept."
)
D[(O, "2022-09-05", "visa_free_exchange_terminated")] = Drop(
    "Same event as sanctions_countermeasures.csv 2022-09-05 russia_countermeasure, which is kept."
)
D[(O, "2022-12-16", "japan_nss_recasts_russia")] = Drop("Same as diplomacy_statements.csv 2022-12-16 (left out there).")
D[(O, "2019-09-05", "last_abe_putin_summit")] = Drop(
    "Same meeting as summits.csv 2019-09-05, which is kept; its 'no further summits' is the completeness evidence."
)

# Reference rows that yield a second observation (a tone code) besides their main decision.
TONE_EXTRA: dict[tuple[str, str, str], Keep] = {
    (S, "2010-11-13", "japan_russia_summit"): tone(
        1,
        "Medvedev: the Kurils 'are and will remain Russian territory', proposes prioritising economic "
        "cooperation: asserts sovereignty, talks left open.",
    ),
    (S, "2012-06-18", "japan_russia_summit"): tone(
        3, "agreed to reactivate territorial negotiations in a calm environment: a new negotiating step."
    ),
    (S, "2012-09-08", "japan_russia_summit"): tone(
        3, "agreed vice-ministerial territorial talks in autumn: new talks at a named level."
    ),
    (S, "2013-06-17", "abe_putin_meeting"): tone(
        3, "vice-ministerial peace-treaty negotiations under the leaders' direction: new talks at a named level."
    ),
    (S, "2014-11-09", "abe_putin_meeting"): tone(
        2,
        "confirmed readiness to continue peace-treaty work; Putin visit 'at appropriate time': talks continue, no new step.",
    ),
    (S, "2015-09-28", "abe_putin_meeting"): tone(
        2, "talks on the basis of the April 2013 Joint Statement: reaffirms an agreed basis, no new step."
    ),
    (S, "2016-05-06", "abe_putin_meeting"): tone(
        3,
        "'new approach' to the territorial talks agreed at Sochi: a new negotiating framework, no transfer commitment. "
        "(The 8-point plan of the same day is counted as an economic-cooperation milestone.)",
    ),
    (S, "2018-12-01", "abe_putin_meeting"): tone(
        3, "foreign ministers put in charge and special representatives named: a new negotiating format."
    ),
    (S, "2019-01-22", "abe_putin_meeting"): tone(
        2, "no visible progress; Putin: 'painstaking work ahead': talks continue, no new step."
    ),
    (S, "2020-09-29", "japan_russia_leader_phone_call"): tone(
        2, "phone call reaffirming the 2018 Singapore agreement: reaffirms an agreed basis, no new step."
    ),
    (S, "2021-10-07", "japan_russia_leader_phone_call"): tone(
        2,
        "phone call confirming negotiations based on earlier agreements incl. Singapore 2018: reaffirms an "
        "agreed basis, no new step.",
    ),
    (E, "2021-07-26", "special_economic_zone_proposal"): tone(
        1,
        "Mishustin, on Iturup, proposes a Russian customs- and tax-free regime for the Kurils open to Japanese "
        "investors: asserts Russian jurisdiction over the islands (Japan protested), talks not ended.",
    ),
}


# ---------------------------------------------------------------- conversion
def month_interval(text: str) -> tuple[date, date]:
    y, m = int(text[:4]), int(text[5:7])
    return date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])


def period(text: str) -> tuple[date, date | None]:
    """Reference date text -> (start, end or None for a single day). Raises on vague forms."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return date.fromisoformat(text), None
    if re.fullmatch(r"\d{4}-\d{2}", text):
        return month_interval(text)
    m = re.fullmatch(r"FY(\d{4})", text)
    if m:
        y = int(m.group(1))
        return date(y, 4, 1), date(y + 1, 3, 31)
    raise ValueError(f"date {text!r} has no conversion rule; give an explicit decision")


_SOURCE_DATES = [
    re.compile(r"(?<!\d)(20\d\d)-(\d\d)-(\d\d)(?!\d)"),  # 2013-04-17
    re.compile(r"/(20\d\d)/(\d\d)/(\d\d)/"),  # /2012/04/27/
    re.compile(r"yjj(20\d\d)(\d\d)(\d\d)"),  # nippon.com yjj20200409...
    re.compile(r"kantsuu\.com/\d{6}/(20\d\d)(\d\d)(\d\d)"),  # news.kantsuu.com/201504/20150415...
    re.compile(r"boueinews\.com/old/news/\d{4}/(20\d\d)(\d\d)(\d\d)_"),
]


def source_dates(source: str) -> list[date]:
    found = []
    for pat in _SOURCE_DATES:
        for m in pat.finditer(source):
            try:
                found.append(date(int(m.group(1)), int(m.group(2)), int(m.group(3))))
            except ValueError:
                pass
    return sorted(found)


def fy_recorded_at(source: str, end: date) -> tuple[date, str]:
    """Publication of a fiscal-year scramble total: the earliest date shown in the sources, but no later
    than 30 April after the fiscal year (every dated source shows the Joint Staff's April release)."""
    cap = date(end.year, 4, 30)
    dated = [d for d in source_dates(source) if d > end]
    if dated and dated[0] <= cap:
        return dated[0], f"recorded_at = {dated[0].isoformat()}, the date shown in the source"
    if dated:
        return cap, (
            f"recorded_at = {cap.isoformat()} (the Joint Staff's April release; the source shows only "
            f"the later date {dated[0].isoformat()})"
        )
    return cap, f"recorded_at = {cap.isoformat()} (no date in the source; the Joint Staff publishes FY totals in April)"


def fmt_value(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def build(reference: Path) -> tuple[list[dict[str, str]], list[tuple[str, int, str, str, str]]]:
    rows: list[dict[str, str]] = []
    left_out: list[tuple[str, int, str, str, str]] = []
    used: set[tuple[str, str, str]] = set()
    used_extra: set[tuple[str, str, str]] = set()
    files = sorted(p for p in reference.glob("*.csv"))
    for path in files:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            for line, ref in enumerate(reader, start=2):
                key = (path.name, ref["date"].strip(), ref["indicator"].strip())
                if key in used:
                    raise SystemExit(f"{path.name}:{line}: two reference rows share the key {key}")
                if key not in D:
                    raise SystemExit(f"{path.name}:{line}: no decision for reference row {key}")
                used.add(key)
                decisions = [D[key]]
                if key in TONE_EXTRA:
                    decisions.append(TONE_EXTRA[key])
                    used_extra.add(key)
                for dec in decisions:
                    if isinstance(dec, Drop):
                        left_out.append((path.name, line, ref["date"], ref["indicator"], dec.reason))
                        continue
                    rows.append(convert(ref, dec, path.name, line))
    missing = (set(D) - used) | (set(TONE_EXTRA) - used_extra)
    if missing:
        raise SystemExit(f"decisions with no reference row: {sorted(missing)}")
    rank = {ind: i for i, ind in enumerate(ORDER)}
    rows.sort(key=lambda r: (rank[r["indicator"]], r["date"], r["end"], r["source"], r["note"]))
    return rows, left_out


def convert(ref: dict[str, str], dec: Keep, fname: str, line: int) -> dict[str, str]:
    conf = ref["confidence"].strip()
    if conf not in GRADES:
        raise SystemExit(f"{fname}:{line}: confidence {conf!r} cannot be kept (no value found)")
    reliability, credibility = GRADES[conf]
    start, end = period(ref["date"].strip())
    if dec.date:
        start = date.fromisoformat(dec.date)
    if dec.end is not None:
        end = date.fromisoformat(dec.end) if dec.end else None
    if start < CASE_START:
        raise SystemExit(f"{fname}:{line}: kept row starts before the case start")
    value = float(ref["value"]) if dec.value is None else float(dec.value)
    extra = []
    if ref["date"].strip().startswith("FY") and dec.recorded_at is None:
        rec, why = fy_recorded_at(ref["source"], end)  # type: ignore[arg-type]
        extra.append(why)
    elif dec.recorded_at:
        rec = date.fromisoformat(dec.recorded_at)
    else:
        rec = end or start  # events: the event day, or the last day of a vague month
    note_parts = [ref["description"].strip()]
    if dec.note:
        note_parts.append(dec.note)
    note_parts += extra
    note_parts.append(
        f"[ref {fname}:{line} {ref['date'].strip()} {ref['indicator'].strip()} = {ref['value']} "
        f"{ref['unit'].strip()}; confidence {conf}]"
    )
    return {
        "indicator": dec.indicator,
        "date": start.isoformat(),
        "end": end.isoformat() if end else "",
        "value": fmt_value(value),
        "source": ref["source"],
        "reliability": reliability,
        "credibility": str(credibility),
        "note": " | ".join(note_parts),
        "recorded_at": rec.isoformat(),
    }


def write_csv(rows: list[dict[str, str]], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=HEADER, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def write_left_out(left_out: list[tuple[str, int, str, str, str]], path: Path) -> None:
    lines = ["| file | line | date | reference indicator | reason |", "|---|---|---|---|---|"]
    for fname, line, d, ind, reason in left_out:
        lines.append(f"| {fname} | {line} | `{d}` | {ind} | {reason.replace('|', '/')} |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", type=Path, required=True, help="directory of the reference CSVs")
    ap.add_argument("--output", type=Path, required=True, help="observations CSV to write")
    ap.add_argument("--left-out", type=Path, help="also write the Markdown table of left-out rows")
    args = ap.parse_args(argv)
    if not args.reference.is_dir():
        print(f"reference directory {args.reference} does not exist.", file=sys.stderr)
        return 2
    rows, left_out = build(args.reference)
    write_csv(rows, args.output)
    if args.left_out:
        write_left_out(left_out, args.left_out)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["indicator"]] = counts.get(r["indicator"], 0) + 1
    print(f"wrote {len(rows)} observations to {args.output}; {len(left_out)} reference rows left out")
    for ind in ORDER:
        print(f"  {ind:34s} {counts.get(ind, 0)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
