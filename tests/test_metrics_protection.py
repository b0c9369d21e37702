"""Issue 3, point 6: /metrics is protected outside development.

A bearer token (METRICS_TOKEN, or METRICS_TOKEN_FILE as Prometheus' authorization.credentials_file)
and/or allowed networks (METRICS_ALLOWED_NETWORKS); everyone else gets a 401/403 JSON answer.
Open in development and in the test settings unless configured.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.test import override_settings

from tests.fixtures.servers import APP_DIR
from tests.test_metrics_support import http

pytestmark = pytest.mark.slow


def refused(status: int, body: bytes, expected: int) -> bool:
    data = json.loads(body)
    return status == expected and data["error"]["status"] == expected and data["error"]["message"]


def test_token_file_and_networks_under_gunicorn(gunicorn_factory, tmp_path):
    token_file = tmp_path / "metrics-token"
    token_file.write_text("s3cret-token-1\n")  # a trailing newline, as `echo` writes it
    server = gunicorn_factory(workers=1, METRICS_PUBLIC="0", METRICS_TOKEN_FILE=token_file,
                              METRICS_ALLOWED_NETWORKS="10.0.0.0/8, 127.0.0.0/8")
    url = f"{server.base_url}/metrics"

    status, headers, body = http(url)
    assert refused(status, body, 401) and headers["WWW-Authenticate"].startswith("Bearer")
    assert headers["Content-Type"] == "application/json"
    for header in ("Bearer wrong", "Bearer", "Basic czNjcmV0LXRva2VuLTE=", "Token s3cret-token-1",
                   "Bearer s3cret-token-1x", "Bearer \xe9\xffgarbage"):
        status, _, body = http(url, headers={"Authorization": header})
        assert refused(status, body, 401), header
    status, headers, body = http(url, headers={"Authorization": "Bearer s3cret-token-1"})
    assert status == 200 and b"django_http_requests_latency_seconds_by_view_method" in body
    assert headers["Content-Type"].startswith("text/plain")
    assert http(url, "POST", b"", headers={"Authorization": "Bearer s3cret-token-1"})[0] == 405

    token_file.write_text("rotated-token-2")  # read at each scrape: no restart
    assert http(url, headers={"Authorization": "Bearer s3cret-token-1"})[0] == 401
    assert http(url, headers={"Authorization": "Bearer rotated-token-2"})[0] == 200
    token_file.unlink()  # unreadable: refuse, never serve unprotected
    status, _, body = http(url, headers={"Authorization": "Bearer rotated-token-2"})
    assert refused(status, body, 503)
    assert http(f"{server.base_url}/healthz")[0] == 200  # nothing else is affected


def test_allowed_networks_refuse_other_addresses_under_gunicorn(gunicorn_factory):
    server = gunicorn_factory(workers=1, METRICS_PUBLIC="0", METRICS_ALLOWED_NETWORKS="10.0.0.0/8,192.168.0.0/16",
                              METRICS_TOKEN="tok")
    status, _, body = http(f"{server.base_url}/metrics", headers={"Authorization": "Bearer tok"})
    assert refused(status, body, 403)  # right token, wrong network: both must pass
    closed = gunicorn_factory(workers=1, METRICS_PUBLIC="0")  # nothing configured outside development
    status, _, body = http(f"{closed.base_url}/metrics")
    assert refused(status, body, 403) and b"METRICS_TOKEN" in body


@pytest.mark.django_db
def test_protection_rules_in_process(client):
    assert client.get("/metrics").status_code == 200  # test settings: open unless configured
    with override_settings(METRICS_PUBLIC=False, METRICS_TOKEN=None, METRICS_TOKEN_FILE=None,
                           METRICS_ALLOWED_NETWORKS=[]):
        assert client.get("/metrics").status_code == 403
    with override_settings(METRICS_TOKEN="abc", METRICS_ALLOWED_NETWORKS=[]):
        assert client.get("/metrics").status_code == 401  # configured protection applies even where public
        assert client.get("/metrics", HTTP_AUTHORIZATION="bearer abc").status_code == 200  # scheme: any case
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer  abc ").status_code == 200
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer abc\u20ac").status_code == 401
    with override_settings(METRICS_TOKEN=None, METRICS_ALLOWED_NETWORKS=["127.0.0.1/32", "::1/128"]):
        assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
        assert client.get("/metrics", REMOTE_ADDR="::ffff:127.0.0.1").status_code == 200  # IPv4-mapped
        assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
        assert client.get("/metrics", REMOTE_ADDR="127.0.0.2").status_code == 403
        assert client.get("/metrics", REMOTE_ADDR="not an address").status_code == 403
        assert client.get("/metrics", REMOTE_ADDR="").status_code == 403


def settings_value(name: str, **env) -> str:
    code = f"import django; django.setup(); from django.conf import settings; print(repr(settings.{name}))"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("METRICS_")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=APP_DIR, capture_output=True, text=True, timeout=60, check=False,
                          env={**clean, "SECRET_KEY": "x" * 50,
                               "ALLOWED_HOSTS": "example.com", **env})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_closed_by_default_outside_development_and_open_in_development():
    assert settings_value("METRICS_PUBLIC", ENVIRONMENT="production",
                          DJANGO_SETTINGS_MODULE="config.settings.production") == "False"
    assert settings_value("METRICS_PUBLIC", ENVIRONMENT="development",
                          DJANGO_SETTINGS_MODULE="config.settings.development") == "True"
    assert settings_value("METRICS_ALLOWED_NETWORKS", ENVIRONMENT="production", METRICS_ALLOWED_NETWORKS="10.0.0.0/8",
                          DJANGO_SETTINGS_MODULE="config.settings.production") == "['10.0.0.0/8']"


def test_a_malformed_network_fails_at_start_up():
    code = "import django; django.setup()"
    proc = subprocess.run([sys.executable, "-c", code], cwd=APP_DIR, capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
                               "METRICS_ALLOWED_NETWORKS": "10.0.0.0/33"})
    assert proc.returncode != 0 and "METRICS_ALLOWED_NETWORKS" in proc.stderr
