"""Versioned cache namespaces: a write bumps a version instead of hunting keys down."""
from __future__ import annotations

import time

from django.core.cache import cache


def _key(namespace: str) -> str:
    return f"version:{namespace}"


def get_version(namespace: str) -> int:
    version = cache.get(_key(namespace))
    if version is None:
        # Time-based, so a version lost to eviction never repeats an old one.
        version = time.time_ns()
        cache.add(_key(namespace), version, None)
    return version


def bump(namespace: str) -> None:
    cache.set(_key(namespace), time.time_ns(), None)
