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
@click.option(
    "--case", "case_option", metavar="ID", default=None, help="The case to work on (default: the only case loaded)."
)
@click.version_option(package_name="harbinger", prog_name="harbinger")
@click.pass_context
def main(ctx: click.Context, case_option: str | None) -> None:
    """Harbinger: Bayesian scenario forecasting from recorded indicators.

    The store lives in HARBINGER_HOME (default: the user data directory), or at
    HARBINGER_DATABASE_URL. Exit codes: 0 success, 2 bad input, 1 other failure.
    """
    ctx.obj = Env(case_option)


# ---------------------------------------------------------------------------- init and cases

YES_OPTION = click.option(
    "--yes", "-y", "yes", is_flag=True, help="Apply a changed case file without asking (the changes are still listed)."
)


@main.command()
@click.option(
    "--case-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Case YAML to load instead of the shipped Northern Territories case (as 'case load').",
)
@click.option(
    "--observations",
    "observations_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Observations CSV to load with it (default: the shipped file of that case).",
)
@YES_OPTION
@pass_env
def init(env: Env, case_file: Path | None, observations_file: Path | None, yes: bool) -> None:
    """Create or upgrade the store, and load a case with its observations if it is not loaded yet.

    Plain 'harbinger init' loads the shipped case only while no case of its id is in the store;
    it never changes a stored case, so a case edited and loaded under the shipped id stays as it
    is (when the shipped file differs, init says so and names the command that applies it). With
    --case-file it loads that file as 'harbinger case load' does: a new case is inserted; a
    changed case file under an existing id lists what changes and is applied only when
    confirmed (--yes, or 'y' at the prompt). The observations file is loaded only while the case
    has no records at all, in the same transaction as the case: on any bad row nothing is
    stored. Its recorded_at column gives the times the facts became known (recorded_by
    'harbinger init').
    """
    from indicators.case import load_case, shipped_case_path
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
    if case_file is not None:
        _load_case_file(store, case_file, observations_file, yes=yes)
        return
    path = shipped_case_path()
    if not path.exists():
        raise Failure(f"the shipped case file {path} is missing; reinstall harbinger or pass --case-file.")
    loaded = load_case(path)
    stored = store.get_case(loaded.case.id) if loaded.case.id in store.case_ids() else None
    if stored is None or observations_file is not None:
        _load_case_file(store, path, observations_file, yes=yes, loaded=loaded, keep_stored=True)
        return
    if stored.hash == loaded.hash:
        click.echo(f"case '{loaded.case.id}': unchanged (hash {loaded.hash})")
    else:
        click.echo(
            f"case '{loaded.case.id}': kept the version in the store (hash {stored.hash}); the shipped file "
            f"{path} differs (hash {loaded.hash}). 'harbinger case load {path}' lists the changes and "
            "applies them when confirmed."
        )
    n_records = store.n_records(loaded.case.id)
    click.echo(
        f"observations: case '{loaded.case.id}' already has {n_records} record(s); none loaded"
        if n_records
        else f"observations: case '{loaded.case.id}' has no records"
    )


def _load_case_file(
    store: Any, path: Path, observations_file: Path | None, *, yes: bool, loaded: Any = None, keep_stored: bool = False
) -> None:
    """Load the case file at ``path`` (validated) and, while the case has no records, its
    observations, in one transaction. A changed case under an existing id is listed and applied
    only when confirmed; with ``keep_stored`` the stored version is never replaced."""
    from indicators.case import case_changes, load_case
    from indicators.observations import coverage_summary, outside_coverage, read_csv_file
    from indicators.resources import data_path

    loaded = loaded or load_case(path)
    case_id = loaded.case.id
    stored = store.get_case(case_id) if case_id in store.case_ids() else None
    if stored is not None and stored.hash != loaded.hash:
        if keep_stored:
            loaded = stored
        else:
            _confirm_changes(case_id, stored, loaded, path, case_changes(stored.case, loaded.case), yes=yes)
    obs_path = observations_file
    if obs_path is None:
        shipped = data_path("observations", f"{case_id}.csv")
        obs_path = shipped if shipped.exists() else None
    n_records = store.n_records(case_id) if stored is not None else 0
    numbered = read_csv_file(obs_path) if obs_path is not None and not n_records else None
    status, ids = store.load_case_with_observations(
        loaded,
        numbered,
        actor=INIT_ACTOR,
        where=str(obs_path),
        extra={"file": str(obs_path)},
        stored_hash=stored.hash if stored is not None else None,
    )
    shown = f"{status} (hash {loaded.hash})" + ("" if loaded is stored else f" from {path}")
    click.echo(f"case '{case_id}': {shown}")
    if obs_path is None:
        click.echo(f"observations: no observations file for '{case_id}'; none loaded")
    elif ids is None:
        click.echo(f"observations: case '{case_id}' already has {n_records} record(s); {obs_path} not loaded again")
    else:
        click.echo(f"observations: loaded {len(ids)} from {obs_path}")
        lines = [line for line, _ in numbered or []]
        for text in coverage_summary(outside_coverage(loaded.case, numbered or []), dict(zip(lines, ids))):
            click.echo(f"  {text}")
        from dashboard.services.reviews import load_shipped_reviews

        n_reviews = load_shipped_reviews(store, case_id, actor=INIT_ACTOR)
        if n_reviews:
            click.echo(f"reviews: loaded {n_reviews} shipped review record(s) (open-coverage series reviewed through)")


