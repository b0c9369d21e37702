"""Celery metrics: task counters and run time from Celery's signals, and the worker's /metrics.

Counted in the process where the event happens:
  studio_celery_tasks_sent_total       the publisher (gunicorn workers, beat, a task sending a task)
  studio_celery_tasks_{started,succeeded,failed,retried}_total, studio_celery_task_runtime_seconds
                                       the process running the task (prefork children; the web
                                       process itself when tasks run eagerly)
A task failure is also an error: studio_errors_total{source="task"} (observability.errors).

The worker serves its own metrics over HTTP on CELERY_METRICS_ADDR:CELERY_METRICS_PORT (default
127.0.0.1:9808; Prometheus job "studio-worker"), from its main process, which runs no task: the
prefork children write to PROMETHEUS_MULTIPROC_DIR (the worker's own directory, not gunicorn's) and
every scrape sums their files, those of children that have exited included, so totals stay exact
when a child is replaced (CELERY_WORKER_MAX_TASKS_PER_CHILD); each scrape first merges the exited
children's files into one aggregate per type (observability.multiproc), so scrapes stay as cheap.
studio_celery_queue_length{queue} is read at scrape time with LLEN on the Redis broker (0 when the
key is absent: an empty queue has no key).  process_start_time_seconds is the
main process's start: the counters of this target begin with it (observability.process_start).

The Celery app is handed in by config/celery.py (``install(app)``), which owns it: this package
never imports config, so the app's module can import this one without a cycle.
"""
from __future__ import annotations

import glob
import logging
import os
import re
import threading
from time import perf_counter

from celery import signals

from observability import errors, labels, metrics, multiproc, outages, process_start

logger = logging.getLogger(__name__)

_children: dict[tuple[int, str], object] = {}
_started: dict[str, float] = {}  # task id -> perf_counter() at prerun
_server: dict = {"httpd": None, "thread": None}
_state: dict = {"app": None}  # the Celery app given to install()
_MAX_TASK_NAMES = 1_000  # task names come from code, but a publisher may name anything


def _child(metric, name: str):
    key = (id(metric), name)
    child = _children.get(key)
    if child is None:
        child = metric.labels(name)
        if len(_children) < _MAX_TASK_NAMES * 6:
            _children[key] = child
    return child


def _task_name(task) -> str:
    return str(getattr(task, "name", None) or "unknown")[:200]


# --- Signal receivers -------------------------------------------------------------------------


def on_before_task_publish(sender=None, headers=None, **kwargs):
    name = sender if isinstance(sender, str) else (headers or {}).get("task", "unknown")
    _child(metrics.CELERY_TASKS_SENT, str(name)[:200]).inc()


def on_task_prerun(sender=None, task_id=None, task=None, **kwargs):
    _child(metrics.CELERY_TASKS_STARTED, _task_name(task or sender)).inc()
    if task_id is not None:
        _started[task_id] = perf_counter()


def on_task_postrun(sender=None, task_id=None, task=None, **kwargs):
    start = _started.pop(task_id, None)
    if start is not None:
        _child(metrics.CELERY_TASK_RUNTIME, _task_name(task or sender)).observe(perf_counter() - start)


def on_task_success(sender=None, **kwargs):
    _child(metrics.CELERY_TASKS_SUCCEEDED, _task_name(sender)).inc()


def on_task_failure(sender=None, exception=None, **kwargs):
    _child(metrics.CELERY_TASKS_FAILED, _task_name(sender)).inc()
    errors.record_error("task", exception)


def on_task_retry(sender=None, **kwargs):
    _child(metrics.CELERY_TASKS_RETRIED, _task_name(sender)).inc()


# --- The worker's /metrics ---------------------------------------------------------------------


def worker_registry(app, path: str | None):
    from prometheus_client import REGISTRY, CollectorRegistry

    collectors = [metrics.BUILD_INFO, metrics.QUEUE_LENGTH]
    if path:
        registry = CollectorRegistry()
        multiproc.MergingMultiProcessCollector(registry, path=path)
        # No process collector on a multiprocess registry; REGISTRY's already exports the same name.
        collectors.append(process_start.ProcessStartCollector())
    else:  # solo or threads pool: the tasks run in this very process
        registry = REGISTRY
    for collector in collectors:
        try:
            registry.register(collector)
        except ValueError:  # already there (REGISTRY, a second worker_init)
            pass
    return registry


