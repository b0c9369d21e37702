"""Cache backends that count every operation: studio_cache_operations_total{operation,result}.

Configured in CACHES (settings/base.py): RedisCache with Redis, LocMemCache without.  Counting
happens here, at the backend, so every caller (core/cache_versions.py, courses/cache.py,
accounts/cache.py, anything later) is covered without touching call sites.

Results: get, get_many, has_key, get_or_set -> hit | miss; set, set_many -> set; add -> set (stored)
or hit (the key was there); touch, incr, decr -> set, or miss (no such key); delete, delete_many ->
delete; any operation -> error when the backend failed.  *_many operations count once per key.
A composite operation (get_or_set, and on LocMem the *_many that Django builds from
get/set/delete) counts once, under its own name, not as the operations it is made of.

Table-driven, as sentry-python's Django cache integration is (METHODS_TO_INSTRUMENT and one
_patch_cache_method): OPERATIONS says, for each operation, what a call counts; one wrapper
(``_counted``) makes each backend's method from it and the parent's.  ``get`` and ``get_or_set`` are
written out: they also serve the performance window, keep django-prometheus' django_cache_get_*
counters, and find a miss through the default.

Return values and exceptions are exactly those of the parent backends:

* RedisCache is django-prometheus' RedisCache (itself django-redis'), so django_cache_get_* keep
  counting.  django-redis swallows connection errors (IGNORE_EXCEPTIONS) inside each method, out of
  our sight, so the counted methods make the same client call the parent makes, under django-redis'
  own ``omit_exception`` policy (same return value when ignored; its line per error only with
  DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS), with a sentinel that tells us an error was swallowed.  Each
  swallowed error is reported to the cache's outage (observability.outages) and each answer ends it.
* LocMemCache is Django's own (django-prometheus' locmem backend returns `default` for any falsy
  cached value); it counts django_cache_get_* with backend="locmem" as django-prometheus' would.

Two hooks for observability.perf (docs/performance.md):

* every counted operation is also reported to the tally of the request being served, if any
  (perf.cache_tally): the X-Cache-* response headers;
* ``get('perf_metrics:<route>')`` -- keys under that reserved prefix, ``get`` only -- returns the
  endpoint's 5-minute performance window computed from its buckets (Redis: across every process;
  local memory: this process), or ``default`` when the endpoint had no request in the window.  It is
  counted as a get (hit or miss), and a Redis failure is handled as for any get.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from django.core.cache.backends import locmem
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django_prometheus.cache.backends.redis import RedisCache as PrometheusRedisCache
from django_prometheus.cache.metrics import (
    django_cache_get_fail_total,
    django_cache_get_total,
    django_cache_hits_total,
    django_cache_misses_total,
)
from django_redis.exceptions import ConnectionInterrupted

from observability import metrics, outages, perf

_COUNTERS = {
    (operation, result): metrics.CACHE_OPERATIONS_TOTAL.labels(operation, result)
    for operation, results in metrics.CACHE_OPERATIONS.items()
    for result in results
}
_SWALLOWED = object()  # what a django-redis call returns when IGNORE_EXCEPTIONS ate a connection error
_MISSING = object()


class Operation(NamedTuple):
    """One cache operation: what a call that returned `value` for `n` keys counts."""

    name: str
    results: Callable[[Any, int], tuple[tuple[str, int], ...]]
    keys: str | None = None  # the parameter whose keys (or items) count one by one: *_many
    missing_raises: bool = False  # ValueError means "no such key": a miss, not an error (incr, decr)
    swallowed: Callable[[], Any] = lambda: None  # django-redis' answer when IGNORE_EXCEPTIONS ate an error
    returns: Callable[[Any], Any] | None = None  # django-redis' own conversion of the client's value


OPERATIONS = (
    Operation("get_many", lambda found, n: (("hit", len(found)), ("miss", n - len(found))), keys="keys",
              swallowed=dict),
    Operation("has_key", lambda found, n: (("hit" if found else "miss", 1),)),
    Operation("set", lambda _, n: (("set", 1),)),
    Operation("set_many", lambda _, n: (("set", n),), keys="data"),
    Operation("add", lambda stored, n: (("set" if stored else "hit", 1),)),
    Operation("touch", lambda touched, n: (("set" if touched else "miss", 1),)),
    Operation("incr", lambda _, n: (("set", 1),), missing_raises=True),
    Operation("decr", lambda _, n: (("set", 1),), missing_raises=True),
    Operation("delete", lambda _, n: (("delete", 1),), returns=bool),  # a boolean since Django 3.1
    Operation("delete_many", lambda _, n: (("delete", n),), keys="keys"),
)


def _keys(op: Operation, args: tuple, kwargs: dict) -> tuple[tuple, int]:
    """How many keys a *_many call is about, and its arguments with the keys of a get_many/delete_many
    made a list (a generator can be read only once: to count, then by the parent)."""
    items = args[0] if args else kwargs[op.keys]
    if op.keys == "keys":
        items = list(items)
        if args:
            args = (items, *args[1:])
        else:
            kwargs["keys"] = items
    return args, len(items)


def _counted(op: Operation, parent: Callable) -> Callable:
    """The backend's method for `op`: `parent` (the parent backend's call) counted, its value returned
    and its exceptions raised unchanged."""
    name, results, returns, swallowed, per_key = op.name, op.results, op.returns, op.swallowed, op.keys
    missing = ValueError if op.missing_raises else ()

    def method(self, *args, **kwargs):
        if self._studio_composite:  # a part of a composite operation: the outer call counts
            value = parent(self, *args, **kwargs)
            if value is _SWALLOWED:
                self._studio_composite_failed = True
                return swallowed()
            return value if returns is None else returns(value)
        args, n = _keys(op, args, kwargs) if per_key else (args, 1)
        composite = name in self.composite_operations
        if composite:  # built from other operations: they count nothing, this call counts once
            self._studio_composite, self._studio_composite_failed = True, False
        try:
            value = parent(self, *args, **kwargs)
        except Exception as exc:
            self._studio_composite = False
            self._count(name, "miss" if isinstance(exc, missing) else "error", n)
            raise
        if composite:
            self._studio_composite = False
            if self._studio_composite_failed:
                self._count(name, "error", n)
                return value
        if value is _SWALLOWED:
            self._count(name, "error", n)
            return swallowed()
        for result, count in results(value, n):
            self._count(name, result, count)
        return value if returns is None else returns(value)

    method.__name__ = method.__qualname__ = name
    return method


class _Counting:
    """Counting shared by both backends.  One instance per thread (Django's cache handler), so the
    composite-operation flags below need no lock."""

    composite_operations: frozenset[str] = frozenset()  # built by the parent from other operations
    _studio_composite = False  # inside get_or_set & co: the parts are not counted on their own
    _studio_composite_failed = False

    def _count(self, operation: str, result: str, n: int = 1) -> None:
        if self._studio_composite:
            if result == "error":
                self._studio_composite_failed = True
            return
        _COUNTERS[operation, result].inc(n)
        tally = perf.cache_tally.get()
        if tally is not None:
            tally.add(operation, result, n)

    def get_or_set(self, key, default, timeout=DEFAULT_TIMEOUT, version=None):
        missed = False

        def compute():  # BaseCache.get_or_set calls this only on a miss
            nonlocal missed
            missed = True
            return default() if callable(default) else default

        if self._studio_composite:  # nested: the outer operation counts
            return super().get_or_set(key, compute, timeout=timeout, version=version)
        self._studio_composite, self._studio_composite_failed = True, False
        try:
            value = super().get_or_set(key, compute, timeout=timeout, version=version)
        except Exception:
            self._studio_composite = False
            self._count("get_or_set", "error")
            raise
        self._studio_composite = False
        self._count("get_or_set", "error" if self._studio_composite_failed else "miss" if missed else "hit")
        return value


class RedisCache(_Counting, PrometheusRedisCache):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._dj_get = django_cache_get_total.labels(backend="redis")
        self._dj_hit = django_cache_hits_total.labels(backend="redis")
        self._dj_miss = django_cache_misses_total.labels(backend="redis")
        self._dj_fail = django_cache_get_fail_total.labels(backend="redis")

    def _guarded(self, operation: str, call: Callable, *args, **kwargs):
        """django-redis' omit_exception policy around `call`, reporting each swallowed error to the cache's
        outage (observability.outages: a line when it starts, not one per error) and each answer as a success."""
        try:
            value = call(*args, **kwargs)
        except ConnectionInterrupted as exc:
            outages.CACHE.failure(exc.__cause__ or exc, operation)
            if not self._ignore_exceptions:
                raise exc.__cause__ or exc  # as omit_exception: the client's own error
            if self._log_ignored_exceptions:  # DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS: django-redis' line per error
                self.logger.exception("Exception ignored")
            return _SWALLOWED
        outages.CACHE.success()
        return value

    def _client_call(self, name, *args, **kwargs):
        return self._guarded(name, getattr(self.client, name), *args, **kwargs)

    def perf_window(self):
        return perf.RedisWindow(self)

    def _perf_read(self, route):
        return self._guarded("get", self._perf_read_unguarded, route)

    def _perf_read_unguarded(self, route):
        window = perf.window_for(self)
        try:
            return window.read(route)
        except perf.REDIS_ERRORS as exc:  # as django-redis' own calls: under its error policy
            raise ConnectionInterrupted(connection=None) from exc

    def get(self, key, default=None, version=None, client=None):
        self._dj_get.inc()
        try:
            if isinstance(key, str) and key.startswith(perf.WINDOW_KEY_PREFIX):  # computed, not stored
                value = self._perf_read(key[len(perf.WINDOW_KEY_PREFIX):])
            else:
                value = self._client_call("get", key, default=None, version=version, client=client)
        except Exception:
            self._count("get", "error")
            raise
        if value is _SWALLOWED:
            self._count("get", "error")
            self._dj_fail.inc()
            return default
        if value is None:
            self._dj_miss.inc()
            self._count("get", "miss")
            return default
        self._dj_hit.inc()
        self._count("get", "hit")
        return value


class LocMemCache(_Counting, locmem.LocMemCache):
    # BaseCache builds these from get/set/delete: counted once, as themselves.
    composite_operations = frozenset({"get_many", "set_many", "delete_many"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._dj_get = django_cache_get_total.labels(backend="locmem")
        self._dj_hit = django_cache_hits_total.labels(backend="locmem")
        self._dj_miss = django_cache_misses_total.labels(backend="locmem")

    def perf_window(self):
        return perf.LOCAL_WINDOW  # one per process, whatever the LOCATION

    def get(self, key, default=None, version=None):
        if self._studio_composite:
            return super().get(key, default, version)
        self._dj_get.inc()
        try:
            if isinstance(key, str) and key.startswith(perf.WINDOW_KEY_PREFIX):  # computed, not stored
                value = perf.LOCAL_WINDOW.read(key[len(perf.WINDOW_KEY_PREFIX):])
                value = _MISSING if value is None else value
            else:
                value = super().get(key, _MISSING, version)
        except Exception:
            self._count("get", "error")
            raise
        if value is _MISSING:
            self._dj_miss.inc()
            self._count("get", "miss")
            return default
        self._dj_hit.inc()
        self._count("get", "hit")
        return value


def _redis_call(name: str) -> Callable:
    def call(self, *args, **kwargs):
        return self._client_call(name, *args, **kwargs)

    return call


def _locmem_parent(name: str) -> Callable:
    if name != "decr":
        return getattr(locmem.LocMemCache, name)

    def decr(self, key, delta=1, version=None):  # BaseCache.decr is incr(-delta): the parent's, counted as decr
        return locmem.LocMemCache.incr(self, key, -delta, version)

    return decr


# The counted methods are made from OPERATIONS rather than written out twelve times per backend:
# one place says what each operation counts, and a new one is one line.
for _op in OPERATIONS:
    setattr(RedisCache, _op.name, _counted(_op, _redis_call(_op.name)))
    setattr(LocMemCache, _op.name, _counted(_op, _locmem_parent(_op.name)))
del _op
