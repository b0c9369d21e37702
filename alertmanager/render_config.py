"""alertmanager.yml for both deployments from one source: only hosts, ports and file paths differ.

    python alertmanager/render_config.py                 # write alertmanager/alertmanager.yml (docker compose)
    python alertmanager/render_config.py --check         # exit 1 (with a diff) when the committed file drifted
    python alertmanager/render_config.py --local --smtp-smarthost 127.0.0.1:1025 \\
        --webhook-base-url http://127.0.0.1:9099 --output var/stack/alertmanager.yml

Routing follows the `channels` label every alert carries (prometheus/rulesets/model.py derives it from
`severity`): email, slack and pagerduty are one receiver each, so an alert reaches exactly the channels
it names; Watchdog goes to its own dead-man's-switch webhook.  docs/runbooks/README.md has the table.

Secrets are never written into this file, committed or not.  Real receivers are switched on at render
time by files in a secrets directory (ALERTMANAGER_SECRETS_DIR, mounted at /etc/alertmanager/secrets
in docker compose), which Alertmanager reads itself:
    slack_webhook_url       Slack incoming-webhook URL        -> slack_configs.api_url_file
    pagerduty_routing_key   PagerDuty Events v2 routing key   -> pagerduty_configs.routing_key_file
    smtp_password           SMTP password (with ALERTMANAGER_SMTP_USERNAME) -> email_configs.auth_password_file
Non-secret settings come from the environment: ALERTMANAGER_SMTP_SMARTHOST, ALERTMANAGER_SMTP_USERNAME,
ALERTMANAGER_SMTP_REQUIRE_TLS, ALERTMANAGER_EMAIL_TO, ALERTMANAGER_EMAIL_FROM, ALERTMANAGER_SLACK_CHANNEL,
ALERTMANAGER_DEADMANSSWITCH_URL.  Without them every page goes to the local sinks: e-mail to the SMTP
catcher, Slack to <webhook>/slack, PagerDuty to <webhook>/pagerduty, the heartbeat to <webhook>/deadmansswitch.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

from monitoring_spec import artifacts
from monitoring_spec.contract import APP_JOB
from monitoring_spec.routing import REPEAT_INTERVAL, SECRET_FILES

HERE = Path(__file__).resolve().parent
COMPOSE_FILE = HERE / "alertmanager.yml"
# docker compose's profile `ha`: the second member of the cluster, alertmanager-2.  Its heartbeat receiver has
# its own name (render's peer_name), so both members keep the dead-man's switch alive; the first member keeps
# the plain one, and with it alertmanager.yml is the single Alertmanager's file it always was.
COMPOSE_FILE_2 = HERE / "alertmanager-2.yml"
COMPOSE_PEER_2 = "am2"
TEMPLATES_DIR = HERE / "templates"
HEADER = "# generated, do not edit: source alertmanager/render_config.py\n"

# docker compose service names and ports.
COMPOSE_SMTP_SMARTHOST = "mailpit:1025"
COMPOSE_WEBHOOK_BASE_URL = "http://webhook-sink:8080"
COMPOSE_TEMPLATES_DIR = "/etc/alertmanager/templates"
COMPOSE_SECRETS_DIR = "/etc/alertmanager/secrets"

LOCAL_PAGERDUTY_ROUTING_KEY = "local-sink"  # not a secret: the local webhook receiver ignores it

EXPLANATION = """\
# Routing: every alert carries `channels` (a comma-separated subset of email,slack,pagerduty) derived
# from its `severity` by prometheus/rulesets/model.py (from monitoring_spec/routing.py):
#   page    -> email, slack, pagerduty   HighErrorRate, StudioAppDown, SLO burn (1h/5m, 6h/30m)
#   warning -> email, slack              ErrorSpike, TargetDown, RedisDown, Celery*, CacheHitRatioCollapse,
#                                        PrometheusRuleFailures, AlertmanagerNotificationsFailing,
#                                        PrometheusReplicaMissing, AlertmanagerClusterMemberMissing,
#                                        PrometheusReplicasDisagree (STACK_HA=1)
#   ticket  -> email                     SlowTransactions, DatabaseIssues, EndpointLatency*, SLO burn (1d/2h, 3d/6h)
#   Watchdog -> deadmansswitch only (a webhook that must hear from us every minute).
# One route per channel with `continue: true`, so an alert reaches exactly the channels it names;
# an alert without the label still reaches a person (the root receiver: email).
#
# Grouping: by alertname and severity.  One notification per kind of problem, listing every affected
# endpoint, task or target, instead of one per series; the page and the ticket of an SLO stay apart.
# group_wait 30s lets alerts of one incident that fire together (HighErrorRate, ErrorSpike, a burn
# rate) arrive in one message; group_interval 5m matches the 5-minute alert windows: a group grows
# or resolves at most every five minutes.  Repeat intervals are per channel (see each route).
#
# Inhibition: the more specific or more urgent alert silences the ones that say the same thing.
"""


def _route(receiver: str, matcher: str, *, last: bool = False) -> dict:
    route = {"receiver": receiver, "matchers": [matcher]}
    if not last:
        route["continue"] = True
    route["repeat_interval"] = REPEAT_INTERVAL[receiver]
    return route


def channel_matcher(channel: str) -> str:
    return f'channels=~"(.+,)?{channel}(,.+)?"'


def render(*, smtp_smarthost: str, webhook_base_url: str, templates_dir: str = COMPOSE_TEMPLATES_DIR,
           email_to: str = "oncall@studio.local", email_from: str = "alertmanager@studio.local",
           smtp_require_tls: bool = False, smtp_auth_username: str | None = None,
           smtp_auth_password_file: str | None = None,
           slack_api_url_file: str | None = None, slack_channel: str = "#studio-alerts",
           pagerduty_routing_key_file: str | None = None, deadmansswitch_url: str | None = None,
           group_wait: str = "30s", group_interval: str = "5m", peer_name: str | None = None) -> str:
    """The whole alertmanager.yml as text.

    Real Slack/PagerDuty/SMTP receivers are used when their secret *file* is given; otherwise the
    page goes to the local webhook receiver (`webhook_base_url`/slack, /pagerduty) or the SMTP catcher.

    `peer_name` (one member of an Alertmanager cluster, e.g. "am1"): the cluster shares one notification
    log, keyed by group and receiver name, so every page is sent once by whichever member gets there first.
    That is right for people and wrong for the heartbeat: the dead-man's switch must hear from *every*
    member, or a dead one goes unnoticed.  So the Watchdog's receiver is named per member
    (deadmansswitch-am1) and, on the local sink, says who sent it (?alertmanager=am1).
    """
    base = webhook_base_url.rstrip("/")

    email = {
        "to": email_to,
        "send_resolved": True,
        "headers": {"Subject": '{{ template "studio.email.subject" . }}'},
        "html": '{{ template "studio.email.html" . }}',
        "text": '{{ template "studio.email.text" . }}',
    }
    if smtp_auth_username:
        email["auth_username"] = smtp_auth_username
    if smtp_auth_password_file:
        email["auth_password_file"] = smtp_auth_password_file

    slack = {"send_resolved": True, "channel": slack_channel}
    if slack_api_url_file:
        slack["api_url_file"] = slack_api_url_file
    else:
        slack["api_url"] = f"{base}/slack"
    slack.update({
        "title": '{{ template "studio.slack.title" . }}',
        "title_link": '{{ template "studio.slack.title_link" . }}',
        "text": '{{ template "studio.slack.text" . }}',
        "color": '{{ template "studio.slack.color" . }}',
    })

    pagerduty: dict = {"send_resolved": True}
    if pagerduty_routing_key_file:
        pagerduty["routing_key_file"] = pagerduty_routing_key_file
    else:
        pagerduty["routing_key"] = LOCAL_PAGERDUTY_ROUTING_KEY
        pagerduty["url"] = f"{base}/pagerduty"
    pagerduty.update({
        "severity": '{{ if eq .CommonLabels.severity "page" }}critical{{ else }}warning{{ end }}',
        "description": '{{ template "studio.pagerduty.description" . }}',
        "client": "Python Learning Studio Alertmanager",
        "client_url": "{{ .ExternalURL }}",
        "links": [{"href": '{{ template "studio.slack.title_link" . }}', "text": "Grafana dashboard"}],
        "details": {
            "alerts": '{{ template "studio.pagerduty.details" . }}',
            "firing": "{{ .Alerts.Firing | len }}",
        },
    })

    deadmansswitch = {"url": deadmansswitch_url or f"{base}/deadmansswitch", "send_resolved": False}
    deadmansswitch_receiver = "deadmansswitch"
    if peer_name:
        deadmansswitch_receiver = f"deadmansswitch-{peer_name}"
        if not deadmansswitch_url:  # a real heartbeat service's URL is taken as given
            deadmansswitch["url"] = f"{base}/deadmansswitch?alertmanager={peer_name}"

    config_global = {
        "smtp_smarthost": smtp_smarthost,
        "smtp_from": email_from,
        "smtp_require_tls": smtp_require_tls,
        "resolve_timeout": "5m",
    }
    route = {
        "receiver": "email",
        "group_by": ["alertname", "severity"],
        "group_wait": group_wait,
        "group_interval": group_interval,
        "repeat_interval": REPEAT_INTERVAL["email"],
        "routes": [
            {"receiver": deadmansswitch_receiver, "matchers": ['alertname="Watchdog"'],
             "group_wait": "0s", "group_interval": "1m", "repeat_interval": REPEAT_INTERVAL["deadmansswitch"]},
            _route("email", channel_matcher("email")),
            _route("slack", channel_matcher("slack")),
            _route("pagerduty", channel_matcher("pagerduty"), last=True),
        ],
    }
    inhibit = [
        # (why, rule)
        ("A page silences the warning or ticket of the same alert (an SLO's fast burn over its slow burn).",
         {"source_matchers": ['severity="page"'], "target_matchers": ['severity=~"warning|ticket"'],
          "equal": ["alertname", "endpoint"]}),
        ("The whole app is down: the per-instance TargetDown alerts of the app add nothing.",
         {"source_matchers": ['alertname="StudioAppDown"'],
          "target_matchers": ['alertname="TargetDown"', f'job="{APP_JOB}"']}),
        ("HighErrorRate pages for the failing responses: the ErrorSpike and availability-budget alerts "
         + "of the same incident would only repeat it.",
         {"source_matchers": ['alertname="HighErrorRate"'],
          "target_matchers": ['alertname=~"ErrorSpike|AvailabilityErrorBudgetBurn"']}),
        ("An endpoint in the \"needs work\" band is also over its target: one ticket, the worse one.",
         {"source_matchers": ['alertname="EndpointLatencyNeedsWork"'],
          "target_matchers": ['alertname="EndpointLatencyOverTarget"'], "equal": ["endpoint"]}),
        ("A paging latency-budget burn on an endpoint already says it is slow: no target-table ticket.",
         {"source_matchers": ['alertname="LatencyErrorBudgetBurn"', 'severity="page"'],
          "target_matchers": ['alertname=~"EndpointLatencyOverTarget|EndpointLatencyNeedsWork"'],
          "equal": ["endpoint"]}),
        ("Redis is down: the cache misses and the Celery queue follow from it.",
         {"source_matchers": ['alertname="RedisDown"'],
          "target_matchers": ['alertname=~"CacheHitRatioCollapse|CeleryQueueBacklog"']}),
    ]
    receivers = [
        {"name": "email", "email_configs": [email]},
        {"name": "slack", "slack_configs": [slack]},
        {"name": "pagerduty", "pagerduty_configs": [pagerduty]},
        {"name": deadmansswitch_receiver, "webhook_configs": [deadmansswitch]},
    ]

    def dump(data) -> str:
        return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=4096, allow_unicode=True)

    parts = [
        HEADER,
        "# Alertmanager 0.25+.  Receiver secrets come from files (see alertmanager/render_config.py).\n",
        dump({"global": config_global}),
        dump({"templates": [f"{templates_dir.rstrip('/')}/*.tmpl"]}),
        EXPLANATION,
        dump({"route": route}),
    ]
    parts.append("inhibit_rules:\n")
    for why, rule in inhibit:
        parts.append(f"# {why}\n")
        parts.append(dump([rule]))
    parts.append(dump({"receivers": receivers}))
    return "".join(parts)


def _env(env: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = env.get(name)
    return value if value not in (None, "") else default


def options_from_environment(env: Mapping[str, str], *, secrets_mount: str | None = None) -> dict:
    """render() keyword arguments from ALERTMANAGER_* variables and the secrets directory.

    `secrets_mount` is where Alertmanager sees ALERTMANAGER_SECRETS_DIR (a container path in docker
    compose); by default the host path itself (local processes).
    """
    options: dict = {}
    secrets_dir = _env(env, "ALERTMANAGER_SECRETS_DIR")
    if secrets_dir:
        seen_as = (secrets_mount or str(Path(secrets_dir).resolve())).rstrip("/")
        present = {key: (Path(secrets_dir) / name).is_file() for key, name in SECRET_FILES.items()}
        if present["slack"]:
            options["slack_api_url_file"] = f"{seen_as}/{SECRET_FILES['slack']}"
        if present["pagerduty"]:
            options["pagerduty_routing_key_file"] = f"{seen_as}/{SECRET_FILES['pagerduty']}"
        if present["smtp_password"]:
            options["smtp_auth_password_file"] = f"{seen_as}/{SECRET_FILES['smtp_password']}"
    names = {
        "smtp_smarthost": "ALERTMANAGER_SMTP_SMARTHOST",
        "smtp_auth_username": "ALERTMANAGER_SMTP_USERNAME",
        "email_to": "ALERTMANAGER_EMAIL_TO",
        "email_from": "ALERTMANAGER_EMAIL_FROM",
        "slack_channel": "ALERTMANAGER_SLACK_CHANNEL",
        "deadmansswitch_url": "ALERTMANAGER_DEADMANSSWITCH_URL",
    }
    for key, name in names.items():
        if value := _env(env, name):
            options[key] = value
    if tls := _env(env, "ALERTMANAGER_SMTP_REQUIRE_TLS"):
        options["smtp_require_tls"] = tls.strip().lower() in ("1", "true", "yes", "on")
    elif "smtp_smarthost" in options:
        options["smtp_require_tls"] = True  # a real mail server: STARTTLS unless told otherwise
    return options


def render_compose(env: Mapping[str, str] | None = None, peer_name: str | None = None) -> str:
    """The docker compose deployment's config; with `env` None (the committed file) no secrets and no overrides."""
    options = options_from_environment(env or {}, secrets_mount=COMPOSE_SECRETS_DIR)
    return render(**{"smtp_smarthost": COMPOSE_SMTP_SMARTHOST, "webhook_base_url": COMPOSE_WEBHOOK_BASE_URL,
                     "templates_dir": COMPOSE_TEMPLATES_DIR, **options, "peer_name": peer_name})


