"""Meta-monitoring: the alerting pipeline's heartbeat and its own failures."""
from __future__ import annotations

from types import ModuleType

from monitoring_spec.contract import dashboard_url
from prometheus.rulesets.model import Alert, Group


def group(t: ModuleType) -> Group:
    return Group("studio.alerts.meta", [
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
