"""Settings for benchmarks/instrumentation_cost.py: one variant per process, chosen by BENCH_VARIANT.

  bare    no instrumentation at all: the app's STUDIO_INSTRUMENTATION=off (base.without_instrumentation: plain
          database and cache backends, no django-prometheus, none of ours (perf window/headers, request
          metrics, request id, error counting, /metrics), no Sentry)
  ours    the project as configured for production (PERF_HEADERS off, window on, Sentry at the
          defaults: traces 0.1, profiles 0.1, multiprocess metrics directory set)
  peer    the plain peer setup: django-prometheus stock Before/After middleware and database
          wrapper, sentry-sdk defaults with traces_sample_rate=0.1, nothing of ours
  ours-nowindow / ours-nosentry / ours-noprofiles / ours-sentry-notrace   ours with one part off (4d)
  ours-before   ours without the cut of docs/benchmarks.md 4b (the SDK wraps every middleware)
  ours-before-sampler   ours as before issue 18's changes: probes and /metrics traced at the rate (no traces_sampler)
  ours-before-sessions  ... with the sampler, but release-health sessions on without a release
  ours-before-metrics   ... with sampler and sessions off, but every django-prometheus metric written per request
  ours-gzip1 / ours-nocompress / ours-drop / ours-x-*   experiments (Sentry transport, options, integrations)
"""
import os

from config.settings.base import *  # noqa: F403

VARIANT = os.environ.get("BENCH_VARIANT", "ours")
DEBUG = False
ALLOWED_HOSTS = ["*"]
ENABLE_DRILL_ENDPOINTS = True  # /_drill/perf/?queries=1: the one-query view
INSTALLED_APPS = with_drills(INSTALLED_APPS, True)  # noqa: F405
METRICS_PUBLIC = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
LOG_FILE = None
LOGGING = logging_from_settings(globals())  # noqa: F405
PERF_HEADERS = "off"  # as in production
for _cache in CACHES.values():  # noqa: F405
    _cache["KEY_PREFIX"] = f"bench{os.getpid()}"

_PEER_ENGINES = {"django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
                 "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3"}
if VARIANT in ("bare", "peer"):  # the app's own switch (STUDIO_INSTRUMENTATION=off): one definition of "bare"
    globals().update(without_instrumentation(globals()))  # noqa: F405
if VARIANT == "peer":
    DATABASES["default"]["ENGINE"] = _PEER_ENGINES.get(  # noqa: F405
        DATABASES["default"]["ENGINE"], DATABASES["default"]["ENGINE"])  # noqa: F405
    INSTALLED_APPS = [*INSTALLED_APPS, "django_prometheus"]  # as its README says
    MIDDLEWARE = ["django_prometheus.middleware.PrometheusBeforeMiddleware", *MIDDLEWARE,  # noqa: F405
                  "django_prometheus.middleware.PrometheusAfterMiddleware"]
    _PEER_DSN = os.environ.get("BENCH_SENTRY_DSN")
    if _PEER_DSN:
        import sentry_sdk

        sentry_sdk.init(dsn=_PEER_DSN, traces_sample_rate=0.1)  # everything else: the SDK's defaults
# Oldest first: ours-before-X is ours without change X and every change after it.
_BEFORE_STEPS = ["ours-before-sampler", "ours-before-sessions", "ours-before-metrics"]
if VARIANT.startswith("ours"):
    SENTRY_DSN = os.environ.get("BENCH_SENTRY_DSN")
    if VARIANT == "ours-nowindow":
        PERF_WINDOW = False
    if VARIANT == "ours-nosentry":
        SENTRY_DSN = None
    if VARIANT == "ours-noprofiles":
        SENTRY_PROFILES_SAMPLE_RATE = 0.0
    if VARIANT == "ours-sentry-notrace":
        SENTRY_TRACES_SAMPLE_RATE = 0.0
        SENTRY_PROFILES_SAMPLE_RATE = 0.0
    if VARIANT in ("ours-x-trace1", "ours-x-trace1-profile1"):  # analysis: every request traced (cost per transaction)
        SENTRY_TRACES_SAMPLE_RATE = 1.0
        SENTRY_PROFILES_SAMPLE_RATE = 1.0 if VARIANT.endswith("profile1") else 0.0
    if VARIANT in _BEFORE_STEPS:  # issue 18's changes, undone from the newest back to VARIANT's (4b)
        from observability import sentry as _sentry

        _undo = _BEFORE_STEPS[_BEFORE_STEPS.index(VARIANT):]
        _step_options = _sentry.sentry_options

        def _undone(settings, _options=_step_options, _undo=_undo):
            options = _options(settings)
            if "ours-before-sampler" in _undo:
                options.pop("traces_sampler", None)
            if "ours-before-sessions" in _undo:
                options["auto_session_tracking"] = True
            return options

        _sentry.sentry_options = _undone
        if "ours-before-metrics" in _undo:
            MIDDLEWARE = [m if m != "observability.middleware.PrometheusAfterMiddleware"
                          else "benchmarks.before_middleware.EveryMetricAfterMiddleware" for m in MIDDLEWARE]
    if VARIANT == "ours-before":  # as before the cut of docs/benchmarks.md 4b: the SDK wraps every middleware
        from observability import sentry as _sentry

        _sentry._skip_middleware_wrappers = lambda: None
    if VARIANT in ("ours-gzip1", "ours-nocompress", "ours-drop"):  # experiments: where the transport's CPU goes
        from observability import sentry as _sentry

        _options = _sentry.sentry_options

        def _patched(settings, _options=_options):
            options = _options(settings)
            if VARIANT == "ours-drop":
                options["before_send_transaction"] = lambda event, hint: None
            else:
                options["_experiments"] = {"transport_compression_level": 1 if VARIANT == "ours-gzip1" else 0,
                                           "transport_compression_algo": "gzip"}
            return options

        _sentry.sentry_options = _patched
    if VARIANT.startswith("ours-x-") and not VARIANT.startswith("ours-x-trace1"):  # experiments: one option off
        from observability import sentry as _sentry

        _x_options = _sentry.sentry_options
        _x = VARIANT[len("ours-x-"):]

        def _x_patched(settings, _options=_x_options):
            options = _options(settings)
            if _x == "nosessions":
                options["auto_session_tracking"] = False
            elif _x == "nobreadcrumbs":
                options["max_breadcrumbs"] = 0
            elif _x == "nodefaults":
                options["default_integrations"] = False
                options["integrations"] = [i for i in options["integrations"]
                                           if type(i).__name__ in ("DjangoIntegration", "LoggingIntegration")]
            else:
                drop = {"noredis": "RedisIntegration", "nologging": "LoggingIntegration",
                        "nostdlib": "StdlibIntegration", "nocelery": "CeleryIntegration"}[_x]
                options["integrations"] = [i for i in options["integrations"] if type(i).__name__ != drop]
                options["disabled_integrations"] = [type(i) for i in _options(settings)["integrations"]
                                                    if type(i).__name__ == drop]
            return options

        _sentry.sentry_options = _x_patched
