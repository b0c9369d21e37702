"""API tokens: issued at sign-in, stored as digests, expiring, revoked by their holder or a password change.

The secret is 32 random bytes (URL-safe base64); the table keeps its SHA-256 only.  A plain hash is enough
here, unlike for passwords: the secret is random and long, so there is nothing to guess from a digest, and
one fast hash keeps the lookup of every token request a single indexed query.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiToken

SECRET_BYTES = 32
# What issue() makes is 43 characters; anything outside this shape is refused without a query.
_WELL_FORMED = re.compile(r"[A-Za-z0-9_-]{20,128}")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def is_well_formed(secret: str) -> bool:
    return bool(_WELL_FORMED.fullmatch(secret))


@transaction.atomic
def issue(user) -> tuple[ApiToken, str]:
    """A new token for `user` and its secret (shown once: only its digest is kept).

    Expired tokens of the user go, and so do the oldest beyond settings.API_TOKENS_PER_USER, so that
    signing in again and again cannot grow the table."""
    now = timezone.now()
    secret = secrets.token_urlsafe(SECRET_BYTES)
    ApiToken.objects.filter(user=user, expires_at__lte=now).delete()
    token = ApiToken.objects.create(user=user, key_hash=digest(secret),
                                    expires_at=now + timedelta(seconds=settings.API_TOKEN_TTL))
    keep = max(1, settings.API_TOKENS_PER_USER)
    stale = list(ApiToken.objects.filter(user=user).order_by("-created_at", "-pk").values_list("pk", flat=True)[keep:])
    if stale:
        ApiToken.objects.filter(pk__in=stale).delete()
    return token, secret


def find(secret: str) -> ApiToken | None:
    """The live token with this secret (its user loaded), or None: malformed, unknown, expired, or the user
    is inactive."""
    if not is_well_formed(secret):
        return None
    return (ApiToken.objects.select_related("user")
            .filter(key_hash=digest(secret), expires_at__gt=timezone.now(), user__is_active=True)
            .first())


def revoke(token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk).delete()


def revoke_all(user_id: int) -> int:
    """Every token of the user (a password change); how many there were."""
    deleted, _ = ApiToken.objects.filter(user_id=user_id).delete()
    return deleted
