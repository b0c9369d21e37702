#!/usr/bin/env python3
"""Render Prometheus recording rules, alerting rules and their promtool unit tests from app/thresholds.py.

    .venv/bin/python prometheus/generate_rules.py            # write prometheus/rules/*.yml and prometheus/tests/*.yml
    .venv/bin/python prometheus/generate_rules.py --check    # exit 1 (with a diff) when a committed file drifted

Every number an alert compares against comes from app/thresholds.py; the unit tests put their
"just over" and "just under" inputs on either side of the same numbers, so changing a threshold
changes rules and tests together, and a rule that drifts from its threshold fails `promtool test rules`.

Label contract (docs/runbooks/README.md explains it for people):
  severity  page | warning | ticket | none   how urgent
  channels  comma-separated subset of email,slack,pagerduty (or deadmansswitch); Alertmanager routes on it
"""
from __future__ import annotations

import argparse
import difflib
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "app") not in sys.path:
    sys.path.insert(0, str(ROOT / "app"))

from promql import le_matcher

import thresholds as THRESHOLDS  # app/ must be on sys.path first

HEADER = "# generated, do not edit: source prometheus/generate_rules.py and app/thresholds.py\n"
RULES_DIR = Path("prometheus/rules")
TESTS_DIR = Path("prometheus/tests")

# Links in every alert.  Grafana's address is a deployment fact, not Prometheus's own ($externalURL),
# so it is one constant here (the compose stack and `make up` both publish Grafana on localhost:3000).
GRAFANA_BASE_URL = "http://localhost:3000"
# Runbooks live in the repository.  Set this to the forge URL of docs/runbooks once the repository is
# hosted (e.g. https://github.com/<org>/<repo>/blob/main/docs/runbooks) and regenerate.
RUNBOOK_BASE_URL = "docs/runbooks"

DASHBOARDS = {
    "overview": "studio-overview",
    "endpoints": "studio-endpoints",
    "errors": "studio-errors",
    "database": "studio-database",
    "cache_celery": "studio-cache-celery",
}

# Severity -> notification channels.  The guide's table is the first four rows' worth:
#   ErrorSpike (warning) email+Slack, SlowTransactions and DatabaseIssues (ticket) email,
#   HighErrorRate (page) email+Slack+PagerDuty.
CHANNELS = {
    "page": ("email", "slack", "pagerduty"),
    "warning": ("email", "slack"),
    "ticket": ("email",),
    "none": ("deadmansswitch",),
}

# `for:` durations (not thresholds): how long a condition must hold before the alert fires.
FOR_GUIDE_COUNT = "0m"  # ErrorSpike, DatabaseIssues: the 5-minute count already is the evidence
FOR_GUIDE_RATIO = "1m"  # SlowTransactions, HighErrorRate: two evaluations a minute apart agree
FOR_BY_LONG_WINDOW = {"1h": "2m", "6h": "15m", "1d": "1h", "3d": "3h"}  # as in the SRE workbook/pyrra

# Jobs (the scrape config's job names).
APP_JOB = "studio-app"
APP_TARGET = {"job": APP_JOB, "instance": "app:8000"}  # a scrape target in the unit tests

# Metric names: the /metrics contract.
REQ_LATENCY = "django_http_requests_latency_seconds_by_view_method"
RESPONSES = "django_http_responses_total_by_status_view_method_total"
DB_DURATION = "django_db_query_duration_seconds"
ERRORS = "studio_errors_total"
CACHE_OPS = "studio_cache_operations_total"
CELERY_SUCCEEDED = "studio_celery_tasks_succeeded_total"
CELERY_FAILED = "studio_celery_tasks_failed_total"
CELERY_RUNTIME = "studio_celery_task_runtime_seconds"
CELERY_QUEUE = "studio_celery_queue_length"

# Test inputs: how many events per minute the unit tests feed (not thresholds; a ratio is tested
# one event in this many either side of its threshold, e.g. 51 vs 49 per 1000 for 5 %).
TEST_SCALE = 1000
TEST_SCALE_SLO = 10000
SLO_TEST_EVALUATION = "5m"


# ============================================================================================
# Small helpers
# ============================================================================================


def num(x: float) -> str:
    """A number as PromQL/YAML text: 10, 0.05, 14.4 (shortest exact form, no trailing .0)."""
    x = float(x)
    if math.isinf(x):
        return "+Inf"
    if x.is_integer():
        return str(int(x))
    return repr(x)


def db_query_buckets(t: ModuleType) -> tuple[float, ...]:
    """Bucket edges of django_db_query_duration_seconds.

    django-prometheus gives every histogram of its own PROMETHEUS_LATENCY_BUCKETS, which the settings
    set to REQUEST_LATENCY_BUCKETS (DB_QUERY_BUCKETS are studio_request_db_seconds' edges).
    """
    return t.REQUEST_LATENCY_BUCKETS


def le_label(edge: float) -> str:
    """How prometheus_client spells a bucket edge in the `le` label."""
    return "+Inf" if math.isinf(edge) else repr(float(edge))


def sel(metric: str, *matchers: str) -> str:
    inner = ", ".join(m for m in matchers if m)
    return f"{metric}{{{inner}}}" if inner else metric


def views_matcher(views: tuple[str, ...]) -> str:
    for view in views:
        if not re.fullmatch(r"[A-Za-z0-9_:\-]+", view):
            raise ValueError(f"view label {view!r} has characters that would need regex escaping")
    return f'view=~"{"|".join(views)}"'


def counted(selector: str, window: str, by: str = "") -> str:
    """sum [by (...)] of the events a counter counted in `window`, exactly, the first ones of a new series included.

    increase() extrapolates: on a young series (a process or a Prometheus started minutes ago) nine
    events in a 5-minute window can read as 10.2 and fire a ">= 10" alert.  So, per series:
    1. it existed a window ago and did not reset: value now minus value then, exact;
    2. it appeared inside the window while Prometheus was already scraping its target (the target's
       `up` has more samples in the window than the series): it did not exist at an earlier scrape
       inside the window, so its whole value is events in the window, exact;
    3. it appeared with its target (Prometheus just started, or a new process) and did not reset:
       value now minus its first value in the window, so a long-running process's old total is
       not mistaken for a spike after a restart, and a new process (counters start at zero) loses nothing;
    4. a counter that reset inside the window: increase(), which handles resets (and extrapolates).
    """
    grouping = f" by ({by})" if by else ""
    return (f"sum{grouping} (\n"
            f"  (({selector} - {selector} offset {window}) unless resets({selector}[{window}]) > 0)\n"
            f"  or\n"
            f"  (\n"
            f"    ({selector} unless {selector} offset {window})\n"
            f"    and\n"
            f"    (count_over_time({selector}[{window}]) < on (job, instance) group_left "
            f"count_over_time(up[{window}]))\n"
            f"  )\n"
            f"  or\n"
            f"  (({selector} - min_over_time({selector}[{window}])) unless resets({selector}[{window}]) > 0)\n"
            f"  or\n"
            f"  increase({selector}[{window}])\n"
            f")")


