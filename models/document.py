"""The forecast document: the typed form of a run's ``forecast.json`` and its one loader.

A fit writes everything pages, reports and the command line show into the run directory's
``forecast.json``, once, when sampling ends (:func:`models.runs.summarise`). This module is that
file's schema and the only way to read it: :func:`read_forecast` parses and validates the file
into a :class:`ForecastDocument` and refuses a run fitted on another version of the case or with
another model version. It imports pydantic, NumPy and the standard library only (no PyMC, no
ArviZ), so any front end can read a forecast without loading the sampler.

The document is immutable: models are frozen and every sequence is a tuple, so one parsed
document can be shared by every caller and cached without copies.

Schema
------
::

    {
      "schema_version": int,            # optional: absent in files written before it existed (1)
      "case": str,                      # the case id
      "run_id": str, "as_of": "YYYY-MM-DD", "model_version": str,
      "case_hash": str,                 # the case file's version the run was fitted on
      "data_hash": str, "n_observations": int,
      "settings": {"draws": int, "tune": int, "chains": int, "seed": int, "sampler": str,
                   ...},                # and every other sampler option of models.fit.FitSettings
      "density": "fused" | "pytensor" | null,   # optional (older files lack it): the log density
                                        # nutpie sampled with; null for PyMC's sampler
      "priors": {"hash": str, "overrides": [str, ...],   # optional (older files lack it): the
                 "values": {name: float | {key: float}}},  # structural priors the run was fitted with
      "diagnostics": {"max_rhat": float, "min_ess_bulk": float, "min_ess_tail": float,
                      "divergences": int, "min_bfmi": float | null, "ok": bool,
                      "problems": [str, ...],
                      "failing": [str, ...],           # optional (older files lack it)
                      "min_param_ess": float,          # optional (older files lack it)
                      "draws": int,                    # optional (older files lack it): kept
                                                       # draws per chain (fewer on an early stop)
                      "tune": int,                     # optional: tuning steps per chain taken
                      "warm_start": bool},             # optional: started from an earlier posterior
      "outcomes": [{"id": str, "question": str, "resolved": bool,
                    "resolution_date": "YYYY-MM-DD" | null,
                    "horizons": [{"years": int, "p_mean", "p_05", "p_25", "p_50", "p_75", "p_95",
                                  "mcse", "ess": float | null}]}],   # [] when resolved
      "factors": [{"id": str, "name": str, "periods": ["2010Q2", ...], "dates": ["YYYY-MM-DD", ...],
                   "mean", "p05", "p25", "p75", "p95": [float | null, ...]}],   # one per period
      "indicators": [{"id": str, "name": str, "family": str, "unit": str, "aggregation": str,
                      "periods": [...], "dates": [...],          # grid cells through as-of + 4
                      "expected": {"mean", "p05", "p95": [float | null, ...]},  # one per period
                      "rows": [{"indicator": str,                # optional (older files lack it)
                                "start": "YYYY-MM-DD", "end": "YYYY-MM-DD", "value": float | null,
                                "genuine": float, "observation_ids": [int, ...],
                                "pred_p05", "pred_p50", "pred_p95", "pit": float | null,
                                "p_at_most", "p_at_least": float | null,   # optional (older files)
                                "surprise": bool}]}],
      "loadings": [{"indicator": str, "factor": str, "mean", "p05", "p95": float | null}],
      "hazard": [{"outcome": str, "parameter": str, "prior_mean", "prior_sd", "post_mean",
                  "post_p05", "post_p95": float | null}],
      "excluded": [{"observation_id": int, "reason": str}],   # optional (older files lack it)
      "cross_effects": [{"from_factor": str, "to_factor": str, "effect": "raises" | "lowers",
                         "rationale": str, "prior_low", "prior_high", "post_mean", "post_p05",
                         "post_p95": float | null}],   # optional: only when the case declares some
      "created_at": str | null          # optional: not in the file; the store's row puts it in
    }

What the keys mean:

- ``diagnostics``: :func:`models.fit.diagnostics`. ``min_ess_bulk``/``min_ess_tail`` are those of
  the outcome probabilities; ``ok`` is false when any of ``problems`` holds; ``failing`` names
  the worst quantities missing a limit. ``max_rhat`` and the ESS are NaN (written ``NaN``) when
  nothing could be judged.
- ``outcomes``: P(the outcome happens within ``years`` after the as-of quarter), its posterior
  mean and quantiles, with Monte Carlo standard error and effective sample size
  (:func:`models.forecast.outcome_forecasts`). A resolved outcome has a resolution date and no
  horizons.
- ``factors``: the latent factors' posterior paths through the as-of quarter.
- ``indicators``: the expected observed value per grid cell (rate or level) through four
  quarters past the as-of date, and one row per likelihood term with its posterior predictive
  band, leave-one-out PIT and tail probabilities; ``surprise`` flags a row outside the central
  95% of its leave-one-out predictive (:func:`models.forecast.indicator_summaries`).
- ``loadings`` and ``hazard``: posterior summaries of each loading and of each outcome's hazard
  parameters against their priors.
- ``excluded``: observations the design left out, with why (after the as-of date, before the
  case starts, indicator not in the case).
- ``cross_effects``: each lagged effect between factors the case declares (model 1.7.0 on), its
  declared 90% range and rationale against its posterior (:func:`models.forecast.cross_effect_summaries`);
  absent when the case declares none.
- ``priors``: the structural prior constants of the fit (:class:`models.priors.PriorConfig`,
  every field by name), their hash, and the names the case overrode. A file without it is read
  as fitted with the defaults only when its model version is one whose every run had them
  (:data:`models.priors.DEFAULTS_OF_VERSIONS`); otherwise its priors are "not recorded"
  (:meth:`ForecastDocument.prior_record`).

Numbers are rounded when written and a non-finite summary is ``null``. Optional keys are absent,
not ``null``, when a file does not carry them, and :meth:`ForecastDocument.to_json_dict` leaves
them absent, so a document written back is the file it was read from.

Only ``settings`` accepts keys the schema does not name: the sampler's options grow with the
sampler, and the document keeps each as written. Anywhere else an unknown key makes the file
unreadable, because it means a file written by another version of this schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_serializer

from models.priors import DEFAULT_PRIORS, DEFAULTS_OF_VERSIONS
from models.priors import record as prior_record

#: The version of the schema this module reads and writes. A file without ``schema_version``
#: has schema 1; a file with a newer one is refused (written by a newer Harbinger).
SCHEMA_VERSION = 1
#: The file name of the forecast document in a run directory.
FORECAST_FILE = "forecast.json"


class _Part(BaseModel):
    """Frozen, no unknown keys; NaN and infinities are kept as JSON's NaN / Infinity (as
    ``json.dumps`` writes them) rather than turned into null."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants", use_attribute_docstrings=True)


