"""``harbinger watch``: the watch list of the current run.

Which indicator's next report would move each outcome's forecast most (value of information: the
expected absolute change of the probability, in points, with its Monte Carlo error), and which
next-quarter report would take a forecast across a threshold (tripwires), from
:mod:`dashboard.services.watch`. The run's document is read from its directory, or computed first
(a few seconds; progress on stderr) when it has none.

``--format json`` prints the view of :func:`dashboard.services.watch.watch_view` (probabilities
as fractions; its docstring documents every field).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from dashboard.cli.support import Env, emit, pass_env
from dashboard.services.context import Failure

TABLE_OR_JSON = click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True, help="Output format."
)


def _progress() -> Any:
    from dashboard.cli.runs import _progress_printer

    return _progress_printer() if sys.stderr.isatty() else None


def register(main: click.Group) -> None:
    @main.command()
    @click.option("--outcome", metavar="ID", default=None, help="Only this outcome (default: every unresolved one).")
    @click.option(
        "--horizon",
        metavar="YEARS",
        default=None,
        help="Horizon in years, one the outcome offers (default: the shortest).",
    )
    @click.option(
        "--threshold",
        metavar="PCT",
        default=None,
        help="Tripwire level in percent (default: the first round level clearly above each forecast).",
    )
    @click.option(
        "--period",
        type=click.Choice(["next_quarter", "next_year"]),
        default="next_quarter",
        show_default=True,
        help="The report whose value of information ranks the indicators.",
    )
    @click.option("--run", "run_id", metavar="ID", default=None, help="Run to use (default: the current run).")
    @TABLE_OR_JSON
    @pass_env
    def watch(
        env: Env,
        outcome: str | None,
        horizon: str | None,
        threshold: str | None,
        period: str,
        run_id: str | None,
        fmt: str,
    ) -> None:
        """The watch list: which indicator to collect next, and which observation would trip a warning.

        Ranks the indicators by the expected absolute change of each outcome's probability that
        their next report would bring (next quarter: the three months after the run's as-of date),
        with its Monte Carlo error; an indicator whose reweighting is unreliable (k-hat above 0.7)
        is marked, not ranked. Tripwires: for each outcome (at --threshold, or the first round
        level clearly above its forecast) and each alert you set, the smallest next-quarter value
        of each indicator that would take the forecast across it.
        """
        from dashboard.services import watch as ws
        from dashboard.services.analysis import AnalysisUnavailable

        years = ws.parse_years(horizon)
        level = ws.parse_level(threshold)
        try:
            doc = ws.watch_document(env.store, env.case_id, run_id=run_id, progress=_progress())
        except AnalysisUnavailable as exc:
            raise Failure(str(exc)) from None
        view = ws.watch_view(env.store, env.case_id, doc, outcome=outcome, years=years, threshold=level, period=period)
        if fmt == "json":
            click.echo(json.dumps(view, indent=2))
            return
        _print_table(view)


def _print_table(view: dict[str, Any]) -> None:
    from dashboard.services import watch as ws

    health = "diagnostics ok" if view["diagnostics_ok"] else "DIAGNOSTICS FAILED: not a clean forecast"
    p = view["period"]
    click.echo(f"watch list of run {view['run_id']} as of {view['as_of']} ({health}); {view['draws']} draws")
    click.echo(
        f"value of information of a confirmed ({view['report_grade']}) report over the {p['label']} "
        f"({p['start']} to {p['end']}): expected absolute change of each probability within "
        f"{view['years']} year(s), in points, with its Monte Carlo error"
    )
    emit(ws.ranking_table(view), "table", empty="no outcome to watch")
    click.echo(
        "rank —: not ranked, the reweighting is unreliable (k-hat above 0.7 for most of the predictive); "
        "khat_typical: k-hat at the predictive's median value; khat_over_0.7_pct: the predictive's "
        "probability where k-hat is above 0.7; sd_cut_pts: expected reduction of the forecast's "
        "posterior sd."
    )
    for o in view["outcomes"]:
        for wires in o["tripwires"]:
            _print_tripwires(o["outcome"], o["years"], o["p_mean"], wires)
    for a in view["alerts"]:
        for wires in a["tripwires"]:
            _print_tripwires(a["outcome"], a["years"], a["p_mean"], wires)


def _print_tripwires(outcome: str, years: int, p_now: float, wires: dict[str, Any]) -> None:
    source = "your threshold" if wires["source"] == "threshold" else wires["source"]
    click.echo(
        f"\ntripwires: {outcome} within {years} year(s) {wires['direction']} {100 * wires['level']:g}% "
        f"(now {100 * p_now:.2f}%; {source}):"
    )
    for e in wires["entries"]:
        if e["crosses"]:
            click.echo(
                f"  {e['sentence']}  [then {100 * e['p']:.2f}% ± {100 * e['mcse']:.2f} (Monte Carlo); "
                f"chance of seeing it: {100 * e['chance']:.1f}%]"
            )
    if not wires["sentences"]:
        click.echo("  no plausible next-quarter value of any indicator crosses it")
    elif wires["no_crossing"]:
        click.echo(
            f"  no plausible next-quarter value of the other {len(wires['no_crossing'])} indicator(s) crosses it"
        )
