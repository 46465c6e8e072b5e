"""Concurrent writers: 8 processes each adding 100 observations at once, nothing lost or doubled.

Three ways in, each against SQLite (WAL, busy timeout, write transactions that queue, retries) and
against PostgreSQL when HARBINGER_TEST_POSTGRES_URL names a scratch database:

- the command line, one observation per call: 8 processes each run the ``harbinger observe add``
  command 100 times in-process (one store engine per process; 800 real process starts would take
  minutes on CI's two cores);
- the command line as real processes: 8 ``harbinger observe import`` of 100 rows each at once;
- HTTP: 8 processes each POST 100 single observations to a running ``harbinger serve``.

All processes wait for a start signal (a file appearing) so they really write at the same time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.live_server import ROOT, harbinger_env, init_mini, start_server

N_PROCESSES = 8
N_EACH = 100
INITIAL = 5  # observations of tests/fixtures/mini_observations.csv

CLI_WORKER = r"""
import sys, time
from pathlib import Path
import dashboard.cli.support as support
from dashboard.cli.main import main
store = support.open_store()       # one store (engine) per process, as a long-running script has;
support.open_store = lambda: store  # each call below is still a whole `observe add` command
worker, n, go = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
while not go.exists():
    time.sleep(0.005)
bad = []
for i in range(n):
    args = ["observe", "add", "--indicator", "exercises", "--date", "2021-06-01", "--value", "1",
            "--source", f"cli worker {worker} observation {i}"]
    code = main.main(args, prog_name="harbinger", standalone_mode=False)
    if code not in (None, 0):
        bad.append((i, code))
print("FAILED", bad if bad else "none")
"""

HTTP_WORKER = r"""
import json, sys, time, urllib.request, urllib.error
from pathlib import Path
url, worker, n, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
while not go.exists():
    time.sleep(0.005)
ids, bad = [], []
for i in range(n):
    body = json.dumps({"indicator": "exercises", "date": "2021-06-01", "value": 1,
                       "source": f"http worker {worker} observation {i}"}).encode()
    req = urllib.request.Request(url + "/api/observations", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            ids += json.loads(resp.read())["ids"]
    except urllib.error.HTTPError as exc:
        bad.append((i, exc.code, exc.read().decode()[:200]))
print(json.dumps({"ids": ids, "bad": bad}))
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: Any, tmp_path: Path) -> dict[str, str]:
    """The environment of a store with the mini case and its 5 observations, on either backend."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    env = harbinger_env(tmp_path / "home", database_url=url)
    init_mini(env)
    return env


def _store(env: dict[str, str]) -> Any:
    from indicators.store import Store

    url = env.get("HARBINGER_DATABASE_URL") or f"sqlite:///{Path(env['HARBINGER_HOME']) / 'harbinger.db'}"
    return Store(url)


def _run_at_once(commands: list[list[str]], env: dict[str, str], go: Path, timeout: float = 600) -> list[str]:
    """Start every command, let them all go at once, and return their stdout (asserting success)."""
    procs = [
        subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for cmd in commands
    ]
    time.sleep(1.0)  # let the interpreters start and import before the signal
    go.touch()
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, err[-2000:]
        outputs.append(out)
    return outputs


def _check_exactly_once(env: dict[str, str], sources: list[str]) -> None:
    store = _store(env)
    try:
        frame = store.observations("mini")
        history = store.history("mini")
    finally:
        store.close()
    counts = Counter(frame["source"])
    assert len(frame) == INITIAL + len(sources)
    assert len(history) == INITIAL + len(sources)  # no stray records of any kind
    missing = [s for s in sources if counts[s] == 0]
    doubled = [s for s in sources if counts[s] > 1]
    assert not missing, f"{len(missing)} observations lost, e.g. {missing[:3]}"
    assert not doubled, f"{len(doubled)} observations stored twice, e.g. {doubled[:3]}"
    assert frame["id"].is_unique


@pytest.mark.slow  # eight processes at once: 10-30 s each on two cores
def test_eight_command_line_writers_adding_one_observation_per_call(backend: dict[str, str], tmp_path: Path) -> None:
    go = tmp_path / "go"
    started = time.monotonic()
    outputs = _run_at_once(
        [[sys.executable, "-c", CLI_WORKER, str(w), str(N_EACH), str(go)] for w in range(N_PROCESSES)], backend, go
    )
    elapsed = time.monotonic() - started
    for out in outputs:
        assert "FAILED none" in out, out[-500:]
        assert out.count("added observation") == N_EACH
    _check_exactly_once(backend, [f"cli worker {w} observation {i}" for w in range(N_PROCESSES) for i in range(N_EACH)])
    print(f"{N_PROCESSES * N_EACH} command-line adds by {N_PROCESSES} processes in {elapsed:.1f} s")


SAME_WORKER = r"""
import sys, time
from pathlib import Path
import dashboard.cli.support as support
from dashboard.cli.main import main
store = support.open_store()
support.open_store = lambda: store
n, go = int(sys.argv[1]), Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)
codes = []
for i in range(n):
    args = ["observe", "add", "--indicator", "exercises", "--date", "2021-06-03", "--value", "1",
            "--source", f"the same report {i}"]
    codes.append(main.main(args, prog_name="harbinger", standalone_mode=False) or 0)
