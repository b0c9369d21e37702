import os

from celery import Celery, signals

from config.env import default_settings_module

os.environ.setdefault("DJANGO_SETTINGS_MODULE", default_settings_module())

app = Celery("studio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Task counters and run time, and the worker's own /metrics (observability/celery_metrics.py): the
# app is handed over, observability never imports config.
from observability import celery_metrics  # noqa: E402

celery_metrics.install(app)


@signals.celeryd_init.connect
@signals.beat_init.connect
def _init_sentry(**kwargs):
    """Sentry in Celery workers and beat (idempotent: django.setup() may have done it already)."""
    from observability.sentry import init_sentry

    init_sentry()
