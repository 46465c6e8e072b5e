"""Shared fixtures: every test gets its own HARBINGER_HOME and a known acting user."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

FIXTURES = Path(__file__).parent / "fixtures"
MINI_CASE = FIXTURES / "mini_case.yaml"
MINI_OBSERVATIONS = FIXTURES / "mini_observations.csv"
MINI_HEADER = "indicator,date,end,value,source,reliability,credibility,note"


@pytest.fixture(autouse=True)
def harbinger_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty HARBINGER_HOME for each test (and no database URL override)."""
    home = tmp_path / "home"
    monkeypatch.setenv("HARBINGER_HOME", str(home))
    monkeypatch.delenv("HARBINGER_DATABASE_URL", raising=False)
    monkeypatch.delenv("HARBINGER_DEBUG", raising=False)
    monkeypatch.setenv("HARBINGER_USER", "tester")
    return home


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
        pytest.skip("needs PostgreSQL: set HARBINGER_TEST_POSTGRES_URL to a scratch database, or run the "
                    "tests under 'bash .ci/run --services', which starts one")
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
        b = p.chromium.launch(executable_path=str(path), args=["--no-sandbox", "--disable-gpu",
                                                               "--disable-background-networking",
                                                               "--disable-component-update", "--disable-sync",
                                                               "--no-first-run"])
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
