"""The ``harbinger`` command line.

Exit codes: 0 success, 2 bad input (one sentence on stderr naming it; for an import, one line per
bad row), 1 anything else. The acting user recorded with every change is ``HARBINGER_USER`` or
the operating-system user name. Shared helpers live in :mod:`dashboard.cli.support`; the
fitting and forecasting commands are added by :mod:`dashboard.cli.runs` (``register(main)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dashboard.cli.serve import register as register_serve
from dashboard.cli.support import FORMAT_OPTION, Env, HarbingerGroup, emit, pass_env
from dashboard.services.context import Failure, parse_date_option
from indicators.errors import BadInput, RowErrors
from indicators.observations import DEFAULT_CREDIBILITY, DEFAULT_RELIABILITY

INIT_ACTOR = "harbinger init"


@click.group(cls=HarbingerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--case", "case_option", metavar="ID", default=None,
              help="The case to work on (default: the only case loaded).")
@click.version_option(package_name="harbinger", prog_name="harbinger")
@click.pass_context
def main(ctx: click.Context, case_option: str | None) -> None:
    """Harbinger: Bayesian scenario forecasting from recorded indicators.

    The store lives in HARBINGER_HOME (default: the user data directory), or at
    HARBINGER_DATABASE_URL. Exit codes: 0 success, 2 bad input, 1 other failure.
    """
    ctx.obj = Env(case_option)


# ---------------------------------------------------------------------------- init

@main.command()
@click.option("--case-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Case YAML to load instead of the shipped Northern Territories case.")
@click.option("--observations", "observations_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Observations CSV to load with it (default: the shipped file of that case).")
@pass_env
def init(env: Env, case_file: Path | None, observations_file: Path | None) -> None:
    """Create or upgrade the store and load the case with its observations (idempotent).

    The observations file is loaded only while the case has no observation records at all; its
    recorded_at column gives the times the facts became known (recorded_by 'harbinger init').
    """
    from indicators.case import load_case, shipped_case_path
    from indicators.resources import data_path
    from indicators.store import Store

    store = Store.from_env()
    before = store.schema_version()
    store.upgrade()
    after = store.schema_version()
    where = store.engine.url.render_as_string(hide_password=True)
    if before == after:
        click.echo(f"store {where}: schema up to date (revision {after})")
    else:
        click.echo(f"store {where}: schema {'created' if before is None else 'upgraded'} (revision {after})")

    path = case_file or shipped_case_path()
    if case_file is None and not path.exists():
        raise Failure(f"the shipped case file {path} is missing; reinstall harbinger or pass --case-file.")
    loaded = load_case(path)
    case_id = loaded.case.id
    status = store.load_case(loaded, actor=INIT_ACTOR)
    click.echo(f"case '{case_id}': {status} (hash {loaded.hash}) from {path}")

    obs_path = observations_file
    if obs_path is None:
        shipped = data_path("observations", f"{case_id}.csv")
        obs_path = shipped if shipped.exists() else None
    if obs_path is None:
        click.echo(f"observations: no observations file for '{case_id}'; none loaded")
        return
    n_records = store.n_records(case_id)
    if n_records:
        click.echo(f"observations: case '{case_id}' already has {n_records} record(s); {obs_path} not loaded again")
        return
    ids = store.import_csv(case_id, obs_path, actor=INIT_ACTOR)
    click.echo(f"observations: loaded {len(ids)} from {obs_path}")

    from dashboard.services.reviews import load_shipped_reviews

    n_reviews = load_shipped_reviews(store, case_id, actor=INIT_ACTOR)
    if n_reviews:
        click.echo(f"reviews: loaded {n_reviews} shipped review record(s) (open-coverage series reviewed through)")


# ---------------------------------------------------------------------------- observe

@main.group()
def observe() -> None:
    """Add, import, list, correct, retract and repair observations."""


_OPTION_NAMES = {"indicator": "--indicator", "date": "--date", "end": "--end", "value": "--value",
                 "source": "--source", "reliability": "--reliability", "credibility": "--credibility",
                 "note": "--note"}


def _row_errors_as_options(exc: RowErrors, what: str) -> BadInput:
    parts = [f"{_OPTION_NAMES.get(col, col)}: {reason}" for _, col, reason in exc.errors]
    return BadInput(f"{what}: {'; '.join(parts)}.")


@observe.command("add")
@click.option("--indicator", required=True, metavar="ID", help="Indicator id from the case file.")
@click.option("--date", "day", required=True, metavar="YYYY-MM-DD", help="Day of the event, or first day of the period.")
@click.option("--end", default=None, metavar="YYYY-MM-DD", help="Last day of the period (default: a single day).")
@click.option("--value", required=True, metavar="V", help="The observed value (a number).")
@click.option("--source", required=True, metavar="TEXT", help="Where it comes from (text or URL).")
@click.option("--reliability", default=None, metavar="A-F",
              help=f"Admiralty source reliability grade (default {DEFAULT_RELIABILITY}).")
@click.option("--credibility", default=None, metavar="1-6",
              help=f"Admiralty information credibility grade (default {DEFAULT_CREDIBILITY}).")
@click.option("--note", default=None, metavar="TEXT", help="Free-text note.")
@pass_env
def observe_add(env: Env, indicator: str, day: str, end: str | None, value: str, source: str,
                reliability: str | None, credibility: str | None, note: str | None) -> None:
    """Record one observation."""
    row: dict[str, Any] = {"indicator": indicator, "date": day, "end": end, "value": value, "source": source,
                           "reliability": reliability, "credibility": credibility, "note": note}
    try:
        (new_id,) = env.store.add_observations(env.case_id, [row], actor=env.actor, where="observation")
    except RowErrors as exc:
        raise _row_errors_as_options(exc, "observation not added") from None
    click.echo(f"added observation {new_id}")


@observe.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@pass_env
def observe_import(env: Env, file: Path) -> None:
    """Import observations from a CSV file, all or nothing.

    Header: indicator,date,end,value,source,reliability,credibility,note (end, reliability,
    credibility, note optional; an optional recorded_at column back-fills when each fact became
    known). On any bad row nothing is stored and every bad row is listed.
    """
    ids = env.store.import_csv(env.case_id, file, actor=env.actor)
    click.echo(f"imported {len(ids)} observation(s) from {file} (ids {ids[0]}-{ids[-1]})")


@observe.command("list")
@click.option("--indicator", default=None, metavar="ID", help="Only this indicator.")
@click.option("--as-of", "as_of", default=None, metavar="YYYY-MM-DD",
              help="As known at the end of this day (UTC): later records, corrections and retractions are ignored.")
@FORMAT_OPTION
@pass_env
def observe_list(env: Env, indicator: str | None, as_of: str | None, fmt: str) -> None:
    """List the observations in effect (with corrections applied, retractions removed)."""
    day = parse_date_option(as_of, "--as-of")
    case_id = env.case_id
    if indicator is not None:
        case = env.store.get_case(case_id).case
        if indicator not in case.indicator_ids:
            raise BadInput(f"--indicator: '{indicator}' is not an indicator of case '{case_id}'.")
    frame = env.store.observations(case_id, as_of=day, indicator=indicator)
    emit(_with_surprise_flags(env, frame, day), fmt, empty="no observations")
    from dashboard.cli.reviews import warn_stale

    warn_stale(env, day)
    problems = env.store.date_problems(case_id)
    if problems:
        ids = ", ".join(str(p["id"]) for p in problems[:10]) + (", ..." if len(problems) > 10 else "")
        click.echo(f"harbinger: warning: {len(problems)} observation(s) in effect have dates the case refuses "
                   f"(ids {ids}); those the store cannot read are left out above and out of every fit. "
                   "'harbinger observe repair' lists them and retracts them.", err=True)


def _with_surprise_flags(env: Env, frame: Any, day: Any) -> Any:
    """Add the current run's (or the run as of ``day``'s) surprise flag and PIT of each observation
    after its source's reliability and credibility grades (blank where the run did not model the
    observation). Without any fitted run the columns are left out."""
    from dashboard.services.runs import select_forecast
    from dashboard.services.analysis import with_surprise_columns

    try:
        forecast = select_forecast(env.store, env.case_id, as_of=day)
    except BadInput:  # no run yet (or its forecast cannot be read): nothing to flag with
        return frame
    return with_surprise_columns(frame, forecast.document)


@observe.command("history")
@FORMAT_OPTION
@pass_env
def observe_history(env: Env, fmt: str) -> None:
    """List every record of the case: observations, corrections and retractions."""
    emit(env.store.history(env.case_id), fmt, empty="no records")


@observe.command("retract")
@click.argument("obs_id", metavar="ID", type=int)
@click.option("--reason", required=True, metavar="TEXT", help="Why it is retracted (kept in the record).")
@pass_env
def observe_retract(env: Env, obs_id: int, reason: str) -> None:
    """Retract an observation: it stops counting from now on, and stays in the history."""
    new_id = env.store.retract(obs_id, reason=reason, actor=env.actor)
    click.echo(f"retracted observation {obs_id} (retraction record {new_id})")


REPAIR_REASON = "date outside the range the case accepts"


@observe.command("repair")
@click.option("--retract", "retract", is_flag=True,
              help="Retract every observation listed (a retraction record each; nothing is deleted).")
@click.option("--reason", default=REPAIR_REASON, show_default=True, metavar="TEXT",
              help="The retractions' reason (each also names its problem).")
@FORMAT_OPTION
@pass_env
def observe_repair(env: Env, retract: bool, reason: str, fmt: str) -> None:
    """List the observations in effect whose dates the case refuses; with --retract, retract them.

    These are observations dated before the case starts (or before 1900), known (recorded_at)
    before it starts, or dated beyond what the store can read, as an older version or a hand edit
    may have stored. Those the store cannot read are left out of 'observe list', the pages and
    every fit until retracted; the retraction records keep them in 'observe history'.
    """
    if not retract:
        problems = env.store.date_problems(env.case_id)
        emit(problems, fmt, empty="no observations with dates the case refuses; nothing to repair")
        if problems:
            click.echo(f"harbinger: 'harbinger observe repair --retract' retracts these {len(problems)} "
                       "observation(s).", err=True)
        return
    done = env.store.repair_dates(env.case_id, reason=reason, actor=env.actor)
    emit(done, fmt, empty="no observations with dates the case refuses; nothing retracted")
    if done:
        click.echo(f"harbinger: retracted {len(done)} observation(s).", err=True)


@observe.command("correct")
@click.argument("obs_id", metavar="ID", type=int)
@click.option("--indicator", default=None, metavar="ID", help="New indicator.")
@click.option("--date", "day", default=None, metavar="YYYY-MM-DD", help="New date.")
@click.option("--end", default=None, metavar="YYYY-MM-DD", help="New end of the period.")
@click.option("--value", default=None, metavar="V", help="New value.")
@click.option("--source", default=None, metavar="TEXT", help="New source.")
@click.option("--reliability", default=None, metavar="A-F", help="New reliability grade.")
@click.option("--credibility", default=None, metavar="1-6", help="New credibility grade.")
@click.option("--note", default=None, metavar="TEXT", help="New note.")
@click.option("--reason", required=True, metavar="TEXT", help="Why it is corrected (kept in the record).")
@pass_env
def observe_correct(env: Env, obs_id: int, reason: str, **changes: Any) -> None:
    """Correct an observation: a new record with the corrected values replaces it from now on."""
    changes = {("date" if k == "day" else k): v for k, v in changes.items() if v is not None}
    if not changes:
        raise BadInput("observe correct: give at least one new value (--value, --date, --source, ...).")
    new_id = env.store.correct(obs_id, changes, reason=reason, actor=env.actor)
    click.echo(f"corrected observation {obs_id} (correction record {new_id})")


# ---------------------------------------------------------------------------- more commands

#: Modules that add command groups: each defines ``register(main)``. Add a module here to add commands.
COMMAND_MODULES = ("dashboard.cli.runs", "dashboard.cli.users", "dashboard.cli.backtest",
                   "dashboard.cli.scenarios", "dashboard.cli.report", "dashboard.cli.worker", "dashboard.cli.watch",
                   "dashboard.cli.reviews")


def _register_more() -> None:
    import importlib

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            if exc.name != name:  # the module exists but something it needs is missing
                click.echo(f"harbinger: commands from {name} unavailable: {exc}", err=True)
            continue
        module.register(main)


_register_more()
register_serve(main)

if __name__ == "__main__":  # pragma: no cover
    main()
