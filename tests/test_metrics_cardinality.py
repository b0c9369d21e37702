"""Issue 3, point 5: junk traffic does not grow the number of series.

10,000 requests to random unknown paths, random ids, random slugs and invented methods go through the
whole middleware stack in-process (Django test client, real database and Redis); then a few hundred
through real gunicorn.  Each route is visited once first, so that the label sets a legitimate
request creates exist; after that the random traffic may add at most a handful of series.
"""
from __future__ import annotations

import logging
import random
import string
import time

import pytest
from prometheus_client import REGISTRY, generate_latest

from observability.middleware import KNOWN_METHODS
from tests import factories as f
from tests.test_metrics_support import Scrape, http_many, scrape

pytestmark = pytest.mark.slow

N_IN_PROCESS = 10_000
N_GUNICORN = 300
HANDFUL = 5


def junk(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_letters + string.digits + "-_.~", k=rng.randint(1, 40)))


def random_request(rng: random.Random) -> tuple[str, str]:
    """(method, path): unknown paths, random ids and slugs, invented methods."""
    kind = rng.random()
    if kind < 0.35:
        return "GET", f"/{junk(rng)}/{junk(rng)}"
    if kind < 0.5:
        return "GET", f"/api/v1/{junk(rng)}/{rng.randint(1, 10**12)}/"
    if kind < 0.7:
        return "GET", f"/api/v1/users/{rng.randint(1, 10**15)}/profile/"
    if kind < 0.85:
        return "GET", f"/api/v1/courses/{junk(rng).lower().strip('.~_') or 'x'}/"
    if kind < 0.95:
        return rng.choice(["GET", "PUT", "DELETE"]), f"/api/v1/forum/topics/{rng.randint(1, 10**9)}/posts/"
    return "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 8))), f"/{junk(rng)}"


def warm_up(send) -> None:
    """One request of every kind, so that the label sets legitimate traffic creates exist."""
    rng = random.Random(1)
    for _ in range(200):
        send(*random_request(rng))


def series(text: str) -> int:
    return Scrape(text).series


def test_random_paths_and_ids_add_at_most_a_handful_of_series(client, gunicorn_factory, capsys):
    f.course()
    f.topic()

    def send(method: str, path: str) -> int:
        return client.generic(method, path).status_code

    # 10,000 "Not Found" warnings on django.request would only measure the console handler's I/O.
    request_logger = logging.getLogger("django.request")
    level = request_logger.level
    request_logger.setLevel(logging.ERROR)
    try:
        warm_up(send)
        start_text = generate_latest(REGISTRY).decode()
        start = series(start_text)
        rng = random.Random(20240601)
        t0 = time.monotonic()
        statuses = [send(*random_request(rng)) for _ in range(N_IN_PROCESS)]
        elapsed = time.monotonic() - t0
    finally:
        request_logger.setLevel(level)
    assert all(s < 500 for s in statuses), "bad input must never give a 500"
    in_process = generate_latest(REGISTRY).decode()
    added = series(in_process) - start
    views = Scrape(in_process).label_values("django_http_requests_latency_seconds_by_view_method_count", "view")

    server = gunicorn_factory(workers=2)
    urls_rng = random.Random(7)
    warm = [f"{server.base_url}{random_request(urls_rng)[1]}" for _ in range(100)]
    http_many(warm)  # GETs only through urllib; the invented methods were covered in-process
    scrape(f"{server.base_url}/metrics")  # the scrape's own series exist from the second one on
    g_start = scrape(f"{server.base_url}/metrics")
    urls = [f"{server.base_url}{random_request(urls_rng)[1]}" for _ in range(N_GUNICORN)]
    assert all(s < 500 for s in http_many(urls))
    g_end = scrape(f"{server.base_url}/metrics")
    g_added = g_end.series - g_start.series

    with capsys.disabled():
        print(f"\n[cardinality] {N_IN_PROCESS} random requests in-process in {elapsed:.1f}s: "
              f"{series(in_process)} series in total ({added:+d}); views seen: {sorted(views)}")
        print(f"[cardinality] {N_GUNICORN} random requests through gunicorn: {g_end.series} series in total "
              f"({g_added:+d})")
    assert added <= HANDFUL
    assert g_added <= HANDFUL
    methods = Scrape(in_process).label_values("django_http_requests_latency_seconds_by_view_method_count", "method")
    assert methods <= KNOWN_METHODS | {"<invalid method>"}, methods  # "BREW" & co. are not labels
    views_before = Scrape(start_text).label_values("django_http_requests_latency_seconds_by_view_method_count", "view")
    assert views == views_before  # junk lands on "<unnamed view>" and the routes' names, never on raw paths
    assert not any("/" in v for v in views), views
