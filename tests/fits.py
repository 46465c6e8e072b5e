"""Real fits for the tests: the tiny settings in one place, and the session's one fitted run.

A tiny fit (the production path: nutpie with the fused density, 60 draws after 60 tuning steps,
two chains, a fixed seed, one attempt) takes 15-30 s on two cores, most of it building the model
and checking the fused density against PyMC's graph; the fused kernel is compiled once per
machine (numba's cache) by whichever test fits first. It cannot pass its diagnostics, and tests that
show diagnostics check that it says so; a fit that fails them is not retried (``--attempts 1``,
``HARBINGER_FIT_ATTEMPTS=1``), which would double its cost and prove nothing here.

The session's shared run (:func:`build_shared_run`, the ``shared_run`` fixture in
tests/conftest.py) is the shipped case after ``harbinger init``, with one hostile observation
recorded (a note holding ``<script>`` and a source holding ``=HYPERLINK(...)``), fitted once with
:data:`TINY` through the installed ``harbinger``. Tests never write to it: they take a copy
(:func:`copy_home`; the ``fitted_home`` fixture makes one per test, module fixtures one per
module). Every test that uses it is marked ``fit`` by tests/conftest.py.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.live_server import harbinger_env

HARBINGER = str(Path(sys.executable).parent / "harbinger")
CASE = "northern_territories"

#: The tiny fit: a run that exists and carries a posterior, not a good one.
TINY: dict[str, Any] = {"draws": 60, "tune": 60, "chains": 2, "seed": 7, "sampler": "nutpie"}
#: Small fits of the synthetic case, long enough for importance reweighting to hold (k-hat <= 0.7)
#: for a few hypothetical reports (tests/scenario_support.py).
SMALL: dict[str, Any] = {"draws": 300, "tune": 300, "chains": 2, "seed": 11, "sampler": "pymc"}

#: The hostile observation of the shared run.
HOSTILE_NOTE = 'Reported <script>alert("pwned")</script> by a <b>bold</b> tipster =HYPERLINK("http://evil.example","x")'
HOSTILE_SOURCE = '=HYPERLINK("http://evil.example/steal","click me")'


def fit_args(settings: dict[str, Any] = TINY, *, attempts: int | None = 1, **changes: Any) -> list[str]:
    """Options of ``harbinger fit`` for ``settings`` with ``changes``; ``attempts=None`` leaves out
    ``--attempts`` (``harbinger backtest`` has none: it never retries)."""
    merged = settings | changes
    args = [f"--{key}={value}" for key, value in merged.items()]
    return args if attempts is None else [*args, f"--attempts={attempts}"]


def fit_env(settings: dict[str, Any] = TINY) -> dict[str, str]:
    """The HARBINGER_* variables that make a server's or worker's fits use ``settings``."""
    env = {f"HARBINGER_{key.upper()}": str(value) for key, value in settings.items()}
    return env | {"HARBINGER_FIT_ATTEMPTS": "1"}


def harbinger(home: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """``harbinger ARGS`` through the installed console script, against ``home``."""
    return subprocess.run(
        [HARBINGER, *args], capture_output=True, text=True, env=harbinger_env(home), timeout=timeout, check=False
    )


def harbinger_json(home: Path, *args: str) -> Any:
    """The JSON ``harbinger ARGS --format json`` prints (asserting that it succeeded)."""
    res = harbinger(home, *args, "--format", "json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def built_once(root: Path, name: str, build: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """``build(root / name)``, whose result is a JSON object, once for every process of a test run
    that shares ``root`` (the pytest-xdist workers): the first builds under a file lock and saves the
    result; the others wait for the lock and read it."""
    from filelock import FileLock

    saved = root / f"{name}.json"
    with FileLock(str(root / f"{name}.lock")):
        if saved.is_file():
            return json.loads(saved.read_text(encoding="utf-8"))
        result = build(root / name)
        saved.write_text(json.dumps(result), encoding="utf-8")
        return result


@dataclass(frozen=True)
class SharedRun:
    home: Path
    run_id: str
    hostile_obs_id: int


def shared_run(root: Path) -> SharedRun:
    """The shared run under ``root`` (:func:`build_shared_run`, :func:`built_once`)."""
    saved = built_once(root, "shared-run", lambda directory: _as_json(build_shared_run(directory / "home")))
    return SharedRun(Path(saved["home"]), saved["run_id"], saved["hostile_obs_id"])


def _as_json(run: SharedRun) -> dict[str, Any]:
    return {"home": str(run.home), "run_id": run.run_id, "hostile_obs_id": run.hostile_obs_id}


def build_shared_run(home: Path) -> SharedRun:
    """``harbinger init``, the hostile observation and one tiny fit, in ``home``."""
    done = harbinger(home, "init")
    assert done.returncode == 0, done.stderr
    today = datetime.now(UTC).date().isoformat()
    added = harbinger(
        home,
        "observe",
        "add",
        "--indicator",
        "leader_summit",
        "--date",
        today,
        "--value",
        "1",
        "--source",
        HOSTILE_SOURCE,
        "--reliability",
        "C",
        "--credibility",
        "3",
        "--note",
        HOSTILE_NOTE,
    )
    assert added.returncode == 0, added.stderr
    obs_id = int(re.search(r"added observation (\d+)", added.stdout).group(1))
    fit = harbinger(home, "fit", *fit_args())
    assert fit.returncode == 0, fit.stderr
    run_id = harbinger_json(home, "forecast")["run_id"]
    return SharedRun(home, run_id, obs_id)


def copy_home(source: Path, target: Path) -> Path:
    """A copy of the HARBINGER_HOME ``source`` at ``target``, its runs pointing at their copies.

    The store records each run's directory as an absolute path, so the copy's ``runs.path``
    values are moved from ``source`` to ``target``; nothing else in a home names its location."""
    shutil.copytree(source, target)
    with sqlite3.connect(target / "harbinger.db") as conn:
        conn.execute(
            "UPDATE runs SET path = ? || substr(path, ?) WHERE path LIKE ? ESCAPE '!'",
            (str(target), len(str(source)) + 1, _like_prefix(str(source))),
        )
    conn.close()
    return target


def _like_prefix(text: str) -> str:
    return re.sub(r"([!%_])", r"!\1", text) + "%"
