"""`STACK_ENV=production make up` for real: the production settings with a generated secret key and metrics
token kept under the run directory (0600, the same on the next start), /metrics refused without the token
while Prometheus scrapes it with the token, a signed-in client over plain HTTP, no drill endpoints, and
`make down` leaves nothing.  One app instance and one worker: bounded (the suite is long already)."""
from __future__ import annotations

import json
import stat
import time
import urllib.error
import urllib.request

import pytest

from stack import services
from tests.fixtures.stack import marked_processes, stack, stack_environment

pytestmark = pytest.mark.slow

UP_BOUND_SECONDS = 120


def request(url: str, method: str = "GET", data: dict | None = None, **headers) -> tuple[int, dict, bytes]:
    body = json.dumps(data).encode() if data is not None else None
    if body is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, method=method, data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_generated_secret_is_made_once_private_and_reused(tmp_path):
    path = tmp_path / "secrets" / "metrics-token"
    first = services.generated_secret(path)
    assert len(first) >= 40 and services.generated_secret(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_production_stack_closes_metrics_but_prometheus_scrapes_them(tmp_path):
    run_dir = (tmp_path / "stack").resolve()
    env, ports = stack_environment(run_dir, instances=1, STACK_ENV="production")
    for key in ("SECRET_KEY", "ALLOWED_HOSTS", "METRICS_TOKEN", "METRICS_TOKEN_FILE", "SENTRY_DSN", "ENVIRONMENT"):
        env.pop(key, None)
    try:
        started = time.monotonic()
        up = stack(env, "up", timeout=UP_BOUND_SECONDS + 60)
        log = lambda: (run_dir / "stack.log").read_text(errors="replace")[-4000:]
        assert up.returncode == 0, up.stdout + up.stderr + log()
        print(f"\nSTACK_ENV=production make up: {time.monotonic() - started:.1f}s to healthy")
        assert "production settings" in up.stdout
        # `make up` returns only once Prometheus has scraped every target up, the app's included.
        app_line = next(line for line in up.stdout.splitlines() if line.startswith("  app "))
        assert "[scraped: up]" in app_line, up.stdout

        secrets_dir = run_dir / "secrets"
        token = (secrets_dir / "metrics-token").read_text().strip()
        for name in ("metrics-token", "secret-key"):
            assert stat.S_IMODE((secrets_dir / name).stat().st_mode) == 0o600
        assert stat.S_IMODE((run_dir / "env").stat().st_mode) == 0o600  # it carries SECRET_KEY to honcho
        prometheus_yml = (run_dir / "prometheus.yml").read_text()
        assert f"credentials_file: {secrets_dir / 'metrics-token'}" in prometheus_yml
        assert "environment: production" in prometheus_yml  # the pages' label

        app = f"http://127.0.0.1:{ports['APP_PORT']}"
        status, headers, _ = request(f"{app}/metrics")
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
        status, _, body = request(f"{app}/metrics", Authorization=f"Bearer {token}")
        assert status == 200 and b"django_http_requests_total_by_view_transport_method_total" in body
        prometheus = f"http://127.0.0.1:{ports['PROMETHEUS_PORT']}"
        _, _, body = request(f"{prometheus}/api/v1/query?query=" + urllib.request.quote('up{job="studio-app"}'))
        assert [r["value"][1] for r in json.loads(body)["data"]["result"]] == ["1"]

        # A signed-in persona over plain HTTP (no redirect to https), DEBUG off, no drill endpoints.
        status, _, body = request(f"{app}/api/v1/auth/token/", "POST",
                                  {"username": "student00001", "password": "learn-python-123"})
        assert status == 200, body
        status, _, body = request(f"{app}/api/v1/me/", Authorization=f"Token {json.loads(body)['token']}")
        assert status == 200 and json.loads(body)["username"] == "student00001"
        for path in ("/_drill/perf/", "/no-such-page"):
            status, headers, body = request(app + path)
            assert status == 404 and headers["Content-Type"].startswith("application/json"), body[:200]
    finally:
        down = stack(env, "down", timeout=60)
    assert down.returncode == 0, down.stdout + down.stderr
    assert marked_processes(run_dir) == []
