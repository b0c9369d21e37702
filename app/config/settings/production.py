"""Production and staging: refuse to start without what must be configured."""
from config import env

from .base import *  # noqa: F403

DEBUG = False
if ENVIRONMENT == "production":  # noqa: F405
    ENABLE_DRILL_ENDPOINTS = False  # endpoints that fail on purpose 404 in production, whatever the env says
INSTALLED_APPS = with_drills(INSTALLED_APPS, ENABLE_DRILL_ENDPOINTS)  # noqa: F405 - staging: when asked
PERF_HEADERS = env.get("PERF_HEADERS", "off")  # "staff": the X-* headers for staff users only

_missing = [name for name in ("SECRET_KEY", "ALLOWED_HOSTS") if not env.get(name)]
if _missing:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        f"{ENVIRONMENT} settings need these environment variables: {', '.join(_missing)} "  # noqa: F405
        "(see .env.example)")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.get_bool("SECURE_SSL_REDIRECT", True)
# Prometheus and load balancers talk plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.get_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env.get_list("CSRF_TRUSTED_ORIGINS")
EMAIL_BACKEND = env.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
