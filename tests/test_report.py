"""Forecast reports and exports: `harbinger report` in every format, and the report content.

The session's shared tiny fit of the shipped case (tests/fits.py), which holds one hostile
observation (a note holding ``<script>`` and a source holding ``=HYPERLINK(...)``): every format is
written from a copy of it once and inspected by the tests. Tiny fits fail their diagnostics, so
the reports must say so. Content-only tests use fake runs
(``tests.dashboard_support.register_fake_run``: a forecast file, no posterior).
"""

from __future__ import annotations

import html
import io
import json
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from tests.dashboard_support import register_fake_run, sample_forecast, shifted
from tests.fits import CASE, TINY, copy_home, harbinger_json
from tests.fits import HOSTILE_SOURCE as FORMULA_SOURCE
from tests.fits import harbinger as run

FORMATS = {
    "html": "report.html",
    "pdf": "report.pdf",
    "csv": "forecast.csv",
    "json": "forecast.json",
    "netcdf": "posterior.nc",
}


def invoke(home: Path, *args: str) -> Any:
    """``harbinger ARGS`` in this process against ``home``."""
    from dashboard.cli.main import main

    return CliRunner().invoke(
        main, list(args), env={"HARBINGER_HOME": str(home), "HARBINGER_USER": "tester"}, catch_exceptions=False
    )


@pytest.fixture(scope="module")
def fitted(shared_run: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A copy of the shared run (with the hostile observation) and every export of it."""
    root = tmp_path_factory.mktemp("report")
    home = copy_home(shared_run.home, root / "home")
    out = root / "out"
    out.mkdir()
    files = {}
    # the PDF through the installed console script, as a person would make it
    pdf = run(home, "report", "--format", "pdf", "--output", str(out / FORMATS["pdf"]))
    assert pdf.returncode == 0, pdf.stderr
    files["pdf"] = out / FORMATS["pdf"]
    for fmt in ("html", "csv", "json", "netcdf"):
        res = invoke(home, "report", "--format", fmt, "--output", str(out / FORMATS[fmt]))
        assert res.exit_code == 0, res.output
        files[fmt] = out / FORMATS[fmt]
    forecast = harbinger_json(home, "forecast")
    return {
        "home": home,
        "files": files,
        "forecast": forecast,
        "obs_id": shared_run.hostile_obs_id,
        "pdf_stdout": pdf.stdout,
        "pdf_stderr": pdf.stderr,
    }


# ---------------------------------------------------------------------------- helpers


class Tags(HTMLParser):
    """Every start tag with its attributes, the text of <style> elements, and the plain text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self.text: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        (self.styles if self._in_style else self.text).append(data)


def parse_html(text: str) -> Tags:
    parser = Tags()
    parser.feed(text)
    return parser


def pdf_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(str(path)).pages]


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def summary_cells(html_text: str) -> dict[tuple[str, int], dict[str, str]]:
    """The summary table's probability cells: (outcome, years) -> data-* attributes and text."""
    cells = {}
    for m in re.finditer(r'<td class="num prob-cell"([^>]*)>(.*?)</td>', html_text, flags=re.DOTALL):
        attrs = dict(re.findall(r'data-([a-z0-9-]+)="([^"]*)"', m.group(1)))
        attrs["text"] = html.unescape(squash(re.sub(r"<[^>]+>", " ", m.group(2))).strip())
        cells[(attrs["outcome"], int(attrs["years"]))] = attrs
    return cells


# ---------------------------------------------------------------------------- PDF


def test_pdf_has_every_question_the_as_of_date_and_the_run_id(fitted: dict[str, Any]) -> None:
    fc = fitted["forecast"]
    pages = pdf_pages(fitted["files"]["pdf"])
    text = squash(" ".join(pages))
    for outcome in fc["outcomes"]:
        assert squash(outcome["question"]) in text, outcome["id"]
    assert fc["as_of"] in pages[0] and fc["run_id"] in squash(pages[0])
    assert fc["case_hash"] in text and fc["model_version"] in text
    assert f"wrote PDF report of run {fc['run_id']}" in fitted["pdf_stdout"]


