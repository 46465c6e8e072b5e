"""`benchmarks/refresh.py` runs end to end (tiny settings, `slow` tier) and ends with its JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.fit
def test_refresh_benchmark_prints_its_figures_and_json_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARBINGER_")}
    res = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "refresh.py"),
            "--draws",
            "50",
            "--tune",
            "50",
            "--pymc-draws",
            "10",
            "--skip-scaling",
            # the generated density's compile and sampling are tests/test_density_guard.py's
            "--skip-generated",
            "--keep-compile-cache",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    lines = res.stdout.strip().splitlines()
    summary = json.loads(lines[-1])
    assert set(summary) >= {
        "refresh_s",
        "speedup_vs_pymc",
        "fast_update_s",
        "fast_update_khat",
        "recompiles_on_new_data",
        "scaling",
    }
    assert summary["refresh_s"] > 0
    # the ESS/s ratio is computed only from two warm fits that passed their diagnostics
    both_ok = summary["pymc"]["diagnostics"]["ok"] and summary["harbinger"]["diagnostics"]["ok"]
    if both_ok:
        assert summary["speedup_vs_pymc"] > 0 and summary["sampling_speedup_vs_pymc"] > 0
    else:
        assert summary["speedup_vs_pymc"] is None and summary["sampling_speedup_vs_pymc"] is None
        assert any(line.startswith("no ESS/s ratio: the warm fit of") for line in lines)
    assert summary["recompiles_on_new_data"] == 0
    assert summary["fast_update_s"] > 0 and summary["fast_update_khat"] is not None
    assert any(line.startswith("(a) plain pm.sample()") for line in lines)
    assert any(line.startswith("(c) fast update") for line in lines)
    # the fused density's cost per evaluation; the generated one's refit is left out
    assert summary["harbinger"]["evaluation_us"]["fused"] > 0
    assert "generated_density" not in summary["harbinger"]
