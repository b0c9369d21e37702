"""The "before" of issue 18's metric cut, for benchmarks/bench_settings.py (ours-before-metrics and older):
our After middleware updating every django-prometheus metric, as the stock one does."""
from django_prometheus import middleware as dp_middleware

from observability.middleware import PrometheusAfterMiddleware


class EveryMetricAfterMiddleware(PrometheusAfterMiddleware):
    process_request = dp_middleware.PrometheusAfterMiddleware.process_request
    process_response = dp_middleware.PrometheusAfterMiddleware.process_response