def test_pdf_has_page_numbers_a_table_of_contents_with_pages_and_the_failing_label(fitted: dict[str, Any]) -> None:
    fc = fitted["forecast"]
    pages = pdf_pages(fitted["files"]["pdf"])
    n = len(pages)
    assert n >= 6
    for i, page in enumerate(pages, start=1):
        assert f"Page {i} of {n}" in page
    toc = squash(pages[0])
    numbers = {}
    for title in (
        "Summary",
        "Horizon curves",
        "Latent factor paths",
        "Indicators",
        "Evidence",
        "Diagnostics",
        "Methods",
        "Data provenance and caveats",
    ):
        m = re.search(re.escape(title) + r"[ .]*?(\d+)\b", toc)
        assert m, f"no page number for {title} in the contents"
        numbers[title] = int(m.group(1))
    assert list(numbers.values()) == sorted(numbers.values()) and numbers["Summary"] == 2
    assert "Evidence" in squash(pages[numbers["Evidence"] - 1])  # the reference points at its page
    # the tiny fit fails its diagnostics: every page says so, in the running header
    assert fc["diagnostics"]["ok"] is False
    assert all("DIAGNOSTICS FAILED" in squash(p) for p in pages)
    assert "Diagnostics failed:" in squash(pages[1])
    assert "FAILED its diagnostics" in fitted["pdf_stderr"]


