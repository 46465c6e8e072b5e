"""The case file: factors, indicators, outcomes and scenarios of one forecasting case.

A case is YAML, read with a safe loader and validated into plain, frozen pydantic objects.
Errors name the field and the line of the YAML file where it stands, in one sentence.

Schema (see ``data/cases/northern_territories.yaml`` for a full example)::

    id, name, description, start (first day of the modelled period)
    factors:     [{id, name, meaning, anchor}]     anchor: an indicator whose loading on this
                                                   factor is fixed positive (identification)
    indicators:  [{id, name, description, family, unit, aggregation, coverage_start, coverage_end,
                   loadings: {factor: positive|negative|free}, min, max, levels, coding}]
    outcomes:    [{id, question, resolution_criteria, horizons, base_rate: {annual, range?, reasoning},
                   effects: {factor: raises|lowers|free},
                   effect_sizes?: {factor: {odds_ratio: [low, high], rationale}},
                   resolved: {date, evidence} | null}]
    scenarios:   [{id, name, description, source,
                   observations: [{indicator, months_ahead, span_months, value,
                                   reliability, credibility, note}]}]
    priors:      {name: number}                    optional: the model's structural priors this
                                                   case sets (:data:`PRIOR_OVERRIDES`)
    cross_effects: [{from_factor, to_factor, effect: raises|lowers, size?: [low, high], rationale}]
                                                   optional: lagged effects between factors (the
                                                   state of from_factor in quarter t-1 moves
                                                   to_factor in quarter t); no self-loops, no
                                                   pair twice, no cycles (:class:`CrossEffect`)

``docs/case-file.md`` documents every field. Validation reports every problem of a file at once
(:func:`check_case`), each with its line: field errors, unknown keys (with the nearest known
key), keys given twice, and the rules that tie fields together (an indicator's family and
aggregation, anchors, the factors loadings and effects name, the indicators scenarios name).
Those rules are written once, on plain data (:func:`indicator_problems`,
:func:`reference_problems`), and are also checked by the models' own validators, so a case built
in code obeys them too.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from indicators.errors import BadInput


@dataclass(frozen=True)
class FamilyRules:
    """What a case may say of an indicator of one likelihood family: how its observations
    aggregate, the natural range of its values, and whether they are whole numbers. The family's
    model (design, likelihood, kernel) is its module in ``models.families``; this package sits
    below ``models`` and keeps only these rules, which ``tests/test_families.py`` holds equal to
    the registry's."""

    aggregations: tuple[str, ...]
    low: float
    #: None: the ordinal family's top level, ``len(levels) - 1``.
    high: float | None
    integer: bool


_INF = float("inf")
#: The case schema's likelihood families, one entry each, in ``models.families.FAMILIES``' order.
FAMILY_RULES: dict[str, FamilyRules] = {
    "count": FamilyRules(("events", "total"), 0.0, _INF, integer=True),
    "binary": FamilyRules(("level",), 0.0, 1.0, integer=True),
    "continuous": FamilyRules(("level",), -_INF, _INF, integer=False),
    "proportion": FamilyRules(("level",), 0.0, 1.0, integer=False),
    "ordinal": FamilyRules(("level",), 0.0, None, integer=True),
}
FAMILIES: tuple[str, ...] = tuple(FAMILY_RULES)
Family = Literal[FAMILIES]  # type: ignore[valid-type]  # the names of FAMILY_RULES
Aggregation = Literal["events", "total", "level"]
Sign = Literal["positive", "negative", "free"]
Effect = Literal["raises", "lowers", "free"]

ID_PATTERN = r"^[a-z][a-z0-9_]*$"
RELIABILITY_GRADES = ("A", "B", "C", "D", "E", "F")
CREDIBILITY_GRADES = (1, 2, 3, 4, 5, 6)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Factor(_Strict):
    """A latent, time-varying state; higher values mean more of what ``meaning`` says."""

    id: str = Field(pattern=ID_PATTERN)
    name: str
    meaning: str
    anchor: str = Field(pattern=ID_PATTERN)


