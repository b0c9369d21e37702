"""Alert thresholds and how long a condition must hold: the guide's four alerts, then the platform's.

Windows are PromQL durations.  `for:` durations are policy, not thresholds, but live here too, so that
everything a reader may want to change about when an alert fires is in one module.
"""
from __future__ import annotations

__all__ = [
    "ALERT_WINDOW",
    "ALERT_WINDOW_SECONDS",
    "ERROR_SPIKE_MIN_ERRORS",
    "SLOW_TRANSACTION_P95_SECONDS",
    "SLOW_TRANSACTION_QUANTILE",
    "HIGH_ERROR_RATE_RATIO",
    "HIGH_ERROR_RATE_MIN_REQUESTS",
    "DB_SLOW_QUERY_SECONDS",
    "COUNTER_HOLD",
    "FOR_GUIDE_COUNT",
    "FOR_GUIDE_RATIO",
    "CELERY_FAILURE_RATIO",
    "CELERY_FAILURE_MIN_TASKS",
    "CELERY_QUEUE_BACKLOG",
    "CACHE_HIT_RATIO_FLOOR",
    "CACHE_MIN_LOOKUPS",
    "SECURITY_EVENTS_TICKET",
    "SECURITY_EVENTS_FOR",
    "ENDPOINT_TARGET_MIN_REQUESTS",
    "REPLICA_DISAGREEMENT_FOR",
    "GUIDE_ALERTS",
]

# --- The guide's four alerts (section 5) ---------------------------------------------------------

ALERT_WINDOW = "5m"  # every one of the guide's alerts looks at five minutes
ALERT_WINDOW_SECONDS = 300

ERROR_SPIKE_MIN_ERRORS = 10  # ErrorSpike: 10 or more errors in 5 minutes
SLOW_TRANSACTION_P95_SECONDS = 1.0  # SlowTransactions: P95 request latency over 1 s
SLOW_TRANSACTION_QUANTILE = 0.95  # the "P95" of SLOW_TRANSACTION_P95_SECONDS
HIGH_ERROR_RATE_RATIO = 0.05  # HighErrorRate: 5xx share of all responses above 5 %
HIGH_ERROR_RATE_MIN_REQUESTS = 20  # ...only when at least this many requests came in the window
DB_SLOW_QUERY_SECONDS = 0.5  # DatabaseIssues: any query slower than 500 ms

# How long a counter's last value is held across failed scrapes (prometheus/rulesets/exact.py): the events of a
# longer gap cannot be placed in time and count as history, not as new.
COUNTER_HOLD = "10m"

FOR_GUIDE_COUNT = "0m"  # ErrorSpike, DatabaseIssues: the 5-minute count already is the evidence
FOR_GUIDE_RATIO = "1m"  # SlowTransactions, HighErrorRate: two evaluations a minute apart agree

# --- Beyond the guide ----------------------------------------------------------------------------

CELERY_FAILURE_RATIO = 0.10  # CeleryTaskFailureRatioHigh: failed / finished runs of one task above 10 %
CELERY_FAILURE_MIN_TASKS = 10  # ...only when at least this many runs of it finished in ALERT_WINDOW
CELERY_QUEUE_BACKLOG = 100  # CeleryQueueBacklog: more than this many messages waiting in one queue

CACHE_HIT_RATIO_FLOOR = 0.5  # CacheHitRatioCollapse: hits / (hits + misses) below 50 % ...
CACHE_MIN_LOOKUPS = 50  # ...only when at least this many cache reads came in ALERT_WINDOW

SECURITY_EVENTS_TICKET = 100  # SuspiciousRequests: this many security events (forged hosts, CSRF failures,
#                               oversized requests) in ALERT_WINDOW, for SECURITY_EVENTS_FOR: a ticket, never a page
SECURITY_EVENTS_FOR = "10m"

ENDPOINT_TARGET_MIN_REQUESTS = 30  # EndpointLatency*: an endpoint's average counts only from this many
#                                    requests in ALERT_WINDOW (the averages are the target table's)

# PrometheusReplicasDisagree (STACK_HA=1): how long an alert may fire on one Prometheus replica and not on the
# other.  In steady state the replicas differ by at most a scrape interval (the peer's ALERTS arrive through
# /federate) plus an evaluation interval, 30 s here (a resolved peer alert lingers for the 5m lookback unless the
# peer job sets honor_timestamps: false); a restarted replica lags longer: its alerts with a `for:`
# start pending again, and Prometheus restores the rest only after --rules.alert.for-grace-period (10m by
# default).  A fixed duration that outlasts that grace period, not a count of evaluations; a disagreement loses no
# page meanwhile (both replicas send to both Alertmanagers), it only says one replica sees another world.
REPLICA_DISAGREEMENT_FOR = "15m"

# The guide's four alerts (section 5), by rule name; Prometheus must have loaded each (check_monitoring).
GUIDE_ALERTS: tuple[str, ...] = ("ErrorSpike", "SlowTransactions", "HighErrorRate", "DatabaseIssues")
