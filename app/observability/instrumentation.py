"""Installs the metrics instrumentation in a process (ObservabilityConfig.ready(); idempotent).

* counts ERROR log records and unhandled request exceptions, and the records of Django's security
  loggers apart, as security events (observability.errors);
* creates the known label sets at zero, including every Celery task name and the project's own
  exception classes (the task modules and the URLconf are imported here, as the worker and the first
  request would, so that their names are known before the first event); the task names are those of
  the Celery app config/celery.py handed to observability.celery_metrics.install();
* registers the scrape-time collectors on the default registry (single-process mode);
* validates the /metrics protection settings, so a typo fails at start-up, not at the first scrape.
"""
from __future__ import annotations

import prometheus_client
from django.core.signals import got_request_exception

from observability import celery_metrics, errors, labels, views

_state = {"installed": False}


def _import_views() -> None:
    """Import the URLconf (and so every view module) now, so that the project's own exception
    classes are known when the label sets are created; a broken URLconf is Django's to report."""
    from django.urls import get_resolver

    try:
        _ = get_resolver().url_patterns
    except Exception:
        pass


def install() -> None:
    if _state["installed"]:
        return
    _state["installed"] = True
    views.allowed_networks()  # raises ImproperlyConfigured on a malformed CIDR
    errors.install_log_hook()
    got_request_exception.connect(errors.on_request_exception, dispatch_uid="observability.errors.request")
    _import_views()
    labels.initialise(celery_metrics.task_names())
    for collector in views.WEB_SCRAPE_COLLECTORS:
        try:
            prometheus_client.REGISTRY.register(collector)
        except ValueError:  # registered already (a second Django setup in this process)
            pass
