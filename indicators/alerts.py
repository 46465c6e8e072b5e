"""Alert thresholds and saved scenarios in the store (tables of migration 0002).

Alerts
------
Per outcome and horizon, one of:

- ``above``: fires when the outcome's probability crosses ``threshold`` upward between two
  consecutive runs (previous below it, current at or above it);
- ``below``: fires when it crosses downward (previous at or above, current below);
- ``change``: fires when it moves by more than ``threshold`` (in probability, e.g. 0.05 = 5
  points) between two consecutive runs.

Thresholds are stored as probabilities (0..1). Removing an alert deactivates it (the record of
what was watched stays). Evaluating alerts against runs is not this module's job (see
``dashboard.services.analysis.check_alerts``).

Saved scenarios
---------------
A named set of hypothetical observations (the case file's ``HypotheticalObservation`` fields:
``indicator, months_ahead, span_months, value, reliability, credibility, note``), validated
against the case like the case file's own scenarios. Names are unique per case and may not repeat
a case-file scenario's id. The name (one line), the description and each observation's note
follow the text rules of :mod:`indicators.text` (descriptions and notes at most 10,000 characters).

Every write is one transaction with an audit entry; bad values raise
:class:`~indicators.errors.BadInput` and change nothing.
"""

from __future__ import annotations

import math
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from indicators import text as texts
from indicators.case import Case, HypotheticalObservation
from indicators.errors import BadInput
from indicators.observations import MAX_NOTE_CHARS, utcnow
from indicators.store import Store, alerts, scenarios

ALERT_KINDS = ("above", "below", "change")
MAX_SCENARIO_OBSERVATIONS = 50


def _aware(dt: Any) -> Any:
    return None if dt is None else dt.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------- alerts


def add_alert(
    store: Store, case_id: str, *, outcome: str, horizon: float, kind: str, threshold: float, actor: str
) -> int:
    """Store an active alert; returns its id."""
    case = store.get_case(case_id).case
    if kind not in ALERT_KINDS:
        raise BadInput(f"alert kind '{kind}' is not one of {', '.join(ALERT_KINDS)}.")
    if outcome not in case.outcome_ids:
        raise BadInput(f"outcome '{outcome}' is not in case '{case_id}' (outcomes: {', '.join(case.outcome_ids)}).")
    out = case.outcome(outcome)
    if out.resolved is not None:
        raise BadInput(f"outcome '{outcome}' is resolved ({out.resolved.date}); it has no forecast to watch.")
    try:
        horizon = float(horizon)
        threshold = float(threshold)
    except (TypeError, ValueError):
        raise BadInput("alert horizon and threshold must be numbers.") from None
    if horizon not in [float(h) for h in out.horizons]:
        raise BadInput(
            f"horizon {horizon:g} is not a horizon of '{outcome}' ({', '.join(str(h) for h in out.horizons)} years)."
        )
    if not math.isfinite(threshold) or not 0.0 < threshold < 1.0:
        raise BadInput(
            f"alert threshold {threshold:g} must lie strictly between 0 and 1 "
            "(a probability; 0.2 = 20%, or 0.05 = 5 points for a change alert)."
        )
    with store._write() as conn:
        new_id = conn.execute(
            alerts.insert()
            .returning(alerts.c.id)
            .values(
                case_id=case_id,
                outcome=outcome,
                horizon_years=horizon,
                kind=kind,
                threshold=threshold,
                created_at=utcnow(),
                created_by=actor,
            )
        ).scalar_one()
        store._audit(
            conn,
            actor,
            "alert.add",
            {
                "case": case_id,
                "alert": new_id,
                "outcome": outcome,
                "horizon": horizon,
                "kind": kind,
                "threshold": threshold,
            },
        )
    return int(new_id)


def list_alerts(store: Store, case_id: str, *, include_inactive: bool = False) -> list[dict[str, Any]]:
    """The case's alerts (active ones unless ``include_inactive``), oldest first."""
    q = sa.select(alerts).where(alerts.c.case_id == case_id)
    if not include_inactive:
        q = q.where(alerts.c.active == sa.true())
    with store._read() as conn:
        rows = [dict(r) for r in conn.execute(q.order_by(alerts.c.id)).mappings()]
    for r in rows:
        r["created_at"] = _aware(r["created_at"])
        r["active"] = bool(r["active"])
    return rows


def remove_alert(store: Store, alert_id: int, *, actor: str, case_id: str | None = None) -> None:
    """Deactivate an alert (it stays in the store, inactive)."""
    with store._write() as conn:
        row = conn.execute(sa.select(alerts).where(alerts.c.id == int(alert_id))).mappings().first()
        if row is None or (case_id is not None and row["case_id"] != case_id):
            raise BadInput(f"there is no alert {alert_id}.")
        if not row["active"]:
            raise BadInput(f"alert {alert_id} was already removed.")
        conn.execute(alerts.update().where(alerts.c.id == int(alert_id)).values(active=False))
        store._audit(conn, actor, "alert.remove", {"case": row["case_id"], "alert": int(alert_id)})


