"""Issue 5, point 3: the 5-minute performance window per endpoint, read with cache.get('perf_metrics:<route>')."""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import resolve

from observability import perf
from tests import factories as f
from tests.test_metrics_support import http

KEYS = {"count", "total_time", "avg_time", "max_time", "min_time", "total_queries", "avg_queries"}
LOCMEM = {"default": {"BACKEND": "observability.cache.LocMemCache", "LOCATION": "perf-window-test"}}


def redis_caches(prefix: str) -> dict:
    """The test settings' Redis cache under another key prefix: a window of our own."""
    return {"default": {**settings.CACHES["default"], "KEY_PREFIX": prefix}}


def needs_redis():
    if "Redis" not in settings.CACHES["default"]["BACKEND"]:
        pytest.skip("REDIS_URL is not set")


def test_routes_are_templates_so_the_endpoints_are_bounded():
    class Request:  # what route_of reads: the resolver's match
        def __init__(self, path):
            self.resolver_match = resolve(path)

    assert perf.route_of(Request("/api/v1/courses/")) == "/api/v1/courses/"
    assert perf.route_of(Request("/api/v1/courses/intro-to-python/")) == "/api/v1/courses/<slug>/"
    assert perf.route_of(Request("/api/v1/users/42/profile/")) == "/api/v1/users/<user_id>/profile/"
    assert perf.route_of(Request("/api/v1/nothing/here")) == "/^api/"  # the catch-all regex keeps its pattern
    assert perf.route_of(object()) == perf.UNMATCHED


def test_local_window_aggregates_and_forgets_after_five_minutes():
    window = perf.LocalWindow()
    for micros, queries in ((50_000, 2), (250_000, 4), (150_000, 3)):
        window.record("/x/", micros, queries)
    assert window.read("/x/") == {"count": 3, "total_time": 0.45, "avg_time": 0.15, "max_time": 0.25,
                                  "min_time": 0.05, "total_queries": 9, "avg_queries": 3.0}
    assert window.read("/y/") is None
    assert window.read("/x/", now=time.time() + perf.WINDOW_SECONDS + perf.BUCKET_SECONDS) is None
    assert window.routes() == ["/x/"]


@pytest.mark.django_db
@override_settings(CACHES=LOCMEM)
def test_with_the_local_memory_cache_the_window_is_this_process():
    perf.LOCAL_WINDOW.clear()
    client = Client()
    for _ in range(3):
        assert client.get("/_drill/perf/", {"queries": 2}).status_code == 200
    data = cache.get("perf_metrics:/_drill/perf/")
    assert set(data) == KEYS and data["count"] == 3 and data["total_queries"] == 6
    assert cache.get("perf_metrics:/never/requested/") is None
    assert cache.get("perf_metrics:/never/requested/", "default") == "default"


@pytest.mark.django_db
def test_with_redis_every_request_counts_once_and_reads_are_plain_gets():
    needs_redis()
    with override_settings(CACHES=redis_caches(f"perfwin{os.getpid()}x{time.time_ns()}")):
        client = Client()
        times = []
        for queries in (1, 2, 3):
            response = client.get("/_drill/perf/", {"queries": queries})
            times.append(float(response.headers["X-Request-Time"][:-1]))
        data = cache.get("perf_metrics:/_drill/perf/")
        assert data["count"] == 3 and data["total_queries"] == 6 and data["avg_queries"] == 2.0
        # The window records the same duration the header shows (the header is rounded to 1 ms).
        assert abs(data["max_time"] - max(times)) <= 0.0006 and abs(data["min_time"] - min(times)) <= 0.0006
        assert data["min_time"] <= data["avg_time"] <= data["max_time"]
        assert "/_drill/perf/" in perf.window_for(cache).routes()
        # An ordinary key is still an ordinary key.
        cache.set("perf_metricsX", 1)
        assert cache.get("perf_metricsX") == 1


@pytest.mark.slow
def test_concurrent_requests_over_several_gunicorn_workers_add_up_exactly(gunicorn_factory):
    needs_redis()
    prefix = f"perfwin{os.getpid()}g{time.time_ns()}"
    server = gunicorn_factory(workers=3, CACHE_KEY_PREFIX=prefix)
    url = f"{server.base_url}/_drill/perf/?queries=2&hits=1&misses=1"
    responses, deadline = [], time.monotonic() + 20
    with ThreadPoolExecutor(12) as pool:
        # Bursts of 60 concurrent requests until several workers have answered (the later workers
        # may still be booting when the first one answers /healthz); every request counts.
        while len({json.loads(body)["pid"] for _, _, body in responses}) < 2 and time.monotonic() < deadline:
            responses += pool.map(lambda _: http(url), range(60))
    k = len(responses)
    assert [status for status, _, _ in responses] == [200] * k
    pids = {json.loads(body)["pid"] for _, _, body in responses}
    assert len(pids) >= 2, "the requests were not spread over several workers"
    header_times = [float(h["X-Request-Time"][:-1]) for _, h, _ in responses]
    assert {h["X-Query-Count"] for _, h, _ in responses} == {"2"}

    with override_settings(CACHES=redis_caches(prefix)):
        started, deadline, data = time.monotonic(), time.monotonic() + 10, None
        while time.monotonic() < deadline:  # each worker flushes its figures every second
            data = cache.get("perf_metrics:/_drill/perf/")
            if data and data["count"] >= k:
                break
            time.sleep(0.05)
        seen_after = time.monotonic() - started
        time.sleep(settings.PERF_WINDOW_FLUSH_SECONDS + 0.3)  # and nothing more arrives later
        assert cache.get("perf_metrics:/_drill/perf/") == data
    print(f"\nwindow after {k} concurrent requests over workers {sorted(pids)}, complete {seen_after:.2f}s "
          f"after the last response: {data}")
    assert data["count"] == k and data["total_queries"] == 2 * k and data["avg_queries"] == 2.0
    assert abs(data["total_time"] - sum(header_times)) <= k * 0.0006
    assert abs(data["max_time"] - max(header_times)) <= 0.0006


@pytest.mark.django_db
def test_a_user_profile_request_lands_under_its_template():
    needs_redis()
    learner = f.user()
    with override_settings(CACHES=redis_caches(f"perfwin{os.getpid()}p{time.time_ns()}")):
        assert Client().get(f"/api/v1/users/{learner.pk}/profile/").status_code == 200
        assert cache.get("perf_metrics:/api/v1/users/<user_id>/profile/")["count"] == 1


@pytest.mark.slow
def test_reading_the_window_while_redis_is_down_is_an_ordinary_failed_get(redis_server):
    from observability.cache import RedisCache
    from tests.test_metrics_cache import counts, diff, redis_params

    ignoring = RedisCache(redis_server.url, redis_params(redis_server.url))
    strict = RedisCache(redis_server.url, redis_params(redis_server.url, ignore=False))
    perf.window_for(ignoring).record("/x/", 1000, 1)
    assert ignoring.get("perf_metrics:/x/")["count"] == 1
    redis_server.stop()
    before = counts()
    assert ignoring.get("perf_metrics:/x/", "dflt") == "dflt"  # IGNORE_EXCEPTIONS: the default, as any get
    with pytest.raises(Exception, match="Connection refused|Error 111"):  # otherwise the client's own error
        strict.get("perf_metrics:/x/")
    assert diff(before, counts()) == {("get", "error"): 2}
