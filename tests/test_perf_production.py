"""Issue 5, points 1 and 2 in production: no Silk (not installed, not routed), no performance headers
unless PERF_HEADERS=staff shows them to staff -- the app under real gunicorn with production settings."""
from __future__ import annotations

import pytest

from tests import factories as f
from tests.test_metrics_support import http
from tests.test_perf_headers import PERF_HEADERS
from tests.test_settings import STRONG_KEY, manage

pytestmark = pytest.mark.slow


def production(tmp_path, **env) -> dict:
    return {"DJANGO_SETTINGS_MODULE": "config.settings.production", "ENVIRONMENT": "production",
            "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECURE_SSL_REDIRECT": "0",
            "LOG_FILE": str(tmp_path / "studio.log"), "PERF_HEADERS": "", "SILK_ENABLED": "1", **env}


def test_production_settings_install_no_silk_and_default_the_headers_off():
    code = ("from django.conf import settings as s; from django.urls import resolve, Resolver404\n"
            "try:\n    resolve('/silk/'); routed = True\nexcept Resolver404:\n    routed = False\n"
            "print('silk' in s.INSTALLED_APPS, any('silk' in m for m in s.MIDDLEWARE), routed, s.PERF_HEADERS)")
    out = manage("shell", "-c", code, ENVIRONMENT="production", SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="x",
                 SILK_ENABLED="1")  # even asked for: production settings never install it
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1].split() == ["False", "False", "False", "off"]


def test_under_gunicorn_silk_is_404_and_no_response_has_the_headers(gunicorn_factory, tmp_path):
    server = gunicorn_factory(workers=1, **production(tmp_path))
    staff_token = f.token_for(f.user(is_staff=True, is_superuser=True))
    for path, status in (("/silk/", 404), ("/silk/requests/", 404), ("/api/v1/courses/", 200),
                         ("/api/v1/courses/?silk", 200), ("/_drill/perf/", 404)):
        code, headers, _ = http(server.base_url + path, headers={"Authorization": f"Token {staff_token}"})
        assert code == status, path
        assert not set(PERF_HEADERS) & set(headers), (path, headers)


def test_staff_mode_in_production_shows_them_to_staff_only(gunicorn_factory, tmp_path):
    server = gunicorn_factory(workers=1, **production(tmp_path, PERF_HEADERS="staff"))
    staff, learner = f.token_for(f.user(is_staff=True)), f.token_for(f.user())
    url = f"{server.base_url}/api/v1/courses/"
    assert not set(PERF_HEADERS) & set(http(url)[1])
    assert not set(PERF_HEADERS) & set(http(url, headers={"Authorization": f"Token {learner}"})[1])
    status, headers, _ = http(url, headers={"Authorization": f"Token {staff}"})
    assert status == 200 and set(PERF_HEADERS) <= set(headers), headers
