"""Shared pieces of the ``harbinger`` command line, for every command module.

- :class:`HarbingerGroup`: the top-level group class; it turns expected failures into one line
  on stderr and an exit code (2: :class:`~indicators.errors.BadInput`, 1: anything else) for
  every subcommand, including those added later by other modules, and refuses (exit 2) any
  argument that is not UTF-8 text before a command runs.
- :class:`Env` / :data:`pass_env`: the store (opened and migrated on first use) and the chosen
  case (``--case``, else the only loaded case).
- :func:`parse_date_option`, :func:`actor`.
- :func:`emit`: print a DataFrame or a list of dicts as ``table``, ``csv`` or ``json``.

A command module looks like::

    from dashboard.cli_support import Env, pass_env, emit, FORMAT_OPTION

    def register(main: click.Group) -> None:
        @main.command()
        @FORMAT_OPTION
        @pass_env
        def forecast(env: Env, fmt: str) -> None:
            emit(make_frame(env.store, env.case_id), fmt)

JSON output (stable): a list of objects, one per row, with every column; dates as
``YYYY-MM-DD``, times as ISO 8601 with offset (``2021-04-09T06:00:00+00:00``), missing values as
``null``. CSV output has a header row; text cells that start with ``= + - @`` (or a tab or
carriage return) are prefixed with ``'`` so spreadsheets do not run them as formulas.

Stored text never drives the terminal: in every format, control characters, bidirectional-text
overrides and the like (:func:`indicators.text.printable`) are written as visible escapes, in
tables and CSV as the text ``\x1b``, in JSON as the equivalent ``\u001b`` (so JSON output still
parses to the stored text). Error messages are printed the same way.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import traceback
from datetime import date, datetime
from functools import cached_property
from typing import Any, Iterable, Mapping, Sequence

import click
import pandas as pd

from indicators.errors import BadInput, RowErrors
from indicators.text import printable, unsafe

FORMATS = ("table", "csv", "json")
FORMAT_OPTION = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                             help="Output format (json: a list of objects; csv: with a header row).")


class Failure(Exception):
    """An expected failure that is not the user's input (exit code 1), e.g. no case loaded."""


def actor() -> str:
    """Who is acting: ``HARBINGER_USER``, else the operating-system user name."""
    user = os.environ.get("HARBINGER_USER")
    if user:
        return user
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database in some containers
        return "unknown"


def open_store() -> Any:
    """The store from the environment, migrated to the newest schema."""
    from indicators.store import Store

    store = Store.from_env()
    store.upgrade()
    return store


def choose_case(store: Any, case_option: str | None) -> str:
    """The case to work on: ``--case``, else the only case loaded."""
    ids = store.case_ids()
    if case_option:
        if case_option not in ids:
            known = f"loaded cases: {', '.join(ids)}" if ids else "no case is loaded (run 'harbinger init')"
            raise BadInput(f"--case: unknown case '{case_option}'; {known}.")
        return case_option
    if not ids:
        raise Failure("no case is loaded yet; run 'harbinger init' first.")
    if len(ids) > 1:
        raise BadInput(f"several cases are loaded ({', '.join(ids)}); choose one with --case.")
    return ids[0]


class Env:
    """What every command needs, created lazily so ``--help`` never touches the store."""

    def __init__(self, case_option: str | None = None):
        self.case_option = case_option

    @cached_property
    def store(self) -> Any:
        return open_store()

    @cached_property
    def case_id(self) -> str:
        return choose_case(self.store, self.case_option)

    @property
    def actor(self) -> str:
        return actor()


pass_env = click.make_pass_decorator(Env, ensure=True)


def parse_date_option(value: str | None, option: str) -> date | None:
    """``YYYY-MM-DD`` from an option, or BadInput naming the option."""
    if value is None:
        return None
    from indicators.observations import parse_date

    try:
        return parse_date(value)
    except ValueError as exc:
        raise BadInput(f"{option}: {exc}.") from None


def _say(text: str) -> None:
    click.echo(printable(text, multiline=True), err=True)


def report_error(exc: BaseException) -> int:
    """Print an expected failure as one clear line (several for RowErrors); return the exit code."""
    if isinstance(exc, BadInput):
        _say(f"harbinger: {exc}" if not isinstance(exc, RowErrors) else str(exc))
        return 2
    if isinstance(exc, Failure):
        _say(f"harbinger: {exc}")
        return 1
    if os.environ.get("HARBINGER_DEBUG"):
        traceback.print_exception(exc, file=sys.stderr)
    else:
        _say(f"harbinger: unexpected error: {type(exc).__name__}: {exc} "
             "(set HARBINGER_DEBUG=1 to see the traceback).")
    return 1


