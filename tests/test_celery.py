"""Background fits on Celery workers: the team deployment, with real processes.

The module builds what the README's "Team deployment" section describes, on this machine: the
store (the scratch PostgreSQL database when HARBINGER_TEST_POSTGRES_URL is set, else SQLite), a
Redis server (HARBINGER_TEST_REDIS_URL, a scratch database: it is flushed), one ``harbinger
worker`` and the dashboard under gunicorn with two worker processes (``dashboard.web.wsgi:server``),
all sharing one HARBINGER_HOME. A headless Chromium logs in as an editor and opens the Overview,
whose first fit starts by itself through Dash's CeleryManager; the fit (PyMC, 60 draws, on the
mini case) runs in the worker and is recorded as an ok run. Then a worker whose fits fail, and a
worker killed in the middle of a fit: both end as failed runs while the good run stays current.

Without HARBINGER_TEST_REDIS_URL (``bash .ci/run`` sets it) or /usr/bin/chromium these tests are
skipped with the reason. The quick command-line checks at the end need neither.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MINI_CASE, MINI_OBSERVATIONS
from tests.fits import TINY as TINY_SETTINGS
from tests.fits import fit_env

ROOT = Path(__file__).resolve().parents[1]
HARBINGER = str(Path(sys.executable).parent / "harbinger")
CHROMIUM = Path("/usr/bin/chromium")
EDITOR, PASSWORD = "ed", "a long enough test password 1"
TINY = fit_env()  # the worker's fits: tests/fits.py's tiny settings, one attempt
FIT_TIMEOUT_S = 900


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate: Any, timeout: float, what: str, interval: float = 0.3) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 60) -> None:
    """Signal the process group (start_new_session) and wait; SIGKILL if it does not stop."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    if sig != signal.SIGKILL:  # a warm shutdown may leave pool children for a moment
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _parent_pid(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))


