"""What the local stack runs: one list of services, rendered into a Procfile for honcho."""
from __future__ import annotations

import os
import shlex
import shutil
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "app"
RUN_DIR = Path(os.environ.get("STACK_RUN_DIR", ROOT / "var" / "stack")).resolve()
BIN = Path(sys.executable).parent


@dataclass
class Service:
    name: str
    command: str  # run by honcho through the shell, from the project root
    health_url: str | None = None  # HTTP URL that answers < 500 once the service is ready
    port: int | None = None  # TCP port that accepts once the service is ready
    url: str | None = None  # printed for people


@dataclass
class StackConfig:
    host: str = "127.0.0.1"
    app_port: int = 8000
    workers: int = 3
    redis_url: str = "redis://127.0.0.1:6379/0"
    start_redis: bool = False
    database_url: str = ""
    seed_size: str = "small"
    env: dict = field(default_factory=dict)

    @property
    def redis_port(self) -> int:
        return int(self.redis_url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    with socket.socket() as s:
        s.settimeout(timeout)
        return s.connect_ex((host, port)) == 0


def redis_answers(url: str) -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping())
    except Exception:
        return False


def load_config() -> StackConfig:
    sys.path.insert(0, str(APP_DIR))
    from config import env  # reads .env

    cfg = StackConfig(
        app_port=int(env.get("APP_PORT", "8000")),
        workers=int(env.get("GUNICORN_WORKERS", "3")),
        seed_size=env.get("SEED_SIZE", "small"),
    )
    cfg.redis_url = env.get("REDIS_URL", f"redis://{cfg.host}:6379/0")
    cfg.start_redis = not redis_answers(cfg.redis_url)
    cfg.database_url = env.get("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'studio.sqlite3'}")
    base = cfg.redis_url.rsplit("/", 1)[0]
    cfg.env = {
        "ENVIRONMENT": "development",
        "DJANGO_SETTINGS_MODULE": "config.settings.development",
        "DATABASE_URL": cfg.database_url,
        "REDIS_URL": cfg.redis_url,
        "CACHE_URL": env.get("CACHE_URL", f"{base}/1"),
        "CELERY_BROKER_URL": env.get("CELERY_BROKER_URL", cfg.redis_url),
        "PYTHONUNBUFFERED": "1",
        "STUDIO_STACK": str(RUN_DIR),  # every process we start carries this mark; `down` looks for it
    }
    return cfg


def services(cfg: StackConfig) -> list[Service]:
    py = shlex.quote(str(BIN))
    app = shlex.quote(str(APP_DIR))
    wdir = shlex.quote(str(RUN_DIR / "prometheus-worker"))  # the worker's multiprocess metrics, fresh each start
    out: list[Service] = []
    if cfg.start_redis:
        redis_server = shutil.which("redis-server") or "redis-server"
        out.append(Service(
            "redis",
            f"exec {redis_server} --bind {cfg.host} --port {cfg.redis_port} --save '' --appendonly no "
            f"--dir {shlex.quote(str(RUN_DIR))}",
            port=cfg.redis_port, url=cfg.redis_url))
    out += [
        Service(
            "app",
            # Each server gets its own multiprocess directory: gunicorn wipes its own at start.
            f"cd {app} && PROMETHEUS_MULTIPROC_DIR={shlex.quote(str(RUN_DIR / 'prometheus-app'))} "
            f"exec {py}/gunicorn -c config/gunicorn.py --bind {cfg.host}:{cfg.app_port} "
            f"--workers {cfg.workers} config.wsgi:application",
            health_url=f"http://{cfg.host}:{cfg.app_port}/readyz", url=f"http://{cfg.host}:{cfg.app_port}/api/v1/courses/"),
        Service("worker", f"cd {app} && rm -rf {wdir} && mkdir -p {wdir} && PROMETHEUS_MULTIPROC_DIR={wdir} "
                          f"exec {py}/celery -A config worker -l info --concurrency 2 -n worker@%h"),
        Service("beat", f"cd {app} && exec {py}/celery -A config beat -l info "
                        f"-s {shlex.quote(str(RUN_DIR / 'celerybeat-schedule'))}"),
    ]
    return out


def render_procfile(svcs: list[Service]) -> str:
    return "".join(f"{s.name}: {s.command}\n" for s in svcs)


def render_envfile(cfg: StackConfig) -> str:
    return "".join(f"{k}={v}\n" for k, v in sorted(cfg.env.items()))


def child_env(cfg: StackConfig) -> dict:
    return {**os.environ, **cfg.env, "PYTHONPATH": str(APP_DIR)}
