"""System checks of the sign-in throttle's settings: a typo there would otherwise only show as a throttle
that never throttles (it fails open) or a proxy that is never trusted."""
from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register

from accounts import throttle
from core.client_address import invalid_networks


@register()
def signin_throttle_settings(app_configs=None, **kwargs):
    errors = [Error(f"{name} is not a rate like '10/15m' (count/[multiplier]s|m|h|d): {getattr(settings, name)!r}",
                    id="accounts.E001") for name in throttle.rate_errors()]
    bad = invalid_networks(getattr(settings, "TRUSTED_PROXY_NETWORKS", ()) or ())
    if bad:
        errors.append(Error(f"TRUSTED_PROXY_NETWORKS has entries that are not networks: {', '.join(bad)}",
                            hint="CIDRs, e.g. 10.0.0.0/8,127.0.0.1/32", id="accounts.E002"))
    return errors
