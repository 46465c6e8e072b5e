"""Backtests on the team's Celery workers: ``harbinger backtest`` with HARBINGER_REDIS_URL set.

The deployment is tests/test_celery.py's (its ``team`` fixture, imported: the store, a scratch
Redis database, one ``harbinger worker`` and the dashboard under gunicorn, one HARBINGER_HOME).
A 2-origin backtest of the mini case with tiny PyMC fits is sent to the worker: each origin must
run in a pool process of that worker, and the saved document must have the shape and the data of
the same backtest run locally (``--local``). Then a worker killed in the middle of an origin: that
origin is reported failed in the document, and the other one runs on the next worker. Without
HARBINGER_TEST_REDIS_URL (``bash .ci/run --services`` sets it) these are skipped, as test_celery's are.
The quick checks at the end need no Redis and no fit.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.fits import TINY as TINY_SETTINGS
from tests.fits import fit_env
from tests.test_celery import (  # noqa: F401 - team is the fixture these tests share
    HARBINGER,
    ROOT,
    Team,
    _free_port,
    _parent_pid,
    _stop,
    _wait,
    team,
)

ORIGINS = "2019,2020"
#: tests/fits.py's tiny fit with one chain: the origins' settings, passed by the backtest command.
TINY = fit_env(TINY_SETTINGS | {"chains": 1})
#: The same with PyMC's sampler: an origin slow enough that its worker can be killed in the middle.
SLOW = fit_env(TINY_SETTINGS | {"chains": 1, "sampler": "pymc"})
BACKTEST_TIMEOUT_S = 1500
TASK_RECEIVED = re.compile(r"Task harbinger\.backtest_origin\[([0-9a-f-]+)\] received")


def _backtest(team: Team, *args: str, settings: dict[str, str] = TINY) -> subprocess.Popen:
    return subprocess.Popen(
        [HARBINGER, "backtest", "--origins", ORIGINS, "--format", "json", *args],
        env={**team.env, **settings},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _finish(team: Team, proc: subprocess.Popen) -> tuple[dict[str, Any], str]:
    """The saved document (with its rows) of a backtest process that must succeed, and its stderr."""
    try:
        out, err = proc.communicate(timeout=BACKTEST_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _stop(proc, signal.SIGKILL)
        raise AssertionError(f"the backtest did not finish in {BACKTEST_TIMEOUT_S} s\n{team.logs()}") from None
    assert proc.returncode == 0, f"{err[-3000:]}\n{team.logs()}"
    printed = json.loads(out)
    saved = re.search(r"backtest saved in (\S+)", err)
    assert saved, err
    doc = json.loads(Path(saved.group(1)).read_text())
    assert printed.pop("file") == saved.group(1)
    assert {k: v for k, v in doc.items() if k != "origins"} == {k: v for k, v in printed.items() if k != "origins"}
    return doc, err


def _shape(value: Any) -> Any:
    """The keys of every dict in ``value``, nested as in ``value`` (a list: the union of its items')."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        shapes = [_shape(v) for v in value if isinstance(v, dict | list)]
        merged: dict[str, Any] = {}
        for s in shapes:
            if isinstance(s, dict):
                merged |= s
        return [merged] if merged else []
    return None


def _data(origin: dict[str, Any]) -> dict[str, Any]:
    """What an origin read and was scored on: the same wherever it ran."""
    keys = ("origin", "as_of", "window_end", "n_observations", "data_hash", "n_scored", "n_unscored")
    return {k: origin[k] for k in keys} | {
        "rows": [(r["indicator"], r["start"], r["end"], r["value"]) for r in origin["rows"]],
        "outcomes": [(o["id"], o["at_risk"], o["happened"]) for o in origin["outcomes"]],
    }


@pytest.mark.slow
@pytest.mark.fit
def test_a_backtest_runs_its_origins_on_the_celery_worker(team: Team) -> None:
    worker_pid = team.worker.pid
    doc, err = _finish(team, _backtest(team))
    assert "sending 2 origin(s) to the harbinger workers on Redis" in err
    assert "2 of 2 origins" in err  # progress, as the origins ended
    assert [o["origin"] for o in doc["origins"]] == [2019, 2020] and doc["failed_origins"] == []
    assert doc["settings"]["executor"] == "celery" and doc["settings"]["jobs"] is None
    assert len(doc["settings"]["workers"]) == 1 and doc["settings"]["workers"][0].startswith(f"harbinger-{worker_pid}@")
    for origin in doc["origins"]:  # fitted in a pool process of the harbinger worker, not in the command
        assert origin["ran_on"]["host"] == socket.gethostname()
        assert _parent_pid(origin["ran_on"]["pid"]) == worker_pid
    assert team.worker_output().count("succeeded") >= 2  # Celery's own record of the two tasks
    assert "harbinger.backtest_origin" in team.worker_output()
    assert {k: doc["settings"][k] for k in ("draws", "tune", "chains", "sampler")} == {
        "draws": 60,
        "tune": 60,
        "chains": 1,
        "sampler": "nutpie",
    }

    local, _ = _finish(team, _backtest(team, "--local", "--jobs", "1"))
    assert local["settings"]["executor"] == "local" and local["settings"]["workers"] == []
    assert _shape(doc) == _shape(local)
    assert [_data(o) for o in doc["origins"]] == [_data(o) for o in local["origins"]]
    assert {k: v for k, v in doc["settings"].items() if k not in ("jobs", "executor", "workers")} == {
        k: v for k, v in local["settings"].items() if k not in ("jobs", "executor", "workers")
    }
    for origin in local["origins"]:
        assert origin["ran_on"]["pid"] != worker_pid and _parent_pid(origin["ran_on"]["pid"]) != worker_pid


@pytest.mark.slow
@pytest.mark.fit
def test_an_origin_lost_with_its_worker_is_reported_and_the_other_still_runs(team: Team) -> None:
    from celery.result import AsyncResult

    from dashboard.services.tasks import celery_app

    app = celery_app(team.env["HARBINGER_REDIS_URL"])
    first_worker = team.worker
    log_before = team.worker_output()
    proc = _backtest(team, settings=SLOW)
    task_id = _wait(
        lambda: (TASK_RECEIVED.findall(team.worker_output()[len(log_before) :]) or [None])[0],
        120,
        "the worker to take the first origin",
    )
    _wait(lambda: AsyncResult(task_id, app=app).state in ("STARTED", "PROGRESS"), 120, "the origin to start")
    _stop(first_worker, signal.SIGKILL)  # the whole worker, pool process and all, in the middle of the origin
    team.start_worker()  # the other origin is still queued (no prefetch) and runs here
    doc, err = _finish(team, proc)
    assert len(doc["failed_origins"]) == 1 and len(doc["origins"]) == 1, doc["failed_origins"]
    lost, done = doc["failed_origins"][0], doc["origins"][0]
    assert {lost["origin"], done["origin"]} == {2019, 2020}
    assert lost["error"].startswith("WorkerLost: the worker harbinger-") and "stopped answering" in lost["error"]
    assert f"harbinger-{first_worker.pid}@" in lost["error"]
    assert _parent_pid(done["ran_on"]["pid"]) == team.worker.pid
    assert f"origin {lost['origin']} FAILED" in err


@pytest.mark.slow
def test_a_backtest_with_no_worker_says_how_to_start_one(team: Team) -> None:
    _stop(team.worker)
    done = subprocess.run(
        [HARBINGER, "backtest", "--origins", ORIGINS],
        env={**team.env, **TINY},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "no harbinger worker takes backtest origins" in done.stderr and "--local" in done.stderr
    assert not list((team.home / "backtests").glob("*.tmp"))


# ---------------------------------------------------------------------------- no Redis needed


def test_backtest_with_unreachable_redis_says_so(store: Any, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARBINGER_REDIS_URL", f"redis://:secretpw@127.0.0.1:{_free_port()}/0")
    result = cli("backtest", "--origins", "2020")
    assert result.exit_code == 1
    assert "cannot reach Redis at redis://:***@127.0.0.1:" in result.output
    assert "secretpw" not in result.output


def test_backtest_sends_origins_to_the_workers_unless_local(
    store: Any, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str | None] = []

    def capture(store: Any, case_id: str, *, broker: str | None = None, **kw: Any) -> Any:
        seen.append(broker)
        raise RuntimeError("stop after the broker was seen")

    monkeypatch.setattr("dashboard.services.backtests.run_backtest", capture)
    assert cli("backtest", "--origins", "2020").exit_code == 1
    monkeypatch.setenv("HARBINGER_REDIS_URL", "redis://127.0.0.1:1/0")
    assert cli("backtest", "--origins", "2020").exit_code == 1
    assert cli("backtest", "--origins", "2020", "--local").exit_code == 1
    monkeypatch.setenv("HARBINGER_REDIS_URL", "http://127.0.0.1:6379")
    bad = cli("backtest", "--origins", "2020")
    assert bad.exit_code == 2 and "is not a Redis URL" in bad.output
    assert seen == [None, "redis://127.0.0.1:1/0", None]
