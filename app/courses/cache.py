"""Cache keys for course payloads; writes bump the namespace version (see signals)."""
from __future__ import annotations

import hashlib

from core import cache_versions

NAMESPACE = "courses"


def list_key(params: dict) -> str:
    canonical = "&".join(f"{k}={params[k]}" for k in sorted(params) if params[k] is not None)
    digest = hashlib.sha1(canonical.encode()).hexdigest()[:16]
    return f"courses:list:{cache_versions.get_version(NAMESPACE)}:{digest}"


def detail_key(slug: str) -> str:
    return f"courses:detail:{cache_versions.get_version(NAMESPACE)}:{slug}"


def invalidate_all() -> None:
    cache_versions.bump(NAMESPACE)
