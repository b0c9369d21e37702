from config import env
from observability.logging import logging_from_settings

from .base import *  # noqa: F401,F403

DEBUG = True
# The guide: DEBUG to the console, INFO to var/log/studio.log; LOG_SQL=1 adds every SQL statement.
LOG_CONSOLE_LEVEL = env.get("LOG_CONSOLE_LEVEL", "DEBUG")
LOGGING = logging_from_settings(globals())
