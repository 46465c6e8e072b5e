"""benchmarks/dashboard.py works: its statistics, and one quick repeat against a fake run.

The smoke run proves the script still drives the dashboard end to end (serve, first render,
every interaction kind, the JSON line); it does not hold the figures to the aims, which are
measured with ``python benchmarks/dashboard.py`` on a real fit (see benchmarks/README.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.benchmarks import benchmark

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "dashboard.py"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def bench() -> Any:
    return benchmark("dashboard")


def test_percentiles_interpolate_like_numpy(bench):
    assert bench.percentile([], 95) is None
    assert bench.percentile([7.0], 95) == 7.0
    assert bench.percentile([1, 2, 3, 4], 50) == 2.5
    assert bench.percentile(list(range(1, 102)), 95) == 96.0
    assert bench.percentile([10, 0, 30, 20], 100) == 30
    assert bench.describe([3, 1, 2]) == {"n": 3, "median": 2, "p95": 2.9, "max": 3}


def test_callback_log_labels_polls_apart(bench):
    class FakeRequest:
        method = "POST"
        url = "http://127.0.0.1:1/_dash-update-component?x=1"

        def __init__(self, triggers: list[str], ms: float):
            self.post_data = json.dumps({"output": "a.children", "changedPropIds": triggers})
            self.timing = {"responseEnd": ms}

    log = bench.CallbackLog(kind="horizon")
    for request in (FakeRequest(["overview-horizon.value"], 12.5), FakeRequest([bench.POLL_TRIGGER], 3.0)):
        log._request(request)
        log._finished(request)
    assert log.pending == 0
    assert [(c.kind, c.ms) for c in log.calls] == [("horizon", 12.5), ("poll", 3.0)]


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)")
def test_one_repeat_against_a_fake_run(tmp_path):
    # In its own process: Playwright's sync API allows one instance per thread, and the browser
    # tests' session Chromium may be open in this one.
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("HARBINGER_")}
    res = subprocess.run(
        [sys.executable, str(SCRIPT), "--fake-run", "--repeats", "1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout
    line = json.loads(out.strip().splitlines()[-1])
    assert 0 < line["first_render_s"] < 60 and 0 < line["serve_ready_s"] < 120
    assert line["serve_to_overview_s"] > line["first_render_s"]
    assert line["callback_p95_ms"] > 0 and line["callbacks_measured"] >= 10
    assert set(line["per_kind_p95_ms"]) == {
        "horizon",
        "page switch",
        "indicator selection",
        "table row selection",
        "add observation",
    }
    assert line["poll_p95_ms"] is not None  # the shell's poll was seen, and kept apart
    assert set(line["client_side_ms"]) == {"table filter (in browser)", "table sort (in browser)"}
    assert line["aims_met"] == (line["first_render_s"] < 1.0 and line["callback_p95_ms"] < 200)
    assert "first render: navigation → outcome cards" in out and "aims: first render" in out