def _confirm_changes(case_id: str, stored: Any, loaded: Any, path: Path, changes: list[str], *, yes: bool) -> None:
    """List what loading ``loaded`` over ``stored`` changes; return when confirmed, else stop
    (exit 2 without a terminal to ask on, 1 when the answer is no)."""
    import sys

    click.echo(f"case '{case_id}': {path} differs from the version in the store (hash {stored.hash} → {loaded.hash}):")
    for line in changes or ["texts or layout only (nothing the model reads)"]:
        click.echo(f"  - {line}")
    if yes:
        return
    if not sys.stdin.isatty():
        raise BadInput(
            f"case '{case_id}': the case file changes the stored case (listed above); nothing was "
            "changed. Run again with --yes to apply these changes."
        )
    if not click.confirm("Apply these changes to the stored case?", default=False):
        raise Failure(f"case '{case_id}': not applied; nothing was changed.")


@main.group("case")
def case_group() -> None:
    """Check and load case files (factors, indicators, outcomes, scenarios; see docs/case-file.md)."""


@case_group.command("validate")
@click.argument("file", type=click.Path(path_type=Path))
def case_validate(file: Path) -> None:
    """Check a case file and report every problem at once, each with its line; writes nothing.

    Exit 0 with a one-line summary when the file is a valid case, 2 with the list of problems
    (field errors, unknown keys with the nearest known one, keys given twice, unknown factors,
    anchors and indicators) when it is not. The store is not opened.
    """
    from indicators.case import CaseErrors, check_case, read_case_text

    loaded, problems = check_case(read_case_text(file), where=str(file))
    if loaded is None:
        raise CaseErrors(str(file), problems)
    case = loaded.case
    click.echo(
        f"{file}: valid case '{case.id}': {len(case.factors)} factor(s), {len(case.indicators)} indicator(s), "
        f"{len(case.outcomes)} outcome(s), {len(case.scenarios)} scenario(s) (hash {loaded.hash})."
    )


@case_group.command("load")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--observations",
    "observations_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Observations CSV to load with it while the case has no records "
    "(default: the shipped file of that case, if any).",
)
@YES_OPTION
@pass_env
def case_load(env: Env, file: Path, observations_file: Path | None, yes: bool) -> None:
    """Load a case file into the store: insert a new case, or replace the stored version of it.

    A case file whose id is already loaded with other content lists what changes (factors,
    indicators and outcomes added or removed; changed families, aggregations, loadings,
    coverage, base rates, effects, horizons, resolutions, scenarios) and is applied only when
    confirmed: --yes, or 'y' at the prompt (without a terminal and without --yes nothing is
    changed, exit 2). A new version may not drop an indicator that still has observations.
    The observations file is loaded only while the case has no records, in the same
    transaction as the case.
    """
    _load_case_file(env.store, file, observations_file, yes=yes)


# ---------------------------------------------------------------------------- observe


@main.group()
def observe() -> None:
    """Add, import, list, correct, retract and repair observations."""


_OPTION_NAMES = {
    "indicator": "--indicator",
    "date": "--date",
    "end": "--end",
    "value": "--value",
    "source": "--source",
    "reliability": "--reliability",
    "credibility": "--credibility",
    "note": "--note",
}


def _row_errors_as_options(exc: RowErrors, what: str) -> BadInput:
    parts = [f"{_OPTION_NAMES.get(col, col)}: {reason}" for _, col, reason in exc.errors]
    return BadInput(f"{what}: {'; '.join(parts)}.")