def test_pdf_opens_renders_to_png_pages_and_its_charts_are_vector(fitted: dict[str, Any], tmp_path: Path) -> None:
    from PIL import Image
    from pypdf import PdfReader

    path = fitted["files"]["pdf"]
    reader = PdfReader(str(path))
    res = subprocess.run(
        ["pdftoppm", "-png", "-r", "30", str(path), str(tmp_path / "page")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == len(reader.pages)
    for png in pngs:
        with Image.open(png) as im:
            lo, hi = im.convert("L").getextrema()
            assert lo < 128 and hi > 200, f"{png.name} looks blank"
    images = 0
    for page in reader.pages:
        xobjects = (page.get("/Resources") or {}).get("/XObject") or {}
        for ref in xobjects.values():
            if ref.get_object().get("/Subtype") == "/Image":
                images += 1
    assert images == 0  # every chart is vector drawing, not a raster image


# ---------------------------------------------------------------------------- HTML


def test_html_references_nothing_outside_itself(fitted: dict[str, Any]) -> None:
    text = fitted["files"]["html"].read_text(encoding="utf-8")
    doc = parse_html(text)
    names = {tag for tag, _ in doc.tags}
    assert not names & {"script", "link", "img", "iframe", "object", "embed", "base", "frame", "audio", "video"}
    assert "svg" in names and len([t for t, _ in doc.tags if t == "svg"]) >= 3  # charts are inline SVG
    for tag, attrs in doc.tags:
        assert "src" not in attrs, tag
        for name, value in attrs.items():
            value = (value or "").strip().lower()
            assert not re.search(r"(https?:|file:|ftp:|data:|javascript:)", value), (tag, name, value)
            assert not value.startswith("//"), (tag, name, value)
            if name in ("href", "xlink:href"):
                assert value.startswith("#"), (tag, name, value)
    css = " ".join(doc.styles)
    assert "@import" not in css and "@font-face" not in css
    assert all(u.startswith("#") for u in re.findall(r"url\(\s*['\"]?([^)'\"]*)", css))
    # URLs appear only as text (observation sources), never in markup
    markup = re.sub(r">[^<]*<", "><", text)
    assert "http://" not in markup.replace("<style>", "") and "https://" not in markup


def test_html_shows_the_same_numbers_as_the_json(fitted: dict[str, Any]) -> None:
    from dashboard.services.views import fmt_prob

    text = fitted["files"]["html"].read_text(encoding="utf-8")
    doc = json.loads(fitted["files"]["json"].read_text(encoding="utf-8"))
    cells = summary_cells(text)
    forecast_rows = [r for r in doc["rows"] if r["status"] == "forecast"]
    assert len(cells) == len(forecast_rows) > 0
    for row in forecast_rows:
        c = cells[(row["outcome"], row["years"])]
        assert float(c["p-mean"]) == row["p_mean"] and float(c["p-05"]) == row["p_05"]
        assert float(c["p-95"]) == row["p_95"]
        assert c["text"].startswith(fmt_prob(row["p_mean"]))
        assert (
            f"90%: {fmt_prob(row['p_05'])} – {fmt_prob(row['p_95'])}" in c["text"]
        )  # every probability has its interval
    for key in ("run_id", "as_of", "case_hash", "model_version", "data_hash"):
        assert doc[key] in text
    resolved = [r for r in doc["rows"] if r["status"].startswith("resolved")]
    assert resolved and all(r["p_mean"] is None for r in resolved)
    assert "Diagnostics failed:" in text and doc["diagnostics"]["ok"] is False


def test_html_has_every_section_and_a_chart_per_indicator(fitted: dict[str, Any]) -> None:
    text = fitted["files"]["html"].read_text(encoding="utf-8")
    for sec in ("summary", "horizons", "factors", "indicators", "evidence", "diagnostics", "methods", "provenance"):
        assert f'id="sec-{sec}"' in text and f'href="#sec-{sec}"' in text
    indicators = re.search(r'id="sec-indicators"(.*?)</section>', text, flags=re.DOTALL).group(1)
    from indicators.case import load_case, shipped_case_path

    n_indicators = indicators.count('class="chart third"')
    assert n_indicators == len(load_case(shipped_case_path()).case.indicators)
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert len(ids) == len(set(ids)), "element ids repeat across charts"
    assert "Caveats" in text and "coverage_end" in text  # the shipped data notes


# ---------------------------------------------------------------------------- hostile text


def test_script_note_and_formula_source_come_out_inert(fitted: dict[str, Any]) -> None:
    html_text = fitted["files"]["html"].read_text(encoding="utf-8")
    assert "<script" not in html_text.lower() and "<b>bold" not in html_text
    assert (
        "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html_text
        or "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in html_text
    )
    doc = parse_html(html_text)
    visible = squash("".join(doc.text))
    assert '<script>alert("pwned")</script>' in visible  # shown as text
    assert FORMULA_SOURCE in visible
    assert f"obs. {fitted['obs_id']}" in visible
    pdf_text = squash(" ".join(pdf_pages(fitted["files"]["pdf"])))
    assert "<script>alert(" in pdf_text and "<b>bold</b>" in pdf_text  # printed as text, not interpreted
    # the source sits in a narrow column and wraps anywhere: compare without the line breaks
    assert re.sub(r"\s", "", FORMULA_SOURCE) in re.sub(r"\s", "", pdf_text)


def test_csv_cells_starting_like_formulas_are_neutralised(cli: Any, harbinger_home: Path, tmp_path: Path) -> None:
    from indicators.store import Store

    assert cli("init").exit_code == 0
    forecast = sample_forecast()
    questions = ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)"]
    for outcome, question in zip(forecast["outcomes"], questions, strict=True):
        outcome["question"] = question
    store = Store.from_env()
    register_fake_run(store, CASE, forecast)
    store.close()
    out = tmp_path / "f.csv"
    assert cli("report", "--format", "csv", "--output", out).exit_code == 0
    frame = pd.read_csv(out)
    for question in questions:
        got = set(frame["question"])
        assert "'" + question in got and question not in got
    text_columns = [
        "case",
        "run_id",
        "as_of",
        "model_version",
        "case_hash",
        "data_hash",
        "diagnostics",
        "outcome",
        "question",
        "status",
    ]
    raw = pd.read_csv(out, dtype=str, keep_default_na=False)
    for column in text_columns:
        for value in raw[column]:
            assert value[:1] not in ("=", "+", "-", "@"), (column, value)


# ---------------------------------------------------------------------------- CSV, JSON, netCDF


def test_csv_round_trips_through_pandas(fitted: dict[str, Any]) -> None:
    doc = json.loads(fitted["files"]["json"].read_text(encoding="utf-8"))
    frame = pd.read_csv(fitted["files"]["csv"])
    assert list(frame.columns[:8]) == [
        "case",
        "run_id",
        "as_of",
        "model_version",
        "case_hash",
        "data_hash",
        "diagnostics_ok",
        "diagnostics",
    ]
    assert len(frame) == len(doc["rows"])
    assert set(frame["run_id"]) == {doc["run_id"]} and set(frame["as_of"]) == {doc["as_of"]}
    assert set(frame["case_hash"].astype(str)) == {doc["case_hash"]}
    assert frame["diagnostics"].str.startswith("FAILED").all() and not frame["diagnostics_ok"].any()
    for got, want in zip(frame.to_dict("records"), doc["rows"], strict=True):
        assert got["outcome"] == want["outcome"] and got["status"] == want["status"]
        for key in ("years", "p_mean", "p_05", "p_95", "mcse"):
            if want[key] is None:
                assert pd.isna(got[key])
            else:
                assert got[key] == pytest.approx(want[key], rel=1e-12, abs=0)


def test_json_matches_the_forecast_and_has_the_documented_shape(fitted: dict[str, Any]) -> None:
    doc = json.loads(fitted["files"]["json"].read_text(encoding="utf-8"))
    fc = fitted["forecast"]
    assert {k: doc[k] for k in ("case", "run_id", "as_of", "model_version", "case_hash", "data_hash")} == {
        k: fc[k] for k in ("case", "run_id", "as_of", "model_version", "case_hash", "data_hash")
    }
    assert doc["diagnostics"]["ok"] is False and doc["diagnostics"]["problems"]
    assert doc["previous_run_id"] is None
    by_key = {(r["outcome"], r["years"]): r for r in doc["rows"]}
    for o in fc["outcomes"]:
        for h in o["horizons"]:
            row = by_key[(o["id"], h["years"])]
            assert (row["p_mean"], row["p_05"], row["p_95"]) == (h["p_mean"], h["p_05"], h["p_95"])
            assert row["question"] == o["question"] and row["change_pp"] is None


def test_netcdf_opens_with_arviz_and_xarray_and_carries_the_run_identity(fitted: dict[str, Any]) -> None:
    import arviz as az
    import xarray as xr

    fc = fitted["forecast"]
    path = fitted["files"]["netcdf"]
    idata = az.from_netcdf(str(path))
    attrs = idata.posterior.attrs
    for key in ("run_id", "as_of", "case_hash", "model_version", "data_hash"):
        assert attrs[key] == fc[key], key
    assert attrs["case"] == CASE and int(attrs["diagnostics_ok"]) == 0
    assert json.loads(attrs["settings"])["draws"] == TINY["draws"]
    assert json.loads(attrs["diagnostics"])["ok"] is False
    assert idata.posterior.sizes["chain"] == TINY["chains"] and idata.posterior.sizes["draw"] == TINY["draws"]
    assert "loading" in idata.posterior and "sample_stats" in idata.groups()
    with xr.open_dataset(path, group="posterior") as ds:
        assert ds.attrs["run_id"] == fc["run_id"] and "loading" in ds


# ---------------------------------------------------------------------------- bad input, names


def test_unknown_run_unknown_format_and_unwritable_paths_are_bad_input(fitted: dict[str, Any], tmp_path: Path) -> None:
    home = fitted["home"]
    cases = [
        (["--format", "pdf", "--output", str(tmp_path / "a.pdf"), "--run", "r-nope"], "no run 'r-nope'"),
        (["--format", "docx", "--output", str(tmp_path / "a.docx")], "unknown report format 'docx'"),
        (["--output", str(tmp_path / "a.txt")], "--format"),
        (["--format", "html", "--output", str(tmp_path / "missing" / "a.html")], "does not exist"),
        (["--format", "html", "--output", str(tmp_path / "a.html"), "--as-of", "2011-13-01"], "--as-of"),
        (["--format", "csv", "--output", str(tmp_path / "a.csv"), "--as-of", "2009-01-01"], "no fitted run"),
    ]
    for args, words in cases:
        res = invoke(home, "report", *args)
        assert res.exit_code == 2, (args, res.output)
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and words in lines[0] and lines[0].startswith("harbinger: "), (args, res.stderr)
    assert list(tmp_path.iterdir()) == []  # nothing written
    if os.geteuid() != 0:  # root can write anywhere
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            res = invoke(home, "report", "--format", "csv", "--output", str(locked / "a.csv"))
            assert res.exit_code == 2 and "cannot write" in res.stderr
        finally:
            locked.chmod(0o700)


def test_report_as_of_and_into_a_directory_gets_a_sanitised_name(fitted: dict[str, Any], tmp_path: Path) -> None:
    fc = fitted["forecast"]
    res = invoke(fitted["home"], "report", "--format", "json", "--output", str(tmp_path), "--as-of", fc["as_of"])
    assert res.exit_code == 0, res.output
    (written,) = list(tmp_path.iterdir())
    assert written.name == f"harbinger-{CASE}-{fc['as_of']}-{fc['run_id']}.json"
    assert json.loads(written.read_text())["run_id"] == fc["run_id"]
    res = invoke(fitted["home"], "report", "--output", str(tmp_path / "by-suffix.csv"), "--run", fc["run_id"])
    assert res.exit_code == 0 and (tmp_path / "by-suffix.csv").read_text().startswith("case,run_id,")


def test_file_names_are_sanitised() -> None:
    from dashboard import report

    for raw in [
        "../../etc/passwd",
        "a/b\\c",
        "x\x00y\r\nz",
        "<script>.pdf",
        "  .hidden",
        "-rf --no",
        "Ünïcödé",
        "",
        "...",
        "con:aux|nul*?",
    ]:
        name = report.safe_filename(raw)
        assert name and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name), (raw, name)
        assert ".." not in name and len(name) <= 120
    content = {"case": {"id": "../evil case"}, "identity": {"as_of": "2020-01-01", "run_id": "r1/../../x<y>"}}
    name = report.filename(content, "pdf")
    assert name.endswith(".pdf") and "/" not in name and "<" not in name and ".." not in name


