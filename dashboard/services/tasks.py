"""The team deployment's Celery app: one per Redis URL and process, shared by every kind of task.

A team sets ``HARBINGER_REDIS_URL`` (e.g. ``redis://redis-host:6379/0``) for the dashboard, for
``harbinger backtest`` and for one or more ``harbinger worker`` processes, on machines that reach
the same Redis, the same store (``HARBINGER_DATABASE_URL``) and the same ``HARBINGER_HOME``. Redis
is the broker and the result backend. The app carries two kinds of task:

- Dash's background callbacks (fits started from the dashboard), registered by Dash's
  ``CeleryManager`` on this same app (:mod:`dashboard.web.worker`), on Celery's default queue;
- one backtest origin (:data:`ORIGIN_TASK`, registered here, so a process that only dispatches
  needs nothing of the web layer), on its own queue :data:`BACKTEST_QUEUE`. ``harbinger worker``
  consumes both queues (:func:`worker_queues`); a worker of an older version, which does not know
  the task, never takes one off the queue.

:func:`run_origins` is the dispatcher side: it sends one task per origin, follows each one's
progress (the task publishes ``PROGRESS`` states), and reports every origin once, as a result or
an error: a task that raised, a pool process that died (Celery's ``WorkerLostError``) and a whole
worker that stopped answering while it ran an origin (:data:`LOST_AFTER_S`) all end as errors.
Origins still queued when the dispatcher is interrupted are revoked.

Workers take one task at a time and fetch the next only when a process is free
(``worker_disable_prefetch``), so a busy worker never holds an origin an idle one could run, and
a worker that dies holds no queued one. Celery is imported lazily: without the ``team`` extra,
only the error message of :func:`celery_app` mentions it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from dashboard.services.context import Failure
from indicators.errors import BadInput

REDIS_URL_ENV = "HARBINGER_REDIS_URL"
#: How long Redis keeps a finished task's result and Dash's progress/result entries (seconds).
RESULT_EXPIRES = 24 * 3600
#: The task that fits and scores one backtest origin, and its queue.
ORIGIN_TASK = "harbinger.backtest_origin"
BACKTEST_QUEUE = "harbinger.backtests"
#: The most often a running origin publishes its progress (seconds).
PROGRESS_EVERY_S = 2.0
#: How often the dispatcher asks the workers running origins whether they are alive, and after how
#: long without an answer an origin is given up as lost with its worker (seconds).
LIVENESS_EVERY_S = 10.0
LOST_AFTER_S = 30.0

_APPS: dict[str, Any] = {}


def redis_url() -> str | None:
    """``HARBINGER_REDIS_URL``, or ``None`` when unset or blank (background work stays in-process)."""
    url = (os.environ.get(REDIS_URL_ENV) or "").strip()
    return url or None


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def require_url(url: str | None) -> str:
    """``url``, else ``HARBINGER_REDIS_URL``; BadInput when neither is a Redis URL."""
    url = url or redis_url()
    if not url:
        raise BadInput(
            f"{REDIS_URL_ENV} is not set; set it to the Redis URL the dashboard uses, e.g. redis://localhost:6379/0."
        )
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise BadInput(
            f"{REDIS_URL_ENV}: '{safe_url(url)}' is not a Redis URL; it must start with redis://, rediss:// or unix://."
        )
    return url


def celery_app(url: str | None = None) -> Any:
    """The Celery app on the Redis at ``url`` (default ``HARBINGER_REDIS_URL``), one per URL.

    Redis is both the broker and the result backend (Dash's ``CeleryManager`` needs a result
    backend: it keeps progress and results there). Each worker process takes one task at a time.
    The app knows :data:`ORIGIN_TASK` from its creation.
    """
    url = require_url(url)
    if url in _APPS:
        return _APPS[url]
    try:
        from celery import Celery
    except ImportError:
        raise BadInput(
            f"{REDIS_URL_ENV} is set but Celery is not installed; install the team extra: "
            "pip install 'harbinger[team]'."
        ) from None
    app = Celery("harbinger", broker=url, backend=url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=RESULT_EXPIRES,
        worker_prefetch_multiplier=1,  # a fit is long: never hold tasks another worker could start
        worker_disable_prefetch=True,  # ... not even one (Redis brokers): fetch only when a process is free
        task_track_started=True,
        broker_connection_retry_on_startup=True,
        task_routes={ORIGIN_TASK: {"queue": BACKTEST_QUEUE}},
    )
    _register_origin_task(app)
    _APPS[url] = app
    return app


def worker_queues(app: Any) -> list[str]:
    """The queues ``harbinger worker`` consumes: Dash's (Celery's default) and the backtests'."""
    return [app.conf.task_default_queue, BACKTEST_QUEUE]


def check_redis(url: str | None = None, *, timeout: float = 5.0) -> None:
    """Raise :class:`Failure` naming the URL when Redis does not answer."""
    url = require_url(url)
    try:
        import redis
    except ImportError:
        raise BadInput(
            f"{REDIS_URL_ENV} is set but the redis client is not installed; install the team "
            "extra: pip install 'harbinger[team]'."
        ) from None
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise Failure(f"cannot reach Redis at {safe_url(url)} ({exc}); start it or fix {REDIS_URL_ENV}.") from None
    finally:
        client.close()


