"""Synthetic cases and data simulated from the model, with the truth kept.

Used by parameter-recovery and calibration checks and by the scaling benchmark: a case of any
size, and observations drawn from the model's own generative process with known factors,
loadings and intercepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from indicators.case import Case
from models.grid import Grid

_FAMILY_CYCLE = ("count_events", "count_total", "continuous", "binary", "ordinal", "proportion")


def synthetic_case(
    *,
    n_factors: int = 2,
    n_indicators: int = 6,
    families: tuple[str, ...] = _FAMILY_CYCLE,
    start: date = date(2010, 1, 1),
    n_outcomes: int = 2,
    effect_odds_ratio: tuple[float, float] | None = None,
) -> Case:
    """A valid case with ``n_indicators`` indicators cycling through ``families``.

    Indicator ``k`` loads on factor ``k mod n_factors`` (positive); the first indicator of each
    factor is its anchor. Outcome ``o`` is raised by factor ``o mod n_factors``, by the sign's
    default odds-ratio range or, given ``effect_odds_ratio``, by that elicited range.
    """
    factors = [f"factor_{k}" for k in range(n_factors)]
    indicators = []
    for j in range(n_indicators):
        kind = families[j % len(families)]
        ind = {
            "id": f"ind_{j}",
            "name": f"Indicator {j}",
            "description": f"synthetic {kind}",
            "unit": "unit",
            "loadings": {factors[j % n_factors]: "positive"},
        }
        if kind == "count_events":
            ind |= {"family": "count", "aggregation": "events", "coverage_start": start}
        elif kind == "count_total":
            ind |= {"family": "count", "aggregation": "total"}
        elif kind == "ordinal":
            ind |= {
                "family": "ordinal",
                "aggregation": "level",
                "levels": ["low", "mid", "high"],
                "coding": "synthetic tercile",
            }
        else:
            ind |= {"family": kind, "aggregation": "level"}
        indicators.append(ind)
    return Case.model_validate(
        {
            "id": "synthetic",
            "name": "Synthetic case",
            "description": "simulated from the model",
            "start": start,
            "factors": [
                {"id": f, "name": f, "meaning": "synthetic", "anchor": f"ind_{k}"} for k, f in enumerate(factors)
            ],
            "indicators": indicators,
            "outcomes": [
                {
                    "id": f"outcome_{o}",
                    "question": f"Outcome {o}?",
                    "resolution_criteria": "synthetic",
                    "horizons": [1, 3, 5, 10],
                    "base_rate": {"annual": 0.05, "reasoning": "synthetic"},
                    "effects": {factors[o % n_factors]: "raises"},
                    "effect_sizes": (
                        {}
                        if effect_odds_ratio is None
                        else {
                            factors[o % n_factors]: {
                                "odds_ratio": list(effect_odds_ratio),
                                "rationale": "synthetic: a strong, known effect",
                            }
                        }
                    ),
                }
                for o in range(n_outcomes)
            ],
            "scenarios": [],
        }
    )


@dataclass
class Truth:
    persistence: np.ndarray  # (K,)
    factor_state: np.ndarray  # (K, T)
    loading: np.ndarray  # (I, K)
    intercept: np.ndarray  # (I,)
    grid: Grid


def simulate_observations(
    case: Case, *, as_of: date, seed: int = 0, per_cell: int = 1, reliability: str = "B", credibility: int = 2
) -> tuple[pd.DataFrame, Truth]:
    """Observations of every indicator drawn from the model with random true parameters.

    ``per_cell`` repeats level observations that many times per quarter (to scale the data up).
    """
    rng = np.random.default_rng(seed)
    grid = Grid.for_case(case.start, as_of, pad_to=1)
    T, K, I = grid.as_of_cell + 1, len(case.factors), len(case.indicators)
    phi = rng.uniform(0.8, 0.97, K)
    f = np.zeros((K, T))
    f[:, 0] = rng.normal(size=K)
    for t in range(1, T):
        f[:, t] = phi * f[:, t - 1] + np.sqrt(1 - phi**2) * rng.normal(size=K)
    fid = {x: k for k, x in enumerate(case.factor_ids)}
    loading = np.zeros((I, K))
    intercept = np.zeros(I)
    rows = []
    for i, ind in enumerate(case.indicators):
        for fac, sign in ind.loadings.items():
            mag = rng.uniform(0.5, 1.2)
            loading[i, fid[fac]] = -mag if sign == "negative" else mag
        eta = loading[i] @ f
        if ind.family == "count":
            intercept[i] = rng.uniform(0.0, 1.5) if ind.aggregation == "total" else rng.uniform(-1.0, 0.0)
            rate = np.exp(intercept[i] + eta)
            alpha = 20.0
            if ind.aggregation == "events":
                for t in range(T):
                    n = rng.negative_binomial(alpha, alpha / (alpha + rate[t]))
                    if n:
                        d = grid.cell_start(t) + timedelta(days=40)
                        if d <= as_of:
                            rows.append((ind.id, d, None, float(n)))
            else:
                for y0 in range(case.start.year, as_of.year):
                    first, last = date(y0, 1, 1), date(y0, 12, 31)
                    cells = [grid.cell_of(first) + q for q in range(4)]
                    mu = rate[cells].sum()
                    rows.append((ind.id, first, last, float(rng.negative_binomial(alpha, alpha / (alpha + mu)))))
            continue
        intercept[i] = rng.uniform(-0.5, 0.5)
        for t in range(T):
            for _ in range(per_cell):
                d = grid.cell_start(t) + timedelta(days=int(rng.integers(0, 80)))
                if d > as_of:
                    continue
                e = intercept[i] + eta[t]
                if ind.family == "binary":
                    v = float(rng.random() < 1 / (1 + np.exp(-e)))
                elif ind.family == "continuous":
                    v = float(e + 0.5 * rng.normal())
                elif ind.family == "proportion":
                    m = 1 / (1 + np.exp(-e))
                    v = float(np.clip(rng.beta(m * 30, (1 - m) * 30), 0.001, 0.999))
                else:
                    v = float(np.digitize(e + rng.logistic(), [-0.7, 0.7]))
                    intercept[i] = 0.0
                rows.append((ind.id, d, None, v))
    frame = pd.DataFrame(rows, columns=["indicator", "date", "end", "value"])
    frame["date"] = pd.to_datetime(frame["date"])
    frame["end"] = pd.to_datetime(frame["end"]).fillna(frame["date"])
    frame["id"] = np.arange(1, len(frame) + 1)
    frame["reliability"] = reliability
    frame["credibility"] = credibility
    frame["source"] = "simulated"
    frame["note"] = ""
    return frame, Truth(phi, f, loading, intercept, grid)
