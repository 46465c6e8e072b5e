"""Everything a forecast report shows, gathered as plain data.

:func:`gather` reads the store (the run row, the previous run, the observations known at the
run's as-of date), the run's ``forecast.json`` (schema in :mod:`models.runs`) and the case, and
returns a dict::

    {
      "title", "subtitle",
      "case": {"id", "name", "description", "start"},
      "identity": {"case", "run_id", "as_of", "created_at", "case_hash", "data_hash",
                   "model_version", "n_observations", "settings", "previous_run_id",
                   "previous_as_of", "generated_at"},
      "diagnostics": {"ok": bool, "problems": str, "text": str, ...the run's own values},
      "warnings": [str, ...],      # red labels: failed diagnostics, stale run
      "table": [row, ...],          # the forecast table (exports; see :func:`forecast_rows`)
      "sections": [section, ...],   # what the HTML/PDF show, in order
      "run_path": str,              # the run directory (posterior.nc for the netCDF export)
    }

A section is ``{"id", "title", "blocks": [block, ...]}``; a block is one of

- ``{"kind": "paragraph", "text"}``, ``{"kind": "notice", "text", "level": "alert"|"info"}``,
- ``{"kind": "list", "items": [str], "ordered": bool}``,
- ``{"kind": "subheading", "text"}``, ``{"kind": "keyvalue", "rows": [[label, value], ...]}``,
- ``{"kind": "table", "id", "caption", "columns": [{"label", "cls"}], "rows": [[cell, ...]]}``
  with cells ``{"text", "lines": [str], "cls", "data": {name: value}}`` (``data`` becomes
  ``data-*`` attributes, so the numbers are machine-readable in the HTML),
- ``{"kind": "chart", "svg", "caption", "wide": bool}`` (``svg`` is markup made by
  :mod:`dashboard.report.charts`; everything else is text and is escaped when rendered).

The scenarios, "why it moved" and track-record sections live in :mod:`dashboard.report.analysis`.
Adding a section is one function ``section(inputs: Inputs) -> dict | None`` added to :data:`SECTIONS`; the templates
render any section from its blocks, and the table of contents follows the list.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from dashboard.report import analysis
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
from dashboard.services import reviews, views
from dashboard.services.forecasts import previous_ok_run
from dashboard.services.runs import forecast_of
from indicators.errors import BadInput

#: How many of the latest observations the evidence table lists.
EVIDENCE_ROWS = 10
#: Years of observations shown before the as-of date on each indicator chart.
RECENT_YEARS = 8
#: Longest note shown in the evidence table (characters); the full note is in the store.
NOTE_CHARS = 120
#: Longest source shown in a table (characters); the full source is in the store.
SOURCE_CHARS = 80
#: Size of the small indicator charts (inches; three to a row).
SMALL_CHART = (2.3, 1.6)


# ---------------------------------------------------------------------------- gathering


def select_run(store: Any, case_id: str, *, run_id: str | None = None, as_of: date | None = None) -> dict[str, Any]:
    """The run a report is about: ``run_id``, else the latest good run as of ``as_of`` (its
    as-of date on or before it), else the current run — as ``harbinger forecast`` chooses."""
    doc = forecast_of(store, case_id, run_id=run_id, as_of=as_of)
    run = store.get_run(doc["run_id"])
    if run is None:  # pragma: no cover - forecast_of read it a moment ago
        raise BadInput(f"--run: no run '{doc['run_id']}' for case '{case_id}'.")
    return run


def gather(
    store: Any, case_id: str, *, run_id: str | None = None, as_of: date | None = None, sections: bool = True
) -> dict[str, Any]:
    """The report content of a run (see the module docstring).

    ``sections=False`` leaves ``sections`` empty (no charts are drawn): enough for the CSV, JSON
    and netCDF exports, which need only the identity and the forecast table.

    Raises :class:`~indicators.errors.BadInput` for an unknown or unusable run, or when the
    case has no fitted run (as of ``as_of``).
    """
    run = select_run(store, case_id, run_id=run_id, as_of=as_of)
    forecast = views.load_forecast(run)
    if forecast is None:
        raise BadInput(
            f"the forecast file of run '{run['id']}' cannot be read ({run.get('path')}); refit to make a new one."
        )
    previous_run = previous_ok_run(store.runs(case_id), run["id"])
    previous = views.load_forecast(previous_run)
    run_as_of = date.fromisoformat(str(forecast["as_of"])[:10])
    loaded = store.get_case(case_id)
    observations = store.observations(case_id, as_of=run_as_of)
    inputs = Inputs(
        case=loaded,
        run=run,
        forecast=forecast,
        previous_run=previous_run,
        previous=previous,
        observations=observations,
        stale_records=views.records_since(store.history(case_id), run),
        store=store,
        stale=reviews.judge_staleness(loaded.case, observations, store.reviews(case_id, as_of=run_as_of), on=run_as_of),
    )
    return assemble(inputs, sections=sections)


def assemble(inputs: Inputs, *, sections: bool = True) -> dict[str, Any]:
    """The content dict of :func:`gather` from its inputs (no store access)."""
    case = inputs.case.case
    fc = inputs.forecast
    summary = views.run_summary(inputs.run, fc, stale_records=inputs.stale_records)
    diag = dict(fc.get("diagnostics") or {})
    diag["ok"] = bool(summary["diagnostics_ok"])
    diag["problems_text"] = views.diagnostics_problems(diag) if not diag["ok"] else ""
    diag["text"] = views.diagnostics_text(diag)
    run = inputs.run
    # the store's row is authoritative for the run's identity (as in views.load_forecast)
    identity = {
        "case": case.id,
        "run_id": fc["run_id"],
        "as_of": fc["as_of"],
        "created_at": fc.get("created_at"),
        "case_hash": run.get("case_hash") or fc.get("case_hash"),
        "data_hash": run.get("data_hash") or fc.get("data_hash"),
        "model_version": run.get("model_version") or fc.get("model_version"),
        "n_observations": run.get("n_observations")
        if run.get("n_observations") is not None
        else fc.get("n_observations"),
        "settings": fc.get("settings") or {},
        "previous_run_id": inputs.previous_run["id"] if inputs.previous_run else None,
        "previous_as_of": (inputs.previous or {}).get("as_of"),
        "generated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
    }
    made = []
    for make in SECTIONS if sections else ():
        part = make(inputs)
        if part is not None:
            made.append(part)
    return {
        "title": f"{case.name}: forecast report",
        "subtitle": f"As of {fc['as_of']} · run {fc['run_id']}",
        "case": {"id": case.id, "name": case.name, "description": case.description, "start": case.start.isoformat()},
        "identity": identity,
        "diagnostics": diag,
        "warnings": list(summary["warnings"]),
        "table": forecast_rows(fc, inputs.previous),
        "sections": made,
        "run_path": str(inputs.run.get("path") or ""),
    }


def forecast_rows(forecast: dict[str, Any], previous: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The forecast table: one row per outcome and horizon; a resolved outcome is one row.

    Columns: ``outcome``, ``question``, ``status`` (``forecast`` or ``resolved YYYY-MM-DD``),
    ``years``, ``p_mean``, ``p_05``, ``p_25``, ``p_50``, ``p_75``, ``p_95`` (posterior mean and
    quantiles of P(outcome within ``years`` of the as-of date); the 90% interval is
    ``p_05``–``p_95``), ``mcse``, ``change_pp`` (``p_mean`` minus the previous run's, in
    percentage points; empty without a previous value).
    """
    changes = _changes(forecast, previous)
    rows = []
    for o in forecast.get("outcomes", []):
        base = {"outcome": o["id"], "question": o.get("question", o["id"])}
        if o.get("resolved"):
            rows.append(
                base
                | {
                    "status": f"resolved {o.get('resolution_date') or ''}".strip(),
                    "years": None,
                    **{k: None for k in ("p_mean", "p_05", "p_25", "p_50", "p_75", "p_95", "mcse", "change_pp")},
                }
            )
            continue
        for h in sorted(o.get("horizons", []), key=lambda h: h["years"]):
            years = int(h["years"])
            rows.append(
                base
                | {
                    "status": "forecast",
                    "years": years,
                    **{k: h.get(k) for k in ("p_mean", "p_05", "p_25", "p_50", "p_75", "p_95", "mcse")},
                    "change_pp": changes.get((o["id"], years), {}).get("change_pp"),
                }
            )
    return rows


