"""Per-request performance: response headers and a 5-minute rolling window per endpoint.

PerformanceMiddleware (in MIDDLEWARE right after django-prometheus' Before middleware, outside
RequestMetricsMiddleware) does, per request:

* headers (settings.PERF_HEADERS: ``on`` every response, ``staff`` only for staff users, ``off``):
  ``X-Request-Time: 0.156s`` (this middleware's view of the request: every middleware inside it
  and the view), ``X-Query-Count`` and ``X-Query-Time`` (RequestMetricsMiddleware's own
  execute_wrapper tally, not a second count), ``X-Cache-Hits``, ``X-Cache-Misses``,
  ``X-Cache-Hit-Ratio: 71.4%`` (``n/a`` without a cache read) and, only when non-zero,
  ``X-Cache-Errors``.  Cache figures come from the counting cache backend (observability.cache),
  which reports every operation to the request's CacheTally: reads (get, get_many per key,
  get_or_set, has_key) that hit or missed; a read that failed (Redis down) is a miss and an error.
* the window (settings.PERF_WINDOW): the request's duration and query count are added to its
  endpoint's current 10-second bucket.  The endpoint is the route template with converters dropped
  (``/api/v1/courses/<slug>/``; regex routes keep their pattern; ``<unmatched>`` when no URL
  matched), so the number of endpoints is bounded by the URLconf.

Reading the window: ``cache.get('perf_metrics:/api/v1/courses/')`` returns
``{count, total_time, avg_time, max_time, min_time, total_queries, avg_queries}`` (seconds) over the
last 30 buckets (5 minutes), or the default (None) when the endpoint had no request in the window.
The ``perf_metrics:`` key prefix is reserved: our cache backends' ``get()`` computes the aggregate
instead of reading a stored value (observability/cache.py; only ``get``).

Storage:

* Redis cache: one hash per endpoint and bucket, ``<KEY_PREFIX>:perf:<route>:<bucket>`` (count,
  total microseconds, queries, max, min), and the set ``<KEY_PREFIX>:perf:routes``.  A request adds
  itself to this process's buffer (no I/O); a daemon thread flushes the buffer every
  settings.PERF_WINDOW_FLUSH_SECONDS (1 s): one pipelined round trip, one Lua call per endpoint and
  bucket doing HINCRBY and a compare-and-set of max and min -- atomic, so any number of processes
  and hosts add up exactly.  Readers see other processes' requests within one flush interval (their
  own at once: a read flushes first).  Redis down: flushes fail and drop their figures
  (studio_perf_window_errors_total; the cache's outage in the log, observability.outages); requests are not
  affected.
* local-memory cache: the same buckets in this process's memory, so the figures are per process
  (each gunicorn worker sees its own requests only).
"""
from __future__ import annotations

import atexit
import contextlib
import contextvars
import hashlib
import logging
import os
import re
import socket
import threading
import time
from time import perf_counter

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed

from observability import metrics, outages

logger = logging.getLogger(__name__)

WINDOW_KEY_PREFIX = "perf_metrics:"  # cache.get(WINDOW_KEY_PREFIX + route)
WINDOW_SECONDS = 300
BUCKET_SECONDS = 10
BUCKETS = WINDOW_SECONDS // BUCKET_SECONDS
BUCKET_TTL = WINDOW_SECONDS + 3 * BUCKET_SECONDS  # a bucket outlives the window, then Redis drops it
UNMATCHED = "<unmatched>"
HEADER_MODES = ("off", "on", "staff")
READ_OPERATIONS = frozenset({"get", "get_many", "get_or_set", "has_key"})
_MAX_ROUTES = 2_000

# --- Per-request cache tally (filled by observability.cache) ----------------------------------


class CacheTally:
    """Cache reads of one request (or of any block: ``with counting_cache() as tally``)."""

    __slots__ = ("errors", "hits", "misses")

    def __init__(self):
        self.hits = self.misses = self.errors = 0

    def add(self, operation: str, result: str, n: int = 1) -> None:
        if operation not in READ_OPERATIONS:
            return
        if result == "hit":
            self.hits += n
        elif result == "miss":
            self.misses += n
        elif result == "error":  # the backend degraded it to a miss
            self.misses += n
            self.errors += n


