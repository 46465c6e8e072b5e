"""The operations the families' log-likelihoods are written in, once for PyTensor and NumPy.

The model (``models.model``) evaluates each family's ``genuine_loglik`` (``models.families``) on
PyTensor tensors; scenario reweighting and surprise flags evaluate the same functions on NumPy
arrays of posterior draws, through :class:`Ops`. A family's log-likelihood takes the linear
predictor gathered onto its rows' cells (``(..., R, S)``, :func:`gather_rows`), the rows' cell
weights (``(R, S)``) and values, and gives the genuine-report log-likelihood of each row
(``(..., R)``); :func:`mixture` then mixes it with the spurious-report component.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special


@dataclass(frozen=True)
class Ops:
    exp: Callable[[Any], Any]
    log: Callable[[Any], Any]
    log1p: Callable[[Any], Any]
    gammaln: Callable[[Any], Any]
    logaddexp: Callable[[Any, Any], Any]
    sigmoid: Callable[[Any], Any]
    softplus: Callable[[Any], Any]
    where: Callable[[Any, Any, Any], Any]
    clip: Callable[[Any, float, float], Any]

    def log_sigmoid(self, x: Any) -> Any:
        return -self.softplus(-x)


NUMPY = Ops(
    exp=np.exp,
    log=np.log,
    log1p=np.log1p,
    gammaln=special.gammaln,
    logaddexp=np.logaddexp,
    sigmoid=special.expit,
    softplus=lambda x: np.logaddexp(0.0, x),
    where=np.where,
    clip=np.clip,
)


def pytensor_ops() -> Ops:
    import pytensor.tensor as pt

    return Ops(
        exp=pt.exp,
        log=pt.log,
        log1p=pt.log1p,
        gammaln=pt.gammaln,
        logaddexp=pt.logaddexp,
        sigmoid=pt.sigmoid,
        softplus=pt.softplus,
        where=pt.where,
        clip=pt.clip,
    )


def level_mean(eta_rows: Any, weights: Any) -> Any:
    """The linear predictor averaged over a row's cells (weights sum to one)."""
    return (weights * eta_rows).sum(axis=-1)


def mixture(ops: Ops, lp_genuine: Any, log_w: Any, log_1mw: Any, lp_spurious: Any) -> Any:
    """A report is genuine with probability w, else drawn from a diffuse spurious distribution."""
    return ops.logaddexp(log_w + lp_genuine, log_1mw + lp_spurious)


def gather_rows(eta: Any, cells: Any, ind: Any) -> Any:
    """``eta[cells, ind[:, None]]`` (``(R, S)``) as one flat take: its gradient is a single
    scatter-add along one axis, which compiles to a much tighter loop than a 2-D one."""
    n_rows, n_slots = cells.shape[0], cells.shape[1]
    flat = (cells * eta.shape[1] + ind[:, None]).reshape((-1,))
    return eta.reshape((-1,))[flat].reshape((n_rows, n_slots))
