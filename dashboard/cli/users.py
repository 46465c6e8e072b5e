"""``harbinger user add | list | remove``: the dashboard's accounts (see :mod:`indicators.users`).

The password is prompted twice without echo, or read from the first line of standard input with
``--password-stdin`` (for scripts: ``printf '%s\\n' "$PW" | harbinger user add ann --role editor
--password-stdin``). It is never accepted as an option (it would show in the process list and the
shell history), never printed and never stored: only its Argon2id hash is.
"""

from __future__ import annotations

import sys

import click

from dashboard.cli.support import FORMAT_OPTION, Env, emit, pass_env
from indicators.errors import BadInput


def _read_password(from_stdin: bool) -> str:
    from indicators.users import check_password

    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise BadInput("--password-stdin: standard input is empty; give the password on its first line.")
        return check_password(line.rstrip("\r\n"))
    while True:
        password = click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password", err=True)
        try:
            return check_password(password)
        except BadInput as exc:
            if not sys.stdin.isatty():
                raise
            click.echo(f"harbinger: {exc}", err=True)


def register(main: click.Group) -> None:
    @main.group()
    def user() -> None:
        """Dashboard accounts: viewers read, editors also change the record."""

    @user.command("add")
    @click.argument("name")
    @click.option(
        "--role",
        type=click.Choice(["editor", "viewer"]),
        required=True,
        help="viewer: may read; editor: may also add, correct, retract, fit, save scenarios, set alerts.",
    )
    @click.option(
        "--password-stdin",
        is_flag=True,
        default=False,
        help="Read the password from the first line of standard input instead of prompting.",
    )
    @pass_env
    def user_add(env: Env, name: str, role: str, password_stdin: bool) -> None:
        """Add an account NAME (or re-activate a removed one) with a password."""
        from indicators.users import add_user, check_name

        name = check_name(name)
        password = _read_password(password_stdin)
        status = add_user(env.store, name, password, role, actor=env.actor)
        click.echo(f"user '{name}' {status} with role {role}")

    @user.command("list")
    @click.option("--all", "show_all", is_flag=True, default=False, help="Include removed (inactive) accounts.")
    @FORMAT_OPTION
    @pass_env
    def user_list(env: Env, show_all: bool, fmt: str) -> None:
        """List the accounts: name, role, active, created_at (never a password or its hash)."""
        from indicators.users import list_users

        emit(list_users(env.store, include_inactive=show_all), fmt, empty="no user accounts")

    @user.command("remove")
    @click.argument("name")
    @pass_env
    def user_remove(env: Env, name: str) -> None:
        """Deactivate account NAME: it can no longer log in; its record and history stay."""
        from indicators.users import deactivate_user

        deactivate_user(env.store, name, actor=env.actor)
        click.echo(f"user '{name}' removed (deactivated; its history stays in the audit trail)")