# ---------------------------------------------------------------------------- the run


class Settings(_Part):
    """The sampler settings the run was fitted with (:class:`models.fit.FitSettings`). Every
    other option of the sampler is kept as written, in the file's order."""

    model_config = ConfigDict(extra="allow")

    draws: int
    """Draws per chain after tuning."""
    tune: int
    chains: int
    seed: int
    sampler: str
    """"nutpie" or "pymc"."""


class Priors(_Part):
    """The structural priors a run was fitted with (:func:`models.priors.record`)."""

    hash: str
    """:meth:`models.priors.PriorConfig.digest` of the values."""
    overrides: tuple[str, ...]
    """The names whose values differ from the defaults (the case's ``priors:``)."""
    values: dict[str, float | dict[str, float]]
    """Every prior constant by name (:meth:`models.priors.PriorConfig.as_dict`)."""


class RecordedPriors(_Part):
    """What a document says of its priors (:meth:`ForecastDocument.prior_record`): the record,
    and whether the file held it or it is the defaults its model version was fitted with."""

    priors: Priors
    source: str
    """"recorded" (the file holds it) or "defaults of model <version>" (read from the version)."""


class Diagnostics(_Part):
    """Convergence of the run (:func:`models.fit.diagnostics`)."""

    max_rhat: float
    """Largest R-hat over the model parameters, factor states and outcome probabilities."""
    min_ess_bulk: float
    """Smallest bulk ESS of the outcome probabilities."""
    min_ess_tail: float
    divergences: int
    min_bfmi: float | None
    """Smallest E-BFMI over the chains; null when no energy was recorded."""
    ok: bool
    """No problem found (the store's flag may further turn it false, see
    :meth:`ForecastDocument.with_identity`)."""
    problems: tuple[str, ...]
    """Each limit the run misses, in words."""
    failing: tuple[str, ...] | None = None
    """The quantities missing a limit, worst first, with their R-hat and ESS (optional)."""
    min_param_ess: float | None = None
    """Smallest bulk or tail ESS of the model parameters and the factor states through the as-of
    quarter (optional: older files lack it)."""
    draws: int | None = None
    """Kept draws per chain (optional: older files lack it). Fewer than the settings' ``draws``
    when the fit stopped early, having converged (``FitSettings.min_draws``)."""
    tune: int | None = None
    """Tuning steps per chain the fit took (optional: older files lack it)."""
    warm_start: bool | None = None
    """Whether the fit started from an earlier run's posterior (optional: older files lack it)."""


