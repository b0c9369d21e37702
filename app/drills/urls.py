"""Endpoints that fail on purpose, for proving (and later drilling) the monitoring pipeline.

Included by config/urls.py at /_drill/ only when the drills app is installed (settings: DEBUG or
ENABLE_DRILL_ENDPOINTS); production settings force ENABLE_DRILL_ENDPOINTS off, so they 404 there.
"""
from django.urls import path

from drills import views as drill

app_name = "drill"

urlpatterns = [
    path("error/", drill.unhandled_error, name="error"),
    path("template-error/", drill.template_error, name="template-error"),
    path("db-error/", drill.database_error, name="db-error"),
    path("status/<int:status>/", drill.status, name="status"),
    path("message/", drill.message, name="message"),
    path("log-error/", drill.log_error, name="log-error"),
    path("task-error/", drill.task_error, name="task-error"),
    path("enqueue/", drill.enqueue, name="enqueue"),
    path("slow/", drill.slow, name="slow"),
    path("perf/", drill.perf, name="perf"),  # known work for the X-* headers (observability/perf.py)
    path("db-slow/", drill.db_slow, name="db-slow"),
]
