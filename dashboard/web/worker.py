"""Background fits on Celery workers: the Celery app behind Dash's ``CeleryManager``.

One analyst needs nothing of this: without ``HARBINGER_REDIS_URL`` the dashboard runs its
background callbacks (fits) in child processes of the server through Dash's
``DiskcacheManager`` (:func:`dashboard.web.app.background_manager`). A team sets
``HARBINGER_REDIS_URL`` (e.g. ``redis://redis-host:6379/0``) for the dashboard *and* for one or
more ``harbinger worker`` processes (:mod:`dashboard.cli.worker`), on any machines that reach the
same Redis, the same store (``HARBINGER_DATABASE_URL``) and the same ``HARBINGER_HOME/runs``:

- the dashboard's background callbacks become Celery tasks: Dash's ``CeleryManager`` sends each
  call to the Redis broker, and reads the progress and the result back from the Redis result
  backend, so no request waits on a sampler and any gunicorn worker can answer the polling;
- a worker imports the dashboard's pages (:func:`register_callbacks`) so that it knows the same
  callbacks under the same task names (Dash names a background callback's task
  ``background_callback_<hash of its source and outputs>``), and runs them: a fit started from the
  Overview's Refit button runs :func:`dashboard.services.runs.fit_case` inside the worker, which
  records the run (ok or failed) in the store.

So a background callback must be declared with ``dash.callback(..., background=True)`` in a page
module under ``dashboard/web/pages`` (as the Overview's Refit is); one declared elsewhere would be
unknown to the workers. The Celery app itself, one per Redis URL and process, is
:func:`dashboard.services.tasks.celery_app` (re-exported here): it also carries the backtest-origin
task, so the same workers run ``harbinger backtest``'s origins. Celery is imported lazily: without
the ``team`` extra installed, only the error message of :func:`celery_app` mentions it.
"""

from __future__ import annotations

from typing import Any

from dashboard.services.tasks import (
    REDIS_URL_ENV,
    RESULT_EXPIRES,
    celery_app,
    check_redis,
    redis_url,
    require_url,
    safe_url,
    worker_queues,
)

_MANAGERS: dict[str, Any] = {}


def background_manager(url: str | None = None) -> Any:
    """Dash's ``CeleryManager`` on :func:`celery_app` (one per URL, shared by every app)."""
    url = require_url(url)
    if url not in _MANAGERS:
        import dash

        class Manager(dash.CeleryManager):  # type: ignore[misc,name-defined]
            """Dash's manager, where the newest registration of a callback wins (as in Dash's own
            callback map) when the page modules run again in one process (a second app)."""

            def make_job_fn(self, fn: Any, progress: Any, key: Any = None) -> Any:
                name = f"background_callback_{key}"
                if name in self.handle.tasks:
                    self.handle.tasks.unregister(name)
                return super().make_job_fn(fn, progress, key)

            def get_result(self, key: Any, job: Any) -> Any:
                """The job's result, leaving the job to end by itself.

                Dash revokes the job with ``terminate=True`` once it has read the result. The job
                has written that result as its last act; but a revoke that reaches the worker
                before the pool process has reported the task done still finds the task active
                and kills the process, so the next fit on that worker would start cold. A job
                replaced while it runs (the page's ``oldJob``) is still terminated.
                """
                return super().get_result(key, None)

        _MANAGERS[url] = Manager(celery_app(url), expire=RESULT_EXPIRES)
    return _MANAGERS[url]


def register_callbacks(url: str | None = None) -> Any:
    """Make every background callback of the dashboard a task of :func:`celery_app`.

    Builds a Dash app with the dashboard's pages (executing the page modules registers their
    callbacks, and Dash registers each background one with every manager) and returns the Celery
    app. Needs no store: nothing is read until a task runs.
    """
    from dash import Dash

    from dashboard.web import ASSETS_FOLDER, PAGES_FOLDER

    manager = background_manager(url)
    Dash(
        "dashboard",
        use_pages=True,
        pages_folder=str(PAGES_FOLDER),
        assets_folder=str(ASSETS_FOLDER),
        background_callback_manager=manager,
        suppress_callback_exceptions=True,
    )
    return manager.handle


def task_names(url: str | None = None) -> list[str]:
    """The background-callback tasks the Celery app knows (after :func:`register_callbacks`)."""
    return sorted(name for name in celery_app(url).tasks if name.startswith("background_callback_"))


__all__ = [
    "REDIS_URL_ENV",
    "background_manager",
    "celery_app",
    "check_redis",
    "redis_url",
    "register_callbacks",
    "require_url",
    "safe_url",
    "task_names",
    "worker_queues",
]
