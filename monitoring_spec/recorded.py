"""The names of the recorded series: one per quantity an alert judges or a panel shows (level:metric:operation).

The rules record them (prometheus/rulesets/recording.py), the alerts compare them, and the dashboard panel
that shows what an alert judges reads the same series, so a panel and its alert cannot disagree.
"""
from __future__ import annotations

from types import ModuleType

from monitoring_spec.contract import CELERY_RUNTIME, REQ_LATENCY
from monitoring_spec.promql import num


class Names:
    """Recorded series names: level:metric:operation.  The dashboards read the ones that show what an alert judges."""

    def __init__(self, t: ModuleType):
        w = t.ALERT_WINDOW
        q = f"p{num(round(t.SLOW_TRANSACTION_QUANTILE * 100, 6))}"
        self.errors = f"studio:studio_errors:increase{w}"
        self.errors_by_source = f"source:studio_errors:increase{w}"
        self.security_events = f"event:studio_security_events:increase{w}"
        self.responses = f"studio:django_http_responses:increase{w}"
        self.responses_5xx = f"studio:django_http_responses_5xx:increase{w}"
        self.responses_5xx_ratio = f"studio:django_http_responses_5xx:ratio_increase{w}"
        self.le_latency = f"le:{REQ_LATENCY}_bucket:rate{w}"
        self.latency_quantile = f"studio:{REQ_LATENCY}:{q}_rate{w}"
        self.endpoint_requests = f"endpoint:django_http_requests:increase{w}"
        self.endpoint_latency_avg = f"endpoint:{REQ_LATENCY}:avg_increase{w}"
        self.db_slow = f"alias_vendor:django_db_slow_queries:increase{w}"
        self.celery_succeeded = f"task:studio_celery_tasks_succeeded:increase{w}"
        self.celery_failed = f"task:studio_celery_tasks_failed:increase{w}"
        self.celery_finished = f"task:studio_celery_tasks_finished:increase{w}"
        self.celery_failed_ratio = f"task:studio_celery_tasks_failed:ratio_increase{w}"
        self.celery_runtime_quantile = f"task:{CELERY_RUNTIME}:{q}_rate{w}"
        self.cache_reads = f"studio:studio_cache_reads:increase{w}"
        self.cache_hits = f"studio:studio_cache_hits:increase{w}"
        self.cache_hit_ratio = f"studio:studio_cache_hit:ratio_increase{w}"
        self.redis_hit_ratio = f"studio:redis_keyspace_hit:ratio_rate{w}"

    @staticmethod
    def slo_availability(window: str) -> str:
        return f"studio:slo_availability_errors:ratio_increase{window}"

    @staticmethod
    def slo_latency(window: str) -> str:
        return f"endpoint:slo_latency_errors:ratio_increase{window}"
