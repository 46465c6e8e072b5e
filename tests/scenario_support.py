"""A small synthetic case with two small real fits in a store, shared by the scenario, reweighting
and explanation tests (built once per test process; PyMC's sampler, fixed seeds, a fixed day).

The store is built on a fixed day, :data:`AS_OF` (tests/clock.py), so the data, the fits and every
k-hat the tests judge are the same whatever day the tests run. Run A is fitted on data simulated
from the model up to that day, with one planted outlier (25 events of ind_0 on one day, where the
series averages under 2 a quarter); then two reports that factor_1 is high (ind_3 = 1, binary)
are added, one observation is corrected (+0.5) and one retracted, and run B is fitted. Both runs
have the as-of date :data:`AS_OF`, so the only difference between them is the observations.

These are the suite's own fits, not the shared run of tests/fits.py: the tests need a case whose
truth is known (outcome_0 rises with factor_0, outcome_1 depends on factor_1 only), two runs
differing by known changes, and posteriors long enough to reweight (:data:`tests.fits.SMALL`).
"""

from __future__ import annotations

import functools
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from tests.clock import fixed_clock
from tests.dashboard_support import plain  # noqa: F401  (re-exported for the scenario tests)
from tests.fits import SMALL as FIT
from tests.fits import built_once

CASE_ID = "synthetic"
#: The day the store is built on and both runs' as-of date.
AS_OF = date(2025, 6, 30)


@dataclass
class Fitted:
    home: Path
    run_a: str
    run_b: str
    new_ids: list[int]
    corrected_id: int
    retracted_id: int
    outlier_id: int

    def store(self) -> Any:
        from indicators.store import Store

        return Store(f"sqlite:///{self.home / 'harbinger.db'}")


def synthetic_yaml() -> str:
    from models.simulate import synthetic_case

    # a strong elicited effect (odds ratio 2-4 per sd), so a scenario on factor_0 moves outcome_0
    # well beyond the small fits' Monte Carlo error
    case = synthetic_case(n_factors=2, n_indicators=6, start=date(2020, 1, 1), effect_odds_ratio=(2.0, 4.0))
    return yaml.safe_dump(case.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


@functools.lru_cache(maxsize=1)
def fitted(root: Path | None = None) -> Fitted:
    """The store with runs A and B, fitted on :data:`AS_OF`: built in ``root / "synthetic-runs"``
    once for every process of the test run sharing ``root`` (:func:`tests.fits.built_once`), or in
    a new temporary directory."""
    root = root or Path(tempfile.mkdtemp(prefix="harbinger-scenarios-"))
    saved = built_once(root, "synthetic-runs", lambda directory: _as_json(_build_in(directory / "home")))
    return Fitted(**(saved | {"home": Path(saved["home"])}))


def _as_json(f: Fitted) -> dict[str, Any]:
    return asdict(f) | {"home": str(f.home)}


def _build_in(home: Path) -> Fitted:
    """The store in ``home``; its fits compute their watch lists as they end
    (``HARBINGER_WATCH_AFTER_FIT=1``, what tests/test_watch_fits.py reads)."""
    changed = {"HARBINGER_HOME": str(home), "HARBINGER_WATCH_AFTER_FIT": "1"}
    old = {name: os.environ.get(name) for name in changed}
    os.environ.update(changed)
    try:
        with fixed_clock(datetime.combine(AS_OF, time(12))):
            return _build(home)
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _build(home: Path) -> Fitted:
    from dashboard.services.context import as_date
    from dashboard.services.runs import fit_case
    from indicators.case import parse_case
    from indicators.store import Store
    from models.simulate import simulate_observations

    store = Store.from_env()
    store.upgrade()
    loaded = parse_case(synthetic_yaml(), where="synthetic case")
    store.load_case(loaded, actor="test")
    frame, _ = simulate_observations(loaded.case, as_of=AS_OF - timedelta(days=1), seed=5)
    rows = [
        {
            "indicator": r.indicator,
            "date": r.date.date().isoformat(),
            "end": r.end.date().isoformat(),
            "value": r.value,
            "source": "simulated",
            "reliability": "B",
            "credibility": 2,
        }
        for r in frame.itertuples(index=False)
    ]
    ids = store.add_observations(CASE_ID, rows, actor="test", where="simulated")
    (outlier_id,) = store.add_observations(
        CASE_ID,
        [
            {
                "indicator": "ind_0",
                "date": (AS_OF - timedelta(days=700)).isoformat(),
                "value": 25,
                "source": "planted outlier",
                "reliability": "B",
                "credibility": 2,
            }
        ],
        actor="test",
        where="outlier",
    )
    run_a = fit_case(store, CASE_ID, attempts=1, **FIT)
    # two reports that factor_1 is high, a correction and a retraction
    recent = [AS_OF - timedelta(days=d) for d in (5, 95)]
    new_ids = store.add_observations(
        CASE_ID,
        [
            {
                "indicator": "ind_3",
                "date": d.isoformat(),
                "value": 1,
                "source": "new report",
                "reliability": "A",
                "credibility": 1,
            }
            for d in recent
        ],
        actor="test",
        where="new",
    )
    obs = store.observations(CASE_ID)
    cont = obs[obs["indicator"] == "ind_2"].iloc[-1]
    corrected = store.correct(int(cont["id"]), {"value": float(cont["value"]) + 0.5}, reason="typo", actor="test")
    retracted_id = int(obs[obs["indicator"] == "ind_5"].iloc[-1]["id"])
    store.retract(retracted_id, reason="wrong source", actor="test")
    run_b = fit_case(store, CASE_ID, attempts=1, **FIT)
    as_of = {as_date(store.get_run(run)["as_of"]) for run in (run_a, run_b)}
    store.close()
    assert ids and as_of == {AS_OF}
    return Fitted(home, run_a, run_b, list(new_ids), int(corrected), retracted_id, int(outlier_id))


def page_modules(case_id: str = CASE_ID) -> Any:
    """The Dash page modules, imported the way the app does (an app must exist first)."""
    import sys
    from types import SimpleNamespace

    from dashboard.web import app as shell

    shell.create_app(case_id)
    return SimpleNamespace(
        scenarios=sys.modules["dashboard.web.pages.scenarios"],
        indicators=sys.modules["dashboard.web.pages.indicators"],
        overview=sys.modules["dashboard.web.pages.overview"],
    )