def _changes(forecast: dict[str, Any], previous: dict[str, Any] | None) -> dict[tuple[str, int], dict[str, Any]]:
    """Per (outcome, horizon): the Overview's card, whose ``change_pp``/``change`` are the change
    since the previous run (:func:`dashboard.services.views.outcome_cards`)."""
    out = {}
    for years in views.horizons(forecast):
        for card in views.outcome_cards(forecast, horizon=years, previous=previous):
            if card["p_mean"] is not None:
                out[(card["id"], years)] = card
    return out


# ---------------------------------------------------------------------------- sections


def _failing_notice(inputs: Inputs) -> dict[str, Any] | None:
    diag = inputs.forecast.get("diagnostics") or {}
    ok = views.run_summary(inputs.run, inputs.forecast)["diagnostics_ok"]
    if ok is False:
        return notice(
            f"Diagnostics failed: {views.diagnostics_problems(diag)} — do not treat as a clean forecast.", "alert"
        )
    return None


def _stale_series(inputs: Inputs) -> dict[str, Any] | None:
    """The stale-series warning as of the run's as-of date: the Overview's and Indicators page's
    notice (:func:`dashboard.services.reviews.stale_notice`), with one line per series."""
    notice_ = reviews.stale_notice(inputs.stale) if inputs.stale else None
    if notice_ is None:
        return None
    return group(
        [
            notice(
                f"{notice_['headline']} {notice_['explanation']} "
                "(`harbinger observe reviewed ID --through DATE`, or Mark reviewed on the Indicators page.)",
                "alert",
            ),
            bullet_list(notice_["lines"]),
        ]
    )


