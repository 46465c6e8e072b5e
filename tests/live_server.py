"""Helpers for tests that run the real ``harbinger`` command and a real ``harbinger serve``.

Every process gets an environment with its own HARBINGER_HOME (and optionally
HARBINGER_DATABASE_URL), so tests never touch the user's store. Servers run in their own process
group on a free loopback port, so a test can SIGTERM or SIGKILL the server with everything it
started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
MINI_CASE = FIXTURES / "mini_case.yaml"
MINI_OBSERVATIONS = FIXTURES / "mini_observations.csv"


def harbinger_env(home: Path, *, database_url: str | None = None, user: str = "tester", **extra: str) -> dict[str, str]:
    """The process environment for ``harbinger`` against ``home`` (no inherited HARBINGER_*)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARBINGER_")}
    env.update(HARBINGER_HOME=str(home), HARBINGER_USER=user, PYTHONUNBUFFERED="1")
    if database_url:
        env["HARBINGER_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def harbinger(
    *args: Any, env: dict[str, str], input: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run ``harbinger ARGS`` as a real process; returns the completed process (text output)."""
    return subprocess.run(
        [sys.executable, "-m", "dashboard.cli.main", *[str(a) for a in args]],
        env=env,
        cwd=ROOT,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def init_mini(env: dict[str, str], *, observations: bool = True) -> None:
    """``harbinger init`` with the mini test case (and its five observations)."""
    args = ["init", "--case-file", MINI_CASE]
    if observations:
        args += ["--observations", MINI_OBSERVATIONS]
    done = harbinger(*args, env=env)
    assert done.returncode == 0, done.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A running ``harbinger serve`` (its own process group)."""

    def __init__(self, proc: subprocess.Popen, url: str, log: Path):
        self.proc, self.url, self.log = proc, url, log

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL the server and everything it started (no clean-up runs)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()


def start_server(env: dict[str, str], *, host: str = "127.0.0.1", timeout: float = 90) -> LiveServer:
    """Start ``harbinger serve --host HOST`` on a free port; wait until /api/health answers."""
    port = free_port()
    log = Path(env["HARBINGER_HOME"]).parent / f"serve-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli.main", "serve", "--host", host, "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LiveServer(proc, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + timeout
    while True:
        try:
            status, _ = http_json("GET", server.url + "/api/health", timeout=2)
            if status == 200:
                return server
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"harbinger serve did not start:\n{server.output()}")
        time.sleep(0.2)


def http_json(
    method: str, url: str, body: Any = None, *, headers: dict[str, str] | None = None, timeout: float = 60
) -> tuple[int, Any]:
    """One HTTP request with a JSON body; returns (status, decoded JSON or text)."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode("utf-8", errors="replace")
