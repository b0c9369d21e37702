"""The single source of truth for every latency target and alert threshold.

Importable without Django (plain Python, no third-party imports) so that the Prometheus rule
generator, the Grafana dashboard generator, the Locust grading and ``manage.py benchmark`` all
read the same numbers.  No other file in the repository may write these numbers down.
"""
from __future__ import annotations

from dataclasses import dataclass

# --------------------------------------------------------------------------------------------
# The guide's benchmark target table (milliseconds, averages).
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointTarget:
    key: str  # stable identifier used in file names, rule names and JSON output
    name: str  # the guide's name for the endpoint
    views: tuple[str, ...]  # Django view labels (namespace:url_name); the first is the primary one
    path: str  # an example path, for humans and the benchmark command
    excellent_ms: int  # average below this is Excellent
    target_ms: int  # average below this meets Target
    needs_work_ms: int  # average above this Needs work

    @property
    def view(self) -> str:
        return self.views[0]

    def grade(self, avg_ms: float) -> str:
        return grade(self, avg_ms)


TARGETS: tuple[EndpointTarget, ...] = (
    EndpointTarget("course_list", "Course list", ("courses:course-list",),
                   "/api/v1/courses/", 100, 200, 500),
    EndpointTarget("course_detail", "Course detail", ("courses:course-detail",),
                   "/api/v1/courses/<slug>/", 75, 150, 400),
    EndpointTarget("user_profile", "User profile", ("accounts:user-profile", "accounts:me"),
                   "/api/v1/users/<id>/profile/", 50, 100, 300),
    EndpointTarget("forum_topics", "Forum topics", ("forum:topic-list",),
                   "/api/v1/forum/topics/", 125, 250, 600),
)

TARGETS_BY_KEY = {t.key: t for t in TARGETS}
TARGETS_BY_VIEW = {view: t for t in TARGETS for view in t.views}

# Grades, best first.  "over target" means the average misses Target but is not yet Needs work.
EXCELLENT, MEETS_TARGET, OVER_TARGET, NEEDS_WORK = "excellent", "target", "over target", "needs work"
GRADES = (EXCELLENT, MEETS_TARGET, OVER_TARGET, NEEDS_WORK)


# A load test fails when more than this share of its requests failed (Locust grading, docs/benchmarks.md).
LOADTEST_MAX_FAILURE_RATIO = 0.01


def grade(target: EndpointTarget, avg_ms: float) -> str:
    if avg_ms < target.excellent_ms:
        return EXCELLENT
    if avg_ms < target.target_ms:
        return MEETS_TARGET
    if avg_ms <= target.needs_work_ms:
        return OVER_TARGET
    return NEEDS_WORK


# --------------------------------------------------------------------------------------------
# The guide's four alerts.
# --------------------------------------------------------------------------------------------

ALERT_WINDOW = "5m"  # every one of the guide's alerts looks at five minutes
ALERT_WINDOW_SECONDS = 300

ERROR_SPIKE_MIN_ERRORS = 10  # ErrorSpike: 10 or more errors in 5 minutes
SLOW_TRANSACTION_P95_SECONDS = 1.0  # SlowTransactions: P95 request latency over 1 s
HIGH_ERROR_RATE_RATIO = 0.05  # HighErrorRate: 5xx share of all responses above 5 %
HIGH_ERROR_RATE_MIN_REQUESTS = 20  # ...only when at least this many requests came in the window
DB_SLOW_QUERY_SECONDS = 0.5  # DatabaseIssues: any query slower than 500 ms

# --------------------------------------------------------------------------------------------
# Histogram bucket edges.  Every target and threshold above must be an edge (a test checks),
# so that "share of requests under X" and "any query over Y" are exact, not interpolated.
# --------------------------------------------------------------------------------------------

REQUEST_LATENCY_BUCKETS: tuple[float, ...] = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75,
    1.0, 2.5, 5.0, 10.0, float("inf"),
)
DB_QUERY_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, float("inf"),
)


def ms(seconds: float) -> float:
    return seconds * 1000.0


def required_request_edges() -> set[float]:
    """Every request-latency number in this module, in seconds."""
    edges = {SLOW_TRANSACTION_P95_SECONDS}
    for t in TARGETS:
        edges |= {t.excellent_ms / 1000, t.target_ms / 1000, t.needs_work_ms / 1000}
    return edges


def required_db_edges() -> set[float]:
    return {DB_SLOW_QUERY_SECONDS}


# --- Alerting beyond the guide (issue 6) ---
# Read by prometheus/generate_rules.py (rules and their promtool tests) and by the dashboards.
# Windows are PromQL durations; `for:` durations and intervals live in the generator.

SLOW_TRANSACTION_QUANTILE = 0.95  # the "P95" of SLOW_TRANSACTION_P95_SECONDS

CELERY_FAILURE_RATIO = 0.10  # CeleryTaskFailureRatioHigh: failed / finished runs of one task above 10 %
CELERY_FAILURE_MIN_TASKS = 10  # ...only when at least this many runs of it finished in ALERT_WINDOW
CELERY_QUEUE_BACKLOG = 100  # CeleryQueueBacklog: more than this many messages waiting in one queue

CACHE_HIT_RATIO_FLOOR = 0.5  # CacheHitRatioCollapse: hits / (hits + misses) below 50 % ...
CACHE_MIN_LOOKUPS = 50  # ...only when at least this many cache reads came in ALERT_WINDOW

ENDPOINT_TARGET_MIN_REQUESTS = 30  # EndpointLatency*: an endpoint's average counts only from this many
#                                    requests in ALERT_WINDOW (the averages are the target table's)

# Service level objectives, measured on the app's HTTP responses.
SLO_AVAILABILITY_OBJECTIVE = 0.999  # share of responses that are not 5xx
SLO_LATENCY_OBJECTIVE = 0.95  # share of an endpoint's GET requests at or under its target_ms (a bucket edge)


@dataclass(frozen=True)
class BurnRateWindow:
    severity: str  # "page" or "ticket"
    factor: float  # burn rate: how many times faster than "exactly spend the budget in the SLO period"
    long: str  # long window: the budget really is burning
    short: str  # short window: ...and still is (resets the alert quickly after a fix)


SLO_PERIOD = "30d"
# The SRE workbook's multiwindow, multi-burn-rate table (chapter 5, "Alerting on SLOs").
SLO_BURN_RATE_WINDOWS: tuple[BurnRateWindow, ...] = (
    BurnRateWindow("page", 14.4, "1h", "5m"),  # 2 % of a 30-day budget in one hour
    BurnRateWindow("page", 6.0, "6h", "30m"),  # 5 % in six hours
    BurnRateWindow("ticket", 3.0, "1d", "2h"),  # 10 % in a day
    BurnRateWindow("ticket", 1.0, "3d", "6h"),  # 10 % in three days
)
