from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django_prometheus.models import ExportModelOperationsMixin


class Profile(ExportModelOperationsMixin("profile"), models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    bio = models.TextField(blank=True)
    avatar_url = models.URLField(blank=True)
    # Learning stats, kept current by the services that record progress.
    lessons_completed = models.PositiveIntegerField(default=0)
    courses_completed = models.PositiveIntegerField(default=0)
    minutes_learned = models.PositiveIntegerField(default=0)
    streak_days = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"profile of {self.user_id}"


def _new_key() -> str:
    return secrets.token_hex(20)


class ApiToken(models.Model):
    """A bearer token for API clients: `Authorization: Token <key>`."""

    key = models.CharField(max_length=40, unique=True, default=_new_key)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_token")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"token of {self.user_id}"
