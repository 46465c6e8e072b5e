"""The report's analysis sections: scenarios against the baseline, why the forecast moved, and the
track record of the latest saved backtest.

Each function takes :class:`dashboard.report.content.Inputs` and returns a section made of the
generic blocks of :mod:`dashboard.report.content`. They read what the Scenarios page, ``harbinger
explain`` and the Backtest page read (:mod:`dashboard.services.analysis`,
:mod:`dashboard.services.backtests`), with one rule for reports: never refit. Scenarios use the fast
reweighting path only, and a result whose k-hat is above 0.7 is shown marked unreliable, with the
advice to run the refit from the Scenarios page. Each section degrades to one sentence when its
feature has no data (no posterior, no scenarios, no previous run, no saved backtest), and an
unexpected failure of one analysis becomes a sentence in its section, never a failed report.
"""

from __future__ import annotations

import logging
from typing import Any

from dashboard.report import cache as report_cache
from dashboard.report.blocks import (
    Inputs,
    bullet_list,
    cell,
    chart,
    group,
    keyvalue,
    notice,
    paragraph,
    section,
    subheading,
    table,
)

log = logging.getLogger(__name__)

#: Shown for a scenario whose reweighting k-hat is above the threshold.
UNRELIABLE = "not reliable by reweighting; run the refit from the Scenarios page"
#: How many changes each outcome's "why it moved" table lists (largest first); the rest are summed
#: in one row.
TOP_CONTRIBUTIONS = 10


def _data(**values: Any) -> dict[str, Any]:
    """``data-*`` attributes of a cell, without the missing ones."""
    return {k.replace("_", "-"): v for k, v in values.items() if v is not None}


def _pct(p: Any) -> str:
    return "—" if p is None else f"{100 * float(p):.1f}%"


def _pts(x: Any, digits: int = 2) -> str:
    return "—" if x is None else f"{float(x):+.{digits}f} pts"


def _num(x: Any, fmt: str = ".3f") -> str:
    return "—" if x is None else format(float(x), fmt)


def _share(x: Any) -> str:
    return "—" if x is None else f"{100 * float(x):.0f}%"


def _years(y: Any) -> str:
    y = float(y)
    return f"{y:g} year" + ("" if y == 1 else "s")


def _question(inputs: Inputs, outcome_id: str) -> str:
    for o in inputs.forecast.get("outcomes", []):
        if o["id"] == outcome_id:
            return str(o.get("question", outcome_id))
    return outcome_id


