"""Readiness checks of the database, the cache and the Celery broker: bounded, one run at a time, kept a second.

`readiness()` (GET /readyz, core/views.py) runs the three checks side by side, each on a thread of its own:

* a check gets settings.READYZ_CHECK_TIMEOUT (1 s) to answer, so /readyz answers within about that whatever
  hangs; a check still running then is reported failed ("no answer within 1 s") and goes on in the
  background, bounded by its client's own timeouts (DATABASE_CONNECT_TIMEOUT, the cache's and the broker's
  socket timeouts);
* while a check runs, probes wait on that run instead of starting another, and the result is kept for
  settings.READYZ_CACHE_SECONDS (1 s) per process: probes cannot pile up on a sick dependency;
* a check that reaches its dependency or fails to is reported to the dependency's outage tracker
  (observability.outages; the database's through its engine): a probe that got an answer ends an outage.
"""
from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.core.cache import cache
from django.db import connections

from observability import outages


def _timed(check) -> dict:
    start = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as exc:  # a readiness probe reports failures, it never raises them
        detail, ok = outages.describe(exc), False
    return {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - start) * 1000, 1)}


def check_database() -> str:
    """A fresh connection each time (at most one a second per process): whether the database takes one now,
    not whether an old one still works.  The engine reports the attempt to the database's outage tracker."""
    connection = connections["default"]  # this check thread's own
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return connection.vendor
    finally:
        connection.close()


def check_cache() -> str:
    client_getter = getattr(getattr(cache, "client", None), "get_client", None)
    if client_getter is not None:
        # django-redis swallows errors (IGNORE_EXCEPTIONS), so ask the server directly.
        try:
            client_getter(write=True).ping()
        except Exception as exc:
            outages.CACHE.failure(exc, "readiness check")
            raise
        outages.CACHE.success()
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
        try:
            conn.ensure_connection(max_retries=0)  # one attempt, bounded by the transport's socket timeouts
        except Exception as exc:
            outages.BROKER.failure(exc, "readiness check")
            raise
        outages.BROKER.success()
        return conn.transport_cls if isinstance(conn.transport_cls, str) else conn.transport.driver_name


CHECKS = {"database": check_database, "cache": check_cache, "broker": check_broker}


class _SingleFlight:
    """One check: at most one run at a time in this process, on a daemon thread."""

    def __init__(self, name: str, check):
        self.name, self.check = name, check
        self._future: Future | None = None
        self._lock = threading.Lock()

    def run(self) -> Future:
        with self._lock:
            if self._future is None or self._future.done():
                future: Future = Future()
                check = self.check

                def target():
                    try:
                        future.set_result(_timed(check))
                    finally:
                        connections.close_all()  # the thread ends: so do its database connections

                self._future = future
                threading.Thread(target=target, name=f"readyz-{self.name}", daemon=True).start()
            return self._future


_flights = {name: _SingleFlight(name, check) for name, check in CHECKS.items()}
_last: dict = {"at": None, "results": None}
_lock = threading.Lock()  # concurrent probes: one runs the checks, the others take its result


def readiness() -> dict:
    """{check: {"ok", "detail", "ms"}} for the database, the cache and the broker."""
    keep = float(getattr(settings, "READYZ_CACHE_SECONDS", 1.0))
    timeout = float(getattr(settings, "READYZ_CHECK_TIMEOUT", 1.0))
    with _lock:
        at = _last["at"]
        if at is not None and time.monotonic() - at < keep:
            return _last["results"]
        started = time.monotonic()
        futures = {name: flight.run() for name, flight in _flights.items()}
        results = {}
        for name, future in futures.items():
            try:
                results[name] = future.result(timeout=max(0.0, started + timeout - time.monotonic()))
            except FutureTimeout:
                results[name] = {"ok": False, "detail": f"no answer within {timeout:g} s",
                                 "ms": round((time.monotonic() - started) * 1000, 1)}
        _last["at"], _last["results"] = time.monotonic(), results
        return results


def forget(wait: float = 5.0) -> None:
    """Drop the kept result once the runs in flight are over, waiting up to `wait` seconds for them (tests
    change what the checks see, and a run still connecting to the old database would hold its attempt)."""
    with _lock:
        _last["at"] = None
        deadline = time.monotonic() + wait
        for flight in _flights.values():
            future = flight._future
            if future is not None:
                try:
                    future.result(timeout=max(0.0, deadline - time.monotonic()))
                except FutureTimeout:
                    pass
