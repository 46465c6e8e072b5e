"""Machine-readable exports of a run: the forecast table as CSV or JSON, the posterior as netCDF.

CSV
    One header row, one row per outcome and horizon (a resolved outcome: one row), with the
    run's identity repeated in every row so the file stands on its own: ``case``, ``run_id``,
    ``as_of``, ``model_version``, ``case_hash``, ``data_hash``, ``diagnostics_ok``,
    ``diagnostics``, then the columns of :func:`dashboard.report.content.forecast_rows`. Text
    cells that start with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage return) get a leading
    ``'`` so spreadsheets never run them as formulas (the same rule as every CSV the command
    line prints, :func:`dashboard.services.tables.render`). Numbers are written as numbers.
JSON
    ``{"case", "run_id", "as_of", "model_version", "case_hash", "data_hash", "n_observations",
    "settings", "diagnostics": {...}, "previous_run_id", "generated_at", "rows": [...]}`` with
    the same rows (without the repeated identity columns); missing values are ``null``.
netCDF
    The run's posterior (``posterior.nc``: the ``posterior`` and ``sample_stats`` groups) with
    the run's identity in the ``posterior`` group's attributes: ``case``, ``run_id``, ``as_of``,
    ``model_version``, ``case_hash``, ``data_hash``, ``n_observations``, ``settings`` (JSON),
    ``priors`` (JSON, the structural priors; runs that record them), ``diagnostics_ok`` (0/1), ``diagnostics`` (JSON), ``exported_at``, ``exported_by``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from indicators.errors import BadInput

POSTERIOR_FILE = "posterior.nc"  # as models.runs.POSTERIOR_FILE (not imported: it pulls in PyMC)
IDENTITY_COLUMNS = ("case", "run_id", "as_of", "model_version", "case_hash", "data_hash")


def diagnostics_label(content: dict[str, Any]) -> str:
    diag = content["diagnostics"]
    return "ok" if diag["ok"] else "FAILED: " + (diag.get("problems_text") or "see the report")


def csv_rows(content: dict[str, Any]) -> list[dict[str, Any]]:
    """The CSV's rows: identity columns, then the forecast table's columns."""
    ident = content["identity"]
    head = {k: ident[k] for k in IDENTITY_COLUMNS}
    head |= {"diagnostics_ok": bool(content["diagnostics"]["ok"]), "diagnostics": diagnostics_label(content)}
    return [head | row for row in content["table"]]


def forecast_csv(content: dict[str, Any]) -> bytes:
    """The forecast table as CSV (UTF-8), formula-like text neutralised."""
    from dashboard.services.tables import render

    return (render(csv_rows(content), "csv") + "\n").encode("utf-8")


def forecast_document(content: dict[str, Any]) -> dict[str, Any]:
    ident = content["identity"]
    diag = {k: v for k, v in content["diagnostics"].items() if k not in ("text", "problems_text")}
    return {
        **{k: ident[k] for k in IDENTITY_COLUMNS},
        "n_observations": ident["n_observations"],
        "settings": ident["settings"],
        "diagnostics": diag,
        "previous_run_id": ident["previous_run_id"],
        "generated_at": ident["generated_at"],
        "rows": content["table"],
    }


def forecast_json(content: dict[str, Any]) -> bytes:
    """The forecast table with the run's identity as JSON (UTF-8)."""
    return (json.dumps(forecast_document(content), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def posterior_path(content: dict[str, Any]) -> Path:
    """The run's saved posterior, or :class:`BadInput` when the run has none."""
    run_id = content["identity"]["run_id"]
    path = Path(content.get("run_path") or "") / POSTERIOR_FILE
    if not content.get("run_path") or not path.is_file():
        raise BadInput(
            f"run '{run_id}' has no saved posterior ({POSTERIOR_FILE} is missing), so it cannot be "
            "exported as netCDF; choose a fitted run or refit."
        )
    return path


def write_netcdf(content: dict[str, Any], target: Path) -> None:
    """Write the run's posterior with its identity in the attributes to ``target``."""
    from dashboard.services.context import actor
    from models.runs import RunMismatch, export_posterior

    ident = content["identity"]
    source = posterior_path(content)
    diag = {k: v for k, v in content["diagnostics"].items() if k not in ("text", "problems_text")}
    attrs = {
        **{k: str(ident[k]) for k in IDENTITY_COLUMNS},
        "n_observations": int(ident["n_observations"] or 0),
        "settings": json.dumps(ident["settings"]),
        "diagnostics_ok": int(bool(content["diagnostics"]["ok"])),
        "diagnostics": json.dumps(diag),
        "exported_at": ident["generated_at"],
        "exported_by": actor(),
    }
    try:
        export_posterior(source.parent, target, case_hash=ident["case_hash"], attrs=attrs)
    except RunMismatch as exc:
        raise BadInput(str(exc)) from None


def posterior_netcdf(content: dict[str, Any]) -> bytes:
    """:func:`write_netcdf` into memory (through a temporary file)."""
    posterior_path(content)
    with tempfile.TemporaryDirectory(prefix="harbinger-export-") as tmp:
        target = Path(tmp) / "posterior.nc"
        write_netcdf(content, target)
        return target.read_bytes()


__all__ = [
    "csv_rows",
    "forecast_csv",
    "forecast_document",
    "forecast_json",
    "posterior_netcdf",
    "posterior_path",
    "write_netcdf",
]
