"""Issue 5, point 2: performance headers (observability/perf.py) report exactly the work a request did."""
from __future__ import annotations

import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from courses import cache as course_cache
from tests import factories as f

pytestmark = pytest.mark.django_db

PERF_HEADERS = ("X-Request-Time", "X-Query-Count", "X-Query-Time", "X-Cache-Hits", "X-Cache-Misses",
                "X-Cache-Hit-Ratio")
SECONDS = re.compile(r"^\d+\.\d{3}s$")


def perf_headers(response) -> dict[str, str]:
    return {name: response.headers[name] for name in PERF_HEADERS if name in response.headers}


def test_known_work_is_reported_exactly_in_the_guide_format(client):
    response = client.get("/_drill/perf/", {"queries": 3, "hits": 5, "misses": 2})
    assert response.status_code == 200, response.content
    h = perf_headers(response)
    assert set(h) == set(PERF_HEADERS)
    assert (h["X-Query-Count"], h["X-Cache-Hits"], h["X-Cache-Misses"], h["X-Cache-Hit-Ratio"]) == \
        ("3", "5", "2", "71.4%")  # the guide's own example ratio
    assert SECONDS.match(h["X-Request-Time"]) and SECONDS.match(h["X-Query-Time"])
    assert float(h["X-Query-Time"][:-1]) <= float(h["X-Request-Time"][:-1])
    assert "X-Cache-Errors" not in response.headers

    other = perf_headers(client.get("/_drill/perf/", {"queries": 0, "hits": 0, "misses": 0}))
    assert (other["X-Query-Count"], other["X-Cache-Hits"], other["X-Cache-Misses"], other["X-Cache-Hit-Ratio"]) == \
        ("0", "0", "0", "n/a")


def test_api_endpoint_cold_then_warm_matches_the_queries_django_sees(client):
    slug = f.course(lessons=2).slug
    course_cache.invalidate_all()  # version key present, payload absent
    with CaptureQueriesContext(connection) as ctx:
        cold = client.get(f"/api/v1/courses/{slug}/")
    assert cold.status_code == 200
    assert cold.headers["X-Query-Count"] == str(len(ctx.captured_queries)) != "0"
    assert (cold.headers["X-Cache-Hits"], cold.headers["X-Cache-Misses"]) == ("1", "1")  # version hit, payload miss
    warm = client.get(f"/api/v1/courses/{slug}/")
    assert (warm.headers["X-Query-Count"], warm.headers["X-Cache-Hits"], warm.headers["X-Cache-Misses"],
            warm.headers["X-Cache-Hit-Ratio"]) == ("0", "2", "0", "100.0%")


def test_error_responses_carry_them_too_and_bad_drill_input_is_a_400(client):
    response = client.get("/api/v1/courses/no-such-course/")
    assert response.status_code == 404 and "X-Request-Time" in response.headers
    for query in ({"queries": "abc"}, {"hits": "51"}, {"misses": "-1"}):
        bad = client.get("/_drill/perf/", query)
        assert bad.status_code == 400 and bad.json()["error"]["parameter"] == next(iter(query))
    assert client.post("/_drill/perf/").status_code == 405


@override_settings(PERF_HEADERS="staff")
def test_staff_mode_shows_them_to_staff_only():
    staff, learner = f.user(is_staff=True), f.user()
    anonymous = Client().get("/api/v1/courses/")
    assert anonymous.status_code == 200 and perf_headers(anonymous) == {}
    for user, expected in ((learner, False), (staff, True)):
        client = Client()
        client.force_login(user)
        assert bool(perf_headers(client.get("/api/v1/courses/"))) is expected, user
        # Token clients too (accounts/auth.py).
        token = Client(HTTP_AUTHORIZATION=f"Token {f.token_for(user)}")
        assert bool(perf_headers(token.get("/api/v1/courses/"))) is expected, user


@override_settings(PERF_HEADERS="off")
def test_off_means_no_headers():
    assert perf_headers(Client().get("/_drill/perf/", {"queries": 1})) == {}


@override_settings(PERF_HEADERS="sometimes")
def test_a_wrong_setting_is_a_clear_error():
    with pytest.raises(ImproperlyConfigured, match="PERF_HEADERS must be one of off, on, staff"):
        Client().get("/healthz")
