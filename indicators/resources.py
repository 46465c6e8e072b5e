"""Files shipped with the project (``data/``), read through importlib.resources."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def data_path(*parts: str) -> Path:
    """Path of a shipped data file, e.g. ``data_path("cases", "northern_territories.yaml")``."""
    root = resources.files("harbinger_data")
    return Path(str(root.joinpath(*parts)))
