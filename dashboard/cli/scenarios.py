"""``harbinger scenario``, ``harbinger explain`` and ``harbinger alert``.

``scenario run NAME --format json`` prints one object::

    {"case", "run_id", "as_of", "diagnostics_ok",
     "scenario": {"id", "name", "description", "origin", "source", "observations": [...]},
     "method": "reweighting" | "refit", "khat", "khat_max", "reliable", "reweighting_khat",
     "hypothetical_observations": [{"indicator", "date", "end", "value", ...}],
     "ignored": [...], "refit_diagnostics": {...} | null, "resolved": [outcome ids],
     "results": [{"outcome", "years", "baseline": {"p_mean", "p_05", "p_95"},
                  "scenario": {"p_mean", "p_05", "p_95", "mcse"},
                  "difference": {"pp", "low_pp", "high_pp"}, "method", "khat", "reliable"}]}

(``models.scenarios`` documents the fields.) ``explain --format json`` prints the document of
``models.explain.explain`` with ``from_run``/``to_run``. ``alert check`` exits with code 3 when
any alert fired (for cron jobs), 0 otherwise.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from dashboard.cli.support import FORMAT_OPTION, Env, emit, pass_env
from dashboard.services.context import Failure

TABLE_OR_JSON = click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True, help="Output format."
)
ALERT_FIRED_EXIT = 3


def _progress() -> Any:
    from dashboard.cli.runs import _progress_printer

    return _progress_printer()


def _unavailable(exc: Exception) -> Failure:
    return Failure(str(exc))


def register(main: click.Group) -> None:
    @main.group()
    def scenario() -> None:
        """List and run what-if scenarios (the case file's and saved ones)."""

    @scenario.command("list")
    @FORMAT_OPTION
    @pass_env
    def scenario_list(env: Env, fmt: str) -> None:
        """List the scenarios: the case file's, then those saved from the dashboard."""
        from dashboard.services.analysis import scenario_list as rows

        emit(rows(env.store, env.case_id), fmt, empty="no scenarios")

    @scenario.command("run")
    @click.argument("name")
    @click.option("--run", "run_id", metavar="ID", default=None, help="Run to condition (default: the current run).")
    @click.option(
        "--no-refit",
        is_flag=True,
        default=False,
        help="Never refit: report an unreliable reweighting (k-hat > 0.7) as such instead.",
    )
    @TABLE_OR_JSON
    @pass_env
    def scenario_run(env: Env, name: str, run_id: str | None, no_refit: bool, fmt: str) -> None:
        """Forecast under scenario NAME and compare it with the baseline, for every outcome and horizon.

        The fast path reweights the run's posterior draws (PSIS); when its k-hat is above 0.7 the
        model is fitted again with the hypothetical observations (slow; progress on stderr).
        """
        from dashboard.services import analysis as sa

        spec = sa.find_scenario(env.store, env.case_id, name)
        try:
            doc = sa.run_scenario(env.store, env.case_id, spec, run_id=run_id, refit=not no_refit, progress=_progress())
        except sa.AnalysisUnavailable as exc:
            raise _unavailable(exc) from None
        if fmt == "json":
            click.echo(json.dumps(doc, indent=2))
            return
        k = doc["reweighting_khat"]
        head = (
            f"scenario {spec.id} ({spec.origin}) against run {doc['run_id']} as of {doc['as_of']}: "
            f"method {doc['method']}, reweighting k-hat {k:.2f}"
            if k is not None
            else ""
        )
        click.echo(head)
        if not doc["reliable"]:
            click.echo(
                "WARNING: k-hat above 0.7 — the reweighted result is NOT reliable; run without --no-refit to refit."
            )
        emit(sa.scenario_table(doc), "table")
        click.echo("change_mc90: 90% Monte Carlo interval of the change in points; *_90: 90% credible intervals.")

    @main.command()
    @click.option("--from", "from_run", metavar="RUN", default=None, help="Older run (default: the previous run).")
    @click.option("--to", "to_run", metavar="RUN", default=None, help="Newer run (default: the current run).")
    @click.option(
        "--refit",
        is_flag=True,
        default=False,
        help="Refit without a change where its reweighting is unreliable (k-hat > 0.7); slow.",
    )
    @TABLE_OR_JSON
    @pass_env
    def explain(env: Env, from_run: str | None, to_run: str | None, refit: bool, fmt: str) -> None:
        """Why the forecast moved: each new, corrected or retracted observation's contribution."""
        from dashboard.services import analysis as sa

        try:
            doc = sa.explain_runs(
                env.store,
                env.case_id,
                from_run=from_run,
                to_run=to_run,
                refit=refit,
                progress=_progress() if refit else None,
            )
        except sa.AnalysisUnavailable as exc:
            raise _unavailable(exc) from None
        if fmt == "json":
            click.echo(json.dumps(doc, indent=2))
            return
        click.echo(
            f"from run {doc['from_run']} (as of {doc['from_as_of']}) to run {doc['to_run']} "
            f"(as of {doc['to_as_of']}): {len(doc['changes'])} changed observation(s)"
            + (", grouped by indicator" if doc["grouped"] else "")
        )
        emit(sa.explain_table(doc), "table", empty="no forecast to explain")
        click.echo(
            "pts: percentage points; contributions from leave-new-out PSIS reweighting of the newer run; "
            "the remainder is what no single observation explains (interactions, time passing, "
            "Monte Carlo error of the two fits)."
        )

    @main.group()
    def alert() -> None:
        """Alert thresholds on outcome probabilities."""

    @alert.command("add")
    @click.argument("outcome")
    @click.option("--horizon", type=float, required=True, metavar="YEARS", help="Horizon in years.")
    @click.option("--above", metavar="PCT", default=None, help="Fire when the probability rises to PCT% or more.")
    @click.option("--below", metavar="PCT", default=None, help="Fire when it falls below PCT%.")
    @click.option(
        "--change", metavar="PTS", default=None, help="Fire when it moves by more than PTS points between runs."
    )
    @pass_env
    def alert_add(
        env: Env, outcome: str, horizon: float, above: str | None, below: str | None, change: str | None
    ) -> None:
        """Watch OUTCOME at a horizon (exactly one of --above, --below, --change)."""
        from dashboard.services.analysis import parse_threshold
        from indicators.alerts import add_alert
        from indicators.errors import BadInput

        given = [(k, v) for k, v in (("above", above), ("below", below), ("change", change)) if v is not None]
        if len(given) != 1:
            raise BadInput("alert add: give exactly one of --above, --below or --change.")
        kind, text = given[0]
        new_id = add_alert(
            env.store,
            env.case_id,
            outcome=outcome,
            horizon=horizon,
            kind=kind,
            threshold=parse_threshold(text),
            actor=env.actor,
        )
        click.echo(f"added alert {new_id}")

    @alert.command("list")
    @click.option("--all", "show_all", is_flag=True, default=False, help="Include removed alerts.")
    @FORMAT_OPTION
    @pass_env
    def alert_list(env: Env, show_all: bool, fmt: str) -> None:
        """List the alerts."""
        from indicators.alerts import list_alerts

        rows = [
            {
                "id": a["id"],
                "outcome": a["outcome"],
                "years": a["horizon_years"],
                "kind": a["kind"],
                "threshold_pct": round(100 * a["threshold"], 4),
                "active": a["active"],
                "created_at": a["created_at"],
                "created_by": a["created_by"],
            }
            for a in list_alerts(env.store, env.case_id, include_inactive=show_all)
        ]
        emit(rows, fmt, empty="no alerts")

    @alert.command("remove")
    @click.argument("alert_id", type=int, metavar="ID")
    @pass_env
    def alert_remove(env: Env, alert_id: int) -> None:
        """Remove (deactivate) an alert."""
        from indicators.alerts import remove_alert

        remove_alert(env.store, alert_id, actor=env.actor, case_id=env.case_id)
        click.echo(f"removed alert {alert_id}")

    @alert.command("check")
    @FORMAT_OPTION
    @pass_env
    def alert_check(env: Env, fmt: str) -> None:
        """Evaluate the alerts on the current run against the previous one; exit 3 if any fired."""
        from dashboard.services.analysis import check_alerts

        doc = check_alerts(env.store, env.case_id)
        rows = [
            {k: a[k] for k in ("id", "outcome", "years", "kind", "threshold", "previous", "current", "fired", "state")}
            for a in doc["alerts"]
        ]
        if fmt == "json":
            click.echo(json.dumps(doc, indent=2, default=str))
        else:
            emit(rows, fmt, empty="no alerts")
            if fmt == "table":
                for a in doc["fired"]:
                    click.echo(a["message"])
        if doc["fired"]:
            sys.stdout.flush()
            click.get_current_context().exit(ALERT_FIRED_EXIT)
