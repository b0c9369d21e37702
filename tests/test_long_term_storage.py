"""Long-term storage (STACK_LONG_TERM=1): a real Prometheus remote_writes to a real VictoriaMetrics behind basic auth
whose password Prometheus reads from a file, while Locust (a subprocess, never imported here) loads the real app.

The issue's acceptance: after a 60-second load test, the store's increase of
django_http_requests_latency_seconds_by_view_method_count per view equals Locust's request count.  The store's
increase is read from raw samples (/api/v1/export), not increase(): last value minus the value scraped before the
load started, 0 for a series that did not exist yet.
"""
from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from monitoring_spec.contract import PROBE_VIEWS
from prometheus import render_config
from tests.fixtures.monitoring import Prometheus, VictoriaMetrics
from tests.fixtures.servers import PROJECT_DIR, free_port, stop_process, wait_for_http
from tests.test_loadtests import run_locust

COUNTER = "django_http_requests_latency_seconds_by_view_method_count"
METRICS_TOKEN = "long-term-metrics-token"
USERNAME = "prometheus"
LOAD_SECONDS = 60


@pytest.fixture
def workdir(tmp_path):
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o700)
    (secrets / "long-term-password").write_text("a-long-term-password\n")
    (secrets / "metrics-token").write_text(METRICS_TOKEN + "\n")
    return tmp_path


@pytest.fixture
def store(workdir):
    vm = VictoriaMetrics(workdir, username=USERNAME, password_file=workdir / "secrets" / "long-term-password")
    yield vm.start()
    vm.stop()


def auth(workdir) -> tuple[str, str]:
    return USERNAME, (workdir / "secrets" / "long-term-password").read_text().strip()


def samples(vm: VictoriaMetrics, match: str, start: float, credentials) -> dict[tuple, list[tuple[float, float]]]:
    """{labels: [(timestamp s, value)]} of the raw samples since start."""
    out = {}
    for series in vm.export(match, start, credentials):
        labels = tuple(sorted((k, v) for k, v in series["metric"].items() if k != "__name__"))
        out[labels] = [(t / 1000, v) for t, v in zip(series["timestamps"], series["values"], strict=True)]
    return out


def test_remote_write_renders_a_password_file_never_an_inline_password():
    config = yaml.safe_load(render_config.render(
        app_sd={}, worker_sd={}, redis_exporter="r:1", alertmanager="a:1", prometheus="p:1", rule_files=[],
        remote_write_url="http://vm:8428/api/v1/write", remote_write_username="u",
        remote_write_password_file="/run/secrets/p", long_term_target="vm:8428"))
    assert config["remote_write"] == [{"url": "http://vm:8428/api/v1/write",
                                       "basic_auth": {"username": "u", "password_file": "/run/secrets/p"}}]
    assert config["scrape_configs"][-1] == {"job_name": "victoria-metrics",
                                            "static_configs": [{"targets": ["vm:8428"]}]}
    with pytest.raises(ValueError, match="both"):
        render_config.remote_write("http://vm/api/v1/write", password_file="/p")
    # Without the feature the config is the one it always was (the committed files cannot drift).
    assert "remote_write" not in render_config.render_compose()
    assert render_config.render_compose(long_term=True).count("remote_write") == 1


