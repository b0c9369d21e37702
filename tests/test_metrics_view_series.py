"""Issue 14, point 3: the series a rate() panel or rule depends on exist from process start.

django-prometheus creates django_http_responses_total_by_status_view_method_total{status, view, method}
at a view's first response of that status, so rate() never sees the first 500 of a view.  The web
process creates status="500" for every named view of the URLconf and each method it serves (what
core.api.api_view records, else GET) at zero when it loads its middleware: labels from the code only.
"""
from __future__ import annotations

import pytest
from django.urls import include, path
from django.views.generic import RedirectView

from core.api import api_view
from observability import labels
from tests.test_metrics_support import delta, http, scrape

RESPONSES = "django_http_responses_total_by_status_view_method_total"


def test_known_views_are_the_named_patterns_with_the_methods_they_serve():
    @api_view("GET", "post")
    def both(request):
        raise AssertionError("never called")

    def plain(request):
        raise AssertionError("never called")

    inner = [path("a/", both, name="both"), path("b/", plain), path("c/", plain, name="plain")]
    patterns = [
        path("ns/", include((inner, "space"))),
        path("redirect/", RedirectView.as_view(url="/"), name="redirect"),
        path("again/", plain, name="plain-twice"),
        path("again-post/", both, name="plain-twice"),
    ]
    assert labels.known_views(patterns) == {
        "space:both": ("GET", "POST"),
        "space:plain": ("GET",),  # declares nothing: GET
        "redirect": ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"),  # a class-based view's handlers
        "plain-twice": ("GET", "POST"),  # one name on two patterns: the methods of both
    }


def test_the_projects_views_are_known_with_their_methods():
    views = labels.known_views()
    assert views["courses:course-list"] == ("GET",)
    assert views["courses:course-enroll"] == ("POST",)
    assert views["accounts:token"] == ("POST", "DELETE")
    assert views["forum:post-create"] == ("POST",)
    assert views["healthz"] == ("GET",) and views["prometheus-django-metrics"] == ("GET",)
    assert "admin:index" in views
    assert all("/" not in name for name in views)  # names from the URLconf, never paths


@pytest.mark.slow
def test_a_fresh_app_has_a_zero_500_series_for_every_view_and_the_first_500_is_seen(gunicorn_factory):
    server = gunicorn_factory(workers=2)
    fresh = scrape(f"{server.base_url}/metrics")
    expected = {(view, method) for view, methods in labels.known_views().items() for method in methods}
    created = {(dict(lbls)["view"], dict(lbls)["method"]) for (name, lbls), _ in fresh.samples.items()
               if name == RESPONSES and dict(lbls)["status"] == "500"}
    assert created == expected
    assert ("courses:course-enroll", "POST") in created and ("courses:course-enroll", "GET") not in created
    assert fresh.sum(RESPONSES, status="500") == 0
    # Nothing but the readiness probe's /healthz has answered yet.
    answered = {(dict(lbls)["view"], dict(lbls)["status"]) for (name, lbls), v in fresh.samples.items()
                if name == RESPONSES and v > 0}
    assert answered <= {("healthz", "200")}, answered

    assert http(f"{server.base_url}/_drill/error/")[0] == 500
    after = scrape(f"{server.base_url}/metrics")
    assert delta(fresh, after, RESPONSES, status="500", view="drill:error", method="GET") == 1
