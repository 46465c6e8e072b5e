"""What an indicator family is: the interface every module of :mod:`models.families` fills in.

A family is one observation model: how its rows are encoded in a design, its PyMC likelihood, its
log-likelihood on NumPy draws, its predictive draws and its part of the fused kernel. The other
modules of ``models`` never name a family: they ask the registry (``models.families.FAMILIES``)
and call these methods. The defaults are those of a *level* family (one row per observation, the
linear predictor averaged over the row's cells, no constants, no parameters besides the
intercept); a family overrides what it does differently.

Arrays follow the design's conventions: ``constants`` is ``Design.constants`` (named arrays, one
entry per family indicator, set by :meth:`Family.prepare`), ``local`` indexes a family's own
indicators, ``draws`` is a :class:`models.forecast.Draws` and ``draws.params`` holds each family's
parameters under the keys of :attr:`Family.draw_params`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np


class Family:
    #: The name cases use (``indicators.case.Family``) and the prefix of the family's arrays,
    #: data containers and model variables.
    name: str = ""
    #: The aggregations its indicators may have (the case schema holds the same rule).
    aggregations: tuple[str, ...] = ("level",)
    #: Its values are whole numbers (the watch list then weighs every plausible integer).
    integer: bool = False
    #: ``Draws.params`` key -> posterior variable of each of its parameters besides the intercept.
    draw_params: dict[str, str] = {}
    #: Posterior variables whose convergence every run reports (``models.fit.MONITORED``).
    monitored: tuple[str, ...] = ()
    #: The model's value variables (sampler coordinates) of the family, in the kernel's order,
    #: each with the sd of its Normal(0, sd) prior: the name of a field of
    #: :class:`models.priors.PriorConfig`, a fixed number (a non-centred coordinate's unit sd), or
    #: None for a prior the family's kernel writes.
    value_variables: tuple[tuple[str, str | float | None], ...] = ()
    #: The value variable of its indicators' intercepts (one of :attr:`value_variables`), if any,
    #: and the data container the intercept is centred on (added to the variable), if any.
    intercept_variable: str | None = None
    intercept_centre: str | None = None
    #: Data containers besides its rows that its kernel reads, in the kernel's order.
    kernel_data: tuple[str, ...] = ()
    #: Prior constants (fields of :class:`models.priors.PriorConfig`) its kernel reads, in the
    #: order of its ``priors`` array.
    kernel_priors: tuple[str, ...] = ()
    #: The model dimension of its per-indicator variables (None: they are indexed by shape only).
    dim: str | None = None
    #: Kinds of synthetic indicators of the family (``models.simulate``), each with its place in
    #: the cycle of kinds a synthetic case goes through.
    synthetic: dict[str, int] = {}
    #: Its part of the fused kernel (:mod:`models.density`): a numba function
    #: ``kernel(logp, x, grad, at, ends, columns, eta, g_eta, rows, data, priors) -> logp`` that
    #: adds its rows' (and its parameters' non-Normal priors') log density to ``logp``, its
    #: gradient to ``grad`` (its own coordinates, ``at[v]:ends[v]`` for its v-th value variable)
    #: and to ``g_eta`` (the linear predictor's), reading its rows (``ROW_FIELDS``), its
    #: :attr:`kernel_data` and the values of its :attr:`kernel_priors` (a float array);
    #: ``columns`` are its indicators' positions in the case.
    kernel: Callable[..., float] | None = None

    # ---------------------------------------------------------------- design

    def prepare(self, case: Any, indicators: list[str], index: dict[str, int], rows: list[Any]) -> dict[str, Any]:
        """Constants of the family from its rows (``models.design._Row``; their values may be
        rescaled here), by name; they become ``Design.constants``."""
        return {}

    def spurious(self, y: float, exposure: float, local: int, constants: dict[str, Any], priors: Any) -> float:
        """Log density of value ``y`` under the spurious-report distribution (a report that does
        not measure the indicator); ``exposure`` is the row's summed cell weights, ``priors`` the
        design's :class:`models.priors.PriorConfig`."""
        raise NotImplementedError

    def standardise(self, y: float, constants: dict[str, Any], local: int) -> float:
        """A value in the indicator's unit on the design's scale."""
        return y

    def to_unit(self, v: Any, constants: dict[str, Any], local: Any) -> Any:
        """Values on the design's scale in the indicator's unit (inverse of :meth:`standardise`)."""
        return v

    def extra_data(self, constants: dict[str, Any], rows: Any) -> dict[str, np.ndarray]:
        """Data containers of the model besides the rows' arrays (``Design.data()``)."""
        return {}

    def future_data(self, constants: dict[str, Any]) -> dict[str, np.ndarray]:
        """The data containers its log-likelihood reads for rows built outside a design."""
        return {}

    def rebase(self, rows: Any, constants: dict[str, Any], to: dict[str, Any], priors: Any) -> None:
        """Put a rebuilt design's rows (``FamilyRows``, built with ``constants``) on the scales of
        another design's constants ``to`` (``models.reweight.rebuild``)."""

    # ---------------------------------------------------------------- model

    def coords(self, design: Any) -> dict[str, list[str]]:
        """The model's coordinates the family adds."""
        return {self.dim: design.family_indicators[self.name]} if self.dim else {}

    def pymc_intercept(self, data: dict[str, Any], indicators: list[str], priors: Any) -> tuple[Any, dict[str, Any]]:
        """Its indicators' intercepts as a PyMC tensor (None when it has none) and the parameters
        created with them. Called for every family before :meth:`pymc_parameters`: the model's
        free variables come in this order, which is the sampler's coordinates' order. By default
        :attr:`intercept_variable`, Normal(0, its sd in :attr:`value_variables`)."""
        if self.intercept_variable is None:
            return None, {}
        import pymc as pm

        sd = priors.value(dict(self.value_variables)[self.intercept_variable])
        b = pm.Normal(self.intercept_variable, 0.0, sd, shape=len(indicators), dims=self.dim)
        return b, {}

    def pymc_parameters(self, data: dict[str, Any], design: Any) -> dict[str, Any]:
        """Its other parameters, by their ``draw_params`` keys (their priors from ``design.priors``)."""
        return {}

    def genuine_loglik(
        self, ops: Any, params: dict[str, Any], eta: Any, data: dict[str, Any], gather: Callable, take: Callable
    ) -> Any:
        """The genuine-report log-likelihood of each row (``(..., R)``), written once for PyTensor
        and NumPy (``models.likelihood.Ops``). ``gather(grid)`` takes a ``(T, I)`` grid (with a
        leading draw axis when batched) onto the rows' cells; ``take(param, local)`` a
        parameter's entries of the rows' indicators."""
        raise NotImplementedError

    # ---------------------------------------------------------------- predictions

    def expected_level(self, constants: dict[str, Any], draws: Any, local: int, eta: np.ndarray) -> np.ndarray:
        """Expected observed value per cell from the linear predictor (D, T')."""
        raise NotImplementedError

    def predictive(
        self,
        constants: dict[str, Any],
        draws: Any,
        local: np.ndarray,
        y: np.ndarray,
        w: np.ndarray,
        eta_rows: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For a design's rows (values ``y``, cell weights ``w``, the linear predictor on their
        cells ``eta_rows``, (D, n, S)): predictive draws on the design's scale, and per draw the
        mid-PIT, P(Y <= y) and P(Y >= y) of each row (``models.forecast``)."""
        return self.predictive_level(constants, draws, local, y, (w * eta_rows).sum(-1), rng)

    def predictive_level(
        self, constants: dict[str, Any], draws: Any, local: np.ndarray, y: np.ndarray, m: np.ndarray, rng: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`predictive` of a level family, from the rows' averaged linear predictor ``m``."""
        raise NotImplementedError

    def sample(
        self,
        constants: dict[str, Any],
        draws: Any,
        local: int,
        w: np.ndarray,
        eta: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Genuine-report draws of one row in the indicator's unit from the linear predictor on its
        cells ``eta`` (D, P, S) with weights ``w`` (``models.predictive``)."""
        return self.sample_level(constants, draws, local, period_mean(w, eta), rng)

    def sample_level(
        self, constants: dict[str, Any], draws: Any, local: int, m: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """:meth:`sample` of a level family, from the averaged linear predictor ``m`` (D, P)."""
        raise NotImplementedError

    def sample_report(
        self,
        constants: dict[str, Any],
        draws: Any,
        d: np.ndarray,
        local: int,
        weights: np.ndarray,
        eta: np.ndarray,
        genuine: np.ndarray,
        rng: np.random.Generator,
        priors: Any,
    ) -> np.ndarray:
        """Draws of a report of one row, in the indicator's unit: draws ``d``' linear predictor on
        its cells ``eta`` (n, S); the genuine-report distribution where ``genuine``, else the
        spurious-report one (``models.watch``)."""
        return self.report_level(constants, draws, d, local, period_mean(weights, eta), genuine, rng, priors)

    def report_level(
        self,
        constants: dict[str, Any],
        draws: Any,
        d: np.ndarray,
        local: int,
        m: np.ndarray,
        genuine: np.ndarray,
        rng: np.random.Generator,
        priors: Any,
    ) -> np.ndarray:
        """:meth:`sample_report` of a level family, from the averaged linear predictor ``m`` (n,)."""
        raise NotImplementedError

    def value_bounds(self, indicator: Any, lo: int, hi: int) -> tuple[int, int]:
        """The integer range worth weighing for an integer family's indicator, within ``lo..hi``."""
        return lo, hi

    def clip_values(self, values: np.ndarray) -> np.ndarray:
        """Candidate values brought into the family's support."""
        return values

    # ---------------------------------------------------------------- synthetic data

    def synthetic_indicator(self, kind: str, start: Any) -> dict[str, Any]:
        """The case fields of a synthetic indicator of ``kind`` (one of :attr:`synthetic`)."""
        return {"family": self.name, "aggregation": "level"}

    def simulate_value(self, rng: np.random.Generator, e: float) -> float:
        """One simulated observation at linear predictor ``e`` (a level family's)."""
        raise NotImplementedError

    def simulate(
        self, ind: Any, eta: np.ndarray, intercept: np.ndarray, i: int, rng: np.random.Generator, sim: Any
    ) -> list[tuple]:
        """Observations of indicator ``ind`` (position ``i``) from its factors' part of the linear
        predictor ``eta`` (T,), as rows ``(indicator, date, end, value)``; draws its true
        intercept into ``intercept[i]``. ``sim`` carries the grid, the as-of date, the case and
        ``per_cell`` (``models.simulate``)."""
        intercept[i] = rng.uniform(-0.5, 0.5)
        rows = []
        for t in range(sim.n_cells):
            for _ in range(sim.per_cell):
                d = sim.grid.cell_start(t) + timedelta(days=int(rng.integers(0, 80)))
                if d > sim.as_of:
                    continue
                rows.append((ind.id, d, None, self.simulate_value(rng, intercept[i] + eta[t])))
                self.after_simulated(intercept, i)
        return rows

    def after_simulated(self, intercept: np.ndarray, i: int) -> None:
        """Hook after each simulated observation (the ordinal family's truth has no intercept)."""


def period_mean(w: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """The linear predictor averaged over a row's cells, its weights normalised to sum to one."""
    return (w / w.sum() * eta).sum(-1)