def summary_section(inputs: Inputs) -> dict[str, Any]:
    """Every outcome: probability with its 90% interval at each horizon, change, status."""
    fc = inputs.forecast
    hs = views.horizons(fc)
    changes = _changes(fc, inputs.previous)
    share = (100.0 - 28.0 - 12.0) / max(len(hs), 1)
    columns = (
        [("Outcome", "", 28.0)]
        + [(f"Within {h} year{'s' if h != 1 else ''}", "num", share) for h in hs]
        + [("Status", "", 12.0)]
    )
    rows = []
    for o in fc.get("outcomes", []):
        row = [cell(o.get("question", o["id"]), o["id"], cls="question")]
        by_years = {int(h["years"]): h for h in o.get("horizons", [])}
        for years in hs:
            h = by_years.get(years)
            if o.get("resolved") or h is None:
                row.append(cell("—", cls="num muted"))
                continue
            card = changes.get((o["id"], years), {})
            data = {"outcome": o["id"], "years": years, "p-mean": h["p_mean"], "p-05": h["p_05"], "p-95": h["p_95"]}
            if card.get("change_pp") is not None:
                data["change-pp"] = round(card["change_pp"], 4)
            change = card.get("change") if inputs.previous is not None else ""
            row.append(
                cell(
                    views.fmt_prob(h["p_mean"]),
                    f"90%: {views.fmt_prob(h['p_05'])} – {views.fmt_prob(h['p_95'])}",
                    change or "",
                    cls="num prob-cell",
                    data=data,
                )
            )
        if o.get("resolved"):
            row.append(
                cell("Resolved", f"on {o.get('resolution_date') or 'an unrecorded date'}", cls="status-resolved")
            )
        else:
            row.append(cell("Open", cls="status-open"))
        rows.append(row)
    prev = inputs.previous_run
    against = (
        f"Changes are against run {prev['id']} (as of {(inputs.previous or {}).get('as_of')}), the good "
        "run fitted just before this one."
        if prev
        else "There is no earlier run to compare with, so no change is shown."
    )
    return section(
        "summary",
        "Summary",
        [
            _failing_notice(inputs),
            _stale_series(inputs),
            paragraph(
                f"Probability that each outcome happens within the horizon after {fc['as_of']}: the "
                "posterior mean in bold, with its 90% credible interval beneath (“90%: low – high”; the "
                "probability lies in that range with 90% posterior probability). An open outcome has not "
                f"happened by the as-of date. {against}"
            ),
            table(
                columns,
                rows,
                id="summary-table",
                caption="Outcome probabilities by horizon"
                + (" — from a run that FAILED its diagnostics" if _failing_notice(inputs) else ""),
            ),
        ],
    )


def horizon_section(inputs: Inputs) -> dict[str, Any] | None:
    svg = report_cache.chart(inputs.run, "horizon_curves", inputs.forecast)
    if svg is None:
        return None
    return section(
        "horizons",
        "Horizon curves",
        [
            group(
                [
                    paragraph(
                        "How each open outcome's probability grows with the horizon: posterior mean (line) with "
                        "50% and 90% credible bands. The curves never fall with the horizon, because an outcome "
                        "that happens within three years has also happened within five."
                    ),
                    chart(svg, "P(outcome within the horizon), by horizon in years."),
                ]
            )
        ],
    )


