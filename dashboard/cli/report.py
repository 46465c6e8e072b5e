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


def output_target(output: str, fmt: str, default_name: str) -> Path:
    """The file to write: ``output``, or ``default_name`` inside it when it is a directory.

    Raises :class:`BadInput` when the directory does not exist or cannot be written, so nothing
    slow runs before a bad path is reported.
    """
    if not output or any(ch in output for ch in "\x00\r\n"):
        raise BadInput("--output: give a file path (without control characters).")
    path = Path(output).expanduser()
    if path.is_dir():
        path = path / default_name
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise BadInput(f"--output: the directory {parent} does not exist.")
    if path.exists() and not path.is_file():
        raise BadInput(f"--output: {path} exists and is not a regular file.")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".harbinger-", delete=True):
            pass
    except OSError as exc:
        raise BadInput(f"--output: cannot write to {parent} ({exc.strerror or exc}).") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise BadInput(f"--output: cannot overwrite {path} (permission denied).")
    return path


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".harbinger-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise BadInput(f"--output: cannot write {path} ({exc.strerror or exc}).") from None


def register(main: click.Group) -> None:
    @main.command()
    @click.option("--format", "fmt", metavar="html|pdf|csv|json|netcdf", default=None,
                  help="What to write (default: from the --output suffix: .html, .pdf, .csv, .json, .nc).")
    @click.option("--output", "output", required=True, metavar="PATH",
                  help="File to write, or a directory to write a file with a sanitised default name into.")
    @click.option("--as-of", "as_of", metavar="YYYY-MM-DD", help="The run fitted as of this date (or the latest before it).")
    @click.option("--run", "run_id", metavar="ID", help="A particular run (default: the current good run).")
    @pass_env
    def report(env: Env, fmt: str | None, output: str, as_of: str | None, run_id: str | None) -> None:
        """Write a run's forecast report: HTML or PDF (a document to send), CSV or JSON (the
        forecast table), or netCDF (the posterior). Each carries the run id, as-of date, case
        hash and model version; a run that failed its diagnostics is labelled as failing."""
        from dashboard import report as reports

        if fmt is None:
            fmt = SUFFIX_FORMATS.get(Path(output).suffix.lower())
            if fmt is None:
                raise BadInput(f"--format: not given and the --output suffix '{Path(output).suffix}' does not say "
                               f"which; use one of {', '.join(reports.FORMATS)}.")
        fmt = reports.check_format(fmt.lower())
        day = parse_date_option(as_of, "--as-of")
        # check the output before gathering the content and rendering (which take seconds)
        output_target(output, fmt, "report" + reports.FORMATS[fmt][0])
        content = reports.build(env.store, env.case_id, run_id=run_id, as_of=day, fmt=fmt)
        target = output_target(output, fmt, reports.filename(content, fmt))
        data = reports.render(content, fmt)
        write_atomically(target, data)
        ident = content["identity"]
        click.echo(f"wrote {reports.FORMAT_LABELS[fmt]} report of run {ident['run_id']} (as of {ident['as_of']}) "
                   f"to {target} ({len(data):,} bytes)")
        if not content["diagnostics"]["ok"]:
            _warn(f"run {ident['run_id']} FAILED its diagnostics ({content['diagnostics']['problems_text']}); "
                  "the report says so.")


def _warn(text: str) -> Any:
    sys.stderr.write(f"harbinger: warning: {text}\n")
