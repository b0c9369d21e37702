"""Issue 5, point 6: a Redis outage does not fail requests; the app recovers when Redis returns.

The app runs under real gunicorn against a private redis-server (cache, error HyperLogLogs and, in
the second test, the Celery broker), which the tests stop and start again mid-run.
"""
from __future__ import annotations

import os
import statistics
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone

from courses import services, tasks
from courses.models import Enrollment
from tests import factories as f
from tests.test_metrics_support import delta, http, scrape

pytestmark = pytest.mark.slow


def timed_get(url: str) -> tuple[int, dict, float]:
    started = time.perf_counter()
    status, headers, _ = http(url)
    return status, headers, time.perf_counter() - started


def cache_state(headers: dict) -> tuple[str, str, str]:
    return headers.get("X-Cache-Hits"), headers.get("X-Cache-Misses"), headers.get("X-Cache-Errors", "0")


def test_requests_succeed_while_redis_is_down_and_cache_hits_return_after(gunicorn_factory, redis_server):
    course = f.course(lessons=2)
    prefix = f"outage{os.getpid()}x{time.time_ns()}"
    server = gunicorn_factory(workers=2, REDIS_URL=redis_server.url, CACHE_URL=redis_server.url,
                              CACHE_KEY_PREFIX=prefix)
    url = f"{server.base_url}/api/v1/courses/{course.slug}/"

    assert timed_get(url)[0] == 200  # fills the cache
    before = [timed_get(url) for _ in range(10)]
    assert {(s, cache_state(h)) for s, h, _ in before} == {(200, ("2", "0", "0"))}  # version + payload hits
    metrics_before = scrape(f"{server.base_url}/metrics")

    redis_server.stop()
    during = [timed_get(url) for _ in range(20)]
    assert [s for s, _, _ in during] == [200] * 20
    assert all(int(h["X-Cache-Errors"]) >= 2 and h["X-Query-Count"] != "0" for _, h, _ in during)  # from the DB
    deadline = time.monotonic() + 5
    while True:  # the window's next flush (every second) fails too
        metrics_during = scrape(f"{server.base_url}/metrics")
        if delta(metrics_before, metrics_during, "studio_perf_window_errors_total") >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert delta(metrics_before, metrics_during, "studio_cache_operations_total", result="error") >= 40
    assert delta(metrics_before, metrics_during, "studio_perf_window_errors_total") >= 1
    logs = server.logs()  # the outage, once per worker that saw it; not django-redis' line per swallowed error
    assert 1 <= logs.count("cache outage started") <= 2 and "Exception ignored" not in logs
    assert "cache outage ended" not in logs

    redis_server.start()  # same port, empty
    recovered_after, state = None, None
    for i in range(1, 51):
        status, headers, _ = timed_get(url)
        assert status == 200
        state = cache_state(headers)
        if state == ("2", "0", "0"):
            recovered_after = i
            break
        time.sleep(0.1)
    assert recovered_after is not None, f"no cache hits after Redis came back: {state}"

    base = statistics.median(t for _, _, t in before)
    print(f"\nlatency before: median {base * 1000:.1f} ms; Redis down: median "
          f"{statistics.median(t for _, _, t in during) * 1000:.1f} ms, max {max(t for _, _, t in during) * 1000:.1f} ms;"
          f" cache hits again after {recovered_after} request(s)")
    assert max(t for _, _, t in during) < 1.0  # connection refused costs milliseconds, not timeouts

    # The performance window resumes too.
    caches = {"default": {"BACKEND": "observability.cache.RedisCache", "LOCATION": redis_server.url,
                          "KEY_PREFIX": prefix, "OPTIONS": {"IGNORE_EXCEPTIONS": True}}}
    with override_settings(CACHES=caches):
        deadline, window = time.monotonic() + 10, None
        while time.monotonic() < deadline and not window:
            assert timed_get(url)[0] == 200
            window = cache.get("perf_metrics:/api/v1/courses/<slug>/")
            time.sleep(0.2)
    print("window after recovery:", window)
    assert window and window["count"] >= 1, "the window did not resume"


def test_an_enrolment_during_a_broker_outage_is_saved_and_confirmed_later(gunicorn_factory, redis_server):
    student, course = f.user(), f.course()
    auth = {"Authorization": f"Token {f.token_for(student)}"}
    server = gunicorn_factory(workers=1, REDIS_URL=redis_server.url, CACHE_URL=redis_server.url,
                              CELERY_BROKER_URL=redis_server.url, CELERY_TASK_ALWAYS_EAGER="0")
    metrics_before = scrape(f"{server.base_url}/metrics")
    redis_server.stop()

    started = time.perf_counter()
    status, _, body = http(f"{server.base_url}/api/v1/courses/{course.slug}/enroll/", "POST", headers=auth)
    elapsed = time.perf_counter() - started
    print(f"\nenrol POST with the broker (and cache) down: HTTP {status} in {elapsed * 1000:.0f} ms")
    assert status == 201, body
    assert elapsed < 3.0
    enrollment = Enrollment.objects.get(user=student, course=course)
    assert enrollment.confirmation_sent_at is None
    # Two publishes failed (the confirmation, the statistics): one line, one error, for the outage.
    assert server.logs().count("broker outage started: publishing courses.tasks.send_enrollment_confirmation") == 1
    metrics_after = scrape(f"{server.base_url}/metrics")
    assert delta(metrics_before, metrics_after, "studio_errors_total", source="log", exception="OperationalError") == 1
    assert delta(metrics_before, metrics_after, "studio_errors_total") == 1

    redis_server.start()  # the broker is back: the next publish ends the outage
    other = f.course()
    status, _, body = http(f"{server.base_url}/api/v1/courses/{other.slug}/enroll/", "POST", headers=auth)
    assert status == 201, body
    assert "broker outage ended" in server.logs()
    redis_server.stop()  # as before: the confirmation below is sent by the sweep, not a worker

    # Later, the periodic sweep (eager here) sends it; once.
    assert tasks.send_pending_confirmations.delay().get() == 0  # too recent: the task's own retries first
    Enrollment.objects.filter(pk=enrollment.pk).update(enrolled_at=timezone.now() - timedelta(minutes=20))
    assert tasks.send_pending_confirmations.delay().get() == 1
    assert [m.to for m in mail.outbox] == [[student.email]]
    enrollment.refresh_from_db()
    assert enrollment.confirmation_sent_at is not None
    assert services.pending_confirmations() == []
