"""The report's layout (issue 20, items 9 and 10): every table fits its page, a compact "why it
moved", code shown as code, headings kept with what follows, legends off the data, and a PDF of
the shipped case within 15 pages with the details in an appendix.

No sampler runs here: the runs are fake (a forecast file each, the shipped case's seventeen
indicators drawn from the sample forecast's three), and the scenario and "why it moved" analyses
are replaced by documents of the shape the real ones have.
"""

from __future__ import annotations

import copy
import io
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from tests.dashboard_support import register_fake_run, sample_forecast, shifted

CASE = "northern_territories"
HEADER_FOOTER = re.compile(
    r"^(Page \d+ of \d+|Harbinger forecast report|Run \S+ · as of .*|Russia–Japan relations.*"
    r"|Territories|DIAGNOSTICS FAILED|FAILED)$"
)


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def shipped_forecast(delta: float = 0.0) -> dict[str, Any]:
    """The sample forecast with a chart for every indicator of the shipped case (each drawn from
    the sample indicator of the same aggregation)."""
    from indicators.case import load_case, shipped_case_path

    fc = shifted(sample_forecast(), delta) if delta else sample_forecast()
    by_aggregation = {ind["aggregation"]: ind for ind in fc["indicators"]}
    indicators = []
    for spec in load_case(shipped_case_path()).case.indicators:
        ind = copy.deepcopy(by_aggregation[spec.aggregation])
        ind.update(id=spec.id, name=spec.name, unit=spec.unit, family=spec.family)
        indicators.append(ind)
    fc["indicators"] = indicators
    return fc


def explain_document(inputs: Any, n_changes: int) -> dict[str, Any]:
    """A "why it moved" document of the real shape with ``n_changes`` new observations."""
    outcomes, items = [], []
    open_outcomes = [o for o in inputs.forecast["outcomes"] if not o.get("resolved")]
    for k in range(n_changes):
        contributions = [
            {
                "outcome": o["id"],
                "years": h["years"],
                "pp": round((-1) ** k * (k + 1) * 0.01 * h["years"], 4),
                "log_odds": 0.01 * (k + 1),
            }
            for o in open_outcomes
            for h in o["horizons"]
        ]
        items.append(
            {
                "label": f"new observation {500 + k} (leader_summit, 2025-{1 + k % 12:02d}-10, value 1)",
                "kind": "new",
                "observation_ids": [500 + k],
                "indicator": "leader_summit",
                "method": "reweighting",
                "khat": 0.2 if k else 0.9,
                "reliable": bool(k),
                "ignored": [],
                "contributions": contributions,
            }
        )
    for o in open_outcomes:
        for h in o["horizons"]:
            explained = sum(
                c["pp"]
                for it in items
                for c in it["contributions"]
                if c["outcome"] == o["id"] and c["years"] == h["years"]
            )
            outcomes.append(
                {
                    "outcome": o["id"],
                    "years": h["years"],
                    "before": h["p_mean"] - 0.01,
                    "after": h["p_mean"],
                    "total_pp": 1.0,
                    "total_log_odds": 0.1,
                    "explained_pp": round(explained, 4),
                    "unexplained_pp": round(1.0 - explained, 4),
                }
            )
    return {
        "case": CASE,
        "from_run": inputs.previous_run["id"],
        "to_run": inputs.run["id"],
        "from_as_of": "2025-12-15",
        "to_as_of": "2025-12-15",
        "same_case_version": True,
        "changes": [{}] * n_changes,
        "items": items,
        "outcomes": outcomes,
        "grouped": False,
        "khat_max": 0.7,
    }


def scenario_document(
    store: Any, case_id: str, spec: Any, *, run_id: str | None = None, refit: bool = True, progress: Any = None
) -> dict[str, Any]:
    """A scenario document of the real shape (reweighting, one unreliable scenario)."""
    from dashboard.services.views import load_forecast

    forecast = load_forecast(store.get_run(run_id))
    reliable = spec.id != "etorofu_air_defence"
    results = []
    for o in forecast["outcomes"]:
        if o.get("resolved"):
            continue
        for h in o["horizons"]:
            results.append(
                {
                    "outcome": o["id"],
                    "years": h["years"],
                    "baseline": {"p_mean": h["p_mean"], "p_05": h["p_05"], "p_95": h["p_95"]},
                    "scenario": {
                        "p_mean": h["p_mean"] + 0.01,
                        "p_05": h["p_05"],
                        "p_95": h["p_95"] + 0.02,
                        "mcse": 0.001,
                    },
                    "difference": {"pp": 1.0, "low_pp": 0.6, "high_pp": 1.4},
                    "method": "reweighting",
                    "khat": 0.3 if reliable else 0.9,
                    "reliable": reliable,
                }
            )
    return {
        "case": case_id,
        "run_id": run_id,
        "scenario": spec.as_dict(),
        "method": "reweighting",
        "khat": results[0]["khat"],
        "khat_max": 0.7,
        "reliable": reliable,
        "reweighting_khat": results[0]["khat"],
        "hypothetical_observations": [
            {"indicator": h["indicator"], "date": "2026-06-15", "end": None, "value": h["value"]}
            for h in spec.observations
        ],
        "ignored": [],
        "refit_diagnostics": None,
        "results": results,
        "resolved": ["japan_hardline_shift"],
    }


