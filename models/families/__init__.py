"""The indicator families: one module per family, and this registry of them.

Each module (``count``, ``binary``, ``continuous``, ``proportion``, ``ordinal``) holds everything
about its observation model, as a :class:`models.families.base.Family`: which indicators it
serves, how its rows are encoded in a design, its PyMC likelihood, its log-likelihood on NumPy
draws, its predictive draws, the parameters whose convergence is reported, its synthetic data
and its part of the fused kernel. The rest of ``models`` iterates over :data:`FAMILIES` and never
names a family.

The order of :data:`FAMILIES` is part of the model: it orders the design's arrays, the model's
free variables (so the sampler's coordinates) and the kernel's sum, so a new family goes at the
end, where it changes nothing the others compute.
"""

from __future__ import annotations

from typing import Any

from models.families.base import Family
from models.families.binary import BINARY
from models.families.continuous import CONTINUOUS
from models.families.count import COUNT
from models.families.ordinal import ORDINAL
from models.families.proportion import PROPORTION
from models.likelihood import Ops, gather_rows, mixture

#: Every family, in the model's order.
FAMILIES: tuple[Family, ...] = (COUNT, BINARY, CONTINUOUS, PROPORTION, ORDINAL)
#: Their names, in the same order.
NAMES: tuple[str, ...] = tuple(f.name for f in FAMILIES)
_BY_NAME = {f.name: f for f in FAMILIES}


def family(name: str) -> Family:
    """The family called ``name``."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown indicator family {name!r}") from None


def row_logliks(
    ops: Ops, params: dict[str, Any], eta: Any, data: dict[str, Any], *, batched: bool = False
) -> dict[str, Any]:
    """Masked mixture log-likelihood of every row of every family.

    ``eta`` is the linear predictor, ``(T, I)`` (or ``(D, T, I)`` with ``batched``); ``params``
    holds the families' parameters (the keys of their ``draw_params``, with a leading draw axis
    when batched) and ``families``, the names of the families the case uses; ``data`` is
    ``Design.data()``. Returns ``{family: (..., R)}``; padding rows contribute zero.
    """

    def take(x: Any, *idx: Any) -> Any:
        return x[(slice(None), *idx)] if batched else x[idx if len(idx) > 1 else idx[0]]

    out = {}
    for fam in FAMILIES:
        p = fam.name
        if p not in params["families"]:
            continue
        cells, ind = data[f"{p}_cells"], data[f"{p}_indicator"]

        def gather(grid: Any, cells: Any = cells, ind: Any = ind) -> Any:
            return grid[:, cells, ind[:, None]] if batched else gather_rows(grid, cells, ind)

        lp = fam.genuine_loglik(ops, params, eta, data, gather, take)
        mixed = mixture(ops, lp, data[f"{p}_log_w"], data[f"{p}_log_1mw"], data[f"{p}_lp_spurious"])
        out[p] = data[f"{p}_mask"] * mixed
    return out
