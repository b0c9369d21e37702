"""End to end: the app under gunicorn, real Prometheus and Alertmanager, local e-mail/Slack/PagerDuty sinks.

Each fire drill (manage.py fire_drill, through the app's real code paths) must page exactly the
receivers the guide names for its alert, with readable content, within a bound; healthy traffic
pages no one.  Intervals are short (scrape and evaluation 1 s, group_wait 1 s) and the guide's
alerts' `for:` is shortened to 2 s here; promtool tests the real `for:` timings.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest

from tests import factories as f
from tests.fixtures.monitoring import shortened_rules
from tests.fixtures.servers import APP_DIR

pytestmark = pytest.mark.slow

GUIDE_ALERTS = ("ErrorSpike", "SlowTransactions", "HighErrorRate", "DatabaseIssues")
# The guide's table: alert -> who is paged.
EXPECTED = {
    "error-spike": ("ErrorSpike", {"email", "slack"}),
    "slow": ("SlowTransactions", {"email"}),
    "error-rate": ("HighErrorRate", {"email", "slack", "pagerduty"}),
    "db-slow": ("DatabaseIssues", {"email"}),
}
PAGE_BOUND_SECONDS = 45
TITLE = re.compile(r"\[FIRING:\d+\] (\w+)")


def paged(pages: list[dict]) -> set[tuple[str, str]]:
    """(receiver, alertname) of every firing page, the dead-man's switch aside."""
    out = set()
    for page in pages:
        if page["receiver"] == "deadmansswitch":
            continue
        for name in TITLE.findall(json.dumps(page)):
            out.add((page["receiver"], name))
    return out


def fire_drill(drill: str, base_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.development", "ENVIRONMENT": "development"}
    return subprocess.run([sys.executable, "manage.py", "fire_drill", drill, "--url", base_url], cwd=APP_DIR,
                          env=env, capture_output=True, text=True, timeout=120)


def healthy_traffic(base_url: str, course_slug: str, user_id: int, n: int = 60) -> None:
    paths = ["/api/v1/courses/", f"/api/v1/courses/{course_slug}/", f"/api/v1/users/{user_id}/profile/",
             "/api/v1/forum/topics/"]
    for i in range(n):
        with urllib.request.urlopen(base_url + paths[i % len(paths)], timeout=10) as resp:
            assert resp.status == 200


@pytest.fixture
def app_and_monitoring(gunicorn_factory, monitoring_factory, tmp_path):
    course, user = f.course(), f.user()
    f.topic()
    app = gunicorn_factory(workers=3)
    rules = shortened_rules(tmp_path / "rules", {name: "2s" for name in GUIDE_ALERTS})
    monitoring = monitoring_factory([app.base_url.removeprefix("http://")], rules_dir=rules)
    prom = monitoring.prometheus
    # Rules loaded, and at least two scrapes of the app: increase() and rate() have a baseline.
    groups = prom.api("/api/v1/rules")["groups"]
    assert {r["name"] for g in groups for r in g["rules"]} >= set(GUIDE_ALERTS)
    prom.wait_until('count_over_time(up{job="studio-app"}[1m]) >= 3')
    return app, monitoring, course, user


def wait_for_pages(monitoring, wanted: set[tuple[str, str]], started: float) -> dict[tuple[str, str], float]:
    deadline, arrived = started + PAGE_BOUND_SECONDS, {}
    while time.monotonic() < deadline and not wanted <= set(arrived):
        for key in paged(monitoring.sinks.pages):
            arrived.setdefault(key, time.monotonic() - started)
        time.sleep(0.2)
    return arrived


@pytest.mark.parametrize("drill", list(EXPECTED))
def test_fire_drill_pages_exactly_the_guides_receivers(drill, app_and_monitoring):
    app, monitoring, _, _ = app_and_monitoring
    alert, receivers = EXPECTED[drill]
    started = time.monotonic()
    out = fire_drill(drill, app.base_url)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"expect {alert}" in out.stdout

    wanted = {(receiver, alert) for receiver in receivers}
    arrived = wait_for_pages(monitoring, wanted, started)
    assert wanted <= set(arrived), (
        f"{drill}: missing {wanted - set(arrived)} within {PAGE_BOUND_SECONDS}s; got {sorted(arrived)}\n"
        f"alerts: {monitoring.prometheus.query('ALERTS')}\n{monitoring.alertmanager.logs()[-2000:]}")
    time.sleep(3)  # a few more evaluations and group intervals: nothing else may arrive
    assert paged(monitoring.sinks.pages) == wanted, f"{drill} paged more than {wanted}"
    print(f"\n{drill}: " + ", ".join(f"{receiver} {seconds:.1f}s" for (receiver, _), seconds in sorted(arrived.items()))
          + " from the start of the drill to the page")

    pages = [p for p in monitoring.sinks.pages if (p["receiver"], alert) in wanted]
    mail = next(p for p in pages if p["receiver"] == "email")
    assert mail["subject"].startswith(f"[FIRING:1] {alert}") and f"docs/runbooks/{alert}.md" in mail["body"]
    assert "Dashboard" in mail["body"] or "dashboard" in mail["body"]
    if "slack" in receivers:
        slack = next(p for p in pages if p["receiver"] == "slack")["body"]
        assert slack["attachments"][0]["title"].startswith(f"[FIRING:1] {alert}")
    if "pagerduty" in receivers:
        pd = next(p for p in pages if p["receiver"] == "pagerduty")["body"]
        assert pd["event_action"] == "trigger" and pd["payload"]["severity"] == "critical"
        assert alert in pd["payload"]["summary"]


def test_healthy_load_pages_no_one(app_and_monitoring):
    app, monitoring, course, user = app_and_monitoring
    started = time.monotonic()
    healthy_traffic(app.base_url, course.slug, user.pk)
    # Long enough for every guide alert to have fired (for: 2 s, evaluation 1 s, group_wait 1 s).
    time.sleep(6)
    assert monitoring.prometheus.query('sum(studio:django_http_responses:increase5m)')  # the traffic was seen
    assert paged(monitoring.sinks.pages) == set()
    # The dead-man's switch is the one page a healthy system sends, and it does.
    assert any(p["receiver"] == "deadmansswitch" for p in monitoring.sinks.pages), (
        f"{monitoring.sinks.pages}\n{monitoring.prometheus.query('ALERTS')}\n{monitoring.alertmanager.logs()[-3000:]}")
    print(f"\nhealthy load: {time.monotonic() - started:.1f}s, no page")
