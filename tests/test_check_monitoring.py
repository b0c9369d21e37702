"""`manage.py check_monitoring`: the guide's pre-launch checklist, run in a subprocess with a
constructed environment, against a real Prometheus and a real Alertmanager where it asks them."""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import textwrap
import urllib.request
from pathlib import Path

import pytest

from monitoring_spec.alerts import GUIDE_ALERTS as REQUIRED_ALERTS
from tests.fixtures.sentry_server import closed_port_dsn, run_manage
from tests.fixtures.servers import free_port, stop_process, system_tool, wait_for_http

STRONG_KEY = "k" * 20 + "-Q9v7!x2#Lm4$Rt8^Zp1&Yb6*Hc3(Nd5)Wf0"
PRODUCTION = dict(ENVIRONMENT="production", SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="studio.example.com",
                  SENTRY_DSN="https://0123abcd@o12.ingest.sentry.io/345", SENTRY_RELEASE="studio@1.0.0")


def check(*args, **env) -> tuple[int, dict[str, str], str]:
    out = run_manage("check_monitoring", "--no-color", *args, **env)
    statuses = {m.group(2): m.group(1) for m in re.finditer(r"^\[(PASS|WARN|FAIL)\] ([\w-]+):", out.stdout, re.M)}
    return out.returncode, statuses, out.stdout + out.stderr


def test_fails_on_the_default_development_config():
    code, statuses, output = check()
    assert code == 1, output
    for name in ("sentry-dsn", "environment", "release", "receiver-email", "receiver-slack", "receiver-pagerduty"):
        assert statuses[name] == "FAIL", output
    assert statuses["sample-rate-traces"] == statuses["sample-rate-profiles"] == "PASS"
    assert statuses["alert-rules"] == "WARN"
    assert "6 check(s) failed: sentry-dsn, environment, release, receiver-email" in output


def test_passes_on_a_complete_production_config(tmp_path):
    # The same variables and secret files that switch Alertmanager's real receivers on.
    (tmp_path / "slack_webhook_url").write_text("https://hooks.slack.com/services/T000/B000/XXXX\n")
    (tmp_path / "pagerduty_routing_key").write_text("r" * 32 + "\n")
    code, statuses, output = check(**PRODUCTION, ALERTMANAGER_EMAIL_TO="oncall@example.com",
                                   ALERTMANAGER_SMTP_SMARTHOST="smtp.example.com:587",
                                   ALERTMANAGER_SECRETS_DIR=str(tmp_path))
    assert code == 0, output
    assert "FAIL" not in statuses.values()
    assert statuses["receiver-slack"] == "PASS" and "ALERTMANAGER_SECRETS_DIR/slack_webhook_url" in output
    assert "monitoring is ready for launch" in output


def test_names_each_problem(tmp_path):
    code, statuses, output = check(**{**PRODUCTION, "SENTRY_DSN": "https://sentry.example.com/345",
                                      "SENTRY_TRACES_SAMPLE_RATE": "1.5"},
                                   ALERTMANAGER_EMAIL_TO="oncall@example.com",
                                   ALERTMANAGER_SMTP_SMARTHOST="smtp.example.com:587",
                                   ALERTMANAGER_SECRETS_DIR=str(tmp_path))
    assert code == 1
    assert statuses["sentry-dsn"] == "FAIL" and "Missing public key" in output  # and the app still started
    assert statuses["sample-rate-traces"] == "FAIL" and "SENTRY_TRACES_SAMPLE_RATE=1.5 is outside 0..1" in output
    assert statuses["receiver-slack"] == "FAIL" and "is missing or empty" in output
    assert statuses["receiver-email"] == "PASS" and statuses["environment"] == "PASS"


# --- A real Prometheus and Alertmanager -------------------------------------------------------

def rules_yaml(names) -> str:
    rules = "".join(f"      - alert: {name}\n        expr: vector(0) > 1\n        for: 1m\n" for name in names)
    return f"groups:\n  - name: studio-guide\n    rules:\n{rules}"


ALERTMANAGER_CONFIG = textwrap.dedent("""
    global:
      smtp_smarthost: 127.0.0.1:25
      smtp_from: alerts@example.com
      smtp_require_tls: false
    route:
      receiver: email
      routes:
        - matchers: [severity="page"]
          receiver: pager
    receivers:
      - name: email
        email_configs:
          - to: oncall@example.com
        slack_configs:
          - api_url: http://127.0.0.1:9/slack
            channel: "#alerts"
      - name: pager
        {pager}
""")


