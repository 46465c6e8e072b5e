"""Shared fixtures: every test gets its own HARBINGER_HOME and a known acting user.

The test tiers (scripts/test.sh, pyproject's markers): a test that samples or compiles a model, in
this process or in a ``harbinger`` it starts, is marked ``fit``; one that drives Chromium,
``browser``; a long one (recovery, calibration, benchmarks, many processes at once), ``slow``.
``bash scripts/test.sh --fast`` runs the rest and passes ``--forbid-fits``, which fails any test
that starts a sampler or a nutpie compile in this process without the ``fit`` marker. A test that
needs *a* fitted run of the shipped case takes ``fitted_home`` (a copy of the session's one tiny
fit, :mod:`tests.fits`) and is marked ``fit`` here; one that takes ``chromium`` is marked ``browser``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.fits import SharedRun, copy_home
from tests.fits import shared_run as shared_run_in

FIXTURES = Path(__file__).parent / "fixtures"
MINI_CASE = FIXTURES / "mini_case.yaml"
MINI_OBSERVATIONS = FIXTURES / "mini_observations.csv"
MINI_HEADER = "indicator,date,end,value,source,reliability,credibility,note"
#: Fixtures that fit, or open Chromium: a test that takes one (directly or through another
#: fixture) is marked ``fit``, or ``browser``.
FIT_FIXTURES = {"shared_run", "fitted_home", "synthetic_runs"}
BROWSER_FIXTURES = {"chromium"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--forbid-fits",
        action="store_true",
        help="fail a test that samples or compiles a model in this process (the fast tier)",
    )


def pytest_configure(config: pytest.Config) -> None:
    """In a pytest-xdist worker: its own PostgreSQL database and Redis database (scripts/test.sh runs
    the tiers on two workers), so tests that empty them never meet on one server."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return
    n = int(worker[2:])
    redis_url = os.environ.get("HARBINGER_TEST_REDIS_URL")
    if redis_url:
        os.environ["HARBINGER_TEST_REDIS_URL"] = f"{redis_url.rsplit('/', 1)[0]}/{n}"
    pg_url = os.environ.get("HARBINGER_TEST_POSTGRES_URL")
    if pg_url:
        import sqlalchemy as sa

        url = sa.engine.make_url(pg_url)
        name = f"{url.database}_{worker}"
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                if not conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).scalar():
                    conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            engine.dispose()
        os.environ["HARBINGER_TEST_POSTGRES_URL"] = url.set(database=name).render_as_string(hide_password=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tier markers from the fixtures a test takes."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if FIT_FIXTURES & names:
            item.add_marker(pytest.mark.fit)
        if BROWSER_FIXTURES & names:
            item.add_marker(pytest.mark.browser)


def run_root(factory: pytest.TempPathFactory) -> Path:
    """The temporary directory of this whole test run: shared by its pytest-xdist workers (each of
    which has a directory of its own below it), where fits made once a run live."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session", autouse=True)
def _forbid_fits(request: pytest.FixtureRequest) -> Any:
    """With ``--forbid-fits``: PyMC's and nutpie's samplers, nutpie's compile and the fused
    density's (models.compiled) raise instead."""
    if not request.config.getoption("--forbid-fits"):
        yield
        return
    import nutpie
    import pymc

    from models import compiled

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("this test samples or compiles a model: mark it 'fit' (the fast tier runs no fits)")

    with pytest.MonkeyPatch.context() as mp:
        for module, name in (
            (nutpie, "sample"),
            (nutpie, "compile_pymc_model"),
            (pymc, "sample"),
            (compiled, "fused_model"),
        ):
            mp.setattr(module, name, refuse)
        yield


@pytest.fixture(autouse=True)
def harbinger_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty HARBINGER_HOME for each test (and no database URL override)."""
    home = tmp_path / "home"
    monkeypatch.setenv("HARBINGER_HOME", str(home))
    monkeypatch.delenv("HARBINGER_DATABASE_URL", raising=False)
    monkeypatch.delenv("HARBINGER_DEBUG", raising=False)
    monkeypatch.setenv("HARBINGER_USER", "tester")
    return home


@pytest.fixture(scope="session")
def shared_run(tmp_path_factory: pytest.TempPathFactory) -> SharedRun:
    """The test run's one tiny fit of the shipped case (:func:`tests.fits.build_shared_run`, made
    once for all workers); read it, never write to it: take ``fitted_home`` or
    :func:`tests.fits.copy_home`."""
    return shared_run_in(run_root(tmp_path_factory))


@pytest.fixture
def fitted_home(shared_run: SharedRun, harbinger_home: Path) -> Path:
    """This test's HARBINGER_HOME, a copy of the session's fitted run (the shipped case)."""
    return copy_home(shared_run.home, harbinger_home)


@pytest.fixture(scope="session")
def synthetic_runs(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The synthetic case's two small fits (:func:`tests.scenario_support.fitted`), made once for
    all workers of the test run."""
    from tests.scenario_support import fitted

    return fitted(run_root(tmp_path_factory))


@pytest.fixture
def synthetic_home(synthetic_runs: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """HARBINGER_HOME set to the synthetic store (shared: tests there add only what they check
    for first); the dashboard's cached stores are dropped before and after."""
    from dashboard.services import views

    monkeypatch.setenv("HARBINGER_HOME", str(synthetic_runs.home))
    monkeypatch.delenv("HARBINGER_DATABASE_URL", raising=False)
    views.forget_stores()
    yield synthetic_runs
    views.forget_stores()


@pytest.fixture
def mini_case() -> Any:
    from indicators.case import load_case

    return load_case(MINI_CASE)


@pytest.fixture
def store(harbinger_home: Path, mini_case: Any) -> Any:
    """A migrated store in the test's HARBINGER_HOME with the mini case loaded, no observations."""
    from indicators.store import Store

    s = Store.from_env()
    s.upgrade()
    s.load_case(mini_case)
    yield s
    s.close()


@pytest.fixture
def postgres_url() -> str:
    """HARBINGER_TEST_POSTGRES_URL, a scratch PostgreSQL database emptied for this test (its public
    schema dropped and created again). Skips the test when the variable is unset; ``bash .ci/run``
    sets it to a server it started (``bash .ci/run --services CMD`` starts one just for CMD)."""
    url = os.environ.get("HARBINGER_TEST_POSTGRES_URL")
    if not url:
        pytest.skip(
            "needs PostgreSQL: set HARBINGER_TEST_POSTGRES_URL to a scratch database, or run the "
            "tests under 'bash .ci/run --services', which starts one"
        )
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL lock_timeout = '30s'")
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def chromium() -> Any:
    """One headless Chromium (/usr/bin/chromium) for the whole session, shared by every browser test.

    Playwright's sync API allows one running instance per thread, so a second ``sync_playwright()``
    while another is open (e.g. tests/browser's session browser) fails; take this fixture instead.
    Skips the test when Chromium is missing."""
    path = Path("/usr/bin/chromium")
    if not path.exists():
        pytest.skip(f"{path} is missing (apt-get install chromium); CI installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(path),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def cli() -> Any:
    """Run ``harbinger ARGS...`` in-process; returns the click Result (stdout, stderr, exit_code)."""
    from dashboard.cli.main import main

    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)

    return run


@pytest.fixture
def write_csv(tmp_path: Path) -> Any:
    """Write CSV text (or bytes) to a file in tmp_path and return its path."""
    counter = iter(range(10_000))

    def write(content: str | bytes, name: str | None = None) -> Path:
        path = tmp_path / (name or f"obs_{next(counter)}.csv")
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        return path

    return write
