"""Issue 7 part 4: every dashboard query returns data from a real Prometheus after real traffic.

Real parts only: a private redis-server (the app's cache and the Celery broker), the app under
gunicorn (3 workers), a Celery prefork worker with its /metrics, prometheus-redis-exporter, and
Prometheus + Alertmanager with the committed rules (scrape and evaluation every 1 s).  A bounded
burst of realistic requests goes in first (spread over several scrapes, so rate() has samples
that differ); then the fire drills fill the panels that only show something during an incident.
Then every panel target of every generated dashboard (grafana/dashboards/*.json), the release
annotation and the template variables' selectors are asked through /api/v1/query, with the
Grafana variables substituted as the lint test does (tests/test_dashboards.py: `$instance`,
`$view`, `$task` -> ".*", `$__rate_interval` -> 1m, `$__range` -> 1h).

A query "returns data" when at least one sample is a number (NaN is what a ratio of two zero rates
gives: a panel showing only NaN is as empty as one showing "No data").  A query that ends in
`or vector(0)` always answers, so it is also asked without that fallback: the real series must be
there too.  All misses are collected and reported together.

Prometheus starts on eight backfilled days of history (stack/history.py, tests/fixtures/backfill.py) that end
75 minutes before the test: past the dashboards' hour, so every query over the last hour answers from the
test's own app alone, while the panels that look back a day or a week (`offset 1d`, `offset 7d`) have
something to show: no query may stay empty.  Then every dashboard is drawn as Grafana lays it out
(grafana.snapshot, over the dashboard's own hour): no panel may be drawn as "No data", and the threshold bands
drawn must be the panels' own and the spec's numbers.
"""
from __future__ import annotations

import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from grafana.snapshot import render
from tests import factories as f
from tests.fixtures.dashboards import DASHBOARD_DIR, all_panels, expressions, substitute
from tests.fixtures.snapshots import assert_thresholds_are_the_specs, drawn_steps_are_the_dashboards
from tests.test_alerting_e2e import fire_drill
from tests.test_metrics_support import http

pytestmark = pytest.mark.slow

SCRAPE = 1.0  # seconds: Prometheus' scrape and evaluation interval here
ROUNDS = 4  # load rounds, one scrape apart
DRILL_TASK_FAILURES = 3  # /_drill/task-error/ requests (a failing Celery task each)
FALLBACK = re.compile(r"\s+or\s+vector\(0\)")

BACKFILL_DAYS = 8  # history behind the test's minute: '1 week earlier' (offset 7d) needs more than 7 days

# Queries that legitimately return nothing, with why, keyed by (dashboard uid, panel title, refId).  Empty
# since the backfilled history (the day-over-day and week-over-week trend had no past to show): a panel that
# should have data and has none is a broken query or a missing metric, which is what this test is for.
ALLOWED_EMPTY: dict[tuple[str, str, str], str] = {}


def instant(prom_url: str, expr: str) -> tuple[list | None, str]:
    """(result, error) of an instant query at now."""
    url = f"{prom_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = json.load(resp)
    except urllib.error.HTTPError as exc:
        return None, exc.read().decode(errors="replace")[:300]
    if body.get("status") != "success":
        return None, str(body)[:300]
    return body["data"]["result"], ""


def numbers(result: list) -> list[float]:
    """The sample values of a vector result that are numbers (not NaN)."""
    values = [float(sample["value"][1]) for sample in result]
    return [v for v in values if not math.isnan(v)]


def targets_of_all_dashboards() -> list[dict]:
    """Every query the dashboards make: panel targets, annotations, variable selectors."""
    out = []
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        dash = json.loads(path.read_text())
        for panel in all_panels(dash):
            for target in panel.get("targets", []):
                out.append({"kind": "panel", "uid": dash["uid"], "panel": panel["title"],
                            "panel_id": panel["id"], "ref": target["refId"], "expr": target["expr"]})
        for where, expr in expressions(dash):  # the same walk as the lint test, minus the panels
            if " panel " not in where:
                kind = "annotation" if " annotation " in where else "variable"
                out.append({"kind": kind, "uid": dash["uid"], "panel": where, "panel_id": None,
                            "ref": "", "expr": expr})
    return out


def wait_for_scrapes(prom, after: float, jobs: str, n: int = 2, timeout: float = 30) -> None:
    """Until every target of `jobs` was scraped at least `n` intervals after `after` (epoch s)."""
    prom.wait_until(f'min(timestamp(up{{job=~"{jobs}"}})) > {after + n * SCRAPE:.3f}', timeout=timeout)