class Team:
    """The running deployment: store URL, HARBINGER_HOME, gunicorn, the current worker."""

    def __init__(self, home: Path, env: dict[str, str], database_url: str):
        self.home, self.env, self.database_url = home, env, database_url
        self.worker: subprocess.Popen | None = None
        self.worker_log: Path | None = None
        self.web: subprocess.Popen | None = None
        self.url = ""
        self.first_run: str | None = None
        self._n = 0

    def harbinger(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [HARBINGER, *args], env=self.env, cwd=ROOT, capture_output=True, text=True, input=input, timeout=300
        )

    def store(self) -> Any:
        from indicators.store import Store

        return Store(self.database_url)

    def start_worker(self, **extra: str) -> subprocess.Popen:
        self._n += 1
        self.worker_log = self.home.parent / f"worker-{self._n}.log"
        env = {**self.env, **TINY, **extra}
        with self.worker_log.open("w") as log:
            self.worker = subprocess.Popen(
                [HARBINGER, "worker", "--concurrency", "1"],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker, path = self.worker, self.worker_log

        def ready() -> bool:
            if worker.poll() is not None:
                raise AssertionError(f"harbinger worker exited with {worker.returncode}:\n{path.read_text()}")
            return " ready." in path.read_text()

        _wait(ready, 180, "the Celery worker to be ready")
        return self.worker

    def worker_output(self) -> str:
        return self.worker_log.read_text() if self.worker_log else ""

    def logs(self) -> str:
        web = (self.home.parent / "gunicorn.log").read_text(errors="replace")
        return f"--- worker log (end)\n{self.worker_output()[-4000:]}\n--- gunicorn log (end)\n{web[-4000:]}"

    def wait_in_page(self, page: Any, condition_js: str, what: str, timeout: float = FIT_TIMEOUT_S) -> None:
        """Poll ``condition_js`` in the page; fail at once, with the logs, when a server process died
        or the dashboard raised, instead of waiting out the timeout."""
        deadline = time.monotonic() + timeout
        while not page.evaluate(condition_js):
            web = (self.home.parent / "gunicorn.log").read_text(errors="replace")
            if "Traceback" in web or "Exception on " in web:
                raise AssertionError(f"the dashboard raised while waiting for {what}\n{self.logs()}")
            for name, proc in (("gunicorn", self.web), ("harbinger worker", self.worker)):
                if proc is not None and proc.poll() is not None:
                    raise AssertionError(f"{name} exited while waiting for {what}\n{self.logs()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.logs()}")
            page.wait_for_timeout(2000)


def _reset_postgres(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    redis_url = os.environ.get("HARBINGER_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip(
            "needs Redis: set HARBINGER_TEST_REDIS_URL to a scratch Redis database, or run the tests "
            "under 'bash .ci/run --services', which starts one"
        )
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium); CI installs it")
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()  # no task or result left from an earlier run
    client.close()

    home = tmp_path_factory.mktemp("team") / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARBINGER_")}
    env.update(
        HARBINGER_HOME=str(home),
        HARBINGER_REDIS_URL=redis_url,
        HARBINGER_USER="ci",
        HARBINGER_SECRET_KEY=secrets.token_hex(32),
        PYTHONUNBUFFERED="1",
    )
    pg_url = os.environ.get("HARBINGER_TEST_POSTGRES_URL")
    if pg_url:
        _reset_postgres(pg_url)
        env["HARBINGER_DATABASE_URL"] = database_url = pg_url
    else:
        database_url = f"sqlite:///{home / 'harbinger.db'}"
    team = Team(home, env, database_url)
    done = team.harbinger("init", "--case-file", str(MINI_CASE), "--observations", str(MINI_OBSERVATIONS))
    assert done.returncode == 0, done.stderr
    done = team.harbinger("user", "add", EDITOR, "--role", "editor", "--password-stdin", input=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr

    port = _free_port()
    team.url = f"http://127.0.0.1:{port}"
    web_log = home.parent / "gunicorn.log"
    try:
        team.start_worker()
        with web_log.open("w") as log:
            team.web = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--workers",
                    "2",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--timeout",
                    "120",
                    "dashboard.web.wsgi:server",
                ],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def up() -> bool:
            if team.web.poll() is not None:
                raise AssertionError(f"gunicorn exited with {team.web.returncode}:\n{web_log.read_text()}")
            try:
                with urllib.request.urlopen(team.url + "/", timeout=5) as resp:
                    return resp.status == 200
            except OSError:
                return False

        _wait(up, 120, "gunicorn to serve the dashboard")
        yield team
    finally:
        for proc in (team.web, team.worker):
            if proc is not None:
                _stop(proc, signal.SIGKILL)


@pytest.fixture(scope="module")
def browser(team: Team, chromium: Any) -> Any:
    """The session's Chromium (tests/conftest.py), once the deployment is up."""
    return chromium


def _editor_page(browser: Any, team: Team) -> Any:
    """A new browser context logged in as the editor, on the Overview."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(team.url + "/login")
    page.get_by_label("User name").fill(EDITOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(team.url + "/")
    return page


def _run_bar_id(page: Any) -> str | None:
    from dashboard.web import ids

    loc = page.locator(f"#{ids.RUN_BAR} .run-id")
    return loc.inner_text() if loc.count() else None


@pytest.fixture(scope="module")
def first_fit(team: Team, browser: Any) -> dict[str, Any]:
    """Open the Overview of a case with no run as an editor: the first fit starts by itself (the
    Overview's first-fit trigger, Refit disabled meanwhile) and runs on the worker."""
    from dashboard.web import ids

    page = _editor_page(browser, team)
    team.wait_in_page(
        page,
        f"() => {{ const el = document.querySelector('#{ids.RUN_BAR} .run-id'); "
        "return !!(el && el.innerText.length > 0); }",
        "the first fit to finish",
    )
    run_id = _run_bar_id(page)
    store = team.store()
    run = store.get_run(run_id)
    fit_pid_parent = _parent_pid(run["pid"]) if run else None
    runs = store.runs("mini")
    store.close()
    message = page.locator(f"#{ids.OV_FIT_MESSAGE}").inner_text()
    page.context.close()
    team.first_run = run_id
    return {
        "run_id": run_id,
        "run": run,
        "runs": runs,
        "parent": fit_pid_parent,
        "message": message,
        "worker_pid": team.worker.pid,
    }


@pytest.mark.slow
@pytest.mark.fit
@pytest.mark.browser
def test_a_fit_started_in_the_browser_runs_on_the_celery_worker(team: Team, first_fit: dict[str, Any]) -> None:
    run = first_fit["run"]
    assert run is not None and run["status"] == "ok"
    assert [r["id"] for r in first_fit["runs"]] == [first_fit["run_id"]]  # exactly one fit, not one per process
    # it ran in a pool process of the harbinger worker, not in gunicorn
    assert first_fit["parent"] == first_fit["worker_pid"]
    assert run["host"] == socket.gethostname()
    # with the worker's sampler settings (the web servers have none)
    assert {k: run["settings"][k] for k in ("draws", "tune", "chains", "sampler")} == {
        k: TINY_SETTINGS[k] for k in ("draws", "tune", "chains", "sampler")
    }
    # the worker's answer reports the fit as it ended (a tiny fit may fail its diagnostics; it is
    # still an ok run, shown labelled while no run passes)
    expected = "Fit finished: now showing run " if run["diagnostics_ok"] else f"Run {run['id']} failed its diagnostics"
    assert first_fit["message"].startswith(expected), first_fit["message"]
    assert (Path(run["path"]) / "forecast.json").is_file()
    assert Path(run["path"]).parent == team.home / "runs"  # the shared HARBINGER_HOME
    assert "succeeded" in team.worker_output()  # Celery's own record of the task
    assert "Terminating" not in team.worker_output()  # reading the result left the pool process alone


@pytest.mark.slow
@pytest.mark.fit
@pytest.mark.browser
def test_a_fit_failing_on_the_worker_is_recorded_as_failed(team: Team, browser: Any, first_fit: dict[str, Any]) -> None:
    from dashboard.web import ids

    _stop(team.worker)
    # a misconfigured worker: its fits raise inside PyMC's sampler
    team.start_worker(HARBINGER_CHAINS="0", HARBINGER_SAMPLER="pymc")
    page = _editor_page(browser, team)
    page.locator(f"#{ids.RUN_BAR} .run-id").wait_for()
    page.get_by_role("button", name="Refit").click()
    result = page.locator("#fit-result-text")
    team.wait_in_page(
        page,
        "() => { const el = document.querySelector('#fit-result-text'); "
        "return !!(el && /failed/i.test(el.innerText)); }",
        "the failing fit to end",
    )
    text = result.inner_text()
    assert "previous forecast is still shown" in text
    assert _run_bar_id(page) == first_fit["run_id"]  # the good run is still the one shown
    page.context.close()

    store = team.store()
    newest = store.runs("mini", limit=1)[0]
    assert newest["id"] != first_fit["run_id"]
    assert newest["status"] == "failed" and "ZeroDivisionError" in newest["error"]
    assert newest["id"] in text
    assert _parent_pid(newest["pid"]) == team.worker.pid  # failed in the worker, recorded by it
    assert "Terminating" not in team.worker_output()
    assert store.latest_run("mini")["id"] == first_fit["run_id"]
    store.close()


@pytest.mark.slow
@pytest.mark.fit
@pytest.mark.browser
def test_a_worker_killed_during_a_fit_leaves_a_failed_run(team: Team, browser: Any, first_fit: dict[str, Any]) -> None:
    from dashboard.web import ids

    _stop(team.worker)
    team.start_worker()
    store = team.store()
    known = {r["id"] for r in store.runs("mini")}
    page = _editor_page(browser, team)
    page.locator(f"#{ids.RUN_BAR} .run-id").wait_for()
    page.get_by_role("button", name="Refit").click()
    running = _wait(
        lambda: [r for r in store.runs("mini", status="running") if r["id"] not in known],
        300,
        "the fit to start on the worker",
    )
    killed, killed_pid = running[0]["id"], running[0]["pid"]
    _stop(team.worker, signal.SIGKILL)  # the whole worker, pool process and all, mid-fit
    page.context.close()
    _wait(lambda: not Path(f"/proc/{killed_pid}").exists(), 60, "the killed pool process to be gone")

    team.start_worker()  # a new worker notices the dead fit of this host when it starts
    assert f"marked interrupted fits as failed: {killed}" in team.worker_output()
    run = store.get_run(killed)
    assert run["status"] == "failed" and run["error"] == "interrupted"
    assert store.latest_run("mini")["id"] == first_fit["run_id"]
    assert not store.runs("mini", status="running")
    store.close()


# ---------------------------------------------------------------------------- no Redis needed


def test_worker_without_redis_url_is_refused(cli: Any) -> None:
    result = cli("worker")
    assert result.exit_code == 2
    assert "HARBINGER_REDIS_URL is not set" in result.output


def test_worker_with_unreachable_redis_says_so(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARBINGER_REDIS_URL", f"redis://:secretpw@127.0.0.1:{_free_port()}/0")
    result = cli("worker")
    assert result.exit_code == 1
    assert "cannot reach Redis at redis://:***@127.0.0.1:" in result.output
    assert "secretpw" not in result.output


def test_worker_with_a_non_redis_url_is_bad_input(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARBINGER_REDIS_URL", "http://127.0.0.1:6379")
    result = cli("worker")
    assert result.exit_code == 2
    assert "is not a Redis URL" in result.output


def test_the_dashboard_chooses_its_background_manager(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import dash

    from dashboard.web import worker
    from dashboard.web.app import create_app

    app = create_app("mini")
    assert isinstance(app._background_manager, dash.DiskcacheManager)
    monkeypatch.setenv("HARBINGER_REDIS_URL", "redis://127.0.0.1:1/0")  # not contacted to build the app
    app = create_app("mini")
    manager = app._background_manager
    assert isinstance(manager, dash.CeleryManager)
    assert manager.handle is worker.celery_app()
    # every background callback of the pages is a task the workers will know by the same name
    assert worker.task_names() and set(manager.func_registry) == {
        n[len("background_callback_") :] for n in worker.task_names()
    }


def test_reading_a_result_does_not_terminate_the_job_that_wrote_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminate after the result would kill the worker's pool process if it arrived before the
    process reported the task done; replacing a running job still terminates it."""
    from dashboard.web import worker

    manager = worker.background_manager("redis://127.0.0.1:1/0")  # Redis is never contacted here
    backend = manager.handle.backend
    stored = {"result-key": b'{"text": "Fit finished"}'}
    terminated: list[str] = []
    monkeypatch.setattr(backend, "get", stored.get)
    monkeypatch.setattr(backend, "delete", lambda key: stored.pop(key, None))
    monkeypatch.setattr(manager.handle.control, "terminate", terminated.append)

    assert manager.get_result("result-key", "job-1") == {"text": "Fit finished"}
    assert "result-key" not in stored  # read once, then cleared (no cache_by)
    assert terminated == []
    assert manager.get_result("result-key", "job-1") is manager.UNDEFINED
    manager.terminate_job("job-2")
    assert terminated == ["job-2"]


def test_wsgi_server_refuses_to_start_without_an_editor(store: Any, cli: Any) -> None:
    from dashboard.services.context import Failure
    from dashboard.web import wsgi

    with pytest.raises(Failure, match="no editor account exists"):
        wsgi.create_server()
    assert cli("user", "add", EDITOR, "--role", "editor", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    server = wsgi.create_server("mini")
    response = server.test_client().get("/")
    assert response.status_code == 200
    assert b"Harbinger" in response.data
