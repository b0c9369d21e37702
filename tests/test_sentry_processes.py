"""Sentry in the processes that run in production: gunicorn workers, a Celery worker (prefork),
`manage.py shell` (the guide's troubleshooting one-liner); drill endpoints 404 in production."""
from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from celery import Celery

from tests import factories
from tests.fixtures.sentry_server import child_env, exception_types, run_manage
from tests.fixtures.servers import APP_DIR, VENV_BIN, stop_process

pytestmark = pytest.mark.slow

RELEASE = "studio@9.9.9-proc"
STRONG_KEY = "k" * 20 + "-Q9v7!x2#Lm4$Rt8^Zp1&Yb6*Hc3(Nd5)Wf0"


def get(url: str, **headers) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_gunicorn_worker_reports_errors_with_context_scrubbed_and_logs_the_request_id(
        gunicorn_factory, sentry_server, tmp_path):
    user = factories.user("bob", email="bob.secret@example.com")
    token = factories.token_for(user)
    log_file = tmp_path / "studio.log"
    app = gunicorn_factory(workers=1, SENTRY_DSN=sentry_server.dsn, ENVIRONMENT="staging", SENTRY_RELEASE=RELEASE,
                           SENTRY_TRACES_SAMPLE_RATE="1.0", SENTRY_PROFILES_SAMPLE_RATE="0",
                           ENABLE_DRILL_ENDPOINTS="1", LOG_FILE=str(log_file))

    status, headers, _ = get(f"{app.base_url}/_drill/error/?token=QS-SECRET-123&page=1",
                             Authorization=f"Token {token}", Cookie="sessionid=COOKIE-SECRET-9",
                             **{"X-Request-ID": "gunicorn-drill-1"})
    assert status == 500 and headers["X-Request-ID"] == "gunicorn-drill-1"
    event, env = sentry_server.wait_for_event(lambda e: "DrillError" in exception_types(e))
    assert event["environment"] == "staging" and event["release"] == RELEASE
    assert event["user"] == {"id": str(user.pk), "username": "bob"}
    assert event["tags"]["feature"] == "drill_error" and event["tags"]["request_id"] == "gunicorn-drill-1"
    assert event["tags"]["user_type"] == "student"
    assert event["contexts"]["course"]["slug"] == "fire-drill"
    req = event["request"]
    assert req["headers"]["Authorization"] == "[Filtered]" and req["headers"]["Cookie"] == "[Filtered]"
    assert req["query_string"] == "token=[Filtered]&page=1"
    for secret in (token, "QS-SECRET-123", "COOKIE-SECRET-9", "bob.secret@example.com"):
        assert secret.encode() not in env.raw
    tx, _ = sentry_server.wait_for("transaction", lambda t: t["transaction"] == "/_drill/error/")
    assert tx["contexts"]["trace"]["status"] == "internal_error"

    status, headers, _ = get(f"{app.base_url}/_drill/db-error/", **{"X-Request-ID": "bad id with spaces"})
    assert status == 500
    generated = headers["X-Request-ID"]
    assert generated != "bad id with spaces" and len(generated) == 32
    event, _ = sentry_server.wait_for_event(
        lambda e: {"ProgrammingError", "OperationalError"} & set(exception_types(e)))
    assert event["tags"]["request_id"] == generated and event["tags"]["user_type"] == "anonymous"

    # The log file: JSON lines carrying the request id (the drill's warning, Django's error line).
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in log_file.read_text().splitlines()] if log_file.exists() else []
        mine = [r for r in lines if r["request_id"] == "gunicorn-drill-1"]
        if len(mine) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert {r["logger"] for r in mine} >= {"apps.api", "django.request"}, lines
    error = next(r for r in mine if r["logger"] == "django.request")
    assert error["level"] == "ERROR" and error["exc_type"] == "DrillError" and error["status_code"] == 500
    assert any(r["request_id"] == generated and r["logger"] == "django.request" for r in lines)


def test_celery_worker_reports_task_failures_and_traces_tasks(redis_server, sentry_server, tmp_path):
    queue = f"drill-{time.monotonic_ns()}"
    log = tmp_path / "worker.log"
    env = child_env(DJANGO_SETTINGS_MODULE="config.settings.test",
                    CELERY_TASK_ALWAYS_EAGER="0", CELERY_BROKER_URL=redis_server.url, ENVIRONMENT="staging",
                    SENTRY_DSN=sentry_server.dsn, SENTRY_RELEASE=RELEASE, SENTRY_TRACES_SAMPLE_RATE="1.0",
                    SENTRY_PROFILES_SAMPLE_RATE="0", DATABASE_URL=f"sqlite:///{tmp_path / 'unused.sqlite3'}")
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [str(VENV_BIN / "celery"), "-A", "config", "worker", "--pool", "prefork", "--concurrency", "1",
             "-Q", queue, "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
            cwd=APP_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while b"ready." not in log.read_bytes():
            assert worker.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        producer = Celery(broker=redis_server.url, set_as_current=False)  # keep the project app current
        producer.send_task("observability.drill_fail", args=["worker drill"], queue=queue)
        event, _ = sentry_server.wait_for_event(lambda e: "DrillTaskError" in exception_types(e), timeout=30)
        assert event["exception"]["values"][-1]["value"] == "worker drill"
        assert event["exception"]["values"][-1]["mechanism"] == {"type": "celery", "handled": False}
        assert event["environment"] == "staging" and event["release"] == RELEASE
        tx, _ = sentry_server.wait_for("transaction", lambda t: t["transaction"] == "observability.drill_fail")
        assert tx["contexts"]["trace"]["op"] == "queue.task.celery"
    finally:
        stop_process(worker)


def test_troubleshooting_one_liner_delivers_before_the_process_exits(sentry_server, blackhole, capsys):
    one_liner = ("shell", "-c", "import sentry_sdk; sentry_sdk.capture_message('test')")
    start = time.perf_counter()
    out = run_manage(*one_liner, SENTRY_DSN=sentry_server.dsn, SENTRY_RELEASE=RELEASE)
    took_up = time.perf_counter() - start
    assert out.returncode == 0, out.stderr
    # No waiting: the envelope arrived before the process ended.
    event, _ = sentry_server.wait_for_event(lambda e: e.get("message") == "test", timeout=0)
    assert event["environment"] == "development" and event["release"] == RELEASE

    start = time.perf_counter()
    out = run_manage(*one_liner, SENTRY_DSN=blackhole.dsn)
    took_down = time.perf_counter() - start
    assert out.returncode == 0, out.stderr
    with capsys.disabled():
        print(f"\n[one-liner] Sentry up: {took_up:.2f} s; Sentry never answering: {took_down:.2f} s "
              f"(exit waits at most SENTRY_SHUTDOWN_TIMEOUT=2 s)")
    assert took_down < took_up + 2 + 1.5


def test_drill_endpoints_404_in_production_and_exist_in_staging_when_enabled():
    code = ("from django.test import Client; "
            "print(Client(raise_request_exception=False).get('/_drill/error/').status_code)")
    common = dict(SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="testserver", SECURE_SSL_REDIRECT="0",
                  ENABLE_DRILL_ENDPOINTS="1", LOG_CONSOLE_LEVEL="CRITICAL")
    prod = run_manage("shell", "-c", code, ENVIRONMENT="production", **common)
    assert prod.returncode == 0, prod.stderr
    assert prod.stdout.split()[-1] == "404"
    staging = run_manage("shell", "-c", code, ENVIRONMENT="staging", **common)
    assert staging.returncode == 0, staging.stderr
    assert staging.stdout.split()[-1] == "500"


