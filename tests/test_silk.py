"""Issue 5, point 1: Django Silk at /silk/ in development only, for superusers; ?silk profiles a request.

The test settings leave Silk out (INSTALLED_APPS cannot change per test): the development-settings
behaviour is checked in subprocesses -- migrate, and the app under real gunicorn against the test
database (plus Silk's own tables, which development settings' migrate adds: what `make up` does).
Production: tests/test_perf_production.py.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from tests import factories as f
from tests.fixtures.servers import APP_DIR, database_url_for


def development_env(tmp_path, **env) -> dict:
    return {"DJANGO_SETTINGS_MODULE": "config.settings.development", "ENVIRONMENT": "development",
            "LOG_FILE": str(tmp_path / "studio.log"), "LOG_CONSOLE_LEVEL": "WARNING",
            "CACHE_KEY_PREFIX": f"silktest{os.getpid()}x{time.time_ns()}", **env}


def migrate_development(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=APP_DIR,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get(url: str, session: str | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers={"Cookie": f"sessionid={session}"} if session else {})
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def session_for(user) -> str:
    client = Client()
    client.force_login(user)  # a database session: the server reads the same table
    return client.cookies["sessionid"].value


@pytest.mark.django_db
def test_the_test_settings_leave_silk_out(client):
    assert "silk" not in settings.INSTALLED_APPS and not settings.SILK_ENABLED
    assert not any("silk" in m for m in settings.MIDDLEWARE)
    assert client.get("/silk/").status_code == 404


@pytest.mark.slow
def test_development_settings_migrate_a_fresh_database_with_silk_tables(tmp_path):
    env = development_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite3'}", REDIS_URL="", CACHE_URL="")
    out = migrate_development(env)
    assert out.returncode == 0, out.stderr
    assert "Applying silk.0001_initial... OK" in out.stdout
    check = subprocess.run([sys.executable, "manage.py", "check"], cwd=APP_DIR, env={**os.environ, **env},
                           capture_output=True, text=True, timeout=120, check=False)
    assert check.returncode == 0, check.stderr


@pytest.mark.slow
def test_silk_under_gunicorn_superusers_only_light_recording_and_profiling_on_request(gunicorn_factory, tmp_path):
    env = development_env(tmp_path)
    out = migrate_development({**env, "DATABASE_URL": database_url_for(connection)})
    assert out.returncode == 0, out.stderr
    f.course()
    superuser = session_for(f.user(is_staff=True, is_superuser=True))
    staff = session_for(f.user(is_staff=True))
    server = gunicorn_factory(workers=1, **env)

    status, headers, _ = get(f"{server.base_url}/silk/")
    assert status == 302 and headers["Location"].startswith("/admin/login/?next=/silk/")
    assert get(f"{server.base_url}/silk/", staff)[0] == 403
    status, _, body = get(f"{server.base_url}/silk/", superuser)
    assert status == 200 and b"silk" in body.lower()

    assert get(f"{server.base_url}/healthz")[0] == 200  # probes are not recorded
    light = get(f"{server.base_url}/api/v1/courses/?page_size=7")
    profiled = get(f"{server.base_url}/api/v1/courses/?page_size=5&silk")
    assert light[0] == profiled[0] == 200
    # Silk's own work (its writes; EXPLAIN plans) is not in the app's figures: count and page only.
    assert light[1]["X-Query-Count"] == profiled[1]["X-Query-Count"] == "2"

    with connection.cursor() as cursor:
        cursor.execute("SELECT r.path, r.query_params, r.pyprofile, "
                       "(SELECT count(*) FROM silk_sqlquery q WHERE q.request_id = r.id), "
                       "(SELECT count(q.analysis) FROM silk_sqlquery q WHERE q.request_id = r.id) "
                       "FROM silk_request r ORDER BY r.start_time")
        rows = cursor.fetchall()
    paths = [row[0] for row in rows]
    assert "/healthz" not in paths and not any(p.startswith("/silk/") for p in paths)
    recorded = {("silk" in row[1]): row for row in rows if row[0] == "/api/v1/courses/"}
    assert set(recorded) == {False, True}, rows
    _, _, profile, queries, plans = recorded[False]
    assert (profile, queries, plans) == ("", 2, 0)  # light: the SQL, no Python profile, no plans
    _, _, profile, queries, plans = recorded[True]
    assert "function calls" in profile and (queries, plans) == (2, 2)  # ?silk: cProfile and EXPLAIN
