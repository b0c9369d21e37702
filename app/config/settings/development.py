import importlib.util

from config import env
from observability.logging import logging_from_settings

from .base import *  # noqa: F403

DEBUG = True
INSTALLED_APPS = with_drills(INSTALLED_APPS, True)  # noqa: F405 - DEBUG: the drills app too
# Django Silk at /silk/ (superusers; ?silk profiles a request): on when installed (the dev extras).
SILK_ENABLED = env.get_bool("SILK_ENABLED", importlib.util.find_spec("silk") is not None)
if SILK_ENABLED:
    if importlib.util.find_spec("silk") is None:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("SILK_ENABLED is on but django-silk is not installed: pip install -e '.[dev]'")
    INSTALLED_APPS = [*INSTALLED_APPS, "silk"]
    MIDDLEWARE = ["silk.middleware.SilkyMiddleware", *MIDDLEWARE]  # noqa: F405 - outermost: its writes stay out of X-*
# The guide: DEBUG to the console, INFO to var/log/studio.log; LOG_SQL=1 adds every SQL statement.
LOG_CONSOLE_LEVEL = env.get("LOG_CONSOLE_LEVEL", "DEBUG")
LOGGING = logging_from_settings(globals())
