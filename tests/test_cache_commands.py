"""Issue 5, points 4 and 5: manage.py cache_stats and warm_cache, and warming at start-up."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client

from courses import cache as course_cache
from courses.models import Course
from observability import perf
from tests import factories as f
from tests.fixtures.servers import APP_DIR, database_url_for, free_port
from tests.test_metrics_support import http


def command(name: str, *args) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=APP_DIR, env=full, capture_output=True,
                          text=True, timeout=120, check=False)


def needs_redis():
    if "Redis" not in settings.CACHES["default"]["BACKEND"]:
        pytest.skip("REDIS_URL is not set")


def perf_state(response) -> tuple[int, str, str]:
    return response.status_code, response.headers["X-Query-Count"], response.headers["X-Cache-Misses"]


@pytest.fixture
def catalogue():
    learner, idle, gone = f.user(), f.user(), f.user(is_active=False)
    web = f.course(category=Course.Category.WEB, level=Course.Level.BEGINNER)
    data = f.course(category=Course.Category.DATA, level=Course.Level.ADVANCED)
    hidden = f.course(published=False)
    f.enrollment(learner, web)
    f.enrollment(gone, data)
    course_cache.invalidate_all()  # a new version: every course and profile payload is cold
    return {"learner": learner, "idle": idle, "gone": gone, "web": web, "data": data, "hidden": hidden}


# --- warm_cache -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_warm_cache_fills_what_the_views_read(catalogue):
    out = command("warm_cache")
    assert "course lists: 28 warmed (28 computed, 0 already cached)" in out  # 1 + 6 + 3 + 6 x 3
    assert "course details: 2 warmed (2 computed" in out and "profiles: 1 warmed (1 computed" in out
    client = Client()
    for path in ("/api/v1/courses/", "/api/v1/courses/?category=web", "/api/v1/courses/?level=advanced",
                 "/api/v1/courses/?category=data-science&level=advanced", f"/api/v1/courses/{catalogue['web'].slug}/",
                 f"/api/v1/users/{catalogue['learner'].pk}/profile/"):
        assert perf_state(client.get(path)) == (200, "0", "0"), path  # no query, no miss: warm
    # Not warmed: an idle user's profile (no enrolment), a second page, a search.
    assert perf_state(client.get(f"/api/v1/users/{catalogue['idle'].pk}/profile/"))[2] == "1"
    assert perf_state(client.get("/api/v1/courses/?q=course"))[2] == "1"
    again = command("warm_cache")
    assert "course lists: 28 warmed (0 computed, 28 already cached)" in again


@pytest.mark.django_db
def test_warm_cache_one_user_and_a_clear_error_for_an_unknown_or_inactive_one(catalogue):
    out = command("warm_cache", "--user-id", str(catalogue["learner"].pk))
    assert f"profile of user {catalogue['learner'].pk}: 1 warmed (1 computed" in out
    assert perf_state(Client().get(f"/api/v1/users/{catalogue['learner'].pk}/profile/")) == (200, "0", "0")
    for user_id in (999_999, catalogue["gone"].pk):
        with pytest.raises(CommandError, match=f"user {user_id} not found: nothing warmed"):
            command("warm_cache", "--user-id", str(user_id))


@pytest.mark.slow
@pytest.mark.django_db
def test_warm_cache_exit_status_and_usage_errors():
    unknown = manage("warm_cache", "--user-id", "999999", DATABASE_URL=database_url_for(connection))
    assert unknown.returncode == 1 and "user 999999 not found" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    usage = manage("warm_cache", "--user-id", "abc")
    assert usage.returncode == 2 and "usage:" in usage.stderr and "--user-id" in usage.stderr, usage.stderr
    assert "Traceback" not in usage.stderr
    for bad in ("0", "-3", "1.5"):
        with pytest.raises(CommandError, match="argument --user-id"):
            command("warm_cache", "--user-id", bad)


# --- cache_stats ------------------------------------------------------------------------------


def counter(out: str, operation: str, column: int) -> int:
    row = next(line for line in out.splitlines() if line.split()[:1] == [operation])
    return int(row.split()[1 + column])


@pytest.mark.django_db
def test_cache_stats_shows_redis_info_keys_app_counters_and_the_window():
    needs_redis()
    assert Client().get("/api/v1/courses/").status_code == 200
    raw = cache.client.get_client()
    info = raw.info("stats")
    perf.PENDING.flush()  # the window's buffer (a background thread writes it every second)
    keys_before = sum(1 for _ in raw.scan_iter(match=f"{cache.key_prefix}:*"))
    first = command("cache_stats")
    keys_after = sum(1 for _ in raw.scan_iter(match=f"{cache.key_prefix}:*"))
    assert "Redis server (INFO" in first and "keyspace hit rate" in first
    hits = int(re.search(r"keyspace hits\s+(\d+)", first).group(1))
    misses = int(re.search(r"keyspace misses\s+(\d+)", first).group(1))
    assert hits >= info["keyspace_hits"] and misses >= info["keyspace_misses"]
    keys = int(re.search(rf"keys under '{cache.key_prefix}:'\s+(\d+)", first).group(1))
    assert min(keys_before, keys_after) <= keys <= max(keys_before, keys_after) and keys > 0
    assert re.search(r"/api/v1/courses/\s+\d+\s", first), first

    cache.set("stats-probe", 1)
    for _ in range(3):
        cache.get("stats-probe")
    cache.get("stats-probe-missing")
    second = command("cache_stats")
    assert counter(second, "get", 0) - counter(first, "get", 0) == 3  # hits: ours, exactly
    assert counter(second, "get", 1) - counter(first, "get", 1) == 1  # misses
    assert counter(second, "set", 2) - counter(first, "set", 2) == 1
    assert "this process only" in second


@pytest.mark.slow
def test_cache_stats_without_redis_says_so_and_with_redis_down_fails_clearly():
    locmem = manage("cache_stats", REDIS_URL="", CACHE_URL="")
    assert locmem.returncode == 0, locmem.stderr
    assert "The cache is not Redis (local memory)" in locmem.stdout and "App cache operations" in locmem.stdout
    down = manage("cache_stats", REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", CACHE_URL="")
    assert down.returncode == 1 and "is unreachable" in down.stderr and "Traceback" not in down.stderr
    missing = manage("cache_stats", "--metrics-dir", "/nonexistent/dir", REDIS_URL="", CACHE_URL="")
    assert missing.returncode == 1 and "no such directory" in missing.stderr


# --- warming at start-up ----------------------------------------------------------------------


@pytest.mark.slow
def test_warming_at_start_runs_once_per_server_and_the_workers_serve_warm(gunicorn_factory):
    needs_redis()
    learner, course = f.user(), f.course()
    f.enrollment(learner, course)
    prefix = f"warmstart{os.getpid()}x{time.time_ns()}"
    server = gunicorn_factory(workers=3, WARM_CACHE_ON_START="1", LOG_CONSOLE_LEVEL="INFO", CACHE_KEY_PREFIX=prefix)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logs = server.logs()
        if "cache warming at start: done" in logs and logs.count("another process of this server does it") == 2:
            break
        time.sleep(0.1)
    print("\n" + "\n".join(line for line in logs.splitlines() if "warming" in line))
    assert logs.count("cache warming at start: begun") == 1, logs
    assert logs.count("another process of this server does it") == 2 and "done in" in logs, logs
    for path in (f"/api/v1/courses/{course.slug}/", "/api/v1/courses/", f"/api/v1/users/{learner.pk}/profile/"):
        status, headers, _ = http(server.base_url + path)
        assert (status, headers["X-Query-Count"], headers["X-Cache-Misses"]) == (200, "0", "0"), path

    # cache_stats reads the workers' counters from their multiprocess files, and the window once the
    # workers have flushed it (every second).
    time.sleep(settings.PERF_WINDOW_FLUSH_SECONDS + 0.5)
    out = manage("cache_stats", "--metrics-dir", server.multiproc_dir, CACHE_KEY_PREFIX=prefix)
    assert out.returncode == 0, out.stderr
    assert f"every process writing to {server.multiproc_dir}" in out.stdout
    assert counter(out.stdout, "set", 2) >= 28 + 1 + 1  # the warming worker's lists, detail, profile
    assert counter(out.stdout, "get", 0) >= 3  # the three warm requests
    assert re.search(r"/api/v1/courses/<slug>/\s+1\s", out.stdout), out.stdout


@pytest.mark.slow
def test_warming_that_fails_does_not_fail_start_up(gunicorn_factory):
    server = gunicorn_factory(workers=1, WARM_CACHE_ON_START="1", CACHE_KEY_PREFIX=f"warmfail{time.time_ns()}",
                              DATABASE_URL="postgres://postgres@127.0.0.1:5432/no_such_database_for_warming")
    assert http(f"{server.base_url}/healthz")[0] == 200
    deadline = time.monotonic() + 15
    while "cache warming at start failed" not in server.logs() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "cache warming at start failed (the app serves anyway" in server.logs()
    assert http(f"{server.base_url}/healthz")[0] == 200
