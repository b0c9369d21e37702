"""Logging per the guide: JSON lines with `extra` and the request id, rotation (5 backups), several
processes sharing one file, development vs production configuration, the request-id middleware."""
from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import textwrap

import pytest
from django.test import Client

from observability.logging import JsonFormatter, RequestIdFilter, request_id_var
from tests.fixtures.sentry_server import child_env, run_manage
from tests.fixtures.servers import APP_DIR

STRONG_KEY = "k" * 20 + "-Q9v7!x2#Lm4$Rt8^Zp1&Yb6*Hc3(Nd5)Wf0"

WRITER = textwrap.dedent("""
    import logging, logging.config, sys
    from observability.logging import build_logging
    path, tag = sys.argv[1], sys.argv[5]
    max_bytes, backups, count = (int(a) for a in sys.argv[2:5])
    logging.config.dictConfig(build_logging(console_level="CRITICAL", file_path=path, max_bytes=max_bytes,
                                            backup_count=backups))
    log = logging.getLogger("apps.api")
    for i in range(count):
        log.info("line %s-%06d %s", tag, i, "x" * 60, extra={"user_id": i, "course_id": 7})
""")


def writer(path, max_bytes: int, backups: int, count: int, tag: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(max_bytes), str(backups), str(count), tag],
                            cwd=APP_DIR, env=child_env())


def log_files(tmp_path) -> list:
    return sorted(p for p in tmp_path.iterdir() if p.name.startswith("studio.log") and not p.name.endswith(".lock"))


def test_rotation_keeps_at_most_five_backups(tmp_path):
    path = tmp_path / "studio.log"
    proc = writer(path, max_bytes=2000, backups=5, count=400, tag="a")  # ~80 KB: 40 rollovers
    assert proc.wait(60) == 0
    names = [p.name for p in log_files(tmp_path)]
    assert names == ["studio.log", "studio.log.1", "studio.log.2", "studio.log.3", "studio.log.4", "studio.log.5"]
    for p in log_files(tmp_path):
        assert p.stat().st_size <= 2000, p
        for line in p.read_text().splitlines():
            record = json.loads(line)
            assert record["user_id"] >= 0 and record["course_id"] == 7
    # The newest lines are in studio.log, the oldest kept in studio.log.5, in order.
    last = json.loads(path.read_text().splitlines()[-1])
    assert last["message"].startswith("line a-000399")


def test_processes_sharing_the_file_lose_no_line_across_rotations(tmp_path):
    path = tmp_path / "studio.log"
    procs = [writer(path, max_bytes=8000, backups=40, count=300, tag=t) for t in "xyz"]  # ~100 KB in all
    assert [p.wait(60) for p in procs] == [0, 0, 0]
    files = log_files(tmp_path)
    assert 5 < len(files) <= 41
    messages = [json.loads(line)["message"].split()[1] for p in files for line in p.read_text().splitlines()]
    expected = {f"{t}-{i:06d}" for t in "xyz" for i in range(300)}
    assert len(messages) == len(expected) and set(messages) == expected  # none lost, none twice
    # No premature rollover (a process rotating a file another just rotated): backups are full.
    for p in files[1:]:
        assert 8000 - 300 <= p.stat().st_size <= 8000 + 300, (p.name, p.stat().st_size)


def test_json_lines_carry_extra_request_id_and_exception():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    log = logging.getLogger("apps.api.test_json")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    token = request_id_var.set("rid-123")
    try:
        log.info("Course enrollment", extra={"user_id": 5, "course_id": 9, "api_token": "s3cret"})
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed for %s", "bob")
    finally:
        request_id_var.reset(token)
        log.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "Course enrollment" and first["level"] == "INFO"
    assert first["logger"] == "apps.api.test_json"
    assert first["user_id"] == 5 and first["course_id"] == 9 and first["request_id"] == "rid-123"
    assert first["api_token"] == "[Filtered]"
    assert first["ts"].endswith("+00:00")
    assert second["message"] == "failed for bob" and second["exc_type"] == "ValueError"
    assert "Traceback" in second["exc_info"] and "boom" in second["exc_info"]


