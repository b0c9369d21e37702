"""Environment reading shared by manage.py, wsgi.py, celery.py, the settings modules and the stack.

No Django import here: this runs before settings exist.  The rules: a .env file at the project root
is read (python-dotenv: the format of .env.example, inline comments included), real environment
variables win, an empty variable counts as unset, a value is taken verbatim (a "$" is no reference
to another variable), and a value that cannot be read fails at start-up with a message naming the
variable.  tests/test_settings.py holds these rules (django-environ, weighed for this module, breaks
several of them: it mangles "1e-3", accepts "0.5x" as 0.5, resolves "$..." as a variable name, keeps
inline comments or cuts values at "#" in .env files).
"""
from __future__ import annotations

import os
from pathlib import Path

from dotenv import load_dotenv

APP_DIR = Path(__file__).resolve().parent.parent  # .../app
PROJECT_DIR = APP_DIR.parent


def read_dotenv(path: Path = PROJECT_DIR / ".env") -> None:
    """Read `path` into os.environ when it exists; a variable already set, even empty, wins."""
    load_dotenv(path, override=False)


read_dotenv()

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


def get_int(name: str, default: int) -> int:
    value = get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfiguredEnv(f"{name} must be a whole number, got {value!r}") from None


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
