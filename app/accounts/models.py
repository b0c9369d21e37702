from __future__ import annotations

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
    # Enrolments, progress and the stats above are shown to others only when the user opts in
    # (accounts/selectors.py: anyone else sees the public fields).
    public_profile = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"profile of {self.user_id}"


def _new_key() -> str:
    """The cleartext key's default of migration 0001 (kept so that it imports; nothing calls it since 0002)."""
    import secrets

    return secrets.token_hex(20)


class ApiToken(models.Model):
    """A bearer token for API clients: `Authorization: Token <secret>` (accounts/tokens.py).

    Only the SHA-256 of the secret is stored: the secret is shown once, when issued, and a copy of the
    table (a backup, a replica) holds nothing a client could present."""

    key_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"token {self.pk} of {self.user_id}"