# The tally of the request (or block) being served; None: nobody is counting.
cache_tally: contextvars.ContextVar[CacheTally | None] = contextvars.ContextVar("studio_cache_tally", default=None)


@contextlib.contextmanager
def counting_cache():
    tally = CacheTally()
    token = cache_tally.set(tally)
    try:
        yield tally
    finally:
        cache_tally.reset(token)


# --- Routes -----------------------------------------------------------------------------------

_CONVERTER = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")
_routes: dict[str, str] = {}


def route_of(request) -> str:
    """The endpoint of a request: its route template, converters dropped."""
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return UNMATCHED
    raw = match.route
    route = _routes.get(raw)
    if route is None:
        route = "/" + _CONVERTER.sub(r"<\1>", raw)
        if len(_routes) < _MAX_ROUTES:
            _routes[raw] = route
    return route


# --- The window -------------------------------------------------------------------------------

# KEYS[1] the bucket hash, KEYS[2] the set of routes.
# ARGV: count, microseconds, queries, max microseconds, min microseconds, ttl, route.
_RECORD_LUA = b"""
local k = KEYS[1]
redis.call('HINCRBY', k, 'count', ARGV[1])
redis.call('HINCRBY', k, 'us', ARGV[2])
redis.call('HINCRBY', k, 'queries', ARGV[3])
local mx = tonumber(ARGV[4])
local old = redis.call('HGET', k, 'max')
if (not old) or mx > tonumber(old) then redis.call('HSET', k, 'max', mx) end
local mn = tonumber(ARGV[5])
old = redis.call('HGET', k, 'min')
if (not old) or mn < tonumber(old) then redis.call('HSET', k, 'min', mn) end
redis.call('EXPIRE', k, ARGV[6])
redis.call('SADD', KEYS[2], ARGV[7])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return 1
"""
_RECORD_SHA = hashlib.sha1(_RECORD_LUA).hexdigest()
REDIS_ERRORS: tuple = (ConnectionError, TimeoutError, socket.timeout)
try:
    import redis.exceptions as _redis_exceptions

    REDIS_ERRORS = (_redis_exceptions.RedisError, *REDIS_ERRORS)
except ImportError:  # pragma: no cover - redis is a dependency
    pass