# ---------------------------------------------------------------------------- content (fake runs)


def _shipped(cli: Any) -> Any:
    from indicators.store import Store

    assert cli("init").exit_code == 0
    return Store.from_env()


def test_change_since_the_previous_run_is_the_overviews(cli: Any, harbinger_home: Path) -> None:
    from dashboard import report
    from dashboard.services import views

    store = _shipped(cli)
    base = sample_forecast()
    first = register_fake_run(store, CASE, base)
    second = register_fake_run(store, CASE, shifted(base, 0.01))
    content = report.build(store, CASE)
    assert content["identity"]["run_id"] == second and content["identity"]["previous_run_id"] == first
    changes = [r["change_pp"] for r in content["table"] if r["status"] == "forecast"]
    assert changes and all(c == pytest.approx(1.0, abs=1e-9) for c in changes if c is not None)
    # the same numbers as the Overview's cards
    cards = views.outcome_cards(
        views.load_forecast(store.get_run(second)), horizon=1, previous=views.load_forecast(store.get_run(first))
    )
    for card in cards:
        if card["change_pp"] is not None:
            row = next(r for r in content["table"] if r["outcome"] == card["id"] and r["years"] == 1)
            assert row["change_pp"] == card["change_pp"]
    html_text = report.render(content, "html").decode()
    assert "▲ +1.0 pts since the previous run" in html_text and f"against run {first}" in html_text
    assert 'data-change-pp="1.0"' in html_text
    store.close()