def factor_section(inputs: Inputs) -> dict[str, Any] | None:
    svg = report_cache.chart(inputs.run, "factor_paths", inputs.forecast)
    if svg is None:
        return None
    return section(
        "factors",
        "Latent factor paths",
        [
            group(
                [
                    paragraph(
                        "The model's latent factors, quarter by quarter: posterior mean with 50% and 90% credible "
                        "bands. Each is on a standard scale (0 is its long-run average, ±1 one standard deviation); "
                        "the dotted line marks the as-of date, and later quarters are projections. What each factor "
                        "means is in the appendix."
                    ),
                    chart(svg, "Latent factor paths."),
                ]
            )
        ],
    )


def indicator_section(inputs: Inputs) -> dict[str, Any] | None:
    case = inputs.case.case
    blocks: list[dict[str, Any] | None] = [
        paragraph(
            f"One chart per indicator over the last {RECENT_YEARS} years before the as-of date and the quarters "
            "after it. The shaded band is the model's expected value per quarter (90% interval) and the dotted "
            "line its mean; dots are the modelled observations (a period total is drawn per quarter), with the "
            "90% posterior predictive interval of each as a vertical bar; pale dots are reports the model "
            "thinks likely spurious; red rings mark surprises (outside the central 95% of the predictive "
            "distribution). What each indicator measures is in the appendix."
        ),
        chart(report_cache.chart(inputs.run, "indicator_legend"), "", size="wide"),
    ]
    width, height = SMALL_CHART
    for ind in inputs.forecast.get("indicators", []):
        try:
            name = case.indicator(ind["id"]).name
        except KeyError:
            name = ind.get("name", ind["id"])
        svg = report_cache.chart(
            inputs.run,
            "indicator_chart",
            ind,
            as_of=inputs.forecast["as_of"],
            years=RECENT_YEARS,
            width=width,
            height=height,
            legend=False,
        )
        n_surprise = sum(1 for r in ind.get("rows", []) if r.get("surprise"))
        n_obs = len({i for r in ind.get("rows", []) for i in r.get("observation_ids", [])})
        blocks.append(
            chart(svg, f"{n_obs} observation(s) in this run; {n_surprise} surprise(s).", size="third", title=name)
        )
    return section("indicators", "Indicators", blocks)


def indicator_definitions_section(inputs: Inputs) -> dict[str, Any]:
    """What each factor means and what each indicator records, how and which factors it reflects."""
    case = inputs.case.case
    rows = []
    for ind in case.indicators:
        coverage = ""
        if ind.coverage_start is not None:
            until = ind.coverage_end.isoformat() if ind.coverage_end else "now"
            coverage = f"; coverage {ind.coverage_start.isoformat()} to {until}"
        loads = ", ".join(f"{f} ({s})" for f, s in ind.loadings.items())
        rows.append(
            [
                cell(
                    ind.name, f"{ind.id}: {ind.family}, {ind.aggregation}{coverage}; loads on {loads}", cls="question"
                ),
                cell(f"{ind.description} Unit: {ind.unit}.", cls="note"),
            ]
        )
    return section(
        "indicator-definitions",
        "Factors and indicators",
        [
            bullet_list([f"{f.name} ({f.id}): {f.meaning} Anchor: {f.anchor}." for f in case.factors]),
            table(
                [("Indicator", "", 32.0), ("What it records", "", 68.0)],
                rows,
                id="indicator-definitions",
                caption="Indicators of the case",
            ),
        ],
        appendix=True,
    )


def _short(text: Any, limit: int) -> str:
    text = str(text or "")
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def evidence_section(inputs: Inputs) -> dict[str, Any]:
    """The observations the model found surprising (the latest observations are in the appendix)."""
    blocks = _surprise_blocks(inputs)
    blocks.append(
        paragraph(
            f"The {min(EVIDENCE_ROWS, len(inputs.observations))} most recent observations, with "
            "their sources and grades, are listed in the appendix."
        )
    )
    if inputs.stale_records:
        blocks.append(
            notice(
                f"{inputs.stale_records} record(s) (observations, corrections or retractions) were "
                "added after this run was fitted; they are not in this report's forecast.",
                "alert",
            )
        )
    return section("evidence", "Evidence", blocks)


