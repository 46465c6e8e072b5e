"""Crashes: a fit killed with SIGKILL mid-sampling, and a server killed during an import.

- The fit: after a good (tiny, real) fit, a second real fit is started and killed with SIGKILL once
  the sampler reports progress. The first run is still the current one (the command line's
  forecast and the run bar of a freshly started server show it), the killed run is recorded as
  failed ("interrupted", by the next start of ``serve``), and the next fit succeeds and becomes
  current.
- The import: a large import is POSTed to a running server, which is SIGKILLed while the import's
  write transaction is open (seen from outside: SQLite's write lock, or on PostgreSQL the writers'
  advisory lock, is held). Afterwards no trace of the import is in the store (every table as
  before), the store opens cleanly (SQLite ``integrity_check`` ok), and it takes new writes.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fits import fit_args
from tests.live_server import ROOT, harbinger, harbinger_env, http_json, init_mini, start_server

#: Its own fits of the mini case (not the shared run): one is killed mid-sampling, and the test
#: fits again after; the mini case at 20 draws of one chain samples in seconds.
TINY_FIT = ["fit", *fit_args(draws=20, tune=20, chains=1, seed=3)]


def _store(env: dict[str, str]) -> Any:
    from indicators.store import Store

    url = env.get("HARBINGER_DATABASE_URL") or f"sqlite:///{Path(env['HARBINGER_HOME']) / 'harbinger.db'}"
    return Store(url)


def _forecast_run(env: dict[str, str]) -> str:
    done = harbinger("forecast", "--format", "json", env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["run_id"]


def _run_bar(url: str) -> str:
    """The run bar as the page asks for it (the shell's Dash callback, over HTTP)."""
    deps = requests.get(url + "/_dash-dependencies", timeout=30).json()
    (dep,) = [d for d in deps if d["output"] == "shell-run-bar.children"]
    values = {"shell-run-state.data": {}, "shell-case.data": "mini"}
    body = {
        "output": dep["output"],
        "outputs": {"id": "shell-run-bar", "property": "children"},
        "inputs": [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in dep["inputs"]],
        "state": [{**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in dep["state"]],
        "changedPropIds": ["shell-run-state.data"],
    }
    resp = requests.post(url + "/_dash-update-component", json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.text


@pytest.mark.fit
def test_a_fit_killed_mid_sampling_leaves_the_previous_run_current(tmp_path: Path) -> None:
    env = harbinger_env(tmp_path / "home")
    init_mini(env)
    first = harbinger(*TINY_FIT, env=env, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    store = _store(env)
    (previous,) = [r["id"] for r in store.runs("mini", status="ok")]

    log = tmp_path / "killed-fit.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dashboard.cli.main",
                "fit",
                "--draws",
                "100000",
                "--tune",
                "20",
                "--chains",
                "1",
                "--sampler",
                "pymc",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    deadline = time.monotonic() + 600
    while "sampling: " not in log.read_text(errors="replace"):
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the fit never started sampling"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    running = store.runs("mini", status="running")
    assert len(running) == 1  # nobody could clean up: the row still says running
    killed = running[0]["id"]
    from dashboard.services.runs import current_run

    assert current_run(store, "mini")["id"] == previous
    assert _forecast_run(env) == previous

    server = start_server(env)  # serve marks fits whose process is gone as failed
    try:
        bar = _run_bar(server.url)
        assert previous in bar and killed not in bar
        assert "marked interrupted fits as failed: " + killed in server.output()
    finally:
        server.stop()
    run = store.get_run(killed)
    assert run["status"] == "failed" and run["error"] == "interrupted"

    after = harbinger(*TINY_FIT, env=env, timeout=600)
    assert after.returncode == 0, after.stderr[-2000:]
    ok = store.runs("mini", status="ok")
    assert len(ok) == 2 and ok[0]["id"] not in (previous, killed)
    assert _forecast_run(env) == ok[0]["id"]
    assert [r["id"] for r in store.runs("mini", status="failed")] == [killed]
    store.close()


# ---------------------------------------------------------------------------- server killed during an import


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: Any, tmp_path: Path) -> dict[str, str]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    env = harbinger_env(tmp_path / "home", database_url=url)
    init_mini(env)
    return env


def _import_in_progress(env: dict[str, str]) -> bool:
    """Whether some connection holds the store's write lock right now (an open write transaction)."""
    url = env.get("HARBINGER_DATABASE_URL")
    if url:
        import sqlalchemy as sa

        from indicators.store import WRITERS_LOCK

        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                held = conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    f"AND ((classid::bigint << 32) | objid::bigint) = {WRITERS_LOCK}"
                ).scalar()
        finally:
            engine.dispose()
        return bool(held)
    conn = sqlite3.connect(Path(env["HARBINGER_HOME"]) / "harbinger.db", timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc) or "busy" in str(exc)
    finally:
        conn.close()


def test_a_server_killed_during_an_import_leaves_no_trace(backend: dict[str, str]) -> None:
    env = backend
    store = _store(env)
    before = store.snapshot()
    store.close()
    rows = [
        {
            "indicator": "budget",
            "date": f"20{15 + i % 9}-0{1 + i % 9}-1{i % 10}",
            "value": i / 7,
            "source": f"bulk import row {i}",
        }
        for i in range(30000)
    ]
    server = start_server(env)
    outcome: dict[str, Any] = {}

    def post() -> None:
        try:
            outcome["status"] = requests.post(server.url + "/api/observations", json=rows, timeout=300).status_code
        except requests.RequestException as exc:
            outcome["error"] = type(exc).__name__

    thread = threading.Thread(target=post)
    try:
        thread.start()
        deadline = time.monotonic() + 120
        while not _import_in_progress(env):
            assert thread.is_alive(), f"the import ended before it could be interrupted: {outcome}"
            assert time.monotonic() < deadline, "the import's transaction was never seen"
            time.sleep(0.002)
        server.kill()
    finally:
        server.stop()
        thread.join(timeout=60)
    assert "status" not in outcome, f"the import finished before the kill: {outcome}"

    store = _store(env)
    try:
        store.upgrade()  # opens and migrates cleanly
        if store.engine.dialect.name == "sqlite":
            with store.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert store.snapshot() == before  # not one row of the import, not even in the audit trail
        (new_id,) = store.add_observations("mini", rows[:1], actor="after the crash")
        assert len(store.observations("mini")) == 6
    finally:
        store.close()
    server = start_server(env)
    try:
        status, body = http_json("GET", server.url + "/api/observations")
        assert status == 200 and len(body) == 6 and new_id in {r["id"] for r in body}
    finally:
        server.stop()