# ---------------------------------------------------------------------------- outcomes


class Horizon(_Part):
    """P(the outcome happens within ``years`` years after the as-of quarter), over the posterior."""

    years: int
    p_mean: float | None
    p_05: float | None
    p_25: float | None
    p_50: float | None
    p_75: float | None
    p_95: float | None
    mcse: float | None
    """Monte Carlo standard error of ``p_mean``."""
    ess: float | None
    """Effective sample size of the probability's draws."""


class Elicitation(_Part):
    """What the case elicited for an unresolved outcome, beside what the prior and the data give
    (:func:`models.forecast.elicitation_of`; absent in files written before model 1.6.0).

    ``elicited``: ``annual``, ``range`` (annual probability, 90%), ``range_10y``, ``stated``.
    ``prior_predictive`` and ``posterior``: by horizon in years (``"1"``, ``"10"``, ...), each
    ``{mean, p05, p95}`` (the prior-predictive also ``p50``). ``sensitivity``: by horizon,
    ArviZ's power-scaling sensitivity ``{prior, likelihood}`` of the probability.
    ``driven_by_prior``: the headline (10-year) probability is prior-sensitive and not
    likelihood-sensitive. ``moved``: a plain sentence on how far the data moved it."""

    elicited: dict[str, Any]
    prior: dict[str, Any] | None = None
    prior_predictive: dict[str, dict[str, float | None]]
    posterior: dict[str, dict[str, float | None]]
    sensitivity: dict[str, dict[str, float | None]] | None = None
    headline_years: int | None = None
    driven_by_prior: bool = False
    moved: str | None = None


class Outcome(_Part):
    """An outcome's forecast: its probability by each horizon, or its resolution."""

    id: str
    question: str
    resolved: bool
    """Resolved on or before the as-of date: not forecast (no horizons)."""
    resolution_date: date | None
    horizons: tuple[Horizon, ...]
    elicitation: Elicitation | None = None
    """The elicited range against the prior-predictive and the posterior (unresolved outcomes)."""

    def horizon(self, years: int) -> Horizon | None:
        """The horizon of ``years`` years, ``None`` if the outcome has none (e.g. resolved)."""
        return next((h for h in self.horizons if h.years == years), None)

    @property
    def years(self) -> list[int]:
        """The horizons' years, as in the file (ascending)."""
        return [h.years for h in self.horizons]


# ---------------------------------------------------------------------------- factors and indicators