def observations_section(inputs: Inputs) -> dict[str, Any]:
    """The latest observations with their provenance."""
    fc = inputs.forecast
    obs = views.observation_table(inputs.observations, fc)[:EVIDENCE_ROWS]
    names = {i.id: i.name for i in inputs.case.case.indicators}
    columns = [
        ("Date", "", 11.5),
        ("Indicator", "", 18.0),
        ("Value", "num", 6.0),
        ("Grade", "center", 7.0),
        ("P(genuine)", "num", 11.0),
        ("Surprise", "center", 8.5),
        ("Source", "source", 17.0),
        ("Note", "note", 21.0),
    ]
    rows = []
    for r in obs:
        until = f"to {r['end']}" if r["end"] else ""
        surprise = {"yes": "yes", "no": "no", "": "not in run"}[r["surprise"]]
        rows.append(
            [
                cell(r["date"], until, f"obs. {r['id']}"),
                cell(names.get(r["indicator"], r["indicator"])),
                cell(f"{r['value']:g}", cls="num"),
                cell(
                    f"{r['reliability']}{r['credibility']}",
                    cls="center",
                    data={"reliability": r["reliability"], "credibility": r["credibility"]},
                ),
                cell("—" if r["genuine"] is None else f"{r['genuine']:.2f}", cls="num"),
                cell(surprise, cls="center" + (" flag" if surprise == "yes" else "")),
                cell(_short(r["source"], SOURCE_CHARS), cls="source"),
                cell(_short(r["note"], NOTE_CHARS), cls="note"),
            ]
        )
    return section(
        "observations",
        "Latest observations",
        [
            paragraph(
                f"The {len(obs)} most recent observations in effect at the end of {fc['as_of']} (of "
                f"{len(inputs.observations)}), newest first, with their source and Admiralty grade: the "
                "source's reliability (A completely reliable … E unreliable, F cannot be judged) and the "
                "information's credibility (1 confirmed … 5 improbable, 6 cannot be judged), so “B2” is a "
                "usually reliable source reporting something probably true. P(genuine) is the model's "
                "posterior probability that the report is genuine rather than spurious. Long sources and "
                "notes are cut (…); `harbinger observe list` shows them whole."
            ),
            table(columns, rows, id="evidence-table", caption="Latest observations"),
        ],
        appendix=True,
    )


def _surprise_blocks(inputs: Inputs) -> list[dict[str, Any] | None]:
    fc = inputs.forecast
    by_id = {int(r["id"]): r for r in inputs.observations.to_dict("records")}
    rows = []
    for ind in fc.get("indicators", []):
        for r in ind.get("rows", []):
            if not r.get("surprise"):
                continue
            ids = [int(i) for i in r.get("observation_ids", [])]
            sources = list(dict.fromkeys(str(by_id[i]["source"]) for i in ids if i in by_id))
            shown = (
                _short(sources[0], 60) + (f" (+{len(sources) - 1} more)" if len(sources) > 1 else "") if sources else ""
            )
            period = [r["start"]] if r["start"] == r["end"] else [r["start"], f"to {r['end']}"]
            pit = r.get("pit")
            reading = (
                "higher than expected"
                if pit is not None and pit > 0.5
                else "lower than expected"
                if pit is not None
                else "outside the predictive range"
            )
            rows.append(
                [
                    cell(*period),
                    cell(ind.get("name", ind["id"]), data={"indicator": ind["id"]}),
                    cell(f"{r['value']:g}", cls="num"),
                    cell(_interval_text(r.get("pred_p05"), r.get("pred_p95")), cls="num"),
                    cell(reading, "" if pit is None else f"PIT {pit:.3f}"),
                    cell(", ".join(str(i) for i in ids) or "none (no event recorded)", shown, cls="source"),
                ]
            )
    if not rows:
        return [paragraph("No observation of this run is flagged as surprising.")]
    return [
        paragraph(
            f"{len(rows)} modelled row(s) fall outside the central 95% of their leave-one-out posterior "
            "predictive distribution. A surprise asks a question — bad data, or a real change? — "
            "rather than answering it: check the source before reading it as a shift."
        ),
        table(
            [
                ("Period", "", 12.0),
                ("Indicator", "", 25.0),
                ("Value", "num", 7.0),
                ("Predictive 90%", "num", 12.0),
                ("Reading", "", 14.0),
                ("Observations and sources", "source", 30.0),
            ],
            rows,
            id="surprise-table",
            caption="Observations flagged as surprising",
        ),
    ]


