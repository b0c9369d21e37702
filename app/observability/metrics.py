"""Every Prometheus metric this project defines, in one place (docs/metrics.md is the reference).

django-prometheus defines its own (django_http_*, django_db_*, django_cache_*, django_model_*);
everything here is prefixed ``studio_``.  Importable before Django is set up (config/celery.py
imports it through observability.celery_metrics): no settings are read at import time.  The bottom
layer of the package: it imports nothing of observability (the collectors that read what a module
above computes get it through their constructor), so everything that counts may import it.

Label values are bounded: view names (or "<unnamed view>"), methods, statuses, task names, cache
operations and results, error sources, exception classes (the project's own, or the nearest
well-known base class: observability.labels.exception_label), ISO 3166 country codes (anything else is "unknown")
and Django's security logger names (anything else is "other": observability.labels.security_event_label).
Label sets whose values are known are created at zero when the process starts
(observability.labels.initialise), so that rate() and increase() see the very first event.

In multiprocess mode (PROMETHEUS_MULTIPROC_DIR set) every process writes its values to that
directory and the /metrics views sum them; the scrape-time collectors below (build info, distinct
users hitting errors, Celery queue length) are computed by the process that answers the scrape.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

import monitoring_spec as spec
from monitoring_spec import contract

_logger = logging.getLogger(__name__)

# Queries per request: counts, not durations (no threshold of the spec is a query count).
QUERY_COUNT_BUCKETS = (0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, float("inf"))

ERROR_SOURCES = ("request", "task", "log")
NO_EXCEPTION = "none"  # the exception label of an error without one (an ERROR log record, a bare 5xx)
UNKNOWN_COUNTRY = "unknown"
UNNAMED_VIEW = "<unnamed view>"  # django-prometheus' label for requests that matched no URL

# Cache operations and the results each can have (created at zero).
CACHE_RESULTS = ("hit", "miss", "set", "delete", "error")
CACHE_OPERATIONS = {
    "get": ("hit", "miss", "error"),
    "get_many": ("hit", "miss", "error"),
    "get_or_set": ("hit", "miss", "error"),
    "has_key": ("hit", "miss", "error"),
    "set": ("set", "error"),
    "set_many": ("set", "error"),
    "add": ("set", "hit", "error"),
    "touch": ("set", "miss", "error"),
    "incr": ("set", "miss", "error"),
    "decr": ("set", "miss", "error"),
    "delete": ("delete", "error"),
    "delete_many": ("delete", "error"),
}

# --- Errors: what Sentry would capture, counted even when Sentry is down ----------------------

ERRORS = Counter(
    contract.ERRORS,
    "Errors Sentry would capture: unhandled request exceptions and 5xx responses (source=request), "
    "Celery task failures (source=task), ERROR log records (source=log; not those of django.security.*, "
    "studio_security_events_total); each error once.",
    ["source", "exception"],
)
ERRORS_BY_COUNTRY = Counter(
    contract.ERRORS_BY_COUNTRY,
    "Errors raised or logged while serving a request, by the ISO 3166 alpha-2 country of the client "
    "(settings.METRICS_COUNTRY_HEADER); unknown when absent or not a code.",
    ["country"],
)
# Not errors: what any client can cause at will, with no fault in the system (a forged Host header, an
# oversized body, a CSRF failure).  Counted apart so that they cannot page anyone through ErrorSpike.
SECURITY_EVENTS = Counter(
    contract.SECURITY_EVENTS,
    "Records of the django.security.* loggers (Django's: SuspiciousOperation and its subclasses, CSRF failures; "
    "the project's: SigninThrottled, InvalidToken), by the logger's last component; not counted in studio_errors_total.",
    ["event"],
)

# --- Requests ---------------------------------------------------------------------------------

REQUEST_QUERIES = Histogram(
    contract.REQUEST_QUERIES,
    "Database queries per request, by view.",
    ["view"],
    buckets=QUERY_COUNT_BUCKETS,
)
REQUEST_DB_SECONDS = Histogram(
    contract.REQUEST_DB_SECONDS,
    "Time spent in database queries per request, by view.",
    ["view"],
    buckets=spec.DB_QUERY_BUCKETS,
)

# --- Cache ------------------------------------------------------------------------------------

CACHE_OPERATIONS_TOTAL = Counter(
    contract.CACHE_OPS,
    "Cache operations by operation and result (hit, miss, set, delete, error); *_many operations "
    "count once per key.",
    ["operation", "result"],
)

PERF_WINDOW_ERRORS = Counter(
    contract.PERF_WINDOW_ERRORS,
    "Flushes of the performance window to Redis that failed (observability/perf.py; Redis down): "
    "their figures, at most one flush interval of this process's requests, are dropped.",
)

# --- Celery -----------------------------------------------------------------------------------

CELERY_TASKS_SENT = Counter(
    contract.CELERY_SENT, "Celery tasks published (by the publishing process), by task.", ["task"])
CELERY_TASKS_STARTED = Counter(
    contract.CELERY_STARTED, "Celery task runs started, by task.", ["task"])
CELERY_TASKS_SUCCEEDED = Counter(
    contract.CELERY_SUCCEEDED, "Celery task runs that succeeded, by task.", ["task"])
CELERY_TASKS_FAILED = Counter(
    contract.CELERY_FAILED, "Celery task runs that failed for good (no retry left), by task.",
    ["task"])
CELERY_TASKS_RETRIED = Counter(
    contract.CELERY_RETRIED, "Celery task runs that ended in a retry, by task.", ["task"])
CELERY_TASK_RUNTIME = Histogram(
    contract.CELERY_RUNTIME,
    "Celery task run time (prerun to postrun), by task.",
    ["task"],
    buckets=spec.REQUEST_LATENCY_BUCKETS,
)

# --- Business ---------------------------------------------------------------------------------

ENROLLMENTS = Counter(contract.ENROLLMENTS, "New course enrolments (courses.services.enroll).")
FORUM_POSTS = Counter(contract.FORUM_POSTS, "New forum posts (forum.services.add_post).")


# --- Computed when scraped --------------------------------------------------------------------


class BuildInfoCollector(Collector):
    """studio_build_info{release,environment} 1, from settings.RELEASE and settings.ENVIRONMENT."""

    name = contract.BUILD_INFO
    documentation = "Always 1; the labels say which release runs in which environment."

    def describe(self):
        return [GaugeMetricFamily(self.name, self.documentation, labels=["release", "environment"])]

    def collect(self):
        from django.conf import settings

        family = GaugeMetricFamily(self.name, self.documentation, labels=["release", "environment"])
        family.add_metric([str(settings.RELEASE), str(settings.ENVIRONMENT)], 1)
        yield family


class ErrorUsersCollector(Collector):
    """studio_error_users_5m: distinct users hitting errors in the last five minutes (Redis HLL).

    `count` is observability.errors.count_error_users, which keeps the HyperLogLogs: the instance is
    made there (observability.errors.ERROR_USERS), above this module."""

    name = contract.ERROR_USERS
    documentation = ("Distinct users (user id, or client address when anonymous) hitting an error in "
                     "the last 5 minutes, across all processes (Redis HyperLogLog; 0 without Redis).")

    def __init__(self, count: Callable[[], int]):
        self.count = count

    def describe(self):
        return [GaugeMetricFamily(self.name, self.documentation)]

    def collect(self):
        yield GaugeMetricFamily(self.name, self.documentation, value=self.count())


class QueueLengthCollector(Collector):
    """studio_celery_queue_length{queue}: LLEN of each queue's Redis list(s) at scrape time."""

    name = contract.CELERY_QUEUE
    documentation = ("Messages waiting in a Celery queue (Redis LLEN of the broker's list, all priority "
                     "levels; 0 when the key is absent), read when scraped.")

    def __init__(self, app=None, queues=None, outage=None):
        self.app = app
        self._queues = queues
        self._client = None
        self.outage = outage  # observability.outages.BROKER, told about every read (bound by celery_metrics)

    def bind(self, app, outage) -> None:
        """The project's Celery app and broker outage tracker (celery_metrics.install): the collector is
        defined here, below the code that knows them."""
        self.app, self.outage, self._client = app, outage, None

    def queues(self) -> list[str]:
        if self._queues:
            return list(self._queues)
        from django.conf import settings

        names = list(getattr(settings, "CELERY_METRICS_QUEUES", None) or ())
        if not names:
            names = [self.app.conf.task_default_queue]
            names += [q.name for q in (self.app.conf.task_queues or ()) if q.name not in names]
        return names

    def _redis(self):
        url = self.app.conf.broker_url or ""
        if not re.match(r"^rediss?://", url):
            return None
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        return self._client

    def describe(self):
        return [GaugeMetricFamily(self.name, self.documentation, labels=["queue"])]

    def collect(self):
        family = GaugeMetricFamily(self.name, self.documentation, labels=["queue"])
        client = self._redis() if self.app is not None else None
        if client is not None:
            options = self.app.conf.broker_transport_options or {}
            prefix = options.get("global_keyprefix", "")
            sep = options.get("sep", "\x06\x16")
            steps = [p for p in options.get("priority_steps", [0, 3, 6, 9]) if p]
            queues = self.queues()
            try:
                pipe = client.pipeline(transaction=False)
                for queue in queues:
                    pipe.llen(prefix + queue)
                    for step in steps:  # kombu keeps each priority level in its own list
                        pipe.llen(f"{prefix}{queue}{sep}{step}")
                lengths = pipe.execute()
            except Exception as exc:  # broker unreachable: no sample rather than a wrong 0
                if self.outage is None:
                    _logger.warning("studio_celery_queue_length: broker unreachable: %s", exc)
                elif self.outage.down:  # in the outage's summary; a scrape never starts one: RedisDown pages for
                    self.outage.failure(exc, "queue length")  # Redis, an ERROR per web process would be noise
            else:
                if self.outage is not None:
                    self.outage.success()
                per_queue = len(steps) + 1
                for i, queue in enumerate(queues):
                    family.add_metric([queue], sum(lengths[i * per_queue:(i + 1) * per_queue]))
        yield family


BUILD_INFO = BuildInfoCollector()
# Served by the web app's /metrics as well as the worker's: a backlog is measured while no worker runs, which
# is when it builds up (the game day's worker-stop fault found CeleryQueueBacklog blind with the worker down).
QUEUE_LENGTH = QueueLengthCollector()
