"""The model nutpie samples with the fused kernel, assembled without compiling the PyMC graph.

``nutpie.compile_pymc_model`` compiles the whole PyMC graph with numba, 30-90 s in every process
and never cached, for four things: the log density and its gradient, initial points, the data
containers, and the expansion of a draw into the model's variables. With the fused kernel
(:mod:`models.density`) none of them needs that compile:

- the log density and gradient are one numba C callback (:func:`callback`) that calls the kernel
  on arrays it finds by address in a table of integers (nutpie's user data). The callback does not
  depend on the design's shapes, so one compiled callback serves every design of every case (each
  backtest origin, scenario refit and calibration replication), and it is cached on disk with the
  kernel (:mod:`models.kernel_cache`): a new process loads it in under a second;
- initial points come from PyMC's ``make_initial_point_fn`` with nutpie's defaults (the support
  point, jittered), flattened in nutpie's order (the model's free variables, each raveled);
- nutpie stores the unconstrained draws only (an identity expansion), and :class:`Expansion`
  computes the model's other variables from them afterwards with the model's graph vectorized
  over draws and evaluated by PyTensor's Python backend (no compile);
- the check that the kernel is the model (:func:`models.density.disagreement`) compares it with
  PyMC's log density and gradient evaluated by PyTensor's Python backend (no compile to wait for).

The PyTensor fall-back (``--density pytensor``, or a kernel that disagrees with the model) still
compiles the PyMC graph through nutpie, once per process and structure, when it is first used.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import arviz as az
import numba
import numpy as np
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from nutpie.compile_pymc import (
    CompiledPyMCModel,
    _prepare_dims_and_coords,
    _rv_dict_to_flat_array_wrapper,
    _wrap_with_lock,
)

from models import density, kernel_cache
from models.design import Design

#: nutpie's C signature of a log density: (n_dim, x, gradient out, logp out, user data) -> status.
LOGP_SIGNATURE = numba.types.int64(
    numba.types.uint64,
    numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double),
    numba.types.voidptr,
)
#: ... and of an expansion: (n_dim, n_expanded, x, expanded out, user data) -> status.
EXPAND_SIGNATURE = numba.types.int64(
    numba.types.uint64,
    numba.types.uint64,
    numba.types.CPointer(numba.types.double),
    numba.types.CPointer(numba.types.double),
    numba.types.voidptr,
)

#: How many times this process compiled (or loaded from the disk cache) a callback: one per
#: structure of the kernel's arguments, which only a change to the families' registry changes.
CALLBACK_BUILDS = {"n": 0}


@numba.cfunc(EXPAND_SIGNATURE, cache=True)
def _identity(n_dim, n_expanded, x_, out_, user_data_):  # pragma: no cover - runs in nutpie
    """nutpie's expansion of a draw: the draw itself (:class:`Expansion` does the rest)."""
    if n_dim != n_expanded:
        return -1
    x = numba.carray(x_, (n_dim,))
    out = numba.carray(out_, (n_expanded,))
    out[:] = x
    return 0


# ---------------------------------------------------------------------------------------------
# The callback


def _flatten(arguments: tuple) -> tuple[list[np.ndarray], str]:
    """The arrays among the kernel's (nested) ``arguments``, in order, and a Python expression of
    the nesting in which ``a{i}`` stands for the i-th array."""
    leaves: list[np.ndarray] = []

    def walk(item: Any) -> str:
        if isinstance(item, tuple):
            return "(" + "".join(walk(x) + ", " for x in item) + ")"
        leaves.append(np.ascontiguousarray(item))
        return f"a{len(leaves) - 1}"

    expression = walk(tuple(arguments))
    return leaves, expression[1:-3] if expression.endswith(", )") else expression[1:-1]