def test_store_refuses_without_the_password_and_answers_with_it(store, workdir):
    for path in ("/api/v1/query", "/api/v1/write", "/api/v1/export"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            store.get(path, {"query": "1", "match[]": "up"})
        assert refused.value.code == 401, path
        with pytest.raises(urllib.error.HTTPError) as wrong:
            store.get(path, {"query": "1", "match[]": "up"}, (USERNAME, "not-the-password"))
        assert wrong.value.code == 401, path
    assert json.loads(store.get("/api/v1/query", {"query": "1"}, auth(workdir)))["status"] == "success"
    # The password reaches VictoriaMetrics through its environment, never its command line (world-readable).
    cmdline = (f"/proc/{store.proc.pid}/cmdline")
    with open(cmdline, "rb") as fh:
        assert auth(workdir)[1].encode() not in fh.read()


def print_disk_use(store: VictoriaMetrics, prometheus: Prometheus, credentials) -> None:
    """Bytes per stored sample and what a day at the stack's 5 s scrape interval would take (a figure for the docs;
    fresh, small parts compress worse than merged months, so this is an upper bound)."""
    store.get("/internal/force_flush", {}, credentials)
    metrics = {}
    for line in store.get("/metrics", {}).decode().splitlines():
        if line.startswith(("vm_data_size_bytes{", "vm_rows{")):
            name = line.split("{", 1)[0]
            metrics[name] = metrics.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
    series = float(prometheus.query("sum(scrape_samples_scraped) + count({__name__=~\".+:.+\"})")[0]["value"][1])
    per_sample = metrics["vm_data_size_bytes"] / max(metrics["vm_rows"], 1)
    per_day = series * 86400 / 5 * per_sample
    print(f"disk: {metrics['vm_data_size_bytes'] / 1e6:.1f} MB for {metrics['vm_rows']:.0f} samples = "
          f"{per_sample:.2f} B/sample; {series:.0f} series at a 5 s interval -> {per_day / 1e6:.0f} MB/day, "
          f"{per_day * 400 / 1e9:.1f} GB for 400 days")


@pytest.mark.slow
def test_store_counts_every_request_of_a_load_test(store, workdir, gunicorn_factory):
    credentials = auth(workdir)
    call_command("seed_data", size="small", stdout=io.StringIO())
    app = gunicorn_factory(workers=2, METRICS_TOKEN=METRICS_TOKEN)
    target = app.base_url.split("://", 1)[1]
    prometheus = Prometheus(
        workdir, app_targets=[target], alertmanager=None, interval="1s",
        metrics_credentials_file=str(workdir / "secrets" / "metrics-token"),
        remote_write_url=f"{store.url}/api/v1/write", remote_write_username=USERNAME,
        remote_write_password_file=str(workdir / "secrets" / "long-term-password"),
        long_term_target=store.url.split("://", 1)[1])
    assert "a-long-term-password" not in prometheus.config.read_text()
    prometheus.start()
    try:
        started = time.time()
        # The app scraped and that scrape readable in the store: the baseline every counter is measured from.
        deadline = time.monotonic() + 60
        while not (up := samples(store, 'up{job="studio-app"}', started - 60, credentials)):
            assert time.monotonic() < deadline, "nothing reached the store:\n" + prometheus.logs()[-3000:]
            time.sleep(0.2)
        assert all(v == 1 for series in up.values() for _, v in series), up
        before_load = time.time()
        time.sleep(1.5)  # at least one scrape at or after before_load, before any request of the load

        reports = workdir / "reports"
        proc = run_locust("--headless", "-u", "4", "-r", "4", "-t", f"{LOAD_SECONDS}s", "--think-scale", "0.1",
                          "--only-summary", "--host", app.base_url, "--reports-dir", str(reports),
                          env={"METRICS_TOKEN": METRICS_TOKEN}, timeout=LOAD_SECONDS + 60)
        load_ended = time.time()
        grades = json.loads((reports / "grades.json").read_text())
        locust = {v["name"]: v["locust_requests"] for v in grades["fidelity"]["views"]}
        assert sum(locust.values()) > 100, proc.stdout + proc.stderr

        # Remote-write lag: from the scrape that follows the load (its timestamp) until the store returns it.
        lag = None
        deadline = time.monotonic() + 60
        while lag is None:
            assert time.monotonic() < deadline, "the post-load scrape never reached the store"
            last = max(ts for series in samples(store, 'up{job="studio-app"}', load_ended - 5, credentials).values()
                       for ts, _ in series)
            if last > load_ended + 1:  # the app's counters after the last request are in this scrape
                lag = time.time() - last
            time.sleep(0.05)
        queue = prometheus.query("prometheus_remote_storage_highest_timestamp_in_seconds"
                                 " - ignoring(remote_name, url) group_right"
                                 " prometheus_remote_storage_queue_highest_sent_timestamp_seconds")
        print(f"\nremote_write lag: a scrape readable in VictoriaMetrics {lag:.2f}s after its timestamp; "
              f"Prometheus' own view (highest appended - highest sent): {float(queue[0]['value'][1]):.1f}s")

        stored: dict[str, float] = {}
        for labels, series in samples(store, COUNTER + '{job="studio-app"}', started - 60, credentials).items():
            view = dict(labels).get("view", "")
            baseline = max((v for ts, v in series if ts <= before_load), default=0.0)  # absent: created by the load
            stored[view] = stored.get(view, 0.0) + series[-1][1] - baseline
        stored = {view: int(n) for view, n in stored.items() if n}
        print(f"{'view':<28} {'locust':>7} {'store':>7}")
        for view in sorted(set(locust) | set(stored)):
            print(f"{view:<28} {locust.get(view, '-'):>7} {stored.get(view, 0):>7}")
        # The probes (Prometheus' own scrapes of /metrics, health checks) are not Locust's; every other view is.
        assert {v: n for v, n in stored.items() if v not in PROBE_VIEWS} == {v: n for v, n in locust.items() if n}
        assert sum(locust.values()) == sum(n for v, n in stored.items() if v not in PROBE_VIEWS)

        # The recording rules' series are written too: the 30-day SLO panels read them from the store.
        recorded = json.loads(store.get("/api/v1/series", {"match[]": '{__name__=~"instance:.+"}',
                                                           "start": f"{started:.0f}"}, credentials))
        assert recorded["data"], "no recorded SLO series reached the store"
        # And the store is a scrape target of its own, healthy.
        assert prometheus.query('up{job="victoria-metrics"} == 1'), prometheus.query('up{job="victoria-metrics"}')
        samples_failed = prometheus.query("sum(prometheus_remote_storage_samples_failed_total)")
        assert float(samples_failed[0]["value"][1]) == 0
        print_disk_use(store, prometheus, credentials)
    finally:
        prometheus.stop()


def test_two_replicas_write_one_series_with_one_sample_per_scrape(workdir):
    """STACK_HA with STACK_LONG_TERM: both replicas remote_write every series.  Each drops its replica label
    (render_config) and the store keeps one sample per scrape interval (its flags from the stack's own command),
    so the store holds one series at the scrape rate, not two that sum(), nor one at twice the rate."""
    import re

    from stack import services as svc

    cfg = svc.StackConfig(ha=True, long_term=True, scrape_interval="1s")
    dedup = re.findall(r"-dedup\.minScrapeInterval=\S+", svc.long_term_command(cfg, "victoria-metrics"))
    (workdir / "store").mkdir()
    store = VictoriaMetrics(workdir / "store", flags=dedup).start()
    address = store.url.split("://", 1)[1]
    replicas = [Prometheus(workdir / f"prometheus-{replica}", app_targets=[], alertmanager=None, interval="1s",
                           replica=replica, remote_write_url=f"{store.url}/api/v1/write", long_term_target=address)
                for replica in ("a", "b")]
    try:
        for prometheus in replicas:
            prometheus.start()
        started = time.time()
        expr = 'up{job="victoria-metrics"}'
        deadline = time.monotonic() + 60
        while not all(p.query(expr) for p in replicas):
            assert time.monotonic() < deadline, "a replica never scraped the store"
            time.sleep(0.2)
        time.sleep(25)
        at = time.time() - 2  # the newest seconds may still be in flight from one of the replicas
        def query(q: str) -> list[dict]:
            return json.loads(store.get("/api/v1/query", {"query": q, "time": f"{at:.3f}"}))["data"]["result"]
        series = query(expr)
        assert len(series) == 1 and "replica" not in series[0]["metric"], series
        window = 20
        assert started < at - window
        (count,) = query(f"count_over_time({expr}[{window}s])")
        samples_in_window = float(count["value"][1])
        print(f"\ntwo replicas scraping every 1 s: {len(series)} series in the store, "
              f"{samples_in_window:.0f} samples in {window} s")
        # Two replicas undeduplicated: about twice the window.
        assert window - 2 <= samples_in_window <= window * 1.25, "one sample per scrape interval, not one per replica"
    finally:
        for prometheus in replicas:
            prometheus.stop()
        store.stop()


# --- the local stack's service (STACK_LONG_TERM=1) ---------------------------------------------------------------

def long_term_env(monkeypatch, **values: str) -> None:
    for name in ("STACK_LONG_TERM", "VICTORIA_METRICS_PORT", "STACK_LONG_TERM_RETENTION", "LONG_TERM_USERNAME",
                 "LONG_TERM_PASSWORD_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_stack_runs_the_store_with_the_password_from_its_file(monkeypatch, workdir):
    from stack import services as svc

    monkeypatch.setattr(svc, "RUN_DIR", workdir / "run")
    password_file = workdir / "secrets" / "long-term-password"
    long_term_env(monkeypatch, STACK_LONG_TERM="1", VICTORIA_METRICS_PORT=str(free_port()),
                  LONG_TERM_PASSWORD_FILE=str(password_file))
    cfg = svc.load_config()
    names = [s.name for s in svc.services(cfg)]
    assert names.index("victoria-metrics") < names.index("prometheus")  # up before anything writes to it
    store = next(s for s in svc.services(cfg) if s.name == "victoria-metrics")
    assert store.target == ["victoria-metrics", f"127.0.0.1:{cfg.long_term_port}"]
    assert "-retentionPeriod=400d" in store.command and str(workdir / "run" / "victoria-metrics-data") in store.command
    assert "a-long-term-password" not in store.command + svc.render_procfile([store])

    svc.RUN_DIR.mkdir()
    svc.write_configs(cfg, svc.services(cfg))
    config = yaml.safe_load((svc.RUN_DIR / "prometheus.yml").read_text())
    assert config["remote_write"] == [{"url": f"{cfg.long_term_url}/api/v1/write", "basic_auth": {
        "username": "prometheus", "password_file": str(password_file)}}]

    # The very command honcho would run: the password reaches VictoriaMetrics, and only through its environment.
    proc = subprocess.Popen(["sh", "-c", store.command], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for_http(store.health_url, timeout=20, proc=proc)
        with pytest.raises(urllib.error.HTTPError, match="401"):
            urllib.request.urlopen(f"{cfg.long_term_url}/api/v1/query?query=1", timeout=5)
        ok = urllib.request.Request(f"{cfg.long_term_url}/api/v1/query?query=1", headers={
            "Authorization": "Basic " + base64.b64encode(b"prometheus:a-long-term-password").decode()})
        with urllib.request.urlopen(ok, timeout=5) as resp:
            assert json.load(resp)["status"] == "success"
        assert b"a-long-term-password" not in Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        grafana_reads_the_store(monkeypatch, workdir, svc, cfg)
    finally:
        stop_process(proc)


def grafana_reads_the_store(monkeypatch, workdir, svc, cfg) -> None:
    """Grafana cannot run here: a stand-in grafana-server records the environment the stack's command gives it,
    the provisioning file is interpolated as Grafana does (os.ExpandEnv: unset is empty), and its data source's
    basic auth is sent to the real store."""
    import re

    fake_bin = workdir / "bin"
    fake_bin.mkdir()
    recorded = workdir / "grafana.env"
    (fake_bin / "grafana-server").write_text(f"#!/bin/sh\nenv > {recorded}\n")
    (fake_bin / "grafana-server").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:{os.environ['PATH']}")
    grafana = next(s for s in svc.services(cfg) if s.name == "grafana")
    assert "a-long-term-password" not in grafana.command + svc.render_procfile([grafana])
    subprocess.run(["sh", "-c", grafana.command], check=True, timeout=30)
    environ = dict(line.split("=", 1) for line in recorded.read_text().splitlines() if "=" in line)
    text = (PROJECT_DIR / "grafana" / "provisioning" / "datasources" / "long-term.yml").read_text()
    text = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: environ.get(m.group(1) or m.group(2), ""), text)
    (source,) = yaml.safe_load(text)["datasources"]
    assert source["url"] == cfg.long_term_url and source["basicAuth"] is True
    token = f"{source['basicAuthUser']}:{source['secureJsonData']['basicAuthPassword']}"
    ok = urllib.request.Request(f"{source['url']}/api/v1/query?query=1", data=b"", headers={
        "Authorization": "Basic " + base64.b64encode(token.encode()).decode()})  # POST: jsonData.httpMethod
    with urllib.request.urlopen(ok, timeout=5) as resp:
        assert json.load(resp)["status"] == "success"


def test_stack_without_long_term_is_unchanged_and_bad_settings_are_refused(monkeypatch, workdir):
    from stack import services as svc

    monkeypatch.setattr(svc, "RUN_DIR", workdir / "run")
    long_term_env(monkeypatch)
    cfg = svc.load_config()
    assert "victoria-metrics" not in [s.name for s in svc.services(cfg)]
    svc.RUN_DIR.mkdir()
    svc.write_configs(cfg, svc.services(cfg))
    assert "remote_write" not in (svc.RUN_DIR / "prometheus.yml").read_text()
    long_term_env(monkeypatch, STACK_LONG_TERM="1", STACK_LONG_TERM_RETENTION="a year")
    with pytest.raises(SystemExit, match="STACK_LONG_TERM_RETENTION.*'a year'"):
        svc.load_config()
    long_term_env(monkeypatch, STACK_LONG_TERM="1", LONG_TERM_PASSWORD_FILE=str(workdir / "missing"))
    with pytest.raises(SystemExit, match="LONG_TERM_PASSWORD_FILE=.*missing: not a file with a password"):
        svc.load_config()


# --- the weekly review reads the store -----------------------------------------------------------------------------

def review(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stack.review", *args], cwd=PROJECT_DIR, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "STACK_RUN_DIR": env.pop("RUN_DIR"), **env})


def test_review_reads_the_store_when_it_holds_the_period_and_prometheus_otherwise(store, workdir):
    end = time.time() // 60 * 60 - 600
    start = end - 2 * 3600
    lines = "".join(json.dumps({"metric": {"__name__": "up", "job": "studio-app", "instance": "127.0.0.1:8000"},
                                "values": [1], "timestamps": [int((start + s) * 1000)]}) + "\n"
                    for s in range(0, 2 * 3600 + 1, 60))
    request = urllib.request.Request(f"{store.url}/api/v1/import", data=lines.encode(), method="POST", headers={
        "Authorization": "Basic " + base64.b64encode(":".join(auth(workdir)).encode()).decode()})
    urllib.request.urlopen(request, timeout=10).close()
    store.get("/internal/force_flush", {}, auth(workdir))  # readable now, not in a second or two
    no_prometheus = f"http://127.0.0.1:{free_port()}"
    period = ["--from", f"{start:.0f}", "--to", f"{end:.0f}", "--prometheus", no_prometheus]
    env = {"RUN_DIR": str(workdir / "no-stack"), "LONG_TERM_PASSWORD_FILE": str(workdir / "secrets" /
                                                                               "long-term-password")}

    done = review(*period, "--long-term", store.url, "--out", str(workdir / "review"), env=dict(env))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"source: long-term store at {store.url}" in done.stdout
    assert f"From long-term store at {store.url}" in (workdir / "review" / "review.md").read_text()

    # A period the store does not hold (before its first sample): Prometheus, which here does not answer.
    earlier = ["--from", f"{start - 86400:.0f}", "--to", f"{start - 80000:.0f}", "--prometheus", no_prometheus]
    done = review(*earlier, "--long-term", store.url, env=dict(env))
    assert "holds nothing at the period's start; reading Prometheus" in done.stdout, done.stdout + done.stderr
    assert done.returncode == 1 and done.stderr.startswith(f"error: Prometheus at {no_prometheus} does not answer")
    # Wrong credentials: the store refuses, and the review says so before reading Prometheus.
    (workdir / "wrong").write_text("not-the-password\n")
    done = review(*period, "--long-term", store.url, env={**env, "LONG_TERM_PASSWORD_FILE": str(workdir / "wrong")})
    assert f"long-term store at {store.url} does not answer" in done.stdout and "reading Prometheus" in done.stdout

    # `make review` names no store: the one the local stack's Prometheus writes to, read from the stack's config.
    run_dir = workdir / "stack"
    run_dir.mkdir()
    (run_dir / "prometheus.yml").write_text(render_config.render(
        app_sd={}, worker_sd={}, redis_exporter="r:1", alertmanager="a:1",
        prometheus=no_prometheus.split("://")[1], rule_files=[], remote_write_url=f"{store.url}/api/v1/write",
        remote_write_username=USERNAME, remote_write_password_file=str(workdir / "secrets" / "long-term-password")))
    done = review(*period, "--out", str(workdir / "review2"), env={"RUN_DIR": str(run_dir)})
    assert done.returncode == 0 and f"source: long-term store at {store.url}" in done.stdout, done.stdout + done.stderr
