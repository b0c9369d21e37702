"""Recording rules: every expression the alerts and the dashboards share, named level:metric:operation."""
from __future__ import annotations

from types import ModuleType

from monitoring_spec.contract import (
    CACHE_OPS,
    CELERY_FAILED,
    CELERY_RUNTIME,
    CELERY_SUCCEEDED,
    DB_DURATION,
    ERRORS,
    REQ_LATENCY,
    RESPONSES,
)
from monitoring_spec.promql import duration_seconds, le_matcher, num, sel, views_matcher
from prometheus.rulesets.model import Group, Record, counted, db_query_buckets


def slo_windows(t: ModuleType) -> list[str]:
    windows = {w for b in t.SLO_BURN_RATE_WINDOWS for w in (b.long, b.short)}
    return sorted(windows, key=duration_seconds)


class Names:
    """Recorded series names: level:metric:operation.  Dashboards may use them too."""

    def __init__(self, t: ModuleType):
        w = t.ALERT_WINDOW
        q = f"p{num(round(t.SLOW_TRANSACTION_QUANTILE * 100, 6))}"
        self.errors = f"studio:studio_errors:increase{w}"
        self.errors_by_source = f"source:studio_errors:increase{w}"
        self.responses = f"studio:django_http_responses:increase{w}"
        self.responses_5xx = f"studio:django_http_responses_5xx:increase{w}"
        self.responses_5xx_ratio = f"studio:django_http_responses_5xx:ratio_increase{w}"
        self.view_5xx_ratio = f"view:django_http_responses_5xx:ratio_rate{w}"
        self.view_requests = f"view:django_http_requests:rate{w}"
        self.le_latency = f"le:{REQ_LATENCY}_bucket:rate{w}"
        self.latency_quantile = f"studio:{REQ_LATENCY}:{q}_rate{w}"
        self.view_le_latency = f"view_le:{REQ_LATENCY}_bucket:rate{w}"
        self.view_latency_quantile = f"view:{REQ_LATENCY}:{q}_rate{w}"
        self.endpoint_requests = f"endpoint:django_http_requests:increase{w}"
        self.endpoint_latency_avg = f"endpoint:{REQ_LATENCY}:avg_rate{w}"
        self.db_slow = f"alias_vendor:django_db_slow_queries:increase{w}"
        self.db_queries = f"studio:django_db_queries:rate{w}"
        self.db_quantile = f"studio:{DB_DURATION}:{q}_rate{w}"
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
        return f"studio:slo_availability_errors:ratio_rate{window}"

    @staticmethod
    def slo_latency(window: str) -> str:
        return f"endpoint:slo_latency_errors:ratio_rate{window}"


