"""``harbinger observe reviewed`` and the stale-series warning of ``observe list`` and ``fit``.

An open-coverage ``events`` indicator is read by the model only through its reviewed-through
date (:mod:`indicators.reviews`); ``harbinger observe reviewed ID --through DATE`` records that
the analyst confirmed its record complete through DATE (a review record: added, never changed,
read "as of" like observations). ``harbinger observe reviewed --list`` shows every such series,
its reviewed-through date and whether it is stale (older than ``HARBINGER_STALE_DAYS``, default
two quarters).
"""

from __future__ import annotations

from datetime import date

import click

from dashboard.cli.support import Env, emit, pass_env
from dashboard.services.context import actor, parse_date_option
from indicators.errors import BadInput


def warn_stale(env: Env, day: date | None = None) -> None:
    """Print the stale-series warning (stderr) for the case as known at ``day`` (default: now)."""
    from dashboard.services.reviews import stale_view, stale_warning

    text = stale_warning(stale_view(env.store, env.case_id, as_of=day))
    if text:
        click.echo(f"harbinger: warning: {text}", err=True)


def register(main: click.Group) -> None:
    observe = main.commands["observe"]

    @observe.command("reviewed")
    @click.argument("indicator", required=False)
    @click.option(
        "--through",
        metavar="YYYY-MM-DD",
        default=None,
        help="The last day through which the indicator's record is complete.",
    )
    @click.option("--note", default="", help="What was checked (kept with the review record).")
    @click.option("--list", "show", is_flag=True, help="List every open-coverage series and its reviewed-through date.")
    @click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
    @pass_env
    def observe_reviewed(env: Env, indicator: str | None, through: str | None, note: str, show: bool, fmt: str) -> None:
        """Record that INDICATOR's record is complete through --through (an open-coverage events
        series: quarters after its reviewed-through date are missing to the model, not zero)."""
        from dashboard.services.reviews import add_review, stale_view

        if show or indicator is None:
            if indicator is not None or through is not None:
                raise BadInput("--list takes no INDICATOR or --through.")
            emit(stale_view(env.store, env.case_id)["series"], fmt, empty="no open-coverage series")
            return
        if through is None:
            raise BadInput("--through: give the date through which the record is complete (YYYY-MM-DD).")
        day = parse_date_option(through, "--through")
        new_id = add_review(env.store, env.case_id, indicator, day, actor=actor(), note=note)
        click.echo(f"review {new_id}: {indicator} reviewed through {day.isoformat()}")
