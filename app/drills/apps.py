from django.apps import AppConfig


class DrillsConfig(AppConfig):
    """Endpoints (and a Celery task) that fail on purpose, for proving and drilling the monitoring.

    Development and test only: installed by the settings modules through with_drills() when DEBUG or
    ENABLE_DRILL_ENDPOINTS is on (never in production), and config/urls.py routes /_drill/ to it only
    when it is installed; elsewhere every /_drill/ URL is a 404.
    """

    name = "drills"
    verbose_name = "Fire drills (development only)"
