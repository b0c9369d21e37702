"""Meta-monitoring: the alerting pipeline's heartbeat and its own failures, and (STACK_HA=1) its redundancy.

The three HA alerts are silent in the single stack by construction: one Prometheus target that answers, an
Alertmanager with clustering off (alertmanager_cluster_enabled 0, no alertmanager_cluster_members), and no
PROMETHEUS_PEER_JOB, hence no PEER_ALERTS and no peer `up`.
"""
from __future__ import annotations

from types import ModuleType

from monitoring_spec.contract import (
    ALERTMANAGER_JOB,
    PEER_ALERTS,
    PROMETHEUS_JOB,
    PROMETHEUS_PEER_JOB,
    dashboard_url,
)
from prometheus.rulesets.model import Alert, Group

# Alerts a replica may fire alone by design: the heartbeat is the dead-man's switch's business, a missing replica
# is seen only by the other one, and a disagreement about disagreeing would echo the first.
REPLICA_LOCAL_ALERTS = ("Watchdog", "PrometheusReplicaMissing", "PrometheusReplicasDisagree")


def firing_alone(here: str, there: str) -> str:
    """One series per alertname firing in `here` and not in `there` (alertname moved to disagreeing_alert:
    Prometheus overwrites alertname with the rule's own)."""
    local = "|".join(REPLICA_LOCAL_ALERTS)
    return (f'count by (alertname) ({here}{{alertstate="firing", alertname!~"{local}"}})\n'
            f'unless on (alertname)\n'
            f'count by (alertname) ({there}{{alertstate="firing"}})')


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
        Alert(
            "PrometheusReplicaMissing",
            # `or on ()`: the peer's /federate only when its /metrics answers, so one alert per missing replica.
            f'up{{job="{PROMETHEUS_JOB}"}} == 0\nor on ()\nup{{job="{PROMETHEUS_PEER_JOB}"}} == 0',
            "2m", "warning",
            "Prometheus {{ $labels.instance }} does not answer ({{ $labels.job }})",
            "Prometheus could not scrape {{ $labels.job }} at {{ $labels.instance }} for 2 minutes "
            "(up = {{ $value }}): with two replicas, alerting runs on one and a second failure goes unnoticed; "
            "without its /federate the replicas cannot be compared. TargetDown leaves these jobs to this alert.",
            dashboard_url("overview")),
        Alert(
            "AlertmanagerClusterMemberMissing",
            # Against the Alertmanagers that answer Prometheus: one that is down is TargetDown's, not this.
            f'alertmanager_cluster_members{{job="{ALERTMANAGER_JOB}"}}\n'
            f'< on () group_left ()\ncount(up{{job="{ALERTMANAGER_JOB}"}} == 1)\n'
            f'and\nalertmanager_cluster_enabled{{job="{ALERTMANAGER_JOB}"}} == 1',
            "5m", "warning",
            "Alertmanager {{ $labels.instance }} does not see every cluster member",
            "Alertmanager {{ $labels.instance }} counts {{ $value }} cluster members, fewer than the "
            "Alertmanagers Prometheus scrapes, for 5 minutes: the gossip cluster is split, so each part "
            "notifies on its own (duplicate pages) and silences set on one part do not reach the other.",
            dashboard_url("overview")),
        Alert(
            "PrometheusReplicasDisagree",
            f'label_replace(\n({firing_alone("ALERTS", PEER_ALERTS)})\nor\n'
            f'({firing_alone(PEER_ALERTS, "ALERTS")}),\n'
            f'"disagreeing_alert", "$1", "alertname", "(.*)")\n'
            f'and on ()\nup{{job="{PROMETHEUS_PEER_JOB}"}} == 1',
            t.REPLICA_DISAGREEMENT_FOR, "warning",
            "{{ $labels.disagreeing_alert }} fires on one Prometheus replica only",
            f"{{{{ $labels.disagreeing_alert }}}} ({{{{ $value }}}} series) has fired on one replica and not on "
            f"the other for {t.REPLICA_DISAGREEMENT_FOR} while both answer: the replicas scrape different "
            "targets, run different rules or see different data. Pages still arrive (both replicas send to "
            "both Alertmanagers), but the replica that stays quiet would miss it if it were the only one left.",
            dashboard_url("overview")),
    ])
