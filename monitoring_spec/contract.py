"""The names everything else agrees on: scrape jobs, metric names, dashboards and where links point.

The app defines its metrics under these names (app/observability/metrics.py), the rules and dashboards
query them, docs/metrics.md documents them (a test compares), and alert annotations link to these
dashboards and runbooks.  Change a name here and every consumer follows.
"""
from __future__ import annotations

from dataclasses import dataclass

# --- Scrape jobs (prometheus.yml) ------------------------------------------------------------------

APP_JOB = "studio-app"
WORKER_JOB = "studio-worker"
APP_JOBS = (APP_JOB, WORKER_JOB)  # the processes that export the studio_* and django_* metrics
# The alerting pipeline's own targets.  With STACK_HA=1 PROMETHEUS_JOB scrapes both replicas and
# ALERTMANAGER_JOB both Alertmanagers; PROMETHEUS_PEER_JOB scrapes the other replica's /federate for its firing
# ALERTS, renamed PEER_ALERTS (the single stack has no such job).
PROMETHEUS_JOB = "prometheus"
PROMETHEUS_PEER_JOB = "prometheus-peer"
ALERTMANAGER_JOB = "alertmanager"
PEER_ALERTS = "peer_ALERTS"

# --- Metric names: the /metrics contract (docs/metrics.md) ----------------------------------------
# django-prometheus'
REQ_LATENCY = "django_http_requests_latency_seconds_by_view_method"  # histogram, by view and method
RESPONSES = "django_http_responses_total_by_status_view_method_total"
REQUESTS = "django_http_requests_total_by_view_transport_method_total"
EXCEPTIONS = "django_http_exceptions_total_by_type_total"
DB_DURATION = "django_db_query_duration_seconds"
DB_EXECUTE = "django_db_execute_total"
DB_ERRORS = "django_db_errors_total"
DB_NEW_CONNECTIONS = "django_db_new_connections_total"
# ours (app/observability/metrics.py)
ERRORS = "studio_errors_total"
ERRORS_BY_COUNTRY = "studio_errors_by_country_total"
ERROR_USERS = "studio_error_users_5m"
REQUEST_QUERIES = "studio_request_queries"
REQUEST_DB_SECONDS = "studio_request_db_seconds"
CACHE_OPS = "studio_cache_operations_total"
PERF_WINDOW_ERRORS = "studio_perf_window_errors_total"
CELERY_SENT = "studio_celery_tasks_sent_total"
CELERY_STARTED = "studio_celery_tasks_started_total"
CELERY_SUCCEEDED = "studio_celery_tasks_succeeded_total"
CELERY_FAILED = "studio_celery_tasks_failed_total"
CELERY_RETRIED = "studio_celery_tasks_retried_total"
CELERY_RUNTIME = "studio_celery_task_runtime_seconds"
CELERY_QUEUE = "studio_celery_queue_length"
ENROLLMENTS = "studio_enrollments_total"
FORUM_POSTS = "studio_forum_posts_total"
BUILD_INFO = "studio_build_info"
SECURITY_EVENTS = "studio_security_events_total"  # what a client causes at will (django.security.*): not errors
# Its event values for what the app refuses at sign-in and token authentication (the rest are Django's own
# security logger names, observability/labels.py); the Errors dashboard shows these two on their own panel.
SIGNIN_THROTTLED_EVENT = "SigninThrottled"
INVALID_TOKEN_EVENT = "InvalidToken"
AUTH_SECURITY_EVENTS = (SIGNIN_THROTTLED_EVENT, INVALID_TOKEN_EVENT)
PROCESS_START = "process_start_time_seconds"  # when the target's counters began (a restart moves it)

# Requests that are not user traffic: probes and Prometheus' own scrapes.  The request SLI (HighErrorRate,
# SlowTransactions, the SLOs, the endpoint panels) leaves them out; the drills stay in (the fire drill
# produces its conditions through them).
PROBE_VIEWS = ("healthz", "readyz", "prometheus-django-metrics")

# --- Dashboards ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    key: str  # its source module under grafana/dashboards/
    uid: str  # fixed: links, bookmarks and alert annotations depend on it
    title: str
    file: str  # the generated JSON beside its source


DASHBOARDS = {d.key: d for d in (
    Dashboard("overview", "studio-overview", "Studio / Overview", "overview.json"),
    Dashboard("endpoints", "studio-endpoints", "Studio / Endpoints vs targets", "endpoints.json"),
    Dashboard("errors", "studio-errors", "Studio / Errors and user impact", "errors.json"),
    Dashboard("database", "studio-database", "Studio / Database", "database.json"),
    Dashboard("cache_celery", "studio-cache-celery", "Studio / Cache and Celery", "cache-celery.json"),
)}

# --- Where alerts link -----------------------------------------------------------------------------
# Grafana's address is a deployment fact, not Prometheus's own ($externalURL): the compose stack and
# `make up` both publish Grafana on localhost:3000.
GRAFANA_URL = "http://localhost:3000"
# Runbooks live in the repository.  Point this at the forge URL of docs/runbooks once the repository is
# hosted (e.g. https://github.com/<org>/<repo>/blob/main/docs/runbooks/{alertname}.md) and regenerate.
RUNBOOK_URL_PATTERN = "docs/runbooks/{alertname}.md"


def dashboard_url(key: str, query: str = "") -> str:
    return f"{GRAFANA_URL}/d/{DASHBOARDS[key].uid}" + (f"?{query}" if query else "")


def runbook_url(alertname: str) -> str:
    return RUNBOOK_URL_PATTERN.format(alertname=alertname)
