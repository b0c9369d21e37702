"""The rule sets, in the order they are written: recording rules, then the guide's alerts, the platform's,
the SLO burn rates and meta-monitoring.  Each set is a function of the spec (monitoring_spec, or a
perturbed copy of it in the tests)."""
from __future__ import annotations

from types import ModuleType

from prometheus.rulesets import guide, meta, platform, slo
from prometheus.rulesets.model import Alert, Group
from prometheus.rulesets.recording import recording_groups

__all__ = ["alert_groups", "all_alerts", "recording_groups"]


def alert_groups(t: ModuleType) -> list[Group]:
    return [guide.group(t), platform.group(t), slo.group(t), meta.group(t)]


def all_alerts(t: ModuleType) -> list[Alert]:
    return [rule for group in alert_groups(t) for rule in group.rules]
