"""Sampler settings of a fit, one definition for every caller (no PyMC import, so the command line
and the dashboard can read the defaults cheaply)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from typing import Any

#: The samplers a fit can use (see ``FitSettings.sampler``).
SAMPLERS = ("nutpie", "pymc")
#: nutpie's log densities (see ``FitSettings.density``).
DENSITIES = ("fused", "pytensor")
#: The environment variable naming the density a ``FitSettings`` uses when none is given.
DENSITY_ENV = "HARBINGER_DENSITY"


def default_density() -> str:
    """The density named by ``HARBINGER_DENSITY`` (fused or pytensor), "fused" when unset."""
    value = os.environ.get(DENSITY_ENV, "").strip().lower() or "fused"
    if value not in DENSITIES:
        raise ValueError(f"{DENSITY_ENV}={value!r}: use one of {', '.join(DENSITIES)}")
    return value


@dataclass(frozen=True)
class FitSettings:
    #: At most 4000 draws after 2000 tuning steps. The slowest-mixing quantities (a few factor
    #: states in quarters with little data, the tails of the long-horizon outcome probabilities)
    #: can need thousands of draws before their ESS stands well above the limits, where R-hat's
    #: own noise (its sd is about 1.6 / ESS) no longer crosses the 1.01 line by chance; a fit
    #: that gets there sooner stops sooner (``min_draws``). How often fits at these settings
    #: pass every check of :func:`diagnostics`, over seeds, at today's date and at backtest
    #: origins, is benchmarks/convergence.py's measurement (benchmarks/README.md, Convergence).
    draws: int = 4000
    tune: int = 2000
    chains: int = 2
    seed: int = 20101101
    sampler: str = "nutpie"
    #: A nutpie fit stops before ``draws`` as soon as its draws so far pass every check of
    #: :func:`models.fit.diagnostics` with room to spare (each ESS limit times
    #: ``models.fit.EARLY_STOP_ESS_MARGIN``). It first looks after ``min_draws`` draws per chain,
    #: then whenever the ESS it saw says the limits may be met (``models.fit.Checkpoints``). A fit
    #: that does not pass early runs to ``draws`` and is judged there by the usual limits, with the
    #: draws it would have made had it never looked. 0 turns the early stop off.
    min_draws: int = 1000
    #: A refit started from an earlier posterior of the same model (``models.fit.sample``'s
    #: ``warm_start``: the current run, for a refit after new observations or a scenario's) tunes
    #: this many steps instead of ``tune``: its coordinates are whitened by that posterior and its
    #: chains start in it (:mod:`models.warm_start`), so the warm-up has only the step size and the
    #: mass matrix's last corrections to find. 0 turns warm starts off.
    warm_tune: int = 500
    #: A warm start's mass matrix: False (the default) estimates it from the draws' variances, as
    #: for a fit from the prior; True from the gradients too (nutpie's own default). In a warm
    #: start's whitened coordinates the gradient-based estimate reaches about twice the step size
    #: and its refits are faster, but one in eight of them failed with a chain stuck (R-hat 1.025,
    #: a parameter's ESS 30), where every refit with the variances passed (benchmarks/README.md,
    #: warm_start.py): a failed refit costs its retry from the prior, more than the time saved.
    warm_grad_based_mass_matrix: bool = False
    #: nutpie adapts a diagonal mass matrix. By default (False) it estimates it from the draws'
    #: variances, as PyMC and Stan do; nutpie's own default (True) mixes in the gradients'
    #: variances. On the shipped case the variance estimate gives more ESS per draw than the
    #: gradient-based one with a low-rank correction (benchmarks/README.md).
    grad_based_mass_matrix: bool = False
    #: Tuning re-estimates the mass matrix from windows of this many draws (nutpie's default is
    #: 80): a variance from 80 correlated draws is too noisy for the model's few hundred
    #: dimensions, and 400-draw windows give a higher minimum ESS per second over outcome
    #: probabilities and factor states (benchmarks/README.md). Short tuning phases get windows of
    #: a third of their length (at least 80).
    mass_matrix_window: int = 400
    #: nutpie's experimental low-rank correction of the mass matrix (gradient-based by design).
    low_rank_mass_matrix: bool = False
    #: With the low-rank correction: directions whose posterior variance is more than this factor
    #: from the diagonal estimate are corrected (nutpie's default is 100).
    mass_matrix_eigval_cutoff: float = 10.0
    #: nutpie's log density and gradient: "fused" (the hand-written kernel of
    #: :mod:`models.density`, about 0.06 ms per evaluation on the shipped case) or "pytensor" (the
    #: function PyTensor generates from the PyMC graph, about 0.2 ms). The default is
    #: ``HARBINGER_DENSITY``'s, else "fused". A fused density that disagrees with the graph when
    #: the model is compiled is not used (see :class:`_Compiled`). The PyMC sampler always
    #: evaluates the PyMC graph.
    density: str = field(default_factory=default_density)

    def __post_init__(self) -> None:
        if self.density not in DENSITIES:
            raise ValueError(f"unknown density {self.density!r}: use one of {', '.join(DENSITIES)}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {self.sampler!r}: use one of {', '.join(SAMPLERS)}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def retried(self) -> FitSettings:
        """The settings of the automatic retry after a fit fails its diagnostics: twice the tuning
        steps (a failing fit has most often not finished adapting to a slow direction) and the next
        seed (a fresh start, not the same chains again)."""
        return replace(self, tune=2 * self.tune, seed=self.seed + 1)


__all__ = ["DENSITIES", "DENSITY_ENV", "SAMPLERS", "FitSettings", "default_density"]
