"""`harbinger fit` and `harbinger forecast` on the shipped case, through the real console script.

The session's shared tiny fit (tests/fits.py, made by ``harbinger fit`` today) and one more of
this module's own, ``fit --as-of 2017-06-30``: the past-dated fit is what these tests check.
Tiny fits cannot meet the diagnostics, so they must say so: that is checked too.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tests.fits import copy_home, fit_args, harbinger_json
from tests.fits import harbinger as run


@pytest.fixture(scope="module")
def two_runs(shared_run: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = copy_home(shared_run.home, tmp_path_factory.mktemp("fit") / "home")
    res = run(home, "fit", "--as-of", "2017-06-30", *fit_args())
    assert res.returncode == 0, res.stderr
    return home


def forecast_json(home: Path, *args: str) -> dict[str, Any]:
    return harbinger_json(home, "forecast", *args)


def test_forecast_json_has_documented_shape(two_runs: Path) -> None:
    doc = forecast_json(two_runs)
    assert doc["case"] == "northern_territories"
    assert set(doc["diagnostics"]) >= {"max_rhat", "min_ess_bulk", "divergences", "ok"}
    ids = [o["id"] for o in doc["outcomes"]]
    assert ids[:4] == ["territorial_transfer", "peace_treaty", "japan_hardline_shift", "russian_military_escalation"]
    for o in doc["outcomes"]:
        assert set(o) >= {"id", "question", "resolved", "horizons"}
        if o["id"] == "japan_hardline_shift":
            assert o["resolved"] is True and o["horizons"] == []
            continue
        assert [h["years"] for h in o["horizons"]] == [1, 3, 5, 10]
        means = [h["p_mean"] for h in o["horizons"]]
        assert means == sorted(means)
        for h in o["horizons"]:
            assert set(h) >= {"years", "p_mean", "p_05", "p_25", "p_75", "p_95", "mcse"}
            assert 0 <= h["p_05"] <= h["p_mean"] <= h["p_95"] <= 1


def test_tiny_fit_is_labelled_as_failing_its_diagnostics(two_runs: Path) -> None:
    doc = forecast_json(two_runs)
    assert doc["diagnostics"]["ok"] is False
    assert doc["diagnostics"]["problems"]
    table = run(two_runs, "forecast")
    assert table.returncode == 0
    assert "DIAGNOSTICS FAILED" in table.stdout


def test_as_of_2017_treats_hardline_shift_as_unresolved(two_runs: Path) -> None:
    doc = forecast_json(two_runs, "--as-of", "2017-06-30")
    assert doc["as_of"] == "2017-06-30"
    hard = next(o for o in doc["outcomes"] if o["id"] == "japan_hardline_shift")
    assert hard["resolved"] is False
    assert [h["years"] for h in hard["horizons"]] == [1, 3, 5, 10]
    latest = forecast_json(two_runs)
    assert doc["n_observations"] < latest["n_observations"]
    assert doc["run_id"] != latest["run_id"]


def test_forecast_csv_and_named_run(two_runs: Path) -> None:
    latest = forecast_json(two_runs)
    named = forecast_json(two_runs, "--run", latest["run_id"])
    assert named["run_id"] == latest["run_id"]
    res = run(two_runs, "forecast", "--format", "csv")
    assert res.returncode == 0
    assert res.stdout.splitlines()[0].startswith("outcome,years,p_mean,p_05,p_95,mcse")


def test_posterior_file_carries_the_run_identity(two_runs: Path) -> None:
    import arviz as az

    latest = forecast_json(two_runs)
    run_dir = next((two_runs / "runs").glob(latest["run_id"]))
    idata = az.from_netcdf(str(run_dir / "posterior.nc"))
    attrs = idata.posterior.attrs
    assert attrs["run_id"] == latest["run_id"] and attrs["case_hash"] == latest["case_hash"]
    assert idata.posterior["loading"].dims[-2:] == ("indicator", "factor")


def test_forecast_without_a_run_is_bad_input(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    res = run(home, "forecast")
    assert res.returncode == 2
    assert "harbinger fit" in res.stderr


def test_fit_as_of_in_the_future_is_bad_input(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    res = run(home, "fit", "--as-of", "2999-01-01", *fit_args())
    assert res.returncode == 2
    assert "future" in res.stderr


def test_a_setting_from_the_environment_that_is_not_a_number_is_bad_input(tmp_path: Path) -> None:
    """A sampler setting given by the environment is checked before anything runs (an unknown
    sampler is not silently PyMC's), and the message names the variable and its value."""
    import subprocess

    from tests.fits import HARBINGER
    from tests.live_server import harbinger_env

    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    cases = (
        ("HARBINGER_WARM_TUNE", "x", "not a whole number"),
        ("HARBINGER_DRAWS", "-5", "not a whole number"),
        ("HARBINGER_SAMPLER", "bogus", "not a sampler; unset it or give one of nutpie, pymc"),
    )
    for name, value, what in cases:
        env = harbinger_env(home, **{name: value})
        res = subprocess.run([HARBINGER, "fit"], capture_output=True, text=True, env=env, timeout=300, check=False)
        assert res.returncode == 2, res.stderr
        assert f"{name} is '{value}', {what}" in res.stderr
        assert "Traceback" not in res.stderr
    assert run(home, "forecast").returncode == 2  # no run was recorded


def test_failed_fit_keeps_previous_run_and_is_recorded(
    store: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import models.runs
    from dashboard.services.runs import FitFailed, fit_case

    case_id = store.case_ids()[0]
    good = store.create_run(
        case_id, as_of=date(2020, 1, 1), case_hash="h", data_hash="d", n_observations=0, model_version="x", settings={}
    )
    store.finish_run(good, diagnostics={"ok": True}, diagnostics_ok=True, path=str(tmp_path))

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("sampler exploded")

    monkeypatch.setattr(models.runs, "fit_run", broken)
    monkeypatch.setattr("models.fit.compiled_for", lambda *args, **kwargs: None)  # the sampler fails first
    with pytest.raises(FitFailed, match="previous forecast is still shown"):
        fit_case(store, case_id, draws=10, tune=10)
    assert store.latest_run(case_id)["id"] == good
    failed = store.runs(case_id, status="failed")
    assert len(failed) == 1 and "sampler exploded" in failed[0]["error"]
