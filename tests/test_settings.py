"""Configuration: bare-machine defaults, production refusing to start half-configured, check --deploy, how
environment values are read (config/env.py), where the drills app is installed."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

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


# --- config/env.py: how values are read (the reasons django-environ was not adopted) -----------------------

def test_values_are_read_verbatim_and_a_bad_one_is_named(monkeypatch):
    from config import env

    monkeypatch.setenv("STUDIO_TEST_RATE", "1e-3")  # a valid float (django-environ: "could not convert '1-3'")
    assert env.get_float("STUDIO_TEST_RATE", 0.5) == 0.001
    for bad in ("0.5x", "abc"):  # django-environ: 0.5, and an error naming neither variable nor value
        monkeypatch.setenv("STUDIO_TEST_RATE", bad)
        with pytest.raises(env.ImproperlyConfiguredEnv, match=f"STUDIO_TEST_RATE must be a number, got '{bad}'"):
            env.get_float("STUDIO_TEST_RATE", 0.5)
    monkeypatch.setenv("STUDIO_TEST_PORT", "80a")
    with pytest.raises(env.ImproperlyConfiguredEnv, match="STUDIO_TEST_PORT must be a whole number, got '80a'"):
        env.get_int("STUDIO_TEST_PORT", 8000)
    monkeypatch.setenv("STUDIO_TEST_SECRET", "$3cr3t-starting-with-a-dollar")  # not a reference to a variable
    assert env.get("STUDIO_TEST_SECRET") == "$3cr3t-starting-with-a-dollar"
    monkeypatch.setenv("STUDIO_TEST_HOSTS", "a.example.com, b.example.com,")
    assert env.get_list("STUDIO_TEST_HOSTS") == ["a.example.com", "b.example.com"]
    monkeypatch.setenv("STUDIO_TEST_RATE", "")  # empty is unset
    assert env.get_float("STUDIO_TEST_RATE", 0.5) == 0.5 and env.get("STUDIO_TEST_RATE", "d") == "d"


def test_a_dotenv_file_in_the_format_of_env_example_is_read_and_real_variables_win(tmp_path, monkeypatch):
    from config import env

    dotenv = tmp_path / ".env"
    dotenv.write_text("STUDIO_TEST_ENV=development            # development | staging | production\n"
                      "STUDIO_TEST_CHANNEL=#studio-alerts\nSTUDIO_TEST_PASS=abc#def\n"
                      "STUDIO_TEST_REAL=from-the-file\nSTUDIO_TEST_EMPTY=from-the-file\n")
    names = ("STUDIO_TEST_ENV", "STUDIO_TEST_CHANNEL", "STUDIO_TEST_PASS")
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STUDIO_TEST_REAL", "real")
    monkeypatch.setenv("STUDIO_TEST_EMPTY", "")  # set, even empty: the file does not override it
    try:
        env.read_dotenv(dotenv)
        assert [env.get(n) for n in names] == ["development", "#studio-alerts", "abc#def"]
        assert env.get("STUDIO_TEST_REAL") == "real" and env.get("STUDIO_TEST_EMPTY") is None
    finally:
        for name in names:
            os.environ.pop(name, None)


def test_a_bad_number_in_the_environment_stops_the_app_naming_the_variable():
    out = manage("check", DJANGO_SETTINGS_MODULE="config.settings.development", CACHE_TTL_SECONDS="5m")
    assert out.returncode != 0 and "CACHE_TTL_SECONDS must be a whole number, got '5m'" in out.stderr


def test_drills_are_an_app_installed_only_where_they_are_on():
    code = ("from django.apps import apps; from django.urls import resolve, Resolver404\n"
            "try:\n    resolve('/_drill/error/'); routed = True\nexcept Resolver404:\n    routed = False\n"
            "print(apps.is_installed('drills'), routed)")
    common = dict(SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="x")
    for env, expected in (
        (dict(DJANGO_SETTINGS_MODULE="config.settings.development"), "True True"),  # DEBUG
        (dict(DJANGO_SETTINGS_MODULE="config.settings.production", ENVIRONMENT="staging", **common), "False False"),
        (dict(DJANGO_SETTINGS_MODULE="config.settings.production", ENVIRONMENT="staging", ENABLE_DRILL_ENDPOINTS="1",
              **common), "True True"),
        (dict(DJANGO_SETTINGS_MODULE="config.settings.production", ENVIRONMENT="production", ENABLE_DRILL_ENDPOINTS="1",
              **common), "False False"),
    ):
        out = manage("shell", "-c", code, **env)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines()[-1] == expected, env
