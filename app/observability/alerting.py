"""What the monitoring must have to be launch-ready, in one place (plain Python, no Django).

`check_monitoring` reads it; the Alertmanager configuration uses the same environment variables.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Channel:
    name: str
    env: tuple[str, ...]  # any one of these configures the channel; *_FILE names a file holding the secret
    alertmanager_key: str  # the receiver field in Alertmanager's configuration


# The guide's notification channels (section 5: email, Slack, PagerDuty).
CHANNELS: tuple[Channel, ...] = (
    Channel("email", ("ALERT_EMAIL_TO",), "email_configs"),
    Channel("slack", ("SLACK_WEBHOOK_URL", "SLACK_WEBHOOK_URL_FILE"), "slack_configs"),
    Channel("pagerduty", ("PAGERDUTY_ROUTING_KEY", "PAGERDUTY_ROUTING_KEY_FILE"), "pagerduty_configs"),
)

# The guide's four alerts (section 5); Prometheus must have loaded an alerting rule of each name.
REQUIRED_ALERTS: tuple[str, ...] = ("ErrorSpike", "SlowTransactions", "HighErrorRate", "DatabaseIssues")