@pytest.mark.django_db
@pytest.mark.parametrize("sent, kept", [
    ("abc-123_DEF.456", True),
    ("0f8fad5b-d9cb-469f-a165-70867728950e", True),
    ("bad id", False),
    ("x" * 129, False),
    ("<script>", False),
    (None, False),
])
def test_request_id_is_honoured_if_sane_else_generated(sent, kept):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    log = logging.getLogger("apps.api")
    log.addHandler(handler)
    try:
        headers = {"HTTP_X_REQUEST_ID": sent} if sent is not None else {}
        resp = Client().get("/_drill/log-error/", **headers)
    finally:
        log.removeHandler(handler)
    rid = resp["X-Request-ID"]
    if kept:
        assert rid == sent
    else:
        assert rid != sent and len(rid) == 32 and int(rid, 16) >= 0
    record = json.loads(stream.getvalue().splitlines()[0])
    assert record["request_id"] == rid and record["course_id"] == 0 and record["user_id"] is None
    assert request_id_var.get() is None  # nothing leaks past the request


def _settings_logging(module: str, **env) -> dict:
    code = "import json; from django.conf import settings as s; print(json.dumps(s.LOGGING, default=str))"
    out = run_manage("shell", "-c", code, DJANGO_SETTINGS_MODULE=module, **env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_production_logs_info_as_json_to_a_rotating_file_of_50_mb_with_5_backups():
    cfg = _settings_logging("config.settings.production", ENVIRONMENT="production", SECRET_KEY=STRONG_KEY,
                            ALLOWED_HOSTS="studio.example.com")
    file = cfg["handlers"]["file"]
    assert file["class"] == "observability.logging.SharedRotatingFileHandler"
    assert (file["maxBytes"], file["backupCount"]) == (50 * 1024 * 1024, 5)
    assert (file["level"], file["formatter"]) == ("INFO", "json")
    assert file["filename"].endswith("var/log/studio.log")
    assert cfg["handlers"]["console"]["level"] == "WARNING"
    assert cfg["loggers"]["apps.api"]["level"] == "INFO" and cfg["loggers"]["django.db.backends"]["level"] == "INFO"
    assert set(cfg["root"]["handlers"]) == {"console", "file"}


def test_development_logs_debug_to_console_info_to_file_and_sql_behind_a_flag(tmp_path):
    log_file = tmp_path / "dev.log"
    code = textwrap.dedent("""
        import logging
        from django.db import connection
        log = logging.getLogger("apps.forum_integration")
        log.debug("a debug detail")
        log.info("Forum post", extra={"user_id": 3, "topic_id": 4})
        logging.getLogger("apps.api.cache").warning("cache unreachable")
        with connection.cursor() as c:
            c.execute("SELECT 4321")
    """)
    common = dict(ENVIRONMENT="development", DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite3'}",
                  LOG_FILE=str(log_file))
    out = run_manage("shell", "-c", code, LOG_SQL="1", **common)
    assert out.returncode == 0, out.stderr
    assert "DEBUG" in out.stderr and "a debug detail" in out.stderr  # console: DEBUG
    assert "SELECT 4321" in out.stderr  # LOG_SQL
    records = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [(r["logger"], r["level"]) for r in records] == [
        ("apps.forum_integration", "INFO"), ("apps.api.cache", "WARNING")]  # file: INFO and up, no SQL
    assert records[0]["user_id"] == 3 and records[0]["topic_id"] == 4 and records[0]["request_id"] == "-"

    out = run_manage("shell", "-c", code, **common)  # no LOG_SQL: no statements
    assert out.returncode == 0, out.stderr
    assert "a debug detail" in out.stderr and "SELECT 4321" not in out.stderr
