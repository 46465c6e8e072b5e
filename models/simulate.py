"""Synthetic cases and data simulated from the model, with the truth kept.

Used by parameter-recovery and calibration checks and by the scaling benchmark: a case of any
size, and observations drawn from the model's own generative process with known factors,
loadings and intercepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from indicators.case import Case
from models.families import FAMILIES, family
from models.grid import Grid

#: Each kind of synthetic indicator and its family (``Family.synthetic``), and the order a
#: synthetic case cycles through them.
_KINDS = {kind: fam for fam in FAMILIES for kind in fam.synthetic}
_FAMILY_CYCLE = tuple(sorted(_KINDS, key=lambda kind: _KINDS[kind].synthetic[kind]))


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
        ind |= _KINDS[kind].synthetic_indicator(kind, start)
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
class Simulation:
    """What a family's ``simulate`` needs besides its indicator: the grid, the as-of date, the
    case, the number of quarters simulated and the level observations per quarter."""

    grid: Grid
    as_of: date
    case: Case
    n_cells: int
    per_cell: int


@dataclass
class Truth:
    persistence: np.ndarray  # (K,)
    factor_state: np.ndarray  # (K, T)
    loading: np.ndarray  # (I, K)
    intercept: np.ndarray  # (I,)
    grid: Grid
    cross_effect: np.ndarray | None = None  # (n,) the case's cross effects, in its order; None if none


def var1_transition(case: Case, persistence: np.ndarray, cross_effect: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The transition matrix and shock scales of the model's VAR(1) (``models.model.var1_paths``)
    for these persistences and cross effects, in NumPy."""
    fid = {x: k for k, x in enumerate(case.factor_ids)}
    K = len(fid)
    raw, q = np.zeros((K, K)), np.ones(K)
    for e, c in zip(case.cross_effects, cross_effect, strict=True):
        to, fr = fid[e.to_factor], fid[e.from_factor]
        raw[to, fr] = c
        ab = persistence[to] * persistence[fr]
        q[to] += c**2 * (1 + ab) / (1 - ab)
    shock = np.sqrt(1 - persistence**2) / np.sqrt(q)
    return np.diag(persistence) + shock[:, None] * raw, shock


def simulate_observations(
    case: Case,
    *,
    as_of: date,
    seed: int = 0,
    per_cell: int = 1,
    reliability: str = "B",
    credibility: int = 2,
    cross_effect: np.ndarray | None = None,
) -> tuple[pd.DataFrame, Truth]:
    """Observations of every indicator drawn from the model with random true parameters.

    ``per_cell`` repeats level observations that many times per quarter (to scale the data up).
    When the case declares cross effects the factors follow the model's VAR(1) with the true
    effects ``cross_effect`` (in the case's order; the middle of each declared range when not
    given); otherwise independent AR(1)s, drawn exactly as before cross effects existed.
    """
    rng = np.random.default_rng(seed)
    grid = Grid.for_case(case.start, as_of, pad_to=1)
    T, K, I = grid.as_of_cell + 1, len(case.factors), len(case.indicators)
    phi = rng.uniform(0.8, 0.97, K)
    f = np.zeros((K, T))
    f[:, 0] = rng.normal(size=K)
    if case.cross_effects:
        if cross_effect is None:
            cross_effect = np.array([np.mean(e.size_range) for e in case.cross_effects])
        cross_effect = np.asarray(cross_effect, dtype=float)
        transition, shock = var1_transition(case, phi, cross_effect)
        for t in range(1, T):
            f[:, t] = transition @ f[:, t - 1] + shock * rng.normal(size=K)
    else:
        cross_effect = None
        for t in range(1, T):
            f[:, t] = phi * f[:, t - 1] + np.sqrt(1 - phi**2) * rng.normal(size=K)
    fid = {x: k for k, x in enumerate(case.factor_ids)}
    loading = np.zeros((I, K))
    intercept = np.zeros(I)
    rows = []
    sim = Simulation(grid=grid, as_of=as_of, case=case, n_cells=T, per_cell=per_cell)
    for i, ind in enumerate(case.indicators):
        for fac, sign in ind.loadings.items():
            mag = rng.uniform(0.5, 1.2)
            loading[i, fid[fac]] = -mag if sign == "negative" else mag
        eta = loading[i] @ f
        rows.extend(family(ind.family).simulate(ind, eta, intercept, i, rng, sim))
    frame = pd.DataFrame(rows, columns=["indicator", "date", "end", "value"])
    frame["date"] = pd.to_datetime(frame["date"])
    frame["end"] = pd.to_datetime(frame["end"]).fillna(frame["date"])
    frame["id"] = np.arange(1, len(frame) + 1)
    frame["reliability"] = reliability
    frame["credibility"] = credibility
    frame["source"] = "simulated"
    frame["note"] = ""
    return frame, Truth(phi, f, loading, intercept, grid, cross_effect)
