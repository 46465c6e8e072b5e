"""``harbinger worker``: one Celery worker for the dashboard's background fits and for backtest
origins (added by ``register(main)``).

A team runs the dashboard with ``HARBINGER_REDIS_URL`` set and N of these, each with the same
``HARBINGER_REDIS_URL``, store (``HARBINGER_DATABASE_URL``) and ``HARBINGER_HOME`` (runs are saved
under ``HARBINGER_HOME/runs`` and read back by the dashboard). A worker consumes two queues:
Dash's (fits started from the dashboard, :mod:`dashboard.web.worker`) and the backtests'
(the origins ``harbinger backtest`` sends, :mod:`dashboard.services.tasks`).
"""

from __future__ import annotations

import os
import socket

import click

from dashboard.cli.support import Env, pass_env
from dashboard.services.context import Failure

LOG_LEVELS = ("debug", "info", "warning", "error")


def register(main: click.Group) -> None:
    @main.command()
    @click.option(
        "--concurrency",
        default=1,
        show_default=True,
        type=click.IntRange(1, 256),
        help="How many fits (or backtest origins) this worker runs at once (one child process each).",
    )
    @click.option(
        "--loglevel", default="info", show_default=True, type=click.Choice(LOG_LEVELS), help="Celery's log level."
    )
    @pass_env
    def worker(env: Env, concurrency: int, loglevel: str) -> None:
        """Run background fits and backtest origins for a team on HARBINGER_REDIS_URL (a Celery worker).

        Takes fits started from the dashboard (Refit, the first fit) off the Redis queue, runs
        them and records each run, ok or failed, in the store; and takes the origins of a
        'harbinger backtest' run with HARBINGER_REDIS_URL set, fits and scores each and returns
        its scores to the backtest. Start as many as the machines allow; stop with Ctrl+C or
        SIGTERM (a running fit is finished first; a second signal stops at once, and the next
        worker to start marks that fit failed).
        """
        from dashboard.web import worker as celery_worker

        url = celery_worker.require_url(None)
        celery_worker.check_redis(url)
        store = env.store  # opened (and migrated) now, so a bad store fails here, not in a fit
        where = store.engine.url.render_as_string(hide_password=True)
        if not store.case_ids():
            raise Failure(f"no case is loaded in the store {where}; run 'harbinger init' first.")
        stale = store.fail_stale_runs()
        if stale:
            click.echo(f"marked interrupted fits as failed: {', '.join(stale)}")
        app = celery_worker.register_callbacks(url)
        tasks = celery_worker.task_names(url)
        if not tasks:
            raise Failure("the dashboard declares no background callbacks; there is nothing for a worker to run.")
        queues = celery_worker.worker_queues(app)
        click.echo(
            f"harbinger worker: {concurrency} process(es) on Redis {celery_worker.safe_url(url)}, "
            f"store {where}, runs in {store.runs_dir}; {len(tasks)} background task(s) and "
            f"backtest origins (queues {', '.join(queues)})"
        )
        store.close()
        name = f"harbinger-{os.getpid()}@{socket.gethostname()}"
        app.worker_main(
            [
                "worker",
                f"--concurrency={concurrency}",
                f"--loglevel={loglevel.upper()}",
                f"--hostname={name}",
                f"--queues={','.join(queues)}",
                "--without-gossip",
                "--without-mingle",
            ]
        )
