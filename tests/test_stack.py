"""`make up` for real: local processes under honcho, seeded data, the worker running tasks, `make down` clean."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.fixtures.servers import PROJECT_DIR, free_port

pytestmark = pytest.mark.slow


def marked_processes(run_dir: Path) -> list[str]:
    mark = f"STUDIO_STACK={run_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if mark in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().split(")")[-1].split()[0]
                if state != "Z":  # zombies left to a non-reaping init are not running processes
                    found.append(f"{entry.name}: {(entry / 'cmdline').read_bytes()[:120]!r}")
        except OSError:
            continue
    return found


def get_json(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, method=method, data=data, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers["Content-Type"] == "application/json"
        return resp.status, json.loads(resp.read())


def test_make_up_serves_seeded_data_runs_tasks_and_make_down_leaves_nothing(tmp_path):
    run_dir = (tmp_path / "stack").resolve()
    port, redis_port = free_port(), free_port()
    env = {**os.environ, "STACK_RUN_DIR": str(run_dir), "STACK_NO_DOCKER": "1", "APP_PORT": str(port),
           "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0", "GUNICORN_WORKERS": "2", "SEED_SIZE": "small",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'stack.sqlite3'}"}
    for key in ("DJANGO_SETTINGS_MODULE", "CACHE_URL", "CELERY_BROKER_URL"):
        env.pop(key, None)
    python = [sys.executable, "-m", "stack"]
    started = time.monotonic()
    up = subprocess.run([*python, "up"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=240)
    try:
        assert up.returncode == 0, up.stdout + up.stderr + (run_dir / "stack.log").read_text()
        print(f"\nmake up took {time.monotonic() - started:.1f}s")
        assert f"http://127.0.0.1:{port}/" in up.stdout and "starting redis-server" in up.stdout
        base = f"http://127.0.0.1:{port}"

        _, courses = get_json(f"{base}/api/v1/courses/")
        assert courses["total"] > 0
        slug = courses["results"][0]["slug"]
        status, detail = get_json(f"{base}/api/v1/courses/{slug}/")
        assert status == 200 and detail["lessons"]
        status, profile = get_json(f"{base}/api/v1/users/1/profile/")
        assert status == 200 and profile["username"]
        status, topics = get_json(f"{base}/api/v1/forum/topics/")
        assert status == 200 and topics["results"][0]["last_post"]

        _, token = get_json(f"{base}/api/v1/auth/token/", "POST",
                            json.dumps({"username": "student00001", "password": "learn-python-123"}).encode())
        enrolled = [r["course"]["slug"] for r in get_json(f"{base}/api/v1/me/",
                                                           headers={"Authorization": f"Token {token['token']}"})[1]["enrollments"]]
        target = next(c["slug"] for c in courses["results"] if c["slug"] not in enrolled)
        status, body = get_json(f"{base}/api/v1/courses/{target}/enroll/", "POST",
                                headers={"Authorization": f"Token {token['token']}"})
        assert status == 201 and body["created"] is True

        # The worker (a separate process, through the Redis broker) sends the confirmation.
        deadline, log = time.monotonic() + 30, ""
        while time.monotonic() < deadline:
            log = (run_dir / "stack.log").read_text(errors="replace")
            if "send_enrollment_confirmation" in log and "succeeded" in log and f"enrolled in" in log:
                break
            time.sleep(0.3)
        assert "worker" in log and "You are enrolled in" in log, log[-3000:]

        status_out = subprocess.run([*python, "status"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
        assert status_out.returncode == 0 and "DOWN" not in status_out.stdout, status_out.stdout
        assert marked_processes(run_dir)
    finally:
        down = subprocess.run([*python, "down"], cwd=PROJECT_DIR, env=env, capture_output=True, text=True,
                              timeout=60)
    assert down.returncode == 0, down.stderr
    assert marked_processes(run_dir) == []