# ---------------------------------------------------------------------------- scenarios


def validate_scenario(case: Case, name: str, observations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The observations as clean dicts, or BadInput naming the first problem."""
    try:
        name = texts.clean(name)
    except ValueError as exc:
        raise BadInput(f"the scenario name {exc}.") from None
    if not name:
        raise BadInput("a scenario needs a name.")
    if len(name) > 128:
        raise BadInput("a scenario name is at most 128 characters.")
    if name in {s.id for s in case.scenarios}:
        raise BadInput(f"'{name}' is the id of a scenario in the case file; choose another name.")
    if not observations:
        raise BadInput(f"scenario '{name}' has no hypothetical observations.")
    if len(observations) > MAX_SCENARIO_OBSERVATIONS:
        raise BadInput(f"scenario '{name}' has more than {MAX_SCENARIO_OBSERVATIONS} observations.")
    clean = []
    for k, raw in enumerate(observations, start=1):
        try:
            h = HypotheticalObservation.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "observation"
            raise BadInput(
                f"scenario '{name}', observation {k}: {where}: {err['msg'].removeprefix('Value error, ')}."
            ) from None
        reason = texts.problem(h.note, multiline=True, limit=MAX_NOTE_CHARS)
        if reason is not None:
            raise BadInput(f"scenario '{name}', observation {k}: the note {reason}.")
        if h.indicator not in case.indicator_ids:
            raise BadInput(f"scenario '{name}', observation {k}: indicator '{h.indicator}' is not in case '{case.id}'.")
        lo, hi = case.indicator(h.indicator).value_range
        if not lo <= h.value <= hi:
            raise BadInput(
                f"scenario '{name}', observation {k}: value {h.value:g} for '{h.indicator}' is outside {lo:g}..{hi:g}."
            )
        if case.indicator(h.indicator).integer_valued and h.value != int(h.value):
            raise BadInput(f"scenario '{name}', observation {k}: '{h.indicator}' takes whole numbers, not {h.value:g}.")
        clean.append(h.model_dump())
    return clean


def save_scenario(
    store: Store,
    case_id: str,
    *,
    name: str,
    description: str = "",
    observations: list[dict[str, Any]],
    actor: str,
    replace: bool = False,
) -> int:
    """Save (or, with ``replace``, overwrite) a named scenario; returns its id."""
    case = store.get_case(case_id).case
    clean = validate_scenario(case, name, observations)
    name = name.strip()
    try:
        description = texts.clean(description, multiline=True, limit=MAX_NOTE_CHARS)
    except ValueError as exc:
        raise BadInput(f"scenario '{name}': the description {exc}.") from None
    with store._write() as conn:
        existing = conn.execute(
            sa.select(scenarios.c.id).where(scenarios.c.case_id == case_id, scenarios.c.name == name)
        ).scalar()
        if existing is not None and not replace:
            raise BadInput(f"a scenario named '{name}' already exists; choose another name.")
        if existing is not None:
            conn.execute(
                scenarios.update()
                .where(scenarios.c.id == existing)
                .values(description=description or "", observations=clean, created_at=utcnow(), created_by=actor)
            )
            sid = int(existing)
            action = "scenario.replace"
        else:
            sid = int(
                conn.execute(
                    scenarios.insert()
                    .returning(scenarios.c.id)
                    .values(
                        case_id=case_id,
                        name=name,
                        description=description or "",
                        observations=clean,
                        created_at=utcnow(),
                        created_by=actor,
                    )
                ).scalar_one()
            )
            action = "scenario.save"
        store._audit(conn, actor, action, {"case": case_id, "scenario": sid, "name": name, "observations": len(clean)})
    return sid


def list_scenarios(store: Store, case_id: str) -> list[dict[str, Any]]:
    """The case's saved scenarios, by name."""
    with store._read() as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                sa.select(scenarios).where(scenarios.c.case_id == case_id).order_by(scenarios.c.name)
            ).mappings()
        ]
    for r in rows:
        r["created_at"] = _aware(r["created_at"])
    return rows


def get_scenario(store: Store, case_id: str, name: str) -> dict[str, Any] | None:
    """The saved scenario called ``name``, or ``None``."""
    with store._read() as conn:
        row = (
            conn.execute(sa.select(scenarios).where(scenarios.c.case_id == case_id, scenarios.c.name == name))
            .mappings()
            .first()
        )
    if row is None:
        return None
    out = dict(row)
    out["created_at"] = _aware(out["created_at"])
    return out