print("CODES", " ".join(map(str, codes)))
"""


@pytest.mark.slow  # eight processes at once: 10-30 s each on two cores
def test_the_same_observation_from_eight_writers_is_stored_once(backend: dict[str, str], tmp_path: Path) -> None:
    """Duplicate detection holds under concurrency: the check and the insert are one serialised step."""
    n = 20
    go = tmp_path / "go"
    outputs = _run_at_once(
        [[sys.executable, "-c", SAME_WORKER, str(n), str(go)] for _ in range(N_PROCESSES)], backend, go
    )
    codes = [line.split()[1:] for out in outputs for line in out.splitlines() if line.startswith("CODES")]
    assert len(codes) == N_PROCESSES
    for i in range(n):
        column = [c[i] for c in codes]
        assert column.count("0") == 1, f"observation {i}: {column.count('0')} writers succeeded"
        assert column.count("2") == N_PROCESSES - 1  # the others: refused as a duplicate (bad input)
    _check_exactly_once(backend, [f"the same report {i}" for i in range(n)])


@pytest.mark.slow  # eight processes at once: 10-30 s each on two cores
def test_eight_command_line_imports_at_once(backend: dict[str, str], tmp_path: Path) -> None:
    files = []
    for w in range(N_PROCESSES):
        path = tmp_path / f"worker{w}.csv"
        path.write_text(
            "indicator,date,value,source\n"
            + "".join(f"exercises,2021-06-02,1,import worker {w} row {i}\n" for i in range(N_EACH)),
            encoding="utf-8",
        )
        files.append(path)
    go = tmp_path / "go"
    # real `harbinger` processes; a tiny shell wait loop holds each until the signal
    commands = [
        [
            "sh",
            "-c",
            (f'while [ ! -e "{go}" ]; do sleep 0.01; done; exec "$0" -m dashboard.cli.main observe import "{path}"'),
            sys.executable,
        ]
        for path in files
    ]
    outputs = _run_at_once(commands, backend, go)
    for out in outputs:
        assert f"imported {N_EACH} observation(s)" in out
    _check_exactly_once(backend, [f"import worker {w} row {i}" for w in range(N_PROCESSES) for i in range(N_EACH)])


@pytest.mark.slow  # eight processes at once: 10-30 s each on two cores
def test_eight_http_clients_adding_through_a_running_server(backend: dict[str, str], tmp_path: Path) -> None:
    server = start_server(backend)
    try:
        go = tmp_path / "go"
        started = time.monotonic()
        outputs = _run_at_once(
            [[sys.executable, "-c", HTTP_WORKER, server.url, str(w), str(N_EACH), str(go)] for w in range(N_PROCESSES)],
            backend,
            go,
        )
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    ids: list[int] = []
    for out in outputs:
        result = json.loads(out.strip().splitlines()[-1])
        assert result["bad"] == []
        ids += result["ids"]
    assert len(ids) == len(set(ids)) == N_PROCESSES * N_EACH
    _check_exactly_once(
        backend, [f"http worker {w} observation {i}" for w in range(N_PROCESSES) for i in range(N_EACH)]
    )
    store = _store(backend)
    try:
        stored = set(store.observations("mini")["id"])
        adds = [a for a in store.audit_log(limit=None) if a["action"] == "observation.add"]
    finally:
        store.close()
    assert set(ids) <= stored
    assert len(adds) == N_PROCESSES * N_EACH  # one audited transaction per request
    print(f"{N_PROCESSES * N_EACH} HTTP adds by {N_PROCESSES} clients in {elapsed:.1f} s")


# ---------------------------------------------------------------------------- in-process checks


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: Any, tmp_path: Path, mini_case: Any) -> str:
    from indicators.store import Store

    url = (
        request.getfixturevalue("postgres_url")
        if request.param == "postgresql"
        else f"sqlite:///{tmp_path / 'race.db'}"
    )
    store = Store(url)
    store.upgrade()
    store.load_case(mini_case)
    store.close()
    return url


def test_check_then_insert_is_not_raced_by_another_writer(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four writers add the same observation while validation is slowed down: exactly one wins.

    Without the writers' queue (BEGIN IMMEDIATE on SQLite, the advisory lock on PostgreSQL) every
    writer would see no duplicate during the pause and all four would store it.
    """
    import threading

    import indicators.store as store_module
    from indicators.errors import RowErrors
    from indicators.store import Store

    real = store_module.validate_rows

    def slow_validate(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        time.sleep(0.3)
        return out

    monkeypatch.setattr(store_module, "validate_rows", slow_validate)
    barrier = threading.Barrier(4)
    results: list[str] = []

    def writer() -> None:
        store = Store(store_url)
        try:
            barrier.wait()
            store.add_observations(
                "mini",
                [{"indicator": "exercises", "date": "2021-06-04", "value": 1, "source": "one report"}],
                actor="racer",
            )
            results.append("stored")
        except RowErrors as exc:
            results.append("duplicate" if "already stored" in str(exc) else str(exc))
        finally:
            store.close()

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == ["duplicate", "duplicate", "duplicate", "stored"]
    store = Store(store_url)
    try:
        assert (store.observations("mini")["source"] == "one report").sum() == 1
    finally:
        store.close()


def test_writes_failing_for_contention_are_retried_whole() -> None:
    import sqlite3

    import sqlalchemy as sa

    from indicators.store import RETRY_ATTEMPTS, retrying

    calls = {"n": 0}

    @retrying
    def locked_twice() -> str:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise sa.exc.OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))
        return "done"

    assert locked_twice() == "done" and calls["n"] == 3

    class SerializationFailure(Exception):
        sqlstate = "40001"

    calls["n"] = 0

    @retrying
    def always_conflicting() -> None:
        calls["n"] += 1
        raise sa.exc.OperationalError("INSERT", {}, SerializationFailure("could not serialize access"))

    with pytest.raises(sa.exc.OperationalError):
        always_conflicting()
    assert calls["n"] == RETRY_ATTEMPTS  # gave up after a bounded number of attempts

    calls["n"] = 0

    @retrying
    def broken() -> None:
        calls["n"] += 1
        raise sa.exc.OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: observations"))

    with pytest.raises(sa.exc.OperationalError):
        broken()
    assert calls["n"] == 1  # not contention: no retry
