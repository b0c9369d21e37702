"""Issue 3, points 1 and 2: django-prometheus fully wired, and every threshold a bucket edge.

Against the app under real gunicorn (several workers, multiprocess metrics), the test database
(PostgreSQL or SQLite, whatever DATABASE_URL says) and a private Redis as the cache.
"""
from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection, connections
from django_prometheus import middleware as dp_middleware
from django_prometheus.cache.backends.redis import RedisCache as PrometheusRedisCache
from django_prometheus.db.common import DatabaseWrapperMixin

import monitoring_spec as spec
from accounts.models import Profile
from courses.models import Course, Enrollment, Lesson
from forum.models import Category, Post, Topic
from tests import factories as f
from tests.test_metrics_support import delta, http, missing_edges, scrape

pytestmark = pytest.mark.slow

DOMAIN_MODELS = {Course: "course", Lesson: "lesson", Enrollment: "enrollment", Profile: "profile",
                 Category: "forum_category", Topic: "forum_topic", Post: "forum_post"}


def test_settings_wire_every_django_prometheus_part():
    from django.utils.module_loading import import_string

    assert settings.MIDDLEWARE[0] == "django_prometheus.middleware.PrometheusBeforeMiddleware"
    assert issubclass(import_string(settings.MIDDLEWARE[-1]), dp_middleware.PrometheusAfterMiddleware)
    assert settings.DATABASES["default"]["ENGINE"] in (  # PostgreSQL: django-prometheus' with bounded waits
        "core.database.postgresql", "django_prometheus.db.backends.sqlite3")
    assert isinstance(connections["default"], DatabaseWrapperMixin)
    if settings.REDIS_URL:
        assert issubclass(import_string(settings.CACHES["default"]["BACKEND"]), PrometheusRedisCache)
    assert settings.PROMETHEUS_LATENCY_BUCKETS == spec.REQUEST_LATENCY_BUCKETS
    for model, name in DOMAIN_MODELS.items():
        assert any(b.__qualname__ == f"ExportModelOperationsMixin('{name}')" for b in model.__mro__), model


def test_django_prometheus_metrics_move_under_real_traffic(gunicorn_factory, redis_server):
    student = f.user(email="ada@example.com")
    token = f.token_for(student)
    course = f.course(title="Generators")
    topic = f.topic()
    server = gunicorn_factory(workers=2, REDIS_URL=redis_server.url, CACHE_URL=redis_server.url)
    url = server.base_url
    before = scrape(f"{url}/metrics")

    for _ in range(2):  # a miss, then a hit
        assert http(f"{url}/api/v1/courses/")[0] == 200
    assert http(f"{url}/api/v1/courses/{course.slug}/")[0] == 200
    auth = {"Authorization": f"Token {token}"}
    assert http(f"{url}/api/v1/courses/{course.slug}/enroll/", "POST", headers=auth)[0] == 201
    assert http(f"{url}/api/v1/forum/topics/{topic.pk}/posts/", "POST", {"body": "hello"}, headers=auth)[0] == 201
    assert http(f"{url}/_drill/error/")[0] == 500
    assert http(f"{url}/_drill/db-error/")[0] == 500
    after = scrape(f"{url}/metrics")

    view = {"view": "courses:course-list", "method": "GET"}
    # Before/After middleware.
    assert delta(before, after, "django_http_requests_latency_seconds_by_view_method_count", **view) == 2
    assert delta(before, after, "django_http_responses_total_by_status_view_method_total", status="200", **view) == 2
    assert delta(before, after, "django_http_requests_total_by_view_transport_method_total",
                 transport="http", **view) == 2
    assert delta(before, after, "django_http_requests_before_middlewares_total") >= 8
    assert delta(before, after, "django_http_exceptions_total_by_type_total", type="DrillError") == 1
    # Database wrapper (the vendor the test database really is).
    vendor = connection.vendor
    assert delta(before, after, "django_db_execute_total", alias="default", vendor=vendor) >= 5
    assert delta(before, after, "django_db_query_duration_seconds_count", alias="default", vendor=vendor) >= 5
    assert after.sum("django_db_new_connections_total", vendor=vendor) >= 1
    assert delta(before, after, "django_db_errors_total", alias="default", vendor=vendor) == 1
    # django-redis cache wrapper.
    assert delta(before, after, "django_cache_get_total", backend="redis") >= 4
    assert delta(before, after, "django_cache_get_hits_total", backend="redis") >= 1
    assert delta(before, after, "django_cache_get_misses_total", backend="redis") >= 1
    # Model metrics for the domain models.
    assert delta(before, after, "django_model_inserts_total", model="enrollment") == 1
    assert delta(before, after, "django_model_inserts_total", model="forum_post") == 1
    for name in DOMAIN_MODELS.values():
        assert after.has("django_model_inserts_total", model=name)
        assert after.has("django_model_updates_total", model=name)
        assert after.has("django_model_deletes_total", model=name)


def test_every_target_and_threshold_is_a_bucket_edge_of_the_live_histograms(gunicorn_factory):
    server = gunicorn_factory(workers=1)
    assert http(f"{server.base_url}/api/v1/courses/")[0] == 200  # a request and queries to observe
    live = scrape(f"{server.base_url}/metrics")

    request_edges = live.edges("django_http_requests_latency_seconds_by_view_method")
    db_edges = live.edges("django_db_query_duration_seconds")
    assert request_edges and db_edges, "the histograms are not in the scrape"
    assert missing_edges(spec.required_request_edges(), request_edges) == set()
    assert missing_edges(spec.required_request_edges(),
                         live.edges("django_http_requests_latency_including_middlewares_seconds")) == set()
    assert missing_edges(spec.required_db_edges(), db_edges) == set()
    assert missing_edges(spec.required_db_edges(), live.edges("studio_request_db_seconds")) == set()
    # The live buckets are the settings' (the source of truth), so a threshold added to the spec
    # without an edge fails above; and the check does catch a missing edge:
    assert missing_edges(spec.required_request_edges(), request_edges - {0.075}) == {0.075}