def test_a_failing_run_is_labelled_failing_in_every_format(cli: Any, harbinger_home: Path) -> None:
    from dashboard import report

    store = _shipped(cli)
    fc = sample_forecast()
    fc["diagnostics"] |= {"ok": False, "problems": ["R-hat 1.300 above 1.01"], "max_rhat": 1.3}
    run_id = register_fake_run(store, CASE, fc)
    content = report.build(store, CASE, run_id=run_id)
    html_text = report.render(content, "html").decode()
    assert "DIAGNOSTICS FAILED" in html_text and "Diagnostics failed: R-hat 1.300 above 1.01" in html_text
    assert "from a run that FAILED its diagnostics" in html_text
    frame = pd.read_csv(io.BytesIO(report.render(content, "csv")))
    assert frame["diagnostics"].str.contains("FAILED: R-hat 1.300").all()
    assert json.loads(report.render(content, "json"))["diagnostics"]["ok"] is False
    good = register_fake_run(store, CASE, sample_forecast())
    clean = report.render(report.build(store, CASE, run_id=good), "html").decode()
    assert "DIAGNOSTICS FAILED" not in clean and "Diagnostics passed" in clean
    store.close()


def test_netcdf_of_a_run_without_posterior_is_one_clear_sentence(
    cli: Any, harbinger_home: Path, tmp_path: Path
) -> None:
    store = _shipped(cli)
    run_id = register_fake_run(store, CASE)
    store.close()
    res = cli("report", "--format", "netcdf", "--output", tmp_path / "p.nc")
    assert res.exit_code == 2
    assert f"run '{run_id}' has no saved posterior" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p.nc").exists()