class Factor(_Part):
    """A latent factor's posterior path, one value per quarter through the as-of quarter."""

    id: str
    name: str
    periods: tuple[str, ...]
    """Quarter labels, e.g. "2010Q2"."""
    dates: tuple[date, ...]
    """Each quarter's first day."""
    mean: tuple[float | None, ...]
    p05: tuple[float | None, ...]
    p25: tuple[float | None, ...]
    p75: tuple[float | None, ...]
    p95: tuple[float | None, ...]


class Expected(_Part):
    """The expected observed value (rate or level) per grid cell, with its 90% band."""

    mean: tuple[float | None, ...]
    p05: tuple[float | None, ...]
    p95: tuple[float | None, ...]


class ObservationRow(_Part):
    """One likelihood term of an indicator (an observation, or an events indicator's cell) and
    how the model sees it: its predictive band, leave-one-out PIT and surprise flag."""

    indicator: str | None = None
    """The indicator's id (optional: older files lack it)."""
    start: date
    end: date
    value: float | None
    genuine: float
    """P(the report is genuine), from its source's reliability and credibility."""
    observation_ids: tuple[int, ...]
    """The stored observations behind the row (none for an events cell without events)."""
    pred_p05: float | None
    pred_p50: float | None
    pred_p95: float | None
    pit: float | None
    """Leave-one-out probability integral transform of the value."""
    p_at_most: float | None = None
    """Leave-one-out P(Y <= value) (optional: older files lack it)."""
    p_at_least: float | None = None
    """Leave-one-out P(Y >= value) (optional: older files lack it)."""
    surprise: bool
    """The value lies outside the central 95% of its leave-one-out predictive."""
    loo_khat: float | None = None
    """Pareto k-hat of the row's leave-one-out importance weights (optional: older files lack it)."""
    loo_unreliable: bool = False
    """k-hat above 0.7: the leave-one-out predictive behind the PIT and flag is unreliable."""


class IndicatorSummary(_Part):
    """An indicator as the run sees it: its expected value per cell and its rows."""

    id: str
    name: str
    family: str
    """The likelihood family (count, binary, continuous, proportion, ordinal)."""
    unit: str
    aggregation: str
    """How observations map to cells (total, events, level)."""
    periods: tuple[str, ...]
    """Grid cells through four quarters past the as-of quarter."""
    dates: tuple[date, ...]
    expected: Expected
    rows: tuple[ObservationRow, ...]

    @property
    def observation_ids(self) -> frozenset[int]:
        """Every stored observation behind the indicator's rows."""
        return frozenset(i for r in self.rows for i in r.observation_ids)

    @property
    def surprises(self) -> tuple[ObservationRow, ...]:
        """The rows flagged as surprises."""
        return tuple(r for r in self.rows if r.surprise)


class Loading(_Part):
    """The posterior of an indicator's loading on a factor."""

    indicator: str
    factor: str
    mean: float | None
    p05: float | None
    p95: float | None


class Hazard(_Part):
    """Prior against posterior of one hazard parameter of an outcome."""

    outcome: str
    parameter: str
    """"hazard_intercept" or "effect of <factor> (raises|lowers|free)"."""
    prior_mean: float | None
    prior_sd: float | None
    post_mean: float | None
    post_p05: float | None
    post_p95: float | None


class CrossEffect(_Part):
    """A declared lagged effect between factors, its declared range against its posterior."""

    from_factor: str
    to_factor: str
    effect: str
    rationale: str
    prior_low: float | None
    prior_high: float | None
    post_mean: float | None
    post_p05: float | None
    post_p95: float | None


class Excluded(_Part):
    """An observation the run's design left out."""

    observation_id: int
    reason: str


# ---------------------------------------------------------------------------- the document


