import os

from django.core.wsgi import get_wsgi_application

from config.env import default_settings_module

os.environ.setdefault("DJANGO_SETTINGS_MODULE", default_settings_module())

application = get_wsgi_application()

# WARM_CACHE_ON_START=1: warm the cache in a daemon thread, once per server start (core/warming.py).
from core.warming import warm_on_start  # noqa: E402

warm_on_start()
