"""fire_drill sizes each drill from the spec; it refuses outside development and without an app.
(That each drill really pages the right receivers is tests/test_alerting_e2e.py.)"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import monitoring_spec as spec
from observability.management.commands.fire_drill import plan
from tests.fixtures.servers import APP_DIR, free_port


def errors(paths: list[str]) -> int:
    return sum(1 for p in paths if "/_drill/status/5" in p or "/_drill/log-error/" in p)


def test_error_spike_crosses_the_count_without_a_5xx_rate():
    paths = plan("error-spike")
    assert errors(paths) == spec.ERROR_SPIKE_MIN_ERRORS + 1
    assert not any("/status/5" in p for p in paths)


@pytest.mark.parametrize("recent", [0.0, 5.0, float(spec.HIGH_ERROR_RATE_MIN_REQUESTS), 300.0, 5000.0])
def test_error_rate_crosses_the_ratio_whatever_the_recent_traffic(recent):
    paths = plan("error-rate", recent)
    n_err = errors(paths)
    assert not {"/healthz", "/readyz", "/metrics"} & set(paths), "probes are not user traffic: the SLI leaves them out"
    total = recent + len(paths)
    assert total >= spec.HIGH_ERROR_RATE_MIN_REQUESTS
    assert n_err / total > spec.HIGH_ERROR_RATE_RATIO * 1.5
    if recent < spec.HIGH_ERROR_RATE_MIN_REQUESTS:
        assert n_err < spec.ERROR_SPIKE_MIN_ERRORS, "a quiet app's error-rate drill must not also be a spike"


@pytest.mark.parametrize("recent", [0.0, 300.0])
def test_slow_puts_the_p95_over_its_line_whatever_the_recent_traffic(recent):
    slow = plan("slow", recent)
    assert all(int(p.split("ms=")[1]) > spec.SLOW_TRANSACTION_P95_SECONDS * 1000 for p in slow)
    assert len(slow) / (recent + len(slow)) > (1 - spec.SLOW_TRANSACTION_QUANTILE) * 1.5


def test_db_slow_crosses_its_line():
    (db,) = plan("db-slow")
    assert int(db.split("ms=")[1]) > spec.DB_SLOW_QUERY_SECONDS * 1000


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "fire_drill", *args], cwd=APP_DIR, capture_output=True,
                          text=True, timeout=60, env={**os.environ, **env})


def test_refuses_outside_development_and_without_an_app():
    out = run("slow", ENVIRONMENT="production", DJANGO_SETTINGS_MODULE="config.settings.production",
              SECRET_KEY="x" * 60, ALLOWED_HOSTS="x")
    assert out.returncode == 1 and "development only" in out.stderr and "Traceback" not in out.stderr
    out = run("slow", "--url", f"http://127.0.0.1:{free_port()}", ENVIRONMENT="development",
              DJANGO_SETTINGS_MODULE="config.settings.development")
    assert out.returncode == 1 and "no app answers" in out.stderr and "Traceback" not in out.stderr
    out = run("nonsense", ENVIRONMENT="development", DJANGO_SETTINGS_MODULE="config.settings.development")
    assert out.returncode == 2 and "invalid choice" in out.stderr
