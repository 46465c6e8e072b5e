"""The hazard prior honours the case's elicitation (issue 18): no sampling, a fixed-seed Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import special

from indicators.case import Case, load_case, shipped_case_path
from models.elicitation import TOLERANCE, hazard_prior
from models.simulate import synthetic_case


def _check(case: Case) -> None:
    prior = hazard_prior(case)
    for s in prior.record():
        low, high = s["elicited"]["range"]
        pp = s["prior_predictive"]
        assert s["fits"], s["outcome"]
        # The 1-year 90% interval is the elicited range, within the stated tolerance on log odds.
        assert abs(special.logit(pp["1"]["p05"]) - special.logit(low)) <= TOLERANCE + 0.02, s
        assert abs(special.logit(pp["1"]["p95"]) - special.logit(high)) <= TOLERANCE + 0.02, s
        # The 10-year probability (mean and 90% interval) lies inside the range the annual one implies.
        lo10, hi10 = s["elicited"]["range_10y"]
        assert lo10 <= pp["10"]["mean"] <= hi10, s
        assert lo10 <= pp["10"]["p05"] and pp["10"]["p95"] <= hi10, s


def test_the_shipped_case_prior_predictive_lies_in_its_elicited_ranges() -> None:
    _check(load_case(shipped_case_path()).case)


def test_a_synthetic_case_with_stated_ranges_and_odds_ratios() -> None:
    spec = synthetic_case(n_factors=3, n_indicators=6, n_outcomes=2).model_dump()
    spec["outcomes"][0]["base_rate"] = {"annual": 0.02, "range": [0.005, 0.06], "reasoning": "synthetic"}
    spec["outcomes"][0]["effects"] = {"factor_0": "raises", "factor_1": "lowers"}
    spec["outcomes"][0]["effect_sizes"] = {"factor_0": {"odds_ratio": [1.2, 3.0], "rationale": "synthetic"}}
    spec["outcomes"][1]["effects"] = {"factor_2": "free"}
    case = Case.model_validate(spec)
    _check(case)
    prior = hazard_prior(case)
    # PreliZ's maximum-entropy Normal on [log 1.2, log 3] at 90%: centred, sd = half-width / 1.645.
    assert prior.effect_mean[0, 0] == pytest.approx(np.log(np.sqrt(1.2 * 3.0)), abs=1e-3)
    assert prior.effect_sd[0, 0] == pytest.approx(np.log(3.0 / 1.2) / 2 / 1.6449, rel=1e-3)
    assert prior.effect_mean[0, 1] == pytest.approx(np.log(np.sqrt(0.5)), abs=1e-3)  # 'lowers' default
    assert prior.present[1].tolist() == [0.0, 0.0, 1.0]


def test_the_calibration_is_deterministic_and_later_processes_read_it_from_disk(tmp_path, monkeypatch) -> None:
    from models import elicitation

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(elicitation, "_CACHE", {})
    case = load_case(shipped_case_path()).case
    first = hazard_prior(case)
    (stored,) = (tmp_path / "results").glob("hazard_prior_*.json")
    # computing again gives the same constants, bit for bit (what the stored file holds)
    again = elicitation._build(case)
    for name in elicitation._ARRAYS:
        assert np.array_equal(getattr(again, name), getattr(first, name)), name
    assert list(again.summary) == list(first.summary)

    # a new process (an empty memory cache) reads the file and computes nothing
    monkeypatch.setattr(elicitation, "_CACHE", {})
    monkeypatch.setattr(elicitation, "_build", lambda case: pytest.fail("the calibration was computed again"))
    read = hazard_prior(case)
    assert read.record() == first.record()
    assert np.array_equal(read.intercept_mean, first.intercept_mean)

    # another elicitation is another entry, computed (here: refused, since _build is patched)
    spec = case.model_dump()
    spec["outcomes"][0]["base_rate"]["annual"] = spec["outcomes"][0]["base_rate"]["annual"] * 1.5
    changed = Case.model_validate(spec)
    with pytest.raises(pytest.fail.Exception, match="computed again"):
        hazard_prior(changed)
    assert [p.name for p in (tmp_path / "results").glob("*.json")] == [stored.name]


def test_a_base_rate_point_reads_as_the_default_range_and_bad_ranges_are_refused() -> None:
    spec = synthetic_case(n_factors=1, n_indicators=2, n_outcomes=1).model_dump()
    case = Case.model_validate(spec)
    point = case.outcomes[0].base_rate.annual
    assert case.outcomes[0].base_rate.annual_range == pytest.approx((point / 4, point * 4))
    bad = [
        ({"base_rate": {"annual": 0.05, "range": [0.06, 0.1], "reasoning": "x"}}, "0 < low < annual"),
        ({"effect_sizes": {"factor_0": {"odds_ratio": [0.5, 0.9], "rationale": "x"}}}, "contradicts"),
        ({"effect_sizes": {"nope": {"odds_ratio": [1.1, 2], "rationale": "x"}}}, "not in effects"),
    ]
    for change, message in bad:
        s = synthetic_case(n_factors=1, n_indicators=2, n_outcomes=1).model_dump()
        s["outcomes"][0]["effects"] = {"factor_0": "raises"}
        s["outcomes"][0].update(change)
        with pytest.raises((ValidationError, ValueError), match=message):
            Case.model_validate(s)


def test_the_driven_by_prior_label() -> None:
    from models.elicitation import driven_by_prior

    assert driven_by_prior({"prior": 0.09, "likelihood": 0.01})  # the data hardly inform it
    assert not driven_by_prior({"prior": 0.09, "likelihood": 0.08})  # both: prior-data conflict, not "prior only"
    assert not driven_by_prior({"prior": 0.01, "likelihood": 0.2})  # learned from the data
    assert not driven_by_prior({"prior": None, "likelihood": 0.01})  # no diagnostic, no label


def test_the_moved_line_says_whether_the_data_moved_it_out_of_the_range_and_which() -> None:
    from models.elicitation import moved_line

    record = {
        "prior_predictive": {"10": {"mean": 0.04}},
        "elicited": {"range_10y": [0.01, 0.1], "range": [0.001, 0.01]},
    }
    inside = moved_line(record, {"10": {"mean": 0.041}}, "10", {"f": 0.1})
    assert "barely moved" in inside and "inside the elicited range" in inside
    out = moved_line(record, {"10": {"mean": 0.2}}, "10", {"military_pressure": 0.8, "china_alignment": -0.3})
    assert "raised" in out and "outside the elicited range" in out and "military_pressure" in out
    assert "china_alignment" not in out


def test_the_document_round_trips_the_elicitation_fields(tmp_path) -> None:
    from models.document import ForecastDocument

    doc = {
        "id": "o",
        "question": "q",
        "resolved": False,
        "resolution_date": None,
        "horizons": [],
        "elicitation": {
            "elicited": {"annual": 0.003, "range": [0.00075, 0.012]},
            "prior_predictive": {"10": {"mean": 0.04, "p05": 0.01, "p95": 0.1}},
            "posterior": {"10": {"mean": 0.03, "p05": 0.01, "p95": 0.08}},
            "sensitivity": {"10": {"prior": 0.1, "likelihood": 0.0}},
            "headline_years": 10,
            "driven_by_prior": True,
            "moved": "The data barely moved it.",
        },
    }
    outcome = ForecastDocument.model_fields["outcomes"].annotation.__args__[0].model_validate(doc)
    assert outcome.elicitation.driven_by_prior and outcome.model_dump(mode="json", exclude_unset=True) == doc
