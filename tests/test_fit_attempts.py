"""A fit that fails its diagnostics is retried, every attempt is a run, and a failing run never
displaces a passing forecast (dashboard.services.runs). The sampler is replaced by a stand-in
that writes the forecast a real fit would, with diagnostics chosen by the test, so no model is
fitted here."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard_support import register_fake_run, sample_forecast

CASE = "northern_territories"
AS_OF = date(2025, 12, 31)


@pytest.fixture
def nt_store(harbinger_home: Path) -> Any:
    """The shipped case with its shipped observations."""
    from dashboard.services.context import open_store
    from indicators.case import load_case, shipped_case_path
    from indicators.resources import data_path

    store = open_store()
    store.load_case(load_case(shipped_case_path()))
    store.import_csv(CASE, data_path("observations", f"{CASE}.csv"), actor="harbinger init")
    yield store
    store.close()


class ScriptedSampler:
    """Stands in for ``models.runs.fit_run``: attempt ``k`` passes its diagnostics iff
    ``passes[k]``; records the settings each attempt was given."""

    def __init__(self, *passes: bool):
        self.passes = list(passes)
        self.settings: list[Any] = []

    def __call__(
        self,
        design: Any,
        settings: Any,
        *,
        case_hash: str,
        run_id: str,
        directory: Path,
        progress: Any = None,
        warm_start: Any = None,
    ) -> dict[str, Any]:
        ok = self.passes[len(self.settings)]
        self.settings.append(settings)
        forecast = sample_forecast()
        forecast.update(run_id=run_id, as_of=AS_OF.isoformat(), case_hash=case_hash)
        forecast["diagnostics"].update(ok=ok, problems=[] if ok else ["max R-hat 1.031 above 1.01"])
        directory.mkdir(parents=True)
        (directory / "forecast.json").write_text(json.dumps(forecast))
        if progress is not None:
            progress(1.0, "sampled")
        return forecast


@pytest.fixture
def sampler(monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(*passes: bool) -> ScriptedSampler:
        fake = ScriptedSampler(*passes)
        monkeypatch.setattr("models.runs.fit_run", fake)
        monkeypatch.setattr("models.fit.compiled_for", lambda *args, **kwargs: None)  # nothing to compile
        monkeypatch.setenv("HARBINGER_WATCH_AFTER_FIT", "0")  # the stand-in writes no posterior
        return fake

    return install


def test_a_failing_fit_is_retried_with_more_tuning_and_a_new_seed(nt_store: Any, sampler: Any) -> None:
    from dashboard.services.runs import current_run, fit_case, fit_outcome

    fake = sampler(False, True)
    messages: list[str] = []
    run_id = fit_case(
        nt_store, CASE, as_of=AS_OF, progress=lambda f, m: messages.append(m), tune=100, seed=7, draws=50, attempts=2
    )
    first, second = fake.settings
    assert (second.tune, second.seed) == (2 * first.tune, first.seed + 1) == (200, 8)
    runs = nt_store.runs(CASE, status="ok")
    assert len(runs) == 2 and [r["diagnostics_ok"] for r in runs] == [True, False]  # newest first
    assert run_id == runs[0]["id"] == current_run(nt_store, CASE)["id"]
    assert any("attempt 2 of 2" in m and "R-hat" in m for m in messages)
    assert fit_outcome(nt_store, run_id) == f"Fit finished: now showing run {run_id}."


def test_a_passing_fit_is_not_retried(nt_store: Any, sampler: Any) -> None:
    from dashboard.services.runs import fit_case

    fake = sampler(True, True)
    fit_case(nt_store, CASE, as_of=AS_OF, tune=100, draws=50, attempts=2)
    assert len(fake.settings) == 1 and len(nt_store.runs(CASE, status="ok")) == 1


def test_when_every_attempt_fails_the_previous_passing_forecast_stays(nt_store: Any, sampler: Any) -> None:
    from dashboard.services.runs import current_run, fit_case, fit_outcome

    good = register_fake_run(nt_store, CASE, diagnostics_ok=True)
    fake = sampler(False, False)
    run_id = fit_case(nt_store, CASE, as_of=AS_OF, tune=100, draws=50, attempts=2)
    assert len(fake.settings) == 2
    assert current_run(nt_store, CASE)["id"] == good
    message = fit_outcome(nt_store, run_id)
    assert "failed its diagnostics (max R-hat 1.031 above 1.01)" in message
    assert f"previous passing forecast (run {good}) is still shown" in message


def test_with_no_passing_run_the_failing_one_is_shown_labelled(nt_store: Any, sampler: Any) -> None:
    from dashboard.services.runs import current_run, fit_case, fit_outcome

    sampler(False)
    run_id = fit_case(nt_store, CASE, as_of=AS_OF, tune=100, draws=50, attempts=1)
    assert current_run(nt_store, CASE)["id"] == run_id
    message = fit_outcome(nt_store, run_id)
    assert "labelled as failing" in message and "retried" not in message.replace("HARBINGER", "")


def test_the_change_since_the_previous_run_skips_runs_that_failed(nt_store: Any) -> None:
    from dashboard.services.forecasts import previous_ok_run

    passing = register_fake_run(nt_store, CASE, diagnostics_ok=True)
    register_fake_run(nt_store, CASE, diagnostics_ok=False)
    newest = register_fake_run(nt_store, CASE, diagnostics_ok=True)
    assert previous_ok_run(nt_store.runs(CASE), newest)["id"] == passing


def test_attempts_come_from_the_environment_and_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard.services.runs import DEFAULT_ATTEMPTS, fit_attempts
    from indicators.errors import BadInput

    monkeypatch.delenv("HARBINGER_FIT_ATTEMPTS", raising=False)
    assert fit_attempts() == DEFAULT_ATTEMPTS == 2
    monkeypatch.setenv("HARBINGER_FIT_ATTEMPTS", "3")
    assert fit_attempts() == 3 and fit_attempts(1) == 1
    with pytest.raises(BadInput, match="--attempts"):
        fit_attempts(0)


def test_fit_command_retries_and_says_what_failed(nt_store: Any, sampler: Any, cli: Any) -> None:
    fake = sampler(False, False)
    res = cli("fit", "--as-of", AS_OF.isoformat(), "--draws", "50", "--tune", "100", "--attempts", "2")
    assert res.exit_code == 0, res.stderr
    assert [s.tune for s in fake.settings] == [100, 200]
    assert "DIAGNOSTICS FAILED" in res.stdout and "also when retried with more tuning" in res.stdout
    bad = cli("fit", "--attempts", "0")
    assert bad.exit_code == 2 and "--attempts" in bad.stderr


def test_fit_command_passes_the_density_choice_to_the_sampler(nt_store: Any, sampler: Any, cli: Any) -> None:
    fake = sampler(True)
    res = cli("fit", "--as-of", AS_OF.isoformat(), "--draws", "50", "--tune", "100", "--density", "pytensor")
    assert res.exit_code == 0, res.stderr
    assert fake.settings[0].density == "pytensor"
    bad = cli("fit", "--density", "numba")
    assert bad.exit_code == 2 and "--density" in bad.stderr


def test_backtest_command_passes_the_density_choice(nt_store: Any, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def capture(store: Any, case_id: str, *, settings: dict[str, Any], **kw: Any) -> Any:
        seen.update(settings)
        raise RuntimeError("stop after the settings were seen")

    monkeypatch.setattr("dashboard.services.backtests.run_backtest", capture)
    res = cli("backtest", "--origins", "2020", "--density", "pytensor")
    assert res.exit_code == 1 and seen["density"] == "pytensor"