def realistic_round(base: str, i: int, *, courses, token: str, topic, profile_ids) -> list[tuple]:
    """One round of what users do: browse with filters, read, look at profiles, enrol, post."""
    auth = {"Authorization": f"Token {token}"}
    plan = [
        ("GET", "/api/v1/courses/", None, {}),
        ("GET", "/api/v1/courses/?category=web&ordering=rating", None, {}),
        ("GET", "/api/v1/courses/?level=beginner&ordering=popular&page_size=5", None, {}),
        ("GET", "/api/v1/courses/?q=Course&ordering=title", None, {}),
        ("GET", f"/api/v1/courses/{courses[0].slug}/", None, {}),
        ("GET", f"/api/v1/courses/{courses[i % len(courses)].slug}/", None, {}),
        ("GET", f"/api/v1/users/{profile_ids[0]}/profile/", None, {}),
        ("GET", f"/api/v1/users/{profile_ids[i % len(profile_ids)]}/profile/", None, {}),
        ("GET", "/api/v1/me/", None, auth),
        ("GET", "/api/v1/forum/topics/", None, {}),
        ("GET", "/api/v1/forum/topics/?page_size=10", None, {}),
        ("POST", f"/api/v1/courses/{courses[i].slug}/enroll/", None, auth),  # enqueues two tasks
        ("POST", f"/api/v1/forum/topics/{topic.pk}/posts/", {"body": f"round {i}: thanks!"}, auth),
    ]
    statuses = []
    for method, path, body, headers in plan:
        status, _, content = http(base + path, method, body=body, headers=headers)
        statuses.append((method, path, status, content[:200]))
    return statuses


