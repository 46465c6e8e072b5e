"""Shared pieces of the ``harbinger`` command line, for every command module.

- :class:`HarbingerGroup`: the top-level group class; it turns expected failures into one line
  on stderr and an exit code (2: :class:`~indicators.errors.BadInput`, 1: anything else) for
  every subcommand, including those added later by other modules, and refuses (exit 2) any
  argument that is not UTF-8 text before a command runs.
- :class:`Env` / :data:`pass_env`: the store (opened and migrated on first use) and the chosen
  case (``--case``, else the only loaded case).
- :func:`emit`: print a DataFrame or a list of dicts as ``table``, ``csv`` or ``json``
  (:mod:`dashboard.services.tables`).

The store, the case, the acting user and date options come from
:mod:`dashboard.services.context`, shared with the web app.

A command module looks like::

    from dashboard.cli.support import Env, pass_env, emit, FORMAT_OPTION

    def register(main: click.Group) -> None:
        @main.command()
        @FORMAT_OPTION
        @pass_env
        def forecast(env: Env, fmt: str) -> None:
            emit(make_frame(env.store, env.case_id), fmt)
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any

import click
import pandas as pd

from dashboard.services.context import Failure, actor, choose_case, open_store
from dashboard.services.tables import FORMATS, render
from indicators.errors import BadInput, RowErrors
from indicators.text import printable

FORMAT_OPTION = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format (json: a list of objects; csv: with a header row).",
)


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

DENSITY_OPTION = click.option(
    "--density",
    type=click.Choice(["fused", "pytensor"]),
    default=None,
    help="The log density nutpie samples: 'fused' (the fast hand-written kernel, checked against the PyMC "
    "model when compiled) or 'pytensor' (PyTensor's generated function). Default: HARBINGER_DENSITY, "
    "else fused.",
)


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
        _say(f"harbinger: unexpected error: {type(exc).__name__}: {exc} (set HARBINGER_DEBUG=1 to see the traceback).")
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
        raise BadArgument(f"{where}: the value is not UTF-8 text (byte 0x{byte:02x} is not UTF-8); give it in UTF-8.")


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


def emit(data: pd.DataFrame | Sequence[Mapping[str, Any]], fmt: str, *, empty: str = "(nothing to show)") -> None:
    """Print :func:`render` of ``data`` to stdout."""
    click.echo(render(data, fmt, empty=empty))


def echo_lines(lines: Iterable[str]) -> None:
    for line in lines:
        click.echo(line)
