"""The authentication backend: Django's ModelBackend behind the sign-in throttle (accounts/throttle.py)."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from accounts import throttle

THROTTLED_ATTR = "signin_throttled"  # on the request: the Throttled verdict, for the view's 429


class ThrottledModelBackend(ModelBackend):
    """ModelBackend whose every sign-in goes through the throttle: a throttled one is refused before the password
    is hashed (PBKDF2, the CPU an attacker would otherwise make every worker spend), so every sign-in path is
    covered, the admin's included.  PermissionDenied is how a backend tells django.contrib.auth.authenticate()
    to stop; it then returns None (and sends user_login_failed)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        name = str(username or "")
        throttled = throttle.begin(request, name)
        if throttled is not None:
            setattr(request, THROTTLED_ATTR, throttled)
            raise PermissionDenied("sign-in throttled")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            throttle.succeeded(request, name)
        return user
