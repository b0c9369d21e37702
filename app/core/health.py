"""Readiness checks for the database, the cache and the Celery broker."""
from __future__ import annotations

import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection


def _timed(check) -> dict:
    start = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as exc:  # a readiness probe reports failures, it never raises them
        detail, ok = f"{type(exc).__name__}: {exc}"[:300], False
    return {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - start) * 1000, 1)}


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def check_cache() -> str:
    client_getter = getattr(getattr(cache, "client", None), "get_client", None)
    if client_getter is not None:
        # django-redis swallows errors (IGNORE_EXCEPTIONS), so ask the server directly.
        client_getter(write=True).ping()
        return "redis"
    key, value = f"readyz:{uuid.uuid4().hex}", "1"
    cache.set(key, value, 5)
    if cache.get(key) != value:
        raise RuntimeError("cache did not return the value just written")
    cache.delete(key)
    return type(cache).__name__


def check_broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager (no broker configured)"
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return conn.transport_cls if isinstance(conn.transport_cls, str) else conn.transport.driver_name


def check_all() -> dict:
    return {"database": _timed(check_database), "cache": _timed(check_cache), "broker": _timed(check_broker)}
