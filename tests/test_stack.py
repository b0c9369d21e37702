"""`make up` for real, as local processes under honcho: two app instances and two Celery workers
found by file service discovery, the workers running tasks, Redis, the Redis exporter, Prometheus with the rules,
Alertmanager and the page receivers; a fire drill's page arrives; `make down` leaves nothing behind."""
from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.fixtures.servers import APP_DIR, PROJECT_DIR
from tests.fixtures.stack import marked_processes, stack, stack_environment

pytestmark = pytest.mark.slow

UP_BOUND_SECONDS = 120
EXPECTED_JOBS = {"studio-app", "studio-worker", "redis", "prometheus", "alertmanager"}


def service_table(out: str) -> dict[str, str]:
    """The service lines of `make up`'s or `make status`'s table, by service name (the logs line aside)."""
    return {line.split()[0]: line for line in out.splitlines() if line.startswith("  ") and line.split()[0] != "logs"}


def get_json(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, method=method, data=data, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, json.loads(resp.read())


def wait_for(check, timeout: float, what: str):
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {timeout}s (last: {last})")


@pytest.fixture
def stack_env(tmp_path):
    run_dir = (tmp_path / "stack").resolve()
    env, ports = stack_environment(run_dir)
    yield env, run_dir, ports
    stack(env, "down", timeout=60)


def test_make_up_brings_up_the_whole_stack_and_make_down_leaves_nothing(stack_env):
    env, run_dir, ports = stack_env
    python = [sys.executable, "-m", "stack"]
    started = time.monotonic()
    up = subprocess.run([*python, "up"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True,
                        timeout=UP_BOUND_SECONDS + 60)
    up_seconds = time.monotonic() - started
    log = lambda: (run_dir / "stack.log").read_text(errors="replace")[-4000:]
    assert up.returncode == 0, up.stdout + up.stderr + log()
    assert up_seconds < UP_BOUND_SECONDS
    print(f"\nmake up: {up_seconds:.1f}s to healthy")
    app, app2 = (f"http://127.0.0.1:{ports['APP_PORT'] + i}" for i in (0, 1))
    prometheus = f"http://127.0.0.1:{ports['PROMETHEUS_PORT']}"
    # One line per service: running with its URL and its scrape target up, or why not and what to do.
    table = service_table(up.stdout.split("\nPython Learning Studio is up (", 1)[1])
    for name, url in (("app", app), ("app2", app2), ("prometheus", prometheus),
                      ("alertmanager", f"http://127.0.0.1:{ports['ALERTMANAGER_PORT']}")):
        assert url in table[name] and "running" in table[name] and "[scraped: up]" in table[name], up.stdout
    for name in ("worker", "worker2", "redis-exporter"):
        assert "running" in table[name] and "[scraped: up]" in table[name], up.stdout
    assert "running" in table["sinks"] and "running" in table["beat"] and "running" in table["redis"]
    if "grafana-server" not in table["grafana"] or "running" not in table["grafana"]:
        assert 'not started  grafana-server is not installed and there is no Docker engine; see README ' \
               '"Grafana without Docker"' in table["grafana"]

    # The app: seeded data on both instances, an enrolment run by the worker through the broker.
    _, courses = get_json(f"{app}/api/v1/courses/")
    assert courses["total"] > 0
    assert get_json(f"{app2}/api/v1/forum/topics/")[1]["results"][0]["last_post"]
    slug = courses["results"][0]["slug"]
    assert get_json(f"{app}/api/v1/courses/{slug}/")[1]["lessons"]
    assert get_json(f"{app2}/api/v1/users/1/profile/")[1]["username"]
    _, token = get_json(f"{app}/api/v1/auth/token/", "POST",
                        json.dumps({"username": "student00001", "password": "learn-python-123"}).encode(),
                        {"Content-Type": "application/json"})
    auth = {"Authorization": f"Token {token['token']}"}
    enrolled = {e["course"]["slug"] for e in get_json(f"{app}/api/v1/me/", headers=auth)[1]["enrollments"]}
    target = next(c["slug"] for c in courses["results"] if c["slug"] not in enrolled)
    status, body = get_json(f"{app}/api/v1/courses/{target}/enroll/", "POST", headers=auth)
    assert status == 201 and body["created"] is True
    wait_for(lambda: "You are enrolled in" in log(), 30, "the worker sending the confirmation")

    # Prometheus: every target up, both app instances discovered through file_sd, the rules loaded.
    def targets():
        active = get_json(f"{prometheus}/api/v1/targets")[1]["data"]["activeTargets"]
        healthy = {(t["labels"]["job"], t["labels"]["instance"]) for t in active if t["health"] == "up"}
        return healthy if len(healthy) == len(active) and {j for j, _ in healthy} >= EXPECTED_JOBS else None

    healthy = wait_for(targets, 30, "every Prometheus target up")
    assert {i for j, i in healthy if j == "studio-app"} == {app.removeprefix("http://"), app2.removeprefix("http://")}
    assert len({i for j, i in healthy if j == "studio-worker"}) == 2, "both Celery workers are scraped"
    rules = {r["name"] for g in get_json(f"{prometheus}/api/v1/rules")[1]["data"]["groups"] for r in g["rules"]}
    assert {"ErrorSpike", "SlowTransactions", "HighErrorRate", "DatabaseIssues", "Watchdog"} <= rules
    status_out = subprocess.run([*python, "status"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    assert status_out.returncode == 0 and "DOWN" not in status_out.stdout, status_out.stdout
    assert [line.split()[:2] for line in service_table(status_out.stdout).values()] == \
           [line.split()[:2] for line in table.values()], "make status shows the same table"

    # A fire drill, as `make fire-drill DRILL=db-slow` runs it, pages e-mail; `make pages` lists it.
    drill_started = time.monotonic()
    drill = subprocess.run([sys.executable, "manage.py", "fire_drill", "db-slow", "--url", app], cwd=APP_DIR,
                           env={**env, "ENVIRONMENT": "development"}, capture_output=True, text=True, timeout=60)
    assert drill.returncode == 0, drill.stdout + drill.stderr

    def pages():
        out = subprocess.run([*python, "pages"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True).stdout
        return out if "DatabaseIssues" in out else None

    listing = wait_for(pages, 45, "the DatabaseIssues page")
    print(f"fire drill to page: {time.monotonic() - drill_started:.1f}s\n{listing}")
    assert "email" in listing
    assert marked_processes(run_dir)

    down = subprocess.run([*python, "down"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60)
    assert down.returncode == 0, down.stderr
    assert marked_processes(run_dir) == []


def test_a_promised_service_that_cannot_start_is_named_and_make_up_fails(stack_env):
    env, run_dir, ports = stack_env
    env = {**env, "APP_INSTANCES": "1", "WORKER_INSTANCES": "1"}
    with socket.socket() as squatter:  # another program already holds Alertmanager's port
        squatter.bind(("127.0.0.1", ports["ALERTMANAGER_PORT"]))
        squatter.listen()
        up = subprocess.run([sys.executable, "-m", "stack", "up"], cwd=PROJECT_DIR, env=env, capture_output=True,
                            text=True, timeout=UP_BOUND_SECONDS + 60)
    print(up.stdout[-2000:])
    assert up.returncode != 0
    assert "the stack stopped: alertmanager.1 stopped (rc=" in up.stdout
    assert marked_processes(run_dir) == []


def test_foreground_up_stops_everything_on_ctrl_c(stack_env):
    env, run_dir, _ = stack_env
    proc = subprocess.Popen([sys.executable, "-m", "stack", "up", "--foreground"], cwd=PROJECT_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + UP_BOUND_SECONDS
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "is up" in line or proc.poll() is not None:
                break
        assert any("is up" in line for line in lines), "".join(lines[-40:])
        assert marked_processes(run_dir)
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert marked_processes(run_dir) == []