class Indicator(_Strict):
    """Something observed over time that reflects one or more factors.

    ``aggregation``:
      - ``events``: each observation is a dated event (value = number of events, usually 1);
        periods inside the indicator's coverage (``coverage_start`` through ``coverage_end``, or
        the as-of date when the record is kept up to date) with no recorded event count as zero;
        periods outside it are missing, not zero.
      - ``total``: each observation is a total over its stated period (e.g. a fiscal year).
      - ``level``: each observation measures the level over its period (binary, continuous,
        proportion, ordinal families).
    """

    id: str = Field(pattern=ID_PATTERN)
    name: str
    description: str
    family: Family
    unit: str
    aggregation: Aggregation
    coverage_start: date | None = None
    coverage_end: date | None = None
    loadings: dict[str, Sign] = Field(min_length=1)
    min: float | None = None
    max: float | None = None
    levels: list[str] | None = None
    coding: str | None = None

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Indicator:
        if not _collecting(info):
            _raise_first(indicator_problems(self.model_dump()))
        return self

    @property
    def value_range(self) -> tuple[float, float]:
        """Valid values (inclusive), from the family and the case's stated range."""
        return value_range(self.family, self.levels, self.min, self.max)

    @property
    def integer_valued(self) -> bool:
        return FAMILY_RULES[self.family].integer


#: A base rate stated as a point (``annual`` alone) is read as the 90% range from a quarter of it
#: to four times it (capped below 1): an order-of-magnitude judgement, 16-fold wide, centred
#: (geometrically) on the point (docs/case-file.md, "Outcomes").
DEFAULT_BASE_RATE_FACTOR = 4.0
#: An effect stated by its sign alone is read as this 90% range of the odds ratio per factor sd:
#: "raises" means it at most doubles the odds per sd, "lowers" at most halves them, "free"
#: either (docs/case-file.md, "Outcomes").
DEFAULT_EFFECT_ODDS_RATIO: dict[str, tuple[float, float]] = {
    "raises": (1.0, 2.0),
    "lowers": (0.5, 1.0),
    "free": (0.5, 2.0),
}


class BaseRate(_Strict):
    """The annual probability of the outcome: a point and, optionally, its 90% range."""

    annual: float = Field(gt=0, lt=1)
    range: tuple[float, float] | None = None  # (low, high) annual probability, 90%
    reasoning: str

    @model_validator(mode="after")
    def _range(self) -> BaseRate:
        if self.range is not None:
            low, high = self.range
            if not 0 < low < self.annual < high < 1:
                raise ValueError("base_rate.range must be [low, high] with 0 < low < annual < high < 1")
        return self

    @property
    def annual_range(self) -> tuple[float, float]:
        """The stated 90% range, or the default one around the point."""
        if self.range is not None:
            return self.range
        f = DEFAULT_BASE_RATE_FACTOR
        return self.annual / f, min(self.annual * f, 0.5 + self.annual / 2)


class EffectSize(_Strict):
    """An outcome×factor effect as an odds ratio per factor sd: its 90% range and why."""

    odds_ratio: tuple[float, float]
    rationale: str = Field(min_length=1)

    @field_validator("odds_ratio")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 < v[0] < v[1]:
            raise ValueError("odds_ratio must be [low, high] with 0 < low < high")
        return v


#: A cross effect stated by its sign alone is read as this 90% range of its size (the shift of
#: the affected factor's quarterly shock, in units of that shock's sd, per sd of the other
#: factor's state the quarter before; docs/case-file.md, "Cross effects").
DEFAULT_CROSS_EFFECT_SIZE: dict[str, tuple[float, float]] = {
    "raises": (0.05, 0.5),
    "lowers": (-0.5, -0.05),
}


class CrossEffect(_Strict):
    """A lagged effect of one factor on another: ``from_factor``'s state in quarter t-1 moves
    ``to_factor``'s in quarter t, in the direction ``effect``; ``size`` is the 90% range of the
    effect (``models.model``'s ``cross_effect``: the shift of ``to_factor``'s quarterly shock, in
    units of that shock's sd, per sd of ``from_factor``), the sign's default when left out."""

    from_factor: str = Field(pattern=ID_PATTERN)
    to_factor: str = Field(pattern=ID_PATTERN)
    effect: Literal["raises", "lowers"]
    size: tuple[float, float] | None = None
    rationale: str = Field(min_length=1)

    @model_validator(mode="after")
    def _size(self) -> CrossEffect:
        if self.size is not None:
            low, high = self.size
            if not low < high:
                raise ValueError("size must be [low, high] with low < high")
            if (self.effect == "raises" and high <= 0) or (self.effect == "lowers" and low >= 0):
                raise ValueError(f"size {low:g}..{high:g} contradicts '{self.effect}'")
        return self

    @property
    def size_range(self) -> tuple[float, float]:
        """The 90% range of the effect's size (stated, or the sign's default)."""
        return self.size if self.size is not None else DEFAULT_CROSS_EFFECT_SIZE[self.effect]


