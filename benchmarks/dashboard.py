"""Dashboard speed, measured in a real browser.

    python benchmarks/dashboard.py [--repeats N] [--home PATH] [--fake-run] [--draws N --tune N]

What it does, from a fresh clone:

1. Makes a temporary ``HARBINGER_HOME``, runs ``harbinger init`` and a real fit with small
   settings (PyMC sampler, ``--draws 200 --tune 200 --chains 2``; a few minutes on a small
   machine), so the dashboard has an existing run of realistic size. ``--home PATH`` measures an
   existing home instead (nothing is written to it unless ``--writes``); ``--fake-run`` registers
   the test suite's sample forecast instead of fitting (quick; for smoke tests, not for figures).
2. Starts ``harbinger serve`` on a free loopback port and times it until it answers ``GET /``.
3. Drives Debian's headless Chromium through Playwright:

   - *first render*: from navigation to the Overview's outcome cards showing probabilities, on the
     first load after the server started (empty browser cache, nothing cached in the server);
     then ``--repeats`` cold loads (new browser context each: empty cache) and warm loads (same
     context, cache filled). "Plots drawn" (every card's horizon curve drawn) is reported too.
     Times come from the page's own clock (``performance.now()`` from navigation start, recorded
     by a MutationObserver), so Playwright's polling does not add to them.
   - *callback latency*: every ``POST /_dash-update-component`` the browser makes while a person
     changes the horizon, switches pages, selects an indicator to chart, selects a table row and
     (in a home the benchmark owns) adds an observation with the form. A round trip is the
     browser's network timing of the request (``request.timing["responseEnd"]``: from the
     request's start to the last byte of the answer). Median and 95th percentile per interaction
     kind and over all interactions. Filtering and sorting the observations table are done in
     the browser (no callback); their time from action to the table redrawn is reported apart.
     The shell's 5-second poll of the run state is reported apart too (it is not an interaction).

Prints a table and ends with one JSON line: ``{"first_render_s", "callback_p95_ms", ...}``.
The aims are a first render under 1 s and a callback p95 under 200 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# run as a script, this file's folder comes first on sys.path and its name would hide the
# ``dashboard`` package: put the project root there instead
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
    sys.path[0] = str(ROOT)
elif str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1366, "height": 900}
AIMS = {"first_render_s": 1.0, "callback_p95_ms": 200.0}
CALLBACK_PATH = "/_dash-update-component"
POLL_TRIGGER = "shell-poll.n_intervals"

#: Recorded in every page before its scripts run: when the Overview's cards (with probabilities)
#: and their plots first appear, in ms since navigation start.
INIT_SCRIPT = """
(() => {
  const bench = window.__bench = {cards: null, plots: null};
  const check = () => {
    if (bench.cards === null && document.querySelector('#overview-content .outcome-card .prob')) {
      bench.cards = performance.now();
    }
    if (bench.cards !== null && bench.plots === null) {
      const graphs = document.querySelectorAll('#overview-content .outcome-card .dash-graph');
      if (graphs.length && Array.from(graphs).every(g => g.querySelector('.main-svg'))) {
        bench.plots = performance.now();
      }
    }
  };
  new MutationObserver(check).observe(document, {subtree: true, childList: true});
})();
"""


# ---------------------------------------------------------------------------- statistics


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation (numpy's default), or None."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def describe(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "median": percentile(values, 50),
        "p95": percentile(values, 95),
        "max": max(values) if values else None,
    }


# ---------------------------------------------------------------------------- the home and server


def harbinger_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARBINGER_")}
    env.update(HARBINGER_HOME=str(home), HARBINGER_USER="benchmark", PYTHONUNBUFFERED="1")
    return env


def harbinger(*args: str, home: Path, timeout: float = 3600) -> subprocess.CompletedProcess:
    """Run ``harbinger ARGS`` (this interpreter's) on ``home``; raise with its stderr on failure."""
    done = subprocess.run(
        [sys.executable, "-m", "dashboard.cli.main", *args],
        env=harbinger_env(home),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"harbinger {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


FAKE_RUN = """
import sys
from indicators.store import Store
from tests.dashboard_support import register_fake_run
store = Store.from_env()
print(register_fake_run(store, store.case_ids()[0]))
store.close()
"""


def prepare_home(
    home: Path, *, fake_run: bool = False, draws: int = 200, tune: int = 200, chains: int = 2
) -> dict[str, Any]:
    """``harbinger init`` in ``home`` and one ok run: a real PyMC fit, or the tests' sample forecast."""
    home.mkdir(parents=True, exist_ok=True)
    harbinger("init", home=home)
    t0 = time.perf_counter()
    if fake_run:
        done = subprocess.run(
            [sys.executable, "-c", FAKE_RUN],
            env=harbinger_env(home),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        how = "fake run (tests/fixtures/forecast_sample.json)"
        run_id = done.stdout.strip().splitlines()[-1]
    else:
        done = harbinger(
            "fit", "--draws", str(draws), "--tune", str(tune), "--chains", str(chains), "--sampler", "pymc", home=home
        )
        how = f"PyMC fit, {chains} chains × {draws} draws (+{tune} tuning)"
        run_id = next((w for w in done.stdout.split() if w.startswith("r2")), None)
    return {"run": how, "run_id": run_id, "prepare_s": time.perf_counter() - t0}


def describe_home(home: Path) -> dict[str, Any]:
    """The latest ok run of ``home`` and its forecast.json size (for the report)."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from indicators.store import Store; import json, os; s = Store.from_env(); "
            "c = s.case_ids()[0]; r = s.latest_run(c); p = r and r['path'] and os.path.join(r['path'], 'forecast.json'); "
            "print(json.dumps({'case': c, 'run_id': r and r['id'], 'n_records': s.n_records(c), "
            "'forecast_bytes': os.path.getsize(p) if p and os.path.exists(p) else None}))",
        ],
        env=harbinger_env(home),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if out.returncode != 0:
        raise RuntimeError(f"cannot read the store in {home}: {out.stderr.strip()}")
    info = json.loads(out.stdout.strip().splitlines()[-1])
    if info["run_id"] is None:
        raise RuntimeError(f"{home} has no ok run to show; fit one first (harbinger fit)")
    return info


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    proc: subprocess.Popen
    url: str
    started: float  # perf_counter when the process was started
    ready_s: float  # until GET / answered 200
    log: Path

    def stop(self) -> None:
        """Stop the server and anything it started (its own process group)."""
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def start_server(home: Path, *, port: int | None = None, timeout: float = 120) -> Served:
    """``harbinger serve`` on a free loopback port; returns once it answers ``GET /``."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log = home / "benchmark-serve.log"
    with log.open("w") as fh:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "dashboard.cli.main", "serve", "--port", str(port)],
            env=harbinger_env(home),
            cwd=ROOT,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.perf_counter() - started > timeout:
            served = Served(proc, url, started, float("nan"), log)
            served.stop()
            raise RuntimeError(f"harbinger serve did not start: {log.read_text()}")
        time.sleep(0.02)
    return Served(proc, url, started, time.perf_counter() - started, log)


# ---------------------------------------------------------------------------- callback timing


@dataclass
class Call:
    kind: str
    outputs: str
    triggers: list[str]
    ms: float


@dataclass
class CallbackLog:
    """Every Dash callback request of the pages it watches, labelled with the current interaction."""

    kind: str = "page load"
    calls: list[Call] = field(default_factory=list)
    pending: int = 0
    _sent: dict[int, float] = field(default_factory=dict)

    def attach(self, page: Any) -> None:
        page.on("request", self._request)
        page.on("requestfinished", self._finished)
        page.on("requestfailed", self._failed)

    @staticmethod
    def _is_callback(request: Any) -> bool:
        return request.method == "POST" and request.url.split("?")[0].endswith(CALLBACK_PATH)

    def _request(self, request: Any) -> None:
        if self._is_callback(request):
            self.pending += 1
            self._sent[id(request)] = time.perf_counter()

    def _failed(self, request: Any) -> None:
        if self._is_callback(request):
            self.pending -= 1
            self._sent.pop(id(request), None)

    def _finished(self, request: Any) -> None:
        if not self._is_callback(request):
            return
        self.pending -= 1
        sent = self._sent.pop(id(request), None)
        timing = request.timing
        ms = timing.get("responseEnd", -1)
        if ms is None or ms < 0:  # no network timing: the Python-side clock (slightly longer)
            ms = (time.perf_counter() - sent) * 1000 if sent else float("nan")
        try:
            body = json.loads(request.post_data or "{}")
        except ValueError:
            body = {}
        triggers = list(body.get("changedPropIds") or [])
        kind = "poll" if POLL_TRIGGER in triggers else self.kind
        self.calls.append(Call(kind, str(body.get("output", "?")), triggers, float(ms)))

    def of(self, kind: str) -> list[Call]:
        return [c for c in self.calls if c.kind == kind]


def wait_quiet(page: Any, log: CallbackLog, *, quiet_ms: float = 300, timeout_s: float = 30) -> None:
    """Wait until no callback request has been in flight for ``quiet_ms``."""
    deadline = time.monotonic() + timeout_s
    last_busy = time.monotonic()
    while time.monotonic() < deadline:
        page.wait_for_timeout(25)  # lets Playwright deliver events
        if log.pending > 0:
            last_busy = time.monotonic()
        elif (time.monotonic() - last_busy) * 1000 >= quiet_ms:
            return
    raise TimeoutError(f"callbacks still running after {timeout_s} s")


# ---------------------------------------------------------------------------- loads


def load_overview(page: Any, url: str, *, timeout_ms: float = 60_000) -> dict[str, float]:
    """Open the Overview; ms from navigation start to the cards (with probabilities) and plots."""
    page.goto(url + "/", wait_until="commit")
    page.wait_for_function(
        "window.__bench && window.__bench.cards !== null && window.__bench.plots !== null", timeout=timeout_ms
    )
    marks = page.evaluate(
        "({cards: window.__bench.cards, plots: window.__bench.plots, "
        "dcl: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd})"
    )
    return {"cards_ms": marks["cards"], "plots_ms": marks["plots"], "dom_ready_ms": marks["dcl"]}


def new_context(browser: Any) -> Any:
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(INIT_SCRIPT)
    return context


def measure_loads(browser: Any, url: str, repeats: int, log: CallbackLog) -> dict[str, list[dict[str, float]]]:
    """``repeats`` cold loads (new context, empty cache) and warm loads (one context, cache filled)."""
    cold, warm = [], []
    for _ in range(repeats):
        context = new_context(browser)
        page = context.new_page()
        log.attach(page)
        log.kind = "page load"
        cold.append(load_overview(page, url))
        wait_quiet(page, log)
        context.close()
    context = new_context(browser)
    page = context.new_page()
    log.attach(page)
    load_overview(page, url)  # fills the cache
    wait_quiet(page, log)
    for _ in range(repeats):
        warm.append(load_overview(page, url))
        wait_quiet(page, log)
    context.close()
    return {"cold": cold, "warm": warm}


# ---------------------------------------------------------------------------- interactions


@dataclass
class Interactions:
    log: CallbackLog
    wall_ms: dict[str, list[float]] = field(default_factory=dict)

    def run(self, page: Any, kind: str, action: Callable[[], None], done: Callable[[], None]) -> None:
        """Do ``action`` labelled ``kind``, wait for ``done`` and for the callbacks to settle."""
        wait_quiet(page, self.log)
        self.log.kind = kind
        t0 = time.perf_counter()
        action()
        done()
        self.wall_ms.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
        wait_quiet(page, self.log)
        self.log.kind = "idle"


def _wait_text(page: Any, selector: str, text: str) -> Callable[[], None]:
    js = "([s, t]) => { const e = document.querySelector(s); return !!e && e.innerText.includes(t); }"
    return lambda: page.wait_for_function(js, arg=[selector, text], polling="raf")


def _wait_for(page: Any, selector: str) -> Callable[[], None]:
    return lambda: page.wait_for_selector(selector, state="attached")


def _nav(page: Any, name: str) -> Callable[[], None]:
    return lambda: page.locator("#shell-nav").get_by_role("link", name=name, exact=True).click()


def measure_interactions(
    browser: Any, url: str, repeats: int, log: CallbackLog, *, writes: bool = False
) -> dict[str, list[float]]:
    """Non-fit interactions, ``repeats`` rounds; returns client-side wall times per kind (ms)."""
    context = new_context(browser)
    page = context.new_page()
    page.set_default_timeout(30_000)
    log.attach(page)
    log.kind = "page load"
    load_overview(page, url)
    wait_quiet(page, log)
    it = Interactions(log)

    def one_round(round_no: int) -> None:
        # Overview: every horizon in turn, ending where it started
        labels = page.locator("#overview-horizon label").all_inner_texts()
        for label in labels[1:] + labels[:1]:
            years = label.split()[0]
            it.run(
                page,
                "horizon",
                lambda label=label: page.get_by_label(label, exact=True).check(),
                _wait_text(page, "#overview-content .prob-horizon", f"within {years} year"),
            )
        # to Indicators
        it.run(page, "page switch", _nav(page, "Indicators"), _wait_for(page, "#indicators-table td"))
        page.wait_for_selector("#indicators-charts .dash-graph .main-svg", state="attached")
        # chart one more indicator, then remove it again
        page.click("#indicators-select")
        option = page.locator("[role=listbox] [role=option][aria-selected=false]").nth(round_no % 3)
        value = option.locator("input").get_attribute("value")
        it.run(page, "indicator selection", option.click, _wait_for(page, f"#chart-{value} .main-svg"))
        page.locator(f"[role=listbox] [role=option]:has(input[value='{value}'])").click()
        it.run(
            page,
            "indicator selection",
            lambda: None,
            lambda: page.wait_for_selector(f"#chart-{value}", state="detached"),
        )
        page.keyboard.press("Escape")
        # the table: select a row (a callback), filter and sort (in the browser)
        radio = page.locator("#indicators-table td.dash-select-cell input").nth(round_no % 5)
        it.run(page, "table row selection", radio.check, _wait_text(page, "#edit-selected", "Observation "))
        filt = page.locator("#indicators-table th.dash-filter[data-dash-column=indicator]")
        text = "island" if round_no % 2 == 0 else "summit"
        cells = "#indicators-table td[data-dash-column=indicator]"
        n_rows = page.locator(cells).count()
        all_match = (
            "t => { const c = Array.from(document.querySelectorAll(" + repr(cells) + "));"
            " return c.length > 0 && c.every(e => e.innerText.includes(t)); }"
        )

        def apply_filter(text: str = text) -> None:
            filt.click()
            page.keyboard.type(text)
            page.keyboard.press("Enter")

        it.run(
            page,
            "table filter (in browser)",
            apply_filter,
            lambda: page.wait_for_function(all_match, arg=text, polling="raf"),
        )

        def clear_filter() -> None:
            filt.click()
            page.keyboard.press("Control+A")
            page.keyboard.press("Backspace")
            page.keyboard.press("Enter")

        it.run(
            page,
            "table filter (in browser)",
            clear_filter,
            lambda: page.wait_for_function(
                f"n => document.querySelectorAll({cells!r}).length === n", arg=n_rows, polling="raf"
            ),
        )
        sort = page.locator("#indicators-table th[data-dash-column=value] .column-header--sort")
        icon = "#indicators-table th[data-dash-column=value] .column-header--sort svg"
        before = page.locator(icon).get_attribute("data-icon")
        it.run(
            page,
            "table sort (in browser)",
            sort.click,
            lambda: page.wait_for_function(
                f"b => {{ const e = document.querySelector({icon!r}); return !!e && e.getAttribute('data-icon') !== b; }}",
                arg=before,
                polling="raf",
            ),
        )
        if writes:
            page.get_by_label("Indicator", exact=True).fill("leader_summit")
            page.get_by_label("Date", exact=True).fill("2024-01-15")
            page.get_by_label("Value", exact=True).fill("1")
            page.get_by_label("Source", exact=True).fill(f"benchmark {time.time_ns()}")  # never a duplicate
            it.run(
                page,
                "add observation",
                lambda: page.get_by_role("button", name="Add observation").click(),
                _wait_text(page, "#add-message", "Added observation"),
            )
        # to Model, back to Overview
        it.run(page, "page switch", _nav(page, "Model"), _wait_for(page, "#diagnostics-table"))
        page.wait_for_selector("#model-factors .main-svg", state="attached")
        it.run(page, "page switch", _nav(page, "Overview"), _wait_for(page, "#overview-content .outcome-card .prob"))

    for round_no in range(repeats):
        one_round(round_no)
    # let the shell's poll (every 5 s) answer a few times
    log.kind = "idle"
    page.wait_for_timeout(11_000)
    wait_quiet(page, log)
    context.close()
    return it.wall_ms


# ---------------------------------------------------------------------------- report

INTERACTION_KINDS = ("horizon", "page switch", "indicator selection", "table row selection", "add observation")


def summarize(
    *,
    served: Served,
    first: dict[str, float],
    first_wall_s: float,
    loads: dict[str, list[dict[str, float]]],
    log: CallbackLog,
    wall_ms: dict[str, list[float]],
    info: dict[str, Any],
    repeats: int,
) -> dict[str, Any]:
    interaction_calls = [c.ms for c in log.calls if c.kind in INTERACTION_KINDS]
    per_kind = {k: describe([c.ms for c in log.of(k)]) for k in INTERACTION_KINDS if log.of(k)}
    per_output: dict[str, list[float]] = {}
    for c in log.calls:
        if c.kind in INTERACTION_KINDS:
            per_output.setdefault(c.outputs, []).append(c.ms)
    overall = describe(interaction_calls)
    result = {
        "first_render_s": round(first["cards_ms"] / 1000, 3),
        "first_render_plots_s": round(first["plots_ms"] / 1000, 3),
        "callback_p95_ms": None if overall["p95"] is None else round(overall["p95"], 1),
        "callback_median_ms": None if overall["median"] is None else round(overall["median"], 1),
        "callbacks_measured": overall["n"],
        "serve_ready_s": round(served.ready_s, 3),
        "serve_to_overview_s": round(first_wall_s, 3),
        "cold_render_median_s": _s(percentile([x["cards_ms"] for x in loads["cold"]], 50)),
        "cold_render_p95_s": _s(percentile([x["cards_ms"] for x in loads["cold"]], 95)),
        "warm_render_median_s": _s(percentile([x["cards_ms"] for x in loads["warm"]], 50)),
        "warm_render_p95_s": _s(percentile([x["cards_ms"] for x in loads["warm"]], 95)),
        "per_kind_p95_ms": {k: round(v["p95"], 1) for k, v in per_kind.items()},
        "poll_p95_ms": _ms(percentile([c.ms for c in log.of("poll")], 95)),
        "page_load_callback_p95_ms": _ms(percentile([c.ms for c in log.of("page load")], 95)),
        "client_side_ms": {k: round(percentile(v, 50), 1) for k, v in wall_ms.items() if "(in browser)" in k},
        "aims_met": None,
        "repeats": repeats,
        "run": info.get("run"),
        "run_id": info.get("run_id"),
        "forecast_bytes": info.get("forecast_bytes"),
        "n_records": info.get("n_records"),
        "load_average": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    result["aims_met"] = bool(
        result["first_render_s"] < AIMS["first_render_s"]
        and result["callback_p95_ms"] is not None
        and result["callback_p95_ms"] < AIMS["callback_p95_ms"]
    )
    result["_per_kind"] = per_kind
    result["_per_output"] = {k: describe(v) for k, v in per_output.items()}
    result["_wall_ms"] = {k: describe(v) for k, v in wall_ms.items()}
    result["_polls"] = describe([c.ms for c in log.of("poll")])
    result["_page_load"] = describe([c.ms for c in log.of("page load")])
    return result


def _s(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 3)


def _ms(ms: float | None) -> float | None:
    return None if ms is None else round(ms, 1)


def _fmt(x: Any, unit: str = "") -> str:
    return "—" if x is None else f"{x:,.0f}{unit}" if unit == " ms" else f"{x:.3f}{unit}"


def report(result: dict[str, Any]) -> str:
    lines = [
        f"Dashboard speed — {result['run']} (run {result['run_id']}, forecast.json "
        f"{(result['forecast_bytes'] or 0) / 1024:.0f} KB, {result['n_records']} records); "
        f"{result['repeats']} repeats; load average {result['load_average']} on {result['cpus']} CPUs",
        "",
    ]
    lines.append(f"{'load':44} {'seconds':>10}")
    for label, key in (
        ("serve start → server answers GET /", "serve_ready_s"),
        ("serve start → Overview cards (first browser)", "serve_to_overview_s"),
        ("first render: navigation → outcome cards", "first_render_s"),
        ("first render: navigation → card plots drawn", "first_render_plots_s"),
        ("cold load (empty cache), median", "cold_render_median_s"),
        ("cold load (empty cache), p95", "cold_render_p95_s"),
        ("warm load (cache filled), median", "warm_render_median_s"),
        ("warm load (cache filled), p95", "warm_render_p95_s"),
    ):
        lines.append(f"{label:44} {_fmt(result[key]):>10}")
    lines += ["", f"{'callback round trips (browser network timing)':48} {'n':>4} {'median':>8} {'p95':>8} {'max':>8}"]

    def row(label: str, d: dict[str, Any]) -> str:
        return f"{label:48} {d['n']:>4} {_fmt(d['median'], ' ms'):>8} {_fmt(d['p95'], ' ms'):>8} {_fmt(d['max'], ' ms'):>8}"

    for kind, d in result["_per_kind"].items():
        lines.append(row(kind, d))
    lines.append(
        row(
            "ALL INTERACTIONS",
            {
                "n": result["callbacks_measured"],
                "median": result["callback_median_ms"],
                "p95": result["callback_p95_ms"],
                "max": max((d["max"] for d in result["_per_kind"].values()), default=None),
            },
        )
    )
    lines.append(row("(apart) shell poll every 5 s", result["_polls"]))
    lines.append(row("(apart) callbacks during page loads", result["_page_load"]))
    lines += ["", f"{'by callback output (interactions)':48} {'n':>4} {'median':>8} {'p95':>8} {'max':>8}"]
    for out, d in sorted(result["_per_output"].items(), key=lambda kv: -(kv[1]["p95"] or 0)):
        lines.append(row(out.strip(".")[:48], d))
    lines += ["", f"{'interaction, action → page updated (client)':48} {'n':>4} {'median':>8} {'p95':>8} {'max':>8}"]
    for kind, d in result["_wall_ms"].items():
        lines.append(row(kind, d))

    def met(ok: bool) -> str:
        return "met" if ok else "MISSED"

    lines += [
        "",
        f"aims: first render {result['first_render_s']:.3f} s < {AIMS['first_render_s']} s "
        f"({met(result['first_render_s'] < AIMS['first_render_s'])}); callback p95 "
        f"{_fmt(result['callback_p95_ms'], ' ms')} < {AIMS['callback_p95_ms']:.0f} ms "
        f"({met((result['callback_p95_ms'] or 1e9) < AIMS['callback_p95_ms'])})",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- main


def benchmark(home: Path, *, repeats: int, writes: bool, info: dict[str, Any]) -> dict[str, Any]:
    """Serve ``home`` and measure it; returns the result dict (see :func:`summarize`)."""
    from playwright.sync_api import sync_playwright

    info = info | describe_home(home)
    log = CallbackLog()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = new_context(browser)
            page = context.new_page()
            log.attach(page)
            served = start_server(home)
            try:
                t_nav = time.perf_counter()
                first = load_overview(page, served.url)
                first_wall_s = (t_nav - served.started) + first["cards_ms"] / 1000
                wait_quiet(page, log)
                context.close()
                loads = measure_loads(browser, served.url, repeats, log)
                wall_ms = measure_interactions(browser, served.url, repeats, log, writes=writes)
            finally:
                served.stop()
        finally:
            browser.close()
    return summarize(
        served=served,
        first=first,
        first_wall_s=first_wall_s,
        loads=loads,
        log=log,
        wall_ms=wall_ms,
        info=info,
        repeats=repeats,
    )


@dataclass
class Home:
    path: Path
    info: dict[str, Any]
    owned: bool


def _home(args: argparse.Namespace) -> Iterator[Home]:
    if args.home:
        yield Home(Path(args.home).resolve(), {"run": f"existing home {args.home}"}, owned=False)
        return
    with tempfile.TemporaryDirectory(prefix="harbinger-bench-") as tmp:
        path = Path(tmp) / "home"
        print(
            f"preparing {path}: harbinger init and "
            + ("a fake run" if args.fake_run else f"a PyMC fit ({args.draws} draws, {args.tune} tuning)…"),
            file=sys.stderr,
            flush=True,
        )
        info = prepare_home(path, fake_run=args.fake_run, draws=args.draws, tune=args.tune, chains=args.chains)
        print(f"  ready in {info['prepare_s']:.0f} s", file=sys.stderr, flush=True)
        yield Home(path, info, owned=True)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5, help="cold/warm loads and rounds of interactions (5)")
    parser.add_argument("--home", help="measure this existing HARBINGER_HOME (with an ok run) instead")
    parser.add_argument(
        "--writes",
        action="store_true",
        help="with --home: also add observations through the form (they stay in that store)",
    )
    parser.add_argument(
        "--fake-run",
        action="store_true",
        help="register the tests' sample forecast instead of fitting (quick smoke run)",
    )
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--tune", type=int, default=200)
    parser.add_argument("--chains", type=int, default=2)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if not Path(CHROMIUM).exists():
        parser.error(f"{CHROMIUM} is missing (apt-get install chromium)")
    for home in _home(args):
        result = benchmark(home.path, repeats=args.repeats, writes=home.owned or args.writes, info=home.info)
    print(report(result))
    print(json.dumps({k: v for k, v in result.items() if not k.startswith("_")}))
    return result


if __name__ == "__main__":
    main()