def _bucket(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // BUCKET_SECONDS)


def _bucket_key(prefix: str, route: str, bucket: int) -> str:
    return f"{prefix}:perf:{route}:{bucket}"


def _routes_key(prefix: str) -> str:
    return f"{prefix}:perf:routes"


def _add(rows: dict, key, micros: int, queries: int, count: int = 1, max_us: int | None = None,
         min_us: int | None = None) -> None:
    """Fold one request (or an aggregate) into rows[key] = [count, us, queries, max, min]."""
    max_us = micros if max_us is None else max_us
    min_us = micros if min_us is None else min_us
    row = rows.get(key)
    if row is None:
        rows[key] = [count, micros, queries, max_us, min_us]
        return
    row[0] += count
    row[1] += micros
    row[2] += queries
    row[3] = max(row[3], max_us)
    row[4] = min(row[4], min_us)


def _aggregate(rows) -> dict | None:
    """rows: (count, microseconds, queries, max_us, min_us) per bucket."""
    count = us = queries = 0
    max_us, min_us = None, None
    for c, u, q, mx, mn in rows:
        if not c:
            continue
        count, us, queries = count + c, us + u, queries + q
        max_us = mx if max_us is None else max(max_us, mx)
        min_us = mn if min_us is None else min(min_us, mn)
    if not count:
        return None
    return {
        "count": count,
        "total_time": round(us / 1e6, 6),
        "avg_time": round(us / 1e6 / count, 6),
        "max_time": round(max_us / 1e6, 6),
        "min_time": round(min_us / 1e6, 6),
        "total_queries": queries,
        "avg_queries": round(queries / count, 2),
    }


def _write(client, prefix: str, rows: dict) -> int:
    """One pipelined round trip of EVALSHA calls; the script is loaded when Redis does not know it
    (first use, or Redis restarted), and then the same calls are sent again: none of them ran."""
    from redis.exceptions import NoScriptError

    routes_key = _routes_key(prefix)
    for attempt in (1, 2):
        pipe = client.pipeline(transaction=False)
        for (route, bucket), (count, us, queries, max_us, min_us) in rows.items():
            pipe.evalsha(_RECORD_SHA, 2, _bucket_key(prefix, route, bucket), routes_key,
                         count, us, queries, max_us, min_us, BUCKET_TTL, route)
        try:
            pipe.execute()
            return len(rows)
        except NoScriptError:
            if attempt == 2:
                raise
            client.script_load(_RECORD_LUA)
    return 0  # unreachable


class PendingWrites:
    """This process's window figures on their way to Redis.

    A request adds itself here (a dict update under a lock: microseconds); a daemon thread flushes
    everything every settings.PERF_WINDOW_FLUSH_SECONDS, one pipelined round trip of one Lua call
    per endpoint and bucket.  A read of the window in this process flushes first, so it sees this
    process's requests at once; other processes' requests show within one flush interval.  A failed
    flush (Redis down) drops what it carried, counts studio_perf_window_errors_total and reports to the
    cache's outage (one line when it starts).  Requests never wait on Redis for the window.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._groups: dict[tuple, tuple] = {}  # (location, prefix) -> (redis client, prefix, rows)
        self._pid = None
        self._thread = None

    def add(self, group: tuple, client, prefix: str, route: str, micros: int, queries: int) -> None:
        bucket = _bucket()
        with self._lock:
            if self._pid != os.getpid():  # first use in this process (or a fork): own buffer and thread
                self._pid, self._groups, self._thread = os.getpid(), {}, None
            entry = self._groups.get(group)
            if entry is None:
                entry = self._groups[group] = (client, prefix, {})
            _add(entry[2], (route, bucket), micros, queries)
            if self._thread is None:
                self._start()

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="studio-perf-window", daemon=True)
        self._thread.start()
        atexit.register(self.flush_quietly)

    def _run(self) -> None:
        while True:
            time.sleep(max(0.05, float(getattr(settings, "PERF_WINDOW_FLUSH_SECONDS", 1.0))))
            self.flush_quietly()

    def flush(self) -> int:
        """Write what is pending; returns the number of Lua calls.  Raises what Redis raises."""
        with self._flush_lock:
            with self._lock:
                groups, self._groups = self._groups, {}
            calls, error = 0, None
            for client, prefix, rows in groups.values():  # one group per cache (normally just one)
                try:
                    calls += _write(client, prefix, rows)
                except Exception as exc:  # the other groups are still written; then raised
                    error = error or exc
            if error is not None:
                raise error
            return calls

    def flush_quietly(self) -> None:
        try:
            calls = self.flush()
        except Exception as exc:  # Redis down: these figures are lost, the requests are not
            metrics.PERF_WINDOW_ERRORS.inc()
            outages.CACHE.failure(exc, "performance window")
        else:
            if calls:  # a flush with nothing to write never reached Redis: no sign that it is back
                outages.CACHE.success()


PENDING = PendingWrites()


class RedisWindow:
    """The window in Redis, through the cache backend's own connection pool."""

    def __init__(self, backend):
        self.backend = backend
        self.prefix = backend.key_prefix or "studio"
        self._group = (repr(getattr(backend, "_server", None)), self.prefix)

    def _client(self, write: bool):
        return self.backend.client.get_client(write=write)

    def record(self, route: str, micros: int, queries: int) -> None:
        PENDING.add(self._group, self._client(write=True), self.prefix, route, micros, queries)

    def read(self, route: str, now: float | None = None) -> dict | None:
        """Raises the client's exception when Redis fails (the cache backend decides what to do)."""
        PENDING.flush()
        current = _bucket(now)
        pipe = self._client(write=False).pipeline(transaction=False)
        for bucket in range(current - BUCKETS + 1, current + 1):
            pipe.hmget(_bucket_key(self.prefix, route, bucket), "count", "us", "queries", "max", "min")
        return _aggregate(tuple(int(v or 0) for v in row) for row in pipe.execute())

    def routes(self) -> list[str]:
        PENDING.flush()
        return sorted(r.decode() for r in self._client(write=False).smembers(_routes_key(self.prefix)))

    def clear(self) -> int:
        PENDING.flush()
        client = self._client(write=True)
        keys = list(client.scan_iter(match=f"{self.prefix}:perf:*", count=1000))
        return client.delete(*keys) if keys else 0


class LocalWindow:
    """The window in this process's memory (local-memory cache): per-process figures."""

    def __init__(self):
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, int], list] = {}  # (route, bucket) -> [count, us, queries, max, min]
        self._pruned = 0

    def record(self, route: str, micros: int, queries: int) -> None:
        bucket = _bucket()
        with self._lock:
            _add(self._buckets, (route, bucket), micros, queries)
            if bucket != self._pruned:
                self._pruned = bucket
                for key in [k for k in self._buckets if k[1] <= bucket - BUCKETS]:
                    del self._buckets[key]

    def read(self, route: str, now: float | None = None) -> dict | None:
        current = _bucket(now)
        with self._lock:
            rows = [tuple(self._buckets[(route, b)]) for b in range(current - BUCKETS + 1, current + 1)
                    if (route, b) in self._buckets]
        return _aggregate(rows)

    def routes(self) -> list[str]:
        with self._lock:
            return sorted({route for route, _ in self._buckets})

    def clear(self) -> int:
        with self._lock:
            n = len(self._buckets)
            self._buckets.clear()
        return n