def test_every_dashboard_query_returns_data_from_a_live_prometheus(
        redis_server, gunicorn_factory, celery_worker_factory, redis_exporter_factory,
        monitoring_factory, tmp_path):
    started = time.monotonic()
    # ---- data (committed: the servers are other processes) -----------------------------------
    instructor = f.user()
    courses = [f.course(instructor=instructor, category=cat, level=lvl)
               for cat, lvl in (("web", "beginner"), ("data-science", "intermediate"),
                                ("web", "advanced"), ("testing", "beginner"))]
    assert len(courses) >= ROUNDS  # one new enrolment (two tasks) per round
    student = f.user()
    token = f.token_for(student)
    readers = [f.user() for _ in range(2)]
    topic = f.topic(author=readers[0])
    f.enrollment(readers[1], courses[0], progress=40)

    # ---- the system: Redis (cache + broker), worker, app, exporter, Prometheus ----------------
    redis = redis_server
    shared = {"REDIS_URL": redis.url, "CACHE_URL": redis.url, "CELERY_BROKER_URL": redis.url,
              "METRICS_REDIS_URL": redis.url, "CACHE_KEY_PREFIX": "live-dashboards",
              "CELERY_TASK_ALWAYS_EAGER": 0}
    worker = celery_worker_factory(concurrency=2, **shared)
    app = gunicorn_factory(workers=3, **shared)
    exporter = redis_exporter_factory(redis.url)
    monitoring = monitoring_factory(
        [app.base_url.removeprefix("http://")], interval=f"{SCRAPE:g}s",
        worker_targets=[f"127.0.0.1:{worker.metrics_port}"], redis_exporter=exporter.address,
        backfill_days=BACKFILL_DAYS)
    prom = monitoring.prometheus
    jobs = "studio-app|studio-worker|redis"
    try:
        prom.wait_until(f'count(up{{job=~"{jobs}"}} == 1) == 3', timeout=30)
    except TimeoutError:
        pytest.fail(f"targets not up: {prom.query('up')}\n{exporter.logs()[-1500:]}")
    wait_for_scrapes(prom, time.time(), jobs)  # baselines: counters at zero before any traffic
    ready = time.monotonic()

    # ---- load: a bounded burst, one scrape between rounds -------------------------------------
    sent = 0
    for i in range(ROUNDS):
        statuses = realistic_round(app.base_url, i, courses=courses, token=token,
                                   topic=topic, profile_ids=[student.pk, *[r.pk for r in readers]])
        bad = [s for s in statuses if s[2] >= 400]
        assert not bad, f"round {i}: {bad}\n{app.logs()[-3000:]}"
        sent += len(statuses)
        time.sleep(1.2 * SCRAPE)

    # ---- the incident: fire drills, spread over scrapes so new series get a second sample ----
    drills = [("error-rate",), ("all",)]  # error-rate twice: 5xx of one view in two scrapes
    for (drill,) in drills:
        out = fire_drill(drill, app.base_url)
        assert out.returncode == 0, out.stdout + out.stderr
        time.sleep(1.2 * SCRAPE)
    for _ in range(2):  # an unhandled exception and a database error in a view (500s), twice
        assert http(f"{app.base_url}/_drill/error/")[0] == 500
        assert http(f"{app.base_url}/_drill/db-error/")[0] == 500
        time.sleep(1.2 * SCRAPE)
    for _ in range(DRILL_TASK_FAILURES):  # Celery task failures, through the broker
        assert http(f"{app.base_url}/_drill/task-error/")[0] == 202
    # Every task ran (enrolments: confirmation + statistics; the drill's failures) and was scraped.
    prom.wait_until(f'sum(studio_celery_tasks_failed_total{{job="studio-worker"}}) >= {DRILL_TASK_FAILURES}'
                    f' and sum(studio_celery_tasks_succeeded_total{{job="studio-worker"}}) >= {2 * ROUNDS}',
                    timeout=30)
    wait_for_scrapes(prom, time.time(), jobs)
    loaded = time.monotonic()

    # ---- every query ------------------------------------------------------------------------
    # The release annotation marks a release label that exists now and did not 2 minutes ago: in a
    # Prometheus younger than that, the release the app started with.  The test stays well inside.
    targets = targets_of_all_dashboards()
    known = {(t["uid"], t["panel"], t["ref"]) for t in targets}
    stale = set(ALLOWED_EMPTY) - known
    assert not stale, f"allow-list entries that match no query (renamed panel?): {stale}"

    failures, allowed, checked, strict = [], [], 0, 0
    for t in targets:
        key = (t["uid"], t["panel"], t["ref"])
        expr = substitute(t["expr"])
        assert "$" not in expr, f"unsubstituted variable: {expr}"
        variants = [("query", expr)]
        if FALLBACK.search(expr):
            variants.append(("without `or vector(0)`", FALLBACK.sub("", expr)))
            strict += 1
        for label, query in variants:
            checked += 1
            result, error = instant(prom.url, query)
            if result is not None and numbers(result):
                continue
            why = error or ("only NaN" if result else "no data")
            if key in ALLOWED_EMPTY:
                allowed.append(f"{t['uid']} / {t['panel']} {t['ref']}: {ALLOWED_EMPTY[key]}")
                continue
            where = f"{t['uid']} / {t['panel']}" + (f" (panel {t['panel_id']}) {t['ref']}" if t["panel_id"] else "")
            failures.append(f"{where} [{label}]: {why}\n    {query}")

    panels = {(t["uid"], t["panel_id"]) for t in targets if t["kind"] == "panel"}
    panel_queries = sum(t["kind"] == "panel" for t in targets)
    others = len(targets) - panel_queries
    print(f"\n{len(panels)} panels in {len(list(DASHBOARD_DIR.glob('*.json')))} dashboards, "
          f"{panel_queries} panel queries + {others} annotation/variable queries; "
          f"{checked} instant queries asked ({strict} also without their `or vector(0)`)")
    print(f"load: {sent} requests in {ROUNDS} rounds, drills: {', '.join(d for (d,) in drills)}, "
          f"/_drill/error/ and /_drill/db-error/ x2, /_drill/task-error/ x{DRILL_TASK_FAILURES}")
    print(f"timing: start {ready - started:.1f}s, load+drills {loaded - ready:.1f}s, "
          f"queries {time.monotonic() - loaded:.1f}s")
    if allowed:
        print("allowed to stay empty:\n  " + "\n  ".join(allowed))
    if failures:
        pytest.fail(f"{len(failures)} dashboard queries returned no data:\n" + "\n".join(failures))
    print("every other query returned data")

    # ---- every dashboard drawn, as Grafana lays it out, over its own range ----------------------
    shot = render(prom.url, None, None, None, tmp_path / "snapshots")
    empty = [key for key in shot.no_data() if key not in ALLOWED_EMPTY]
    errors = [(p.uid, p.title, p.errors) for p in shot.panels() if p.errors]
    print(f"snapshots: {len(shot.panels())} panels drawn in {sum(d.seconds for d in shot.dashboards):.1f}s, "
          f"{shot.index}")
    assert not errors, errors
    assert not empty, f"panels drawn as 'No data': {empty}"
    assert drawn_steps_are_the_dashboards(shot) > 30
    assert_thresholds_are_the_specs(shot)
