"""What the monitoring must have to be launch-ready, in one place (plain Python, no Django).

The Alertmanager renderer (alertmanager/render_config.py) switches real receivers on from exactly
these variables and secret files, and `check_monitoring` checks the same ones, so "the check
passes" means "Alertmanager pages a person, not a local sink".
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SECRETS_DIR_ENV = "ALERTMANAGER_SECRETS_DIR"
# Secret file names inside ALERTMANAGER_SECRETS_DIR (Alertmanager reads them itself: *_file options).
SECRET_FILES = {
    "slack": "slack_webhook_url",
    "pagerduty": "pagerduty_routing_key",
    "smtp_password": "smtp_password",
}


@dataclass(frozen=True)
class Channel:
    name: str
    env: tuple[str, ...]  # every one of these must be set
    secret_file: str | None  # ...and this file in ALERTMANAGER_SECRETS_DIR must hold the secret
    alertmanager_key: str  # the receiver field in Alertmanager's configuration


# The guide's notification channels (section 5: email, Slack, PagerDuty).
CHANNELS: tuple[Channel, ...] = (
    Channel("email", ("ALERTMANAGER_EMAIL_TO", "ALERTMANAGER_SMTP_SMARTHOST"), None, "email_configs"),
    Channel("slack", (), SECRET_FILES["slack"], "slack_configs"),
    Channel("pagerduty", (), SECRET_FILES["pagerduty"], "pagerduty_configs"),
)

# The guide's four alerts (section 5); Prometheus must have loaded an alerting rule of each name.
REQUIRED_ALERTS: tuple[str, ...] = ("ErrorSpike", "SlowTransactions", "HighErrorRate", "DatabaseIssues")


def channel_problems(channel: Channel, env: Mapping[str, str] = os.environ) -> list[str]:
    """Why `channel` would page a local sink instead of a person; empty when it is configured."""
    problems = [f"{name} is not set" for name in channel.env if not env.get(name)]
    if channel.secret_file:
        secrets_dir = env.get(SECRETS_DIR_ENV)
        if not secrets_dir:
            problems.append(f"{SECRETS_DIR_ENV} is not set (it must hold {channel.secret_file})")
        else:
            path = Path(secrets_dir) / channel.secret_file
            if not path.is_file() or not path.read_text().strip():
                problems.append(f"{path} is missing or empty")
    return problems
