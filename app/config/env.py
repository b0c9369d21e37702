"""Environment reading shared by manage.py, wsgi.py, celery.py and the settings modules.

No Django import here: this runs before settings exist.
"""
from __future__ import annotations

import os
from pathlib import Path

from dotenv import load_dotenv

APP_DIR = Path(__file__).resolve().parent.parent  # .../app
PROJECT_DIR = APP_DIR.parent

# A .env file at the project root is read when present; real environment variables win.
load_dotenv(PROJECT_DIR / ".env", override=False)

ENVIRONMENTS = ("development", "staging", "production")


class ImproperlyConfiguredEnv(RuntimeError):
    pass


def get(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def get_bool(name: str, default: bool = False) -> bool:
    value = get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def get_float(name: str, default: float) -> float:
    value = get(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfiguredEnv(f"{name} must be a number, got {value!r}") from None


def get_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (get(name, default) or "").split(",") if item.strip()]


def environment() -> str:
    env = get("ENVIRONMENT", "development")
    if env not in ENVIRONMENTS:
        raise ImproperlyConfiguredEnv(
            f"ENVIRONMENT must be one of {', '.join(ENVIRONMENTS)}; got {env!r}")
    return env


def default_settings_module() -> str:
    """Staging runs the production settings module; ENVIRONMENT still says which it is."""
    return "config.settings.development" if environment() == "development" else "config.settings.production"
