"""``harbinger serve``: the dashboard in a browser (added to the CLI by ``register(main)``)."""

from __future__ import annotations

import socket

import click

from dashboard.cli.support import Env, pass_env
from dashboard.services.context import Failure
from dashboard.web.net import is_loopback
from indicators.errors import BadInput


def check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        if hasattr(socket, "SO_REUSEADDR") and not hasattr(socket, "SO_EXCLUSIVEADDRUSE"):
            # as the server itself does: a port in TIME_WAIT is free, a listening one is not
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError as exc:
            raise Failure(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); is another server "
                "running there? Choose another --port."
            ) from None


def register(main: click.Group) -> None:
    @main.command()
    @click.option(
        "--host",
        default="127.0.0.1",
        show_default=True,
        help="Address to listen on. A non-loopback address needs an editor account "
        "('harbinger user add NAME --role editor'); editing there needs a login.",
    )
    @click.option("--port", default=8050, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
    @click.option("--debug/--no-debug", default=False, hidden=True, help="Dash debug mode (development only).")
    @click.pass_context
    @pass_env
    def serve(env: Env, ctx: click.Context, host: str, port: int, debug: bool) -> None:
        """Start the dashboard at http://HOST:PORT/: Overview, Indicators, Scenarios, Model, Backtest, Reports.

        Every loaded case is served: the top bar's picker switches between them, and a URL names
        its case with ?case=ID (e.g. /indicators?case=mini). Without one, pages show --case, else
        HARBINGER_CASE, else the first loaded case. If no case is loaded yet, the shipped case is
        loaded first (as 'harbinger init' does). If a case has no fitted run, opening its Overview
        starts a first fit in the background.
        Anyone who can reach the server may read; on a loopback address with no user accounts the
        local user may also edit, otherwise editing needs an editor's login at /login.
        """
        store = env.store
        if not is_loopback(host):
            from indicators.users import has_editor

            if not has_editor(store):
                raise BadInput(
                    f"--host: {host} is reachable from other machines and no editor account "
                    "exists; add one with 'harbinger user add NAME --role editor' or serve on "
                    "127.0.0.1 (the default)."
                )
        check_port_free(host, port)
        if not store.case_ids() and env.case_option is None:
            click.echo("no case is loaded yet; loading the shipped case first")
            ctx.invoke(main.commands["init"])
        import os

        from dashboard.services.context import default_case

        case_id = default_case(store, env.case_option or os.environ.get("HARBINGER_CASE") or None)
        stale = store.fail_stale_runs()
        if stale:
            click.echo(f"marked interrupted fits as failed: {', '.join(stale)}")

        from dashboard.services.runs import current_run
        from dashboard.web.app import create_app, start_preparing

        app = create_app(case_id, host=host)
        latest = current_run(store, case_id)
        # the current run's pages, posterior and report content, built in the background
        start_preparing(case_id, latest["id"] if latest else None)
        others = [c for c in store.case_ids() if c != case_id]
        also = f"; also {', '.join(f'{c} (?case={c})' for c in others)}" if others else ""
        click.echo(f"Harbinger dashboard for case '{case_id}'{also} on http://{host}:{port}/ (Ctrl+C to stop)")
        app.run(host=host, port=port, debug=debug, use_reloader=False)
