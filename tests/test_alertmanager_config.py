"""Alertmanager configuration (issue 6, part 4).

The committed alertmanager/alertmanager.yml is a fresh render with no secrets; `amtool check-config`
accepts it; `amtool config routes test` gives every alert exactly its receivers (the guide's table for
the guide's four); templates render; secrets only ever appear as file references; and a real
Alertmanager delivers pages to the local sinks and applies the inhibition rules.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.fixtures.servers import free_port, stop_process, system_tool, wait_for_http

ROOT = Path(__file__).resolve().parents[1]
RENDERER = ROOT / "alertmanager" / "render_config.py"
COMMITTED = ROOT / "alertmanager" / "alertmanager.yml"
TEMPLATES = ROOT / "alertmanager" / "templates"
ALERTS = ROOT / "prometheus" / "rules" / "alerts.yml"

# The exact receivers of every alert, per severity (a new alert must be added here: a decision).
GUIDE = {  # the guide's section 5 table
    ("ErrorSpike", "warning"): "email,slack",
    ("SlowTransactions", "ticket"): "email",
    ("HighErrorRate", "page"): "email,slack,pagerduty",
    ("DatabaseIssues", "ticket"): "email",
}
EXPECTED_RECEIVERS = {
    **GUIDE,
    ("StudioAppDown", "page"): "email,slack,pagerduty",
    ("TargetDown", "warning"): "email,slack",
    ("RedisDown", "warning"): "email,slack",
    ("SuspiciousRequests", "ticket"): "email",
    ("CeleryTaskFailureRatioHigh", "warning"): "email,slack",
    ("CeleryQueueBacklog", "warning"): "email,slack",
    ("CacheHitRatioCollapse", "warning"): "email,slack",
    ("EndpointLatencyOverTarget", "ticket"): "email",
    ("EndpointLatencyNeedsWork", "ticket"): "email",
    ("AvailabilityErrorBudgetBurn", "page"): "email,slack,pagerduty",
    ("AvailabilityErrorBudgetBurn", "ticket"): "email",
    ("LatencyErrorBudgetBurn", "page"): "email,slack,pagerduty",
    ("LatencyErrorBudgetBurn", "ticket"): "email",
    ("Watchdog", "none"): "deadmansswitch",
    ("PrometheusRuleFailures", "warning"): "email,slack",
    ("AlertmanagerNotificationsFailing", "warning"): "email,slack",
    ("PrometheusReplicaMissing", "warning"): "email,slack",
    ("AlertmanagerClusterMemberMissing", "warning"): "email,slack",
    ("PrometheusReplicasDisagree", "warning"): "email,slack",
}


tool = system_tool


@pytest.fixture(scope="module")
def renderer():
    spec = importlib.util.spec_from_file_location("alertmanager_render_config_under_test", RENDERER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def alert_rules() -> list[dict]:
    doc = yaml.safe_load(ALERTS.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def run(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, check=False, **kw)


def check_config(path: Path) -> subprocess.CompletedProcess:
    return run([tool("amtool"), "check-config", str(path)])


def routes_test(config: Path, expected: str, labels: dict[str, str]) -> subprocess.CompletedProcess:
    return run([tool("amtool"), "config", "routes", "test", f"--config.file={config}",
                f"--verify.receivers={expected}", *(f"{k}={v}" for k, v in labels.items())])


# --------------------------------------------------------------------------------------------
# The committed file
# --------------------------------------------------------------------------------------------


def test_committed_config_matches_a_fresh_render():
    result = run([sys.executable, str(RENDERER), "--check"])
    assert result.returncode == 0, (
        "alertmanager/alertmanager.yml drifted; run `.venv/bin/python alertmanager/render_config.py`\n"
        + result.stdout[-4000:] + result.stderr)


def test_check_fails_on_a_hand_edited_copy(tmp_path, renderer):
    edited = tmp_path / "alertmanager.yml"
    edited.write_text(renderer.render_compose().replace("repeat_interval: 1h", "repeat_interval: 2h"))
    result = run([sys.executable, str(RENDERER), "--check", "--output", str(edited)])
    assert result.returncode == 1
    assert "drifted" in result.stderr and "repeat_interval" in result.stdout


def test_amtool_check_config_accepts_the_committed_file():
    result = check_config(COMMITTED)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_amtool_check_config_accepts_the_local_render_and_parses_its_templates(renderer, tmp_path):
    config = tmp_path / "alertmanager.yml"
    config.write_text(renderer.render_local(smtp_smarthost="127.0.0.1:1025",
                                            webhook_base_url="http://127.0.0.1:9099", env={}))
    result = check_config(config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert str(TEMPLATES) in config.read_text()
    # A broken template is caught by the same check (it parses the template files).
    broken_dir = tmp_path / "templates"
    broken_dir.mkdir()
    (broken_dir / "broken.tmpl").write_text('{{ define "x" }}{{ if }}{{ end }}')
    config.write_text(renderer.render(smtp_smarthost="127.0.0.1:1025", webhook_base_url="http://127.0.0.1:9099",
                                      templates_dir=str(broken_dir)))
    assert check_config(config).returncode != 0


def test_the_committed_file_holds_no_secret_and_points_at_the_local_sinks():
    config = yaml.safe_load(COMMITTED.read_text())
    text = COMMITTED.read_text()
    assert config["global"]["smtp_smarthost"] == "mailpit:1025"
    assert config["templates"] == ["/etc/alertmanager/templates/*.tmpl"]
    receivers = {r["name"]: r for r in config["receivers"]}
    assert set(receivers) == {"email", "slack", "pagerduty", "deadmansswitch"}
    (slack,) = receivers["slack"]["slack_configs"]
    assert slack["api_url"] == "http://webhook-sink:8080/slack"
    (pd,) = receivers["pagerduty"]["pagerduty_configs"]
    assert pd["url"] == "http://webhook-sink:8080/pagerduty" and pd["routing_key"] == "local-sink"
    (dms,) = receivers["deadmansswitch"]["webhook_configs"]
    assert dms["url"] == "http://webhook-sink:8080/deadmansswitch"
    for forbidden in ("hooks.slack.com", "events.pagerduty.com", "auth_password:", "service_key:",
                      "_file:", "auth_secret", "bearer_token"):
        assert forbidden not in text, forbidden


# --------------------------------------------------------------------------------------------
# Secrets: from files named at render time, never their contents
# --------------------------------------------------------------------------------------------


@pytest.fixture
def secrets_dir(tmp_path) -> Path:
    d = tmp_path / "secrets"
    d.mkdir()
    (d / "slack_webhook_url").write_text("https://hooks.slack.com/services/T000/B000/SECRET-SLACK-TOKEN\n")
    (d / "pagerduty_routing_key").write_text("SECRET-PAGERDUTY-KEY\n")
    (d / "smtp_password").write_text("SECRET-SMTP-PASSWORD\n")
    return d


def test_real_receivers_come_from_secret_files_never_their_contents(renderer, secrets_dir, tmp_path):
    env = {"ALERTMANAGER_SECRETS_DIR": str(secrets_dir), "ALERTMANAGER_SMTP_SMARTHOST": "smtp.example.org:587",
           "ALERTMANAGER_SMTP_USERNAME": "alerts", "ALERTMANAGER_EMAIL_TO": "oncall@example.org",
           "ALERTMANAGER_SLACK_CHANNEL": "#incidents"}
    text = renderer.render_local(smtp_smarthost="127.0.0.1:1025", webhook_base_url="http://127.0.0.1:9099", env=env)
    assert "SECRET" not in text
    config = yaml.safe_load(text)
    receivers = {r["name"]: r for r in config["receivers"]}
    (slack,) = receivers["slack"]["slack_configs"]
    assert slack["api_url_file"] == str(secrets_dir.resolve() / "slack_webhook_url") and "api_url" not in slack
    assert slack["channel"] == "#incidents"
    (pd,) = receivers["pagerduty"]["pagerduty_configs"]
    assert pd["routing_key_file"].endswith("/pagerduty_routing_key") and "url" not in pd and "routing_key" not in pd
    (mail,) = receivers["email"]["email_configs"]
    assert mail["auth_password_file"].endswith("/smtp_password") and mail["auth_username"] == "alerts"
    assert mail["to"] == "oncall@example.org"
    assert config["global"]["smtp_smarthost"] == "smtp.example.org:587" and config["global"]["smtp_require_tls"]
    path = tmp_path / "with-secrets.yml"
    path.write_text(text)
    assert check_config(path).returncode == 0

    compose = yaml.safe_load(renderer.render_compose(env))
    (slack,) = {r["name"]: r for r in compose["receivers"]}["slack"]["slack_configs"]
    assert slack["api_url_file"] == "/etc/alertmanager/secrets/slack_webhook_url"


def test_only_the_secrets_present_switch_their_receiver(renderer, tmp_path):
    d = tmp_path / "only-slack"
    d.mkdir()
    (d / "slack_webhook_url").write_text("https://hooks.slack.com/services/x\n")
    config = yaml.safe_load(renderer.render_compose({"ALERTMANAGER_SECRETS_DIR": str(d)}))
    receivers = {r["name"]: r for r in config["receivers"]}
    assert "api_url_file" in receivers["slack"]["slack_configs"][0]
    assert receivers["pagerduty"]["pagerduty_configs"][0]["url"] == "http://webhook-sink:8080/pagerduty"
    assert config["global"]["smtp_smarthost"] == "mailpit:1025"


def test_cli_refuses_to_write_environment_settings_into_the_committed_file(secrets_dir, tmp_path):
    before = COMMITTED.read_bytes()
    try:
        env = {"PATH": "/usr/bin:/bin", "ALERTMANAGER_SECRETS_DIR": str(secrets_dir)}
        result = run([sys.executable, str(RENDERER)], env=env)
        assert result.returncode == 2 and "refusing" in result.stderr
        out = tmp_path / "alertmanager.secrets.yml"
        result = run([sys.executable, str(RENDERER), "--output", str(out)], env=env)
        assert result.returncode == 0 and "api_url_file" in out.read_text()
    finally:
        if COMMITTED.read_bytes() != before:
            COMMITTED.write_bytes(before)
            pytest.fail("the CLI overwrote the committed alertmanager.yml")


# --------------------------------------------------------------------------------------------
# Routing: the exact receiver set of every alert
# --------------------------------------------------------------------------------------------


def test_every_alert_has_an_expected_receiver_set(alert_rules):
    present = {(r["alert"], r["labels"]["severity"]) for r in alert_rules}
    assert present == set(EXPECTED_RECEIVERS), (
        f"alerts without an expected receiver set: {present - set(EXPECTED_RECEIVERS)}; "
        f"expected but gone: {set(EXPECTED_RECEIVERS) - present}")


def test_amtool_routes_every_alert_to_exactly_its_receivers(alert_rules):
    seen = set()
    failures = []
    for rule in alert_rules:
        key = (rule["alert"], rule["labels"]["severity"])
        if key in seen:
            continue
        seen.add(key)
        labels = {"alertname": rule["alert"], **rule["labels"]}
        result = routes_test(COMMITTED, EXPECTED_RECEIVERS[key], labels)
        if result.returncode != 0:
            failures.append(f"{key}: expected {EXPECTED_RECEIVERS[key]}, got {result.stdout.strip()}")
    assert not failures, "\n".join(failures)
    assert seen >= set(GUIDE)


@pytest.mark.parametrize(("alertname", "severity"), sorted(GUIDE))
def test_the_guides_table_holds_exactly(alert_rules, alertname, severity):
    (rule,) = [r for r in alert_rules if r["alert"] == alertname]
    result = routes_test(COMMITTED, GUIDE[(alertname, severity)], {"alertname": alertname, **rule["labels"]})
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().splitlines()[0] == GUIDE[(alertname, severity)]


def test_routes_test_fails_on_a_wrong_receiver_set(alert_rules):
    (rule,) = [r for r in alert_rules if r["alert"] == "ErrorSpike"]
    labels = {"alertname": "ErrorSpike", **rule["labels"]}
    assert routes_test(COMMITTED, "email", labels).returncode == 1  # Slack missing
    assert routes_test(COMMITTED, "email,slack,pagerduty", labels).returncode == 1  # must not page


def test_an_alert_without_channels_still_reaches_email():
    assert routes_test(COMMITTED, "email", {"alertname": "SomethingNew", "severity": "warning"}).returncode == 0


def test_grouping_repeat_and_inhibition_are_set_and_explained():
    text = COMMITTED.read_text()
    config = yaml.safe_load(text)
    route = config["route"]
    assert route["group_by"] == ["alertname", "severity"]
    assert route["group_wait"] == "30s" and route["group_interval"] == "5m"
    repeats = {r["receiver"]: r["repeat_interval"] for r in route["routes"]}
    assert repeats == {"deadmansswitch": "1m", "email": "12h", "slack": "4h", "pagerduty": "1h"}
    assert [r.get("continue", False) for r in route["routes"]] == [False, True, True, False]
    assert len(config["inhibit_rules"]) >= 5
    for heading in ("# Routing:", "# Grouping:", "# Inhibition:"):
        assert heading in text
    assert text.count("\n# ") >= len(config["inhibit_rules"]) + 10  # every inhibit rule has its reason


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------


def template_data(status: str = "firing") -> dict:
    alert = {
        "status": status,
        "labels": {"alertname": "HighErrorRate", "severity": "page", "channels": "email,slack,pagerduty",
                   "environment": "development"},
        "annotations": {"summary": "More than 5% of responses are 5xx",
                        "description": "5.1% of responses in the last 5m were 5xx",
                        "runbook_url": "docs/runbooks/HighErrorRate.md",
                        "dashboard_url": "http://localhost:3000/d/studio-errors"},
        "startsAt": "2025-01-01T10:00:00Z",
        "endsAt": "2025-01-01T10:07:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://localhost:9090/graph?g0.expr=x", "fingerprint": "f1",
    }
    return {"receiver": "email", "status": status, "alerts": [alert],
            "groupLabels": {"alertname": "HighErrorRate", "severity": "page"},
            "commonLabels": alert["labels"], "commonAnnotations": alert["annotations"],
            "externalURL": "http://localhost:9093"}


def render_template(tmp_path: Path, name: str, data: dict, kind: str = "text") -> str:
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps(data))
    result = run([tool("amtool"), "template", "render", f"--template.glob={TEMPLATES}/*.tmpl",
                  f"--template.data={data_file}", f"--template.type={kind}",
                  f'--template.text={{{{ template "{name}" . }}}}'])
    assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
    return result.stdout


def test_templates_are_readable(tmp_path):
    firing = template_data()
    subject = render_template(tmp_path, "studio.email.subject", firing)
    assert subject.strip() == "[FIRING:1] HighErrorRate (page): More than 5% of responses are 5xx"
    text = render_template(tmp_path, "studio.email.text", firing)
    for part in ("5.1% of responses", "Runbook:   docs/runbooks/HighErrorRate.md",
                 "Dashboard: http://localhost:3000/d/studio-errors", "environment=development",
                 "2025-01-01 10:00:00 UTC"):
        assert part in text, part
    assert "channels=" not in text  # routing labels are noise for a reader
    html = render_template(tmp_path, "studio.email.html", firing, "html")
    assert '<a href="http://localhost:3000/d/studio-errors">Dashboard</a>' in html and "#c62828" in html
    slack = render_template(tmp_path, "studio.slack.text", firing)
    assert "*More than 5% of responses are 5xx*" in slack
    assert "Runbook: `docs/runbooks/HighErrorRate.md`" in slack
    assert "<http://localhost:3000/d/studio-errors|Dashboard>" in slack
    assert render_template(tmp_path, "studio.slack.color", firing).strip() == "danger"
    assert render_template(tmp_path, "studio.slack.title_link", firing).strip() == \
        "http://localhost:3000/d/studio-errors"
    assert "HighErrorRate" in render_template(tmp_path, "studio.pagerduty.description", firing)

    resolved = template_data("resolved")
    assert render_template(tmp_path, "studio.email.subject", resolved).startswith("[RESOLVED] HighErrorRate")
    assert render_template(tmp_path, "studio.slack.color", resolved).strip() == "good"
    assert "Resolved (1):" in render_template(tmp_path, "studio.email.text", resolved)


# --------------------------------------------------------------------------------------------
# A real Alertmanager: pages reach the local sinks; inhibition mutes what it should
# --------------------------------------------------------------------------------------------


def _post(url: str, payload) -> None:
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200


def _get(url: str):
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)


def _alert(rules: list[dict], name: str, **extra_labels: str) -> dict:
    rule = next(r for r in rules if r["alert"] == name)
    return {"labels": {"alertname": name, **rule["labels"], **extra_labels},
            "annotations": {k: v.replace("{{", "(").replace("}}", ")") for k, v in rule["annotations"].items()},
            "generatorURL": "http://127.0.0.1:9090/graph"}


@pytest.mark.slow
def test_a_real_alertmanager_delivers_to_the_local_sinks_and_inhibits(renderer, alert_rules, tmp_path):
    binary = tool("alertmanager")
    from stack.sinks import PageSinks

    http_port, smtp_port, am_port = free_port(), free_port(), free_port()
    sinks = PageSinks(http_port, smtp_port).start()
    config = tmp_path / "alertmanager.yml"
    config.write_text(renderer.render_local(smtp_smarthost=f"127.0.0.1:{smtp_port}",
                                            webhook_base_url=f"http://127.0.0.1:{http_port}", env={},
                                            group_wait="1s", group_interval="1s"))
    am_url = f"http://127.0.0.1:{am_port}"
    log = (tmp_path / "alertmanager.log").open("w")
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
                             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=",
                             f"--web.external-url={am_url}"], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        wait_for_http(f"{am_url}/-/ready", timeout=30, proc=proc)
        _post(f"{am_url}/api/v2/alerts", [
            _alert(alert_rules, "HighErrorRate"),
            _alert(alert_rules, "ErrorSpike"),  # inhibited by HighErrorRate
            _alert(alert_rules, "SlowTransactions"),  # e-mail only
            _alert(alert_rules, "Watchdog"),  # the dead-man's switch
        ])
        deadline = time.monotonic() + 30
        wanted = {("email", "HighErrorRate"), ("slack", "HighErrorRate"), ("pagerduty", "HighErrorRate"),
                  ("email", "SlowTransactions"), ("deadmansswitch", "Watchdog")}
        got: set[tuple[str, str]] = set()
        while time.monotonic() < deadline and not wanted <= got:
            time.sleep(0.3)
            got = set()
            for page in sinks.pages:
                blob = json.dumps(page)
                for name in ("HighErrorRate", "ErrorSpike", "SlowTransactions", "Watchdog"):
                    if name in blob:
                        got.add((page["receiver"], name))
        assert wanted <= got, f"missing deliveries {wanted - got}; log:\n{(tmp_path / 'alertmanager.log').read_text()[-3000:]}"

        alerts = {a["labels"]["alertname"]: a for a in _get(f"{am_url}/api/v2/alerts")}
        assert alerts["ErrorSpike"]["status"]["inhibitedBy"], "HighErrorRate must inhibit ErrorSpike"
        assert alerts["ErrorSpike"]["status"]["state"] == "suppressed"
        assert not alerts["HighErrorRate"]["status"]["inhibitedBy"]
        time.sleep(1.5)  # a further group_interval: still nothing for the inhibited alert or wrong channels
        pages = sinks.pages
        got = {(p["receiver"], n) for p in pages for n in ("ErrorSpike", "SlowTransactions")
               if n in json.dumps(p)}
        assert ("email", "ErrorSpike") not in got and ("slack", "ErrorSpike") not in got
        assert ("slack", "SlowTransactions") not in got and ("pagerduty", "SlowTransactions") not in got

        mail = next(p for p in pages if p["receiver"] == "email" and "HighErrorRate" in p["subject"])
        assert mail["subject"].startswith("[FIRING:1] HighErrorRate (page)")
        assert "docs/runbooks/HighErrorRate.md" in mail["body"]
        slack = next(p for p in pages if p["receiver"] == "slack")["body"]
        assert slack["channel"] == "#studio-alerts"
        assert slack["attachments"][0]["title"] == "[FIRING:1] HighErrorRate (page)"
        assert slack["attachments"][0]["color"] == "danger"
        pagerduty = next(p for p in pages if p["receiver"] == "pagerduty")["body"]
        assert pagerduty["event_action"] == "trigger" and pagerduty["payload"]["severity"] == "critical"
        assert pagerduty["links"][0]["href"] == "http://localhost:3000/d/studio-errors"
    finally:
        stop_process(proc)
        log.close()
        sinks.stop()
