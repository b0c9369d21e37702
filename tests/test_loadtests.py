"""The Locust harness (loadtests/) against the real app under gunicorn, and its grading and fidelity code.

Locust itself only ever runs in a subprocess: importing it here would monkey-patch this Django
process with gevent.  The grading (core.grading) and fidelity (core.fidelity) code is plain Python
and is tested directly, with synthetic statistics.
"""
from __future__ import annotations

import csv
import http.server
import io
import json
import os
import subprocess
import threading
import time

import pytest
from django.core.management import call_command

import monitoring_spec as spec
from core import fidelity, grading
from tests.fixtures.servers import PROJECT_DIR, VENV_BIN, free_port

LOCUST = str(VENV_BIN / "locust")
GRADED_VIEWS = [view for t in spec.TARGETS for view in t.views]
METRICS_TOKEN = "load-test-metrics-token"


def run_locust(*args: str, env: dict | None = None, timeout: float = 90) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "LOAD_SHAPE", "METRICS_TOKEN"))}
    full_env.update(env or {})
    started = time.monotonic()
    proc = subprocess.run([LOCUST, "-f", "loadtests", *args], cwd=PROJECT_DIR, env=full_env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    print(f"\nlocust {' '.join(args[:8])} ... took {time.monotonic() - started:.1f}s (exit {proc.returncode})")
    return proc


def test_locust_lists_the_personas():
    proc = run_locust("--list")
    assert proc.returncode == 0, proc.stderr
    for persona in ("AnonymousVisitor", "Student", "ForumReader"):
        assert persona in proc.stdout


@pytest.fixture
def seeded_app(gunicorn_factory):
    call_command("seed_data", size="small", stdout=io.StringIO())
    return gunicorn_factory(workers=2, METRICS_TOKEN=METRICS_TOKEN)


@pytest.mark.slow
def test_headless_run_grades_every_endpoint_and_matches_prometheus(seeded_app, tmp_path):
    reports = tmp_path / "reports"
    # Think times x0.05: every persona runs its tasks many times in 10 s, so every endpoint is reached.
    proc = run_locust("--headless", "-u", "6", "-r", "6", "-t", "10s", "--think-scale", "0.05", "--only-summary",
                      "--host", seeded_app.base_url, "--reports-dir", str(reports),
                      env={"METRICS_TOKEN": METRICS_TOKEN})
    out = proc.stdout
    assert "Graded results" in out, out + proc.stderr
    data = json.loads((reports / "grades.json").read_text())
    assert proc.returncode == data["exit_code"] == (0 if data["passed"] else 1), out + proc.stderr

    # Every endpoint of the target table, with requests and a grade, in the table, the JSON and the CSV.
    by_name = {e["name"]: e for e in data["endpoints"]}
    rows = {r["name"]: r for r in csv.DictReader((reports / "grades.csv").open())}
    for view in GRADED_VIEWS:
        assert view in out
        assert by_name[view]["requests"] > 0, by_name[view]
        assert by_name[view]["grade"] in spec.GRADES
        assert rows[view]["grade"] == by_name[view]["grade"]
        for key in ("avg_ms", "p50_ms", "p95_ms", "p99_ms"):
            assert by_name[view][key] is not None
    assert "accounts:token" in by_name  # the logins, named after their view too
    html = (reports / "locust-report.html").read_text()
    assert "courses:course-list" in html

    # Fidelity: Locust's count per name is exactly the /metrics delta per view.
    line = next(line for line in out.splitlines() if line.startswith("Fidelity:"))
    assert "exact match" in line, out
    fid = data["fidelity"]
    assert fid["skipped"] is None and fid["counts_match"] is True
    assert {v["name"] for v in fid["views"]} >= set(GRADED_VIEWS)
    for view in fid["views"]:
        assert view["locust_requests"] == view["prometheus_requests"] > 0
        if view["name"] in GRADED_VIEWS:
            assert view["prometheus_p95_ms"] is not None and view["locust_bucket"] is not None
    assert "P95" in line


@pytest.mark.slow
def test_step_shape_reports_capacity_at_target(seeded_app, tmp_path):
    reports = tmp_path / "reports"
    proc = run_locust("--headless", "--think-scale", "0.1", "--only-summary", "--host", seeded_app.base_url,
                      "--reports-dir", str(reports), "--step-users", "2", "--step-seconds", "3",
                      "--step-window", "2", "--step-max-users", "4", "--step-min-requests", "1",
                      env={"LOAD_SHAPE": "step", "METRICS_TOKEN": METRICS_TOKEN})
    assert "Capacity at target:" in proc.stdout, proc.stdout + proc.stderr
    capacity = json.loads((reports / "capacity.json").read_text())
    assert [s["users"] for s in capacity["steps"]][:1] == [2]
    assert capacity["summary"] in proc.stdout
    if capacity["capacity_users"] is not None:
        assert capacity["capacity_users"] in (2, 4) and capacity["capacity_rps"] > 0
    assert json.loads((reports / "grades.json").read_text())["shape"] == "StepLoadShape"


def test_unreachable_app_fails_the_run_and_skips_fidelity(tmp_path):
    reports = tmp_path / "reports"
    proc = run_locust("--headless", "-u", "2", "-r", "2", "-t", "3s", "--think-scale", "0.1", "--only-summary",
                      "--host", f"http://127.0.0.1:{free_port()}", "--reports-dir", str(reports))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Fidelity: skipped" in proc.stdout and "unreachable" in proc.stdout
    data = json.loads((reports / "grades.json").read_text())
    assert data["passed"] is False and data["failure_ratio"] == 1.0
    assert any("requests failed" in reason for reason in data["reasons"])


# --- grading (pure) -------------------------------------------------------------------------

def synthetic(view: str, avg_ms: float, requests: int = 100, failures: int = 0) -> grading.EndpointResult:
    return grading.EndpointResult(name=view, requests=requests, failures=failures, avg_ms=avg_ms,
                                  p50_ms=avg_ms, p95_ms=avg_ms * 2, p99_ms=avg_ms * 3, rps=10.0)


def test_grading_passes_when_every_endpoint_is_under_needs_work():
    rows = [synthetic(t.view, t.needs_work_ms) for t in spec.TARGETS]  # "<= needs_work" is over target
    report = grading.grade_run(rows, expected=GRADED_VIEWS)
    assert report.passed and report.exit_code == 0
    assert {r.grade for r in report.rows if r.requests} == {spec.OVER_TARGET}
    assert [r.name for r in report.rows] == GRADED_VIEWS  # target table order, "no data" rows included
    table = grading.render_load_table(report)
    assert "Result: PASS" in table and "no data" in table


@pytest.mark.parametrize("target", spec.TARGETS, ids=lambda t: t.key)
def test_grading_fails_when_one_endpoint_needs_work(target):
    rows = [synthetic(t.view, t.excellent_ms / 2) for t in spec.TARGETS]
    rows = [synthetic(target.view, target.needs_work_ms + 1) if r.name == target.view else r for r in rows]
    report = grading.grade_run(rows, expected=GRADED_VIEWS)
    assert not report.passed and report.exit_code == 1
    assert any(target.view in reason and "needs work" in reason for reason in report.reasons)
    assert "Result: FAIL" in grading.render_load_table(report)


def test_grading_grades_each_figure_with_the_table():
    t = spec.TARGETS_BY_KEY["course_list"]
    row = grading.EndpointResult(name=t.view, requests=10, avg_ms=t.excellent_ms - 1, p50_ms=t.target_ms - 1,
                                 p95_ms=t.needs_work_ms, p99_ms=t.needs_work_ms + 1)
    d = row.to_dict()
    assert d["grade"] == spec.EXCELLENT
    assert d["grades"] == {"avg": spec.EXCELLENT, "p50": spec.MEETS_TARGET,
                           "p95": spec.OVER_TARGET, "p99": spec.NEEDS_WORK}
    assert d["target_ms"] == t.target_ms and d["endpoint"] == t.name


def test_grading_fails_on_more_than_one_percent_failures_and_on_exceptions():
    fast = [synthetic(t.view, 1) for t in spec.TARGETS]
    ok = grading.grade_run(fast + [synthetic("accounts:token", 1, requests=1000, failures=10)])
    assert ok.passed  # exactly 1 % is allowed
    over = grading.grade_run(fast + [synthetic("accounts:token", 1, requests=1000, failures=11)])
    assert not over.passed and "accounts:token" in over.reasons[0]
    assert not grading.grade_run(fast, exceptions=1).passed


def test_grading_writes_json_csv_and_text(tmp_path):
    report = grading.grade_run([synthetic(t.view, 10) for t in spec.TARGETS])
    paths = grading.write_reports(report, tmp_path / "out")
    data = json.loads(paths["json"].read_text())
    primary = [t.view for t in spec.TARGETS]
    assert data["passed"] is True and [e["name"] for e in data["endpoints"]] == primary
    rows = list(csv.DictReader(paths["csv"].open()))
    assert [r["name"] for r in rows] == primary and all(r["grade"] == "excellent" for r in rows)
    assert "Result: PASS" in paths["txt"].read_text()


def test_percentile_is_nearest_rank():
    values = list(range(1, 21))
    assert grading.percentile(values, 0.95) == 19
    assert grading.percentile(values, 0.5) == 10
    assert grading.percentile([7.0], 0.99) == 7.0
    assert grading.percentile([], 0.95) is None


# --- fidelity (pure) ------------------------------------------------------------------------

def exposition(counts: dict[str, list[int]]) -> str:
    """Prometheus text for the latency histogram: per view, a count per bucket (not cumulative)."""
    edges = spec.REQUEST_LATENCY_BUCKETS
    lines = [f"# TYPE {fidelity.HISTOGRAM} histogram"]
    for view, per_bucket in counts.items():
        cumulative = 0
        for le, n in zip(edges, per_bucket, strict=True):
            cumulative += n
            le_text = "+Inf" if le == float("inf") else repr(le)
            lines.append(f'{fidelity.HISTOGRAM}_bucket{{le="{le_text}",method="GET",view="{view}"}} {cumulative}.0')
        lines.append(f'{fidelity.HISTOGRAM}_count{{method="GET",view="{view}"}} {cumulative}.0')
    lines.append('django_http_responses_total_by_status_view_method_total{method="GET",status="200",view="x"} 1.0')
    return "\n".join(lines) + "\n"


def buckets(**at_index: int) -> list[int]:
    out = [0] * len(spec.REQUEST_LATENCY_BUCKETS)
    for index, n in at_index.items():
        out[int(index[1:])] = n
    return out


def test_fidelity_counts_and_p95_from_bucket_deltas():
    before = fidelity.parse_metrics(exposition({"courses:course-list": buckets(i0=5)}))
    # 100 more requests: 90 in (10, 25] ms (index 1), 10 in (50, 75] ms (index 3).
    after = fidelity.parse_metrics(exposition({"courses:course-list": buckets(i0=5, i1=90, i3=10),
                                               "accounts:token": buckets(i4=3)}))
    delta = after.minus(before)
    assert delta.counts == {"courses:course-list": 100, "accounts:token": 3}
    q, index = fidelity.histogram_quantile(0.95, delta.buckets["courses:course-list"])
    assert index == 3 and 0.05 < q <= 0.075

    report = fidelity.compare({"courses:course-list": (100, 70.0), "accounts:token": (3, 90.0)}, delta,
                              p95_views=GRADED_VIEWS)
    assert report.ok and "exact match" in report.line() and "within one bucket for 1/1" in report.line()
    # Locust one bucket higher (client time includes the network and middleware): still agrees.
    assert fidelity.compare({"courses:course-list": (100, 90.0)}, delta, GRADED_VIEWS).p95_agree
    # Two buckets apart, or a count off by one: reported.
    assert not fidelity.compare({"courses:course-list": (100, 140.0)}, delta, GRADED_VIEWS).p95_agree
    off = fidelity.compare({"courses:course-list": (101, 70.0)}, delta, GRADED_VIEWS)
    assert not off.ok and "MISMATCH" in off.line() and "101 vs 100" in off.line()


def test_bucket_index_uses_upper_inclusive_edges():
    edges = spec.REQUEST_LATENCY_BUCKETS
    assert fidelity.bucket_index(0.010, edges) == 0
    assert fidelity.bucket_index(0.0101, edges) == 1
    assert fidelity.bucket_index(99.0, edges) == len(edges) - 1


class _MetricsHandler(http.server.BaseHTTPRequestHandler):
    token = "s3cret"

    def do_GET(self):
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            self.send_response(401)
            self.end_headers()
            return
        body = exposition({"forum:topic-list": buckets(i2=4)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_fetch_metrics_sends_the_bearer_token_and_reports_protection():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _MetricsHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
    try:
        assert fidelity.fetch_metrics(url, "s3cret").counts == {"forum:topic-list": 4}
        with pytest.raises(fidelity.MetricsUnavailable, match="401.*METRICS_TOKEN"):
            fidelity.fetch_metrics(url)
        with pytest.raises(fidelity.MetricsUnavailable, match="unreachable"):
            fidelity.fetch_metrics(f"http://127.0.0.1:{free_port()}/metrics")
    finally:
        server.shutdown()
        server.server_close()
    assert fidelity.FidelityReport(skipped="x").line() == "Fidelity: skipped (x)"
