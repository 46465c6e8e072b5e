"""The model's structural priors: one named, documented set of constants (:class:`PriorConfig`).

Every prior constant of the model's structure lives here, once: the factors' persistence, the
loadings' scale, each indicator family's intercept, dispersion, precision and cutpoint scales,
and the measurement model (how far a report of each source grade is trusted, and the spurious
report a distrusted one is read as). :mod:`models.model`, the families' PyMC parts, their NumPy
parts and the fused kernel (:mod:`models.density`) all read them from the config a design was
built with (``Design.priors``), so the graph and the kernel cannot disagree about a number.

What is *not* here: the hazard priors, which the case elicits per outcome
(:mod:`models.elicitation`, case data already); the innovations' unit sd and the raw cutpoints'
unit sd, which are the model's identification and non-centred parameterisation rather than
priors (their scale is carried by ``loading_scale`` and the cut scales); and numerical guards
that are no prior (``ORDINAL_EDGE``, ``PROPORTION_EPS``, the count family's Stirling threshold).

A case may override the fields the case schema lists (``indicators.case.PRIOR_OVERRIDES``, with
their ranges; ``priors:`` in the case file); :func:`priors_for` builds a case's config. Each run
records the config it was fitted with (``priors`` in ``forecast.json``). No PyMC here: the
dashboard reads a run's priors through this module.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from indicators.case import PRIOR_OVERRIDES, Case


def _table(values: Mapping[Any, float]) -> Mapping[Any, float]:
    return MappingProxyType(dict(values))


def _prior(default: Any, distribution: str, meaning: str) -> Any:
    """A field of :class:`PriorConfig` with what it is (its place in the model, as a distribution
    written with ``{}`` for the value and ``{name:g}`` for another field's) and why it has this
    value."""
    if isinstance(default, Mapping):
        return field(
            default_factory=lambda: _table(default), metadata={"distribution": distribution, "meaning": meaning}
        )
    return field(default=default, metadata={"distribution": distribution, "meaning": meaning})


@dataclass(frozen=True)
class PriorConfig:
    """The structural prior constants of the model (a ``model_config``): each field says where
    it enters the model and why it has its default value."""

    # ------------------------------------------------------------------ factors and loadings

    persistence_alpha: float = _prior(
        18.0,
        "persistence ~ Beta({}, {persistence_beta:g})",
        "Quarterly AR(1) coefficient of each factor. Beta(18, 2) has mean 0.9 and 90% between 0.77 "
        "and 0.98: factors drift slowly, a shock halving in about seven quarters, as a political "
        "climate does; worth 20 quarters of evidence, so a long record can move it.",
    )
    persistence_beta: float = _prior(2.0, "persistence ~ Beta({persistence_alpha:g}, {})", "See persistence_alpha.")
    loading_scale: float = _prior(
        1.0,
        "abs(loading) ~ HalfNormal({}) (sign from the case); Normal(0, {}) when free",
        "Factors have unit variance, so a loading of 1 moves the indicator's linear predictor by "
        "1 (a factor of e in a count's rate) per factor sd: large effects are possible, very large "
        "ones (beyond 2 to 3) unlikely.",
    )

    # ------------------------------------------------------------------ count indicators

    count_intercept_sd: float = _prior(
        1.0,
        "count intercept ~ Normal(log mean count per quarter, {})",
        "The log rate's level, centred on the indicator's own record: within a factor of e of "
        "the observed mean rate, which the data then pin down.",
    )
    count_overdispersion_scale: float = _prior(
        0.3,
        "overdispersion ~ HalfNormal({})",
        "The share by which a count varies beyond its rate, the Stan team's prior for a negative "
        "binomial: median 0.20 (dispersion 25), 97.5% point 0.67 (dispersion 2.2), added to the "
        "least over-dispersion every count has (count_dispersion_max). A wider scale (0.5) "
        "spreads a large-count series up the funnel the factor states form with it and mixes "
        "worse (benchmarks/README.md, Convergence).",
    )
    count_dispersion_max: float = _prior(
        100.0,
        "dispersion = 1 / (overdispersion^2 + 1 / {})",
        "The least over-dispersion a count has: its sd beyond the Poisson's is at least a tenth "
        "of its mean (1 / sqrt(100)), because reported events come in clusters (a sortie, a "
        "patrol, a crisis) rather than one at a time. It matters only for large counts: a "
        "Poisson fiscal-year total of hundreds of scrambles would pin its factor's path to "
        "within a few percent, more than a smooth quarterly factor can honestly claim, and "
        "would form a funnel with the factor states that halves the sampler's step size. Small "
        "counts are Poisson-like either way (variance mu + mu^2 / 100).",
    )
    count_spurious_alpha: float = _prior(
        0.5,
        "spurious count ~ NegBinomial(record's mean, dispersion {})",
        "A report that does not measure the indicator: a count around its usual mean, but so "
        "dispersed (variance mu + 2 mu^2) that almost any count is plausible under it.",
    )

    # ------------------------------------------------------------------ binary indicators

    binary_intercept_sd: float = _prior(
        1.5,
        "binary intercept ~ Normal(0, {}) (logit)",
        "90% of the prior puts the typical probability between 8% and 92%: weakly informative "
        "on the logit scale without piling mass on 0 and 1.",
    )

    # ------------------------------------------------------------------ continuous indicators

    continuous_intercept_sd: float = _prior(
        1.0,
        "continuous intercept ~ Normal(0, {}) (standardised)",
        "Values are standardised by the indicator's own mean and sd, so its level sits within "
        "about one sd of the record's mean.",
    )
    continuous_sigma_scale: float = _prior(
        1.0,
        "continuous sigma ~ HalfNormal({}) (standardised)",
        "Noise around the factors' signal, at most about the record's own sd: the factors may "
        "explain anything from none to nearly all of the variation.",
    )
    continuous_spurious_sd: float = _prior(
        3.0,
        "spurious value ~ Normal(0, {}) (standardised)",
        "A report that does not measure the indicator: anywhere within a few record sds of the mean.",
    )

    # ------------------------------------------------------------------ proportion indicators

    proportion_intercept_sd: float = _prior(
        1.5, "proportion intercept ~ Normal(0, {}) (logit)", "As the binary intercept: the typical share within 8%-92%."
    )
    proportion_kappa_shape: float = _prior(
        2.0,
        "kappa ~ Gamma({}, {proportion_kappa_rate:g})",
        "Beta precision of a proportion, Gamma(2, 0.1): mean 20 (a share of 0.5 with sd about "
        "0.1), 90% between 3.6 and 47, from very noisy to fairly precise surveys.",
    )
    proportion_kappa_rate: float = _prior(
        0.1, "kappa ~ Gamma({proportion_kappa_shape:g}, {})", "See proportion_kappa_shape."
    )

    # ------------------------------------------------------------------ ordinal indicators

    ordinal_first_cut_scale: float = _prior(
        1.5,
        "first cutpoint = {} * Normal(0, 1)",
        "The lowest cutpoint on the logit scale, as weakly informative as a binary intercept.",
    )
    ordinal_gap_scale: float = _prior(
        0.5,
        "each further gap = exp({} * Normal(0, 1))",
        "Gaps between cutpoints are log-normal around 1 (90% within 0.44 to 2.3): levels roughly "
        "evenly spaced on the logit scale unless the data say otherwise.",
    )

    # ------------------------------------------------------------------ the measurement model

    reliability_genuine: Mapping[str, float] = _prior(
        {"A": 0.99, "B": 0.95, "C": 0.85, "D": 0.7, "E": 0.35, "F": 0.6},
        "P(genuine) by the source's Admiralty reliability grade",
        "Every row is a mixture: genuine with this probability (times the credibility factor), "
        "else a spurious report. F (cannot be judged) sits below C: an unknown source is trusted "
        "less than a fairly reliable one, more than one known to be unreliable (E).",
    )
    credibility_factor: Mapping[int, float] = _prior(
        {1: 1.0, 2: 0.97, 3: 0.9, 4: 0.65, 5: 0.35, 6: 0.8},
        "factor on P(genuine) by the information's credibility (1 confirmed ... 6 cannot be judged)",
        "Doubtful information moves the forecast less than confirmed information from the same source.",
    )
    genuine_min: float = _prior(
        0.02, "P(genuine) >= {}", "No report is certainly spurious: even the worst counts a little."
    )
    genuine_max: float = _prior(
        0.995, "P(genuine) <= {}", "No report is certainly genuine: one wild value cannot dominate the fit."
    )
    absence_genuine: float = _prior(
        0.99,
        "P(genuine) of an events quarter with nothing recorded = {}",
        "A quarter inside an events indicator's coverage with no record is a zero, trusted like a "
        "grade-A report: the record is kept, but an event may have been missed.",
    )

    # ------------------------------------------------------------------ reading

    @property
    def persistence(self) -> tuple[float, float]:
        """The persistence's Beta(a, b)."""
        return (self.persistence_alpha, self.persistence_beta)

    def value(self, ref: str | float | None) -> float | None:
        """A prior constant by field name; a number stands for itself (a fixed sd), None for none."""
        return float(getattr(self, ref)) if isinstance(ref, str) else ref

    def values(self, names: tuple[str, ...]) -> tuple[float, ...]:
        return tuple(float(getattr(self, n)) for n in names)

    def genuine(self, reliability: str, credibility: int) -> float:
        """P(a report is genuine), from its reliability grade and its information's credibility."""
        w = self.reliability_genuine[str(reliability)] * self.credibility_factor[int(credibility)]
        return min(max(w, self.genuine_min), self.genuine_max)

    def replace(self, **changes: Any) -> PriorConfig:
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ the record

    def as_dict(self) -> dict[str, Any]:
        """Every field by name, as JSON can hold it (a table's keys as strings)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = {str(k): float(x) for k, x in v.items()} if isinstance(v, Mapping) else float(v)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PriorConfig:
        """The config of :meth:`as_dict`'s mapping; a field it lacks takes its default. An unknown
        name is a ``ValueError`` (a record written by another version of this module)."""
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"unknown prior constant(s): {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if name == "credibility_factor":
                kwargs[name] = _table({int(k): float(x) for k, x in value.items()})
            elif isinstance(value, Mapping):
                kwargs[name] = _table({str(k): float(x) for k, x in value.items()})
            else:
                kwargs[name] = float(value)
        return cls(**kwargs)

    def digest(self) -> str:
        """A stable hash of the values (16 hex digits): equal configs, equal digests, across
        processes and versions of Python."""
        text = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def __hash__(self) -> int:
        return hash(self.digest())

    def differences(self, other: PriorConfig) -> list[str]:
        """The fields whose values differ from ``other``'s, in the order of the fields."""
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name) != getattr(other, f.name)]


