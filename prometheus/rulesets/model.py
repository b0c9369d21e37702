"""The rule model: recording and alerting rules as data, and the PromQL pieces every rule set builds on.

Label contract of every alert (docs/runbooks/README.md explains it for people):
  severity  page | warning | ticket | none   how urgent
  channels  comma-separated subset of email,slack,pagerduty (or deadmansswitch), from the severity
            (monitoring_spec.routing); Alertmanager routes on it
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType

from monitoring_spec.contract import runbook_url
from monitoring_spec.promql import duration_seconds, num
from monitoring_spec.routing import SEVERITY_CHANNELS


def db_query_buckets(t: ModuleType) -> tuple[float, ...]:
    """Bucket edges of django_db_query_duration_seconds.

    django-prometheus gives every histogram of its own PROMETHEUS_LATENCY_BUCKETS, which the settings
    set to REQUEST_LATENCY_BUCKETS (DB_QUERY_BUCKETS are studio_request_db_seconds' edges).
    """
    return t.REQUEST_LATENCY_BUCKETS


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


def human_seconds(x: float) -> str:
    return f"{num(x)}s" if x >= 1 else f"{num(round(x * 1000, 6))}ms"


def human_percent(x: float) -> str:
    return f"{num(round(x * 100, 6))}%"


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
        return {"severity": self.severity, "channels": ",".join(SEVERITY_CHANNELS[self.severity]), **self.labels}

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


