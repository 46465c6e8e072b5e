"""`benchmarks/mcse.py`: its calibration figures (unit) and an end-to-end run (tiny settings, `slow`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.benchmarks import benchmark

ROOT = Path(__file__).resolve().parent.parent


def _module():
    return benchmark("mcse")


def test_figures_recognise_right_and_too_small_mcses() -> None:
    """Estimates scattered exactly as their MCSE says give ratios near 1 and ~95% within 2;
    an MCSE reported at half the true error gives ratios near 2 and far fewer within 2."""
    mod = _module()
    rng = np.random.default_rng(0)
    n, truth, true_se = 400, 0.1, 0.002

    def runs(reported: float) -> list[dict]:
        return [{"x@1y": (truth + true_se * rng.standard_normal(), reported)} for _ in range(n)]

    right = mod.summarise(runs(true_se), runs(true_se), runs(true_se))
    row = right["outcome_horizons"]["x@1y"]
    for key in ("sd_over_mcse_before", "sd_over_mcse_after", "sd_over_mcse_fast"):
        assert 0.9 < row[key] < 1.1
    assert abs(row["fast_bias_z"]) < 3 and 0.93 < right["within_2"] < 0.98 and 0.8 < right["mean_z2"] < 1.2
    small = mod.summarise(runs(true_se / 2), runs(true_se / 2), runs(true_se / 2))
    row = small["outcome_horizons"]["x@1y"]
    assert 1.8 < row["sd_over_mcse_after"] < 2.2 and small["within_2"] < 0.8 and small["mean_z2"] > 3


@pytest.mark.slow
@pytest.mark.fit
def test_mcse_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARBINGER_")}
    res = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "mcse.py"), "--seeds", "2", "--draws", "60", "--tune", "60"],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        cwd=tmp_path,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert summary["seeds"] == [1, 2] and summary["settings"]["draws"] == 60
    rows = summary["outcome_horizons"]
    assert "russian_military_escalation@10y" in rows
    assert all(r["sd_over_mcse_after"] > 0 and 0 <= r["within_2"] <= 1 for r in rows.values())
    assert any(line.startswith("  seed 2 (2/2): k-hat") for line in lines)
    assert any(line.startswith("fast update within 2 MCSE") for line in lines)