# ---------------------------------------------------------------------------- one backtest origin


def _register_origin_task(app: Any) -> None:
    @app.task(name=ORIGIN_TASK, bind=True)
    def backtest_origin(
        self: Any, case_id: str, year: int, settings: dict[str, Any], case_hash: str, known_at: str, per_draw: int
    ) -> dict[str, Any]:
        """Fit and score one origin on the store of the worker's environment (JSON result)."""
        from dashboard.services.origins import evaluate_stored_origin

        state = {"at": 0.0}
        meta = {"hostname": self.request.hostname, "pid": os.getpid()}

        def progress(fraction: float, message: str) -> None:
            now = time.monotonic()
            if now - state["at"] < PROGRESS_EVERY_S:
                return
            state["at"] = now
            self.update_state(state="PROGRESS", meta=meta | {"fraction": float(fraction), "message": message})

        return evaluate_stored_origin(
            case_id, year, settings, case_hash=case_hash, known_at=known_at, per_draw=per_draw, progress=progress
        )


def backtest_workers(app: Any, *, timeout: float = 2.0) -> list[str]:
    """The workers (Celery node names) that answer within ``timeout`` and consume :data:`BACKTEST_QUEUE`."""
    queues = app.control.inspect(timeout=timeout).active_queues() or {}
    return sorted(name for name, qs in queues.items() if any(q.get("name") == BACKTEST_QUEUE for q in qs or []))


def _error(result: Any) -> str:
    exc = result.result
    if isinstance(exc, BaseException):
        return f"{type(exc).__name__}: {exc}"
    return f"task {result.state.lower()}: {exc}"


def run_origins(
    url: str,
    calls: list[tuple[int, dict[str, Any]]],
    *,
    finished: Callable[[int, dict[str, Any] | None, str | None], None],
    running: Callable[[dict[int, dict[str, Any]]], None],
    poll_s: float = 1.0,
) -> list[str]:
    """Run each ``(year, kwargs)`` of ``calls`` as an :data:`ORIGIN_TASK` on the workers of ``url``.

    ``finished(year, result, error)`` is called once per origin, as it ends (``result`` is the
    task's JSON document, or ``error`` says why there is none). ``running(status)`` is called
    every ``poll_s`` seconds with ``{year: {"state": "queued"|"running", "fraction", "message",
    "hostname"}}`` for the origins not ended yet. Returns the workers that consumed the backtest
    queue when the origins were sent. Raises :class:`Failure` when Redis does not answer or no
    worker takes backtest origins (nothing is sent then).
    """
    from celery import states

    app = celery_app(url)
    check_redis(url)
    workers = backtest_workers(app)
    if not workers:
        raise Failure(
            f"no harbinger worker takes backtest origins on Redis {safe_url(url)}; start one with "
            "'harbinger worker' where the store and HARBINGER_HOME are shared, or run the backtest "
            "here with --local."
        )
    pending = {year: app.send_task(ORIGIN_TASK, kwargs=kwargs, queue=BACKTEST_QUEUE) for year, kwargs in calls}
    silent_since: dict[str, float] = {}  # worker -> when it first missed a ping, while it runs an origin
    checked = time.monotonic()
    try:
        while pending:
            status: dict[int, dict[str, Any]] = {}
            for year, result in list(pending.items()):
                state = result.state
                if state in states.READY_STATES:
                    if state == states.SUCCESS:
                        finished(year, result.result, None)
                    else:
                        finished(year, None, _error(result))
                    result.forget()
                    del pending[year]
                    continue
                info = result.info if state in (states.STARTED, "PROGRESS") else None
                info = info if isinstance(info, dict) else {}
                status[year] = {
                    "state": "running" if state in (states.STARTED, "PROGRESS") else "queued",
                    "fraction": float(info.get("fraction", 0.0)),
                    "message": info.get("message", ""),
                    "hostname": info.get("hostname"),
                }
            now = time.monotonic()
            busy = {s["hostname"] for s in status.values() if s["hostname"]}
            if busy and now - checked >= LIVENESS_EVERY_S:
                checked = now
                answered = {
                    name for reply in app.control.ping(destination=sorted(busy), timeout=2.0) or [] for name in reply
                }
                for host in busy:
                    if host in answered:
                        silent_since.pop(host, None)
                    else:
                        silent_since.setdefault(host, now)
                for year, s in list(status.items()):
                    host = s["hostname"]
                    if host in silent_since and now - silent_since[host] >= LOST_AFTER_S:
                        pending.pop(year).revoke()
                        del status[year]
                        finished(
                            year,
                            None,
                            f"WorkerLost: the worker {host} running this origin stopped "
                            f"answering for {now - silent_since[host]:.0f} s",
                        )
            if status:
                running(status)
                time.sleep(poll_s)
    except BaseException:
        for result in pending.values():
            result.revoke(terminate=True)
        raise
    return workers


__all__ = [
    "BACKTEST_QUEUE",
    "ORIGIN_TASK",
    "REDIS_URL_ENV",
    "backtest_workers",
    "celery_app",
    "check_redis",
    "redis_url",
    "require_url",
    "run_origins",
    "safe_url",
    "worker_queues",
]
