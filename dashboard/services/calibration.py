"""The latest simulation-based calibration study of the model (``benchmarks/sbc.py``;
:mod:`models.sbc` defines it), as the Backtest page shows it.

The study is of the model and its sampler, not of a case's data, so one result serves every
case: the project ships the latest one as ``data/calibration/sbc.json``. A rerun written to
``HARBINGER_HOME/calibration/sbc.json`` (``benchmarks/sbc.py --out``) replaces it on the page.
Reading the document needs no sampler: it holds the ranks, their histograms, bands and tests.
"""

from __future__ import annotations

import json
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