def test_a_section_is_one_added_function(cli: Any, harbinger_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard import report
    from dashboard.report import content as report_content

    store = _shipped(cli)
    register_fake_run(store, CASE)

    def scenarios(inputs: Any) -> dict[str, Any]:
        return report_content.section(
            "scenarios",
            "Scenarios against the baseline",
            [report_content.paragraph(f"{len(inputs.case.case.scenarios)} scenarios <i>here</i>")],
        )

    monkeypatch.setattr(
        report_content, "SECTIONS", report_content.SECTIONS[:1] + (scenarios,) + report_content.SECTIONS[1:]
    )
    html_text = report.render(report.build(store, CASE), "html").decode()
    assert 'href="#sec-scenarios">Scenarios against the baseline</a>' in html_text
    assert 'id="sec-scenarios"' in html_text and "scenarios &lt;i&gt;here&lt;/i&gt;" in html_text
    assert (
        html_text.index('id="sec-summary"')
        < html_text.index('id="sec-scenarios"')
        < html_text.index('id="sec-horizons"')
    )
    store.close()


def test_exports_without_sections_draw_no_charts(
    cli: Any, harbinger_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import report
    from dashboard.report import charts

    store = _shipped(cli)
    register_fake_run(store, CASE)

    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("a chart was drawn for a table export")

    monkeypatch.setattr(charts, "indicator_chart", refuse)
    content = report.build(store, CASE, fmt="csv")
    assert content["sections"] == [] and len(content["table"]) == 13  # 3 outcomes x 4 horizons + 1 resolved
    store.close()


def test_chart_svg_is_clean_inline_markup() -> None:
    from dashboard.report import charts

    fc = sample_forecast()
    svgs = [
        charts.horizon_curves(fc),
        charts.factor_paths(fc),
        charts.indicator_chart(fc["indicators"][0], as_of=fc["as_of"]),
    ]
    ids: list[str] = []
    for svg in svgs:
        assert svg.startswith("<svg ") and svg.endswith("</svg>")
        assert "http" not in svg and "<?xml" not in svg and "DOCTYPE" not in svg and "xlink:" not in svg
        assert "<text" in svg  # text stays text (searchable in the PDF), no embedded font
        ids += re.findall(r'\bid="([^"]+)"', svg)
    assert len(ids) == len(set(ids))
    assert charts.horizon_curves({"outcomes": [{"id": "x", "horizons": []}]}) is None


def test_every_shipped_caveat_is_carried(tmp_path: Path) -> None:
    from dashboard.report.content import shipped_caveats
    from indicators.resources import data_path

    caveats = shipped_caveats(CASE)
    readme = data_path("README.md").read_text(encoding="utf-8")
    section = readme.split("## Caveats", 1)[1].split("\n## ", 1)[0]
    assert len(caveats) == len(re.findall(r"^\d+\. ", section, flags=re.MULTILINE)) >= 10
    assert all("**" not in c and "`" not in c for c in caveats)
    assert shipped_caveats("some_other_case") == []