def _failure_text(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if text.endswith(".") else text + "."


# ---------------------------------------------------------------------------- scenarios


def scenario_documents(inputs: Inputs) -> tuple[list[dict[str, Any]], str | None]:
    """Every case-file scenario run against the report's run by reweighting only (the document of
    ``harbinger scenario run NAME --no-refit --format json``), and a sentence when none can be
    run (None when they could)."""
    from dashboard.services import analysis as sa
    from indicators.errors import BadInput

    case = inputs.case.case
    if not case.scenarios:
        return [], "The case file defines no scenarios, so there is nothing to compare with the baseline."
    if inputs.store is None:
        return [], "Scenarios cannot be computed for this report: it was built without access to the store."

    def run_all() -> list[dict[str, Any]]:
        from models.scenarios import ScenarioSpec

        return [
            sa.run_scenario(inputs.store, case.id, ScenarioSpec.from_case(s), run_id=inputs.run["id"], refit=False)
            for s in case.scenarios
        ]

    try:
        return report_cache.analysis(inputs, "scenarios", run_all), None
    except (sa.AnalysisUnavailable, BadInput) as exc:
        return [], f"Scenarios cannot be computed for this run: {_failure_text(exc)}"


def scenario_section(inputs: Inputs) -> dict[str, Any]:
    """Each case-file scenario's change for every outcome and horizon (reweighting only): per
    scenario, what it supposes and one compact table."""
    intro = paragraph(
        "Each scenario adds hypothetical observations after the as-of date and asks how the forecast would "
        "change. The run's posterior draws and simulated futures are reweighted to the scenario (Pareto-smoothed "
        "importance sampling), so baseline and scenario come from the same draws. Each cell gives the change in "
        "percentage points, the baseline and scenario probabilities (“baseline → scenario”), and a last line "
        "with the half-width of the change's Monte Carlo 90% interval (“MC ±”: how precisely the reweighting "
        "computes the change, not how uncertain the change is) and the k-hat. The reweighting is trusted when its k-hat is at most 0.7; "
        "reports never refit, so a scenario above that is marked unreliable."
    )
    try:
        docs, reason = scenario_documents(inputs)
    except Exception as exc:  # one failed analysis must not sink the report
        log.exception("report: scenarios failed")
        docs, reason = (
            [],
            f"Scenarios could not be computed for this report ({type(exc).__name__}: {_failure_text(exc)})",
        )
    if reason is not None:
        return section("scenarios", "Scenarios", [intro, paragraph(reason)])
    blocks: list[dict[str, Any] | None] = [intro]
    resolved = sorted({r for doc in docs for r in doc.get("resolved") or []})
    if resolved:
        blocks[0] = paragraph(
            blocks[0]["text"] + " Resolved before the as-of date, so not forecast under any "
            "scenario: " + ", ".join(_question(inputs, r) for r in resolved) + "."
        )
    for doc in docs:
        spec = doc["scenario"]
        khat = doc.get("reweighting_khat") if doc.get("reweighting_khat") is not None else doc.get("khat")
        hypo = doc.get("hypothetical_observations") or []
        results = doc["results"]
        methods = sorted({r["method"] for r in results})
        text = (spec.get("description") or "").strip()
        if hypo:
            text += (" " if text else "") + "Supposes: " + "; ".join(_hypothetical_text(h) for h in hypo) + "."
        text += (
            f" Method: {', '.join(methods) or doc.get('method')}; k-hat {_num(khat, '.2f')} "
            f"({'reliable' if doc.get('reliable') else UNRELIABLE})."
        )
        part: list[dict[str, Any] | None] = [subheading(spec["name"]), paragraph(text.strip())]
        if not doc.get("reliable"):
            part.append(
                notice(
                    f"k-hat {_num(khat, '.2f')} is above {doc.get('khat_max', 0.7):g}: these numbers are {UNRELIABLE}.",
                    "alert",
                )
            )
        horizons = sorted({float(r["years"]) for r in results})
        by_outcome: dict[str, dict[float, dict[str, Any]]] = {}
        for r in results:
            by_outcome.setdefault(r["outcome"], {})[float(r["years"])] = r
        rows = []
        for outcome, cells in by_outcome.items():
            row = [cell(_question(inputs, outcome), cls="question", data={"outcome": outcome})]
            for years in horizons:
                r = cells.get(years)
                if r is None:
                    row.append(cell("—", cls="num muted"))
                    continue
                b, sc, d = r["baseline"], r["scenario"], r["difference"]
                reliable = bool(r.get("reliable"))
                data = _data(
                    scenario=spec["id"],
                    outcome=outcome,
                    years=r["years"],
                    pp=d["pp"],
                    low_pp=d["low_pp"],
                    high_pp=d["high_pp"],
                    khat=r.get("khat"),
                    method=r["method"],
                    reliable="yes" if reliable else "no",
                    scenario_p05=sc.get("p_05"),
                    scenario_p95=sc.get("p_95"),
                )
                mc = max(abs(d["pp"] - d["low_pp"]), abs(d["high_pp"] - d["pp"]))
                row.append(
                    cell(
                        _pts(d["pp"]),
                        f"{_pct(b['p_mean'])} → {_pct(sc['p_mean'])}",
                        f"MC ±{mc:.2f} · k-hat {_num(r.get('khat'), '.2f')}"
                        + ("" if r["method"] == "reweighting" else f" · {r['method']}"),
                        "" if reliable else "UNRELIABLE",
                        cls="num scenario-change" + ("" if reliable else " flag"),
                        data=data,
                    )
                )
            rows.append(row)
        if rows:
            share = 66.0 / max(len(horizons), 1)
            part.append(
                table(
                    [("Outcome", "", 34.0)] + [(f"Within {_years(h)}", "num", share) for h in horizons],
                    rows,
                    id=f"scenario-{spec['id']}",
                    caption=f"“{spec['name']}”: change against the baseline",
                    keep=True,
                )
            )
        else:
            part.append(paragraph("No open outcome to compare under this scenario."))
        blocks.append(group(part))
    return section("scenarios", "Scenarios", blocks)


def _hypothetical_text(h: dict[str, Any]) -> str:
    period = str(h.get("date", ""))[:10]
    end = str(h.get("end") or "")[:10]
    if end and end != period:
        period += f" to {end}"
    value = h.get("value")
    value_text = f"{float(value):g}" if isinstance(value, (int, float)) else str(value)
    return f"{h.get('indicator')}: {value_text} ({period}, hypothetical)"


# ---------------------------------------------------------------------------- why it moved


def explain_section(inputs: Inputs) -> dict[str, Any]:
    """Why each outcome moved between the previous run and this one: one compact table per
    outcome with the total change at each horizon, the largest contributions
    (:data:`TOP_CONTRIBUTIONS` changes, the rest grouped in one row) and the unexplained remainder."""
    prev = inputs.previous_run
    if prev is None:
        return section(
            "why-it-moved",
            "Why it moved",
            [paragraph("There is no earlier good run of this case to compare with, so there is no change to explain.")],
        )
    try:
        doc = _explain_document(inputs)
    except Exception as exc:  # as above
        from dashboard.services import analysis as sa
        from indicators.errors import BadInput

        if not isinstance(exc, (sa.AnalysisUnavailable, BadInput)):
            log.exception("report: explanation failed")
        return section(
            "why-it-moved",
            "Why it moved",
            [paragraph(f"The change since run {prev['id']} cannot be explained for this run: {_failure_text(exc)}")],
        )
    items = doc.get("items") or []
    blocks: list[dict[str, Any] | None] = [
        paragraph(
            f"From run {doc['from_run']} (as of {doc['from_as_of']}) to this run ({doc['to_run']}, as of "
            f"{doc['to_as_of']}): "
            f"{len(doc.get('changes', []))} new, corrected or retracted observation(s)"
            + (", grouped by indicator" if doc.get("grouped") else "")
            + ". For each outcome, the total change in "
            "percentage points at each horizon, then the contribution of each change: this run's probability "
            "minus the probability with that one change undone (this run's draws reweighted, PSIS). The "
            f"{TOP_CONTRIBUTIONS} largest are listed and the others summed in one row. The remainder is what no "
            "single change explains: interactions between changes, time passing between the as-of dates, and the "
            "Monte Carlo error of two independent fits. `harbinger explain` lists every contribution."
        )
    ]
    if not doc.get("same_case_version", True):
        blocks.append(
            notice(
                "The case file changed between the two runs; part of the move comes from that, and "
                "it sits in the remainder.",
                "alert",
            )
        )
    totals: dict[str, dict[float, dict[str, Any]]] = {}
    for o in doc.get("outcomes", []):
        totals.setdefault(o["outcome"], {})[float(o["years"])] = o
    if not totals:
        blocks.append(paragraph("No open outcome to compare between the two runs."))
        return section("why-it-moved", "Why it moved", blocks)
    context = doc.get("context") or []
    remainder = (
        ("Not from observations: " + "; ".join(c["label"] for c in context)) if context else "Unexplained remainder"
    )
    for outcome, by_years in totals.items():
        blocks.append(_explain_table(inputs, outcome, by_years, items, remainder))
    if not items:
        blocks.append(paragraph("No observation changed between the two runs: the whole move is in the remainder."))
    elif any(not _reliable(it) for it in items):
        blocks.append(
            notice(
                "Contributions marked “not reliable” have a k-hat above 0.7 (reweighting cannot "
                "undo that change faithfully); `harbinger explain --refit` or the Overview's "
                "explanation refits them.",
                "alert",
            )
        )
    return section("why-it-moved", "Why it moved", blocks)


def _reliable(item: dict[str, Any]) -> bool:
    return bool(item.get("reliable") or item.get("method") == "refit")


def _explain_table(
    inputs: Inputs,
    outcome: str,
    by_years: dict[float, dict[str, Any]],
    items: list[dict[str, Any]],
    remainder: str = "Unexplained remainder",
) -> dict[str, Any]:
    """One outcome's table: rows for the probabilities, the total, the largest contributions, the
    rest grouped, and the remainder (``remainder`` names it); a column per horizon."""
    horizons = sorted(by_years)
    share = 56.0 / max(len(horizons), 1)
    columns: list[tuple[str, str, float]] = [("Change", "", 44.0)] + [
        (f"Within {_years(h)}", "num", share) for h in horizons
    ]
    rows = [
        [cell("Probability, previous → this run")]
        + [cell(f"{_pct(by_years[h].get('before'))} → {_pct(by_years[h].get('after'))}", cls="num") for h in horizons]
    ]
    rows.append(
        [cell("Total change", cls="question")]
        + [
            cell(
                _pts(by_years[h]["total_pp"]),
                cls="num explain-total",
                data=_data(
                    outcome=outcome,
                    years=by_years[h]["years"],
                    total_pp=by_years[h]["total_pp"],
                    explained_pp=by_years[h]["explained_pp"],
                    unexplained_pp=by_years[h]["unexplained_pp"],
                ),
            )
            for h in horizons
        ]
    )
    ranked = []
    for it in items:
        mine = {float(c["years"]): c for c in it.get("contributions", []) if c["outcome"] == outcome}
        if mine:
            ranked.append((max(abs(c["pp"]) for c in mine.values()), it, mine))
    ranked.sort(key=lambda r: -r[0])
    for _size, it, mine in ranked[:TOP_CONTRIBUTIONS]:
        reliable = _reliable(it)
        row = [
            cell(
                it["label"],
                "" if reliable else f"not reliable (k-hat {_num(it.get('khat'), '.2f')})",
                cls="change-label" + ("" if reliable else " flag"),
            )
        ]
        for h in horizons:
            c = mine.get(h)
            row.append(
                cell("—", cls="num muted")
                if c is None
                else cell(
                    _pts(c["pp"]),
                    cls="num explain-contribution",
                    data=_data(outcome=outcome, years=c["years"], pp=c["pp"], log_odds=c.get("log_odds")),
                )
            )
        rows.append(row)
    rest = ranked[TOP_CONTRIBUTIONS:]
    if rest:
        row = [cell(f"{len(rest)} other change(s), together")]
        for h in horizons:
            total = sum(mine[h]["pp"] for _size, _it, mine in rest if h in mine)
            row.append(cell(_pts(total), cls="num explain-others", data=_data(outcome=outcome, years=h, pp=total)))
        rows.append(row)
    rows.append([cell(remainder)] + [cell(_pts(by_years[h]["unexplained_pp"]), cls="num") for h in horizons])
    return table(columns, rows, id=f"explain-{outcome}", caption=_question(inputs, outcome))


def _explain_document(inputs: Inputs) -> dict[str, Any]:
    from dashboard.services import analysis as sa

    if inputs.store is None:
        raise sa.AnalysisUnavailable("the report was built without access to the store.")
    return report_cache.analysis(
        inputs,
        "explain",
        lambda: sa.explain_runs(
            inputs.store, inputs.case.case.id, from_run=inputs.previous_run["id"], to_run=inputs.run["id"], refit=False
        ),
    )


# ---------------------------------------------------------------------------- watch list

#: Indicators listed per outcome in the report (the page and ``harbinger watch`` list them all).
WATCH_ROWS = 5


def watch_section(inputs: Inputs) -> dict[str, Any]:
    """Which indicator to collect next and what to watch for (:mod:`dashboard.services.watch`):
    per outcome the indicators whose next report is expected to move its forecast most, with
    their Monte Carlo error and k-hat, and the tripwires as sentences."""
    from dashboard.services import watch

    title = "Watch list"
    if inputs.store is None:
        return section("watch", title, [paragraph("The watch list needs the store; this report was built without it.")])
    try:
        data = watch.report_section(inputs.store, inputs.case.case.id, run_id=inputs.run["id"])
    except Exception as exc:  # as above: a section that fails says so, the report stands
        log.exception("report: the watch list failed")
        return section(
            "watch",
            title,
            [paragraph(f"The watch list could not be computed ({type(exc).__name__}: {_failure_text(exc)}).")],
        )
    if not data.get("available"):
        return section("watch", title, [paragraph(f"No watch list for this run: {data.get('reason', '')}")])
    period = (data.get("period") or {}).get("label", "the next quarter")
    blocks: list[dict[str, Any] | None] = [
        paragraph(
            f"Value of information of a confirmed report over {period}: the expected absolute change of each "
            f"forecast within {_years(data.get('years'))}, in probability points, averaged over what the report "
            "may say (Pareto-smoothed importance reweighting of this run's draws). k-hat is the median over the "
            "report's possible values, with the largest below it; an indicator whose k-hat is above 0.7 for most "
            "of them is not ranked."
        )
    ]
    for o in data["outcomes"]:
        ranked = [r for r in o["ranking"] if r.get("rank") is not None][:WATCH_ROWS]
        rows = [
            [
                cell(r["rank"], cls="num"),
                cell(r["name"]),
                cell(f"{100 * r['mean_abs_change']:.3f}", f"± {100 * r['mcse']:.3f} MC", cls="num"),
                cell(f"{100 * r['sd_reduction']:.3f}", cls="num"),
                cell(_num(r.get("khat_median"), ".2f"), f"max {_num(r.get('khat_max'), '.2f')}", cls="num"),
                cell(r.get("last_observed") or "—"),
            ]
            for r in ranked
        ]
        unranked = [r["name"] for r in o["ranking"] if r.get("rank") is None]
        blocks.append(
            table(
                [
                    ("Rank", "num", 7),
                    ("Indicator", "", 37),
                    ("Expected change (pts)", "num", 18),
                    ("SD reduction (pts)", "num", 13),
                    ("k-hat", "num", 9),
                    ("Last observed", "", 16),
                ],
                rows,
                id=f"watch-{o['outcome']}",
                caption=f"{o['question']} Now {100 * o['p_mean']:.2f}%.",
            )
        )
        if unranked:
            blocks.append(paragraph("Not ranked (reweighting unreliable): " + ", ".join(unranked) + "."))
        sentences = [t for w in o.get("tripwires", []) for t in w.get("sentences", [])]
        if sentences:
            blocks.append(bullet_list(sentences))
    return section("watch", title, blocks)


# ---------------------------------------------------------------------------- track record

NO_BACKTEST = (
    "No backtest has been saved for this case yet: run `harbinger backtest` (for example "
    "`harbinger backtest --origins 2014..2024`) to replay and score past forecasts, then build the "
    "report again."
)


def latest_backtest(inputs: Inputs) -> dict[str, Any] | None:
    from dashboard.services.backtests import latest_backtest as latest

    home = getattr(inputs.store, "home", None)
    if home is None:
        return None
    return latest(home, inputs.case.case.id)


def track_record_section(inputs: Inputs) -> dict[str, Any]:
    """The latest saved backtest: scores against the baselines, coverage, outcome scores, charts."""
    try:
        doc = latest_backtest(inputs)
    except Exception as exc:  # as above
        log.exception("report: reading the backtest failed")
        return section(
            "track-record",
            "Track record",
            [paragraph(f"The saved backtest could not be read ({type(exc).__name__}: {_failure_text(exc)})")],
        )
    if doc is None:
        return section("track-record", "Track record", [paragraph(NO_BACKTEST)])
    try:
        return section("track-record", "Track record", _track_record_blocks(inputs, doc))
    except Exception as exc:  # as above
        log.exception("report: the backtest could not be shown")
        return section(
            "track-record",
            "Track record",
            [
                paragraph(
                    f"The saved backtest {doc.get('file', '')} could not be shown ({type(exc).__name__}: "
                    f"{_failure_text(exc)}); run `harbinger backtest` again."
                )
            ],
        )


def _track_record_blocks(inputs: Inputs, doc: dict[str, Any]) -> list[dict[str, Any] | None]:
    summary = doc.get("summary") or {}
    origins = [o["origin"] for o in doc.get("origins", [])]
    settings = doc.get("settings") or {}
    blocks: list[dict[str, Any] | None] = [
        paragraph(
            "How good were past forecasts? The model was refitted as of the end of each origin year on only "
            "what had been recorded by then, and scored on the following year's observations against two "
            "baselines fitted on the same information: persistence (the last value or rate) and climatology "
            "(the historical rate). CRPS is lower for better forecasts; skill is 1 − model CRPS ÷ baseline "
            "CRPS (above 0: better than the baseline). The case file itself is today's, written with "
            "hindsight; only the observations are replayed."
        ),
        keyvalue(
            [
                ("Backtest saved (UTC)", str(doc.get("created_at", ""))[:19].replace("T", " ")),
                ("Origins scored", ", ".join(str(y) for y in origins) or "none"),
                ("Held-out rows scored", summary.get("n_rows")),
                ("Sampler", ", ".join(f"{k} {v}" for k, v in settings.items()) or "not recorded"),
                ("Model version / case hash", f"{doc.get('model_version')} / {doc.get('case_hash')}"),
            ]
        ),
    ]
    if doc.get("case_hash") and inputs.run.get("case_hash") and doc["case_hash"] != inputs.run["case_hash"]:
        blocks.append(notice("The backtest was made with another version of the case file than this run.", "info"))
    failed = doc.get("failed_origins") or []
    if failed:
        blocks.append(
            notice(
                f"{len(failed)} origin(s) failed and are not scored: "
                + "; ".join(f"{f['origin']}: {f['error']}" for f in failed)[:600],
                "alert",
            )
        )
    failing = summary.get("origins_failing_diagnostics") or []
    if failing:
        blocks.append(
            notice(
                "Origins whose fit failed its diagnostics (scored, but read with care): "
                + ", ".join(str(y) for y in failing)
                + ".",
                "alert",
            )
        )
    targets = doc.get("targets") or []
    if targets:
        blocks.append(subheading("Targets"))
        blocks.append(
            bullet_list(
                [
                    f"{'MET' if t.get('met') else 'MISSED'}: {t.get('target')} — value "
                    f"{_num(t.get('value'), '.3f')}. {t.get('detail', '')}".strip()
                    for t in targets
                ]
            )
        )
    blocks.append(subheading("Indicators"))
    rows = []
    for ind in doc.get("indicators", []):
        if not ind.get("n"):
            continue
        data = _data(
            indicator=ind["id"],
            crps=ind.get("crps"),
            crps_persistence=ind.get("crps_persistence"),
            crps_climatology=ind.get("crps_climatology"),
            coverage_50=ind.get("coverage_50"),
            coverage_90=ind.get("coverage_90"),
        )
        rows.append(
            [
                cell(ind.get("name", ind["id"]), ind["id"], cls="question"),
                cell(ind.get("family", ""), f"{ind['n']} row(s)"),
                cell(_num(ind.get("crps")), cls="num backtest-crps", data=data),
                cell(
                    _num(ind.get("crps_persistence")), f"skill {_num(ind.get('skill_persistence'), '+.2f')}", cls="num"
                ),
                cell(
                    _num(ind.get("crps_climatology")), f"skill {_num(ind.get('skill_climatology'), '+.2f')}", cls="num"
                ),
                cell(_share(ind.get("coverage_50")), cls="num"),
                cell(_share(ind.get("coverage_90")), cls="num"),
            ]
        )
    if rows:
        blocks.append(
            table(
                [
                    ("Indicator", ""),
                    ("Family", ""),
                    ("CRPS", "num"),
                    ("Persistence", "num"),
                    ("Climatology", "num"),
                    ("50% cov.", "num"),
                    ("90% cov.", "num"),
                ],
                rows,
                id="backtest-indicators",
                caption="Held-out scores per indicator (mean CRPS; skill against each baseline; interval coverage)",
                fixed=True,
            )
        )
    else:
        blocks.append(paragraph("No indicator had a held-out observation to score."))
    count = summary.get("count") or {}
    blocks.append(
        keyvalue(
            [
                (
                    "90% interval coverage (all rows)",
                    (
                        f"{_share(summary.get('coverage_90'))} (band if calibrated "
                        f"{_band(summary.get('coverage_90_band'))}; randomised {_share(summary.get('coverage_90_randomised'))})"
                    ),
                ),
                (
                    "50% interval coverage (all rows)",
                    (
                        f"{_share(summary.get('coverage_50'))} (band if calibrated "
                        f"{_band(summary.get('coverage_50_band'))}; randomised {_share(summary.get('coverage_50_randomised'))})"
                    ),
                ),
                (
                    "Count indicators: skill against persistence (mean of ratios)",
                    _num(count.get("skill_persistence"), "+.3f"),
                ),
                (
                    "Count indicators: skill against climatology (mean of ratios)",
                    _num(count.get("skill_climatology"), "+.3f"),
                ),
                (
                    "Count indicators better than persistence",
                    f"{count.get('n_better_than_persistence', '—')} of {count.get('n_indicators', '—')}",
                ),
            ]
        )
    )
    blocks.extend(_skill_blocks(doc))
    blocks.append(
        chart(
            report_cache.chart(inputs.run, "pit_histogram", doc),
            "PIT histogram of the held-out observations: a calibrated "
            "forecast gives a flat histogram (dashed line, grey 95% band); a U shape means intervals "
            "too narrow, a hump too wide, a slope a bias.",
            wide=False,
            title="PIT histogram",
        )
    )
    blocks.append(subheading("Outcomes"))
    orows = []
    for o in doc.get("outcomes", []):
        if not o.get("n"):
            continue
        data = _data(outcome=o["id"], brier=o.get("brier"), log_score=o.get("log_score"))
        orows.append(
            [
                cell(o.get("question", o["id"]), o["id"], cls="question"),
                cell(o["n"], f"{o.get('events', 0)} event(s)", cls="num"),
                cell(_num(o.get("brier"), ".4f"), cls="num backtest-brier", data=data),
                cell(_num(o.get("log_score"), ".4f"), cls="num"),
                cell(_num(o.get("brier_base_rate"), ".4f"), _num(o.get("log_score_base_rate"), ".4f"), cls="num"),
                cell(
                    _num(o.get("skill_brier_base_rate"), "+.2f"),
                    _num(o.get("skill_log_score_base_rate"), "+.2f"),
                    cls="num backtest-outcome-skill",
                    data=_data(
                        outcome=o["id"],
                        skill_brier=o.get("skill_brier_base_rate"),
                        skill_log_score=o.get("skill_log_score_base_rate"),
                    ),
                ),
                cell(o.get("resolution_date") or "open"),
            ]
        )
    if orows:
        blocks.append(
            paragraph(
                "Each origin's probability that the outcome happens within the following year, "
                "scored on what happened: Brier score (squared error, lower is better) and log "
                "score (minus the log probability of what happened, lower is better), beside the "
                "same scores of the case's elicited base rate, and the skill against that elicited base "
                "rate (1 − model score ÷ base-rate score; above 0: the model beat the stated base rate). "
                + _outcome_skill_sentence(doc)
            )
        )
        blocks.append(
            table(
                [
                    ("Outcome", ""),
                    ("Origins", "num"),
                    ("Brier", "num"),
                    ("Log score", "num"),
                    ("Base rate: Brier / log", "num"),
                    ("Skill vs elicited base rate: Brier / log", "num"),
                    ("Resolved", ""),
                ],
                orows,
                id="backtest-outcomes",
                caption="Outcome scores across origins",
                fixed=True,
            )
        )
        blocks.append(
            chart(
                report_cache.chart(inputs.run, "probability_over_origins", doc),
                "P(outcome within a year) at each origin with "
                "its 90% interval; red stars where it happened within that year, the red dotted line "
                "at the resolution date.",
                title="Probability over origins",
            )
        )
    else:
        blocks.append(paragraph("No outcome was at risk in a scored window, so no outcome score exists."))
    return blocks


def _skill_blocks(doc: dict[str, Any]) -> list[dict[str, Any] | None]:
    """The skill against the baselines as a mean of ratios, pooled and as a median, each explained."""
    from dashboard.services.backtests import SKILL_ADVICE, SKILL_SUMMARIES, skill_rows

    blocks: list[dict[str, Any] | None] = [subheading("Skill against baselines: mean of ratios / pooled / median")]
    rows = skill_rows(doc)
    if not rows:
        blocks.append(paragraph("Mean of ratios, pooled and median skill: — (this backtest holds no per-row scores)."))
        return blocks
    blocks.append(
        table(
            [
                ("Indicators", ""),
                ("Summary", ""),
                ("vs persistence", "num"),
                ("vs climatology", "num"),
                ("Over", "num"),
            ],
            [
                [
                    cell(r["group"]),
                    cell(r["summary"]),
                    cell(
                        _num(r["persistence"], "+.3f"),
                        cls="num backtest-skill",
                        data=_data(
                            group=r["group"],
                            summary=r["summary"],
                            persistence=r["persistence"],
                            climatology=r["climatology"],
                        ),
                    ),
                    cell(_num(r["climatology"], "+.3f"), cls="num"),
                    cell(r["over"], cls="num"),
                ]
                for r in rows
            ],
            id="backtest-skill",
            caption="Skill = 1 − model CRPS ÷ baseline CRPS, summarised three ways (above 0: the model is better)",
            fixed=True,
        )
    )
    notes = [f"{label.capitalize()}: {meaning}" for _, label, meaning in SKILL_SUMMARIES]
    if ((doc.get("summary") or {}).get("skill") or {}).get("from_saved_rows"):
        notes.append("Computed from the saved per-row scores: this backtest was saved before these figures.")
    blocks.append(bullet_list(notes))
    blocks.append(paragraph(SKILL_ADVICE))
    return blocks


def _outcome_skill_sentence(doc: dict[str, Any]) -> str:
    pooled = ((doc.get("summary") or {}).get("skill") or {}).get("outcomes") or {}
    return (
        f"Pooled over all {pooled.get('n_forecasts', '—')} outcome forecasts, the skill against the elicited "
        f"base rate is {_num(pooled.get('brier'), '+.2f')} (Brier) and {_num(pooled.get('log_score'), '+.2f')} "
        "(log score)."
    )


def _band(band: Any) -> str:
    if not band or len(band) != 2:
        return "—"
    return f"{_share(band[0])}–{_share(band[1])}"


__all__ = [
    "NO_BACKTEST",
    "UNRELIABLE",
    "WATCH_ROWS",
    "explain_section",
    "scenario_documents",
    "scenario_section",
    "track_record_section",
    "watch_section",
]
