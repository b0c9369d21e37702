"""Settings for the test suite: real PostgreSQL or SQLite (DATABASE_URL) and real Redis (REDIS_URL)."""
import os

from config import env

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = env.get("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
# Test runs may overlap on one machine (CI, a developer, helpers): each gets its own test
# database and cache key prefix.  SQLite's test database is a file so gunicorn can share it.
_default = DATABASES["default"]  # noqa: F405
_default.setdefault("TEST", {})["NAME"] = (
    str(VAR_DIR / f"test_studio_{os.getpid()}.sqlite3")  # noqa: F405
    if _default["ENGINE"].endswith("sqlite3") else f"test_studio_{os.getpid()}")
for _cache in CACHES.values():  # noqa: F405
    _cache["KEY_PREFIX"] = env.get("CACHE_KEY_PREFIX", f"test{os.getpid()}")
# Quiet console, no log file unless LOG_FILE is given; the failing-on-purpose endpoints exist.
LOG_FILE = env.get("LOG_FILE")
LOGGING = logging_from_settings(globals())  # noqa: F405
ENABLE_DRILL_ENDPOINTS = env.get_bool("ENABLE_DRILL_ENDPOINTS", True)
INSTALLED_APPS = with_drills(INSTALLED_APPS, ENABLE_DRILL_ENDPOINTS)  # noqa: F405
METRICS_PUBLIC = env.get_bool("METRICS_PUBLIC", True)  # /metrics open unless a test configures protection
# Every test client is 127.0.0.1: the whole run's failed sign-ins would add up on one address and throttle tests
# that expect a 401.  The throttle's own tests (tests/test_signin_throttle.py) set the limits they test.
SIGNIN_THROTTLE_ADDRESS_RATE = env.get("SIGNIN_THROTTLE_ADDRESS_RATE", "100000/15m")
CELERY_TASK_ALWAYS_EAGER = env.get_bool("CELERY_TASK_ALWAYS_EAGER", True)
if CELERY_TASK_ALWAYS_EAGER:
    CELERY_BROKER_URL = "memory://"
