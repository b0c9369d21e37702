"""Cache of the profile payload, keyed per user and invalidated on any write that shows in it."""
from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from core import cache_versions

# Profiles show course titles, so a change to any course also retires cached profiles.
COURSES_NAMESPACE = "courses"
# The payload's shape: bumped when it changes, so that a deploy never reads what the previous release cached.
PAYLOAD_VERSION = 2


def key(user_id: int) -> str:
    return f"accounts:profile:v{PAYLOAD_VERSION}:{user_id}:{cache_versions.get_version(COURSES_NAMESPACE)}"


def get(user_id: int):
    return cache.get(key(user_id))


def set(user_id: int, payload: dict) -> None:
    cache.set(key(user_id), payload, settings.CACHE_TTL_SECONDS)


def invalidate(user_id: int) -> None:
    cache.delete(key(user_id))