class ForecastDocument(_Part):
    """A run's ``forecast.json``: its identity, diagnostics and everything it forecasts."""

    model_config = ConfigDict(
        title="Harbinger forecast document", json_schema_extra={"x-schema-version": SCHEMA_VERSION}
    )

    schema_version: int | None = None
    """The schema the file was written with (absent: 1)."""
    case: str
    """The case id."""
    run_id: str
    as_of: date
    """The date the run forecasts from: it saw observations whose period ends by then."""
    model_version: str
    case_hash: str
    """The version of the case file the run was fitted on."""
    data_hash: str
    n_observations: int
    settings: Settings
    density: str | None = None
    """The log density nutpie sampled with, "fused" or "pytensor" (:mod:`models.fit`); null for
    PyMC's sampler (optional: older files lack it)."""
    priors: Priors | None = None
    """The structural priors of the fit (optional: older files lack it; see :meth:`prior_record`)."""
    diagnostics: Diagnostics
    outcomes: tuple[Outcome, ...]
    factors: tuple[Factor, ...]
    indicators: tuple[IndicatorSummary, ...]
    loadings: tuple[Loading, ...]
    hazard: tuple[Hazard, ...]
    excluded: tuple[Excluded, ...] | None = None
    """Observations the design left out (optional: older files lack it)."""
    cross_effects: tuple[CrossEffect, ...] | None = None
    """The case's declared cross effects with their posteriors (optional: absent when it declares
    none, and in files of models before 1.7.0)."""
    created_at: datetime | None = None
    """When the run was created (UTC): put in from the store's run row, never in the file."""

    @field_serializer("created_at")
    def _created_at(self, value: datetime | None) -> str | None:
        # ISO 8601 as ``datetime.isoformat`` writes it ("+00:00", not pydantic's "Z"), as the
        # dashboard has always shown it.
        return value.isoformat() if value is not None else None

    # -------------------------------------------------------------- lookups

    def outcome(self, outcome_id: str) -> Outcome:
        """The outcome ``outcome_id``; ``KeyError`` if the run has none by that id."""
        return _by_id(self.outcomes, outcome_id, "outcome")

    def indicator(self, indicator_id: str) -> IndicatorSummary:
        """The indicator ``indicator_id``; ``KeyError`` if the run has none by that id."""
        return _by_id(self.indicators, indicator_id, "indicator")

    def factor(self, factor_id: str) -> Factor:
        """The factor ``factor_id``; ``KeyError`` if the run has none by that id."""
        return _by_id(self.factors, factor_id, "factor")

    def horizon(self, outcome_id: str, years: int) -> Horizon | None:
        """The forecast of ``outcome_id`` by ``years`` years; ``None`` when the run has no such
        forecast (the outcome is resolved, has no such horizon, or is not in this run): that is
        what a comparison with an older run meets, and it is not an error."""
        outcome = next((o for o in self.outcomes if o.id == outcome_id), None)
        return outcome.horizon(years) if outcome is not None else None

    def p_at(self, outcome_id: str, years: int) -> float | None:
        """The mean probability of ``outcome_id`` by ``years`` years (``None`` as :meth:`horizon`)."""
        h = self.horizon(outcome_id, years)
        return h.p_mean if h is not None else None

    @property
    def horizon_years(self) -> list[int]:
        """Every horizon (years) of the unresolved outcomes, ascending."""
        return sorted({h.years for o in self.outcomes for h in o.horizons})

    @property
    def outcome_ids(self) -> list[str]:
        return [o.id for o in self.outcomes]

    @property
    def indicator_ids(self) -> list[str]:
        return [i.id for i in self.indicators]

    @property
    def factor_ids(self) -> list[str]:
        return [f.id for f in self.factors]

    def rows(self) -> Iterator[tuple[IndicatorSummary, ObservationRow]]:
        """Every row of every indicator, with its indicator, in file order."""
        for ind in self.indicators:
            for row in ind.rows:
                yield ind, row

    def rows_by_observation(self) -> dict[int, ObservationRow]:
        """The row each stored observation id belongs to."""
        return {i: row for _, row in self.rows() for i in row.observation_ids}

    @property
    def surprising_indicators(self) -> list[str]:
        """Ids of the indicators with at least one surprise-flagged row, in file order."""
        return [ind.id for ind in self.indicators if any(r.surprise for r in ind.rows)]

    def loadings_on(self, factor_id: str) -> tuple[Loading, ...]:
        return tuple(r for r in self.loadings if r.factor == factor_id)

    def hazard_of(self, outcome_id: str) -> tuple[Hazard, ...]:
        return tuple(r for r in self.hazard if r.outcome == outcome_id)

    def prior_record(self) -> RecordedPriors | None:
        """The priors the run was fitted with: the file's record, else the defaults when every
        run of its model version had them (:data:`models.priors.DEFAULTS_OF_VERSIONS`), else
        ``None`` (not recorded)."""
        if self.priors is not None:
            return RecordedPriors(priors=self.priors, source="recorded")
        if self.model_version in DEFAULTS_OF_VERSIONS:
            return RecordedPriors(
                priors=Priors(**prior_record(DEFAULT_PRIORS)), source=f"defaults of model {self.model_version}"
            )
        return None

    # -------------------------------------------------------------- identity and staleness

    def stale_reason(self, *, case_hash: str | None = None, model_version: str | None = None) -> str | None:
        """Why this run no longer forecasts the case as it is (one sentence ending in "refit."),
        or ``None`` when it does. A ``None`` argument is not checked."""
        reasons = []
        if case_hash is not None and self.case_hash != case_hash:
            reasons.append(
                f"on a different version of case '{self.case}' than the one stored now "
                f"(case hash {self.case_hash[:16]}, now {case_hash[:16]})"
            )
        if model_version is not None and self.model_version != model_version:
            reasons.append(f"with model version {self.model_version}, not the {model_version} this Harbinger runs")
        if not reasons:
            return None
        return f"Run {self.run_id} was fitted {' and '.join(reasons)}; refit the case."

    def with_identity(
        self,
        *,
        run_id: str | None = None,
        as_of: date | None = None,
        diagnostics_ok: bool | None = None,
        created_at: datetime | None = None,
    ) -> ForecastDocument:
        """The document with the store row's identity put in, as the row is authoritative for
        it: its id and as-of date (when given) replace the file's; ``diagnostics.ok`` holds only
        if the row's flag also does; ``created_at`` is the row's creation time (in UTC when it
        carries a time zone)."""
        if created_at is not None and created_at.tzinfo is not None:
            created_at = created_at.astimezone(UTC)
        update: dict[str, Any] = {"created_at": created_at}
        if run_id is not None:
            update["run_id"] = str(run_id)
        if as_of is not None:
            update["as_of"] = as_of.date() if isinstance(as_of, datetime) else as_of
        if diagnostics_ok is not None:
            update["diagnostics"] = self.diagnostics.model_copy(
                update={"ok": bool(diagnostics_ok) and self.diagnostics.ok}
            )
        return self.model_copy(update=update)

    # -------------------------------------------------------------- writing

    def to_json_dict(self) -> dict[str, Any]:
        """The document as the JSON object of its file: ``json.dumps`` of it gives the file's
        text back (with the file's key order; optional keys only where the file had them)."""
        return self.model_dump(mode="json", exclude_unset=True)

    def to_json(self) -> str:
        """The file's text, as :func:`models.runs.save_run` writes it."""
        return json.dumps(self.to_json_dict(), indent=1)