def _callback_source(leaves: list[np.ndarray], expression: str) -> str:
    """The C callback's source for arguments of this structure (dtype and rank of each array):
    the table is ``[its length, n_dim, then per array its address and shape]``. The last two
    arrays are the sampler's coordinates' :class:`Whitening` (``x = shift + scale * z``), the
    others the kernel's arguments."""
    lines = [
        "import numba",
        "import numpy as np",
        "from nutpie.compile_pymc import address_as_void_pointer",
        "",
        "from models.compiled import LOGP_SIGNATURE",
        "from models.density import logp_and_grad",
        "",
        "",
        '@numba.cfunc(LOGP_SIGNATURE, cache=True, error_model="numpy")',
        "def callback(n_dim, x_, grad_, logp_, table_):",
        "    size = numba.carray(table_, (1,), np.int64)[0]",
        "    t = numba.carray(table_, (size,), np.int64)",
        "    if t[1] != n_dim:",
        "        return -1",
    ]
    at = 2
    for i, leaf in enumerate(leaves):
        shape = "".join(f"t[{at + 1 + d}], " for d in range(leaf.ndim))
        lines.append(f"    a{i} = numba.carray(address_as_void_pointer(t[{at}]), ({shape}), np.{leaf.dtype.name})")
        at += 1 + leaf.ndim
    shift, scale = f"a{len(leaves) - 2}", f"a{len(leaves) - 1}"
    lines += [
        "    z = numba.carray(x_, (n_dim,))",
        "    grad = numba.carray(grad_, (n_dim,))",
        f"    x = {shift} + {scale} * z",
        "    grad_x = np.empty(n_dim)",
        f"    value = logp_and_grad(x, grad_x, {expression})",
        "    numba.carray(logp_, (1,))[0] = value",
        "    for i in range(n_dim):",
        f"        grad[i] = grad_x[i] * {scale}[i]",
        "        if not np.isfinite(grad[i]):",
        "            return 3",
        "    if not np.isfinite(value):",
        "        return 4",
        "    return 0",
    ]
    return "\n".join(lines) + "\n"


_CALLBACKS: dict[str, Any] = {}
_CALLBACKS_LOCK = threading.Lock()


def callback(leaves: list[np.ndarray], expression: str) -> Any:
    """The compiled C callback for arguments of this structure (a ``numba.cfunc``), compiled or
    loaded from the disk cache once per process."""
    source = _callback_source(leaves, expression)
    with _CALLBACKS_LOCK:
        if source not in _CALLBACKS:
            carried = [
                Path(__file__),
                Path(density.__file__),
                *Path(density.FAMILIES[0].kernel.py_func.__code__.co_filename).parent.glob("*.py"),
            ]
            module = kernel_cache.generated_module("harbinger_fused_callback", source, carried)
            if module is None:
                scope: dict[str, Any] = {}
                exec(compile(source.replace(", cache=True", ""), "<fused density callback>", "exec"), scope)
                _CALLBACKS[source] = scope["callback"]
            else:
                _CALLBACKS[source] = module.callback
            CALLBACK_BUILDS["n"] += 1
        return _CALLBACKS[source]


def _table(n_dim: int, leaves: list[np.ndarray]) -> np.ndarray:
    entries = [0, n_dim]
    for leaf in leaves:
        entries += [leaf.ctypes.data, *leaf.shape]
    entries[0] = len(entries)
    return np.array(entries, dtype=np.int64)


@dataclass(frozen=True)
class FusedModel(CompiledPyMCModel):
    """nutpie's compiled PyMC model, whose log density is the fused kernel's callback on one
    design's data (``leaves``, kept alive here: the callback reads them by address)."""

    leaves: tuple = ()
    whitening: Whitening | None = None

    def with_data(self, **updates: Any) -> FusedModel:
        raise TypeError("a fused model holds one design's data: build another with models.compiled.fused_model")


# ---------------------------------------------------------------------------------------------
# Initial points and the model nutpie samples


def _value_variables(model: pm.Model) -> tuple[list[str], list[tuple[int, ...]]]:
    """The names and shapes of the model's value variables in nutpie's order."""
    point = model.initial_point()
    names = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    return names, [tuple(int(n) for n in point[name].shape) for name in names]


def initial_point_function(model: pm.Model) -> Callable[[Any], np.ndarray]:
    """nutpie's initial points for ``model`` (its defaults: the support point, every free variable
    jittered), as flat vectors in nutpie's order."""
    from pymc.initial_point import make_initial_point_fn

    names, shapes = _value_variables(model)
    point_fn = make_initial_point_fn(
        model=model, jitter_rvs=set(model.free_RVs), default_strategy="support_point", return_transformed=True
    )
    return _rv_dict_to_flat_array_wrapper(_wrap_with_lock(point_fn), names=names, shapes=shapes)