def recording_groups(t: ModuleType) -> list[Group]:
    n = Names(t)
    w = t.ALERT_WINDOW
    q = num(t.SLOW_TRANSACTION_QUANTILE)
    all_5xx = sel(RESPONSES, 'status=~"5.."')

    errors = Group("studio.recording.errors", [
        # ErrorSpike: every error Sentry would capture, new exception types included.
        Record(n.errors, f"{counted(ERRORS, w)} or vector(0)"),
        Record(n.errors_by_source, counted(ERRORS, w, "source")),
    ])

    http = Group("studio.recording.http", [
        # HighErrorRate: 5xx share of all responses, and the traffic that makes the share meaningful.
        Record(n.responses, counted(RESPONSES, w)),
        Record(n.responses_5xx, f"{counted(all_5xx, w)} or vector(0)"),
        Record(n.responses_5xx_ratio, f"{n.responses_5xx} / {n.responses}"),
        Record(n.view_requests, f"sum by (view) (rate({REQ_LATENCY}_count[{w}]))"),
        Record(n.view_5xx_ratio,
               f"(sum by (view) (rate({all_5xx}[{w}])) or sum by (view) (rate({RESPONSES}[{w}])) * 0)\n"
               f"/\nsum by (view) (rate({RESPONSES}[{w}]))"),
        # SlowTransactions: P95 over every request; exact against 1 s because 1 s is a bucket edge.
        Record(n.le_latency, f"sum by (le) (rate({REQ_LATENCY}_bucket[{w}]))"),
        Record(n.latency_quantile, f"histogram_quantile({q}, {n.le_latency})"),
        Record(n.view_le_latency, f"sum by (view, le) (rate({REQ_LATENCY}_bucket[{w}]))"),
        Record(n.view_latency_quantile, f"histogram_quantile({q}, {n.view_le_latency})"),
    ])
    for target in t.TARGETS:
        get = (views_matcher(target.views), 'method="GET"')
        http.rules.append(Record(
            n.endpoint_requests, f"sum(increase({sel(REQ_LATENCY + '_count', *get)}[{w}]))",
            {"endpoint": target.key}))
        http.rules.append(Record(
            n.endpoint_latency_avg,
            f"sum(rate({sel(REQ_LATENCY + '_sum', *get)}[{w}]))\n/\n"
            f"sum(rate({sel(REQ_LATENCY + '_count', *get)}[{w}]))",
            {"endpoint": target.key}))

    slow_le = le_matcher(t.DB_SLOW_QUERY_SECONDS, db_query_buckets(t))
    database = Group("studio.recording.database", [
        # DatabaseIssues: queries above the 0.5 s bucket edge = all queries minus those at or under it.
        Record(n.db_slow,
               f"{counted(DB_DURATION + '_count', w, 'alias, vendor')}\n-\n"
               f"{counted(sel(DB_DURATION + '_bucket', slow_le), w, 'alias, vendor')}"),
        Record(n.db_queries, f"sum(rate({DB_DURATION}_count[{w}]))"),
        Record(n.db_quantile, f"histogram_quantile({q}, sum by (le) (rate({DB_DURATION}_bucket[{w}])))"),
    ])

    celery = Group("studio.recording.celery", [
        Record(n.celery_succeeded, counted(CELERY_SUCCEEDED, w, "task")),
        Record(n.celery_failed, counted(CELERY_FAILED, w, "task")),
        # A task with successes and no failure yet (or the reverse) has only one of the two series.
        Record(n.celery_finished,
               f"({n.celery_succeeded} or {n.celery_failed} * 0)\n+\n({n.celery_failed} or {n.celery_succeeded} * 0)"),
        Record(n.celery_failed_ratio, f"({n.celery_failed} or {n.celery_succeeded} * 0)\n/\n{n.celery_finished}"),
        Record(n.celery_runtime_quantile,
               f"histogram_quantile({q}, sum by (task, le) (rate({CELERY_RUNTIME}_bucket[{w}])))"),
    ])

    reads, hits = sel(CACHE_OPS, 'result=~"hit|miss"'), sel(CACHE_OPS, 'result="hit"')
    cache = Group("studio.recording.cache", [
        Record(n.cache_reads, counted(reads, w)),
        Record(n.cache_hits, f"{counted(hits, w)} or vector(0)"),
        Record(n.cache_hit_ratio, f"{n.cache_hits} / {n.cache_reads}"),
        Record(n.redis_hit_ratio,
               f"sum(rate(redis_keyspace_hits_total[{w}]))\n/\n"
               f"(sum(rate(redis_keyspace_hits_total[{w}])) + sum(rate(redis_keyspace_misses_total[{w}])))"),
    ])

    slo = Group("studio.recording.slo", [])
    for window in slo_windows(t):
        # Availability SLI: responses that are not 5xx, over all responses of the app.
        slo.rules.append(Record(
            Names.slo_availability(window),
            f"(sum(rate({all_5xx}[{window}])) or vector(0))\n/\nsum(rate({RESPONSES}[{window}]))"))
    for window in slo_windows(t):
        for target in t.TARGETS:
            # Latency SLI: an endpoint's GET requests at or under its target (a bucket edge: exact).
            get = (views_matcher(target.views), 'method="GET"')
            total = f"sum(rate({sel(REQ_LATENCY + '_count', *get)}[{window}]))"
            edge = le_matcher(target.target_ms / 1000, t.REQUEST_LATENCY_BUCKETS)
            within = f"sum(rate({sel(REQ_LATENCY + '_bucket', *get, edge)}[{window}]))"
            slo.rules.append(Record(Names.slo_latency(window), f"({total} - {within})\n/\n{total}",
                                    {"endpoint": target.key}))

    return [errors, http, database, celery, cache, slo]