class Daemon:
    def __init__(self, argv: list[str], ready_url: str):
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for_http(ready_url, timeout=30, proc=self.proc)

    def stop(self):
        stop_process(self.proc)


@pytest.fixture
def monitoring_servers():
    work = Path(tempfile.mkdtemp(prefix="test-checkmon-"))
    (work / "rules.yml").write_text(rules_yaml(REQUIRED_ALERTS[:-1]))  # DatabaseIssues missing at first
    (work / "prometheus.yml").write_text("global:\n  evaluation_interval: 1s\nrule_files: [rules.yml]\n")
    (work / "alertmanager.yml").write_text(ALERTMANAGER_CONFIG.format(pager="webhook_configs: [{url: 'http://127.0.0.1:9/'}]"))
    prom_port, am_port = free_port(), free_port()
    daemons = []
    try:
        daemons.append(Daemon([system_tool("prometheus"), f"--config.file={work / 'prometheus.yml'}", "--web.enable-lifecycle",
                               f"--storage.tsdb.path={work / 'data'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
                              f"http://127.0.0.1:{prom_port}/-/ready"))
        daemons.append(Daemon([system_tool("alertmanager"), f"--config.file={work / 'alertmanager.yml'}",
                               f"--storage.path={work / 'am'}", f"--web.listen-address=127.0.0.1:{am_port}",
                               "--cluster.listen-address=", f"--web.external-url=http://127.0.0.1:{am_port}"],
                              f"http://127.0.0.1:{am_port}/-/ready"))
        yield work, f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}"
    finally:
        for daemon in daemons:
            daemon.stop()
        shutil.rmtree(work, ignore_errors=True)


def reload(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{url}/-/reload", method="POST"), timeout=10).read()


@pytest.mark.slow
def test_reads_rules_from_prometheus_and_receivers_from_alertmanager(monitoring_servers):
    work, prometheus, alertmanager = monitoring_servers
    code, statuses, output = check("--prometheus-url", prometheus, **PRODUCTION, ALERTMANAGER_URL=alertmanager)
    assert code == 1, output
    assert statuses["alert-rule-DatabaseIssues"] == "FAIL" and "not loaded" in output
    assert all(statuses[f"alert-rule-{n}"] == "PASS" for n in REQUIRED_ALERTS[:-1]), output
    assert statuses["receiver-pagerduty"] == "FAIL" and statuses["receiver-email"] == "PASS"
    assert statuses["receiver-slack"] == "PASS"

    (work / "rules.yml").write_text(rules_yaml(REQUIRED_ALERTS))
    (work / "alertmanager.yml").write_text(ALERTMANAGER_CONFIG.format(
        pager="pagerduty_configs: [{routing_key: 'abc123', url: 'http://127.0.0.1:9/pd'}]"))
    reload(prometheus)
    reload(alertmanager)
    code, statuses, output = check("--prometheus-url", prometheus, **PRODUCTION, ALERTMANAGER_URL=alertmanager)
    assert code == 0, output
    assert statuses["alert-rule-DatabaseIssues"] == "PASS" and statuses["receiver-pagerduty"] == "PASS"

    code, statuses, output = check("--prometheus-url", f"http://127.0.0.1:{free_port()}", **PRODUCTION,
                                   ALERTMANAGER_URL=alertmanager)
    assert code == 1 and statuses["alert-rules"] == "FAIL", output  # Prometheus unreachable is a failure


# --- --send-test ------------------------------------------------------------------------------

def test_send_test_delivers_an_event_and_reports_its_id(sentry_server):
    code, statuses, output = check("--send-test", SENTRY_DSN=sentry_server.dsn)
    assert statuses["send-test"] == "PASS", output
    event_id = re.search(r"event ([0-9a-f]{32}) delivered", output).group(1)
    event, _ = sentry_server.wait_for_event(lambda e: e.get("event_id") == event_id, timeout=0)
    assert event["message"].startswith("check_monitoring test event")
    assert code == 1  # development config: the rest of the checklist still fails


def test_send_test_fails_when_sentry_cannot_be_reached():
    code, statuses, output = check("--send-test", **{**PRODUCTION, "SENTRY_DSN": closed_port_dsn()})
    assert code == 1 and statuses["send-test"] == "FAIL" and "cannot reach" in output
