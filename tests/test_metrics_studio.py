"""Issue 3, point 4: the studio_ metrics, against real gunicorn, Redis and the test database.

Queries and DB time per request, cache operations (and a Redis outage), errors counted once per
source with their country and distinct users, build info, business counters, label sets at zero.
"""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client import REGISTRY

from courses import cache as course_cache
from tests import factories as f
from tests.test_metrics_support import delta, http, scrape

pytestmark = pytest.mark.slow

LIST = "/api/v1/courses/?page_size=5"


def test_queries_and_db_time_per_request_by_view(gunicorn_factory, redis_server, client):
    for _ in range(3):
        f.course()
    # The number of queries the view makes when its cache misses, measured by Django itself.
    course_cache.invalidate_all()
    before_inproc = REGISTRY.get_sample_value("studio_request_queries_sum", {"view": "courses:course-list"}) or 0
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(LIST).status_code == 200
    expected = len(ctx.captured_queries)
    assert expected >= 2
    assert REGISTRY.get_sample_value("studio_request_queries_sum", {"view": "courses:course-list"}) \
        - before_inproc == expected

    server = gunicorn_factory(workers=1, REDIS_URL=redis_server.url, CACHE_URL=redis_server.url)
    url = server.base_url
    assert http(f"{url}/api/v1/forum/topics/")[0] == 200  # the worker's connection is open from here on
    before = scrape(f"{url}/metrics")
    assert http(f"{url}{LIST}")[0] == 200  # cache miss: the queries
    mid = scrape(f"{url}/metrics")
    assert http(f"{url}{LIST}")[0] == 200  # cache hit: none
    after = scrape(f"{url}/metrics")

    view = {"view": "courses:course-list"}
    assert delta(before, mid, "studio_request_queries_count", **view) == 1
    assert delta(before, mid, "studio_request_queries_sum", **view) == expected
    assert delta(before, mid, "studio_request_queries_bucket", le=f"{float(expected - 1)}", **view) == 0
    assert delta(before, mid, "studio_request_db_seconds_count", **view) == 1
    assert 0 < delta(before, mid, "studio_request_db_seconds_sum", **view) < 5
    assert delta(mid, after, "studio_request_queries_sum", **view) == 0
    assert delta(mid, after, "studio_request_queries_bucket", le="0.0", **view) == 1
    # The scrape itself runs no query, and unknown paths share one bounded label.
    assert http(f"{url}/no/such/page/{'x' * 50}")[0] == 404
    last = scrape(f"{url}/metrics")
    assert delta(after, last, "studio_request_queries_count", view="<unnamed view>") == 1
    assert last.value("studio_request_queries_sum", view="prometheus-django-metrics") == 0


def test_cache_operations_by_result_and_a_redis_outage_fails_no_request(gunicorn_factory, redis_server):
    f.course()
    server = gunicorn_factory(workers=1, REDIS_URL=redis_server.url, CACHE_URL=redis_server.url)
    url = server.base_url
    zero = scrape(f"{url}/metrics")
    for operation, results in {"get": ("hit", "miss", "error"), "set": ("set", "error"),
                               "add": ("set", "hit", "error"), "delete": ("delete", "error"),
                               "get_or_set": ("hit", "miss", "error")}.items():
        for result in results:  # created at zero when the process starts
            assert zero.has("studio_cache_operations_total", operation=operation, result=result)

    assert http(f"{url}{LIST}")[0] == 200  # version: get miss + add; list: get miss + set
    assert http(f"{url}{LIST}")[0] == 200  # version: get hit; list: get hit
    after = scrape(f"{url}/metrics")
    ops = "studio_cache_operations_total"
    assert delta(zero, after, ops, operation="get", result="miss") == 2
    assert delta(zero, after, ops, operation="get", result="hit") == 2
    assert delta(zero, after, ops, operation="add", result="set") == 1
    assert delta(zero, after, ops, operation="set", result="set") == 1
    assert delta(zero, after, ops, result="error") == 0
    assert delta(zero, after, "django_cache_get_total", backend="redis") == 4  # django-prometheus' still count

    redis_server.stop()  # the cache (and the error-users HyperLogLogs) are gone
    for _ in range(3):
        status, _, body = http(f"{url}{LIST}")
        assert status == 200, body  # served from the database
    outage = scrape(f"{url}/metrics")
    assert delta(after, outage, ops, operation="get", result="error") == 6
    assert delta(after, outage, ops, operation="set", result="error") == 3
    assert delta(after, outage, ops, operation="add", result="error") == 3
    assert delta(after, outage, "django_cache_get_fail_total", backend="redis") == 6
    # Requests are served: the outage is one WARNING line (observability.outages), no error, no Sentry event.
    assert delta(after, outage, "studio_errors_total") == 0
    assert server.logs().count("cache outage started") == 1
    assert outage.value("studio_error_users_5m") == 0  # no Redis, no HyperLogLog: 0, and no failure


