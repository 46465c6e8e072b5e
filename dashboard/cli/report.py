"""``harbinger report``: a run's forecast report (HTML, PDF) or export (CSV, JSON, netCDF)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from dashboard.cli.support import Env, pass_env
from dashboard.services.context import parse_date_option
from indicators.errors import BadInput

SUFFIX_FORMATS = {".html": "html", ".htm": "html", ".pdf": "pdf", ".csv": "csv", ".json": "json", ".nc": "netcdf"}


def output_target(output: str, default_name: str, *, store: Any, force: bool = False, final: bool = True) -> Path:
    """The file to write: ``output``, or ``default_name`` inside it when it is a directory.

    Raises :class:`BadInput` when the directory does not exist or cannot be written, when the
    file exists and ``force`` is not given, and always when the file is one of the store's own
    (:meth:`indicators.store.Store.own_paths`, symbolic links resolved), so nothing slow runs
    before a bad path is reported. Before the report is built its name inside a directory is not
    known yet (``final=False``): only the directory is checked then.
    """
    if not output or any(ch in output for ch in "\x00\r\n"):
        raise BadInput("--output: give a file path (without control characters).")
    path = Path(output).expanduser()
    named = not path.is_dir()
    if not named:
        path = path / default_name
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise BadInput(f"--output: the directory {parent} does not exist.")
    _refuse_store_file(path, store)
    if named or final:
        if os.path.lexists(path) and not force:
            raise BadInput(f"--output: {path} already exists; give --force to replace it, or another name.")
        if os.path.lexists(path) and not path.is_file():
            raise BadInput(f"--output: {path} exists and is not a regular file.")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".harbinger-", delete=True):
            pass
    except OSError as exc:
        raise BadInput(f"--output: cannot write to {parent} ({exc.strerror or exc}).") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise BadInput(f"--output: cannot overwrite {path} (permission denied).")
    return path


def _refuse_store_file(path: Path, store: Any) -> None:
    """BadInput when ``path`` (or what a link there points at) is one of the store's own files."""
    target = path.resolve()
    for own in store.own_paths():
        own = own.resolve()
        inside = target == own or own in target.parents
        same = own.exists() and path.exists() and os.path.samefile(path, own)
        if inside or same:
            raise BadInput(
                f"--output: {path} is the store's own file {own}; reports are never written "
                "there, --force or not. Choose another path."
            )


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomically(path: Path, data: bytes, *, force: bool = False) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, with the mode a
    new file gets under the user's umask. Without ``force`` the name is first claimed with an
    exclusive create, so a file that appeared since the checks is never replaced."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".harbinger-", suffix=path.suffix)
    claimed = False
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            os.fchmod(fh.fileno(), 0o666 & ~_umask())
        if not force:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            claimed = True
        os.replace(tmp, path)
    except FileExistsError:
        Path(tmp).unlink(missing_ok=True)
        raise BadInput(f"--output: {path} already exists; give --force to replace it, or another name.") from None
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if claimed:
            path.unlink(missing_ok=True)
        raise BadInput(f"--output: cannot write {path} ({exc.strerror or exc}).") from None


def register(main: click.Group) -> None:
    @main.command()
    @click.option(
        "--format",
        "fmt",
        metavar="html|pdf|csv|json|netcdf",
        default=None,
        help="What to write (default: from the --output suffix: .html, .pdf, .csv, .json, .nc).",
    )
    @click.option(
        "--output",
        "output",
        required=True,
        metavar="PATH",
        help="File to write, or a directory to write a file with a sanitised default name into.",
    )
    @click.option(
        "--as-of", "as_of", metavar="YYYY-MM-DD", help="The run fitted as of this date (or the latest before it)."
    )
    @click.option("--run", "run_id", metavar="ID", help="A particular run (default: the current good run).")
    @click.option("--force", is_flag=True, help="Replace the output file if it exists (never the store's own files).")
    @pass_env
    def report(env: Env, fmt: str | None, output: str, as_of: str | None, run_id: str | None, force: bool) -> None:
        """Write a run's forecast report: HTML or PDF (a document to send), CSV or JSON (the
        forecast table), or netCDF (the posterior). Each carries the run id, as-of date, case
        hash and model version; a run that failed its diagnostics is labelled as failing.

        An existing file is replaced only with --force; the store's own files (its database,
        runs and keys) never. The file gets the mode the user's umask gives new files."""
        from dashboard import report as reports

        if fmt is None:
            fmt = SUFFIX_FORMATS.get(Path(output).suffix.lower())
            if fmt is None:
                raise BadInput(
                    f"--format: not given and the --output suffix '{Path(output).suffix}' does not say "
                    f"which; use one of {', '.join(reports.FORMATS)}."
                )
        fmt = reports.check_format(fmt.lower())
        day = parse_date_option(as_of, "--as-of")
        # check the output before gathering the content and rendering (which take seconds)
        output_target(output, "report" + reports.FORMATS[fmt][0], store=env.store, force=force, final=False)
        content = reports.build(env.store, env.case_id, run_id=run_id, as_of=day, fmt=fmt)
        target = output_target(output, reports.filename(content, fmt), store=env.store, force=force)
        data = reports.render(content, fmt)
        write_atomically(target, data, force=force)
        ident = content["identity"]
        click.echo(
            f"wrote {reports.FORMAT_LABELS[fmt]} report of run {ident['run_id']} (as of {ident['as_of']}) "
            f"to {target} ({len(data):,} bytes)"
        )
        if not content["diagnostics"]["ok"]:
            _warn(
                f"run {ident['run_id']} FAILED its diagnostics ({content['diagnostics']['problems_text']}); "
                "the report says so."
            )


def _warn(text: str) -> Any:
    sys.stderr.write(f"harbinger: warning: {text}\n")
