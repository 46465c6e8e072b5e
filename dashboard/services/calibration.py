"""The latest simulation-based calibration study of the model (``benchmarks/sbc.py``;
:mod:`models.sbc` defines it), as the Backtest page shows it.

The study is of the model and its sampler, not of a case's data, so one result serves every
case: the project ships the latest one as ``data/calibration/sbc.json``. A rerun written to
``HARBINGER_HOME/calibration/sbc.json`` (``benchmarks/sbc.py --out``) replaces it on the page.
Reading the document needs no sampler: it holds the ranks, their histograms, bands and tests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from models.sbc import RESULT_FILE

#: The folder, in HARBINGER_HOME and in the shipped data, holding the study's result.
FOLDER = "calibration"


def home_result_path(home: Path) -> Path:
    """Where a rerun of the study is written to replace the shipped result."""
    return Path(home) / FOLDER / RESULT_FILE


def shipped_result_path() -> Path:
    from indicators.resources import data_path

    return data_path(FOLDER, RESULT_FILE)


def latest_sbc(home: Path | None) -> dict[str, Any] | None:
    """The study's result document (with its ``file``): the home's rerun if there is one, else the
    shipped result; None when neither can be read."""
    candidates = ([home_result_path(home)] if home is not None else []) + [shipped_result_path()]
    for path in candidates:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("quantities"), dict):
            doc["file"] = str(path)
            return doc
    return None


def convergence_text(doc: Mapping[str, Any]) -> str:
    """How many of the study's fits would fail the production convergence checks (R-hat above
    1.01, divergent transitions): every fit's ranks count in the histograms, so a reader weighs the
    calibration against how well the study's chains mixed. Empty for a study that recorded neither."""
    rhat, divergent = doc.get("fits_rhat_over_1_01"), doc.get("fits_with_divergences")
    if rhat is None and divergent is None:
        return ""
    parts = []
    if rhat is not None:
        parts.append(f"{rhat} had an R-hat above 1.01")
    if divergent is not None:
        parts.append(f"{divergent} had divergent transitions ({doc.get('divergences', '—')} in all)")
    return f"Of the {doc['replications']} fits, {' and '.join(parts)}; every fit's ranks are counted."