#: The model's priors: what every case is fitted with unless it overrides some.
DEFAULT_PRIORS = PriorConfig()

#: Model versions whose every run was fitted with :data:`DEFAULT_PRIORS` exactly (no case could
#: override a prior, and the constants were today's), so a ``forecast.json`` of one of them that
#: records no priors is read as having these. A version whose defaults differ from today's is not
#: listed: its runs without a record read as "not recorded".
DEFAULTS_OF_VERSIONS = frozenset({"1.8.0"})  # 1.8.0 set the least over-dispersion of a count


def priors_for(case: Case) -> PriorConfig:
    """The config a case is fitted with: :data:`DEFAULT_PRIORS` with the case's ``priors:``
    overrides (the case schema has checked their names and ranges)."""
    overrides = case.priors.model_dump(exclude_none=True) if case.priors is not None else {}
    return DEFAULT_PRIORS.replace(**overrides) if overrides else DEFAULT_PRIORS


def fields() -> tuple[dataclasses.Field, ...]:
    return dataclasses.fields(PriorConfig)


def describe(values: Mapping[str, Any], overridden: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """One row per prior constant, for pages and reports: ``name``, ``distribution`` (with its
    value put in), ``value`` (text), ``meaning``, ``overridden`` (set by the case) and
    ``overridable`` (a case may set it). ``values`` is a config's :meth:`PriorConfig.as_dict`."""
    rows = []
    scalars = {k: float(v) for k, v in {**DEFAULT_PRIORS.as_dict(), **values}.items() if not isinstance(v, Mapping)}
    for f in fields():
        if f.name not in values:
            continue
        v = values[f.name]
        text = ", ".join(f"{k}: {x:g}" for k, x in v.items()) if isinstance(v, Mapping) else f"{float(v):g}"
        rows.append(
            {
                "name": f.name,
                "distribution": f.metadata["distribution"].replace("{}", text).format(**scalars),
                "value": text,
                "meaning": f.metadata["meaning"],
                "overridden": f.name in overridden,
                "overridable": f.name in PRIOR_OVERRIDES,
            }
        )
    return rows


def record(config: PriorConfig) -> dict[str, Any]:
    """The run's record of its priors (``priors`` in ``forecast.json``): the values, their hash
    and the fields that differ from the defaults (the case's overrides)."""
    return {"hash": config.digest(), "overrides": config.differences(DEFAULT_PRIORS), "values": config.as_dict()}