def _by_id(items: tuple[Any, ...], wanted: str, kind: str) -> Any:
    for item in items:
        if item.id == wanted:
            return item
    raise KeyError(f"no {kind} '{wanted}' in this run")


# ---------------------------------------------------------------------------- the loader


class ForecastError(ValueError):
    """A forecast file that cannot be shown as the case's current forecast."""

    def __init__(self, message: str, *, path: Path):
        super().__init__(message)
        self.path = path


class ForecastUnreadable(ForecastError):
    """The file is missing, is not JSON, or does not hold a forecast document; ``field`` names
    the first bad field (``None`` when the file as a whole is the problem)."""

    def __init__(self, message: str, *, path: Path, field: str | None = None):
        super().__init__(message, path=path)
        self.field = field


class ForecastStale(ForecastError):
    """The file is a valid forecast of another version of the case or of the model. The parsed
    ``document`` comes with it, for a page that shows an old forecast as old."""

    def __init__(self, message: str, *, path: Path, document: ForecastDocument):
        super().__init__(message, path=path)
        self.document = document


def forecast_path(path: str | Path) -> Path:
    """The forecast file of ``path``: a ``.json`` file itself, else ``forecast.json`` in the run
    directory ``path`` (whether or not it exists, so an error names the file that is missing)."""
    path = Path(path)
    return path / FORECAST_FILE if path.is_dir() or path.suffix != ".json" else path


