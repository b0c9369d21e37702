"""Every setting lives here; development, production and test only override.

Configuration comes from the environment (and a .env file at the project root, when present).
With nothing configured the app runs on a bare machine: SQLite, a local-memory cache and eager Celery.
"""
from __future__ import annotations

import dj_database_url

import monitoring_spec as spec
from config import env
from config.env import APP_DIR, PROJECT_DIR
from observability import profiling
from observability.logging import logging_from_settings

ENVIRONMENT = env.environment()
DEBUG = False
SECRET_KEY = env.get("SECRET_KEY", "django-insecure-development-only-key-do-not-use-in-production")
ALLOWED_HOSTS = env.get_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
RELEASE = env.get("SENTRY_RELEASE", env.get("RELEASE", "dev"))
VAR_DIR = PROJECT_DIR / "var"  # runtime files: SQLite database, logs, pid files
VAR_DIR.mkdir(exist_ok=True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "core",
    "accounts",
    "courses",
    "forum",
    "observability",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "observability.perf.PerformanceMiddleware",  # X-Request-Time & co, the 5-minute window per endpoint
    "observability.middleware.RequestMetricsMiddleware",  # queries and DB time per request, errors
    "django.middleware.security.SecurityMiddleware",
    "core.errors.JsonErrorMiddleware",  # every error body JSON (Django's 405s, bare error responses)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.auth.TokenAuthenticationMiddleware",
    "observability.request_id.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "observability.middleware.PrometheusAfterMiddleware",  # django-prometheus' own, method label bounded
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [APP_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
# DATABASE_URL: postgres://user:pass@host:5432/name or sqlite:///path.  The engine is swapped for
# django-prometheus's wrapper of the same backend so every query is counted and timed; PostgreSQL's is
# core/database/postgresql, which also bounds every wait on the server with the settings below.
DATABASE_URL = env.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'studio.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
# A database that refuses, or accepts and never answers, costs a request seconds, not minutes: the request
# is a JSON 503 with Retry-After (core/views.py).  Connecting: whole seconds, psycopg's minimum is 2.  A
# statement: the server cancels it, and the app stops waiting one second later (a server that stopped
# answering); 0 turns both off (a long migration: DATABASE_STATEMENT_TIMEOUT=0 manage.py migrate).
DATABASE_CONNECT_TIMEOUT = env.get_int("DATABASE_CONNECT_TIMEOUT", 2)
DATABASE_STATEMENT_TIMEOUT = env.get_float("DATABASE_STATEMENT_TIMEOUT", 3.0)
DATABASE_RETRY_AFTER = env.get_int("DATABASE_RETRY_AFTER", 5)  # seconds, the 503's Retry-After
_ENGINES = {
    "django.db.backends.postgresql": "core.database.postgresql",
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
}
DATABASES["default"]["ENGINE"] = _ENGINES.get(DATABASES["default"]["ENGINE"], DATABASES["default"]["ENGINE"])
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several gunicorn workers and a Celery worker share the file: WAL and immediate
    # transactions turn "database is locked" into short waits.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ------------------------------------------------------------------------------------
REDIS_URL = env.get("REDIS_URL")
CACHE_URL = env.get("CACHE_URL", REDIS_URL)
CACHE_KEY_PREFIX = env.get("CACHE_KEY_PREFIX", "studio")
CACHE_TTL_SECONDS = env.get_int("CACHE_TTL_SECONDS", 300)
if CACHE_URL:
    CACHES = {
        "default": {
            # django-prometheus' RedisCache, also counting studio_cache_operations_total.
            "BACKEND": "observability.cache.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "TIMEOUT": CACHE_TTL_SECONDS,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # Short timeouts: a Redis outage must cost a request milliseconds, not seconds.
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.25,
                # A dead cache degrades to a miss instead of failing the request.
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "observability.cache.LocMemCache",  # Django's, counting operations
            "LOCATION": "studio",
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "TIMEOUT": CACHE_TTL_SECONDS,
        }
    }
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
# Not a line per swallowed error: observability.cache reports them to the cache's outage (observability/outages.py).
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = False
DJANGO_REDIS_LOGGER = "apps.api.cache"

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = env.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None  # nothing configured: run tasks inline
if CELERY_BROKER_URL is None:
    CELERY_BROKER_URL = "memory://"
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Replace a pool child after this many tasks (0: never); its metrics files are merged at the next scrape.
CELERY_WORKER_MAX_TASKS_PER_CHILD = env.get_int("CELERY_WORKER_MAX_TASKS_PER_CHILD", 0) or None
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish must not hang a request when the broker is gone.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 2, "max_retries": 1}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_STATS_INTERVAL_SECONDS = float(env.get("CELERY_STATS_INTERVAL_SECONDS", "300"))
CELERY_BEAT_SCHEDULE = {
    "recompute-course-stats": {
        "task": "courses.tasks.recompute_all_course_stats",
        "schedule": CELERY_STATS_INTERVAL_SECONDS,
    },
    "send-pending-confirmations": {  # enrolments saved while the broker was down (courses/use_cases.py)
        "task": "courses.tasks.send_pending_confirmations",
        "schedule": 600.0,
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Email ------------------------------------------------------------------------------------
EMAIL_BACKEND = env.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.get("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env.get_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.get_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env.get("DEFAULT_FROM_EMAIL", "Python Learning Studio <noreply@localhost>")

# --- Auth, i18n, static -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in throttling (accounts/throttle.py, docs/security.md): ModelBackend behind the throttle, so a throttled
# sign-in is refused before its password is hashed, on every sign-in path.
AUTHENTICATION_BACKENDS = ["accounts.backends.ThrottledModelBackend"]
SIGNIN_THROTTLE_ENABLED = env.get_bool("SIGNIN_THROTTLE_ENABLED", True)
# Failed sign-ins allowed per window ("10/15m": 10 per 15 minutes); the next attempt is a 429 with Retry-After.
SIGNIN_THROTTLE_USERNAME_RATE = env.get("SIGNIN_THROTTLE_USERNAME_RATE", "10/15m")  # per username, from anywhere
SIGNIN_THROTTLE_ADDRESS_RATE = env.get("SIGNIN_THROTTLE_ADDRESS_RATE", "50/15m")  # per client address (IPv6: /64)
# Proxies (CIDRs) whose X-Forwarded-For is believed (core/client_address.py); none: REMOTE_ADDR only.
TRUSTED_PROXY_NETWORKS = env.get_list("TRUSTED_PROXY_NETWORKS")
RATELIMIT_USE_CACHE = "default"  # django-ratelimit's counters: Redis whenever CACHE_URL/REDIS_URL is set
RATELIMIT_FAIL_OPEN = True  # cache down: sign-ins work unthrottled (logged), never a 500 or a lock-out
# API tokens (accounts/tokens.py): seconds a token lives, and the most a user holds at once (oldest go first).
API_TOKEN_TTL = env.get_int("API_TOKEN_TTL", 30 * 24 * 3600)
API_TOKENS_PER_USER = env.get_int("API_TOKENS_PER_USER", 10)
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# --- API --------------------------------------------------------------------------------------
API_PAGE_SIZE = 20
API_MAX_PAGE_SIZE = 100
API_MAX_PAGE = 1_000_000
API_MAX_QUERY_LENGTH = 200
# JSON request bodies (core/api.py json_body): checked before they are parsed; larger is a 413, deeper a 400.
API_MAX_BODY_BYTES = env.get_int("API_MAX_BODY_BYTES", 256 * 1024)
API_MAX_JSON_DEPTH = env.get_int("API_MAX_JSON_DEPTH", 8)
# Every error Django answers is JSON (core/errors.py): CSRF failures too.
CSRF_FAILURE_VIEW = "core.errors.csrf_failure"
SESSION_ENGINE = "core.sessions"  # database sessions; a malformed cookie is no session, not a query

# --- Monitoring -------------------------------------------------------------------------------
# Every latency target and alert threshold is an edge of these buckets (the spec).
PROMETHEUS_LATENCY_BUCKETS = spec.REQUEST_LATENCY_BUCKETS
PROMETHEUS_EXPORT_MIGRATIONS = False
# /metrics (observability/views.py): a bearer token and/or allowed networks; with neither, open
# only where METRICS_PUBLIC (default: development).
METRICS_PUBLIC = env.get_bool("METRICS_PUBLIC", ENVIRONMENT == "development")
METRICS_TOKEN = env.get("METRICS_TOKEN")
METRICS_TOKEN_FILE = env.get("METRICS_TOKEN_FILE")  # Prometheus: authorization.credentials_file
METRICS_ALLOWED_NETWORKS = env.get_list("METRICS_ALLOWED_NETWORKS")  # CIDRs, e.g. 10.0.0.0/8,127.0.0.1/32
METRICS_COUNTRY_HEADER = env.get("METRICS_COUNTRY_HEADER", "HTTP_CF_IPCOUNTRY")  # studio_errors_by_country_total
METRICS_REDIS_URL = env.get("METRICS_REDIS_URL", REDIS_URL)  # studio_error_users_5m (HyperLogLogs)
# The Celery worker's own /metrics (observability/celery_metrics.py); port 0 turns it off.
CELERY_METRICS_PORT = env.get_int("CELERY_METRICS_PORT", 9808)
CELERY_METRICS_ADDR = env.get("CELERY_METRICS_ADDR", "127.0.0.1")
CELERY_METRICS_QUEUES = env.get_list("CELERY_METRICS_QUEUES")  # studio_celery_queue_length; default queue if empty
# Dependency outages (observability/outages.py): a line when one starts, then at most one per this many
# seconds while it lasts, a line when it ends.
OUTAGE_SUMMARY_SECONDS = env.get_float("OUTAGE_SUMMARY_SECONDS", 60.0)
# /readyz (core/health.py): each check's limit and how long a result is kept (per process), so probes cannot
# pile up on a sick dependency.  Details (errors, hosts, timings) go to callers that may read /metrics and to
# these CIDRs (matched against core/client_address.py's client address).  Not loopback by default: behind a
# proxy on the same host every client comes from 127.0.0.1.
READYZ_CHECK_TIMEOUT = env.get_float("READYZ_CHECK_TIMEOUT", 1.0)
READYZ_CACHE_SECONDS = env.get_float("READYZ_CACHE_SECONDS", 1.0)
READYZ_DETAIL_NETWORKS = env.get_list("READYZ_DETAIL_NETWORKS")

# --- Sentry (observability/sentry.py; off without SENTRY_DSN) ---------------------------------
SENTRY_DSN = env.get("SENTRY_DSN")
SENTRY_RELEASE = env.get("SENTRY_RELEASE", env.get("RELEASE"))  # None: events carry RELEASE ("dev")
SENTRY_TRACES_SAMPLE_RATE = env.get_float("SENTRY_TRACES_SAMPLE_RATE", 0.1)
SENTRY_PROFILES_SAMPLE_RATE = env.get_float("SENTRY_PROFILES_SAMPLE_RATE", 0.1)
SENTRY_SEND_PII = env.get_bool("SENTRY_SEND_PII", False)  # e-mail addresses in events only when on
SENTRY_TRANSPORT_TIMEOUT = env.get_float("SENTRY_TRANSPORT_TIMEOUT", 5.0)  # per envelope, background thread
SENTRY_SHUTDOWN_TIMEOUT = env.get_float("SENTRY_SHUTDOWN_TIMEOUT", 2.0)  # longest flush at process exit
SENTRY_DEBUG = env.get_bool("SENTRY_DEBUG", False)
SENTRY_IGNORED_5XX_PATHS = ["/readyz"]  # a failing probe is Prometheus' business, not an event per poll
# No transaction at all for these (observability.sentry.TracesSampler): probes and scrapes, every few seconds.
SENTRY_UNTRACED_PATHS = ["/healthz", "/readyz", "/metrics"]
# Path prefixes whose events carry no request body and no frame locals: where passwords are sent.
SENTRY_NO_BODY_PATHS = ["/api/v1/auth/", "/admin/login/", "/admin/password_change/"]
# Endpoints that fail on purpose (/_drill/..., the drills app): on with DEBUG or this flag, never in
# production.  Each settings module calls with_drills() (end of this file) once both are final.
ENABLE_DRILL_ENDPOINTS = env.get_bool("ENABLE_DRILL_ENDPOINTS", False)
# check_monitoring: where to verify receivers and alert rules (optional).
ALERTMANAGER_URL = env.get("ALERTMANAGER_URL")
PROMETHEUS_URL = env.get("PROMETHEUS_URL")

# --- Performance (observability/perf.py, observability/profiling.py, docs/performance.md) ----
PERF_HEADERS = env.get("PERF_HEADERS", "on")  # X-Request-Time & co: on | staff | off (production: off)
PERF_WINDOW = env.get_bool("PERF_WINDOW", True)  # cache.get("perf_metrics:<route>"): 5-minute window
PERF_WINDOW_FLUSH_SECONDS = env.get_float("PERF_WINDOW_FLUSH_SECONDS", 1.0)  # per process, to Redis
WARM_CACHE_ON_START = env.get_bool("WARM_CACHE_ON_START", False)  # core/warming.py, once per gunicorn start
WARM_CACHE_MAX_USERS = env.get_int("WARM_CACHE_MAX_USERS", 1000)  # profiles warmed: most recently active
# Django Silk at /silk/: only development settings install it (when importable; SILK_ENABLED=0 turns it off).
SILK_ENABLED = False
SILKY_INTERCEPT_FUNC = profiling.intercept  # every request recorded lightly (not probes, /metrics)
SILKY_PYTHON_PROFILER_FUNC = profiling.profile  # ?silk: profiled in detail
SILKY_AUTHENTICATION = True
SILKY_AUTHORISATION = True
SILKY_PERMISSIONS = profiling.is_superuser
SILKY_MAX_RECORDED_REQUESTS = 5_000
SILKY_MAX_REQUEST_BODY_SIZE = SILKY_MAX_RESPONSE_BODY_SIZE = 64 * 1024
LOGIN_URL = "admin:login"  # where /silk/ sends anonymous visitors

# --- Logging (observability/logging.py) -------------------------------------------------------
LOG_LEVEL = env.get("LOG_LEVEL", "INFO")  # the file
LOG_CONSOLE_LEVEL = env.get("LOG_CONSOLE_LEVEL", "WARNING")
LOG_CONSOLE_JSON = env.get_bool("LOG_CONSOLE_JSON", False)
LOG_FILE = env.get("LOG_FILE", str(VAR_DIR / "log" / "studio.log"))
LOG_JSON = env.get_bool("LOG_JSON", True)  # the file: JSON lines
LOG_FILE_MAX_BYTES = env.get_int("LOG_FILE_MAX_BYTES", 50 * 1024 * 1024)
LOG_FILE_BACKUP_COUNT = env.get_int("LOG_FILE_BACKUP_COUNT", 5)
LOG_SQL = env.get_bool("LOG_SQL", False)  # SQL statements at DEBUG (needs DEBUG, i.e. development)
# Extra handlers for the root logger, {name: dictConfig handler}: other instrumentation goes here.
LOG_EXTRA_HANDLERS: dict = {}
LOGGING = logging_from_settings(globals())  # environment modules change LOG_* and call it again


def with_drills(apps: list[str], enabled: bool) -> list[str]:
    """`apps` with the development-only drills app (/_drill/...) when `enabled`, without it otherwise."""
    apps = [app for app in apps if app != "drills"]
    return [*apps, "drills"] if enabled else apps


INSTALLED_APPS = with_drills(INSTALLED_APPS, DEBUG or ENABLE_DRILL_ENDPOINTS)


# --- Instrumentation switch -------------------------------------------------------------------
# STUDIO_INSTRUMENTATION=off: the app with no instrumentation at all, to measure what it costs (capacity at
# target instrumented vs bare, benchmarks/capacity.py; the "bare" variant of benchmarks/bench_settings.py
# applies the same without_instrumentation()).  Never meant to be deployed: nothing is counted, /metrics is 404.
INSTRUMENTATION = env.get_bool("STUDIO_INSTRUMENTATION", True)
# What the instrumentation swaps in, and the plain backend it wraps.
PLAIN_DATABASE_ENGINES = {"core.database.postgresql": "django.db.backends.postgresql",  # also bounds waits
                          "django_prometheus.db.backends.sqlite3": "django.db.backends.sqlite3"}
PLAIN_CACHE_BACKENDS = {"observability.cache.RedisCache": "django_redis.cache.RedisCache",
                        "observability.cache.LocMemCache": "django.core.cache.backends.locmem.LocMemCache"}
INSTRUMENTATION_MIDDLEWARE = ("django_prometheus.middleware.PrometheusBeforeMiddleware",
                              "observability.perf.PerformanceMiddleware",
                              "observability.middleware.RequestMetricsMiddleware",
                              "observability.request_id.RequestContextMiddleware",
                              "observability.middleware.PrometheusAfterMiddleware")


def without_instrumentation(settings: dict) -> dict:
    """The overrides that take every instrumentation out of `settings` (a settings module's globals()):
    django-prometheus (app, middleware, database and cache wrappers), our middleware (request metrics, the
    perf window and headers, request ids), Sentry; observability's ready() then installs no error counting
    and urls.py no /metrics.  DATABASES and CACHES are changed in place, as settings modules do."""
    for cache in settings["CACHES"].values():
        cache["BACKEND"] = PLAIN_CACHE_BACKENDS.get(cache["BACKEND"], cache["BACKEND"])
    database = settings["DATABASES"]["default"]
    database["ENGINE"] = PLAIN_DATABASE_ENGINES.get(database["ENGINE"], database["ENGINE"])
    return {
        "INSTRUMENTATION": False,
        "INSTALLED_APPS": [app for app in settings["INSTALLED_APPS"] if app != "django_prometheus"],
        "MIDDLEWARE": [m for m in settings["MIDDLEWARE"] if m not in INSTRUMENTATION_MIDDLEWARE],
        "PERF_WINDOW": False,
        "PERF_HEADERS": "off",
        "SENTRY_DSN": None,
    }


if not INSTRUMENTATION:
    globals().update(without_instrumentation(globals()))
