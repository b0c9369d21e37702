"""django-prometheus' per-request metrics as observability.middleware.PrometheusAfterMiddleware updates them:
every documented one counts each request (docs/metrics.md), the five nothing reads are left alone (issue 18:
fewer multiprocess writes per request; docs/benchmarks.md 4b).  In-process, default registry, deltas."""
from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

pytestmark = pytest.mark.django_db

VIEW = {"view": "healthz"}
COUNTED = [  # (sample, labels): +1 per request
    ("django_http_requests_before_middlewares_total", {}),
    ("django_http_requests_total_by_method_total", {"method": "GET"}),
    ("django_http_requests_total_by_view_transport_method_total", {**VIEW, "transport": "http", "method": "GET"}),
    ("django_http_responses_total_by_status_view_method_total", {**VIEW, "status": "200", "method": "GET"}),
    ("django_http_requests_latency_seconds_by_view_method_count", {**VIEW, "method": "GET"}),
    ("django_http_requests_latency_including_middlewares_seconds_count", {}),
]
NOT_UPDATED = [
    ("django_http_requests_total_by_transport_total", {"transport": "http"}),
    ("django_http_responses_total_by_charset_total", {"charset": "utf-8"}),
    ("django_http_responses_total_by_status_total", {"status": "200"}),
    ("django_http_requests_body_total_bytes_count", {}),
    ("django_http_responses_body_total_bytes_count", {}),
]


def _values(samples):
    return [REGISTRY.get_sample_value(name, labels) or 0.0 for name, labels in samples]


def test_documented_request_metrics_count_each_request_and_unread_ones_are_not_written(client):
    before, before_unread = _values(COUNTED), _values(NOT_UPDATED)
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert [a - b for a, b in zip(_values(COUNTED), before, strict=True)] == [3.0] * len(COUNTED)
    assert _values(NOT_UPDATED) == before_unread


def test_an_invented_method_is_bounded_and_ajax_still_counts(client):
    ajax = REGISTRY.get_sample_value("django_http_ajax_requests_total") or 0.0
    invalid = {"method": "<invalid method>"}
    before = REGISTRY.get_sample_value("django_http_requests_total_by_method_total", invalid) or 0.0
    client.generic("BREW", "/healthz")
    client.get("/healthz", HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert REGISTRY.get_sample_value("django_http_requests_total_by_method_total", invalid) == before + 1
    assert REGISTRY.get_sample_value("django_http_ajax_requests_total") == ajax + 1
