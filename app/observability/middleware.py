"""Request instrumentation beside django-prometheus' Before/After middleware.

RequestMetricsMiddleware (second in MIDDLEWARE, right after PrometheusBeforeMiddleware, so it sees
every query the other middleware make, e.g. the session save) observes per request:
  studio_request_queries{view}     how many queries ran (a connection.execute_wrapper, no DEBUG)
  studio_request_db_seconds{view}  how long they took
and remembers the request for observability.errors (country and user of an error), and counts a
5xx response no exception explains as an error (source=request, exception=none).

PrometheusAfterMiddleware is django-prometheus' own, with label children cached (bounded) and the
method label bounded: django-prometheus puts the raw request method on its latency histogram, so
"BREW /" would make a new series per invented method.  When it is loaded (the first thing a web
process does with its WSGI handler, before any request) it creates the status="500" series of every
named view and the methods it serves at zero (observability.labels.initialise_view_responses), so the
first 500 of a view is visible to rate(); only web processes load middleware, so the Celery worker's
scrape does not carry django_http_* series for views it never serves.
"""
from __future__ import annotations

import logging
from time import perf_counter

from django.db import connection
from django_prometheus import middleware as dp_middleware
from django_prometheus.utils import Time, TimeSince

from observability import errors, labels, metrics

logger = logging.getLogger(__name__)

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "CONNECT", "PATCH"})
INVALID_METHOD = "<invalid method>"  # django-prometheus' own label for these
_MAX_CACHED_CHILDREN = 5_000
_views_initialised: set[int] = set()  # ids of the response counters whose per-view series exist


class QueryTally:
    """A connection.execute_wrapper that counts and times the queries of one request."""

    __slots__ = ("count", "seconds")

    def __init__(self):
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        start = perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += perf_counter() - start
            self.count += 1


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._children: dict[str, tuple] = {}  # view -> (queries.observe, db_seconds.observe)

    def _observers(self, view: str) -> tuple:
        observers = self._children.get(view)
        if observers is None:
            observers = (metrics.REQUEST_QUERIES.labels(view).observe,
                         metrics.REQUEST_DB_SECONDS.labels(view).observe)
            if len(self._children) < _MAX_CACHED_CHILDREN:
                self._children[view] = observers
        return observers

    def __call__(self, request):
        tally = QueryTally()
        request._studio_query_tally = tally  # observability.perf reads it: X-Query-*, the window
        token = errors.current_request.set(request)
        try:
            with connection.execute_wrapper(tally):
                response = self.get_response(request)
        finally:
            errors.current_request.reset(token)
        match = request.resolver_match
        view = (match.view_name or metrics.UNNAMED_VIEW) if match is not None else metrics.UNNAMED_VIEW
        observe_queries, observe_seconds = self._observers(view)
        observe_queries(tally.count)
        observe_seconds(tally.seconds)
        if response.status_code >= 500:
            errors.count_unexplained_5xx(request, response)
        return response


class PrometheusAfterMiddleware(dp_middleware.PrometheusAfterMiddleware):
    """django-prometheus' After middleware: its documented metrics (docs/metrics.md), bounded method label,
    cached children.

    Not updated: the five per-request series nothing reads -- requests by transport and responses by charset
    (one value each here: http, utf-8), responses by status (the sum of responses by status, view and method),
    request and response body sizes (histograms) -- seven of a request's 24 multiprocess value writes, each a
    lock and an mmap write (docs/benchmarks.md 4b).  Every other metric is updated as django-prometheus does."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._children: dict[tuple, object] = {}
        responses = self.metrics.responses_by_status_view_method
        if id(responses) not in _views_initialised:  # once per process (each test client loads middleware)
            _views_initialised.add(id(responses))
            try:
                labels.initialise_view_responses(responses, labels.known_views())
            except Exception:  # a broken URLconf is Django's to report, at the first request
                logger.debug("per-view response series not created at zero", exc_info=True)

    def process_request(self, request):
        self.label_metric(self.metrics.requests_by_method, request, method=self._method(request)).inc()
        if request.headers.get("x-requested-with") == "XMLHttpRequest":  # as the stock middleware
            self.metrics.requests_ajax.inc()
        request.prometheus_after_middleware_event = Time()

    def process_response(self, request, response):
        method = self._method(request)
        view = self._get_view_name(request)
        self.label_metric(self.metrics.responses_by_status_view_method, request, response,
                          status=str(response.status_code), view=view, method=method).inc()
        if getattr(response, "streaming", False):
            self.metrics.responses_streaming.inc()
        if hasattr(request, "prometheus_after_middleware_event"):
            self.label_metric(self.metrics.requests_latency_by_view_method, request, response, view=view,
                              method=method).observe(TimeSince(request.prometheus_after_middleware_event))
        else:
            self.metrics.requests_unknown_latency.inc()
        return response

    def label_metric(self, metric, request, response=None, **labels):
        if not labels:
            return metric
        method = labels.get("method")
        if method is not None and method not in KNOWN_METHODS:
            labels["method"] = INVALID_METHOD
        key = (id(metric), *labels.items())
        child = self._children.get(key)
        if child is None:
            child = metric.labels(**labels)
            if len(self._children) < _MAX_CACHED_CHILDREN:
                self._children[key] = child
        return child