class BadArgument(click.ClickException):
    """A command-line argument that cannot be read at all (exit 2, one line)."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        _say(f"harbinger: {self.format_message()}")


def _undecodable(arg: str) -> int | None:
    """The first byte of ``arg`` that was not UTF-8 (Python carries it as a lone surrogate)."""
    for ch in arg:
        if 0xDC80 <= ord(ch) <= 0xDCFF:
            return ord(ch) - 0xDC00
        if 0xD800 <= ord(ch) <= 0xDFFF:
            return ord(ch)
    return None


def check_arguments(args: Sequence[str]) -> None:
    """Refuse an argument that is not UTF-8 text, naming its option (the one before it, or in
    ``--name=value``) or its position; nothing could store, print or match it."""
    for k, arg in enumerate(args):
        byte = _undecodable(arg)
        if byte is None:
            continue
        name, _, _ = arg.partition("=")
        if arg.startswith("--") and "=" in arg and _undecodable(name) is None:
            where = name
        elif k > 0 and args[k - 1].startswith("-") and args[k - 1] != "--" and not arg.startswith("-"):
            where = args[k - 1]
        else:
            shown = "".join(f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else c for c in arg)
            where = f"argument {k + 1} ('{printable(shown[:60])}')"
        raise BadArgument(f"{where}: the value is not UTF-8 text (byte 0x{byte:02x} is not UTF-8); "
                          "give it in UTF-8.")


class HarbingerGroup(click.Group):
    """A click group that reports errors of any subcommand in the project's way."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.parent is None:  # the whole command line, before any command reads it
            check_arguments(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:  # noqa: BLE001 - the one place errors become exit codes
            ctx.exit(report_error(exc))


# ---------------------------------------------------------------------------- output

def _cell(value: Any, *, date_only: bool) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        if value.tzinfo is None and date_only:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _cell(value.item(), date_only=date_only)
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def to_records(data: pd.DataFrame | Sequence[Mapping[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Column names and JSON-safe rows (dates ISO, missing values None) of a frame or dict list."""
    if isinstance(data, pd.DataFrame):
        columns = [str(c) for c in data.columns]
        date_only = {}
        for c in data.columns:
            s = data[c]
            if pd.api.types.is_datetime64_any_dtype(s) and getattr(s.dt, "tz", None) is None:
                nonnull = s.dropna()
                date_only[c] = bool((nonnull == nonnull.dt.normalize()).all())
            else:
                date_only[c] = False
        rows = [{str(c): _cell(v, date_only=date_only[c]) for c, v in zip(data.columns, row)}
                for row in data.itertuples(index=False, name=None)]
        return columns, rows
    rows_in = list(data)
    columns = []
    for r in rows_in:
        columns += [str(k) for k in r if str(k) not in columns]
    rows = [{c: _cell(r.get(c), date_only=True) for c in columns} for r in rows_in]
    return columns, rows


def _safe_csv_cell(value: Any) -> Any:
    if isinstance(value, str):
        text = printable(value, multiline=True)
        return "'" + text if value[:1] in ("=", "+", "-", "@", "\t", "\r") else text
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else value


def format_table(columns: list[str], rows: list[dict[str, Any]], *, max_width: int = 48) -> str:
    def show(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, float):
            return f"{v:g}"
        if isinstance(v, (dict, list)):
            v = json.dumps(v)
        text = printable(str(v).replace("\n", " ").replace("\t", " "))
        if len(text) > 19 and text[10:11] == "T" and text[4:5] == "-":  # ISO time: to the minute
            text = text[:16].replace("T", " ")
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    cells = [[show(r[c]) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def render(data: pd.DataFrame | Sequence[Mapping[str, Any]], fmt: str, *, empty: str = "(nothing to show)") -> str:
    """``data`` as text in format ``fmt`` (``table``, ``csv`` or ``json``)."""
    columns, rows = to_records(data)
    if fmt == "json":
        text = json.dumps(rows, indent=2, ensure_ascii=False)
        # outside strings JSON holds only ASCII and line breaks, so each escape lands in a string
        return "".join(f"\\u{ord(ch):04x}" if unsafe(ch, multiline=True) else ch for ch in text)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow([_safe_csv_cell(r[c]) for c in columns])
        return buf.getvalue().rstrip("\n")
    if fmt == "table":
        return format_table(columns, rows) if rows else empty
    raise BadInput(f"--format: unknown format '{fmt}'; use one of {', '.join(FORMATS)}.")


def emit(data: pd.DataFrame | Sequence[Mapping[str, Any]], fmt: str, *, empty: str = "(nothing to show)") -> None:
    """Print :func:`render` of ``data`` to stdout."""
    click.echo(render(data, fmt, empty=empty))


def echo_lines(lines: Iterable[str]) -> None:
    for line in lines:
        click.echo(line)
