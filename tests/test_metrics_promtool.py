"""Issue 3, point 7: `promtool check metrics` has nothing to say about a real scrape.

The scrape comes from real gunicorn (3 workers, multiprocess) after traffic that touches every
metric the app exports: API reads and writes, cache hits and misses, every kind of error, junk
paths and invented methods.  (The worker's /metrics is checked in test_metrics_celery.py.)
"""
from __future__ import annotations

from http.client import HTTPConnection

import pytest
from django.test import Client
from prometheus_client import REGISTRY, generate_latest

from tests import factories as f
from tests.test_metrics_support import http, http_many, promtool_check, scrape

pytestmark = pytest.mark.slow


def full_traffic(base_url: str, token: str, course_slug: str, topic_id: int, user_id: int) -> None:
    auth = {"Authorization": f"Token {token}", "CF-IPCountry": "NL"}
    paths = ["/healthz", "/readyz", "/api/v1/courses/", "/api/v1/courses/?category=web&ordering=-rating",
             f"/api/v1/courses/{course_slug}/", f"/api/v1/users/{user_id}/profile/", "/api/v1/forum/topics/",
             "/api/v1/courses/?page=abc", "/api/v1/nothing/here/", "/no-such-page", "/_drill/error/",
             "/_drill/db-error/", "/_drill/log-error/", "/_drill/task-error/", "/_drill/status/503/",
             "/_drill/template-error/", "/_drill/slow/?ms=30"]
    http_many([base_url + p for p in paths * 3])
    http(f"{base_url}/api/v1/me/", headers=auth)
    http(f"{base_url}/api/v1/courses/{course_slug}/enroll/", "POST", headers=auth)
    http(f"{base_url}/api/v1/forum/topics/{topic_id}/posts/", "POST", {"body": "hi"}, headers=auth)
    http(f"{base_url}/api/v1/auth/token/", "POST", {"username": "nobody", "password": "x"})
    host, port = base_url.rsplit("/", 1)[1].split(":")
    for method in ("BREW", "PROPFIND", "DELETE"):  # invented and unusual methods
        conn = HTTPConnection(host, int(port), timeout=10)
        conn.request(method, "/api/v1/courses/")
        conn.getresponse().read()
        conn.close()


def test_promtool_is_clean_on_a_scrape_after_full_traffic(gunicorn_factory, redis_server):
    student = f.user()
    token = f.token_for(student)
    course = f.course()
    topic = f.topic()
    server = gunicorn_factory(workers=3, REDIS_URL=redis_server.url, CACHE_URL=redis_server.url)
    full_traffic(server.base_url, token, course.slug, topic.pk, student.pk)
    result = scrape(f"{server.base_url}/metrics")
    assert result.sum("studio_errors_total") >= 10 and result.sum("studio_cache_operations_total") > 0
    rc, out = promtool_check(result.text)
    print(f"\n[promtool] {result.series} series checked, exit {rc}")
    assert rc == 0 and out.strip() == "", out


@pytest.mark.django_db
def test_promtool_is_clean_on_the_single_process_registry():
    client = Client(raise_request_exception=False)
    for path in ("/api/v1/courses/", "/_drill/error/", "/_drill/log-error/", "/nope"):
        client.get(path)
    rc, out = promtool_check(generate_latest(REGISTRY).decode())
    assert rc == 0 and out.strip() == "", out
