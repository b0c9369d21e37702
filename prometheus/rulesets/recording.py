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
    SECURITY_EVENTS,
)
from monitoring_spec.promql import duration_seconds, le_matcher, num, sel, user_traffic, views_matcher
from monitoring_spec.recorded import Names
from prometheus.rulesets import exact
from prometheus.rulesets.exact import Quantity
from prometheus.rulesets.model import Group, Record, db_query_buckets

__all__ = ["Names", "recording_groups", "slo_windows"]


def slo_windows(t: ModuleType) -> list[str]:
    windows = {w for b in t.SLO_BURN_RATE_WINDOWS for w in (b.long, b.short)}
    return sorted(windows, key=duration_seconds)


class Counted:
    """The counts the alerts and the SLOs judge, each exact (prometheus/rulesets/exact.py)."""

    def __init__(self, t: ModuleType):
        user = user_traffic()
        slow_le = le_matcher(t.DB_SLOW_QUERY_SECONDS, db_query_buckets(t))
        self.errors = Quantity("studio_errors", ERRORS, ("source",))
        self.security_events = Quantity("studio_security_events", SECURITY_EVENTS, ("event",))
        self.responses = Quantity("django_http_responses", sel(RESPONSES, user))
        self.responses_5xx = Quantity("django_http_responses_5xx", sel(RESPONSES, user, 'status=~"5.."'))
        # Queries above the bucket edge = all queries minus those at or under it, subtracted inside one rule:
        # two rules may read two different scrapes (one can land between them), and their difference, off by
        # a scrape's queries for one evaluation, paged DatabaseIssues under load (docs/reliability.md).
        self.db_slow = Quantity("django_db_slow_queries",
                                f"{DB_DURATION}_count - ignoring (le) {sel(f'{DB_DURATION}_bucket', slow_le)}",
                                ("alias", "vendor"))
        self.cache_reads = Quantity("studio_cache_reads", sel(CACHE_OPS, 'result=~"hit|miss"'))
        self.cache_hits = Quantity("studio_cache_hits", sel(CACHE_OPS, 'result="hit"'))
        self.celery_succeeded = Quantity("studio_celery_tasks_succeeded", CELERY_SUCCEEDED, ("task",))
        self.celery_failed = Quantity("studio_celery_tasks_failed", CELERY_FAILED, ("task",))
        # One per endpoint of the target table, under one name: GET requests, and those within the target.
        self.get_requests = [Quantity("django_http_get_requests", sel(f"{REQ_LATENCY}_count", *get_of(x)),
                                      labels={"endpoint": x.key}) for x in t.TARGETS]
        self.get_seconds = [Quantity("django_http_get_requests_seconds", sel(f"{REQ_LATENCY}_sum", *get_of(x)),
                                     labels={"endpoint": x.key}) for x in t.TARGETS]
        self.get_within_target = [
            Quantity("django_http_get_requests_within_target",
                     sel(f"{REQ_LATENCY}_bucket", *get_of(x), le_matcher(x.target_ms / 1000, t.REQUEST_LATENCY_BUCKETS)),
                     labels={"endpoint": x.key}) for x in t.TARGETS]

    def rules(self, t: ModuleType) -> list[Record]:
        out = [exact.start_time_rule(t)]
        for q in (self.errors, self.security_events, self.responses, self.responses_5xx, self.db_slow,
                  self.cache_reads, self.cache_hits, self.celery_succeeded, self.celery_failed):
            out += exact.rules(q, t)
        for per_endpoint in (self.get_requests, self.get_seconds, self.get_within_target):
            for i, q in enumerate(per_endpoint):
                out += exact.rules(q, t, with_shared=i == len(per_endpoint) - 1)
        return out


def get_of(target) -> tuple[str, str]:
    """The matchers of an endpoint's GET requests (the target table is of GETs)."""
    return views_matcher(target.views), 'method="GET"'


