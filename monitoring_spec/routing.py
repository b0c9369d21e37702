"""Who is paged, through what: severity -> notification channels, the receivers, how often a still-firing
alert is sent again, and the variables and secret files that switch real receivers on.

Alertmanager routes on the `channels` label every alert carries (derived from its severity here), so an
alert reaches exactly the channels it names.  The guide's table is the first three severities:
ErrorSpike (warning) e-mail and Slack; SlowTransactions and DatabaseIssues (ticket) e-mail;
HighErrorRate (page) e-mail, Slack and PagerDuty.  Plain Python: the Alertmanager renderer and
`manage.py check_monitoring` read the same names, so "the check passes" means "a person is paged".
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SEVERITY_CHANNELS = {
    "page": ("email", "slack", "pagerduty"),
    "warning": ("email", "slack"),
    "ticket": ("email",),
    "none": ("deadmansswitch",),
}

RECEIVERS = ("email", "slack", "pagerduty", "deadmansswitch")
# How often a still-firing group is sent again, per channel.
REPEAT_INTERVAL = {
    "email": "12h",  # tickets and warnings: twice a day is a reminder, not noise
    "slack": "4h",  # keeps an unresolved problem visible in the channel through a working day
    "pagerduty": "1h",  # PagerDuty de-duplicates on the group key; the resend keeps the incident's details fresh
    "deadmansswitch": "1m",  # the heartbeat: the dead-man's switch alarms when it stops
}

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


# The guide's notification channels (section 5: email, Slack, PagerDuty) and what makes each real.
CHANNELS: tuple[Channel, ...] = (
    Channel("email", ("ALERTMANAGER_EMAIL_TO", "ALERTMANAGER_SMTP_SMARTHOST"), None, "email_configs"),
    Channel("slack", (), SECRET_FILES["slack"], "slack_configs"),
    Channel("pagerduty", (), SECRET_FILES["pagerduty"], "pagerduty_configs"),
)


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
