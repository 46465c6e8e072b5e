"""The structural priors as configuration (models/priors.py): one documented set of constants, the
case's overrides of them (indicators/case.py's ``priors:``), and the model built with them.

The kernel is held to the PyMC graph under overridden priors in tests/test_density.py; the run's
record of its priors in tests/test_document.py; the Model page's table in
tests/test_dashboard_callbacks.py.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from indicators.case import PRIOR_OVERRIDES, Case, parse_case
from models.priors import DEFAULT_PRIORS, PriorConfig, describe, priors_for, record
from tests.conftest import MINI_CASE

MINI_TEXT = MINI_CASE.read_text(encoding="utf-8")
OVERRIDES = {
    "persistence_alpha": 8.0,
    "persistence_beta": 3.0,
    "loading_scale": 0.7,
    "count_intercept_sd": 1.3,
    "count_overdispersion_scale": 0.4,
    "count_spurious_alpha": 0.8,
    "binary_intercept_sd": 1.1,
    "continuous_intercept_sd": 0.8,
    "continuous_sigma_scale": 0.6,
    "continuous_spurious_sd": 4.0,
    "proportion_intercept_sd": 1.2,
    "proportion_kappa_shape": 3.0,
    "proportion_kappa_rate": 0.2,
    "ordinal_first_cut_scale": 1.2,
    "ordinal_gap_scale": 0.4,
    "absence_genuine": 0.95,
}


def with_priors(text: str, priors: dict[str, Any]) -> str:
    return text + "priors:\n" + "".join(f"  {k}: {v}\n" for k, v in priors.items())


def test_every_field_is_documented_and_the_defaults_are_the_models() -> None:
    for f in dataclasses.fields(PriorConfig):
        assert f.metadata["distribution"] and len(f.metadata["meaning"]) > 20, f.name
    assert DEFAULT_PRIORS.persistence == (18.0, 2.0)
    assert DEFAULT_PRIORS.count_overdispersion_scale == 0.3
    assert DEFAULT_PRIORS.genuine("A", 1) == 0.99 and DEFAULT_PRIORS.genuine("E", 5) == 0.35 * 0.35


def test_the_defaults_hash_is_stable() -> None:
    # A changed default changes what every fit gives: bump MODEL_VERSION, take the old version out
    # of models.priors.DEFAULTS_OF_VERSIONS and put the new one in, then update this digest.
    assert DEFAULT_PRIORS.digest() == "0847643c4f7871ac"
    assert PriorConfig().digest() == DEFAULT_PRIORS.digest() and hash(PriorConfig()) == hash(DEFAULT_PRIORS)
    assert DEFAULT_PRIORS.replace(loading_scale=0.9).digest() != DEFAULT_PRIORS.digest()


def test_as_dict_and_from_dict_round_trip() -> None:
    changed = DEFAULT_PRIORS.replace(**OVERRIDES)
    for config in (DEFAULT_PRIORS, changed):
        assert PriorConfig.from_dict(config.as_dict()) == config
    assert PriorConfig.from_dict({"loading_scale": 0.7}) == DEFAULT_PRIORS.replace(loading_scale=0.7)
    assert DEFAULT_PRIORS.as_dict()["credibility_factor"]["6"] == 0.8
    with pytest.raises(ValueError, match="unknown prior constant"):
        PriorConfig.from_dict({"loadings_scale": 1.0})
    assert record(changed)["overrides"] == list(OVERRIDES)


def test_the_case_schema_lists_fields_of_the_config_with_the_defaults_in_range() -> None:
    # indicators cannot import models: this is what holds its list to the config
    defaults = DEFAULT_PRIORS.as_dict()
    for name, (lo, hi) in PRIOR_OVERRIDES.items():
        assert name in defaults, name
        assert lo < defaults[name] <= hi, name
    assert set(OVERRIDES) == set(PRIOR_OVERRIDES)
    rows = {r["name"]: r for r in describe(defaults)}
    assert rows["loading_scale"]["overridable"] and not rows["count_dispersion_max"]["overridable"]


def test_a_case_overrides_the_priors_it_names_and_keeps_the_rest() -> None:
    case = parse_case(with_priors(MINI_TEXT, {"persistence_alpha": 8, "loading_scale": 0.5})).case
    config = priors_for(case)
    assert config.persistence == (8.0, 2.0) and config.loading_scale == 0.5
    assert config.differences(DEFAULT_PRIORS) == ["persistence_alpha", "loading_scale"]
    assert priors_for(parse_case(MINI_TEXT).case) is DEFAULT_PRIORS


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("  persistance_alpha: 8\n", "unknown key 'persistance_alpha'; did you mean 'persistence_alpha'?"),
        ("  count_dispersion_max: 1.0e9\n", "unknown key 'count_dispersion_max'"),
        ("  loading_scale: 0\n", "greater than 0"),
        ("  absence_genuine: 1\n", "less than or equal to 0.999"),
        ("  loading_scale: '0.5'\n", "valid number"),
        ("  loading_scale: true\n", "valid number"),
    ],
)
def test_case_validate_names_a_bad_prior_with_its_line(cli: Any, tmp_path: Path, entry: str, message: str) -> None:
    text = MINI_TEXT + "priors:\n  binary_intercept_sd: 1.2\n" + entry
    path = tmp_path / "case.yaml"
    path.write_text(text, encoding="utf-8")
    result = cli("case", "validate", path)
    assert result.exit_code == 2, result.output
    line = text.count("\n", 0, text.index(entry)) + 1
    assert f"line {line}: field 'priors.{entry.split(':')[0].strip()}': " in result.stderr, result.stderr
    assert message in result.stderr, result.stderr


def test_the_override_reaches_the_design_the_model_and_the_hazard_calibration() -> None:
    from models.design import build_design
    from models.elicitation import hazard_prior
    from models.model import build_model
    from models.simulate import simulate_observations, synthetic_case

    base = synthetic_case(n_factors=2, n_indicators=6)
    frame, _ = simulate_observations(base, as_of=date(2016, 12, 31), seed=3)
    spec = base.model_dump()
    spec["priors"] = OVERRIDES
    case = Case.model_validate(spec)
    default, changed = (build_design(c, frame, as_of=date(2016, 12, 31)) for c in (base, case))
    assert changed.priors == DEFAULT_PRIORS.replace(**OVERRIDES)
    # the measurement model: the absence of events and the spurious-report densities
    events = changed.families["count"]
    assert np.isclose(np.exp(events.log_w[: events.n_rows]), 0.95).any()
    assert not np.allclose(events.lp_spurious, default.families["count"].lp_spurious)
    assert not np.allclose(changed.families["continuous"].lp_spurious, default.families["continuous"].lp_spurious)
    # a changed config compiles its own model; the default keeps the key it had
    assert default.shape_key() == default.shape_key()[:3] and changed.shape_key()[3] == changed.priors.digest()
    assert changed.shape_key()[:3] == default.shape_key()[:3]
    # the graph's priors
    model = build_model(changed)
    point = model.initial_point()
    d_model = build_model(default)
    logps = model.point_logps(point)
    d_logps = d_model.point_logps(point)
    for name in ("persistence", "loading_unfolded", "count_overdispersion_unfolded", "proportion_kappa"):
        assert logps[name] != d_logps[name], name
    raw = point["ordinal_cut_raw"] + 0.5  # at 0 every scale gives the same cutpoints
    cuts = [m["ordinal_cut"].eval({m["ordinal_cut_raw"]: raw}) for m in (model, d_model)]
    assert not np.allclose(*cuts)
    # the hazard intercepts are calibrated on factor paths with the case's persistence
    assert not np.allclose(hazard_prior(case).intercept_sd, hazard_prior(base).intercept_sd)