@pytest.fixture
def report_of(cli: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``report_of(n_changes)``: the content of a report of the shipped case whose run has a
    previous run, ``n_changes`` changes between them, and the case's five scenarios."""
    from dashboard import report
    from dashboard.report import analysis
    from dashboard.services import analysis as services
    from indicators.store import Store

    assert cli("init").exit_code == 0
    store = Store.from_env()
    register_fake_run(store, CASE, shipped_forecast(-0.01))
    register_fake_run(store, CASE, shipped_forecast())
    monkeypatch.setattr(services, "run_scenario", scenario_document)

    def build(n_changes: int = 1) -> dict[str, Any]:
        monkeypatch.setattr(analysis, "_explain_document", lambda inputs: explain_document(inputs, n_changes))
        return report.build(store, CASE)

    yield build
    store.close()


def pdf_pages(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]


def tables(content: dict[str, Any]) -> list[dict[str, Any]]:
    out = []

    def walk(blocks: list[dict[str, Any]]) -> None:
        for b in blocks:
            if b["kind"] == "table":
                out.append(b)
            elif b["kind"] == "group":
                walk(b["blocks"])

    for s in content["sections"]:
        walk(s["blocks"])
    return out


# ---------------------------------------------------------------------------- item 9: tables fit the page


def test_the_pdf_shows_every_column_header_of_every_table_whole(report_of: Any) -> None:
    from dashboard import report

    content = report_of(14)
    text = squash(" ".join(pdf_pages(report.render(content, "pdf"))))
    found = tables(content)
    for t in found:
        headers = " ".join(squash(c["label"]) for c in t["columns"])
        assert headers in text, f"{t['id']}: the header row '{headers}' is not in the PDF's text whole"
    assert "Within 10 years Status" in text  # the summary's last columns, cut off when it overflowed
    assert {
        "summary-table",
        "surprise-table",
        "evidence-table",
        "diagnostics-table",
        "outcomes-table",
        "explain-peace_treaty",
    } <= {t["id"] for t in found}


@pytest.mark.browser
@pytest.mark.parametrize("width", [1100, 800])
def test_no_element_of_the_html_is_wider_than_its_container(report_of: Any, chromium: Any, width: int) -> None:
    from dashboard import report

    html_text = report.render(report_of(14), "html").decode("utf-8")
    page = chromium.new_page(viewport={"width": width, "height": 900})
    try:
        page.set_content(html_text)
        overflowing = page.evaluate("""() => {
            const out = [];
            for (const el of document.body.querySelectorAll('*')) {
                if (el.closest('svg') && el.tagName.toLowerCase() !== 'svg') continue;
                const parent = el.parentElement;
                if (!parent || parent.clientWidth === 0) continue;
                const box = el.getBoundingClientRect(), outer = parent.getBoundingClientRect();
                const style = getComputedStyle(parent);
                const right = outer.left + parent.clientLeft + parent.clientWidth - parseFloat(style.paddingRight) + 1;
                if (box.right > right || el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0) {
                    out.push(`${el.tagName.toLowerCase()}#${el.id || ''}.${el.className || ''}: ` +
                             `${Math.round(box.width)} px, ends at ${Math.round(box.right)} of ${Math.round(right)}`);
                }
            }
            return out;
        }""")
    finally:
        page.close()
    assert not overflowing, f"wider than their container at {width} px: {overflowing[:10]}"


# ---------------------------------------------------------------------------- item 10: a report to sign


def test_the_shipped_case_prints_in_at_most_15_pages_with_an_appendix(report_of: Any) -> None:
    from dashboard import report

    content = report_of(1)
    pages = pdf_pages(report.render(content, "pdf"))
    assert len(pages) <= 15, f"{len(pages)} pages"
    appendix = [s["title"] for s in content["sections"] if s.get("appendix")]
    assert appendix == ["Methods", "Latest observations", "Factors and indicators", "Data provenance and caveats"]
    first = next(i for i, p in enumerate(pages) if i > 0 and "Appendix: details" in p)
    assert all(title in squash(" ".join(pages[first:])) for title in appendix)
    assert "Summary" in squash(" ".join(pages[1:first])) and "Why it moved" in squash(" ".join(pages[1:first]))
    assert "Appendix: details" in pages[0]  # in the contents


def test_why_it_moved_is_one_table_per_outcome_with_the_ten_largest_and_the_rest_grouped(report_of: Any) -> None:
    content = report_of(25)
    section = next(s for s in content["sections"] if s["id"] == "sec-why-it-moved")
    found = [b for b in section["blocks"] if b["kind"] == "table"]
    open_outcomes = [o for o in sample_forecast()["outcomes"] if not o["resolved"]]
    assert [t["id"] for t in found] == [f"explain-{o['id']}" for o in open_outcomes]
    for t, o in zip(found, open_outcomes, strict=True):
        assert t["caption"] == o["question"]
        labels = [row[0]["text"] for row in t["rows"]]
        assert labels[:2] == ["Probability, previous → this run", "Total change"]
        assert labels[-2:] == ["15 other change(s), together", "Unexplained remainder"]
        listed = labels[2:-2]
        assert len(listed) == 10
        # largest first: the synthetic contributions grow with the change's number
        assert listed[0].startswith("new observation 524") and listed[-1].startswith("new observation 515")
        ten_years = [row[-1]["data"]["pp"] for row in t["rows"][2:-2]]
        assert [abs(x) for x in ten_years] == sorted((abs(x) for x in ten_years), reverse=True)
        others = t["rows"][-2][-1]["data"]["pp"]
        assert others == pytest.approx(sum((-1) ** k * (k + 1) * 0.1 for k in range(15)))
    assert "not reliable (k-hat 0.90)" not in str(found)  # the unreliable change (the smallest) is in the rest


def test_backticked_commands_are_code_not_literal_backticks(report_of: Any) -> None:
    from dashboard import report

    html_text = report.render(report_of(1), "html").decode("utf-8")
    assert "<code>harbinger backtest</code>" in html_text and "<code>harbinger explain</code>" in html_text
    visible = re.sub(r"<style>.*?</style>|<[^>]+>", " ", html_text, flags=re.DOTALL)
    assert "`" not in visible
    pdf_text = squash(" ".join(pdf_pages(report.render(report_of(1), "pdf"))))
    assert "`" not in pdf_text and "run harbinger backtest" in pdf_text


@pytest.mark.parametrize("n_changes", [1, 25])
def test_no_page_ends_with_a_heading(report_of: Any, n_changes: int) -> None:
    from dashboard import report

    content = report_of(n_changes)
    headings = {squash(s["title"]).lower() for s in content["sections"]}
    for s in content["sections"]:
        for b in s["blocks"]:
            for inner in b["blocks"] if b["kind"] == "group" else [b]:
                if inner["kind"] == "subheading":
                    headings.add(squash(inner["text"]).lower())
    headings |= {squash(t["caption"]).lower() for t in tables(content) if t["caption"]}
    for number, page in enumerate(pdf_pages(report.render(content, "pdf")), start=1):
        lines = [squash(line) for line in page.splitlines() if squash(line) and not HEADER_FOOTER.match(squash(line))]
        assert lines, f"page {number} is empty"
        assert lines[-1].lower() not in headings, f"page {number} ends with the heading '{lines[-1]}'"


def _legends(svg: str) -> tuple[list[str], list[str]]:
    """The ids of the legends drawn inside an axes, and of those drawn on the figure."""
    root = ET.fromstring(svg)
    inside, outside = [], []

    def walk(node: Any, in_axes: bool) -> None:
        ident = node.get("id") or ""
        if "legend_" in ident:
            (inside if in_axes else outside).append(ident)
        for child in node:
            walk(child, in_axes or "axes_" in ident)

    walk(root, False)
    return inside, outside


def test_small_charts_carry_no_legend_over_their_data() -> None:
    from dashboard.report import charts

    fc = shipped_forecast()
    small = charts.indicator_chart(fc["indicators"][1], as_of=fc["as_of"], width=2.3, height=1.6, legend=False)
    assert _legends(small) == ([], [])
    key = charts.indicator_legend()
    assert _legends(key)[1] and not _legends(key)[0]
    for svg in (charts.horizon_curves(fc), charts.factor_paths(fc)):
        inside, outside = _legends(svg)
        assert not inside and len(outside) == 1


def test_long_sources_and_notes_are_cut_in_the_tables(report_of: Any, cli: Any, write_csv: Any) -> None:
    from dashboard.report.content import NOTE_CHARS, SOURCE_CHARS

    source = "https://example.org/" + "a" * 300
    path = write_csv(
        "indicator,date,value,source,note,recorded_at\n"
        f"leader_summit,2025-12-01,1,{source},{'n' * 400},2025-12-02T00:00:00Z\n"
    )
    added = cli("observe", "import", path)
    assert added.exit_code == 0, added.output
    content = report_of(1)
    rows = next(t for t in tables(content) if t["id"] == "evidence-table")["rows"]
    row = next(r for r in rows if r[-2]["text"].startswith("https://example.org/"))
    assert len(row[-2]["text"]) == SOURCE_CHARS and row[-2]["text"].endswith("…")
    assert len(row[-1]["text"]) == NOTE_CHARS and row[-1]["text"].endswith("…")


def test_the_methods_list_the_runs_structural_priors(report_of: Any) -> None:
    from models.priors import DEFAULT_PRIORS

    content = report_of(1)
    methods = next(s for s in content["sections"] if s["id"] == "sec-methods")
    (priors,) = [t for t in tables(content) if t["id"] == "priors-table"]
    assert priors in methods["blocks"]
    assert [row[0]["text"] for row in priors["rows"]] == list(DEFAULT_PRIORS.as_dict())
    assert any(row[1]["text"] == "persistence ~ Beta(18, 2)" for row in priors["rows"])


def test_the_methods_state_the_declared_cross_effects_with_their_posteriors() -> None:
    from types import SimpleNamespace

    from dashboard.report.content import methods_section
    from indicators.case import load_case, shipped_case_path

    fc = shipped_forecast()
    inputs = SimpleNamespace(case=load_case(shipped_case_path()), forecast=fc)
    texts = [b.get("text", "") for b in methods_section(inputs)["blocks"]]
    assert not any("vector autoregression" in t for t in texts)  # a forecast without cross effects
    fc["cross_effects"] = [
        {
            "from_factor": "china_alignment",
            "to_factor": "military_pressure",
            "effect": "raises",
            "rationale": "The China card.",
            "prior_low": 0.05,
            "prior_high": 0.5,
            "post_mean": 0.233,
            "post_p05": 0.008,
            "post_p95": 0.46,
        }
    ]
    (text,) = [t for t in (b.get("text", "") for b in methods_section(inputs)["blocks"]) if "autoregression" in t]
    assert "china alignment raises military pressure (declared 90% range +0.05 to +0.50" in text
    assert "posterior mean +0.23, 90% interval +0.01 to +0.46" in text


def test_the_report_shows_elicited_prior_and_posterior_with_the_prior_driven_label() -> None:
    from types import SimpleNamespace

    from dashboard.report.content import SECTIONS, elicitation_section, methods_section

    fc = shipped_forecast()
    inputs = SimpleNamespace(forecast=fc)
    assert elicitation_section(inputs) is None  # a run that recorded no elicitation
    fc["outcomes"][0]["elicitation"] = {
        "elicited": {"annual": 0.003, "range_10y": [0.007, 0.114], "range": [0.00075, 0.012]},
        "prior_predictive": {"10": {"mean": 0.042, "p05": 0.010, "p95": 0.100}},
        "posterior": {"10": {"mean": 0.033, "p05": 0.009, "p95": 0.076}},
        "sensitivity": {"10": {"prior": 0.126, "likelihood": 0.013}},
        "headline_years": 10,
        "driven_by_prior": True,
        "moved": "The data lowered the 10-year probability from 4.2% (elicitation alone) to 3.3%.",
    }
    part = elicitation_section(inputs)
    (tab,) = [b for b in part["blocks"] if b["kind"] == "table"]
    (row,) = tab["rows"]
    assert [c["text"] for c in row] == [
        fc["outcomes"][0]["id"],
        "0.7% – 11%",
        "4.2% (1.0% – 10%)",
        "3.3% (0.9% – 7.6%)",
        "prior 0.126, likelihood 0.013",
    ]
    assert row[0]["lines"] == ["driven by the prior"]
    (moved,) = [b for b in part["blocks"] if b["kind"] == "list"]
    assert moved["items"] == [f"{fc['outcomes'][0]['id']}: {fc['outcomes'][0]['elicitation']['moved']}"]
    assert SECTIONS.index(elicitation_section) < SECTIONS.index(methods_section)
