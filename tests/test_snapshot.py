"""Issue 17: `make snapshot` draws the dashboards from a real Prometheus (grafana/snapshot/).

A real Prometheus (the committed rules, 1 s scrapes) scrapes a small /metrics endpoint this test serves under the
app's metric names (monitoring_spec.contract), with traffic added at every scrape; the Redis exporter and the
worker are absent, so their panels must come out "No data".  All five generated dashboards are drawn once; the
tests read the PNGs and what the snapshot reports per panel.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from grafana.snapshot import layout, render
from grafana.snapshot.render import DASHBOARD_DIR, load_dashboards
from grafana.snapshot.units import fmt
from grafana.snapshot.variables import grafana_values, substitute
from monitoring_spec import contract
from monitoring_spec.buckets import DB_QUERY_BUCKETS, REQUEST_LATENCY_BUCKETS
from tests.fixtures.monitoring import Prometheus
from tests.fixtures.servers import PROJECT_DIR, free_port
from tests.fixtures.snapshots import assert_thresholds_are_the_specs, drawn_steps_are_the_dashboards

pytestmark = pytest.mark.slow

VIEWS = ("courses:course-list", "courses:course-detail", "forum:topic-list")


class FakeApp:
    """The app's /metrics, names from the contract: each scrape finds more requests (some 500s), latencies and
    database queries, so rate() and the recording rules have something to read."""

    def __init__(self):
        r = self.registry = CollectorRegistry()
        name = lambda metric: metric.removesuffix("_total")  # prometheus_client appends _total to counters
        self.requests = Counter(name(contract.REQUESTS), "", ["view", "transport", "method"], registry=r)
        self.responses = Counter(name(contract.RESPONSES), "", ["status", "view", "method"], registry=r)
        self.latency = Histogram(contract.REQ_LATENCY, "", ["view", "method"], buckets=REQUEST_LATENCY_BUCKETS,
                                 registry=r)
        self.queries = Counter(name(contract.DB_EXECUTE), "", ["alias", "vendor"], registry=r)
        self.query_time = Histogram(contract.DB_DURATION, "", ["alias", "vendor"], buckets=DB_QUERY_BUCKETS,
                                    registry=r)
        self.queue = Gauge(contract.CELERY_QUEUE, "", ["queue"], registry=r)
        Gauge(contract.BUILD_INFO, "", ["release", "environment"], registry=r).labels("r17", "test").set(1)
        self.scrapes = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), self._handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def traffic(self) -> None:
        self.scrapes += 1
        for i, view in enumerate(VIEWS):
            self.requests.labels(view, "http", "GET").inc(5 + i)
            self.responses.labels("200", view, "GET").inc(5 + i)
            for k in range(5 + i):
                self.latency.labels(view, "GET").observe(0.02 * (k + 1) * (i + 1))
        self.responses.labels("500", VIEWS[0], "GET").inc(self.scrapes % 2)
        self.queries.labels("default", "postgresql").inc(30)
        for k in range(30):
            self.query_time.labels("default", "postgresql").observe(0.001 * (k + 1))
        self.queue.labels("celery").set(self.scrapes % 7)

    def _handler(self):
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                app.traffic()
                body = generate_latest(app.registry)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def prometheus():
    app = FakeApp()
    prom = Prometheus(Path(tempfile.mkdtemp(prefix="test-snapshot-")), app_targets=[app.address], alertmanager=None,
                      interval="1s")
    try:
        prom.start()
        # Enough scrapes for rate() over the panels' intervals ($__rate_interval is 4 s here) and the rules.
        prom.wait_until(f'count(rate({contract.REQUESTS}[4s]) > 0) >= {len(VIEWS)}', timeout=30)
        time.sleep(4)
        yield prom
    finally:
        prom.stop()
        app.stop()
        shutil.rmtree(prom.workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def shot(prometheus, tmp_path_factory):
    end = time.time()
    started = time.monotonic()
    snapshot = render(prometheus.url, load_dashboards(), end - 120, end, tmp_path_factory.mktemp("snapshot"))
    print(f"\nrendered {len(snapshot.dashboards)} dashboards in {time.monotonic() - started:.1f} s: "
          + ", ".join(f"{d.uid} {d.seconds:.1f} s" for d in snapshot.dashboards))
    return snapshot


def dashboard_json(uid: str) -> dict:
    return next(json.loads(p.read_text()) for p in DASHBOARD_DIR.glob("*.json") if json.loads(p.read_text())["uid"] == uid)


def test_every_dashboard_is_one_png_of_its_grid_and_the_index_links_them(shot, prometheus):
    assert [d.uid for d in shot.dashboards] == [b.uid for b in contract.DASHBOARDS.values()]
    for d in shot.dashboards:
        dash = dashboard_json(d.uid)
        assert d.png.is_file(), d.png
        with Image.open(d.png) as img:
            img.verify()
        with Image.open(d.png) as img:
            assert img.format == "PNG"
            bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in dash["panels"])
            assert img.size == (layout.WIDTH, layout.HEADER + bottom * 38 + layout.PAD) == d.size
            assert len(img.convert("RGB").getcolors(maxcolors=1_000_000) or []) > 50, "a blank picture"
        assert {p.panel_id for p in d.panels} == {p["id"] for p in dash["panels"] if p["type"] != "row"}
    index = shot.index.read_text()
    assert prometheus.url in index
    for d in shot.dashboards:
        assert f'href="{d.png.name}"' in index
    assert time.strftime("%Y-%m-%d %H:%M", time.gmtime(shot.dashboards[0].end)) in index
    # The Overview's release annotation: the release the app started with is new within 2 minutes.
    assert [text for _, text in shot.dashboards[0].annotations] == ["Release r17"]


def test_a_panel_whose_series_exist_has_data_and_one_whose_metric_is_absent_is_no_data(shot, prometheus):
    request_rate = shot.panel("studio-overview", "Request rate")
    assert request_rate.refs_with_data == ["A"] and not request_rate.no_data
    latency = shot.panel("studio-overview", "Request latency percentiles")
    assert set(latency.refs_with_data) == {"A", "B", "C", "D", "E"} and latency.series == 5
    queries = shot.panel("studio-database", "Query rate")
    assert queries.refs_with_data == ["A"]

    # No Redis exporter here: its metric is absent, so the panel is "No data" and listed.
    assert prometheus.query("redis_keyspace_hits_total") == []
    redis = shot.panel("studio-cache-celery", "Redis hit ratio (5m)")
    assert redis.no_data and redis.refs_without_data == ["A"]
    assert ("studio-cache-celery", "Redis hit ratio (5m)", "A") in shot.no_data()
    assert ("studio-overview", "Request rate", "A") not in shot.no_data()
    assert not any(p.errors for p in shot.panels()), [(p.uid, p.title, p.errors) for p in shot.panels() if p.errors]


def test_threshold_steps_drawn_are_the_dashboards_and_the_specs(shot):
    assert drawn_steps_are_the_dashboards(shot) > 30
    assert_thresholds_are_the_specs(shot)


def test_gauge_and_vertical_bar_gauge_panels(prometheus, tmp_path):
    expr = f'sum(rate({contract.REQUESTS}{{view=~"$view"}}[$__rate_interval]))'
    field = {"unit": "reqps", "min": 0, "max": 100, "color": {"mode": "thresholds"},
             "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None},
                                                          {"color": "rgba(237, 129, 40, 0.89)", "value": 50}]}}
    target = {"refId": "A", "expr": expr, "instant": True, "range": False, "legendFormat": "{{view}}"}
    dash = {"uid": "test-gauges", "title": "Gauges", "time": {"from": "now-2m", "to": "now"}, "panels": [
        {"id": 1, "type": "gauge", "title": "Requests", "gridPos": {"x": 0, "y": 0, "w": 8, "h": 8},
         "fieldConfig": {"defaults": field, "overrides": []}, "targets": [target],
         "options": {"reduceOptions": {"calcs": ["lastNotNull"]}}},
        {"id": 2, "type": "bargauge", "title": "By view", "gridPos": {"x": 8, "y": 0, "w": 8, "h": 8},
         "fieldConfig": {"defaults": field, "overrides": []},
         "targets": [{**target, "expr": f"sum by (view) (rate({contract.REQUESTS}[1m]))"}],
         "options": {"orientation": "vertical", "displayMode": "basic", "reduceOptions": {"calcs": ["max"]}}},
        {"id": 3, "type": "gauge", "title": "Absent", "gridPos": {"x": 16, "y": 0, "w": 8, "h": 8},
         "fieldConfig": {"defaults": field, "overrides": []}, "targets": [{**target, "expr": "absent_metric_x"}]},
    ]}
    snapshot = render(prometheus.url, [dash], None, None, tmp_path)
    (d,) = snapshot.dashboards
    assert d.png.name == "test-gauges.png" and Image.open(d.png).size == layout.size(dash)
    gauge, bars, absent = d.panels
    assert gauge.refs_with_data == ["A"] and gauge.series == 1
    assert [(s.value, s.rgb) for s in gauge.thresholds] == [(None, "#73BF69"), (50, "#ed8128e3")]
    assert bars.series == len(VIEWS)
    assert snapshot.no_data() == [("test-gauges", "Absent", "A")]


def test_units_decimals_and_grafana_variables():
    assert fmt(0.35, "s") == "350 ms"
    assert fmt(1.5, "s") == "1.50 s"
    assert fmt(0.0004, "s") == "400 µs"
    assert fmt(250, "ms") == "250 ms" and fmt(2500, "ms") == "2.50 s"
    assert fmt(0.0123, "percentunit") == "1.23%" and fmt(0.05, "percentunit", 2) == "5.00%"
    assert fmt(42, "percent") == "42%"
    assert fmt(1500, "reqps") == "1.50K req/s" and fmt(3.456, "ops") == "3.46 ops/s"
    assert fmt(12, "short", 0) == "12" and fmt(1234567, "short") == "1.23 Mil"
    assert fmt(2048, "bytes") == "2 KiB"
    step, values = grafana_values(0, 3600, 600, 15)
    assert step == 15 and values == {"__interval": "15s", "__rate_interval": "60s", "__range": "3600s",
                                     "__range_s": "3600"}
    step, values = grafana_values(0, 6 * 3600, 600, 5)
    assert step == 30 and values["__rate_interval"] == "35s"
    assert substitute('rate(x{view=~"$view"}[$__rate_interval])', values) == 'rate(x{view=~".*"}[35s])'


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grafana.snapshot", *args], capture_output=True, text=True,
                          cwd=PROJECT_DIR, timeout=120)


@pytest.mark.parametrize("args", [
    ("--from", "yesterday"),
    ("--from", "now", "--to", "now-1h"),
    ("--around", "2026-13-45T00:00:00Z"),
    ("--around", "now", "--window", "soon"),
    ("--around", "now", "--from", "now-1h"),
    ("--to", "now"),
    ("--around", "now+2h"),
    ("--from", "now+1h"),
    ("--dashboard", "no-such-dashboard"),
])
def test_bad_input_is_a_usage_error(args):
    out = run_cli(*args)
    assert out.returncode == 2, out
    assert "usage:" in out.stderr and "Traceback" not in out.stderr


def test_an_unreachable_prometheus_is_one_line_and_exit_1(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    out = run_cli("--prometheus", url, "--out", str(tmp_path))
    assert out.returncode == 1, out
    assert out.stderr.strip().count("\n") == 0 and url in out.stderr and "Traceback" not in out.stderr
    assert not list(tmp_path.iterdir())


def test_the_command_writes_the_pictures_and_lists_no_data(prometheus, tmp_path):
    out = run_cli("--prometheus", prometheus.url, "--around", "now-1m", "--window", "2m", "--dashboard",
                  "overview", "studio-cache-celery", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache-celery.png", "index.html", "overview.png"]
    assert f"{tmp_path / 'overview.png'}" in out.stdout and f"index: {tmp_path / 'index.html'}" in out.stdout
    assert "  studio-cache-celery / Redis hit ratio (5m) / A" in out.stdout
    assert "studio-overview / Request rate /" not in out.stdout


def test_the_game_day_draws_the_overview_around_each_fault_and_links_it(prometheus, tmp_path):
    from types import SimpleNamespace

    from stack.gameday import report, snapshots
    from stack.gameday.run import Result

    now = time.time()
    ran = Result("kill-worker", "a gunicorn worker killed", ["ErrorSpike"], started_at=now - 60, ended_at=now - 20)
    skipped = Result("redis-down", "Redis stopped", ["RedisDown"], skipped="a shared Redis")
    said: list[str] = []
    assert snapshots.attach([ran, skipped], prometheus.url, tmp_path, log=said.append) == 1, said
    assert ran.snapshot == "snapshots/kill-worker/overview.png" and skipped.snapshot == ""
    with Image.open(tmp_path / ran.snapshot) as img:
        assert img.size == layout.size(load_dashboards(["studio-overview"])[0])
    report.write(tmp_path, [ran, skipped], now - 100, SimpleNamespace(users=5, margin=30.0), True)
    assert f"[{ran.snapshot}]({ran.snapshot})" in (tmp_path / "report.md").read_text()