def remove_stale_files(path: str) -> None:
    """Delete the files of processes that no longer exist: a previous run's totals must not be
    added to this run's (the launcher normally wipes the directory; this covers one that did not)."""
    me = os.getpid()
    for filename in glob.glob(os.path.join(path, "*.db")):
        if filename.endswith(f"_{multiproc.MERGED}.db"):  # a previous run's merged children: before any child
            os.remove(filename)
            continue
        match = re.search(r"_(\d+)\.db$", filename)
        if not match or int(match.group(1)) == me:
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            try:
                os.remove(filename)
            except FileNotFoundError:
                pass
        except PermissionError:  # alive, someone else's
            pass


def on_worker_init(sender=None, **kwargs):
    """Main worker process, before the pool starts: serve /metrics."""
    from django.conf import settings

    port = int(getattr(settings, "CELERY_METRICS_PORT", 9808) or 0)
    if not port or _server["httpd"] is not None:
        return
    addr = getattr(settings, "CELERY_METRICS_ADDR", "127.0.0.1") or "127.0.0.1"
    app = getattr(sender, "app", None) or _state["app"]
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        os.makedirs(path, exist_ok=True)
        remove_stale_files(path)
        # This main process's start, whatever its launcher's environment held: the scrape it answers
        # sums the files of children forked from it, and a replaced child's counts stay in the directory.
        process_start.mark_counters_start(process_start.own_start_time())
    elif getattr(sender, "pool_cls", None) is not None and "prefork" in str(sender.pool_cls).lower():
        logger.warning("PROMETHEUS_MULTIPROC_DIR is not set: the prefork children's task metrics "
                       "cannot be exported on the worker's /metrics")
    from prometheus_client import start_http_server

    try:
        httpd, thread = start_http_server(port, addr=addr, registry=worker_registry(app, path))
    except OSError as exc:
        logger.warning("worker metrics: cannot listen on %s:%s: %s", addr, port, exc)
        return
    _server.update(httpd=httpd, thread=thread)
    logger.info("worker metrics on http://%s:%s/metrics", addr, port)


def on_worker_process_init(**kwargs):
    """A new prefork child: write its zeroed label sets to its own file at once."""
    labels.initialise(task_names())


def on_worker_process_shutdown(**kwargs):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())


def on_worker_shutdown(**kwargs):
    httpd = _server.get("httpd")
    if httpd is not None:
        threading.Thread(target=httpd.shutdown, daemon=True).start()
        _server.update(httpd=None, thread=None)


def task_names() -> list[str]:
    """The installed app's task names (each app's tasks module imported first, as the worker does);
    none before install()."""
    app = _state["app"]
    if app is None:
        return []
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("tasks")
    return sorted(name for name in app.tasks if not name.startswith("celery."))


def install(app) -> None:
    """Count `app`'s tasks and serve its worker's /metrics: remember the app, connect the receivers
    (config/celery.py, right after creating the app; idempotent through dispatch_uid)."""
    _state["app"] = app
    metrics.QUEUE_LENGTH.bind(app, outages.BROKER)
    for signal, receiver in (
        (signals.before_task_publish, on_before_task_publish),
        (signals.task_prerun, on_task_prerun),
        (signals.task_postrun, on_task_postrun),
        (signals.task_success, on_task_success),
        (signals.task_failure, on_task_failure),
        (signals.task_retry, on_task_retry),
        (signals.worker_init, on_worker_init),
        (signals.worker_process_init, on_worker_process_init),
        (signals.worker_process_shutdown, on_worker_process_shutdown),
        (signals.worker_shutdown, on_worker_shutdown),
    ):
        signal.connect(receiver, weak=False, dispatch_uid=f"observability.celery_metrics.{receiver.__name__}")
