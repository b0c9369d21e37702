"""The spec's guide numbers are the guide's (../shared/monitoring-guide.md, sections 5 and 6), written here
by hand: a typo in monitoring_spec would otherwise regenerate matching rules, tests and dashboards, and every
generated check would stay green."""
from __future__ import annotations

import pytest

import monitoring_spec as spec
from monitoring_spec import routing

# Section 6, "Benchmark Targets", as the guide writes it.
GUIDE_TARGET_TABLE = """\
| Endpoint | Target (avg) | Excellent | Needs Work |
|----------|--------------|-----------|------------|
| Course list | < 200ms | < 100ms | > 500ms |
| Course detail | < 150ms | < 75ms | > 400ms |
| User profile | < 100ms | < 50ms | > 300ms |
| Forum topics | < 250ms | < 125ms | > 600ms |
"""


def guide_rows() -> dict[str, tuple[int, int, int]]:
    rows = {}
    for line in GUIDE_TARGET_TABLE.splitlines()[2:]:
        name, target, excellent, needs_work = (cell.strip() for cell in line.strip("|").split("|"))
        ms = lambda cell: int(cell.strip("<> ").removesuffix("ms"))
        rows[name] = (ms(excellent), ms(target), ms(needs_work))
    return rows


def test_the_target_table_is_the_guides():
    assert {t.name: (t.excellent_ms, t.target_ms, t.needs_work_ms) for t in spec.TARGETS} == guide_rows()


def test_the_four_alerts_are_the_guides():
    # 1. Error Spikes: 10+ errors in 5 minutes
    assert (spec.ERROR_SPIKE_MIN_ERRORS, spec.ALERT_WINDOW, spec.ALERT_WINDOW_SECONDS) == (10, "5m", 300)
    # 2. Slow Transactions: P95 > 1 second
    assert (spec.SLOW_TRANSACTION_QUANTILE, spec.SLOW_TRANSACTION_P95_SECONDS) == (0.95, 1.0)
    # 3. High Error Rate: error rate > 5%
    assert spec.HIGH_ERROR_RATE_RATIO == 0.05
    # 4. Database Issues: query time > 500ms
    assert spec.DB_SLOW_QUERY_SECONDS == 0.5
    assert spec.GUIDE_ALERTS == ("ErrorSpike", "SlowTransactions", "HighErrorRate", "DatabaseIssues")


@pytest.mark.parametrize(("severity", "channels"), [
    ("warning", ("email", "slack")),  # Error Spikes: Email, Slack
    ("ticket", ("email",)),  # Slow Transactions, Database Issues: Email
    ("page", ("email", "slack", "pagerduty")),  # High Error Rate: Email, Slack, PagerDuty
])
def test_who_is_notified_is_the_guides(severity, channels):
    assert routing.SEVERITY_CHANNELS[severity] == channels


def test_the_guides_numbers_are_bucket_edges():
    """Exact "share under target" and "any query over 500 ms" need the numbers as histogram edges."""
    for ms in (n for row in guide_rows().values() for n in row):
        assert ms / 1000 in spec.REQUEST_LATENCY_BUCKETS
    assert 1.0 in spec.REQUEST_LATENCY_BUCKETS and 0.5 in spec.REQUEST_LATENCY_BUCKETS
