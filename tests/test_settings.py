"""Configuration: bare-machine defaults, production refusing to start half-configured, check --deploy."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.fixtures.servers import APP_DIR

STRONG_KEY = "k" * 20 + "-Q9v7!x2#Lm4$Rt8^Zp1&Yb6*Hc3(Nd5)Wf0"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS",
                          "ENVIRONMENT", "CACHE_URL", "CELERY_BROKER_URL")}
    # .env at the project root would leak into the child; these tests describe the environment fully.
    clean.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=APP_DIR, env=clean,
                          capture_output=True, text=True, timeout=120)


def test_bare_machine_defaults_are_sqlite_locmem_and_eager_celery():
    code = ("from django.conf import settings as s; "
            "print(s.DATABASES['default']['ENGINE'], s.CACHES['default']['BACKEND'], s.CELERY_TASK_ALWAYS_EAGER)")
    out = manage("shell", "-c", code, DJANGO_SETTINGS_MODULE="config.settings.development")
    assert out.returncode == 0, out.stderr
    engine, cache, eager = out.stdout.splitlines()[-1].split()
    assert engine.endswith("sqlite3") and cache.endswith("LocMemCache") and eager == "True"


def test_production_refuses_to_start_and_names_what_is_missing():
    out = manage("check", ENVIRONMENT="production")
    assert out.returncode != 0
    assert "SECRET_KEY" in out.stderr and "ALLOWED_HOSTS" in out.stderr
    assert "Traceback" not in out.stderr.splitlines()[-1]
    out = manage("check", ENVIRONMENT="production", SECRET_KEY=STRONG_KEY)
    assert out.returncode != 0 and "ALLOWED_HOSTS" in out.stderr and "SECRET_KEY" not in out.stderr.splitlines()[-1]


def test_unknown_environment_is_a_clear_error():
    out = manage("check", ENVIRONMENT="prod")
    assert out.returncode != 0 and "ENVIRONMENT must be one of" in out.stderr


def test_check_deploy_is_clean_with_a_complete_production_environment():
    out = manage("check", "--deploy", "--fail-level", "WARNING", ENVIRONMENT="production", SECRET_KEY=STRONG_KEY,
                 ALLOWED_HOSTS="studio.example.com", DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
                 REDIS_URL="redis://127.0.0.1:6379/15")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout


def test_staging_uses_production_settings():
    out = manage("shell", "-c", "from django.conf import settings as s; print(s.ENVIRONMENT, s.DEBUG, s.SETTINGS_MODULE)",
                 ENVIRONMENT="staging", SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="x")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1].split() == ["staging", "False", "config.settings.production"]
