"""python manage.py cache_stats: how the cache is doing.

    python manage.py cache_stats
    python manage.py cache_stats --metrics-dir var/run/prometheus-app   # the app's workers' counters

* Redis (INFO): version, memory, evictions, keyspace hits and misses and their hit rate -- for the
  whole Redis server since it started, other users of it included;
* keys under this app's prefix (SCAN; --no-scan skips it on a huge keyspace);
* the app's own counters, studio_cache_operations_total by operation and result, and the read hit
  rate from them: summed over the multiprocess files of --metrics-dir (default
  PROMETHEUS_MULTIPROC_DIR: under gunicorn, every worker's), else this process's only;
* the performance window (observability/perf.py): requests, time and queries per endpoint over the
  last 5 minutes.

With the local-memory cache there is no server to ask: the command says so and shows the rest (all
of it per process).  Redis unreachable: a clear error, exit status 1.
"""
from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.cache import caches
from django.core.management.base import BaseCommand, CommandError

from monitoring_spec import contract
from observability import metrics, multiproc, perf


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def ratio(hits: float, misses: float) -> str:
    return f"{hits * 100 / (hits + misses):.1f}%" if hits + misses else "n/a (no reads)"


def app_counters(metrics_dir: str | None) -> tuple[dict[tuple[str, str], float], str]:
    """({(operation, result): value}, where they come from)."""
    from prometheus_client import REGISTRY, CollectorRegistry

    if metrics_dir:
        if not os.path.isdir(metrics_dir):
            raise CommandError(f"--metrics-dir {metrics_dir}: no such directory (the app's PROMETHEUS_MULTIPROC_DIR)")
        registry = CollectorRegistry()
        multiproc.MultiProcessCollector(registry, path=metrics_dir)
        source = f"every process writing to {metrics_dir}"
    else:
        registry = REGISTRY
        source = "this process only (give --metrics-dir, the app's PROMETHEUS_MULTIPROC_DIR, for its workers')"
    values: dict[tuple[str, str], float] = {}
    for family in registry.collect():
        if family.name != contract.CACHE_OPS.removesuffix("_total"):  # the family name drops the suffix
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                key = (sample.labels["operation"], sample.labels["result"])
                values[key] = values.get(key, 0.0) + sample.value
    return values, source


class Command(BaseCommand):
    help = ("Cache statistics: Redis INFO hit rate and memory, keys under the app's prefix, the app's own "
            "hits and misses per operation, and the 5-minute performance window per endpoint.")

    def add_arguments(self, parser):
        parser.add_argument("--metrics-dir", default=os.environ.get("PROMETHEUS_MULTIPROC_DIR"), metavar="DIR",
                            help="the app's PROMETHEUS_MULTIPROC_DIR (default: this environment's)")
        parser.add_argument("--no-scan", action="store_true", help="do not count the keys under the prefix")

    def handle(self, *args, metrics_dir: str | None, no_scan: bool, **options):
        backend = caches["default"]
        config = settings.CACHES["default"]
        name = config["BACKEND"]
        prefix = backend.key_prefix
        self.stdout.write(f"Cache: {name} at {redact(str(config.get('LOCATION', '')))}, key prefix '{prefix}'")
        window = perf.window_for(backend)
        if isinstance(window, perf.RedisWindow):
            try:
                perf.PENDING.flush()  # this process's figures first, so the counts below include them
            except perf.REDIS_ERRORS:
                pass  # said below, by the first Redis call
        if hasattr(getattr(backend, "client", None), "get_client"):  # django-redis
            self.redis_section(backend, prefix, no_scan)
        else:
            self.stdout.write("\nThe cache is not Redis (local memory): no server statistics, and the "
                              "counters and window below are this process's only.")
        self.counters_section(metrics_dir)
        self.window_section(window)

    def redis_section(self, backend, prefix: str, no_scan: bool) -> None:
        try:
            client = backend.client.get_client(write=False)
            info = client.info()
            keys = None if no_scan else sum(1 for _ in client.scan_iter(match=f"{prefix}:*", count=1000))
        except perf.REDIS_ERRORS as exc:
            raise CommandError(f"Redis at {redact(str(settings.CACHES['default'].get('LOCATION')))} is "
                               f"unreachable: {exc}") from None
        hits, misses = info.get("keyspace_hits", 0), info.get("keyspace_misses", 0)
        db_keys = sum(v.get("keys", 0) for k, v in info.items() if k.startswith("db") and isinstance(v, dict))
        self.stdout.write("\nRedis server (INFO; the whole server since it started, other users included)")
        rows = [
            ("version", info.get("redis_version")),
            ("uptime", f"{info.get('uptime_in_seconds', 0)}s"),
            ("memory used", f"{info.get('used_memory_human')} (peak {info.get('used_memory_peak_human')})"),
            ("memory limit", f"{info.get('maxmemory_human')} ({info.get('maxmemory_policy')})"),
            ("evicted keys", info.get("evicted_keys")),
            ("expired keys", info.get("expired_keys")),
            ("keyspace hits", hits),
            ("keyspace misses", misses),
            ("keyspace hit rate", ratio(hits, misses)),
            ("keys (all databases)", db_keys),
            (f"keys under '{prefix}:'", "not counted (--no-scan)" if keys is None else keys),
        ]
        for label, value in rows:
            self.stdout.write(f"  {label:<22} {value}")

    def counters_section(self, metrics_dir: str | None) -> None:
        values, source = app_counters(metrics_dir)
        self.stdout.write(f"\nApp cache operations (studio_cache_operations_total; {source})")
        results = metrics.CACHE_RESULTS
        self.stdout.write(f"  {'operation':<12}" + "".join(f"{r:>10}" for r in results))
        for operation, possible in metrics.CACHE_OPERATIONS.items():
            cells = [f"{int(values.get((operation, r), 0.0)):>10}" if r in possible else f"{'-':>10}" for r in results]
            self.stdout.write(f"  {operation:<12}" + "".join(cells))
        hits = sum(values.get((op, "hit"), 0.0) for op in perf.READ_OPERATIONS)
        misses = sum(values.get((op, r), 0.0) for op in perf.READ_OPERATIONS for r in ("miss", "error"))
        self.stdout.write(f"  read hit rate (get, get_many, get_or_set, has_key; errors as misses): "
                          f"{ratio(hits, misses)}")

    def window_section(self, window) -> None:
        self.stdout.write(f"\nPerformance window (last {perf.WINDOW_SECONDS // 60} minutes; "
                          "cache.get('perf_metrics:<endpoint>'))")
        if window is None:
            self.stdout.write("  no window with this cache backend")
            return
        try:
            rows = [(route, window.read(route)) for route in window.routes()]
        except perf.REDIS_ERRORS as exc:
            raise CommandError(f"Redis is unreachable: {exc}") from None
        rows = [(route, data) for route, data in rows if data]
        if not rows:
            self.stdout.write("  no requests in the window")
            return
        self.stdout.write(f"  {'endpoint':<44}{'count':>8}{'avg ms':>9}{'min ms':>9}{'max ms':>9}{'avg q':>7}")
        for route, d in sorted(rows, key=lambda r: -r[1]["count"]):
            self.stdout.write(f"  {route[:44]:<44}{d['count']:>8}{d['avg_time'] * 1000:>9.1f}"
                              f"{d['min_time'] * 1000:>9.1f}{d['max_time'] * 1000:>9.1f}{d['avg_queries']:>7.1f}")
