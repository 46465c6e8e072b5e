"""Browser tests: a real ``harbinger serve`` and headless Debian Chromium through Playwright.

The server runs as a subprocess against its own temporary HARBINGER_HOME, initialised with
``harbinger init`` and holding one fake ok run (tests/fixtures/forecast_sample.json), so no
sampler runs unless a test asks for a fit. Screenshots go to ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import os
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

from tests.fits import fit_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CASE = "northern_territories"
LAPTOP = {"width": 1366, "height": 900}
LARGE = {"width": 2560, "height": 1440}


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM.exists():
                item.add_marker(
                    pytest.mark.skip(reason=f"{CHROMIUM} is missing (apt-get install chromium); CI installs it")
                )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _harbinger(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dashboard.cli.main", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


class Server:
    def __init__(self, url: str, home: Path, env: dict[str, str], first_run: str):
        self.url, self.home, self.env, self.first_run = url, home, env, first_run

    def store(self) -> Any:
        """A store on the server's database (runs dir is not needed for reads)."""
        from indicators.store import Store

        return Store(f"sqlite:///{self.home / 'harbinger.db'}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing")
    home = tmp_path_factory.mktemp("browser") / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARBINGER_")}
    # the Refit test's fit: tests/fits.py's tiny settings, one attempt
    env.update(
        HARBINGER_HOME=str(home),
        HARBINGER_USER="browser-tester",
        PYTHONUNBUFFERED="1",
        HARBINGER_AUTO_REFIT="0",
        **fit_env(),
    )
    done = _harbinger("init", env=env)
    assert done.returncode == 0, done.stderr

    from tests.dashboard_support import register_fake_run

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARBINGER_HOME", str(home))
        mp.delenv("HARBINGER_DATABASE_URL", raising=False)
        from indicators.store import Store

        store = Store.from_env()
        run_id = register_fake_run(store, CASE)
        store.close()

    port = _free_port()
    log = (home.parent / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli.main", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"harbinger serve did not start: {(home.parent / 'serve.log').read_text()}")
        time.sleep(0.3)
    try:
        yield Server(url, home, env, run_id)
    finally:
        # the server and any fit it started run in their own process group (start_new_session)
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def browser(chromium: Any) -> Any:
    """The session's one Chromium (tests/conftest.py ``chromium``: one Playwright per process)."""
    return chromium


class ConsoleLog:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page: Any) -> None:
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))


@pytest.fixture
def console() -> ConsoleLog:
    return ConsoleLog()


@pytest.fixture
def page(browser: Any, console: ConsoleLog) -> Iterator[Any]:
    context = browser.new_context(viewport=LAPTOP)
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    console.attach(pg)
    yield pg
    context.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def choose(page: Any, dropdown: str, text: str | None = None) -> None:
    """Pick an option of the Dash dropdown ``#dropdown`` as a user does: open it and click the option
    (the first, or the one showing ``text``). The dropdown is first scrolled to the middle of the
    window, so that its list opens inside the viewport whatever stands above it on the page."""
    box = page.locator(f"#{dropdown}")
    box.evaluate("el => el.scrollIntoView({block: 'center'})")
    box.click()
    options = page.locator(".dash-dropdown-options [role=option]")
    option = options.filter(has_text=text).first if text else options.first
    option.click()