@dataclass(frozen=True)
class Whitening:
    """The coordinates nutpie samples: ``z`` with ``x = shift + scale * z``, ``x`` the model's flat
    unconstrained vector (nutpie's order). The identity for a fit that knows nothing yet; a
    refit's comes from an earlier posterior of the same model (:mod:`models.warm_start`), so its
    sampler starts in coordinates of about unit scale, where a short warm-up finds the mass matrix
    and step size. The posterior is the same in any such coordinates (the Jacobian is constant);
    only the sampler's path to it changes.

    ``starts`` (``(m, n_dim)``, x-space, possibly empty) are the points chains start from: each
    chain takes one by its seed; with none, the model's own initial points (jittered support
    point)."""

    shift: np.ndarray
    scale: np.ndarray
    starts: np.ndarray

    @classmethod
    def identity(cls, n_dim: int) -> Whitening:
        return cls(np.zeros(n_dim), np.ones(n_dim), np.zeros((0, n_dim)))

    @property
    def is_identity(self) -> bool:
        return not self.starts.size and not self.shift.any() and bool((self.scale == 1.0).all())

    def to_model(self, z: np.ndarray) -> np.ndarray:
        """The model's coordinates of sampler coordinates ``z`` (``(..., n_dim)``)."""
        return self.shift + self.scale * z

    def to_sampler(self, x: np.ndarray) -> np.ndarray:
        """The sampler's coordinates of the model's point ``x`` (``(..., n_dim)``)."""
        return (x - self.shift) / self.scale

    def initial_point_func(self, model_points: Callable[[Any], np.ndarray]) -> Callable[[Any], np.ndarray]:
        """nutpie's initial points in sampler coordinates: a start by the chain's seed, else the
        model's own point."""

        def point(seed: Any) -> np.ndarray:
            if len(self.starts):
                x = self.starts[np.random.default_rng(seed).integers(len(self.starts))]
            else:
                x = model_points(seed)
            return np.ascontiguousarray(self.to_sampler(x), dtype=np.float64)

        return point


def value_shape_info(model: pm.Model) -> tuple:
    """nutpie's ``shape_info`` of ``model``: its value variables' names, slices of the flat
    vector and shapes, in nutpie's order."""
    names, shapes = _value_variables(model)
    starts = np.cumsum([0, *(int(np.prod(s)) for s in shapes)])
    return names, [slice(int(a), int(b)) for a, b in itertools.pairwise(starts)], shapes


def fused_model(
    design: Design,
    model: pm.Model,
    initial_point_func: Callable[[Any], np.ndarray],
    data: dict | None = None,
    whitening: Whitening | None = None,
) -> FusedModel:
    """The model nutpie samples for ``design`` (with ``data``, the design's by default), built
    from ``model`` (:func:`models.model.build_model` of a design of the same structure), in the
    coordinates of ``whitening`` (the model's own by default; nutpie's draws are then in those
    coordinates: :func:`to_model`)."""
    leaves, expression = _flatten(density.kernel_arguments(design, model, data))
    shape_info = value_shape_info(model)
    names, slices, shapes = shape_info
    n_dim = slices[-1].stop if slices else 0
    whitening = Whitening.identity(n_dim) if whitening is None else whitening
    leaves += [np.ascontiguousarray(whitening.shift, dtype=np.float64)]
    leaves += [np.ascontiguousarray(whitening.scale, dtype=np.float64)]
    dims, coords = _prepare_dims_and_coords(model, shape_info)
    return FusedModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes=dict(zip(names, shapes, strict=True)),
        compiled_logp_func=callback(leaves, expression),
        compiled_expand_func=_identity,
        initial_point_func=initial_point_func
        if whitening.is_identity
        else whitening.initial_point_func(initial_point_func),
        shared_data={},
        user_data=_table(n_dim, leaves),
        n_expanded=n_dim,
        shape_info=shape_info,
        logp_func=None,
        expand_func=None,
        leaves=tuple(leaves),
        whitening=whitening,
    )


def to_model(idata: az.InferenceData, fused: FusedModel) -> az.InferenceData:
    """nutpie's draws of ``fused`` (posterior and warm-up) in the model's coordinates."""
    w = getattr(fused, "whitening", None)  # the generated-density fallback samples the model itself
    if w is None or w.is_identity:
        return idata
    names, slices, shapes = fused.shape_info
    out = idata.copy()
    for group in ("posterior", "warmup_posterior"):
        if group not in out.groups():
            continue
        ds = out[group]
        lead = (ds.sizes["chain"], ds.sizes["draw"])
        z = np.concatenate([ds[n].transpose("chain", "draw", ...).values.reshape(*lead, -1) for n in names], axis=-1)
        x = w.to_model(z)
        for name, where, shape in zip(names, slices, shapes, strict=True):
            var = ds[name].transpose("chain", "draw", ...)
            ds[name] = var.copy(data=x[..., where].reshape(*lead, *shape))
    return out


