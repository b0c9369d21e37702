from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    """Metrics, Sentry, logging and performance instrumentation for the whole project."""

    name = "observability"

    def ready(self):
        from observability.sentry import init_sentry

        init_sentry()  # no-op without SENTRY_DSN
        from django.conf import settings

        if getattr(settings, "INSTRUMENTATION", True):  # off: the bare app (settings STUDIO_INSTRUMENTATION)
            from observability import instrumentation

            instrumentation.install()  # metrics: error counting, label sets at zero (docs/metrics.md)

        if "silk" in settings.INSTALLED_APPS:  # development: Silk's EXPLAIN only for ?silk (profiling.py)
            from observability import profiling

            profiling.install()