LOCAL_WINDOW = LocalWindow()


def window_for(backend):
    """The window of a cache backend: a RedisWindow, LOCAL_WINDOW, or None (no window)."""
    window = getattr(backend, "_studio_perf_window", None)
    if window is None:
        factory = getattr(backend, "perf_window", None)
        if factory is None:
            return None
        window = factory()
        try:
            backend._studio_perf_window = window
        except AttributeError:
            pass
    return window


def record(backend, route: str, seconds: float, queries: int) -> None:
    """Add one request to its endpoint's window (buffered: no I/O here)."""
    window = window_for(backend)
    if window is not None:
        window.record(route, int(seconds * 1e6), queries)


# --- Settings ---------------------------------------------------------------------------------


def header_mode() -> str:
    mode = str(getattr(settings, "PERF_HEADERS", "off")).strip().lower()
    if mode in ("1", "true", "yes"):
        mode = "on"
    elif mode in ("0", "false", "no", ""):
        mode = "off"
    if mode not in HEADER_MODES:
        raise ImproperlyConfigured(f"PERF_HEADERS must be one of {', '.join(HEADER_MODES)}; got {mode!r}")
    return mode


def _is_staff(request) -> bool:
    user = getattr(request, "user", None)
    try:
        return bool(user is not None and user.is_authenticated and user.is_staff)
    except Exception:  # a user that cannot be loaded (database down): no headers, not a 500
        return False


# --- The middleware ---------------------------------------------------------------------------


class PerformanceMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.headers = header_mode()
        self.window = bool(getattr(settings, "PERF_WINDOW", True))
        if self.headers == "off" and not self.window:
            raise MiddlewareNotUsed("PERF_HEADERS=off and PERF_WINDOW off")
        from django.core.cache import caches

        self._caches = caches

    def __call__(self, request):
        if self.headers == "off":
            start = perf_counter()
            response = self.get_response(request)
            elapsed = perf_counter() - start
            tally = None
        else:
            tally = CacheTally()
            token = cache_tally.set(tally)
            start = perf_counter()
            try:
                response = self.get_response(request)
            finally:
                elapsed = perf_counter() - start
                cache_tally.reset(token)
        queries = getattr(request, "_studio_query_tally", None)
        if tally is not None and (self.headers == "on" or _is_staff(request)):
            hits, misses = tally.hits, tally.misses
            response["X-Request-Time"] = f"{elapsed:.3f}s"
            response["X-Query-Count"] = str(queries.count if queries is not None else 0)
            response["X-Query-Time"] = f"{queries.seconds if queries is not None else 0.0:.3f}s"
            response["X-Cache-Hits"] = str(hits)
            response["X-Cache-Misses"] = str(misses)
            response["X-Cache-Hit-Ratio"] = f"{hits * 100 / (hits + misses):.1f}%" if hits + misses else "n/a"
            if tally.errors:
                response["X-Cache-Errors"] = str(tally.errors)
        if self.window:
            record(self._caches["default"], route_of(request), elapsed, queries.count if queries is not None else 0)
        return response