class Resolution(_Strict):
    date: date
    evidence: str


class Outcome(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    question: str
    resolution_criteria: str
    horizons: list[int] = Field(min_length=1)
    base_rate: BaseRate
    effects: dict[str, Effect] = Field(min_length=1)
    #: Per factor named in ``effects``: the odds ratio's 90% range and rationale (optional; a
    #: factor left out gets DEFAULT_EFFECT_ODDS_RATIO for its sign).
    effect_sizes: dict[str, EffectSize] = Field(default_factory=dict)
    resolved: Resolution | None = None

    @model_validator(mode="after")
    def _sizes(self) -> Outcome:
        for fid, size in self.effect_sizes.items():
            sign = self.effects.get(fid)
            if sign is None:
                raise ValueError(f"effect_sizes names '{fid}', which is not in effects")
            low, high = size.odds_ratio
            if (sign == "raises" and high <= 1) or (sign == "lowers" and low >= 1):
                raise ValueError(f"effect_sizes '{fid}': odds ratio {low}-{high} contradicts '{sign}'")
        return self

    def effect_odds_ratio(self, factor_id: str) -> tuple[float, float]:
        """The 90% range of the odds ratio per sd of ``factor_id`` (stated, or the sign's default)."""
        if factor_id in self.effect_sizes:
            return self.effect_sizes[factor_id].odds_ratio
        return DEFAULT_EFFECT_ODDS_RATIO[self.effects[factor_id]]

    @field_validator("horizons")
    @classmethod
    def _horizons(cls, v: list[int]) -> list[int]:
        if any(h <= 0 for h in v):
            raise ValueError("horizons are positive numbers of years")
        if sorted(set(v)) != v:
            raise ValueError("horizons must be strictly increasing")
        return v


class HypotheticalObservation(_Strict):
    """An observation a scenario supposes, placed relative to the forecast's as-of date."""

    indicator: str = Field(pattern=ID_PATTERN)
    months_ahead: int = Field(ge=0, le=120)
    span_months: int = Field(default=0, ge=0, le=24)
    value: float
    reliability: Literal["A", "B", "C", "D", "E", "F"] = "B"
    credibility: int = Field(default=2, ge=1, le=6)
    note: str = ""


class Scenario(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str
    description: str
    source: str = ""
    observations: list[HypotheticalObservation] = Field(min_length=1)


#: The model's structural priors a case may set (``priors:``), each a number in its range
#: (above the first, at most the second). The names are those of ``models.priors.PriorConfig``,
#: which documents each; this package sits below ``models`` and cannot read it, so
#: ``tests/test_priors.py`` holds the two lists together. Numerical guards and the source-grade
#: tables are not listed: they are the model's, not a case's, to choose.
PRIOR_OVERRIDES: dict[str, tuple[float, float]] = {
    "persistence_alpha": (0.0, 1000.0),
    "persistence_beta": (0.0, 1000.0),
    "loading_scale": (0.0, 10.0),
    "count_intercept_sd": (0.0, 10.0),
    "count_overdispersion_scale": (0.0, 10.0),
    "count_spurious_alpha": (0.0, 100.0),
    "binary_intercept_sd": (0.0, 10.0),
    "continuous_intercept_sd": (0.0, 10.0),
    "continuous_sigma_scale": (0.0, 10.0),
    "continuous_spurious_sd": (0.0, 100.0),
    "proportion_intercept_sd": (0.0, 10.0),
    "proportion_kappa_shape": (0.0, 1000.0),
    "proportion_kappa_rate": (0.0, 1000.0),
    "ordinal_first_cut_scale": (0.0, 10.0),
    "ordinal_gap_scale": (0.0, 10.0),
    "absence_genuine": (0.0, 0.999),
}

#: The ``priors:`` mapping of a case: every name of :data:`PRIOR_OVERRIDES`, optional, a number
#: (not a string or a boolean) in its range; any other name is an unknown key.
Priors = create_model(
    "Priors",
    __base__=_Strict,
    **{name: (float | None, Field(None, gt=lo, le=hi, strict=True)) for name, (lo, hi) in PRIOR_OVERRIDES.items()},
)


class Case(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str
    description: str
    start: date
    factors: list[Factor] = Field(min_length=1)
    indicators: list[Indicator] = Field(min_length=1)
    outcomes: list[Outcome] = Field(min_length=1)
    scenarios: list[Scenario] = Field(default_factory=list)
    priors: Priors | None = None  # type: ignore[valid-type]
    """Structural priors of the model this case sets (``models.priors.priors_for``)."""
    cross_effects: list[CrossEffect] = Field(default_factory=list)
    """Lagged effects between factors (``models.model``: the factors' VAR(1) has these entries
    off its diagonal and no others)."""

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Case:
        if not _collecting(info):
            _raise_first(reference_problems(self.model_dump()))
        return self

    def indicator(self, indicator_id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise KeyError(indicator_id)

    def outcome(self, outcome_id: str) -> Outcome:
        for o in self.outcomes:
            if o.id == outcome_id:
                return o
        raise KeyError(outcome_id)

    def scenario(self, scenario_id: str) -> Scenario:
        for s in self.scenarios:
            if s.id == scenario_id:
                return s
        raise KeyError(scenario_id)

    @property
    def factor_ids(self) -> list[str]:
        return [f.id for f in self.factors]

    @property
    def indicator_ids(self) -> list[str]:
        return [i.id for i in self.indicators]

    @property
    def outcome_ids(self) -> list[str]:
        return [o.id for o in self.outcomes]


# ---------------------------------------------------------------------------- rules across fields

#: A problem found in case data: where (the path of keys and list positions) and what.
Problem = tuple[tuple[Any, ...], str]

AGGREGATIONS: tuple[str, ...] = typing.get_args(Aggregation)


def _collecting(info: ValidationInfo) -> bool:
    """True while :func:`check_case` validates: it checks these rules itself, with their lines."""
    return bool(info.context and info.context.get("collect"))


def _raise_first(problems: list[Problem]) -> None:
    if problems:
        raise ValueError(problems[0][1])


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def value_range(family: str, levels: list[str] | None, lo: float | None, hi: float | None) -> tuple[float, float]:
    """Valid values (inclusive) of an indicator of ``family`` with the case's ``min``/``max``."""
    rules = FAMILY_RULES[family]
    low = rules.low
    high = rules.high if rules.high is not None else float(len(levels or [1]) - 1)
    if lo is not None:
        low = max(low, lo)
    if hi is not None:
        high = min(high, hi)
    return low, high


def indicator_problems(ind: Mapping[str, Any]) -> list[Problem]:
    """The rules that tie an indicator's fields together, on plain data (locations relative to
    the indicator); fields of the wrong type are left to the field checks."""
    out: list[Problem] = []
    family, aggregation = ind.get("family"), ind.get("aggregation")
    family = family if family in FAMILIES else None
    aggregation = aggregation if aggregation in AGGREGATIONS else None
    levels = ind.get("levels")
    if family == "ordinal":
        if not isinstance(levels, list) or len(levels) < 2:
            out.append((("levels",), "an ordinal indicator needs 'levels' with at least two labels"))
        if not ind.get("coding"):
            out.append((("coding",), "an ordinal indicator needs 'coding', the rule for its levels"))
    elif family is not None and levels is not None:
        out.append((("levels",), "'levels' is only for ordinal indicators"))
    if family and aggregation and aggregation not in FAMILY_RULES[family].aggregations:
        allowed = " or ".join(f"'{a}'" for a in FAMILY_RULES[family].aggregations)
        out.append((("aggregation",), f"a {family} indicator aggregates as {allowed}, not '{aggregation}'"))
    start, end = _as_date(ind.get("coverage_start")), _as_date(ind.get("coverage_end"))
    if aggregation == "events" and ind.get("coverage_start") is None:
        out.append(
            (("coverage_start",), "an 'events' indicator needs 'coverage_start', from when its record is complete")
        )
    if ind.get("coverage_end") is not None and aggregation is not None and aggregation != "events":
        out.append((("coverage_end",), "'coverage_end' is only for 'events' indicators"))
    if start is not None and end is not None and end < start:
        out.append((("coverage_end",), "'coverage_end' is before 'coverage_start'"))
    lo, hi = _number(ind.get("min")), _number(ind.get("max"))
    if lo is not None and hi is not None and lo > hi:
        out.append((("min",), "'min' is above 'max'"))
    return out


def _items(data: Mapping[str, Any], key: str) -> list[tuple[int, Mapping[str, Any]]]:
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [(k, item) for k, item in enumerate(value) if isinstance(item, Mapping)]


def _indicator_range(ind: Mapping[str, Any]) -> tuple[float, float] | None:
    family = ind.get("family")
    if family not in FAMILIES:
        return None
    levels = ind.get("levels") if isinstance(ind.get("levels"), list) else None
    return value_range(family, levels, _number(ind.get("min")), _number(ind.get("max")))


def reference_problems(data: Mapping[str, Any]) -> list[Problem]:
    """The rules across a case's parts, on plain data: unique ids, every factor, anchor and
    indicator named exists, anchors load positive, resolutions after the start, scenario values
    in range; and each indicator's own rules (:func:`indicator_problems`)."""
    out: list[Problem] = []
    for key, kind in (
        ("factors", "factor"),
        ("indicators", "indicator"),
        ("outcomes", "outcome"),
        ("scenarios", "scenario"),
    ):
        seen: set[Any] = set()
        for k, item in _items(data, key):
            ident = item.get("id")
            if isinstance(ident, str) and ident in seen:
                out.append(((key, k, "id"), f"{kind} id '{ident}' appears twice"))
            seen.add(ident)
    factor_ids = {f.get("id") for _, f in _items(data, "factors")}
    indicators = dict(_items(data, "indicators"))
    by_id = {ind.get("id"): ind for ind in indicators.values() if isinstance(ind.get("id"), str)}
    for k, ind in indicators.items():
        out += [(("indicators", k, *loc), msg) for loc, msg in indicator_problems(ind)]
        loadings = ind.get("loadings")
        for fid in loadings if isinstance(loadings, Mapping) else ():
            if fid not in factor_ids:
                out.append(
                    (("indicators", k, "loadings", fid), f"indicator '{ind.get('id')}' loads on unknown factor '{fid}'")
                )
    for k, f in _items(data, "factors"):
        anchor_id = f.get("anchor")
        if not isinstance(anchor_id, str):
            continue
        anchor = by_id.get(anchor_id)
        if anchor is None:
            out.append((("factors", k, "anchor"), f"factor '{f.get('id')}' has unknown anchor indicator '{anchor_id}'"))
        elif isinstance(anchor.get("loadings"), Mapping) and anchor["loadings"].get(f.get("id")) != "positive":
            out.append(
                (
                    ("factors", k, "anchor"),
                    f"factor '{f.get('id')}': its anchor '{anchor_id}' must load on it 'positive'",
                )
            )
    start = _as_date(data.get("start"))
    for k, o in _items(data, "outcomes"):
        effects = o.get("effects")
        for fid in effects if isinstance(effects, Mapping) else ():
            if fid not in factor_ids:
                out.append(
                    (
                        ("outcomes", k, "effects", fid),
                        f"outcome '{o.get('id')}' names unknown factor '{fid}' in effects",
                    )
                )
        resolved = o.get("resolved")
        when = _as_date(resolved.get("date")) if isinstance(resolved, Mapping) else None
        if when is not None and start is not None and when < start:
            out.append(
                (("outcomes", k, "resolved", "date"), f"outcome '{o.get('id')}' resolved before the case starts")
            )
    out += _cross_effect_problems(data, factor_ids)
    for k, sc in _items(data, "scenarios"):
        for j, h in _items(sc, "observations"):
            name = h.get("indicator")
            if not isinstance(name, str):
                continue
            if name not in by_id:
                out.append(
                    (
                        ("scenarios", k, "observations", j, "indicator"),
                        f"scenario '{sc.get('id')}' names unknown indicator '{name}'",
                    )
                )
                continue
            bounds, value = _indicator_range(by_id[name]), _number(h.get("value"))
            if bounds is not None and value is not None and not bounds[0] <= value <= bounds[1]:
                message = (
                    f"scenario '{sc.get('id')}': value {value:g} for '{name}' is outside {bounds[0]:g}..{bounds[1]:g}"
                )
                out.append((("scenarios", k, "observations", j, "value"), message))
    return out


def _cross_effect_problems(data: Mapping[str, Any], factor_ids: set[Any]) -> list[Problem]:
    """The cross effects' rules: both factors exist, no factor on itself, no pair twice, and no
    cycle (the effects form a directed acyclic graph, so the VAR's transition matrix is
    triangular up to an ordering of the factors and its eigenvalues are the persistences: the
    factors stay stationary whatever the effects' sizes)."""
    out: list[Problem] = []
    edges: dict[Any, set[Any]] = {}
    seen: set[tuple[Any, Any]] = set()
    for k, e in _items(data, "cross_effects"):
        source, target = e.get("from_factor"), e.get("to_factor")
        bad = False
        for key, fid in (("from_factor", source), ("to_factor", target)):
            if isinstance(fid, str) and fid not in factor_ids:
                out.append((("cross_effects", k, key), f"cross effect names unknown factor '{fid}' in {key}"))
                bad = True
        if not isinstance(source, str) or not isinstance(target, str) or bad:
            continue
        if source == target:
            out.append(
                (
                    ("cross_effects", k, "to_factor"),
                    f"cross effect of '{source}' on itself: a factor's own persistence is already in the model",
                )
            )
            continue
        if (source, target) in seen:
            out.append((("cross_effects", k), f"cross effect of '{source}' on '{target}' is declared twice"))
            continue
        seen.add((source, target))

        def reaches(a: Any, b: Any) -> bool:
            stack, visited = [a], set()
            while stack:
                node = stack.pop()
                if node == b:
                    return True
                if node not in visited:
                    visited.add(node)
                    stack.extend(edges.get(node, ()))
            return False

        if reaches(target, source):
            out.append(
                (
                    ("cross_effects", k),
                    f"cross effect of '{source}' on '{target}' closes a cycle of cross effects "
                    f"('{target}' already acts on '{source}'); cycles could make the factors non-stationary",
                )
            )
            continue
        edges.setdefault(source, set()).add(target)
    return out


# ---------------------------------------------------------------------------- the schema's fields


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (directly, in a list or dict, or optionally), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def schema_fields(model: type[BaseModel] | None = None, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every field a case file may have, as (dotted path, pydantic FieldInfo), parents first:
    ``id``, ..., ``indicators.loadings``, ``outcomes.base_rate.annual``, ..."""
    model = model or Case
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        yield path, info
        inner = _nested_model(info.annotation)
        if inner is not None:
            yield from schema_fields(inner, prefix=f"{path}.")


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model whose mapping sits at ``loc`` (list positions skipped), else None."""
    model: type[BaseModel] | None = Case
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None
        model = _nested_model(model.model_fields[part].annotation)
    return model


@dataclass(frozen=True)
class LoadedCase:
    """A validated case with the text it came from and that text's hash (its identity)."""

    case: Case
    text: str
    hash: str


class _LineLoader(yaml.SafeLoader):
    """Safe loader that remembers the line of every mapping and key, and every key given twice."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, str]] = []  # (line, key)


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=True)
    lines: dict[str, int] = {}
    for key_node, _ in node.value:
        key = str(key_node.value)
        if key in lines:
            loader.duplicates.append((key_node.start_mark.line + 1, key))
        lines[key] = key_node.start_mark.line + 1
    mapping["__lines__"] = lines
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _strip_lines(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip_lines(v) for k, v in obj.items() if k not in ("__lines__", "__line__")}
    if isinstance(obj, list):
        return [_strip_lines(v) for v in obj]
    return obj


def _line_of(raw: Any, loc: tuple[Any, ...]) -> int | None:
    node, line = raw, None
    for part in loc:
        if isinstance(node, dict):
            line = node.get("__lines__", {}).get(str(part), node.get("__line__", line))
            if part not in node:
                return line
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            if isinstance(node, dict):
                line = node.get("__line__", line)
        else:
            return line
    return line


def _field_path(loc: tuple[Any, ...], raw: Any) -> str:
    parts: list[str] = []
    node = raw
    for part in loc:
        if isinstance(part, int):
            ident = node[part].get("id") if isinstance(node, list) and isinstance(node[part], dict) else None
            parts[-1:] = [f"{parts[-1]}[{ident or part}]"] if parts else [f"[{part}]"]
        else:
            parts.append(str(part))
        if isinstance(node, (dict, list)):
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                node = None
    return ".".join(parts)


@dataclass(frozen=True)
class CaseProblem:
    """One problem of a case file: the field (dotted path, list items by id), its line, what."""

    field: str
    line: int | None
    message: str

    def text(self) -> str:
        at = f"line {self.line}: " if self.line else ""
        field = f"field '{self.field}': " if self.field else ""
        end = "" if self.message.endswith((".", "?")) else "."
        return f"{at}{field}{self.message}{end}"


class CaseErrors(BadInput):
    """A case file with problems: all of them, each with its line; nothing was loaded."""

    def __init__(self, where: str, problems: list[CaseProblem]):
        self.where = where
        self.problems = problems
        if len(problems) == 1:
            text = f"{where}: {problems[0].text()}"
        else:
            text = "\n".join([f"{where}: {len(problems)} problems:"] + [f"  {p.text()}" for p in problems])
        super().__init__(text)


_PYDANTIC_MESSAGES = {
    "missing": "required field is missing",
    "string_pattern_mismatch": "ids are lower-case letters, digits and underscores, starting with a letter",
}


def _pydantic_problems(exc: ValidationError) -> list[Problem]:
    """Pydantic's errors as (location, message); an unknown key names the nearest known one, and
    a missing field is not repeated when an unknown key next to it is its misspelling."""
    out: list[Problem] = []
    misspelt: set[tuple[Any, ...]] = set()
    errors = [
        (tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-"))), e) for e in exc.errors()
    ]
    for loc, err in errors:
        if err["type"] != "extra_forbidden" or not loc:
            continue
        model = _model_at(loc[:-1])
        known = list(model.model_fields) if model is not None else []
        guess = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        message = f"unknown key '{loc[-1]}'"
        if guess:
            message += f"; did you mean '{guess[0]}'?"
            misspelt.add(loc[:-1] + (guess[0],))
        elif known:
            message += f" (known keys here: {', '.join(known)})"
        out.append((loc, message))
    for loc, err in errors:
        if err["type"] == "extra_forbidden" and loc:
            continue
        if err["type"] == "missing" and loc in misspelt:
            continue
        message = _PYDANTIC_MESSAGES.get(err["type"], err["msg"].removeprefix("Value error, "))
        out.append((loc, message))
    return out


def check_case(text: str, *, where: str = "case file") -> tuple[LoadedCase | None, list[CaseProblem]]:
    """Validate case YAML text: the case (None when there are problems) and every problem found,
    ordered by line. Reads nothing else and writes nothing."""
    loader = _LineLoader(text)
    try:
        raw = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = str(getattr(exc, "problem", None) or exc)
        return None, [CaseProblem("", mark.line + 1 if mark is not None else None, f"not valid YAML: {problem}")]
    finally:
        loader.dispose()
    if not isinstance(raw, dict):
        return None, [CaseProblem("", None, "expected a mapping of case fields at the top level")]
    data = _strip_lines(raw)
    found: list[Problem] = []
    case = None
    try:
        case = Case.model_validate(data, context={"collect": True})
    except ValidationError as exc:
        found += _pydantic_problems(exc)
    found += reference_problems(data)
    problems = [CaseProblem(_field_path(loc, data), _line_of(raw, loc), message) for loc, message in found]
    problems += [
        CaseProblem(key, line, "this key is given twice in one mapping; the last one would win")
        for line, key in loader.duplicates
    ]
    problems = list(dict.fromkeys(problems))
    problems.sort(key=lambda p: (p.line is None, p.line or 0))
    if problems or case is None:
        return None, problems
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return LoadedCase(case=case, text=text, hash=digest), []


def parse_case(text: str, *, where: str = "case file") -> LoadedCase:
    """Validate case YAML text; raise :class:`CaseErrors` (a :class:`BadInput`) listing every
    problem with its field and line."""
    loaded, problems = check_case(text, where=where)
    if loaded is None:
        raise CaseErrors(where, problems)
    return loaded


def read_case_text(path: str | Path) -> str:
    """The text of a case file; :class:`BadInput` when it is missing or not UTF-8."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"case file {path} does not exist.") from None
    except IsADirectoryError:
        raise BadInput(f"case file {path} is a directory.") from None
    except UnicodeDecodeError:
        raise BadInput(f"case file {path} is not UTF-8 text.") from None


def load_case(path: str | Path) -> LoadedCase:
    """Read and validate a case file from disk."""
    return parse_case(read_case_text(path), where=str(path))


# ---------------------------------------------------------------------------- changes between versions

#: Fields whose old and new values a change summary shows; other fields (texts) are only named.
_SHOWN_VALUES = {
    "family",
    "aggregation",
    "unit",
    "coverage_start",
    "coverage_end",
    "loadings",
    "min",
    "max",
    "levels",
    "anchor",
    "horizons",
    "base_rate",
    "effects",
    "resolved",
    "start",
    "observations",
    "priors",
    "cross_effects",
}


def _shown(field: str, value: Any) -> str:
    if value is None:
        return "none"
    if field == "base_rate" and isinstance(value, Mapping):
        return f"{value.get('annual')} a year"
    if field == "resolved" and isinstance(value, Mapping):
        return f"resolved {value.get('date')}"
    if field == "observations" and isinstance(value, list):
        return f"{len(value)} hypothetical observation(s)"
    if field == "cross_effects" and isinstance(value, list):
        return "[" + ", ".join(f"{e.get('from_factor')} {e.get('effect')} {e.get('to_factor')}" for e in value) + "]"
    if field == "priors" and isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {v:g}" for k, v in value.items() if v is not None) + "}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _field_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    out = []
    for field in dict.fromkeys([*old, *new]):
        if field == "id" or old.get(field) == new.get(field):
            continue
        if field in _SHOWN_VALUES and _shown(field, old.get(field)) != _shown(field, new.get(field)):
            out.append(f"{field} {_shown(field, old.get(field))} → {_shown(field, new.get(field))}")
        else:
            out.append(f"{field} reworded")
    return out


def case_changes(old: Case, new: Case) -> list[str]:
    """What loading ``new`` over ``old`` (the same case id) changes, one line each: parts added
    and removed, and for each part kept, its changed fields (old → new for the ones that set the
    model: families, aggregations, loadings, coverage, ranges, base rates, effects, horizons,
    resolutions; texts just as 'reworded'). Empty when the two are the same case."""
    before, after = old.model_dump(mode="json"), new.model_dump(mode="json")
    lines = [
        f"case {line}"
        for line in _field_changes(
            {k: v for k, v in before.items() if not isinstance(v, list)},
            {k: v for k, v in after.items() if not isinstance(v, list)},
        )
    ]
    if before.get("cross_effects", []) != after.get("cross_effects", []):
        lines.append(
            f"case cross_effects {_shown('cross_effects', before.get('cross_effects', []))} → "
            f"{_shown('cross_effects', after.get('cross_effects', []))}"
        )
    for key, kind in (
        ("factors", "factor"),
        ("indicators", "indicator"),
        ("outcomes", "outcome"),
        ("scenarios", "scenario"),
    ):
        was = {item["id"]: item for item in before.get(key, [])}
        now = {item["id"]: item for item in after.get(key, [])}
        added = [i for i in now if i not in was]
        removed = [i for i in was if i not in now]
        if added:
            lines.append(f"{key} added: {', '.join(added)}")
        if removed:
            lines.append(f"{key} removed: {', '.join(removed)}")
        for ident, item in now.items():
            if ident in was:
                changed = _field_changes(was[ident], item)
                if changed:
                    lines.append(f"{kind} '{ident}': " + "; ".join(changed))
    return lines


def shipped_case_path(case_id: str = "northern_territories") -> Path:
    """Path of a case file shipped in the project's ``data/cases``."""
    from indicators.resources import data_path

    return data_path("cases", f"{case_id}.yaml")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
