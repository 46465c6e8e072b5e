"""Sampling a design's posterior, and the diagnostics every run carries.

Two samplers: ``nutpie`` (the default: NUTS in compiled numba code, several times the effective
samples per second of PyMC's own sampler on this model) and ``pymc`` (``pm.sample``). Both run
the same PyMC model; nutpie evaluates its log density with the fused kernel of
:mod:`models.density` by default, through :mod:`models.compiled`, whose compiled code is cached on
disk and shared by every design, so a new process or a new design's shape starts in seconds.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr

from models import compiled, convergence, density
from models.design import Design
from models.families import FAMILIES
from models.forecast import draws_of, outcome_probability_draws
from models.model import build_model
from models.settings import DENSITIES, DENSITY_ENV, FitSettings, default_density  # noqa: F401 - the fit's interface
from models.warm_start import whitening as warm_start_whitening

Progress = Callable[[float, str], None]
log = logging.getLogger(__name__)

RHAT_MAX = 1.01
#: Bulk and tail ESS every reported outcome probability needs.
ESS_MIN = 400
#: ESS per chain every model parameter needs (Vehtari et al. 2021: 100 per chain).
ESS_PER_CHAIN_MIN = 100
BFMI_MIN = 0.3
#: The quantities failing R-hat or ESS that a run names (the worst first).
FAILING_SHOWN = 8

#: Seconds between readings of a running sampler's draws (:func:`_rows_per_chain`; only when
#: someone listens to the progress or the fit may stop early), and between progress reports.
READ_EVERY_S = 1.0
PROGRESS_EVERY_S = 3.0

#: A fit stops early (``FitSettings.min_draws``) only when its draws so far reach this many times
#: every ESS limit of :func:`diagnostics` (and pass its other checks). An ESS estimated from a
#: thousand or two correlated draws is itself uncertain, and a fit that looks several times
#: would otherwise stop at the first look where chance put the estimate over the line; at 1.5
#: times the limit, an estimate a third too high still leaves the quantity above it.
EARLY_STOP_ESS_MARGIN = 1.5
#: Draws per chain between two looks of an early-stopping fit, at least (see :class:`Checkpoints`).
CHECK_EVERY = 500

#: Parameters whose convergence is reported, besides the factor states through the as-of quarter
#: (the innovations are the sampler's coordinates for those states and are judged through them).
MONITORED = (
    "persistence",
    "loading",
    "intercept",
    "hazard_intercept",
    "hazard_effect",
    "cross_effect",  # only in a case that declares cross effects
    *(name for family in FAMILIES for name in family.monitored),
)


#: What a fit is judged by: ``judge(idata, ess_margin)`` is :func:`diagnostics` of the draws with
#: the outcome probabilities the caller reports, every ESS limit times ``ess_margin``.
Judge = Callable[[az.InferenceData, float], dict[str, Any]]


def run_judge(design: Design, seed: int) -> Judge:
    """How a run of ``design`` is judged (:func:`models.runs.summarise` records the same): its
    parameters and factor states through the as-of quarter, and its outcome probabilities
    (:func:`models.forecast.outcome_probability_draws` with the run's ``seed``)."""

    def judge(idata: az.InferenceData, ess_margin: float = 1.0) -> dict[str, Any]:
        prob = outcome_probability_draws(design, draws_of(design, idata), seed=seed)
        return diagnostics(
            idata, outcome_probability=prob, observed_periods=design.grid.as_of_cell + 1, ess_margin=ess_margin
        )

    return judge


class Remembered:
    """A judge (:data:`Judge`) that remembers the last draws it passed.

    A fit that stops early keeps exactly the draws its passing look judged (:class:`Checkpoints`),
    so its caller's verdict on them (:meth:`verdict`) is that look's, read instead of judged a
    second time (the outcome probabilities and every convergence statistic again: a second or
    more at the end of every fit that stops early). Passing with an ESS margin of at least 1 is
    passing without one, with the same figures: the limits only decide ``ok``, ``problems`` and
    ``failing``, and a judgement that passed has none of them at any lower limit.
    """

    def __init__(self, judge: Judge):
        self._judge = judge
        self._passed: tuple[xr.Dataset, dict[str, Any]] | None = None

    def __call__(self, idata: az.InferenceData, ess_margin: float = 1.0) -> dict[str, Any]:
        verdict = self._judge(idata, ess_margin)
        if verdict["ok"] and ess_margin >= 1.0:
            self._passed = (idata.posterior, verdict)
        return verdict

    def passed(self, idata: az.InferenceData) -> dict[str, Any] | None:
        """The remembered verdict with no margin when ``idata`` are the draws the judge last passed
        (with the sampler's attributes the fit has since recorded), else None."""
        if self._passed is not None and self._passed[0] is idata.posterior:
            return {**self._passed[1], **_sampler_attributes(idata.posterior)}
        return None

    def verdict(self, idata: az.InferenceData) -> dict[str, Any]:
        """The judge's verdict on ``idata`` with no margin, remembered (:meth:`passed`) or made."""
        remembered = self.passed(idata)
        return remembered if remembered is not None else self._judge(idata, 1.0)


class _Compiled:
    """A built model and what nutpie needs to sample it, reused while the design's structure holds.

    With nutpie, the fused density needs no compile of the PyMC graph (:mod:`models.compiled`):
    its callback is shared by every structure and cached on disk. It is checked against PyMC's own
    log density as soon as the model is built (:func:`models.density.disagreement`); if they
    differ, ``fused_problem`` says how, a warning is logged, and fits asking for the fused density
    sample with PyTensor's generated one instead, which nutpie compiles from the PyMC graph when a
    fit first asks for it.
    """

    def __init__(self, design: Design, sampler: str):
        self.model = build_model(design)
        self.sampler = sampler
        self.fused_problem: str | None = None
        self._lock = threading.Lock()
        self._generated: Any = None
        self._expansion: compiled.Expansion | None = None
        if sampler == "nutpie":
            self.initial_point_func = compiled.initial_point_function(self.model)
            fused = density.evaluator(compiled.fused_model(design, self.model, self.initial_point_func))
            self.fused_problem = density.disagreement(fused, design, self.model, self.initial_point_func)
            if self.fused_problem:
                log.warning(
                    "the fused log density disagrees with the PyMC model (%s); this process samples "
                    "with PyTensor's generated density instead (slower, same posterior)",
                    self.fused_problem,
                )

    def density_used(self, requested: str) -> str:
        """The density a fit asking for ``requested`` samples with."""
        return "pytensor" if requested == "fused" and self.fused_problem else requested

    def nutpie_model(
        self, design: Design, density_used: str, report: Progress | None = None, whitening: Any = None
    ) -> Any:
        """The model nutpie samples for ``design`` (of this structure) with ``density_used``, the
        fused one in the coordinates of ``whitening`` (:class:`models.compiled.Whitening`, the
        model's own when None); ``report`` hears when PyTensor's density is compiled for it (a
        minute or more)."""
        data = design.data()
        if density_used == "fused":
            return compiled.fused_model(design, self.model, self.initial_point_func, data, whitening)
        with self._lock:
            if self._generated is None:
                import nutpie

                if report is not None:
                    report(0.01, "compiling PyTensor's density for nutpie")
                self._generated = nutpie.compile_pymc_model(self.model)
        known = self._generated.shared_data
        return self._generated.with_data(**{k: v for k, v in data.items() if k in known})

    def expanded(self, idata: az.InferenceData, design: Design) -> az.InferenceData:
        """nutpie's draws of the fused model with the model's other variables computed."""
        with self._lock:
            if self._expansion is None:
                self._expansion = compiled.Expansion(self.model)
        return compiled.expanded(idata, self._expansion, design.data())


_CACHE: dict[tuple, _Compiled] = {}
_CACHE_LOCK = threading.Lock()
COMPILE_COUNT = {"n": 0}  # how many times a model was built and compiled in this process


def compiled_for(design: Design, sampler: str) -> _Compiled:
    """The compiled model for this design's structure, built once per process."""
    key = (sampler, design.shape_key())
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = _Compiled(design, sampler)
            COMPILE_COUNT["n"] += 1
        return _CACHE[key]


def _mass_matrix_options(settings: FitSettings) -> dict[str, Any]:
    """nutpie's mass-matrix arguments for ``settings``."""
    # A short tuning phase (tests, quick looks) would never reach the end of a long window: it
    # gets windows of a third of its length, and never shorter than nutpie's 80 draws.
    window = min(settings.mass_matrix_window, max(80, settings.tune // 3))
    windows = {"window_switch_freq": window, "mass_matrix_switch_freq": window}
    if settings.low_rank_mass_matrix:
        return {
            "low_rank_modified_mass_matrix": True,
            "mass_matrix_eigval_cutoff": settings.mass_matrix_eigval_cutoff,
            **windows,
        }
    return {"use_grad_based_mass_matrix": settings.grad_based_mass_matrix, **windows}


def sample(
    design: Design,
    settings: FitSettings | None = None,
    *,
    progress: Progress | None = None,
    judge: Judge | None = None,
    warm_start: xr.Dataset | None = None,
) -> az.InferenceData:
    """Sample the posterior of ``design``, with nutpie until it has converged (``settings.min_draws``,
    :class:`Checkpoints`, by ``judge``: the caller's own, default :func:`run_judge`) or made
    ``settings.draws``; ``progress(fraction, message)`` is called as it goes (every
    :data:`PROGRESS_EVERY_S` seconds while nutpie samples).

    ``warm_start``, an earlier posterior of the same model (a run's, with its value variables),
    starts nutpie with the fused density from it (:mod:`models.warm_start`) after
    ``settings.warm_tune`` tuning steps instead of ``settings.tune`` (and the mass matrix of
    ``settings.warm_grad_based_mass_matrix``); without one, or with
    ``warm_tune`` 0, the fit starts from the prior. The posterior's ``density`` attribute names the
    log density nutpie sampled with, ``tune`` the tuning steps it took and ``warm_start`` whether
    it started from an earlier posterior."""
    settings = FitSettings() if settings is None else settings
    report = progress or (lambda f, m: None)
    report(0.0, "building the model")
    built = compiled_for(design, settings.sampler)
    data = design.data()
    total = settings.chains * (settings.draws + settings.tune)
    if settings.sampler == "nutpie":
        used = built.density_used(settings.density)
        whitening = None
        if warm_start is not None and used == "fused" and settings.warm_tune > 0:
            shape_info = compiled.value_shape_info(built.model)
            try:
                whitening = warm_start_whitening(warm_start, shape_info, built.model.coords, seed=settings.seed)
            except Exception:  # noqa: BLE001 - an unreadable earlier posterior: start from the prior
                log.warning("the earlier posterior could not start this fit; it starts from the prior", exc_info=True)
        if whitening is not None:  # never more tuning than a fit from the prior would take
            settings = replace(
                settings,
                tune=min(settings.warm_tune, settings.tune),
                grad_based_mass_matrix=settings.warm_grad_based_mass_matrix,
            )
        nm = built.nutpie_model(design, used, report, whitening)
        report(
            0.02,
            ("sampling from the previous posterior" if whitening is not None else "sampling")
            if used == settings.density
            else "sampling with PyTensor's density: the fused one disagreed with the model",
        )
        judge = judge or run_judge(design, settings.seed)
        looks = Checkpoints(design, settings, built, used, judge)
        idata = _nutpie_draws(nm, settings, looks, progress)
        if used == "fused" and idata is not looks.kept:  # a passing look's draws are expanded
            report(0.985, "computing the model's variables from the draws")
            idata = built.expanded(idata, design)
        idata.posterior.attrs["density"] = used
        idata.posterior.attrs["tune"] = settings.tune
        idata.posterior.attrs["warm_start"] = int(whitening is not None)
    else:
        with built.model:
            pm.set_data(data)
            counter = {"n": 0}

            def callback(trace: Any, draw: Any) -> None:
                counter["n"] += 1
                if counter["n"] % 50 == 0:
                    report(min(0.02 + 0.96 * counter["n"] / total, 0.98), f"sampling: {counter['n']} of {total} draws")

            idata = pm.sample(
                draws=settings.draws,
                tune=settings.tune,
                chains=settings.chains,
                cores=1,
                random_seed=settings.seed,
                progressbar=False,
                callback=callback,
                compute_convergence_checks=False,
                target_accept=0.9,
            )
    report(0.99, "sampling done")
    return idata


def _nutpie_draws(nm: Any, settings: FitSettings, looks: Checkpoints, progress: Progress | None) -> az.InferenceData:
    """nutpie's draws of ``nm``, stopped early once converged (:class:`Checkpoints`), with the
    progress read from the running sampler."""
    import nutpie

    report = progress or (lambda f, m: None)
    total = settings.chains * (settings.draws + settings.tune)
    sampler = nutpie.sample(
        nm,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        cores=min(settings.chains, 2),
        seed=settings.seed,
        progress_bar=False,
        blocking=False,
        **_mass_matrix_options(settings),
    )

    def trace() -> az.InferenceData:  # the draws so far, in the model's coordinates
        return compiled.to_model(sampler.inspect(), nm)

    read_at = reported_at = time.monotonic()
    while not _finished(sampler):
        time.sleep(0.25)
        now = time.monotonic()
        if (progress is None and looks.at is None) or now - read_at < READ_EVERY_S:
            continue
        read_at = now
        try:
            rows = _rows_per_chain(sampler)
        except Exception:  # noqa: BLE001 - a reading is best effort; the sample itself is not
            continue
        if looks.due(rows) and looks.converged(trace, report):
            sampler.abort()  # the chains' first draws are those the look judged: it keeps them
            return looks.kept
        if progress is not None and now - reported_at >= PROGRESS_EVERY_S:
            reported_at = now
            done = sum(rows)
            report(min(0.02 + 0.96 * done / total, 0.98), f"sampling: {done} of {total} draws")
    idata = compiled.to_model(sampler.wait(), nm)
    # Looks the chains outran (a fast fit on a loaded machine ends before a look is made) are
    # made on the finished draws, so where a fit stops depends on its seed and data alone,
    # never on the machine's load: the same run is the same draws.
    while looks.at is not None and looks.at < settings.draws:
        if looks.converged(lambda: idata, report):
            return looks.kept
    return idata


class Checkpoints:
    """When a running nutpie fit looks at its draws so far, and whether they have converged.

    The first look is after ``settings.min_draws`` draws per chain. A look that fails sets the
    next where the smallest ESS it saw, growing in proportion to the draws, would reach the
    margin (:data:`EARLY_STOP_ESS_MARGIN`), but one to two :data:`CHECK_EVERY` later (an ESS
    estimated from a thousand draws is too noisy to plan further on: a tail ESS can halve between
    two looks and recover by the next). A run with divergent transitions is not looked at again
    (they do not go away; the run is judged at its end). No look at or beyond
    ``settings.draws``: the end is the ordinary one.
    The judge is the caller's (:func:`run_judge` for a run), so a fit that stops early passes the
    check its caller then makes. A look costs a second or two of one core (the draws'
    expansion, the outcome probabilities and :func:`diagnostics`), while the chains go on; looks
    the chains outran are made on the finished draws, so where a fit stops depends on its seed
    and data alone.
    """

    def __init__(self, design: Design, settings: FitSettings, built: _Compiled, used: str, judge: Judge):
        self.design, self.settings, self.built, self.used, self.judge = design, settings, built, used, judge
        on = settings.sampler == "nutpie" and 0 < settings.min_draws < settings.draws
        self.at: int | None = settings.min_draws if on else None
        self.looks: list[dict[str, Any]] = []
        #: The draws the passing look judged (expanded, with the fused density): the fit's.
        self.kept: az.InferenceData | None = None

    def due(self, rows: list[int]) -> bool:
        """Whether every chain has made the draws of the next look (``rows``: each chain's rows,
        warm-up included, :func:`_rows_per_chain`)."""
        if self.at is None:
            return False
        return len(rows) == self.settings.chains and min(rows) >= self.settings.tune + self.at

    def converged(self, trace: Callable[[], az.InferenceData], report: Progress) -> bool:
        """Whether the first ``self.at`` draws of each chain of ``trace()`` (the running sampler's
        draws so far, or the finished draws) pass the fit's judge with the margin; if not, the next
        look is set (or none).

        A look never stops a fit as failing, however short its ESS: early in a fit whose chains
        have not yet mixed, the ESS grows faster than the draws, and a fit stopped then would have
        passed at its end."""
        n = self.at
        try:
            idata = _first_draws(trace(), n)
            if self.used == "fused":
                idata = self.built.expanded(idata, self.design)
            diag = self.judge(idata, EARLY_STOP_ESS_MARGIN)
        except Exception:  # noqa: BLE001 - a look that fails ends the looks, not the fit
            log.warning("a look at %d draws per chain failed; the fit runs to its end", n, exc_info=True)
            self.at = None
            return False
        self.looks.append({"draws": n, "ok": diag["ok"], "problems": diag["problems"]})
        log.info("look at %d draws per chain: %s", n, "; ".join(diag["problems"]) or "converged")
        if diag["ok"]:
            report(0.98, f"sampling: converged after {n} draws per chain, stopping early")
            self.kept = idata
            return True
        self.at = self._next(n, diag)
        return False

    def _next(self, n: int, diag: dict[str, Any]) -> int | None:
        if diag["divergences"]:
            return None
        chains = self.settings.chains
        needs = [
            (EARLY_STOP_ESS_MARGIN * ESS_PER_CHAIN_MIN * chains, diag["min_param_ess"]),
            (EARLY_STOP_ESS_MARGIN * ESS_MIN, diag["min_ess_bulk"]),
            (EARLY_STOP_ESS_MARGIN * ESS_MIN, diag["min_ess_tail"]),
        ]
        short = max((need / seen for need, seen in needs if np.isfinite(seen) and seen > 0), default=1.0)
        projected = CHECK_EVERY * int(np.ceil(n * short / CHECK_EVERY))
        at = min(max(n + CHECK_EVERY, projected), n + 2 * CHECK_EVERY)
        return at if at < self.settings.draws else None


def _first_draws(idata: az.InferenceData, n: int) -> az.InferenceData:
    """The first ``n`` kept draws of each chain (the warm-up as it is)."""
    groups = [g for g in ("posterior", "sample_stats") if g in idata.groups()]
    return idata.isel(draw=slice(0, n), groups=groups)


def _rows_per_chain(sampler: Any) -> list[int]:
    """Rows (warm-up and kept draws) each chain of a running nutpie sampler has made so far.

    They are counted on nutpie's raw Arrow trace, one row per draw. Its public ``inspect()``
    converts the whole trace to ArviZ on every reading: at the default settings that takes about
    as long as the interval between progress readings and competes with the chains for the
    cores. The raw trace is nutpie's internal interface, so where it is not there (another nutpie
    version) the rows are counted on ``inspect()``'s draws (nutpie pads a chain that is behind
    with NaN).
    """
    raw = getattr(sampler, "_sampler", None)
    results = raw.inspect() if raw is not None and hasattr(raw, "inspect") else None
    if results is not None and hasattr(results, "get_arrow_trace") and results.is_arrow():
        _, stat_batches = results.get_arrow_trace()
        return [int(batch.num_rows) for batch in stat_batches]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arviz complains about chains with no draws yet
        partial = sampler.inspect()
    rows = np.zeros(int(partial.posterior.sizes.get("chain", 1)), dtype=int)
    for group in ("warmup_posterior", "posterior"):
        if group in partial.groups() and partial[group].data_vars:
            first = next(iter(partial[group].data_vars.values())).transpose("chain", "draw", ...).values
            rows += np.isfinite(first.reshape(first.shape[0], first.shape[1], -1)[:, :, 0]).sum(axis=1)
    return rows.tolist()


def _finished(sampler: Any) -> bool:
    try:
        return bool(sampler.is_finished)
    except TimeoutError:  # nutpie's way of saying "still running"
        return False


def diagnostics(
    idata: az.InferenceData,
    *,
    outcome_probability: Any | None = None,
    observed_periods: int | None = None,
    ess_margin: float = 1.0,
) -> dict[str, Any]:
    """R-hat, bulk/tail ESS, divergences and E-BFMI, with ``ok`` and the problems in words.

    ``min_ess_bulk`` / ``min_ess_tail`` are those of the outcome probabilities users read
    (``outcome_probability``, chain/draw/outcome_horizon), which must reach ``ESS_MIN``. Every
    model parameter and every factor state in the first ``observed_periods`` quarters (through
    the as-of quarter; all of them when ``None``) must reach ``ESS_PER_CHAIN_MIN`` per chain, and
    R-hat must be at most ``RHAT_MAX`` for those and the outcome probabilities alike.
    ``failing`` names the quantities that miss a limit, worst first (at most
    :data:`FAILING_SHOWN`), with their R-hat and smaller ESS, so a failed run can say which.

    The innovations are not judged one by one: they are the sampler's coordinates for the factor
    states (one to one, given the persistence), so a chain stuck in them shows in the states.
    Beyond the as-of quarter they are padding with no data (their posterior is their prior), and
    the forecast reads those quarters through the outcome probabilities. Judging some 250
    innovations separately would multiply R-hat's chance fluctuations (a run failing on one
    innovation while every factor state it drives is fine).

    ``ess_margin`` multiplies both ESS limits (an early-stopping fit's look, :class:`Checkpoints`).
    ``draws`` is the number of kept draws per chain judged.
    """
    with warnings.catch_warnings():
        # Entries fixed at zero have no variance: arviz warns about dividing by it (and gives NaN).
        warnings.simplefilter("ignore", RuntimeWarning)
        return _diagnostics(idata, outcome_probability, observed_periods, ess_margin)


def _quantities(arrays: Any) -> tuple[np.ndarray, list[str]]:
    """Draws of every entry of ``arrays`` (each with chain and draw dimensions) as
    ``(quantity, chain, draw)``, and each entry's name, e.g. ``count_dispersion[summits]``."""
    blocks, names = [], []
    for array in arrays:
        array = array.transpose("chain", "draw", ...)
        values = array.values
        blocks.append(np.moveaxis(values.reshape(values.shape[0], values.shape[1], -1), 2, 0))
        dims = array.dims[2:]
        labels = [array[d].values if d in array.coords else np.arange(array.sizes[d]) for d in dims]
        for entry in itertools.product(*labels):
            names.append(f"{array.name}[{', '.join(str(v) for v in entry)}]" if dims else str(array.name))
    return np.concatenate(blocks, axis=0), names


def _failing(names: list[str], stats: dict[str, np.ndarray], ess_min: float) -> list[tuple[float, str]]:
    """(severity, "name (R-hat, ESS)") of each quantity failing R-hat or ESS; severity grows with
    how far it misses (R-hat's excess in units of the limit's, ESS's shortfall as a ratio)."""
    out = []
    for n, rhat, bulk, tail in zip(names, stats["r_hat"], stats["ess_bulk"], stats["ess_tail"]):
        ess = min(bulk, tail)
        if not (rhat > RHAT_MAX or ess < ess_min):
            continue
        severity = max((rhat - 1.0) / (RHAT_MAX - 1.0), ess_min / max(ess, 1.0))
        out.append((float(severity), f"{n} (R-hat {rhat:.3f}, ESS {ess:.0f})"))
    return out


def _extreme(pick: Callable[[np.ndarray], Any], values: np.ndarray) -> float:
    """``pick`` (``np.max`` or ``np.min``) of the values, NaNs skipped as pandas does; NaN if none."""
    values = values[~np.isnan(values)]
    return float(pick(values)) if values.size else float("nan")


def _diagnostics(
    idata: az.InferenceData, outcome_probability: Any | None, observed_periods: int | None, ess_margin: float
) -> dict[str, Any]:
    post = idata.posterior
    names = [n for n in MONITORED if n in post]
    monitored = post[names]
    if "factor_state" in post:
        monitored = monitored.assign(factor_state=post["factor_state"].isel(period=slice(0, observed_periods)))
    draws, names = _quantities(monitored.data_vars.values())
    params = convergence.summary(draws)
    # Entries fixed at zero (absent loadings) have no spread (R-hat NaN): they carry no information.
    spread = ~np.isnan(params["r_hat"])
    params = {name: values[spread] for name, values in params.items()}
    max_rhat = _extreme(np.max, params["r_hat"])
    min_param_ess = min(_extreme(np.min, params["ess_bulk"]), _extreme(np.min, params["ess_tail"]))
    param_ess_min = ess_margin * ESS_PER_CHAIN_MIN * post.sizes["chain"]
    ess_min = ess_margin * ESS_MIN
    failing = _failing([n for n, keep in zip(names, spread) if keep], params, param_ess_min)
    if outcome_probability is not None and outcome_probability.sizes.get("outcome_horizon", 0):
        prob_draws, prob_names = _quantities([outcome_probability.rename("outcome_probability")])
        probs = convergence.summary(prob_draws)
        max_rhat = max(max_rhat, _extreme(np.max, probs["r_hat"]))
        min_bulk = _extreme(np.min, probs["ess_bulk"])
        min_tail = _extreme(np.min, probs["ess_tail"])
        failing += _failing(prob_names, probs, ess_min)
    else:
        min_bulk = _extreme(np.min, params["ess_bulk"])
        min_tail = _extreme(np.min, params["ess_tail"])
    stats = idata.sample_stats
    div_name = "diverging" if "diverging" in stats else None
    divergences = int(stats[div_name].sum()) if div_name else 0
    try:
        min_bfmi = float(np.min(az.bfmi(idata)))
    except Exception:  # noqa: BLE001 - no energy recorded
        min_bfmi = float("nan")
    problems = []
    if max_rhat > RHAT_MAX:
        problems.append(f"R-hat {max_rhat:.3f} above {RHAT_MAX}")
    if min_bulk < ess_min:
        problems.append(f"bulk ESS {min_bulk:.0f} below {ess_min:.0f}")
    if min_tail < ess_min:
        problems.append(f"tail ESS {min_tail:.0f} below {ess_min:.0f}")
    if min_param_ess < param_ess_min:
        problems.append(f"a parameter's or factor state's ESS {min_param_ess:.0f} below {param_ess_min:.0f}")
    if divergences:
        problems.append(f"{divergences} divergent transitions")
    if np.isfinite(min_bfmi) and min_bfmi < BFMI_MIN:
        problems.append(f"E-BFMI {min_bfmi:.2f} below {BFMI_MIN}")
    return {
        "max_rhat": round(max_rhat, 4),
        "min_ess_bulk": round(min_bulk, 1),
        "min_ess_tail": round(min_tail, 1),
        "divergences": divergences,
        "min_bfmi": None if not np.isfinite(min_bfmi) else round(min_bfmi, 3),
        "ok": not problems,
        "problems": problems,
        "failing": [text for _, text in sorted(failing, reverse=True)[:FAILING_SHOWN]],
        "min_param_ess": round(min_param_ess, 1),
        "draws": int(post.sizes["draw"]),
        **_sampler_attributes(post),
    }


def _sampler_attributes(posterior: xr.Dataset) -> dict[str, Any]:
    """What a verdict reports of how the draws were made: the tuning steps and whether the fit
    started from an earlier posterior (:func:`sample` records them on the posterior)."""
    attrs = posterior.attrs
    return {
        **({"tune": int(attrs["tune"])} if "tune" in attrs else {}),
        **({"warm_start": bool(attrs["warm_start"])} if "warm_start" in attrs else {}),
    }
