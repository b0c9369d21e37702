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