def _interval_text(lo: Any, hi: Any) -> str:
    if lo is None or hi is None:
        return "—"
    return f"{float(lo):g} – {float(hi):g}"


def diagnostics_section(inputs: Inputs) -> dict[str, Any]:
    diag = inputs.forecast.get("diagnostics") or {}
    failing = _failing_notice(inputs)
    settings = inputs.forecast.get("settings") or {}
    rows = [
        [
            cell(r["check"]),
            cell(r["value"], cls="num"),
            cell(r["threshold"], cls="num"),
            cell(r["status"], cls="flag" if r["status"] == "outside" else ""),
        ]
        for r in views.diagnostics_rows(diag)
    ]
    return section(
        "diagnostics",
        "Diagnostics",
        [
            group(
                [
                    failing or notice("Diagnostics passed: no sign that the sampler failed to converge.", "ok"),
                    table(
                        [("Check", ""), ("Value", "num"), ("Usual threshold", "num"), ("Status", "")],
                        rows,
                        id="diagnostics-table",
                        caption="Sampler diagnostics",
                    ),
                ]
            ),
            paragraph(
                "R-hat compares the chains (near 1 when they agree); ESS is the effective number of "
                "independent draws; divergent transitions and a low E-BFMI signal a posterior the sampler "
                "could not explore. The run's own check decides the label; the thresholds are the usual "
                "rules of thumb."
            ),
            paragraph("Sampler: " + (", ".join(f"{k} {v}" for k, v in settings.items()) or "not recorded") + "."),
        ],
    )


def elicitation_section(inputs: Inputs) -> dict[str, Any] | None:
    """Per open outcome, the elicited range, the prior's own prediction and the posterior side by
    side, with the "driven by the prior" label and the sentence on how far the data moved it (the
    rows of the Model page, :func:`dashboard.services.views.elicitation_rows`); nothing for a run
    that recorded no elicitation."""
    rows = views.elicitation_rows(inputs.forecast)
    if not rows:
        return None
    years = rows[0]["years"]
    return section(
        "elicitation",
        "Elicitation, prior and data",
        [
            paragraph(
                f"Probability within {years} years: the case's elicited 90% range, the prior's own prediction "
                "(mean and 90% interval, with the factors varying as the model lets them) and the posterior. "
                "Power-scaling sensitivity above 0.05 to the prior and below it to the likelihood marks a "
                "forecast driven by the prior: read it as the case's judgement more than as evidence."
            ),
            table(
                [
                    ("Outcome", "", 28),
                    ("Elicited range", ""),
                    ("Prior alone", ""),
                    ("With the data", ""),
                    ("Sensitivity", ""),
                ],
                [
                    [
                        cell(r["outcome"], *(["driven by the prior"] if r["driven_by_prior"] else [])),
                        cell(r["elicited"]),
                        cell(r["prior"]),
                        cell(r["posterior"]),
                        cell(r["sensitivity"]),
                    ]
                    for r in rows
                ],
                id="elicitation-table",
                caption=f"Elicited, prior-predictive and posterior probability within {years} years",
            ),
            bullet_list([f"{r['outcome']}: {r['moved']}" for r in rows if r["moved"]])
            if any(r["moved"] for r in rows)
            else None,
        ],
    )


