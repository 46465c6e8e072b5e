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
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from indicators.errors import BadInput

Family = Literal["count", "binary", "continuous", "proportion", "ordinal"]
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
    def _consistent(self) -> Indicator:
        if self.family == "ordinal":
            if not self.levels or len(self.levels) < 2:
                raise ValueError("an ordinal indicator needs 'levels' with at least two labels")
            if not self.coding:
                raise ValueError("an ordinal indicator needs 'coding', the rule for its levels")
        elif self.levels is not None:
            raise ValueError("'levels' is only for ordinal indicators")
        if self.aggregation in ("events", "total") and self.family != "count":
            raise ValueError(f"aggregation '{self.aggregation}' needs family 'count'")
        if self.aggregation == "level" and self.family == "count":
            raise ValueError("a count indicator aggregates as 'events' or 'total', not 'level'")
        if self.aggregation == "events" and self.coverage_start is None:
            raise ValueError("an 'events' indicator needs 'coverage_start', from when its record is complete")
        if self.coverage_end is not None and self.aggregation != "events":
            raise ValueError("'coverage_end' is only for 'events' indicators")
        if self.coverage_end is not None and self.coverage_start is not None and self.coverage_end < self.coverage_start:
            raise ValueError("'coverage_end' is before 'coverage_start'")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("'min' is above 'max'")
        return self

    @property
    def value_range(self) -> tuple[float, float]:
        """Valid values (inclusive), from the family and the case's stated range."""
        lo, hi = {
            "count": (0.0, float("inf")),
            "binary": (0.0, 1.0),
            "proportion": (0.0, 1.0),
            "continuous": (float("-inf"), float("inf")),
            "ordinal": (0.0, float(len(self.levels or [1]) - 1)),
        }[self.family]
        if self.min is not None:
            lo = max(lo, self.min)
        if self.max is not None:
            hi = min(hi, self.max)
        return lo, hi

    @property
    def integer_valued(self) -> bool:
        return self.family in ("count", "binary", "ordinal")


#: A base rate stated as a point (``annual`` alone) is read as the 90% range from a quarter of it
#: to four times it (capped below 1): an order-of-magnitude judgement, 16-fold wide, centred
#: (geometrically) on the point (docs/case-file.md, "Outcomes").
DEFAULT_BASE_RATE_FACTOR = 4.0
#: An effect stated by its sign alone is read as this 90% range of the odds ratio per factor sd:
#: "raises" means it at most doubles the odds per sd, "lowers" at most halves them, "free"
#: either (docs/case-file.md, "Outcomes").
DEFAULT_EFFECT_ODDS_RATIO: dict[str, tuple[float, float]] = {
    "raises": (1.0, 2.0), "lowers": (0.5, 1.0), "free": (0.5, 2.0)}


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


class Case(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: str
    description: str
    start: date
    factors: list[Factor] = Field(min_length=1)
    indicators: list[Indicator] = Field(min_length=1)
    outcomes: list[Outcome] = Field(min_length=1)
    scenarios: list[Scenario] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Case:
        for kind, items in (("factor", self.factors), ("indicator", self.indicators),
                            ("outcome", self.outcomes), ("scenario", self.scenarios)):
            seen: set[str] = set()
            for item in items:
                if item.id in seen:
                    raise ValueError(f"{kind} id '{item.id}' appears twice")
                seen.add(item.id)
        factor_ids = {f.id for f in self.factors}
        by_id = {i.id: i for i in self.indicators}
        for ind in self.indicators:
            for fid in ind.loadings:
                if fid not in factor_ids:
                    raise ValueError(f"indicator '{ind.id}' loads on unknown factor '{fid}'")
        for f in self.factors:
            anchor = by_id.get(f.anchor)
            if anchor is None:
                raise ValueError(f"factor '{f.id}' has unknown anchor indicator '{f.anchor}'")
            if anchor.loadings.get(f.id) != "positive":
                raise ValueError(f"factor '{f.id}': its anchor '{f.anchor}' must load on it 'positive'")
        for o in self.outcomes:
            for fid in o.effects:
                if fid not in factor_ids:
                    raise ValueError(f"outcome '{o.id}' names unknown factor '{fid}' in effects")
            if o.resolved is not None and o.resolved.date < self.start:
                raise ValueError(f"outcome '{o.id}' resolved before the case starts")
        for s in self.scenarios:
            for h in s.observations:
                if h.indicator not in by_id:
                    raise ValueError(f"scenario '{s.id}' names unknown indicator '{h.indicator}'")
                lo, hi = by_id[h.indicator].value_range
                if not lo <= h.value <= hi:
                    raise ValueError(
                        f"scenario '{s.id}': value {h.value} for '{h.indicator}' is outside {lo}..{hi}")
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


@dataclass(frozen=True)
class LoadedCase:
    """A validated case with the text it came from and that text's hash (its identity)."""

    case: Case
    text: str
    hash: str


class _LineLoader(yaml.SafeLoader):
    """Safe loader that remembers the line of every mapping key."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=True)
    lines = {}
    for key_node, _ in node.value:
        lines[str(key_node.value)] = key_node.start_mark.line + 1
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


def parse_case(text: str, *, where: str = "case file") -> LoadedCase:
    """Validate case YAML text; raise :class:`BadInput` naming the field and line."""
    try:
        raw = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - _LineLoader derives from SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise BadInput(f"{where}: not valid YAML{at}: {getattr(exc, 'problem', exc)}.") from None
    if not isinstance(raw, dict):
        raise BadInput(f"{where}: expected a mapping of case fields at the top level.")
    try:
        case = Case.model_validate(_strip_lines(raw))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-after")))
        field = _field_path(loc, _strip_lines(raw)) or "(top level)"
        line = _line_of(raw, loc)
        at = f" (line {line})" if line else ""
        msg = err["msg"].removeprefix("Value error, ")
        raise BadInput(f"{where}: field '{field}'{at}: {msg}.") from None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return LoadedCase(case=case, text=text, hash=digest)


def load_case(path: str | Path) -> LoadedCase:
    """Read and validate a case file from disk."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"case file {path} does not exist.") from None
    except UnicodeDecodeError:
        raise BadInput(f"case file {path} is not UTF-8 text.") from None
    return parse_case(text, where=str(path))


def shipped_case_path(case_id: str = "northern_territories") -> Path:
    """Path of a case file shipped in the project's ``data/cases``."""
    from indicators.resources import data_path

    return data_path("cases", f"{case_id}.yaml")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