def render_local(*, smtp_smarthost: str, webhook_base_url: str, env: Mapping[str, str] | None = None,
                 **overrides) -> str:
    """The local-process deployment's config (`make up` without Docker): the repository's templates,
    the sinks on the given host:ports, real receivers when ALERTMANAGER_* says so (env defaults to os.environ).
    """
    options = options_from_environment(os.environ if env is None else env)
    return render(**{"smtp_smarthost": smtp_smarthost, "webhook_base_url": webhook_base_url,
                     "templates_dir": str(TEMPLATES_DIR), **options, **overrides})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when alertmanager/alertmanager.yml (or --output) differs from a fresh render (no secrets)")
    parser.add_argument("--local", action="store_true", help="render for local processes instead of docker compose")
    parser.add_argument("--smtp-smarthost", help="SMTP catcher host:port (--local)")
    parser.add_argument("--webhook-base-url", help="local webhook receiver base URL (--local)")
    parser.add_argument("--output", type=Path, help="where to write (default: alertmanager/alertmanager.yml)")
    args = parser.parse_args(argv)

    if args.check:
        files = {args.output: render_compose()} if args.output else {
            COMPOSE_FILE: render_compose(), COMPOSE_FILE_2: render_compose(peer_name=COMPOSE_PEER_2)}
        return artifacts.report(artifacts.sync(files, check=True), files, check=True)

    if args.local:
        if not (args.smtp_smarthost and args.webhook_base_url):
            parser.error("--local needs --smtp-smarthost and --webhook-base-url")
        text = render_local(smtp_smarthost=args.smtp_smarthost, webhook_base_url=args.webhook_base_url)
        output = args.output
        if output is None:
            parser.error("--local needs --output (the committed file is the docker compose one)")
    else:
        text = render_compose(os.environ)
        output = args.output or COMPOSE_FILE
        if output.resolve() == COMPOSE_FILE and text != render_compose():
            print("refusing to write receiver settings from the environment into the committed "
                  "alertmanager/alertmanager.yml: pass --output (e.g. alertmanager/alertmanager.secrets.yml, "
                  "untracked) or unset the ALERTMANAGER_* variables", file=sys.stderr)
            return 2
    if output.resolve() == COMPOSE_FILE:
        files = {output: text, COMPOSE_FILE_2: render_compose(peer_name=COMPOSE_PEER_2)}
        return artifacts.report(artifacts.sync(files, check=False), files, check=False)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
