from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    """Metrics, Sentry, logging and performance instrumentation for the whole project."""

    name = "observability"
