"""Cache backends that count every operation: studio_cache_operations_total{operation,result}.

Configured in CACHES (settings/base.py): RedisCache with Redis, LocMemCache without.  Counting
happens here, at the backend, so every caller (core/cache_versions.py, courses/cache.py,
accounts/cache.py, anything later) is covered without touching call sites.

Results: get, get_many, has_key, get_or_set -> hit | miss; set, set_many -> set; add -> set (stored)
or hit (the key was there); touch, incr, decr -> set, or miss (no such key); delete, delete_many ->
delete; any operation -> error when the backend failed.  *_many operations count once per key.
A composite operation (get_or_set, and on LocMem the *_many that Django builds from
get/set/delete) counts once, under its own name, not as the operations it is made of.

Return values and exceptions are exactly those of the parent backends:

* RedisCache is django-prometheus' RedisCache (itself django-redis'), so django_cache_get_* keep
  counting.  django-redis swallows connection errors (IGNORE_EXCEPTIONS) inside each method, out of
  our sight, so the overridden methods make the same client call the parent makes, through
  django-redis' own ``omit_exception`` policy (same logging, same return value when ignored), with
  a sentinel that tells us an error was swallowed.
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

from django.core.cache.backends import locmem
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django_prometheus.cache.backends.redis import RedisCache as PrometheusRedisCache
from django_prometheus.cache.metrics import (
    django_cache_get_fail_total,
    django_cache_get_total,
    django_cache_hits_total,
    django_cache_misses_total,
)
from django_redis.cache import omit_exception
from django_redis.exceptions import ConnectionInterrupted

from observability import metrics, perf

_COUNTERS = {
    (operation, result): metrics.CACHE_OPERATIONS_TOTAL.labels(operation, result)
    for operation, results in metrics.CACHE_OPERATIONS.items()
    for result in results
}
_SWALLOWED = object()  # what a django-redis call returns when IGNORE_EXCEPTIONS ate a connection error
_MISSING = object()


class _Counting:
    """Counting shared by both backends.  One instance per thread (Django's cache handler), so the
    composite-operation flags below need no lock."""

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

    def _composite(self, operation: str, call, *args, **kwargs):
        """Run `call` (built from other operations) counting nothing; returns (result, failed)."""
        if self._studio_composite:  # nested: the outer operation counts
            return call(*args, **kwargs), False
        self._studio_composite, self._studio_composite_failed = True, False
        try:
            return call(*args, **kwargs), self._studio_composite_failed
        except Exception:
            self._studio_composite = False
            self._count(operation, "error")
            raise
        finally:
            self._studio_composite = False

    def get_or_set(self, key, default, timeout=DEFAULT_TIMEOUT, version=None):
        missed = False

        def compute():  # BaseCache.get_or_set calls this only on a miss
            nonlocal missed
            missed = True
            return default() if callable(default) else default

        value, failed = self._composite("get_or_set", super().get_or_set, key, compute, timeout=timeout,
                                        version=version)
        self._count("get_or_set", "error" if failed else "miss" if missed else "hit")
        return value


class RedisCache(_Counting, PrometheusRedisCache):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._dj_get = django_cache_get_total.labels(backend="redis")
        self._dj_hit = django_cache_hits_total.labels(backend="redis")
        self._dj_miss = django_cache_misses_total.labels(backend="redis")
        self._dj_fail = django_cache_get_fail_total.labels(backend="redis")

    @omit_exception(return_value=_SWALLOWED)
    def _client_call(self, name, *args, **kwargs):
        return getattr(self.client, name)(*args, **kwargs)

    def perf_window(self):
        return perf.RedisWindow(self)

    @omit_exception(return_value=_SWALLOWED)
    def _perf_read(self, route):
        window = perf.window_for(self)
        try:
            return window.read(route)
        except perf.REDIS_ERRORS as exc:  # as django-redis' own calls: under its error policy
            raise ConnectionInterrupted(connection=None) from exc

    def _call(self, operation: str, n: int, name: str, *args, **kwargs):
        """The parent's client call under the parent's error policy; errors counted."""
        try:
            result = self._client_call(name, *args, **kwargs)
        except Exception:
            self._count(operation, "error", n)
            raise
        if result is _SWALLOWED:
            self._count(operation, "error", n)
        return result

    def get(self, key, default=None, version=None, client=None):
        self._dj_get.inc()
        if isinstance(key, str) and key.startswith(perf.WINDOW_KEY_PREFIX):  # computed, not stored
            try:
                value = self._perf_read(key[len(perf.WINDOW_KEY_PREFIX):])
            except Exception:
                self._count("get", "error")
                raise
            if value is _SWALLOWED:
                self._count("get", "error")
        else:
            value = self._call("get", 1, "get", key, default=None, version=version, client=client)
        if value is _SWALLOWED:
            self._dj_fail.inc()
            return default
        if value is None:
            self._dj_miss.inc()
            self._count("get", "miss")
            return default
        self._dj_hit.inc()
        self._count("get", "hit")
        return value

    def get_many(self, keys, *args, **kwargs):
        keys = list(keys)
        result = self._call("get_many", len(keys), "get_many", keys, *args, **kwargs)
        if result is _SWALLOWED:
            return {}
        self._count("get_many", "hit", len(result))
        self._count("get_many", "miss", len(keys) - len(result))
        return result

    def has_key(self, *args, **kwargs):
        result = self._call("has_key", 1, "has_key", *args, **kwargs)
        if result is _SWALLOWED:
            return None
        self._count("has_key", "hit" if result else "miss")
        return result

    def set(self, *args, **kwargs):
        result = self._call("set", 1, "set", *args, **kwargs)
        if result is _SWALLOWED:
            return None
        self._count("set", "set")
        return result

    def set_many(self, data, *args, **kwargs):
        result = self._call("set_many", len(data), "set_many", data, *args, **kwargs)
        if result is _SWALLOWED:
            return None
        self._count("set_many", "set", len(data))
        return result

    def add(self, *args, **kwargs):
        result = self._call("add", 1, "add", *args, **kwargs)
        if result is _SWALLOWED:
            return None
        self._count("add", "set" if result else "hit")
        return result

    def touch(self, *args, **kwargs):
        result = self._call("touch", 1, "touch", *args, **kwargs)
        if result is _SWALLOWED:
            return None
        self._count("touch", "set" if result else "miss")
        return result

    def _incr(self, operation: str, *args, **kwargs):
        try:
            result = self._client_call(operation, *args, **kwargs)
        except ValueError:  # no such key: Django's contract for incr/decr
            self._count(operation, "miss")
            raise
        except Exception:
            self._count(operation, "error")
            raise
        if result is _SWALLOWED:
            self._count(operation, "error")
            return None
        self._count(operation, "set")
        return result

    def incr(self, *args, **kwargs):
        return self._incr("incr", *args, **kwargs)

    def decr(self, *args, **kwargs):
        return self._incr("decr", *args, **kwargs)

    def delete(self, *args, **kwargs):
        result = self._call("delete", 1, "delete", *args, **kwargs)
        if result is _SWALLOWED:
            return None
        self._count("delete", "delete")
        return bool(result)  # as django-redis: a boolean since Django 3.1

    def delete_many(self, keys, *args, **kwargs):
        keys = list(keys)
        result = self._call("delete_many", len(keys), "delete_many", keys, *args, **kwargs)
        if result is _SWALLOWED:
            return None
        self._count("delete_many", "delete", len(keys))
        return result


class LocMemCache(_Counting, locmem.LocMemCache):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._dj_get = django_cache_get_total.labels(backend="locmem")
        self._dj_hit = django_cache_hits_total.labels(backend="locmem")
        self._dj_miss = django_cache_misses_total.labels(backend="locmem")

    def _op(self, operation: str, call, *args, **kwargs):
        try:
            return call(*args, **kwargs)
        except Exception:
            self._count(operation, "error")
            raise

    def perf_window(self):
        return perf.LOCAL_WINDOW  # one per process, whatever the LOCATION

    def get(self, key, default=None, version=None):
        if self._studio_composite:
            return super().get(key, default, version)
        self._dj_get.inc()
        if isinstance(key, str) and key.startswith(perf.WINDOW_KEY_PREFIX):  # computed, not stored
            value = self._op("get", perf.LOCAL_WINDOW.read, key[len(perf.WINDOW_KEY_PREFIX):])
            value = _MISSING if value is None else value
        else:
            value = self._op("get", super().get, key, _MISSING, version)
        if value is _MISSING:
            self._dj_miss.inc()
            self._count("get", "miss")
            return default
        self._dj_hit.inc()
        self._count("get", "hit")
        return value

    def has_key(self, key, version=None):
        result = self._op("has_key", super().has_key, key, version)
        self._count("has_key", "hit" if result else "miss")
        return result

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        result = self._op("set", super().set, key, value, timeout, version)
        self._count("set", "set")
        return result

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        result = self._op("add", super().add, key, value, timeout, version)
        self._count("add", "set" if result else "hit")
        return result

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        result = self._op("touch", super().touch, key, timeout, version)
        self._count("touch", "set" if result else "miss")
        return result

    def incr(self, key, delta=1, version=None):
        try:
            result = super().incr(key, delta, version)
        except ValueError:
            self._count("incr", "miss")
            raise
        except Exception:
            self._count("incr", "error")
            raise
        self._count("incr", "set")
        return result

    def delete(self, key, version=None):
        result = self._op("delete", super().delete, key, version)
        self._count("delete", "delete")
        return result

    # Django builds these from the operations above: counted once each, under their own name.

    def get_many(self, keys, version=None):
        keys = list(keys)
        result, _ = self._composite("get_many", super().get_many, keys, version=version)
        self._count("get_many", "hit", len(result))
        self._count("get_many", "miss", len(keys) - len(result))
        return result

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        result, _ = self._composite("set_many", super().set_many, data, timeout=timeout, version=version)
        self._count("set_many", "set", len(data))
        return result

    def delete_many(self, keys, version=None):
        keys = list(keys)
        result, _ = self._composite("delete_many", super().delete_many, keys, version=version)
        self._count("delete_many", "delete", len(keys))
        return result

    def decr(self, key, delta=1, version=None):
        # BaseCache.decr is incr(-delta): the parent's incr, so that it counts once, as decr.
        try:
            result = super().incr(key, -delta, version)
        except ValueError:
            self._count("decr", "miss")
            raise
        except Exception:
            self._count("decr", "error")
            raise
        self._count("decr", "set")
        return result