def recording_groups(t: ModuleType) -> list[Group]:
    n, c = Names(t), Counted(t)
    w = t.ALERT_WINDOW
    q = num(t.SLOW_TRANSACTION_QUANTILE)
    user = user_traffic()

    counts = Group("studio.recording.counts", [
        *c.rules(t),
        # ErrorSpike: every error Sentry would capture, new exception types included; security events apart.
        Record(n.errors, f"{exact.in_window(c.errors, w)} or vector(0)"),
        Record(n.errors_by_source, exact.in_window(c.errors, w, ("source",))),
        Record(n.security_events, exact.in_window(c.security_events, w, ("event",))),
        # HighErrorRate: the 5xx share of user responses, and the traffic that makes the share meaningful.
        Record(n.responses, exact.in_window(c.responses, w)),
        Record(n.responses_5xx, f"{exact.in_window(c.responses_5xx, w)} or vector(0)"),
        Record(n.responses_5xx_ratio, f"{n.responses_5xx} / {n.responses}"),
        # DatabaseIssues: queries slower than the guide's threshold.
        Record(n.db_slow, exact.in_window(c.db_slow, w, ("alias", "vendor"))),
        # The endpoint tickets count an endpoint's average only from enough GET requests.
        Record(n.endpoint_requests, exact.in_window(c.get_requests[0], w, ("endpoint",))),
        # The endpoint tickets: an endpoint's GET average over the window, exact (seconds spent / requests).
        Record(n.endpoint_latency_avg, f"{exact.in_window(c.get_seconds[0], w, ('endpoint',))}\n/\n"
                                       f"{exact.in_window(c.get_requests[0], w, ('endpoint',))}"),
        Record(n.celery_succeeded, exact.in_window(c.celery_succeeded, w, ("task",))),
        Record(n.celery_failed, exact.in_window(c.celery_failed, w, ("task",))),
        # A task with successes and no failure yet (or the reverse) has only one of the two series.
        Record(n.celery_finished,
               f"({n.celery_succeeded} or {n.celery_failed} * 0)\n+\n({n.celery_failed} or {n.celery_succeeded} * 0)"),
        Record(n.celery_failed_ratio, f"({n.celery_failed} or {n.celery_succeeded} * 0)\n/\n{n.celery_finished}"),
        Record(n.cache_reads, exact.in_window(c.cache_reads, w)),
        Record(n.cache_hits, f"{exact.in_window(c.cache_hits, w)} or vector(0)"),
        Record(n.cache_hit_ratio, f"{n.cache_hits} / {n.cache_reads}"),
    ])

    rates = Group("studio.recording.rates", [
        # SlowTransactions: P95 of user requests; exact against 1 s because 1 s is a bucket edge.  A ratio of
        # rates: extrapolation scales every bucket alike, and rate() handles restarts.
        Record(n.le_latency, f"sum by (le) (rate({sel(REQ_LATENCY + '_bucket', user)}[{w}]))"),
        Record(n.latency_quantile, f"histogram_quantile({q}, {n.le_latency})"),
        Record(n.celery_runtime_quantile,
               f"histogram_quantile({q}, sum by (task, le) (rate({CELERY_RUNTIME}_bucket[{w}])))"),
        Record(n.redis_hit_ratio,
               f"sum(rate(redis_keyspace_hits_total[{w}]))\n/\n"
               f"(sum(rate(redis_keyspace_hits_total[{w}])) + sum(rate(redis_keyspace_misses_total[{w}])))"),
    ])

    slo = Group("studio.recording.slo", [])
    for window in slo_windows(t):
        # Availability SLI: user responses that are not 5xx, over all user responses (exact counts).
        slo.rules.append(Record(
            Names.slo_availability(window),
            f"({exact.in_window(c.responses_5xx, window)} or vector(0))\n/\n{exact.in_window(c.responses, window)}"))
    for window in slo_windows(t):
        # Latency SLI: an endpoint's GET requests at or under its target (a bucket edge: exact).
        total = exact.in_window(c.get_requests[0], window, ("endpoint",))
        within = exact.in_window(c.get_within_target[0], window, ("endpoint",))
        slo.rules.append(Record(Names.slo_latency(window), f"({total} - {within})\n/\n{total}"))

    return [counts, rates, slo]