def read_forecast(
    path: str | Path, *, case_hash: str | None = None, model_version: str | None = None
) -> ForecastDocument:
    """The forecast document in ``path`` (a ``forecast.json`` or the run directory holding it).

    Raises :class:`ForecastUnreadable` when the file is missing, is not JSON, or does not hold a
    valid document (the message names the file and its first bad field), and
    :class:`ForecastStale` when ``case_hash`` or ``model_version`` is given and differs from the
    run's.

    Parsing and validation are one pass of pydantic's JSON parser over the file's bytes
    (``model_validate_json``), as fast as ``json.loads`` of the same bytes (about 1 ms for a
    shipped-case run), so the loader keeps no cache; a caller that reads one run many times may
    keep the document, which is immutable and safe to share.
    """
    path = forecast_path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ForecastUnreadable(
            f"The forecast file {path} cannot be read ({exc.strerror or exc}); refit the case to write it again.",
            path=path,
        ) from None
    document = parse_forecast(text, path=path)
    reason = document.stale_reason(case_hash=case_hash, model_version=model_version)
    if reason:
        raise ForecastStale(reason, path=path, document=document)
    return document


def parse_forecast(text: str | bytes, *, path: str | Path = FORECAST_FILE) -> ForecastDocument:
    """The document in ``text`` (the file's contents); :class:`ForecastUnreadable` naming
    ``path`` and the first bad field if it holds none."""
    path = Path(path)
    try:
        document = ForecastDocument.model_validate_json(text)
    except ValidationError as exc:
        raise _unreadable(exc, path) from None
    if document.schema_version is not None and document.schema_version > SCHEMA_VERSION:
        raise ForecastUnreadable(
            f"The forecast file {path} has schema version {document.schema_version}, newer than the "
            f"{SCHEMA_VERSION} this Harbinger reads; upgrade Harbinger to show it.",
            path=path,
            field="schema_version",
        )
    return document


def _unreadable(exc: ValidationError, path: Path) -> ForecastUnreadable:
    first = exc.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        return ForecastUnreadable(
            f"The forecast file {path} is not valid JSON ({first['msg']}): it is "
            f"damaged; refit the case to write it again.",
            path=path,
        )
    if not first["loc"]:
        return ForecastUnreadable(
            f"The forecast file {path} does not hold a JSON object; refit the case to write it again.", path=path
        )
    field = _field_name(first["loc"])
    more = exc.error_count() - 1
    others = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return ForecastUnreadable(
        f"The forecast file {path} is not a forecast this Harbinger reads: field {field}: "
        f"{first['msg'].lower()}{others}; refit the case to write it again.",
        path=path,
        field=field,
    )


def _field_name(loc: tuple[int | str, ...]) -> str:
    """``("outcomes", 0, "horizons", 1, "p_mean")`` as ``outcomes[0].horizons[1].p_mean``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def forecast_json_schema() -> dict[str, Any]:
    """The JSON schema of ``forecast.json`` (``ForecastDocument.model_json_schema()``)."""
    return ForecastDocument.model_json_schema()