@observe.command("add")
@click.option("--indicator", required=True, metavar="ID", help="Indicator id from the case file.")
@click.option(
    "--date", "day", required=True, metavar="YYYY-MM-DD", help="Day of the event, or first day of the period."
)
@click.option("--end", default=None, metavar="YYYY-MM-DD", help="Last day of the period (default: a single day).")
@click.option("--value", required=True, metavar="V", help="The observed value (a number).")
@click.option("--source", required=True, metavar="TEXT", help="Where it comes from (text or URL).")
@click.option(
    "--reliability",
    default=None,
    metavar="A-F",
    help=f"Admiralty source reliability grade (default {DEFAULT_RELIABILITY}).",
)
@click.option(
    "--credibility",
    default=None,
    metavar="1-6",
    help=f"Admiralty information credibility grade (default {DEFAULT_CREDIBILITY}).",
)
@click.option("--note", default=None, metavar="TEXT", help="Free-text note.")
@pass_env
def observe_add(
    env: Env,
    indicator: str,
    day: str,
    end: str | None,
    value: str,
    source: str,
    reliability: str | None,
    credibility: str | None,
    note: str | None,
) -> None:
    """Record one observation."""
    row: dict[str, Any] = {
        "indicator": indicator,
        "date": day,
        "end": end,
        "value": value,
        "source": source,
        "reliability": reliability,
        "credibility": credibility,
        "note": note,
    }
    try:
        (new_id,) = env.store.add_observations(env.case_id, [row], actor=env.actor, where="observation")
    except RowErrors as exc:
        raise _row_errors_as_options(exc, "observation not added") from None
    click.echo(f"added observation {new_id}")
    from indicators.observations import coverage_problem, validate_row

    case = env.store.get_case(env.case_id).case
    obs, _ = validate_row(case, row)
    problem = coverage_problem(case, obs) if obs is not None else None
    if problem:
        click.echo(
            f"  note: {problem}: it is stored, but the model does not count it (widen coverage_start or "
            "coverage_end in the case file to count it)."
        )


@observe.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@pass_env
def observe_import(env: Env, file: Path) -> None:
    """Import observations from a CSV file, all or nothing.

    Header: indicator,date,end,value,source,reliability,credibility,note (end, reliability,
    credibility, note optional; an optional recorded_at column back-fills when each fact became
    known). On any bad row nothing is stored and every bad row is listed. Rows of an events
    indicator outside its coverage window are stored but not counted by the model; the summary
    names each of them.
    """
    from indicators.observations import coverage_summary, outside_coverage, read_csv_file

    ids = env.store.import_csv(env.case_id, file, actor=env.actor)
    click.echo(f"imported {len(ids)} observation(s) from {file} (ids {ids[0]}-{ids[-1]})")
    numbered = read_csv_file(file)
    case = env.store.get_case(env.case_id).case
    lines = [line for line, _ in numbered]
    for text in coverage_summary(outside_coverage(case, numbered), dict(zip(lines, ids))):
        click.echo(f"  {text}")


@observe.command("list")
@click.option("--indicator", default=None, metavar="ID", help="Only this indicator.")
@click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="YYYY-MM-DD",
    help="As known at the end of this day (UTC): later records, corrections and retractions are ignored.",
)
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
        click.echo(
            f"harbinger: warning: {len(problems)} observation(s) in effect have dates the case refuses "
            f"(ids {ids}); those the store cannot read are left out above and out of every fit. "
            "'harbinger observe repair' lists them and retracts them.",
            err=True,
        )


def _with_surprise_flags(env: Env, frame: Any, day: Any) -> Any:
    """Add the current run's (or the run as of ``day``'s) surprise flag and PIT of each observation
    after its source's reliability and credibility grades (blank where the run did not model the
    observation). Without any fitted run the columns are left out."""
    from dashboard.services.analysis import with_surprise_columns
    from dashboard.services.runs import select_forecast

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
@click.option(
    "--retract",
    "retract",
    is_flag=True,
    help="Retract every observation listed (a retraction record each; nothing is deleted).",
)
@click.option(
    "--reason",
    default=REPAIR_REASON,
    show_default=True,
    metavar="TEXT",
    help="The retractions' reason (each also names its problem).",
)
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
            click.echo(
                f"harbinger: 'harbinger observe repair --retract' retracts these {len(problems)} observation(s).",
                err=True,
            )
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
COMMAND_MODULES = (
    "dashboard.cli.runs",
    "dashboard.cli.users",
    "dashboard.cli.backtest",
    "dashboard.cli.scenarios",
    "dashboard.cli.report",
    "dashboard.cli.worker",
    "dashboard.cli.watch",
    "dashboard.cli.reviews",
)


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
