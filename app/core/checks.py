"""System checks of the project's own settings conventions."""
from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Warning, register

from core.client_address import invalid_networks


@register()
def drills_follow_their_switch(app_configs=None, **kwargs):
    """The drills app is installed exactly when drills are on: a settings module that changes DEBUG or
    ENABLE_DRILL_ENDPOINTS after base.py must call with_drills() again, or /_drill/ silently 404s
    (or stays routed where it was meant to be off)."""
    enabled = bool(settings.DEBUG or getattr(settings, "ENABLE_DRILL_ENDPOINTS", False))
    if enabled == apps.is_installed("drills"):
        return []
    state = "on" if enabled else "off"
    return [Warning(f"drills are {state} (DEBUG or ENABLE_DRILL_ENDPOINTS) but the drills app is "
                    f"{'not ' if enabled else ''}installed",
                    hint="end the settings module with INSTALLED_APPS = with_drills(INSTALLED_APPS, "
                         "DEBUG or ENABLE_DRILL_ENDPOINTS)",
                    id="core.W001")]


@register()
def readyz_detail_networks(app_configs=None, **kwargs):
    bad = invalid_networks(getattr(settings, "READYZ_DETAIL_NETWORKS", ()) or ())
    if not bad:
        return []
    return [Error(f"READYZ_DETAIL_NETWORKS has entries that are not networks: {', '.join(bad)}",
                  hint="CIDRs, e.g. 10.0.0.0/8,127.0.0.1/32", id="core.E001")]