def methods_section(inputs: Inputs) -> dict[str, Any]:
    from models.priors import DEFAULT_PRIORS

    case = inputs.case.case
    priors = views.prior_rows(inputs.forecast)
    # The measurement model's tables as the run had them (the defaults when it recorded none).
    recorded = {r["name"]: r["value"] for r in priors["rows"]}
    defaults = views.describe_priors(DEFAULT_PRIORS.as_dict())
    table_of = {r["name"]: r["value"] for r in defaults} | recorded
    families: dict[str, int] = {}
    for ind in case.indicators:
        families[ind.family] = families.get(ind.family, 0) + 1
    fam_text = ", ".join(f"{n} {fam}" for fam, n in families.items())
    rel = table_of["reliability_genuine"]
    cred = table_of["credibility_factor"]
    factor_names = "; ".join(f.name for f in case.factors)
    return section(
        "methods",
        "Methods",
        appendix=True,
        blocks=[
            paragraph(
                f"Time runs in calendar quarters from {case.start.isoformat()} to the as-of date. "
                f"{len(case.factors)} latent factors ({factor_names}) each drift slowly from quarter to "
                "quarter (a stationary autoregressive process with persistence near 0.9 per quarter); each "
                "has an anchor indicator whose loading is fixed positive, which fixes what “higher” means."
            ),
            _cross_effects_paragraph(inputs.forecast.get("cross_effects")),
            paragraph(
                f"{len(case.indicators)} indicators ({fam_text}) reflect the factors through loadings whose "
                "signs the case file states. Counts are negative binomial; a total over a period (such as a "
                "Japanese fiscal year) is the sum of the quarterly rates it covers, so yearly, quarterly and "
                "event data live in one model. For event indicators, quarters inside the recorded coverage "
                "with no event count as zero, and quarters outside it as missing."
            ),
            paragraph(
                "Each report is genuine with a probability set by its source's reliability grade "
                f"({rel}) times a credibility factor ({cred}); otherwise it comes from a diffuse "
                "“spurious report” distribution, so a doubtful report moves the forecast less than a "
                "confirmed one."
            ),
            paragraph(
                "Each outcome has a quarterly hazard whose log-odds are linear in the factors. Each "
                "effect's prior is fitted to the odds ratio range the case file elicits, and the hazard's "
                "intercept is calibrated so that the prior alone, with the factors varying as the model "
                "lets them, gives the elicited range of the 1-year probability. A resolved outcome contributes its event; an open one is censored at the as-of date. "
                "The forecast continues every posterior draw's factors into the future along simulated "
                "paths and averages the probability that the outcome happens within each horizon, so the "
                "intervals carry both parameter and future uncertainty."
            ),
            paragraph(
                f"The posterior is sampled with the No-U-Turn sampler (model version "
                f"{inputs.forecast.get('model_version')}); convergence is checked with R-hat, effective "
                "sample sizes, divergences and E-BFMI, and a run that fails them is labelled so. An "
                "observation is flagged as a surprise when it lies outside the central 95% of its "
                "leave-one-out (Pareto-smoothed importance sampling) posterior predictive distribution."
            ),
            subheading("Structural priors"),
            paragraph(
                "The model's prior constants besides the elicited hazard priors (what each means and why it has "
                "its value: the Model page and models/priors.py); a case file may set some of them (priors:). "
                + priors["note"]
            ),
            table(
                [("Name", "", 34), ("Prior", "")],
                [
                    [cell(r["name"], *(["set by the case"] if r["overridden"] else [])), cell(r["distribution"])]
                    for r in priors["rows"]
                ],
                id="priors-table",
                caption="Structural priors of this run",
            )
            if priors["rows"]
            else None,
        ],
    )