# ---------------------------------------------------------------------------------------------
# Expanding the draws


class Expansion:
    """The model's variables (its random variables in their own space and its deterministics)
    from the unconstrained draws nutpie stored, as ``pm.sample`` and nutpie's own expansion
    record them.

    One PyTensor function per model, of the model's graph vectorized over draws
    (``vectorize_graph``: each value variable gains a leading draw dimension) and evaluated by
    PyTensor's Python backend on the graph as PyMC states it: nothing to compile (a C-compiled
    function of the same graph took over half a minute on an empty compile cache, a fresh
    install's wait), and one call evaluates a block of draws with NumPy, as fast as the C function
    called draw by draw. The data it reads are the model's containers, so it is called with the
    design's data set (:meth:`posterior`)."""

    #: Draws evaluated per call: bounds the memory of the graph's intermediate arrays.
    BLOCK = 4096

    def __init__(self, model: pm.Model):
        from pytensor.compile.mode import Mode
        from pytensor.graph.replace import vectorize_graph

        self.model = model
        names, _shapes = _value_variables(model)
        self.value_names = names
        self.outputs = [v for v in model.unobserved_value_vars if v.name not in names]
        values = [model.rvs_to_values[rv] for rv in model.free_RVs]
        blocks = [pt.tensor(name=f"{v.name}_draws", dtype=v.dtype, shape=(None, *v.type.shape)) for v in values]
        vectorized = vectorize_graph(self.outputs, replace=dict(zip(values, blocks, strict=True)))
        # an output that depends on no value variable (data only) is not vectorized: broadcast
        self._per_draw = [out.ndim > var.ndim for out, var in zip(vectorized, self.outputs, strict=True)]
        with model:
            self._function = pm.pytensorf.compile(
                blocks, vectorized, on_unused_input="ignore", mode=Mode(linker="py", optimizer=None)
            )
        self._lock = threading.Lock()

    def posterior(self, posterior: xr.Dataset, data: dict[str, np.ndarray]) -> xr.Dataset:
        """``posterior`` (nutpie's, of the value variables) with the model's other variables."""
        chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
        n = chains * draws
        arrays = [posterior[name].transpose("chain", "draw", ...).values for name in self.value_names]
        values = [a.reshape(n, *a.shape[2:]) for a in arrays]
        out: list[np.ndarray] = []
        with self._lock, self.model:
            pm.set_data(data)
            for start in range(0, n, self.BLOCK):
                block = slice(start, min(start + self.BLOCK, n))
                results = self._function(*(v[block] for v in values))
                if not out:
                    out = [
                        np.empty((n, *(np.shape(r)[1:] if batched else np.shape(r))), dtype=np.asarray(r).dtype)
                        for r, batched in zip(results, self._per_draw, strict=True)
                    ]
                for o, r in zip(out, results, strict=True):
                    o[block] = r
        dims = self.model.named_vars_to_dims
        variables = {}
        for var, array in zip(self.outputs, out, strict=True):
            array = array.reshape(chains, draws, *array.shape[1:])
            names = dims.get(var.name) or tuple(f"{var.name}_dim_{i}" for i in range(array.ndim - 2))
            variables[var.name] = (("chain", "draw", *names), array)
        coords = {name: list(values) for name, values in self.model.coords.items() if values is not None}
        extra = xr.Dataset(
            variables, coords={k: v for k, v in coords.items() if any(k in d[0] for d in variables.values())}
        )
        return xr.merge(
            [posterior, extra.assign_coords(chain=posterior.chain, draw=posterior.draw)], combine_attrs="override"
        )


def expanded(idata: az.InferenceData, expansion: Expansion, data: dict[str, np.ndarray]) -> az.InferenceData:
    """``idata`` from nutpie with its posterior expanded (:class:`Expansion`); the warm-up draws
    (nutpie keeps them, unexpanded) are dropped."""
    groups = {g: idata[g] for g in idata.groups() if g not in ("posterior", "warmup_posterior")}
    groups["posterior"] = expansion.posterior(idata.posterior, data)
    return az.InferenceData(**groups)
