"""The Reports page in a real browser: every download button gives the file it promises.

The session server holds a fake run (a forecast file, no posterior). The netCDF button first says
so in one sentence; then a small posterior with the run's identity (ArviZ ``from_dict``) is put in
the run's directory for the netCDF download, and removed again afterwards.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dashboard.web import ids
from tests.browser.conftest import CASE, screenshot

DOWNLOAD_TIMEOUT = 180_000  # the PDF is typeset on a shared, busy machine


def _open(page: Any, server: Any) -> str:
    """Open the page; return the run id it offers (the current run)."""
    page.goto(server.url + "/reports")
    table = page.locator("#reports-run-table")
    table.wait_for()
    page.wait_for_load_state("networkidle")
    return table.locator("tr").first.locator("td").inner_text().strip()


def _download(page: Any, label: str, target: Path) -> Path:
    with page.expect_download(timeout=DOWNLOAD_TIMEOUT) as info:
        page.get_by_role("button", name=label).click()
    download = info.value
    assert download.failure() is None
    path = target / download.suggested_filename
    download.save_as(str(path))
    return path


def test_page_offers_the_run_with_visible_labels(page: Any, server: Any, console: Any) -> None:
    run_id = _open(page, server)
    store = server.store()
    ok_runs = [r["id"] for r in store.runs(CASE, status="ok")]
    store.close()
    assert run_id in ok_runs
    group = page.get_by_role("group", name="Run")  # the visible legend names the run choice
    assert group.is_visible()
    choice = group.get_by_label(re.compile(re.escape(run_id)))
    assert choice.is_checked() and run_id in page.locator(f"#{ids.RP_RUN}").inner_text()
    for label in ("Download HTML report", "Download PDF report", "Download CSV", "Download JSON", "Download netCDF"):
        assert page.get_by_role("button", name=label).is_visible()
    screenshot(page, "reports")
    assert console.errors == []


def test_html_csv_and_json_downloads(page: Any, server: Any, tmp_path: Path, console: Any) -> None:
    run_id = _open(page, server)
    html_file = _download(page, "Download HTML report", tmp_path)
    assert html_file.name.startswith(f"harbinger-{CASE}-") and html_file.name.endswith(f"{run_id}.html")
    text = html_file.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and run_id in text and "<script" not in text.lower()
    assert 'id="summary-table"' in text
    page.locator("#reports-result").get_by_text(html_file.name).wait_for()

    csv_file = _download(page, "Download CSV", tmp_path)
    frame = pd.read_csv(csv_file)
    assert set(frame["run_id"]) == {run_id} and {"outcome", "p_mean", "p_05", "p_95"} <= set(frame.columns)

    json_file = _download(page, "Download JSON", tmp_path)
    doc = json.loads(json_file.read_text(encoding="utf-8"))
    assert doc["run_id"] == run_id and len(doc["rows"]) == len(frame)
    want = [float("nan") if r["p_mean"] is None else r["p_mean"] for r in doc["rows"]]
    assert frame["p_mean"].tolist() == pytest.approx(want, nan_ok=True)
    assert console.errors == []


def test_pdf_download(page: Any, server: Any, tmp_path: Path) -> None:
    from pypdf import PdfReader

    run_id = _open(page, server)
    pdf_file = _download(page, "Download PDF report", tmp_path)
    assert pdf_file.read_bytes()[:5] == b"%PDF-"
    reader = PdfReader(str(pdf_file))
    first = reader.pages[0].extract_text()
    assert run_id in first and len(reader.pages) >= 6


def _fake_posterior(path: Path, case_hash: str, run_id: str) -> None:
    import arviz as az
    import numpy as np

    rng = np.random.default_rng(3)
    idata = az.from_dict(
        posterior={"persistence": rng.uniform(0.8, 0.99, size=(2, 10, 3))},
        dims={"persistence": ["factor"]},
        coords={"factor": ["military_pressure", "diplomatic_engagement", "china_alignment"]},
    )
    idata.posterior.attrs.update({"case_hash": case_hash, "run_id": run_id})
    idata.to_netcdf(str(path))


def test_netcdf_download(page: Any, server: Any, tmp_path: Path) -> None:
    import xarray as xr

    run_id = _open(page, server)
    store = server.store()
    run = store.get_run(run_id)
    store.close()
    posterior = Path(run["path"]) / "posterior.nc"
    made_here = not posterior.exists()
    if made_here:  # the fake run: the button explains, in one sentence, why there is nothing to download
        page.get_by_role("button", name="Download netCDF").click()
        message = page.locator("#reports-result")
        message.get_by_text("has no saved posterior").wait_for()
        assert run_id in message.inner_text()
        _fake_posterior(posterior, run["case_hash"], run_id)
    try:
        nc_file = _download(page, "Download netCDF", tmp_path)
        with xr.open_dataset(nc_file, group="posterior") as ds:
            assert ds.attrs["run_id"] == run_id and ds.attrs["case"] == CASE
            assert ds.attrs["case_hash"] == run["case_hash"] and "as_of" in ds.attrs
            assert "persistence" in ds
    finally:
        if made_here:
            posterior.unlink(missing_ok=True)