def duration_seconds(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    total, pos = 0, 0
    for match in re.finditer(r"(\d+)([smhdwy])", text):
        if match.start() != pos:
            break
        total += int(match.group(1)) * units[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a PromQL duration: {text!r}")
    return total


def minutes(text: str) -> int:
    seconds = duration_seconds(text)
    if seconds % 60:
        raise ValueError(f"{text} is not a whole number of minutes")
    return seconds // 60


def human_seconds(x: float) -> str:
    return f"{num(x)}s" if x >= 1 else f"{num(round(x * 1000, 6))}ms"


def human_percent(x: float) -> str:
    return f"{num(round(x * 100, 6))}%"


def dashboard_url(key: str, query: str = "") -> str:
    return f"{GRAFANA_BASE_URL}/d/{DASHBOARDS[key]}" + (f"?{query}" if query else "")


def runbook_url(alertname: str) -> str:
    return f"{RUNBOOK_BASE_URL}/{alertname}.md"


# ============================================================================================
# Rule model
# ============================================================================================


@dataclass
class Record:
    record: str
    expr: str
    labels: dict[str, str] = field(default_factory=dict)

    def to_yaml(self) -> dict:
        out = {"record": self.record, "expr": self.expr}
        if self.labels:
            out["labels"] = dict(self.labels)
        return out


@dataclass
class Alert:
    alert: str
    expr: str
    for_: str
    severity: str
    summary: str
    description: str
    dashboard: str  # a full URL (may use {{ $labels.x }})
    labels: dict[str, str] = field(default_factory=dict)  # extra static labels (endpoint, long, short...)

    @property
    def all_labels(self) -> dict[str, str]:
        return {"severity": self.severity, "channels": ",".join(CHANNELS[self.severity]), **self.labels}

    @property
    def annotations(self) -> dict[str, str]:
        return {
            "summary": self.summary,
            "description": self.description,
            "runbook_url": runbook_url(self.alert),
            "dashboard_url": self.dashboard,
        }

    def to_yaml(self) -> dict:
        out: dict = {"alert": self.alert, "expr": self.expr}
        if duration_seconds(self.for_):
            out["for"] = self.for_
        out["labels"] = self.all_labels
        out["annotations"] = self.annotations
        return out


@dataclass
class Group:
    name: str
    rules: list


# ============================================================================================
# Recording rules
# ============================================================================================


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


# ============================================================================================
# Alerting rules
# ============================================================================================


def alert_groups(t: ModuleType) -> list[Group]:
    n = Names(t)
    w = t.ALERT_WINDOW

    guide = Group("studio.alerts.guide", [
        Alert(
            "ErrorSpike",
            f"{n.errors} >= {num(t.ERROR_SPIKE_MIN_ERRORS)}",
            FOR_GUIDE_COUNT, "warning",
            f"Error spike: {num(t.ERROR_SPIKE_MIN_ERRORS)} or more errors in {w}",
            f'{{{{ printf "%.0f" $value }}}} errors in the last {w} (threshold {num(t.ERROR_SPIKE_MIN_ERRORS)}); '
            "every error Sentry would capture counts: failed requests, failed tasks and logged errors.",
            dashboard_url("errors")),
        Alert(
            "SlowTransactions",
            f"{n.latency_quantile} > {num(t.SLOW_TRANSACTION_P95_SECONDS)}",
            FOR_GUIDE_RATIO, "ticket",
            f"P{num(round(t.SLOW_TRANSACTION_QUANTILE * 100, 6))} request latency over "
            f"{human_seconds(t.SLOW_TRANSACTION_P95_SECONDS)}",
            f"P{num(round(t.SLOW_TRANSACTION_QUANTILE * 100, 6))} latency of all requests over the last {w} is "
            f"{{{{ $value | humanizeDuration }}}} (threshold {human_seconds(t.SLOW_TRANSACTION_P95_SECONDS)}).",
            dashboard_url("endpoints")),
        Alert(
            "HighErrorRate",
            f"{n.responses_5xx_ratio} > {num(t.HIGH_ERROR_RATE_RATIO)}\n"
            f"and\n{n.responses} >= {num(t.HIGH_ERROR_RATE_MIN_REQUESTS)}",
            FOR_GUIDE_RATIO, "page",
            f"More than {human_percent(t.HIGH_ERROR_RATE_RATIO)} of responses are 5xx",
            f"{{{{ $value | humanizePercentage }}}} of responses in the last {w} were 5xx "
            f"(threshold {human_percent(t.HIGH_ERROR_RATE_RATIO)}, counted from "
            f"{num(t.HIGH_ERROR_RATE_MIN_REQUESTS)} requests in the window).",
            dashboard_url("errors")),
        Alert(
            "DatabaseIssues",
            f"{n.db_slow} >= 1",  # "any query": at least one
            FOR_GUIDE_COUNT, "ticket",
            f"Database query slower than {human_seconds(t.DB_SLOW_QUERY_SECONDS)} on {{{{ $labels.alias }}}}",
            f'{{{{ printf "%.0f" $value }}}} queries on database {{{{ $labels.alias }}}} ({{{{ $labels.vendor }}}}) '
            f"took longer than {human_seconds(t.DB_SLOW_QUERY_SECONDS)} in the last {w}.",
            dashboard_url("database")),
    ])

    platform = Group("studio.alerts.platform", [
        Alert(
            "StudioAppDown",
            f'absent(up{{job="{APP_JOB}"}} == 1)',
            "1m", "page",
            "No instance of the app answers Prometheus",
            f"No {APP_JOB} target has answered a scrape for a minute (value {{{{ $value }}}}): "
            "the site is down or Prometheus cannot reach it.",
            dashboard_url("overview"), {"job": APP_JOB}),
        Alert(
            "TargetDown",
            "up == 0",
            "2m", "warning",
            "{{ $labels.job }} target {{ $labels.instance }} is down",
            "Prometheus could not scrape {{ $labels.job }} at {{ $labels.instance }} for 2 minutes "
            "(up = {{ $value }}).",
            dashboard_url("overview")),
        Alert(
            "RedisDown",
            "redis_up == 0",
            "2m", "warning",
            "Redis does not answer its exporter",
            "redis_exporter at {{ $labels.instance }} reports Redis down (redis_up = {{ $value }}) for 2 minutes: "
            "cache reads fall through to the database and Celery cannot queue tasks.",
            dashboard_url("cache_celery")),
        Alert(
            "CeleryTaskFailureRatioHigh",
            f"{n.celery_failed_ratio} > {num(t.CELERY_FAILURE_RATIO)}\n"
            f"and\n{n.celery_finished} >= {num(t.CELERY_FAILURE_MIN_TASKS)}",
            "5m", "warning",
            "Celery task {{ $labels.task }} fails too often",
            f"{{{{ $value | humanizePercentage }}}} of {{{{ $labels.task }}}} runs that finished in the last {w} "
            f"failed (threshold {human_percent(t.CELERY_FAILURE_RATIO)}, counted from "
            f"{num(t.CELERY_FAILURE_MIN_TASKS)} runs in the window).",
            dashboard_url("cache_celery", "var-task={{ $labels.task }}")),
        Alert(
            "CeleryQueueBacklog",
            f"max by (queue) ({CELERY_QUEUE}) > {num(t.CELERY_QUEUE_BACKLOG)}",
            "10m", "warning",
            "Celery queue {{ $labels.queue }} is backing up",
            f"{{{{ $value | printf \"%.0f\" }}}} messages wait in queue {{{{ $labels.queue }}}} "
            f"(threshold {num(t.CELERY_QUEUE_BACKLOG)}) for 10 minutes: workers are down, stuck or too few.",
            dashboard_url("cache_celery")),
        Alert(
            "CacheHitRatioCollapse",
            f"{n.cache_hit_ratio} < {num(t.CACHE_HIT_RATIO_FLOOR)}\n"
            f"and\n{n.cache_reads} >= {num(t.CACHE_MIN_LOOKUPS)}",
            "10m", "warning",
            f"Cache hit ratio below {human_percent(t.CACHE_HIT_RATIO_FLOOR)}",
            f"Only {{{{ $value | humanizePercentage }}}} of cache reads in the last {w} were hits "
            f"(floor {human_percent(t.CACHE_HIT_RATIO_FLOOR)}, counted from {num(t.CACHE_MIN_LOOKUPS)} reads) "
            "for 10 minutes: the database takes the load the cache should.",
            dashboard_url("cache_celery")),
    ])
    for target in t.TARGETS:
        views_query = "&".join(f"var-view={v}" for v in target.views)
        guard = f'{n.endpoint_requests}{{endpoint="{target.key}"}} >= {num(t.ENDPOINT_TARGET_MIN_REQUESTS)}'
        platform.rules.append(Alert(
            "EndpointLatencyOverTarget",
            f'{n.endpoint_latency_avg}{{endpoint="{target.key}"}} >= {num(target.target_ms / 1000)}\nand\n{guard}',
            "15m", "ticket",
            f"{target.name}: average latency misses its {target.target_ms} ms target",
            f"{target.name} ({', '.join(target.views)}) averaged {{{{ $value | humanizeDuration }}}} per GET "
            f"over the last {w} for 15 minutes; the guide's target is under {target.target_ms} ms "
            f"(excellent under {target.excellent_ms} ms).",
            dashboard_url("endpoints", views_query), {"endpoint": target.key}))
        platform.rules.append(Alert(
            "EndpointLatencyNeedsWork",
            f'{n.endpoint_latency_avg}{{endpoint="{target.key}"}} > {num(target.needs_work_ms / 1000)}\nand\n{guard}',
            "15m", "ticket",
            f"{target.name}: average latency in the guide's \"needs work\" band",
            f"{target.name} ({', '.join(target.views)}) averaged {{{{ $value | humanizeDuration }}}} per GET "
            f"over the last {w} for 15 minutes; above {target.needs_work_ms} ms the guide says it needs work.",
            dashboard_url("endpoints", views_query), {"endpoint": target.key}))

    slo = Group("studio.alerts.slo", [])
    period_days = duration_seconds(t.SLO_PERIOD) / 86400
    for b in t.SLO_BURN_RATE_WINDOWS:
        budget = f"{num(b.factor)} * (1 - {num(t.SLO_AVAILABILITY_OBJECTIVE)})"
        slo.rules.append(Alert(
            "AvailabilityErrorBudgetBurn",
            f"{Names.slo_availability(b.long)} > {budget}\nand\n{Names.slo_availability(b.short)} > {budget}",
            FOR_BY_LONG_WINDOW[b.long], b.severity,
            f"Availability error budget burning {num(b.factor)}x too fast ({b.long} and {b.short} windows)",
            f"{{{{ $value | humanizePercentage }}}} of responses over the last {b.long} were 5xx; the objective is "
            f"{human_percent(t.SLO_AVAILABILITY_OBJECTIVE)} good over {t.SLO_PERIOD}, and at this pace the "
            f"{t.SLO_PERIOD} error budget is gone in {num(round(period_days / b.factor, 1))} days.",
            dashboard_url("overview"), {"slo": "availability", "long": b.long, "short": b.short}))
    for b in t.SLO_BURN_RATE_WINDOWS:
        budget = f"{num(b.factor)} * (1 - {num(t.SLO_LATENCY_OBJECTIVE)})"
        slo.rules.append(Alert(
            "LatencyErrorBudgetBurn",
            f"{Names.slo_latency(b.long)} > {budget}\nand\n{Names.slo_latency(b.short)} > {budget}",
            FOR_BY_LONG_WINDOW[b.long], b.severity,
            f"{{{{ $labels.endpoint }}}} latency budget burning {num(b.factor)}x too fast "
            f"({b.long} and {b.short} windows)",
            f"{{{{ $value | humanizePercentage }}}} of {{{{ $labels.endpoint }}}} GET requests over the last {b.long} "
            f"were slower than the endpoint's target; the objective is {human_percent(t.SLO_LATENCY_OBJECTIVE)} "
            f"within target over {t.SLO_PERIOD}, and at this pace the budget is gone in "
            f"{num(round(period_days / b.factor, 1))} days.",
            dashboard_url("endpoints"), {"slo": "latency", "long": b.long, "short": b.short}))

    meta = Group("studio.alerts.meta", [
        Alert(
            "Watchdog",
            "vector(1)",
            "0m", "none",
            "Alerting pipeline heartbeat (always firing)",
            "Always firing (value {{ $value }}) so that the dead-man's-switch receiver hears from Alertmanager "
            "every minute; silence from it means Prometheus, Alertmanager or the path between them is broken.",
            dashboard_url("overview")),
        Alert(
            "PrometheusRuleFailures",
            "sum by (rule_group) (increase(prometheus_rule_evaluation_failures_total[5m])) > 0",
            "10m", "warning",
            "Prometheus fails to evaluate rule group {{ $labels.rule_group }}",
            '{{ printf "%.0f" $value }} evaluations of {{ $labels.rule_group }} failed in the last 5m, '
            "for 10 minutes: its alerts cannot fire.",
            dashboard_url("overview")),
        Alert(
            "AlertmanagerNotificationsFailing",
            "sum by (integration) (increase(alertmanager_notifications_failed_total[5m])) > 0",
            "10m", "warning",
            "Alertmanager cannot deliver {{ $labels.integration }} notifications",
            '{{ printf "%.0f" $value }} {{ $labels.integration }} notifications failed in the last 5m, '
            "for 10 minutes: pages on that channel are not arriving.",
            dashboard_url("overview")),
    ])
    return [guide, platform, slo, meta]


def all_alerts(t: ModuleType) -> list[Alert]:
    return [rule for group in alert_groups(t) for rule in group.rules]


# ============================================================================================
# Go template rendering (the subset the annotations use), for expected annotations in the tests
# ============================================================================================


def go_g4(v: float) -> str:
    """Go's fmt %.4g."""
    if math.isnan(v) or math.isinf(v):
        return {True: "+Inf", False: "-Inf"}[v > 0] if math.isinf(v) else "NaN"
    return f"{v:.4g}"


def humanize_duration(v: float) -> str:
    """Prometheus's humanizeDuration template function."""
    if math.isnan(v) or math.isinf(v):
        return go_g4(v)
    if v == 0:
        return "0s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        duration = int(v)
        seconds, mins = duration % 60, (duration // 60) % 60
        hours, days = (duration // 3600) % 24, duration // 86400
        if days:
            return f"{sign}{days}d {hours}h {mins}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {mins}m {seconds}s"
        if mins:
            return f"{sign}{mins}m {seconds}s"
        return f"{sign}{go_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return f"{go_g4(v)}{prefix}s"


def go_value(v: float) -> str:
    """fmt.Sprint of a float64 ({{ $value }})."""
    if float(v).is_integer() and abs(v) < 1e21:
        return str(int(v))
    return repr(float(v))


def render_template(text: str, labels: dict[str, str], value: float) -> str:
    def one(match: re.Match) -> str:
        action = " ".join(match.group(1).split())
        if m := re.fullmatch(r"\$labels\.(\w+)", action):
            return labels.get(m.group(1), "")
        if action == "$value":
            return go_value(value)
        if action in ('printf "%.0f" $value', '$value | printf "%.0f"'):
            return f"{value:.0f}"
        if action == "$value | humanizePercentage":
            return go_g4(value * 100) + "%"
        if action == "$value | humanizeDuration":
            return humanize_duration(value)
        raise ValueError(f"the test renderer does not know the template action {{{{ {action} }}}}")

    return re.sub(r"\{\{(.*?)\}\}", one, text)


# ============================================================================================
# promtool unit tests
# ============================================================================================


def steady(per_minute: float, length: int, start: float = 0) -> str:
    """A counter growing by `per_minute` every minute, minutes 0..length."""
    return f"{num(start)}+{num(round(per_minute, 9))}x{length}"


def jump(before: int, value: float, after: int) -> str:
    """0 for minutes 0..before, then `value` (all at once) for `after` more minutes."""
    return f"0x{before} {num(value)}x{after - 1}"


def born(at: int, value: float, after: int) -> str:
    """No series before minute `at`, then `value` from minute `at` on (a series born with its first events)."""
    return f"_x{at} {num(value)}x{after - 1}"


def gauge(value: float, length: int) -> str:
    return f"{num(value)}x{length}"


def labels_text(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def series(metric: str, labels: dict[str, str], values: str) -> dict:
    return {"series": f"{metric}{labels_text(labels)}", "values": values}


def histogram(metric: str, labels: dict[str, str], buckets: tuple[float, ...],
              per_minute: list[tuple[float, float]], length: int | None,
              extra: tuple[tuple[float, float], int] | None = None) -> list[dict]:
    """Bucket, _sum and _count series for `per_minute` [(seconds, how many)] observations each minute.

    `extra` ((seconds, how many), minute) adds observations once, at that minute.  With `length`
    None the values are the per-minute amounts themselves (for born()).
    """
    def values(of) -> str:
        inc = of(per_minute)
        if length is None:
            return num(round(inc, 9))
        if extra is None:
            return steady(inc, length)
        (observation, at) = extra
        once = of([observation])
        return (f"{steady(inc, at - 1)} {num(round(inc * at + once, 9))}"
                f"+{num(round(inc, 9))}x{length - at}")

    out = []
    for edge in buckets:
        out.append(series(f"{metric}_bucket", {**labels, "le": le_label(edge)},
                          values(lambda obs, edge=edge: sum(c for s, c in obs if s <= edge))))
    out.append(series(f"{metric}_sum", labels, values(lambda obs: sum(s * c for s, c in obs))))
    out.append(series(f"{metric}_count", labels, values(lambda obs: sum(c for s, c in obs))))
    return out


def histogram_quantile(q: float, buckets: tuple[float, ...], per_minute: list[tuple[float, float]]) -> float:
    """Prometheus's histogram_quantile on these observations (same linear interpolation)."""
    counts = [(edge, sum(c for s, c in per_minute if s <= edge)) for edge in buckets]
    total = counts[-1][1]
    rank = q * total
    for i, (edge, count) in enumerate(counts):
        if count >= rank:
            if math.isinf(edge):
                return counts[i - 1][0]
            start, below = (0.0, 0.0) if i == 0 else counts[i - 1]
            if i == 0 and edge <= 0:
                return edge
            return start + (edge - start) * ((rank - below) / (count - below))
    raise AssertionError("unreachable")


def just_over(ratio: float, scale: int) -> int:
    """The smallest count out of `scale` whose share is strictly above `ratio`."""
    x = round(ratio * scale, 6)
    count = math.floor(x) + 1
    assert 0 < count < scale, (ratio, scale)
    return count


def just_under(ratio: float, scale: int) -> int:
    """The largest count out of `scale` whose share is strictly below `ratio`."""
    x = round(ratio * scale, 6)
    count = math.ceil(x) - 1
    assert 0 <= count < scale, (ratio, scale)
    return count


def next_edge(seconds: float, buckets: tuple[float, ...]) -> float:
    return min(e for e in buckets if e > seconds)


class TestFile:
    def __init__(self, t: ModuleType, name: str, comment: str, evaluation_interval: str = "1m"):
        self.t = t
        self.evaluation_interval = evaluation_interval
        self.name = name
        self.comment = comment
        self.tests: list[dict] = []
        self.alerts = all_alerts(t)

    def rule(self, alertname: str, **static: str) -> Alert:
        found = [a for a in self.alerts
                 if a.alert == alertname and all(a.labels.get(k) == v for k, v in static.items())]
        if len(found) != 1:
            raise ValueError(f"{alertname} {static}: {len(found)} rules match")
        return found[0]

    @staticmethod
    def firing(rule: Alert, value: float, **series_labels: str) -> dict:
        labels = {**rule.all_labels, **series_labels}
        return {
            "exp_labels": labels,
            "exp_annotations": {k: render_template(v, series_labels, value) for k, v in rule.annotations.items()},
        }

    def add(self, name: str, input_series: list[dict], checks: list[tuple[str, str, list[dict]]],
            interval: str = "1m") -> None:
        self.tests.append({
            "name": name,
            "interval": interval,
            "input_series": input_series,
            "alert_rule_test": [
                {"eval_time": at, "alertname": alertname, "exp_alerts": expected}
                for alertname, at, expected in checks
            ],
        })

    def document(self, groups: list[Group]) -> dict:
        return {
            "rule_files": [f"../rules/{name}" for name in RULE_FILES],
            "evaluation_interval": self.evaluation_interval,
            # Recording rules first: the alerts read what they record at the same instant.
            "group_eval_order": [g.name for g in groups],
            "tests": self.tests,
        }


RULE_FILES = ("recording.yml", "alerts.yml")


def guide_tests(t: ModuleType) -> TestFile:
    f = TestFile(t, "guide.yml", "The guide's four alerts: just over fires, just under stays quiet; `for:` timing.")
    w = minutes(t.ALERT_WINDOW)
    length = 3 * w + 10  # minutes of input

    # --- ErrorSpike: N or more errors in the window ------------------------------------------
    spike = f.rule("ErrorSpike")
    n_err = t.ERROR_SPIKE_MIN_ERRORS
    at = w + 1  # the errors happen at this minute, all at once
    for count, fires in ((n_err, True), (n_err - 1, False)):
        first = count // 2 + count % 2
        inputs = [
            series(ERRORS, {"source": "request", "exception": "ValueError"}, jump(at - 1, first, length - at)),
            series(ERRORS, {"source": "task", "exception": "TimeoutError"}, jump(at - 1, count - first, length - at)),
        ]
        exp = [f.firing(spike, count)] if fires else []
        f.add(f"ErrorSpike: {count} errors in {t.ALERT_WINDOW} across two sources ({'fires' if fires else 'quiet'})",
              inputs, [
                  ("ErrorSpike", f"{at - 1}m", []),
                  ("ErrorSpike", f"{at}m", exp),  # for: 0 -> at once
                  ("ErrorSpike", f"{at + w - 1}m", exp),  # still inside the window
                  ("ErrorSpike", f"{at + w}m", []),  # the errors left the window
              ])
    for count, fires in ((n_err, True), (n_err - 1, False)):
        inputs = [
            series("up", APP_TARGET, gauge(1, length)),  # Prometheus has been scraping the app all along
            series(ERRORS, {"source": "request", "exception": "ValueError", **APP_TARGET}, gauge(0, length)),
            # A new exception type: its series appears with its first errors and must count in full.
            series(ERRORS, {"source": "log", "exception": "BrandNewError", **APP_TARGET},
                   born(at, count, length - at)),
        ]
        exp = [f.firing(spike, count)] if fires else []
        f.add(f"ErrorSpike: {count} errors of a new exception type ({'fires' if fires else 'quiet'})",
              inputs, [("ErrorSpike", f"{at}m", exp), ("ErrorSpike", f"{at + w}m", [])])
    inputs = [
        # Prometheus starts scraping a process that has been up for a while: the lifetime totals it
        # finds are not new errors (no alert after a Prometheus restart), only what comes after is.
        series("up", APP_TARGET, born(at, 1, length - at)),
        series(ERRORS, {"source": "request", "exception": "ValueError", **APP_TARGET},
               born(at, n_err * n_err, length - at)),
    ]
    f.add("ErrorSpike: old totals of a process Prometheus only now sees are not a spike (quiet)",
          inputs, [("ErrorSpike", f"{m}m", []) for m in range(at, at + w + 1)])
    # Samples every 2 minutes, evaluations every minute: at an odd minute the newest sample is a minute
    # old and increase() would extrapolate (9 errors read as 11.25).  The count must stay exact.
    for count, fires in ((n_err, True), (n_err - 1, False)):
        inputs = [series(ERRORS, {"source": "request", "exception": "ValueError", **APP_TARGET},
                         f"0 0 {num(count)}x{length // 2}")]
        exp = [f.firing(spike, count)] if fires else []
        f.add(f"ErrorSpike: {count} errors counted exactly between sparse samples ({'fires' if fires else 'quiet'})",
              inputs, [("ErrorSpike", "3m", []), ("ErrorSpike", "4m", exp), ("ErrorSpike", "5m", exp)],
              interval="2m")

    # --- SlowTransactions: P95 over the threshold --------------------------------------------
    slow = f.rule("SlowTransactions")
    p95 = t.SLOW_TRANSACTION_P95_SECONDS
    q = t.SLOW_TRANSACTION_QUANTILE
    buckets = t.REQUEST_LATENCY_BUCKETS
    fast = buckets[0]
    over_share = just_over(1 - q, TEST_SCALE)  # requests per TEST_SCALE slower than the threshold
    cases = [
        ("every request takes 1.2x the threshold", [(p95 * 1.2, TEST_SCALE)], True),
        (f"{over_share} per {TEST_SCALE} requests over the threshold",
         [(fast, TEST_SCALE - over_share), (p95 * 1.2, over_share)], True),
        ("every request takes 0.9x the threshold", [(p95 * 0.9, TEST_SCALE)], False),
    ]
    assert p95 < p95 * 1.2 <= next_edge(p95, buckets) and p95 * 0.9 <= p95
    for label, observations, fires in cases:
        value = histogram_quantile(q, buckets, observations)
        assert (value > p95) == fires, (label, value)
        inputs = histogram(REQ_LATENCY, {"view": t.TARGETS[0].view, "method": "GET"}, buckets, observations, length)
        exp = [f.firing(slow, value)] if fires else []
        checks = [("SlowTransactions", f"{3 * w}m", exp)]
        if fires:
            # Two samples make a rate at minute 1; `for: 1m` holds it back until minute 2.
            checks = [("SlowTransactions", "1m", []), ("SlowTransactions", "2m", exp)] + checks
        f.add(f"SlowTransactions: {label} ({'fires' if fires else 'quiet'})", inputs, checks)

    # --- HighErrorRate: 5xx share above the ratio, with enough traffic --------------------------
    high = f.rule("HighErrorRate")
    ratio = t.HIGH_ERROR_RATE_RATIO
    view = {"view": t.TARGETS[0].view, "method": "GET"}
    for bad, fires in ((just_over(ratio, TEST_SCALE), True), (just_under(ratio, TEST_SCALE), False)):
        client_errors = TEST_SCALE // 10  # 4xx are not errors of ours
        inputs = [
            series(RESPONSES, {"status": "200", **view}, steady(TEST_SCALE - bad - client_errors, length)),
            series(RESPONSES, {"status": "404", **view}, steady(client_errors, length)),
            series(RESPONSES, {"status": "500", **view}, steady(bad, length)),
        ]
        exp = [f.firing(high, bad / TEST_SCALE)] if fires else []
        checks = [("HighErrorRate", f"{3 * w}m", exp)]
        if fires:
            checks = [("HighErrorRate", "1m", []), ("HighErrorRate", "2m", exp)] + checks
        f.add(f"HighErrorRate: {bad} 5xx per {TEST_SCALE} responses ({'fires' if fires else 'quiet'})",
              inputs, checks)
    min_req = t.HIGH_ERROR_RATE_MIN_REQUESTS
    for total, fires in ((min_req, True), (min_req - 1, False)):
        # Every response a 5xx, all in one burst: only the minimum-traffic guard decides.
        inputs = [
            series(RESPONSES, {"status": "200", **view}, gauge(0, length)),
            series(RESPONSES, {"status": "503", **view}, jump(w, total, length - w)),
        ]
        exp = [f.firing(high, 1.0)] if fires else []
        f.add(f"HighErrorRate: minimum traffic guard, {total} requests all failing ({'fires' if fires else 'quiet'})",
              inputs, [("HighErrorRate", f"{w + 1}m", []), ("HighErrorRate", f"{w + 2}m", exp)])
    inputs = [
        series("up", APP_TARGET, gauge(1, length)),
        series(RESPONSES, {"status": "200", **view, **APP_TARGET}, gauge(0, length)),
        # The first 5xx of a view creates its series: the burst must count in full.
        series(RESPONSES, {"status": "500", "view": t.TARGETS[1].view, "method": "GET", **APP_TARGET},
               born(w, min_req, length - w)),
    ]
    f.add("HighErrorRate: a view's first 5xx responses create their series and still count (fires)",
          inputs, [("HighErrorRate", f"{w}m", []), ("HighErrorRate", f"{w + 1}m", [f.firing(high, 1.0)])])

    # --- DatabaseIssues: any query slower than the threshold (a bucket edge) -----------------
    dbi = f.rule("DatabaseIssues")
    db_buckets = db_query_buckets(t)
    slow_q = t.DB_SLOW_QUERY_SECONDS
    assert slow_q < slow_q * 1.2 <= next_edge(slow_q, db_buckets)
    db = {"alias": "default", "vendor": "postgresql"}
    at = w * 2
    background = [(db_buckets[0], TEST_SCALE)]
    # One extra query of 1.2x the threshold at minute `at` among fast ones, then only fast ones again.
    spiked = histogram(DB_DURATION, db, db_buckets, background, length, extra=((slow_q * 1.2, 1), at))
    exp = [f.firing(dbi, 1, **db)]
    f.add("DatabaseIssues: one query of 1.2x the threshold among fast ones (fires for one window)", spiked, [
        ("DatabaseIssues", f"{at - 1}m", []),
        ("DatabaseIssues", f"{at}m", exp),  # for: 0 -> at once
        ("DatabaseIssues", f"{at + w - 1}m", exp),
        ("DatabaseIssues", f"{at + w}m", []),
    ])
    inputs = histogram(DB_DURATION, db, db_buckets, [(slow_q * 0.8, TEST_SCALE)], length)
    f.add("DatabaseIssues: only queries of 0.8x the threshold (quiet)", inputs,
          [("DatabaseIssues", f"{m}m", []) for m in (w, 2 * w, 3 * w)])
    inputs = histogram(DB_DURATION, db, db_buckets, [(slow_q, TEST_SCALE)], length)
    f.add("DatabaseIssues: queries exactly at the threshold are not slower than it (quiet)", inputs,
          [("DatabaseIssues", f"{m}m", []) for m in (w, 2 * w, 3 * w)])
    replica = {"alias": "replica", "vendor": "postgresql"}
    inputs = [series("up", APP_TARGET, gauge(1, length))]
    inputs += [{"series": x["series"], "values": born(at, float(x["values"]), length - at)}
               for x in histogram(DB_DURATION, {**replica, **APP_TARGET}, db_buckets, [(slow_q * 1.2, 1)], None)]
    f.add("DatabaseIssues: the very first query of a new database is slow (fires)", inputs, [
        ("DatabaseIssues", f"{at}m", [f.firing(dbi, 1, **replica)]),  # `sum by (alias, vendor)`
        ("DatabaseIssues", f"{at + w}m", []),
    ])
    return f


def platform_tests(t: ModuleType) -> TestFile:
    f = TestFile(t, "platform.yml", "Alerts beyond the guide: targets, Redis, Celery, cache, the target table.")
    w = minutes(t.ALERT_WINDOW)
    length = 40

    # --- targets ------------------------------------------------------------------------------
    down = f.rule("TargetDown")
    worker = {"job": "studio-worker", "instance": "worker:9808"}
    f.add("TargetDown: a target stops answering (fires after 2m)",
          [series("up", worker, "1x4 0x20")], [
              ("TargetDown", "6m", []), ("TargetDown", "7m", [f.firing(down, 0, **worker)])])
    f.add("TargetDown: every target answers (quiet)", [series("up", worker, gauge(1, length))],
          [("TargetDown", "10m", [])])
    app_down = f.rule("StudioAppDown")
    app1, app2 = ({"job": APP_JOB, "instance": f"app-{i}:8000"} for i in (1, 2))
    f.add("StudioAppDown: every app instance down (fires after 1m)",
          [series("up", app1, "1x4 0x20"), series("up", app2, "1x4 0x20")], [
              ("StudioAppDown", "5m", []), ("StudioAppDown", "6m", [f.firing(app_down, 1)])])
    f.add("StudioAppDown: one of two app instances down (quiet)",
          [series("up", app1, "1x4 0x20"), series("up", app2, gauge(1, 25))], [("StudioAppDown", "10m", [])])
    f.add("StudioAppDown: Prometheus has no app target at all (fires)",
          [series("up", worker, gauge(1, 10))], [("StudioAppDown", "0m", []), ("StudioAppDown", "1m",
                                                                               [f.firing(app_down, 1)])])
    redis_down = f.rule("RedisDown")
    rx = {"job": "redis", "instance": "redis-exporter:9121"}
    f.add("RedisDown: Redis stops answering its exporter (fires after 2m)",
          [series("redis_up", rx, "1x4 0x20")], [
              ("RedisDown", "6m", []), ("RedisDown", "7m", [f.firing(redis_down, 0, **rx)])])
    f.add("RedisDown: Redis up (quiet)", [series("redis_up", rx, gauge(1, 20))], [("RedisDown", "10m", [])])

    # --- Celery ---------------------------------------------------------------------------------
    fail = f.rule("CeleryTaskFailureRatioHigh")
    task = {"task": "courses.tasks.send_enrollment_email"}
    ratio = t.CELERY_FAILURE_RATIO
    for failed, fires in ((just_over(ratio, TEST_SCALE), True), (just_under(ratio, TEST_SCALE), False)):
        inputs = [series(CELERY_SUCCEEDED, task, steady(TEST_SCALE - failed, length)),
                  series(CELERY_FAILED, task, steady(failed, length))]
        exp = [f.firing(fail, failed / TEST_SCALE, **task)] if fires else []
        checks = [("CeleryTaskFailureRatioHigh", "20m", exp)]
        if fires:  # true from minute 1, `for: 5m`
            checks = [("CeleryTaskFailureRatioHigh", "5m", []), ("CeleryTaskFailureRatioHigh", "6m", exp)] + checks
        f.add(f"CeleryTaskFailureRatioHigh: {failed} of {TEST_SCALE} runs fail ({'fires' if fires else 'quiet'})",
              inputs, checks)
    min_tasks = t.CELERY_FAILURE_MIN_TASKS
    enough, too_few = math.ceil(min_tasks / w), math.ceil(min_tasks / w) - 1
    for per_minute, fires in ((enough, True), (too_few, False)):
        inputs = [series(CELERY_FAILED, task, steady(per_minute, length))]  # every run fails; no success yet
        exp = [f.firing(fail, 1.0, **task)] if fires else []
        f.add(f"CeleryTaskFailureRatioHigh: minimum-runs guard, {per_minute * w} runs in {t.ALERT_WINDOW}, all "
              f"failing ({'fires' if fires else 'quiet'})", inputs, [("CeleryTaskFailureRatioHigh", "20m", exp)])
    backlog = f.rule("CeleryQueueBacklog")
    queue = {"queue": "celery"}
    for depth, fires in ((t.CELERY_QUEUE_BACKLOG + 1, True), (t.CELERY_QUEUE_BACKLOG, False)):
        inputs = [series(CELERY_QUEUE, {**queue, "job": "studio-worker", "instance": "worker:9808"},
                         gauge(depth, length))]
        exp = [f.firing(backlog, depth, **queue)] if fires else []
        checks = [("CeleryQueueBacklog", "20m", exp)]
        if fires:
            checks = [("CeleryQueueBacklog", "9m", []), ("CeleryQueueBacklog", "10m", exp)] + checks
        f.add(f"CeleryQueueBacklog: {depth} messages waiting ({'fires' if fires else 'quiet'})", inputs, checks)

    # --- cache --------------------------------------------------------------------------------
    collapse = f.rule("CacheHitRatioCollapse")
    floor = t.CACHE_HIT_RATIO_FLOOR
    for hits, fires in ((just_under(floor, TEST_SCALE), True), (just_over(floor, TEST_SCALE), False)):
        inputs = [
            series(CACHE_OPS, {"operation": "get", "result": "hit"}, steady(hits, length)),
            series(CACHE_OPS, {"operation": "get", "result": "miss"}, steady(TEST_SCALE - hits, length)),
            series(CACHE_OPS, {"operation": "set", "result": "set"}, steady(TEST_SCALE, length)),  # not a read
        ]
        exp = [f.firing(collapse, hits / TEST_SCALE)] if fires else []
        checks = [("CacheHitRatioCollapse", "20m", exp)]
        if fires:  # true from minute 1, `for: 10m`
            checks = [("CacheHitRatioCollapse", "10m", []), ("CacheHitRatioCollapse", "11m", exp)] + checks
        f.add(f"CacheHitRatioCollapse: {hits} hits per {TEST_SCALE} reads ({'fires' if fires else 'quiet'})",
              inputs, checks)
    min_reads = t.CACHE_MIN_LOOKUPS
    for per_minute, fires in ((math.ceil(min_reads / w), True), (math.ceil(min_reads / w) - 1, False)):
        inputs = [series(CACHE_OPS, {"operation": "get", "result": "miss"}, steady(per_minute, length))]
        exp = [f.firing(collapse, 0.0)] if fires else []
        f.add(f"CacheHitRatioCollapse: minimum-reads guard, {per_minute * w} reads in {t.ALERT_WINDOW}, all "
              f"misses ({'fires' if fires else 'quiet'})", inputs, [("CacheHitRatioCollapse", "20m", exp)])

    # --- the guide's target table, per endpoint (averages); every endpoint in one test ------------
    def endpoint_inputs(avg_ms_of) -> list[dict]:
        inputs = []
        for target in t.TARGETS:
            avg_ms = avg_ms_of(target)
            share = [TEST_SCALE // len(target.views)] * len(target.views)
            share[0] += TEST_SCALE - sum(share)
            for view, requests in zip(target.views, share, strict=True):  # an endpoint's views are summed
                inputs += [
                    series(f"{REQ_LATENCY}_sum", {"view": view, "method": "GET"},
                           steady(requests * avg_ms / 1000, length)),
                    series(f"{REQ_LATENCY}_count", {"view": view, "method": "GET"}, steady(requests, length)),
                ]
            # Writes are not in the target table: a slow POST does not move the GET average.
            inputs += [series(f"{REQ_LATENCY}_sum", {"view": target.view, "method": "POST"},
                              steady(TEST_SCALE * target.needs_work_ms * 2 / 1000, length)),
                       series(f"{REQ_LATENCY}_count", {"view": target.view, "method": "POST"},
                              steady(TEST_SCALE, length))]
        return inputs

    def endpoint_alerts(alertname: str, avg_ms_of) -> list[dict]:
        return [f.firing(f.rule(alertname, endpoint=x.key), avg_ms_of(x) / 1000, endpoint=x.key) for x in t.TARGETS]

    def over(x):
        return x.target_ms + 1

    def under(x):
        return x.target_ms - 1

    exp = endpoint_alerts("EndpointLatencyOverTarget", over)
    f.add("EndpointLatencyOverTarget: every endpoint averaging 1 ms over its target (fires after 15m)",
          endpoint_inputs(over), [("EndpointLatencyOverTarget", "15m", []), ("EndpointLatencyOverTarget", "16m", exp),
                                  ("EndpointLatencyOverTarget", "30m", exp), ("EndpointLatencyNeedsWork", "30m", [])])
    f.add("EndpointLatencyOverTarget: every endpoint averaging 1 ms under its target (quiet)",
          endpoint_inputs(under), [("EndpointLatencyOverTarget", "30m", [])])

    def needs_work(x):
        return x.needs_work_ms + 1

    def at_needs_work(x):
        return x.needs_work_ms

    f.add("EndpointLatencyNeedsWork: every endpoint averaging 1 ms over its needs-work line (fires after 15m)",
          endpoint_inputs(needs_work), [
              ("EndpointLatencyNeedsWork", "15m", []),
              ("EndpointLatencyNeedsWork", "16m", endpoint_alerts("EndpointLatencyNeedsWork", needs_work)),
              # Both fire; Alertmanager inhibits OverTarget for the same endpoint.
              ("EndpointLatencyOverTarget", "30m", endpoint_alerts("EndpointLatencyOverTarget", needs_work))])
    f.add("EndpointLatencyNeedsWork: every endpoint averaging exactly its needs-work line (quiet)",
          endpoint_inputs(at_needs_work), [("EndpointLatencyNeedsWork", "30m", [])])
    target = t.TARGETS[0]
    min_req = t.ENDPOINT_TARGET_MIN_REQUESTS
    rule = f.rule("EndpointLatencyOverTarget", endpoint=target.key)
    for per_minute, fires in ((math.ceil(min_req / w), True), (math.ceil(min_req / w) - 1, False)):
        slow_ms = target.needs_work_ms * 2
        inputs = [
            series(f"{REQ_LATENCY}_sum", {"view": target.view, "method": "GET"},
                   steady(per_minute * slow_ms / 1000, length)),
            series(f"{REQ_LATENCY}_count", {"view": target.view, "method": "GET"}, steady(per_minute, length)),
        ]
        exp = [f.firing(rule, slow_ms / 1000, endpoint=target.key)] if fires else []
        f.add(f"EndpointLatencyOverTarget: minimum-traffic guard, {per_minute * w} slow requests in "
              f"{t.ALERT_WINDOW} ({'fires' if fires else 'quiet'})", inputs, [("EndpointLatencyOverTarget", "30m", exp)])

    # --- meta -----------------------------------------------------------------------------------
    f.add("Watchdog: always firing", [], [("Watchdog", "0m", [f.firing(f.rule("Watchdog"), 1)]),
                                           ("Watchdog", "30m", [f.firing(f.rule("Watchdog"), 1)])])
    rf = f.rule("PrometheusRuleFailures")
    grp = {"rule_group": "/etc/prometheus/rules/alerts.yml;studio.alerts.guide"}
    labels = {**grp, "job": "prometheus", "instance": "localhost:9090"}
    f.add("PrometheusRuleFailures: a rule group fails at every evaluation (fires after 10m)",
          [series("prometheus_rule_evaluation_failures_total", labels, steady(1, length))], [
              ("PrometheusRuleFailures", "10m", []),
              ("PrometheusRuleFailures", "11m", [f.firing(rf, w, **grp)])])
    f.add("PrometheusRuleFailures: one failed evaluation (quiet)",
          [series("prometheus_rule_evaluation_failures_total", labels, "0x4 1x30")],
          [("PrometheusRuleFailures", f"{m}m", []) for m in range(5, 20)])
    nf = f.rule("AlertmanagerNotificationsFailing")
    integ = {"integration": "slack"}
    labels = {**integ, "job": "alertmanager", "instance": "alertmanager:9093"}
    f.add("AlertmanagerNotificationsFailing: Slack rejects every notification (fires after 10m)",
          [series("alertmanager_notifications_failed_total", labels, steady(1, length))], [
              ("AlertmanagerNotificationsFailing", "10m", []),
              ("AlertmanagerNotificationsFailing", "11m", [f.firing(nf, w, **integ)])])
    f.add("AlertmanagerNotificationsFailing: no failures (quiet)",
          [series("alertmanager_notifications_failed_total", labels, gauge(0, length))],
          [("AlertmanagerNotificationsFailing", "20m", [])])
    return f


def slo_tests(t: ModuleType) -> TestFile:
    # Rules are evaluated every SLO_TEST_EVALUATION here (not every minute): the burn-rate windows are
    # hours long, and this keeps `promtool test rules` quick.  Inputs are still one sample a minute.
    f = TestFile(t, "slo.yml", "Multiwindow, multi-burn-rate SLO alerts: each window pair just over and just under.",
                 evaluation_interval=SLO_TEST_EVALUATION)
    scale = TEST_SCALE_SLO
    step = minutes(SLO_TEST_EVALUATION)

    def fires_at(b) -> int:
        # Both windows hold from the first evaluation that has two samples (minute `step`); the alert
        # fires at the first evaluation at least `for:` later.
        return step + math.ceil(minutes(FOR_BY_LONG_WINDOW[b.long]) / step) * step

    def eval_minute(b) -> int:
        return fires_at(b)

    for b in t.SLO_BURN_RATE_WINDOWS:
        # At this pair's evaluation time no slower pair (lower factor, also true at this pace) fires yet.
        slower = [o for o in t.SLO_BURN_RATE_WINDOWS if o.factor < b.factor]
        assert all(fires_at(o) > eval_minute(b) for o in slower), b

    # --- availability ---------------------------------------------------------------------------
    view = {"view": t.TARGETS[0].view, "method": "GET"}
    for b in t.SLO_BURN_RATE_WINDOWS:
        budget = b.factor * (1 - t.SLO_AVAILABILITY_OBJECTIVE)
        rule = f.rule("AvailabilityErrorBudgetBurn", long=b.long)
        at = eval_minute(b)
        for bad, fires in ((just_over(budget, scale), True), (just_under(budget, scale), False)):
            inputs = [series(RESPONSES, {"status": "200", **view}, steady(scale - bad, at + 1)),
                      series(RESPONSES, {"status": "502", **view}, steady(bad, at + 1))]
            # A faster pair would also fire at this pace only if its factor were lower: it is not.
            exp = [f.firing(rule, bad / scale)] if fires else []
            f.add(f"AvailabilityErrorBudgetBurn {b.long}/{b.short} ({num(b.factor)}x): {bad} of {scale} responses "
                  f"5xx ({'fires' if fires else 'quiet'})", inputs, [("AvailabilityErrorBudgetBurn", f"{at}m", exp)])

    # --- latency, per endpoint --------------------------------------------------------------------
    buckets = t.REQUEST_LATENCY_BUCKETS
    for index, b in enumerate(t.SLO_BURN_RATE_WINDOWS):
        budget = b.factor * (1 - t.SLO_LATENCY_OBJECTIVE)
        rule = f.rule("LatencyErrorBudgetBurn", long=b.long)
        at = eval_minute(b)
        for target in (t.TARGETS if index == 0 else t.TARGETS[:1]):
            edge = target.target_ms / 1000
            for slow, fires in ((just_over(budget, TEST_SCALE), True), (just_under(budget, TEST_SCALE), False)):
                # Good requests take exactly the target (a bucket edge: they count as within it).
                observations = [(edge, TEST_SCALE - slow), ((target.target_ms + 1) / 1000, slow)]
                inputs = []
                for v in target.views:  # every view of the endpoint: they are summed
                    inputs += histogram(REQ_LATENCY, {"view": v, "method": "GET"}, buckets, observations, at + 1)
                total = TEST_SCALE * len(target.views)
                exp = [f.firing(rule, slow / TEST_SCALE, endpoint=target.key)] if fires else []
                f.add(f"LatencyErrorBudgetBurn {b.long}/{b.short} ({num(b.factor)}x): {target.name}, {slow} of "
                      f"{total} GETs over {target.target_ms} ms ({'fires' if fires else 'quiet'})",
                      inputs, [("LatencyErrorBudgetBurn", f"{at}m", exp)])
    return f


def test_files(t: ModuleType) -> list[TestFile]:
    return [guide_tests(t), platform_tests(t), slo_tests(t)]


# ============================================================================================
# Output
# ============================================================================================


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data) -> bool:  # spell every repeated expectation out: no &id001 anchors
        return True


def _str_representer(dumper: yaml.SafeDumper, data: str):
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str_representer)


def dump(document: dict, comment: str = "") -> str:
    text = yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=4096,
                     allow_unicode=True)
    return HEADER + (f"# {comment}\n" if comment else "") + text


def render_all(t: ModuleType = THRESHOLDS, rules_thresholds: ModuleType | None = None) -> dict[Path, str]:
    """Every generated file, path (relative to the repository) -> text.

    `rules_thresholds` renders the rules from other numbers than the tests (to prove the tests catch it).
    """
    rt = rules_thresholds or t
    recording, alerting = recording_groups(rt), alert_groups(rt)
    out = {
        RULES_DIR / "recording.yml": dump(
            {"groups": [{"name": g.name, "rules": [r.to_yaml() for r in g.rules]} for g in recording]},
            "Recording rules: every expression the alerts and the dashboards share."),
        RULES_DIR / "alerts.yml": dump(
            {"groups": [{"name": g.name, "rules": [r.to_yaml() for r in g.rules]} for g in alerting]},
            "Alerting rules.  Labels: severity (page|warning|ticket|none), channels (Alertmanager routes on it)."),
    }
    groups = recording_groups(t) + alert_groups(t)
    for tf in test_files(t):
        out[TESTS_DIR / tf.name] = dump(tf.document(groups), tf.comment)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a committed file differs from a fresh render")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root to write to / check (default: this one)")
    args = parser.parse_args(argv)
    rendered = render_all()
    generated_dirs = {path.parent for path in rendered}
    if args.check:
        drifted = []
        for path, text in rendered.items():
            target = args.root / path
            current = target.read_text() if target.exists() else ""
            if current != text:
                drifted.append(path)
                sys.stdout.writelines(difflib.unified_diff(
                    current.splitlines(True), text.splitlines(True), f"{path} (committed)", f"{path} (rendered)"))
        for directory in generated_dirs:
            for extra in sorted((args.root / directory).glob("*.yml")):
                rel = extra.relative_to(args.root)
                if rel not in rendered and extra.read_text().startswith(HEADER):
                    drifted.append(rel)
                    print(f"{rel}: generated file that the generator no longer writes")
        if drifted:
            print(f"\n{len(drifted)} generated file(s) drifted from prometheus/generate_rules.py and "
                  f"app/thresholds.py: {', '.join(map(str, drifted))}\n"
                  "Run `.venv/bin/python prometheus/generate_rules.py` and commit the result.", file=sys.stderr)
            return 1
        return 0
    for directory in generated_dirs:
        (args.root / directory).mkdir(parents=True, exist_ok=True)
        for stale in (args.root / directory).glob("*.yml"):
            if stale.relative_to(args.root) not in rendered and stale.read_text().startswith(HEADER):
                stale.unlink()
    for path, text in rendered.items():
        (args.root / path).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