def _cross_effects_paragraph(effects: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """The case's lagged effects between factors, each with its declared range and posterior
    (``forecast.json``'s ``cross_effects``); nothing when the case declares none."""
    if not effects:
        return None

    def one(e: dict[str, Any]) -> str:
        declared = f"declared 90% range {analysis._num(e.get('prior_low'), '+.2f')} to {analysis._num(e.get('prior_high'), '+.2f')}"
        posterior = (
            f"posterior mean {analysis._num(e.get('post_mean'), '+.2f')}, 90% interval "
            f"{analysis._num(e.get('post_p05'), '+.2f')} to {analysis._num(e.get('post_p95'), '+.2f')}"
        )
        name = f"{e['from_factor'].replace('_', ' ')} {e['effect']} {e['to_factor'].replace('_', ' ')}"
        return f"{name} ({declared}; {posterior})"

    return paragraph(
        "Where the case declares it, one factor's level in a quarter shifts another's shock in the next "
        "(a first-order vector autoregression with only the declared entries; each affected factor's "
        "shocks are scaled so its variance stays one, in units of that shock's standard deviation per "
        "standard deviation of the source): " + "; ".join(one(e) for e in effects) + ". Scenarios and "
        "forecasts propagate through these effects."
    )


def provenance_section(inputs: Inputs) -> dict[str, Any]:
    """Where the data come from, what the case assumes, and the caveats."""
    case = inputs.case.case
    frame = inputs.observations
    fc = inputs.forecast
    grades = frame["reliability"].value_counts().sort_index() if len(frame) else pd.Series(dtype=int)
    first = frame["date"].min().strftime("%Y-%m-%d") if len(frame) else "—"
    last = frame["end"].max().strftime("%Y-%m-%d") if len(frame) else "—"
    blocks: list[dict[str, Any] | None] = [
        paragraph(case.description),
        keyvalue(
            [
                ("Case", f"{case.name} ({case.id})"),
                ("Case version (hash)", _ident(inputs, "case_hash")),
                ("Observations in this run", _ident(inputs, "n_observations")),
                ("Observations in effect at the as-of date", len(frame)),
                ("Period covered", f"{first} to {last}"),
                ("Distinct sources", int(frame["source"].nunique()) if len(frame) else 0),
                ("By source reliability", ", ".join(f"{g}: {int(n)}" for g, n in grades.items()) or "—"),
                ("Data hash", _ident(inputs, "data_hash")),
            ]
        ),
        paragraph(
            "Every observation carries its source and grades and is never overwritten: corrections "
            "and retractions are new records, and this run saw only what had been recorded by the end "
            "of its as-of date, so it can be replayed exactly."
        ),
    ]
    excluded = fc.get("excluded") or []
    if excluded:
        blocks.append(
            paragraph(
                f"{len(excluded)} observation(s) were left out of the model: "
                + "; ".join(f"{e.get('observation_id')}: {e.get('reason')}" for e in excluded[:20])
                + "."
            )
        )
    blocks.append(subheading("Outcomes: resolution criteria and base rates"))
    rows = []
    for o in case.outcomes:
        status = f"resolved {o.resolved.date.isoformat()}" if o.resolved else "open"
        rows.append(
            [
                cell(o.question, f"{o.id} · {status}", o.resolution_criteria, cls="question definition"),
                cell(f"{o.base_rate.annual:g} a year: {o.base_rate.reasoning}", cls="note"),
            ]
        )
    blocks.append(
        table(
            [("Outcome, and when it resolves", "", 56.0), ("Prior base rate", "", 44.0)],
            rows,
            id="outcomes-table",
            caption="Outcome definitions",
        )
    )
    for o in case.outcomes:
        if o.resolved:
            blocks.append(
                paragraph(
                    f"Resolution of “{o.question}” ({o.id}) on {o.resolved.date.isoformat()}: {o.resolved.evidence}"
                )
            )
    blocks.append(subheading("Caveats"))
    blocks.append(
        bullet_list(
            [
                (
                    "The model knows only what is recorded as an observation; events not recorded are invisible to it "
                    "(and, for event indicators inside their coverage, read as “nothing happened”)."
                ),
                (
                    "Base rates are judgements, reasoned in the case file; with rare outcomes the hazards are mostly "
                    "driven by these priors. Read the intervals, not just the means."
                ),
                (
                    "A forecast is conditional on the case's structure (factors, loadings, effect signs); another "
                    "structure could give other numbers."
                ),
            ]
        )
    )
    shipped = shipped_caveats(case.id)
    if shipped:
        blocks.append(paragraph("From the data notes shipped with this case:"))
        blocks.append(bullet_list(shipped, ordered=True))
    return section("provenance", "Data provenance and caveats", blocks, appendix=True)


def _ident(inputs: Inputs, key: str) -> Any:
    """An identity field of the run: the store's row, else the forecast file."""
    value = inputs.run.get(key)
    return value if value is not None else inputs.forecast.get(key)


def shipped_caveats(case_id: str) -> list[str]:
    """The numbered caveats of the shipped data README, when it describes this case; else []."""
    import re

    from indicators.resources import data_path

    try:
        if not data_path("observations", f"{case_id}.csv").exists():
            return []
        text = data_path("README.md").read_text(encoding="utf-8")
    except (OSError, ModuleNotFoundError):
        return []
    match = re.search(r"^## Caveats\s*$(.*?)(?=^## |\Z)", text, flags=re.MULTILINE | re.DOTALL)
    if not match:
        return []
    items: list[str] = []
    for line in match.group(1).splitlines():
        m = re.match(r"^\s*\d+\.\s+(.*)$", line)
        if m:
            items.append(m.group(1).strip())
        elif items and line.startswith("   ") and line.strip():
            items[-1] += " " + line.strip()
    return [re.sub(r"\*\*|`", "", item) for item in items]


#: The report's sections, in order: the body, then the appendix (sections made with
#: ``appendix=True`` are printed after the others whatever their place here).
SECTIONS: tuple[Callable[[Inputs], dict[str, Any] | None], ...] = (
    summary_section,
    horizon_section,
    analysis.explain_section,
    factor_section,
    indicator_section,
    evidence_section,
    analysis.scenario_section,
    analysis.watch_section,
    analysis.track_record_section,
    diagnostics_section,
    elicitation_section,
    methods_section,
    observations_section,
    indicator_definitions_section,
    provenance_section,
)
