"""The guide's four alerts (section 5): error spike, slow transactions, high error rate, database issues."""
from __future__ import annotations

from types import ModuleType

from monitoring_spec.contract import dashboard_url
from monitoring_spec.promql import num
from monitoring_spec.recorded import Names
from prometheus.rulesets.model import Alert, Group, human_percent, human_seconds


def group(t: ModuleType) -> Group:
    n = Names(t)
    w = t.ALERT_WINDOW
    return Group("studio.alerts.guide", [
        Alert(
            "ErrorSpike",
            f"{n.errors} >= {num(t.ERROR_SPIKE_MIN_ERRORS)}",
            t.FOR_GUIDE_COUNT, "warning",
            f"Error spike: {num(t.ERROR_SPIKE_MIN_ERRORS)} or more errors in {w}",
            f'{{{{ printf "%.0f" $value }}}} errors in the last {w} (threshold {num(t.ERROR_SPIKE_MIN_ERRORS)}); '
            "every error Sentry would capture counts: failed requests, failed tasks and logged errors "
            "(not what a client causes at will: forged hosts, CSRF failures, oversized requests).",
            dashboard_url("errors")),
        Alert(
            "SlowTransactions",
            f"{n.latency_quantile} > {num(t.SLOW_TRANSACTION_P95_SECONDS)}",
            t.FOR_GUIDE_RATIO, "ticket",
            f"P{num(round(t.SLOW_TRANSACTION_QUANTILE * 100, 6))} request latency over "
            f"{human_seconds(t.SLOW_TRANSACTION_P95_SECONDS)}",
            f"P{num(round(t.SLOW_TRANSACTION_QUANTILE * 100, 6))} latency of user requests (probes and scrapes "
            f"left out) over the last {w} is "
            f"{{{{ $value | humanizeDuration }}}} (threshold {human_seconds(t.SLOW_TRANSACTION_P95_SECONDS)}).",
            dashboard_url("endpoints")),
        Alert(
            "HighErrorRate",
            f"{n.responses_5xx_ratio} > {num(t.HIGH_ERROR_RATE_RATIO)}\n"
            f"and\n{n.responses} >= {num(t.HIGH_ERROR_RATE_MIN_REQUESTS)}",
            t.FOR_GUIDE_RATIO, "page",
            f"More than {human_percent(t.HIGH_ERROR_RATE_RATIO)} of responses are 5xx",
            f"{{{{ $value | humanizePercentage }}}} of user responses (probes and scrapes left out) in the last {w} "
            "were 5xx "
            f"(threshold {human_percent(t.HIGH_ERROR_RATE_RATIO)}, counted from "
            f"{num(t.HIGH_ERROR_RATE_MIN_REQUESTS)} requests in the window).",
            dashboard_url("errors")),
        Alert(
            "DatabaseIssues",
            f"{n.db_slow} >= 1",  # "any query": at least one
            t.FOR_GUIDE_COUNT, "ticket",
            f"Database query slower than {human_seconds(t.DB_SLOW_QUERY_SECONDS)} on {{{{ $labels.alias }}}}",
            f'{{{{ printf "%.0f" $value }}}} queries on database {{{{ $labels.alias }}}} ({{{{ $labels.vendor }}}}) '
            f"took longer than {human_seconds(t.DB_SLOW_QUERY_SECONDS)} in the last {w}.",
            dashboard_url("database")),
    ])