def test_errors_are_counted_once_by_source_with_country_and_distinct_users(gunicorn_factory, redis_server):
    users = [f.user() for _ in range(3)]
    tokens = [f.token_for(u) for u in users]
    server = gunicorn_factory(workers=2, REDIS_URL=redis_server.url, CACHE_URL=redis_server.url,
                              METRICS_COUNTRY_HEADER="CF-IPCountry")
    url = server.base_url
    before = scrape(f"{url}/metrics")
    for source in ("request", "task", "log"):  # created at zero, so the first error is seen by rate()
        assert before.has("studio_errors_total", source=source, exception="none")
        assert before.has("studio_errors_total", source=source, exception="OperationalError")
    assert before.has("studio_errors_total", source="request", exception="DrillError")  # the project's own
    assert before.value("studio_error_users_5m") == 0

    countries = ["DE", "de", "zz", "XX", ""]
    for country in countries:  # unhandled exceptions: Django also logs them on django.request
        assert http(f"{url}/_drill/error/", headers={"CF-IPCountry": country} if country else {})[0] == 500
    for token in tokens:  # ERROR log records, by three signed-in users (the view loads the user)
        assert http(f"{url}/_drill/log-error/", headers={"Authorization": f"Token {token}",
                                                          "CF-IPCountry": "FR"})[0] == 200
    assert http(f"{url}/_drill/task-error/")[0] == 202  # eager task failure (test settings)
    assert http(f"{url}/_drill/status/503/")[0] == 503  # a 5xx no exception explains
    assert http(f"{url}/_drill/status/404/")[0] == 404  # not an error
    assert http(f"{url}/readyz")[0] in (200, 503)  # a probe: never an error, whatever it says
    after = scrape(f"{url}/metrics")

    errors = "studio_errors_total"
    assert delta(before, after, errors, source="request", exception="DrillError") == 5  # not 10
    assert delta(before, after, errors, source="request", exception="none") == 1
    assert delta(before, after, errors, source="request") == 6
    assert delta(before, after, errors, source="log", exception="none") == 3
    assert delta(before, after, errors, source="log") == 3  # django.request and celery.app.trace not again
    assert delta(before, after, errors, source="task", exception="DrillTaskError") == 1
    assert delta(before, after, errors, source="task") == 1
    assert delta(before, after, "studio_celery_tasks_failed_total", task="observability.drill_fail") == 1

    by_country = "studio_errors_by_country_total"
    assert delta(before, after, by_country, country="DE") == 2
    assert delta(before, after, by_country, country="FR") == 3
    assert delta(before, after, by_country, country="unknown") == 4  # zz, XX, none; the 503 had none
    assert after.label_values(by_country, "country") <= {"DE", "FR", "unknown"}
    assert delta(before, after, by_country) == 9  # errors during requests (the eager task's is a task's)
    # Three signed-in users and one anonymous address, counted across both workers.
    assert after.value("studio_error_users_5m") == 4


def test_build_info_business_counters_and_label_sets_at_zero(gunicorn_factory, redis_server):
    student = f.user()
    token = f.token_for(student)
    course = f.course()
    topic = f.topic()
    server = gunicorn_factory(workers=2, RELEASE="v9.8.7", REDIS_URL=redis_server.url, CACHE_URL=redis_server.url)
    url = server.base_url
    before = scrape(f"{url}/metrics")
    assert before.value("studio_build_info", release="v9.8.7", environment="development") == 1
    assert before.label_values("studio_build_info", "release") == {"v9.8.7"}
    for task in ("courses.tasks.send_enrollment_confirmation", "courses.tasks.recompute_course_stats",
                 "courses.tasks.recompute_all_course_stats", "observability.drill_fail"):
        for name in ("studio_celery_tasks_sent_total", "studio_celery_tasks_failed_total"):
            assert before.has(name, task=task), (name, task)
    assert before.has("studio_errors_by_country_total", country="unknown")
    assert before.has("studio_enrollments_total") and before.has("studio_forum_posts_total")

    auth = {"Authorization": f"Token {token}"}
    assert http(f"{url}/api/v1/courses/{course.slug}/enroll/", "POST", headers=auth)[0] == 201
    assert http(f"{url}/api/v1/courses/{course.slug}/enroll/", "POST", headers=auth)[0] == 200  # already
    assert http(f"{url}/api/v1/courses/no-such-course/enroll/", "POST", headers=auth)[0] == 404
    for body in ({"body": "first"}, {"body": "second"}, {"body": ""}):
        http(f"{url}/api/v1/forum/topics/{topic.pk}/posts/", "POST", body, headers=auth)
    after = scrape(f"{url}/metrics")
    assert delta(before, after, "studio_enrollments_total") == 1
    assert delta(before, after, "studio_forum_posts_total") == 2
    # Eager tasks (the test settings) run here, unpublished (test_metrics_celery.py has a broker).
    for task in ("courses.tasks.send_enrollment_confirmation", "courses.tasks.recompute_course_stats"):
        assert delta(before, after, "studio_celery_tasks_started_total", task=task) == 1
        assert delta(before, after, "studio_celery_tasks_succeeded_total", task=task) == 1
        assert delta(before, after, "studio_celery_tasks_sent_total", task=task) == 0
